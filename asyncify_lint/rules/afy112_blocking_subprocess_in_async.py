"""
## What it does
Checks for process creation and waiting in the body of an `async def`: `subprocess.run/call/
check_call/check_output/getoutput/getstatusoutput/Popen`, `Popen.wait()`/`communicate()`,
`os.system`, `os.popen`, `os.spawn*`, `os.posix_spawn*` and `os.wait*` (`os.waitpid(..., os.WNOHANG)`
does not block and is not reported).

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

## Why is this bad?
These calls wait for a child process (or at least for `fork`/`exec`) on the event loop's thread,
freezing every other task for as long as the command runs.

## Example
```python
import subprocess


async def version():
    return subprocess.check_output(["git", "describe"], text=True)
```

## Use instead
```python
import asyncio


async def version():
    proc = await asyncio.create_subprocess_exec("git", "describe", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return out.decode()
```

## Fix safety
The offered fix, applied only with `--unsafe-fixes`, runs the call in a worker thread:
`await asyncio.to_thread(subprocess.check_output, [...], text=True)`. It is unsafe because the
command now runs concurrently with other tasks and uses a slot of the default executor. There is
no fix for `subprocess.Popen`/`os.popen` (the returned object's later calls block too) nor for
`Popen.wait()`/`communicate()`: move to `asyncio.create_subprocess_exec`.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY112",
        name="blocking-subprocess-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=602,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
