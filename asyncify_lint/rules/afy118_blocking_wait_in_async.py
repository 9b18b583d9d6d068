"""
## What it does
Checks for calls that wait on another thread or on the terminal in the body of an `async def`:
`input()`, `threading.Lock/RLock/Semaphore.acquire()`, `threading.Event/Condition.wait()`,
`threading.Thread.join()`, `queue.Queue.get()`/`join()`, `concurrent.futures.Future.result()`.

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

Calls that cannot wait are not reported: `fut.result()` under `if fut.done():`, after an earlier
`if not fut.done(): return` (or `raise`), after an earlier `await fut`, `await asyncio.wrap_future(fut)`
or `await asyncio.wait([..., fut])` in the function, or after an earlier `await event.wait()` of an
event that a callback registered with `fut.add_done_callback(...)` sets; `q.get(False)`,
`q.get(block=False)`, and `q.get()` under `if`/`while not q.empty():` or `q.qsize()`.

## Why is this bad?
Waiting for a thread or a user on the event loop's thread freezes every task; if the thread being
waited for needs the loop to make progress, the process deadlocks.

## Example
```python
import queue

jobs = queue.Queue()


async def next_job():
    return jobs.get()
```

## Use instead
```python
import asyncio

jobs = asyncio.Queue()


async def next_job():
    return await jobs.get()
```

## Fix safety
The fix, applied only with `--unsafe-fixes`, is `await asyncio.to_thread(f, ...)` for `input()`,
`queue.get()`, `Thread.join()`, `Event.wait()` and `Future.result()`. It is unsafe because the
waiting call now runs in the default executor, whose threads are limited: many waiting tasks can
exhaust it. Lock acquisition gets no fix (a lock taken in a worker thread belongs to that thread).
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY118",
        name="blocking-wait-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=608,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
