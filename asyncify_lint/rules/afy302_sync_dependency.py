"""
## What it does
Checks for FastAPI dependencies declared with a plain `def`: functions used through `Depends(f)` or
`Security(f)` in parameter defaults, in `Annotated[..., Depends(f)]`, and in `dependencies=[...]` of
routes, routers and the app, in any module of the project. Sub-dependencies and generator
dependencies (`yield`) are included. Dependencies defined in test files (a test's own app) are not
reported: the fixer never writes test files.

## Why is this bad?
FastAPI runs every `def` dependency in the threadpool, even when the endpoint is `async def`. Once the
session it yields is an `AsyncSession`, a sync dependency cannot await it, and sync sub-dependencies
that receive it fail (`'AsyncSession' object has no attribute 'query'`). Every dependency on the
request path must become `async def`.

## Example
```python
from fastapi import Depends, FastAPI

app = FastAPI()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/")
async def index(db=Depends(get_db)):
    return {}
```

## Use instead
```python
from fastapi import Depends, FastAPI

app = FastAPI()


async def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/")
async def index(db=Depends(get_db)):
    return {}
```

## Fix safety
The fix turns `def` into `async def` and is unsafe: the dependency then runs on the event loop, so its
blocking calls block every request, and a generator dependency becomes an async generator, which
FastAPI drives with `async with`; its return annotation follows (`Generator[Session, None, None]` →
`AsyncGenerator[Session, None]`, `Iterator[X]` → `AsyncIterator[X]`, imported from the same module).
Awaiting the session calls inside it is the job of AFY203.

There is no fix when the function uses `yield from`, carries another decorator, or is also called
directly in its module.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import fastapi
from asyncify_lint.helpers.convert import async_generator_returns, blocker
from asyncify_lint.helpers.rewrites import make_async
from asyncify_lint.project.callgraph import kept_sync_function
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY302",
        name="sync-dependency",
        message="dependency `{name}` is a sync `def` and runs in the threadpool{why}",
        fix_title="Make `{name}` an `async def`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        prefilter=lambda ctx: not ctx.is_test,  # a test app's functions: tests are never rewritten
        fix_order=310,
    )
)


@RULE.on(ast.FunctionDef)
def check(ctx: FileContext, func: ast.FunctionDef):
    found = fastapi.roles(ctx, func)
    if fastapi.DEPENDENCY not in found or fastapi.ENDPOINT in found:
        return
    reason = blocker(ctx, func, allow_generator=True) or kept_sync_function(ctx, func)
    fix = None
    if not reason:
        edits, imports = async_generator_returns(ctx, func)
        fix = Fix([make_async(ctx, func), *edits], Applicability.UNSAFE, imports)
    why = f"; no automatic fix: {reason}" if reason else ""
    yield RULE.at(ctx, func, fix, name=func.name, why=why)
