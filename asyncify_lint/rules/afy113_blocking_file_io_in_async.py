"""
## What it does
Checks for `open()` (also `io.open`, `codecs.open`, `os.fdopen`, `tempfile.TemporaryFile`) and
for the methods of the file objects they return (`f.read()`, `f.write()`, ...), including
`with open(p) as f: f.read()`, in the body of an `async def`.

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

`f.tell()` (a position, no wait) is not reported, nor are calls on a file object in the in-memory
branch of a spooled file: the body of an `if` whose test is a name, attribute or method call with
`in_memory` in its name (`if self._in_memory:`, also as an operand of `and`), or the `else` of
`if not ..._in_memory:`.

## Why is this bad?
Disk I/O blocks the thread that does it; on the event loop that is every task of the process.
Network file systems and cold caches make a "small" read take milliseconds to seconds.

## Example
```python
async def load_template(path):
    with open(path) as f:
        return f.read()
```

## Use instead
```python
import asyncio
from pathlib import Path


async def load_template(path):
    return await asyncio.to_thread(Path(path).read_text)
```

## Fix safety
`open()` itself has no mechanical fix: move the whole `with` block into a function run by
`asyncio.to_thread`, or use an async file API (aiofiles, `anyio.open_file`). For calls on a file
object (`f.read()`), the fix offered with `--unsafe-fixes` is `await asyncio.to_thread(f.read)`;
it is unsafe because the file is then used from another thread while the task is suspended.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY113",
        name="blocking-file-io-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=603,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
