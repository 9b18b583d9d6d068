"""
## What it does
Checks for FastAPI lifecycle and exception handlers declared with a plain `def` that do I/O:
`@app.on_event(...)`, `@app.exception_handler(...)`, `app.add_event_handler(...)`,
`app.add_exception_handler(...)`, `FastAPI(on_startup=[...], on_shutdown=[...],
exception_handlers={...}, lifespan=...)`. "Does I/O" means a known blocking call, database work
(a session, engine or `metadata.create_all`), or a call to a project function that does either.
Handlers defined in test files (a test's own app) are not reported: the fixer never writes test
files.

## Why is this bad?
Starlette calls sync startup and shutdown handlers directly on the event loop, and runs sync exception
handlers in the threadpool. Once the database layer is async, these handlers cannot await it; they
must be `async def` too.

## Example
```python
from fastapi import FastAPI

app = FastAPI()


@app.on_event("startup")
def on_startup():
    Base.metadata.create_all(bind=engine)
```

## Use instead
```python
from fastapi import FastAPI

app = FastAPI()


@app.on_event("startup")
async def on_startup():
    Base.metadata.create_all(bind=engine)
```

## Fix safety
The fix turns `def` into `async def` (and a `@contextlib.contextmanager` lifespan into an
`@contextlib.asynccontextmanager` one) and is unsafe: blocking work in the body then runs on the event
loop, and the awaits the body needs are added by other rules. Handlers without I/O are not reported.

There is no fix when the function uses `yield from`, carries another decorator, or is also called
directly in its module.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import fastapi
from asyncify_lint.helpers.convert import async_generator_returns, blocker
from asyncify_lint.helpers.io import does_io
from asyncify_lint.helpers.rewrites import make_async
from asyncify_lint.project.callgraph import kept_sync_function
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY303",
        name="sync-lifecycle-handler",
        message="{role} `{name}` is a sync `def` that does I/O ({what}){why}",
        fix_title="Make `{name}` an `async def`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        prefilter=lambda ctx: not ctx.is_test,  # a test app's functions: tests are never rewritten
        fix_order=320,
    )
)

ROLES = (fastapi.EVENT_HANDLER, fastapi.EXCEPTION_HANDLER, fastapi.LIFESPAN)


def _lifespan_fix(ctx: FileContext, func: ast.FunctionDef) -> tuple[Fix | None, str | None]:
    decs = func.decorator_list
    if len(decs) != 1 or ctx.qualname(decs[0]) != "contextlib.contextmanager":
        return None, "a sync lifespan must be a `@contextlib.contextmanager` generator to be converted"
    text, imp = ctx.import_ref("contextlib", "asynccontextmanager")
    edits, imports = async_generator_returns(ctx, func)
    fix = Fix([ctx.replace(decs[0], text), make_async(ctx, func), *edits], Applicability.UNSAFE,
              ([imp] if imp else []) + imports)
    return fix, None


@RULE.on(ast.FunctionDef)
def check(ctx: FileContext, func: ast.FunctionDef):
    found = fastapi.roles(ctx, func)
    role = next((r for r in ROLES if r in found), None)
    if role is None or fastapi.ENDPOINT in found or fastapi.DEPENDENCY in found:
        return
    what = does_io(ctx, func)
    if what is None:
        return
    kept = kept_sync_function(ctx, func)
    if kept:
        fix, reason = None, kept
    elif role == fastapi.LIFESPAN:
        fix, reason = _lifespan_fix(ctx, func)
        if fix is not None:
            other = blocker(ctx, func, allow_generator=True)
            if other and "decorator" not in other:
                fix, reason = None, other
    else:
        reason = blocker(ctx, func, allow_generator=False)
        fix = None if reason else Fix([make_async(ctx, func)], Applicability.UNSAFE)
    why = f"; no automatic fix: {reason}" if reason else ""
    yield RULE.at(ctx, func, fix, role=role, name=func.name, what=what, why=why)
