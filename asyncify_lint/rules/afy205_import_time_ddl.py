'''
## What it does
Checks for DDL on an engine that is, or becomes (AFY201), an `AsyncEngine`:
`Base.metadata.create_all(bind=engine)`, `SQLModel.metadata.create_all(engine)`, `metadata.drop_all(...)`,
at module level (the FastAPI tutorial's `main.py`), in a sync function (called at import time, from a
startup handler, from a script) or in an `async def` (a lifespan).

## Why is this bad?
`MetaData.create_all` is sync and cannot take an `AsyncEngine`:
`AttributeError: 'AsyncEngine' object has no attribute '_run_ddl_visitor'`. Passing
`engine.sync_engine` does not work either outside SQLAlchemy's greenlet (`MissingGreenlet`). Moving the
DDL into a lifespan handler changes *when* it runs: the handler only runs when the app starts (or a
`with TestClient(app)` block is entered), so tests that use `client = TestClient(app)` find no tables.

## Example
```python
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import declarative_base

Base = declarative_base()
engine = create_async_engine("sqlite+aiosqlite:///./app.db")

Base.metadata.create_all(bind=engine)
```

## Use instead
```python
import asyncio
import concurrent.futures

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import declarative_base
from sqlalchemy.pool import StaticPool

Base = declarative_base()
engine = create_async_engine("sqlite+aiosqlite:///./app.db")


def _blocking_ddl(ddl):
    """Let sync DDL such as `metadata.create_all` take an AsyncEngine as bind (asyncify-lint AFY205)."""

    def call(bind, *args, **kwargs):
        async def run():
            async with bind.begin() as conn:
                result = await conn.run_sync(ddl, *args, **kwargs)
            if not isinstance(bind.pool, StaticPool):
                await bind.dispose()  # its pooled connections belong to this thread's event loop
            return result

        with concurrent.futures.ThreadPoolExecutor(1) as executor:
            return executor.submit(asyncio.run, run()).result()

    return call


_blocking_ddl(Base.metadata.create_all)(bind=engine)
```

In an `async def` the call becomes the documented async form:
```python
async with engine.begin() as conn:
    await conn.run_sync(Base.metadata.create_all)
```

## Why this rewrite
The tables must exist at the same moment as before, before the first request, with or without
`with TestClient(app)`, and on the *same* database. In sync code the fix therefore keeps the DDL
where it is and runs it to completion before the statement returns, through a small helper inserted
once per module (`_blocking_ddl`): it wraps `create_all` so that it takes the `AsyncEngine` as its
`bind`, runs `async with bind.begin() as conn: await conn.run_sync(ddl, ...)` on a fresh event loop
in a worker thread, and returns its result or raises its exception. The worker thread makes it work
both at import time and when the module is imported inside a running loop (uvicorn imports the app
inside its loop, where `asyncio.run` would raise). The DDL goes through the engine's own pool, so an
in-memory SQLite database (`sqlite+aiosqlite://`, which gets a `StaticPool`) is the one the app uses.
Afterwards the pool is disposed, unless it is a `StaticPool` (whose one connection *is* the in-memory
database), because connections of drivers such as asyncpg or aiomysql are bound to the event loop that
made them. Verified with SQLAlchemy 2.1 and aiosqlite on a file database and on in-memory databases
(`StaticPool`, default pool), at import time, inside a running loop, and with later requests on other
loops (tests/test_sqla.py runs the fixed code).

The alternatives were rejected: `create_all(bind=engine.sync_engine)` raises `MissingGreenlet`;
`asyncio.run(...)` at import time raises inside uvicorn's loop; moving the DDL into a lifespan breaks
`TestClient(app)` without `with`; a second, sync engine for the DDL sees a *different* database for
in-memory SQLite and needs the URL and connection arguments duplicated.

## Fix safety
The fix is safe when the bind is already an `AsyncEngine` (the code as written raises at import).
It is unsafe when the bind is still a sync engine that AFY201 converts: until that fix is applied too,
the helper receives a sync `Engine` and fails.

Known limits: a loop-bound driver (asyncpg, aiomysql) combined with `StaticPool` keeps a connection
made on the helper's loop. There is no fix in a lambda, when the module already binds the names the
helper needs (`asyncio`, `concurrent`) to something else, or, in an `async def`, when the call is not a
statement of its own or has comments between its arguments. Engines whose URL AFY201 cannot map are
not reported (they stay sync).
'''

import ast
import io
import re
import tokenize

from asyncify_lint.diagnostics import Applicability, Edit, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import inject, sqla
from asyncify_lint.helpers.rewrites import can_await_here
from asyncify_lint.project.callgraph import becomes_async
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY205",
        name="import-time-ddl",
        message="`{call}(...)` cannot take {engine}{why}",
        fix_title="{title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.SAFE,
        doc=__doc__,
        module=__name__,
        fix_order=250,
    )
)

DDL_METHODS = frozenset({"create_all", "drop_all"})
HELPER = "_blocking_ddl"
MARKER = "asyncify-lint AFY205"

HELPER_TEMPLATE = '''def {name}(ddl):
    """Let sync DDL such as `metadata.create_all` take an AsyncEngine as bind ({marker}).

    The DDL runs to completion before the call returns, on a fresh event loop in a worker thread,
    so this works at import time and inside a running event loop, like the sync call did.
    """

    def call(bind, *args, **kwargs):
        async def run():
            async with bind.begin() as conn:
                result = await conn.run_sync(ddl, *args, **kwargs)
            if not isinstance(bind.pool, {static_pool}):
                await bind.dispose()  # its pooled connections belong to this thread's event loop
            return result

        with {futures}.ThreadPoolExecutor(1) as executor:
            return executor.submit({asyncio}.run, run()).result()

    return call'''


