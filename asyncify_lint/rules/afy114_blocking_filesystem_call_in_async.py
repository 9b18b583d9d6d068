"""
## What it does
Checks for file-system calls of `os`, `os.path`, `shutil`, `glob` and `tempfile` (`os.stat`,
`os.listdir`, `os.path.exists`, `shutil.copytree`, `glob.glob`, `tempfile.mkdtemp`, ...) in the body
of an `async def`. Pure path-string functions (`os.path.join`, `os.path.normpath`) are not reported.

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

## Why is this bad?
Each of these calls asks the operating system about the disk and waits for the answer on the event
loop's thread. Recursive ones (`shutil.rmtree`, `os.walk`, `glob.glob`) can take seconds.

## Example
```python
import os


async def cleanup(path):
    if os.path.exists(path):
        os.remove(path)
```

## Use instead
```python
import asyncio
import os


async def cleanup(path):
    if await asyncio.to_thread(os.path.exists, path):
        await asyncio.to_thread(os.remove, path)
```

## Fix safety
The fix, applied only with `--unsafe-fixes`, runs the call in a worker thread with
`await asyncio.to_thread(f, ...)` (`aiofiles.os` does the same). It is unsafe because the call now
runs concurrently with other tasks (a check-then-act sequence may interleave with them). There is no
fix for `os.walk`, `os.scandir` and `glob.iglob`, whose iteration blocks too, or when the result is
iterated or used as a context manager.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY114",
        name="blocking-filesystem-call-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=604,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
