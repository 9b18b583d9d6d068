"""
## What it does
Checks for `pathlib.Path` methods that touch the file system (`read_text`, `write_bytes`, `exists`,
`mkdir`, `iterdir`, `glob`, `resolve`, `open`, ...) called in the body of an `async def` on a
`Path` object (constructed, assigned, annotated, or derived with `/`, `.parent`, `.with_suffix()`...).

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

## Why is this bad?
These methods do blocking disk I/O on the event loop's thread.

## Example
```python
from pathlib import Path


async def read_config(root: Path):
    return (root / "config.toml").read_text()
```

## Use instead
```python
import asyncio
from pathlib import Path


async def read_config(root: Path):
    return await asyncio.to_thread((root / "config.toml").read_text)
```

## Fix safety
The fix, applied only with `--unsafe-fixes`, is `await asyncio.to_thread(p.method, ...)`
(`anyio.Path` offers awaitable methods too). It is unsafe because the call now runs concurrently
with other tasks. There is no fix for `iterdir`/`glob`/`rglob`/`walk` (the iteration blocks),
for `open` (see AFY113), or where `await` is not valid.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY115",
        name="blocking-pathlib-call-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=605,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
