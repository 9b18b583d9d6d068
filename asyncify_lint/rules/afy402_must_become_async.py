"""
## What it does
Checks for sync functions that must become `async def` for the migration: functions that call a
database session method which is awaited on an `AsyncSession` (`execute`, `scalars`, `get`,
`commit`, `refresh`, `delete`, `query`...), or call a coroutine function, and, transitively, every
sync function that calls them, across modules, up to the async code (async functions, and the
endpoints and dependencies the AFY3xx rules convert). Code that runs in a worker thread
(`asyncio.to_thread`, `run_in_executor`, `run_in_threadpool`, `BackgroundTasks.add_task` with a
`def`) is left alone.

Some functions cannot become coroutine functions; they are reported without a fix, with the reason:
`__init__` and other `__dunder__` methods, properties, functions used as sync context managers
(`@contextmanager`) or iterators (generators), functions decorated by a decorator that may not
support coroutine functions, functions handed to a library as a sync callback, functions called at
module level, awaits that would land inside a lambda or a generator expression, and functions called
from test files only.

## Why is this bad?
Once the session is an `AsyncSession`, its I/O methods return awaitables: the function that calls
them has to await, so it has to be an `async def`, and so does every caller of it.

## Example
```python
def get_user(db: Session, user_id: int):
    return db.get(User, user_id)


def get_user_name(db: Session, user_id: int):
    return get_user(db, user_id).name
```

## Use instead
```python
async def get_user(db: AsyncSession, user_id: int):
    return await db.get(User, user_id)


async def get_user_name(db: AsyncSession, user_id: int):
    return (await get_user(db, user_id)).name
```

## Fix safety
The fix turns `def` into `async def` and is unsafe: every caller now receives a coroutine. A call of
the function in its module's `if __name__ == "__main__":` block (a script's entry point, `main()`
or `sys.exit(main())`) becomes `asyncio.run(main())` in the same fix: the script still runs it to
completion, on a new event loop. The
callers in async code are then fixed by AFY401 (which adds `await`), the sync ones are reported by
this rule in turn, in the following passes of the same `--fix` run. Tests calling the function are
reported by AFY501 and are never rewritten.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Edit, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.helpers.rewrites import make_async
from asyncify_lint.project.callgraph import graph_for
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY402",
        name="must-become-async",
        message="`{name}` must become async: {why}{blocked}",
        fix_title="Make `{name}` an `async def`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=420,
    )
)


def _findings(ctx: FileContext) -> dict:
    found = ctx.cache.get("afy402")
    if found is None:
        g = graph_for(ctx) if not ctx.is_test else None
        found = g[1].afy402(g[0]) if g is not None else {}
        ctx.cache["afy402"] = found
    return found


RULE.prefilter = lambda ctx: bool(_findings(ctx))


@RULE.on(ast.FunctionDef)
def check(ctx: FileContext, node: ast.FunctionDef):
    entry = _findings(ctx).get((node.lineno, node.col_offset))
    if entry is None:
        return
    name, why, reason, entry_calls = entry
    if reason is not None:
        yield RULE.at(ctx, node, name=name, why=why, blocked=f"; no automatic fix: {reason}")
        return
    edits, imports = [make_async(ctx, node)], []
    if entry_calls:
        found = blocking.asyncio_ref(ctx, "run", node)
        spans = set(entry_calls)
        calls = [c for c in ctx.nodes_of(ast.Call)
                 if (c.lineno, c.col_offset, c.end_lineno, c.end_col_offset) in spans]
        if found is None or len(calls) != len(spans):
            yield RULE.at(ctx, node, name=name, why=why,
                          blocked="; no automatic fix: its call in `if __name__ == \"__main__\":` cannot be "
                                  "wrapped in `asyncio.run()` here")
            return
        ref, req = found
        if req is not None:
            imports.append(req)
        for c in calls:
            edits += [Edit(ctx.start(c), ctx.start(c), f"{ref}("), Edit(ctx.end(c), ctx.end(c), ")")]
    yield RULE.at(ctx, node, Fix(edits, Applicability.UNSAFE, imports), name=name, why=why, blocked="")
