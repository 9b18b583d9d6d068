"""
## What it does
Reports, in test files, each request to the app under test (`client.get("/orders/1")`,
`client.post(f"/users/{uid}/orders", ...)`) whose endpoint is a coroutine function that blocks the
event loop: a blocking call in it, in a coroutine function it calls, in one of its async
dependencies (`Depends(...)` in its parameters, in its route decorator's `dependencies=[...]` and in
its routers' and app's, and theirs; FastAPI runs sync dependencies in its threadpool), or in a sync helper any of them calls on the loop, with the call chain. The endpoint is found from the project's routes (route
decorators, also in an app factory, `add_api_route(...)`, `APIRouter(prefix=...)`, `include_router(..., prefix=...)`; a prefix that is not a
literal matches any leading path, and so does a URL that starts with a formatted value, as in
`client.get(f"{settings.API_V1_STR}/items/")`).

`asyncify-lint --fix` prints these findings on stderr before it writes anything, computed on the
migrated code: they name the tests that exercise a blocking call the migration leaves in place
(one whose AFY100/AFY11x finding has no automatic fix), the tests a blocking-call detector such as
blockbuster fails.

## Why is this bad?
An `async def` endpoint runs on the event loop. A blocking call there stalls every other request for
its duration; under a test-time detector (blockbuster, `asyncio` debug mode with
`slow_callback_duration`) the test fails. The test itself is fine: the endpoint needs the reviewed
change its AFY100/AFY11x finding describes (an async equivalent, or the blocking part moved to a
worker thread).

## Example
```python
# main.py
from fastapi import FastAPI

import notify

app = FastAPI()


@app.post("/orders/")
async def place_order(order_id: int):
    notify.send_receipt(order_id)  # writes a file, on the event loop
    return {"id": order_id}
# notify.py
def send_receipt(order_id: int) -> None:
    with open(f"receipt-{order_id}.txt", "w") as fh:
        fh.write("thank you")
# test_main.py
from fastapi.testclient import TestClient

from main import app

client = TestClient(app)


def test_place_order():
    assert client.post("/orders/?order_id=1").status_code == 200  # AFY502
```

## Use instead
Move the blocking part off the loop in the endpoint (the test needs no change):
```python
# main.py
import asyncio

from fastapi import FastAPI

import notify

app = FastAPI()


@app.post("/orders/")
async def place_order(order_id: int):
    await asyncio.to_thread(notify.send_receipt, order_id)
    return {"id": order_id}
# notify.py
def send_receipt(order_id: int) -> None:
    with open(f"receipt-{order_id}.txt", "w") as fh:
        fh.write("thank you")
# test_main.py
from fastapi.testclient import TestClient

from main import app

client = TestClient(app)


def test_place_order():
    assert client.post("/orders/?order_id=1").status_code == 200
```
An object the helper reads lazy relationships of must be loaded first (AFY206).

## Fix safety
There is no fix: tests are read, never written.
"""

import ast

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import routes
from asyncify_lint.project.callgraph import graph_for
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY502",
        name="test-request-blocks",
        message="{request} reaches {endpoint} ({where}), which blocks the event loop: {chain}; a blocking-call "
                "detector (blockbuster) fails this test when the request gets there",
        fix_availability=FixAvailability.NONE,
        doc=__doc__,
        module=__name__,
        fix_order=910,
        report="after",
    )
)

_NEEDLES = tuple(f"{m}(" for m in sorted(routes.HTTP_METHODS)) + ("request(",)

RULE.prefilter = lambda ctx: ctx.is_test and any(n in ctx.source.text for n in _NEEDLES)


def _blocking(ctx: FileContext, route: routes.Route) -> str | None:
    """The chain from the route's endpoint to a blocking call on the loop, through the endpoint or the
    dependencies its routers give it, as text (memoised per file)."""
    memo = ctx.cache.setdefault("afy502", {})
    key = (route.endpoint, route.dependencies)
    if key not in memo:
        text = None
        found = graph_for(ctx)
        if found is not None:
            graph = found[1]
            chain = graph.loop_blocking_chain(route.endpoint)
            for dep in route.dependencies if chain is None else ():
                chain = graph.loop_blocking_chain(dep)
                if chain is not None:
                    chain = ([route.endpoint] + chain[0], chain[1])
                    break
            if chain is not None:
                text = graph.chain_text(*chain)
        memo[key] = text
    return memo[key]


@RULE.on(ast.Call)
def check(ctx: FileContext, node: ast.Call):
    req = routes.request_of(ctx, node)
    if req is None or ctx.project is None:
        return
    for route in routes.match(routes.project_routes(ctx.project), req):
        chain = _blocking(ctx, route)
        if chain is not None:
            yield RULE.at(ctx, node, request=f"{req.method} {req.shown}", endpoint=f"`{route.endpoint.rsplit('.', 1)[-1]}`",
                          where=f"{route.relpath}:{route.line}", chain=chain)
            return
