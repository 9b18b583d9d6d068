"""
## What it does
Checks for FastAPI endpoints declared with a plain `def`: functions registered with
`@app.get/post/put/patch/delete/options/head/trace/api_route/websocket` on a `FastAPI()` or
`APIRouter()` instance (found through imports and assignments, in any module of the project), or with
`app.add_api_route(path, endpoint)`. Endpoints defined in test files (a test's own app) are not
reported: the fixer never writes test files.

## Why is this bad?
FastAPI runs a `def` endpoint in a worker thread of a small, shared threadpool (40 threads by default).
An app that is moving to asyncio wants its request path on the event loop, with awaited I/O, so that
concurrency is not capped by the threadpool.

## Example
```python
from fastapi import FastAPI

app = FastAPI()


@app.get("/items")
def list_items():
    return []
```

## Use instead
```python
from fastapi import FastAPI

app = FastAPI()


@app.get("/items")
async def list_items():
    return []
```

## Fix safety
The fix turns `def` into `async def`. Once converted, the endpoint runs on the event loop, so any
blocking call left in its body (a sync database session, `time.sleep`, `requests`) or CPU-bound call
(password hashing, AFY120) would block every other request instead of one worker thread. The project
analysis decides: the fix is **safe** when nothing blocking is reachable from the endpoint (no
blocking or CPU-bound call in it or down its project calls, no session I/O, no call it could not
resolve), and **unsafe** otherwise. Convert the blocking calls first (the AFY1xx and AFY2xx rules),
then the endpoints; with `--unsafe-fixes`, the fix loop converts the endpoint and then offloads the
calls that block in it (`await asyncio.to_thread(pwd_context.verify, ...)`, AFY120's fix). When the
endpoint's own body makes a CPU-bound call, the fix's title says so ("its body hashes a password
(`pwd_context.verify()`): offload it").

There is no fix when the function is a generator, uses `yield from`, carries another decorator that
would wrap a coroutine function (such as `functools.lru_cache`), or is also called directly in its
module, whose callers would then receive a coroutine.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking, fastapi
from asyncify_lint.helpers.convert import blocker
from asyncify_lint.helpers.rewrites import make_async
from asyncify_lint.project.callgraph import kept_sync_function, loop_safe_function
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY301",
        name="sync-endpoint",
        message="endpoint `{name}` ({how}) is a sync `def` and runs in the threadpool{why}",
        fix_title="Make `{name}` an `async def`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.SAFE,
        doc=__doc__,
        module=__name__,
        prefilter=lambda ctx: not ctx.is_test,  # a test app's functions: tests are never rewritten
        fix_order=300,
    )
)


@RULE.on(ast.FunctionDef)
def check(ctx: FileContext, func: ast.FunctionDef):
    found = fastapi.roles(ctx, func)
    if fastapi.ENDPOINT not in found:
        return
    site = found[fastapi.ENDPOINT]
    if isinstance(site, ast.Call) and isinstance(site.func, ast.Attribute):
        how = f"@{ctx.segment(site.func)}" if site in func.decorator_list else f"{ctx.segment(site.func)}()"
    else:
        how = "registered with add_api_route in another module"
    reason = blocker(ctx, func, allow_generator=False) or kept_sync_function(ctx, func)
    fix = None
    cpu = None
    if not reason:
        safe = loop_safe_function(ctx, func)
        fix = Fix([make_async(ctx, func)], Applicability.SAFE if safe else Applicability.UNSAFE)
        cpu = None if safe else blocking.cpu_bound_call(ctx, func)
    why = f"; no automatic fix: {reason}" if reason else ""
    d = RULE.at(ctx, func, fix, name=func.name, how=how, why=why)
    if cpu is not None and d.fix_title:  # it would hold the event loop: the title says why the fix is unsafe
        call, work = cpu
        d.fix_title += f"; its body {work} (`{blocking.spelling(ctx, call.func)}()`): offload it (AFY120)"
    yield d
