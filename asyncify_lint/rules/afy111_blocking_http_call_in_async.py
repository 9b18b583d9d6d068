"""
## What it does
Checks for synchronous HTTP requests in the body of an `async def`: `requests` (module functions
and `requests.Session()` objects), the sync `httpx` API (`httpx.get()`, `httpx.Client()` objects),
`urllib.request.urlopen()` and `urllib3` pools. Client objects are tracked through assignments,
`with ... as`, annotations, parameters and `self.<attr>` set in `__init__`.

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

## Why is this bad?
A sync HTTP request blocks the event loop for the whole round trip (DNS, connect, TLS, waiting
for the server, reading the body); every other request served by the process waits with it.

## Example
```python
import requests


async def fetch_user(user_id: int):
    return requests.get(f"https://api.example.com/users/{user_id}").json()
```

## Use instead
```python
import httpx


async def fetch_user(client: httpx.AsyncClient, user_id: int):
    r = await client.get(f"https://api.example.com/users/{user_id}")
    return r.json()
```

## Fix safety
There is no automatic migration to `httpx.AsyncClient` (redirect, timeout, and exception APIs
differ; the client should be created once, e.g. in the lifespan). The offered fix, applied only
with `--unsafe-fixes`, runs the call in a worker thread: `requests.get(u)` becomes
`await asyncio.to_thread(requests.get, u)` (or `run_in_threadpool` when the module already imports
it from `starlette.concurrency`/`fastapi.concurrency`). It is unsafe because the request now runs
concurrently with other tasks (a shared `Session`/`Client` is not documented as safe for concurrent
use) and is bounded by the default executor's size. No fix is offered for `stream=True`,
when the result is used as a context manager or iterated, for `urllib.request.urlopen()` (its
response's `read()` also blocks), or where `await` is not valid.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY111",
        name="blocking-http-call-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=601,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
