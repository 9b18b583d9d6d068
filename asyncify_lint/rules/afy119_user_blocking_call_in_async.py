"""
## What it does
Checks for calls that the project declares blocking, made in the body of an `async def`:
- `blocking-calls`: canonical qualified names, resolved through imports (`mylib.client.fetch_sync`),
  methods of tracked types (`httpx.Client.get`), or a whole module/class with a trailing `.*`;
- `blocking-patterns`: ast-grep patterns (ast-grep-py, Python grammar), e.g.
  `$CLIENT.fetch_sync($$$)`; a match reports the call that encloses it.

Calls the built-in catalogue already reports (AFY110-AFY118, AFY120) are not reported twice. A
declared call made in a sync helper that async code calls, in any module, is reported by AFY100 at
the call that starts the chain (`show → storage.load → vendor.sdk.fetch_sync (app/storage.py:5)`),
as the catalogue's calls are.

```toml
[tool.asyncify-lint]
blocking-calls = ["legacy.storage.load_blob", "boto3.*"]
blocking-patterns = ["$CLIENT.fetch_sync($$$)"]
```

## Why is this bad?
A project's own wrappers and third-party SDKs (cloud clients, legacy helpers) block the event loop
as much as the standard library does, but no catalogue can know them.

## Example
```python
from legacy.storage import load_blob


async def download(key):
    return load_blob(key)
```

## Use instead
```python
import asyncio

from legacy.storage import load_blob


async def download(key):
    return await asyncio.to_thread(load_blob, key)
```

## Fix safety
There is no fix: whether a declared call may run in a worker thread is not known.
"""

import ast

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY119",
        name="user-blocking-call-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_availability=FixAvailability.NONE,
        doc=__doc__,
        module=__name__,
        fix_order=609,
        prefilter=lambda ctx: blocking.has_user_declared(ctx) and blocking.has_async(ctx),
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    found = blocking.user_finding(ctx, call)
    if found is not None:
        what, owner = found
        yield RULE.at(ctx, call, what=what, func=owner.name, hint=blocking.HINTS["user"])