def _sync_sites(ctx: FileContext) -> list[ast.Call]:
    sites = ctx.cache.get("afy205.sites")
    if sites is None:
        sites = []
        if any(m in ctx.source.text for m in DDL_METHODS):
            for n in ast.walk(ctx.tree):
                if isinstance(n, ast.Call) and sqla.ddl_site(ctx, n) is not None:
                    if not isinstance(ctx.enclosing_function(n), (ast.AsyncFunctionDef, ast.Lambda)):
                        sites.append(n)
        sites.sort(key=lambda c: (c.lineno, c.col_offset))
        ctx.cache["afy205.sites"] = sites
    return sites


def _module_ref(ctx: FileContext, module: str):
    ref, imp = ctx.import_ref(module)
    b = ctx.module_scope.bindings.get(module.split(".")[0])
    if b is not None and not (b.kind == "import" and b.qualname in (module.split(".")[0], module)):
        return None, None
    return ref, imp


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    site = sqla.ddl_site(ctx, call)
    if site is None:
        return
    bind, kind = site
    engine_text = ctx.segment(bind)
    engine = f"the `AsyncEngine` `{engine_text}`" if kind == "async" else (
        f"`{engine_text}`, which becomes an `AsyncEngine` (AFY201)")
    call_text = ctx.segment(call.func)
    applicability = Applicability.SAFE if kind == "async" else Applicability.UNSAFE
    fmt = dict(call=call_text, engine=engine)
    f = ctx.enclosing_function(call)
    if isinstance(f, ast.Lambda):
        yield RULE.at(ctx, call, None, why="; no fix: it is in a lambda", title="", **fmt)
        return
    if isinstance(f, ast.AsyncFunctionDef):
        fix, reason = _async_fix(ctx, call, bind, applicability)
        yield RULE.at(ctx, call, fix, why=f"; no fix: {reason}" if reason else "",
                      title=f"Run it with `await conn.run_sync({call_text})`", **fmt)
        return
    if f is not None and becomes_async(ctx, f):
        yield RULE.at(ctx, call, None, title="",
                      why=f"; no fix yet: `{f.name}` becomes async first (AFY3xx/AFY402), then the DDL is awaited",
                      **fmt)
        return
    fix, reason = _sync_fix(ctx, call, applicability)
    yield RULE.at(ctx, call, fix, why=f"; no fix: {reason}" if reason else "",
                  title="Run it to completion on the async engine through a helper", **fmt)


def _sync_fix(ctx: FileContext, call: ast.Call, applicability: Applicability):
    name, exists = inject.helper_name(ctx, HELPER, MARKER)
    edits = [Edit(ctx.start(call.func), ctx.start(call.func), f"{name}("),
             Edit(ctx.end(call.func), ctx.end(call.func), ")")]
    imports = []
    if not exists:
        asyncio_ref, asyncio_imp = _module_ref(ctx, "asyncio")
        futures_ref, futures_imp = _module_ref(ctx, "concurrent.futures")
        if asyncio_ref is None or futures_ref is None:
            return None, "the module binds `asyncio` or `concurrent` to something else"
        pool_ref, pool_imp = ctx.import_ref("sqlalchemy.pool", "StaticPool")
        imports = [i for i in (asyncio_imp, futures_imp, pool_imp) if i]
        nl = ctx.source.newline
        helper = HELPER_TEMPLATE.format(name=name, marker=MARKER, static_pool=pool_ref, futures=futures_ref,
                                        asyncio=asyncio_ref).replace("\n", nl)
        anchor = inject.top_statement(ctx, _sync_sites(ctx)[0] if _sync_sites(ctx) else call)
        at, prefix = inject.insertion(ctx, anchor)
        edits.insert(0, Edit(at, at, prefix + helper + nl * 3))
    return Fix(edits, applicability, imports), None


def _has_comment(text: str) -> bool:
    try:
        return any(t.type == tokenize.COMMENT for t in tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return True


def _async_fix(ctx: FileContext, call: ast.Call, bind: ast.AST, applicability: Applicability):
    stmt = ctx.parent(call)
    if not isinstance(stmt, ast.Expr) or not can_await_here(ctx, call):
        return None, "it is not a statement of its own"
    src = ctx.source
    line_start = src.line_starts[stmt.lineno - 1]
    indent = src.text[line_start:ctx.start(stmt)]
    if indent.strip() or _has_comment(ctx.segment(call)):
        return None, "it shares its line with other code or has comments between its arguments"
    func = ctx.enclosing_function(call)
    body_indent = re.match(r"[ \t]*", src.line_text(func.body[0].lineno)).group(0)  # type: ignore[attr-defined]
    def_indent = re.match(r"[ \t]*", src.line_text(func.lineno)).group(0)  # type: ignore[attr-defined]
    unit = body_indent[len(def_indent):] or "    "
    conn = sqla.fresh_name(ctx, func, "conn")
    rest = [ctx.segment(a) for a in call.args if a is not bind]
    rest += [ctx.segment(k) for k in call.keywords if k.value is not bind]
    args = ", ".join([ctx.segment(call.func)] + rest)
    nl = src.newline
    text = (f"async with {ctx.segment(bind)}.begin() as {conn}:{nl}"
            f"{indent}{unit}await {conn}.run_sync({args})")
    return Fix([ctx.replace(stmt, text)], applicability), None
