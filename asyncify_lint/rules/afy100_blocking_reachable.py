"""
## What it does
Checks for calls, in async code, of project functions that reach a blocking call through a chain of
sync helpers, possibly across modules: `create_product → audit.record → time.sleep`. The diagnostic
is reported at the call in the async function (or in an endpoint or dependency that the migration
makes async) that starts the chain, and gives the shortest chain and where the blocking call is.

Calls that run in a worker thread (`asyncio.to_thread`, `loop.run_in_executor`,
`run_in_threadpool`, `anyio.to_thread.run_sync`, `BackgroundTasks.add_task` with a `def`) are not
reported.

## Why is this bad?
A blocking call stops the event loop, and with it every request the process is serving, for as long
as it lasts. Direct blocking calls are easy to spot; the ones hidden two modules away, in a helper
of a helper, are not.

## Example
```python
# shop/services/audit.py
import time


def record(event):
    time.sleep(0.1)  # stands for a slow write


# shop/api.py
@router.post("/products")
async def create_product(data: ProductIn):
    audit.record("created")
```

## Use instead
```python
@router.post("/products")
async def create_product(data: ProductIn):
    await asyncio.to_thread(audit.record, "created")
```
or make `record` use a non-blocking API and await it.

## Fix safety
There is no fix: whether to convert the helper, to move the call to a worker thread or to replace
the blocking call is a design decision. The blocking call itself is reported by the AFY1xx rules
once the helper is async.
"""

import ast

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.project.callgraph import graph_for
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY100",
        name="blocking-call-reachable",
        message="blocking call reachable from async code: {chain}",
        fix_availability=FixAvailability.NONE,
        doc=__doc__,
        module=__name__,
        fix_order=690,
    )
)


def _findings(ctx: FileContext) -> dict:
    found = ctx.cache.get("afy100")
    if found is None:
        g = graph_for(ctx) if not ctx.is_test else None
        found = g[1].afy100(g[0]) if g is not None else {}
        ctx.cache["afy100"] = found
    return found


RULE.prefilter = lambda ctx: bool(_findings(ctx))


@RULE.on(ast.Call)
def check(ctx: FileContext, node: ast.Call):
    chain = _findings(ctx).get((node.lineno, node.col_offset))
    if chain is not None:
        yield RULE.at(ctx, node, chain=chain)
