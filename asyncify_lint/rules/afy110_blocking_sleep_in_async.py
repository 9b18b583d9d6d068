"""
## What it does
Checks for `time.sleep()` called in the body of an `async def` (through any import spelling:
`import time`, `from time import sleep as pause`).

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

## Why is this bad?
`time.sleep()` suspends the whole thread, and with it the event loop: no other request, task or
callback runs until it returns. `await asyncio.sleep()` suspends only the current task.

## Example
```python
import time


async def poll():
    time.sleep(0.5)
```

## Use instead
```python
import asyncio


async def poll():
    await asyncio.sleep(0.5)
```

## Fix safety
The fix replaces `time.sleep(x)` with `await asyncio.sleep(x)` and is safe: both wait `x` seconds;
the coroutine version also lets other tasks run and can be cancelled. It reuses an existing
`import asyncio` (or `from asyncio import sleep`) and adds `import asyncio` otherwise. Differences:
a negative `x` raises `ValueError` in `time.sleep` but returns at once from `asyncio.sleep`.

There is no fix where `await` is not valid or would change meaning: inside a generator expression,
a lambda, or a nested `def`.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY110",
        name="blocking-sleep-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.SAFE,
        doc=__doc__,
        module=__name__,
        fix_order=600,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
