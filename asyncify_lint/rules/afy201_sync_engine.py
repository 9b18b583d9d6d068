"""
## What it does
Checks for sync engines: `create_engine(url, ...)` from `sqlalchemy`, `sqlalchemy.engine` or `sqlmodel`
(resolved through imports and aliases). Also checks for event listeners registered on such an engine
(`@event.listens_for(engine, ...)`, `event.listen(engine, ...)`).

## Why is this bad?
An `Engine` does blocking I/O; sessions and connections made from it block the event loop. The async
API (`AsyncSession`, `AsyncConnection`) needs an `AsyncEngine` from `create_async_engine` with an async
driver in its URL: a sync driver raises `InvalidRequestError: The asyncio extension requires an async
driver to be used`.

Event listeners cannot be registered on an `AsyncEngine` (`NotImplementedError: asynchronous events are
not implemented at this time`); they must target `engine.sync_engine`.

## Example
```python
from sqlalchemy import create_engine

SQLALCHEMY_DATABASE_URL = "sqlite:///./app.db"
engine = create_engine(SQLALCHEMY_DATABASE_URL, connect_args={"check_same_thread": False})
```

## Use instead
```python
from sqlalchemy.ext.asyncio import create_async_engine

SQLALCHEMY_DATABASE_URL = "sqlite+aiosqlite:///./app.db"
engine = create_async_engine(SQLALCHEMY_DATABASE_URL, connect_args={"check_same_thread": False})
```

The driver mapping: `sqlite`, `sqlite+pysqlite` → `sqlite+aiosqlite`; `postgresql`,
`postgresql+psycopg2` → `postgresql+psycopg` (psycopg 3, which accepts the libpq URL parameters and is
not bound to one event loop); `mysql`, `mysql+pymysql` → `mysql+aiomysql`. URLs that already name an
async driver are kept. On SQLAlchemy 1.4, which has no psycopg 3 dialect (`Can't load plugin:
sqlalchemy.dialects:postgresql.psycopg`), `postgresql` and `postgresql+psycopg2` map to
`postgresql+asyncpg`. The targeted version is read from the project's lock files, declared
dependencies or code, or set with the configuration key `target-sqlalchemy = "1.4"`. Every other argument (`connect_args`, pool arguments, `echo`...) is kept as
written.

Where the URL comes from:
* a string literal or an f-string whose scheme is written literally: the scheme is rewritten in place;
* a module constant (in this module or imported from another project module), a class attribute, or
  a settings field with a default in code (`DATABASE_URL: str = "sqlite:///./app.db"` in a pydantic
  `BaseSettings`, or `os.getenv("DATABASE_URL", "sqlite:///./app.db")`): the literal at the end of the
  chain is rewritten, but only when every name on the way (the constant, the settings field, the
  environment variable) is used nowhere in the project (tests included) except as a `create_engine`
  URL. Otherwise rewriting it would silently change that other code (a sync engine in a test, Alembic),
  and there is no fix. A literal in another module is rewritten by the diagnostic reported there.
* a value that is not visible in code (`os.environ["DATABASE_URL"]`, a settings field without a
  default, a computed string), or a literal that cannot be rewritten because something else uses it
  (a test that sets the same environment variable, a sync engine in a script): the driver is mapped
  when the engine is created. The URL argument is wrapped in a small helper added once to the module,
  `_async_database_url(url)`, which applies the same mapping to the URL's driver name with
  `sqlalchemy.engine.make_url(url).set(drivername=...)`; the database, credentials, host and query
  parameters stay exactly as configured, and a URL that already names an async driver (or a driver
  this tool does not map) is passed through unchanged. So a deployment, a `.env` file or a test that
  sets `DATABASE_URL=sqlite:///...` keeps working, on the same database, through the async driver.

## Fix safety
The fix is unsafe: it changes the database driver, and every session and connection made from the
engine must then be async (AFY202, AFY203); code that keeps using the engine synchronously breaks.
The drivers can differ in behaviour: both async PostgreSQL drivers send typed parameters to the server,
so a `str` compared with an `int` column fails where psycopg2 accepted it, and mysqlclient (`mysql://`)
and aiomysql convert some types differently. Driver-specific `connect_args` need a review.

The migration is all or nothing. When AFY201 cannot convert one engine of the app (outside tests and
migration scripts), it converts none, and every session factory, session I/O and legacy query stays
sync with it: AFY202-AFY205 report nothing, and endpoints, dependencies and handlers that do session
I/O (themselves or through the sync functions they call) get no fix from AFY301-AFY303. An
`AsyncSession` built on a sync engine, or a sync session awaited, would fail at run time. The engine's
diagnostic says why it is declined; the others name it.

When the URL can be overridden by the environment (a pydantic settings field, `os.getenv`), only the
default in code is rewritten: the deployed values (environment, `.env` files) must name an async driver
too. If they do not, `create_async_engine` fails at start-up naming the driver, so the mistake is loud,
not silent. With the run-time mapping (above) they need no change; `engine.url` then shows the async
driver name.

On SQLAlchemy 1.4 the PostgreSQL target is asyncpg, which is bound to the event loop that made its
connections and rejects libpq URL parameters: a URL literal with `?sslmode=`, `?connect_timeout=`,
`?options=`... gets no fix (move them to `connect_args` in asyncpg's terms by hand), and a URL that
comes from the environment must not carry them either.

There is no fix when the driver has no async counterpart this tool maps (`mssql+pymssql`,
`oracle+cx_oracle`, anything else), when the engine uses a pool class that asyncio engines reject
(`QueuePool`, `SingletonThreadPool`), a `creator=`/`module=`/`pool=` argument, or `**kwargs`. Event
listeners are reported without a fix.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Edit, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import inject, sqla
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY201",
        name="sync-engine",
        message="sync engine: `{func}(...)` creates a blocking `Engine`{detail}",
        fix_title="Use `create_async_engine` with the `{scheme}` driver",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=200,
    )
)

_LISTEN = frozenset({"sqlalchemy.event.listens_for", "sqlalchemy.event.listen",
                     "sqlalchemy.event.api.listens_for", "sqlalchemy.event.api.listen"})
_TARGETS = _LISTEN | {sqla.CREATE_ENGINE}
LISTENER_MESSAGE = (
    "event listener on `{engine}`: once it is an `AsyncEngine`, listeners must be registered on "
    "`{engine}.sync_engine` (asynchronous events are not implemented)"
)
LITERAL_MESSAGE = (
    "sync engine URL: this `{scheme}` URL is used by `create_engine` in {where}; it must name an async "
    "driver ({target}){env}"
)


#: what an engine AFY201 cannot convert keeps sync with it (the migration is all or nothing)
KEPT_NOTE = ("until it is converted, the migration keeps every engine, session and session I/O of the app "
             "sync (AFY202-AFY205 wait; endpoints that use sessions stay sync `def`s)")


def _env_note(info: sqla.UrlInfo) -> str:
    if not info.env:
        return ""
    names = ", ".join(f"`{e}`" for e in dict.fromkeys(info.env))
    return f"; the environment can override it ({names}): deployed values must name an async driver too"


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    func = call.func
    if not ctx.could_name(func, _TARGETS, sqla.normalize):
        return
    qn = sqla.normalize(ctx.qualname(func))
    if qn in _LISTEN:
        yield from _check_listener(ctx, call)
        return
    if qn != sqla.CREATE_ENGINE:
        return
    name = ctx.segment(func)
    url = sqla.engine_url_arg(call)
    if url is None:
        yield RULE.at(ctx, call, None, func=name, scheme="", detail="; no fix: its URL argument is not visible")
        return
    info = sqla.resolve_url(ctx, url)
    target = info.target
    blocker = sqla.engine_blocker(ctx, call, info)
    if blocker:
        yield RULE.at(ctx, call, None, func=name, scheme=target or "",
                      detail=f"; no fix: {blocker}; {KEPT_NOTE}")
        return
    declined = sqla.declined_engine(ctx)
    if declined:
        yield RULE.at(ctx, call, None, func=name, scheme=target or "",
                      detail=f"; no fix: {sqla.declined_note(declined)}; {KEPT_NOTE}")
        return
    ref, imp = ctx.import_ref("sqlalchemy.ext.asyncio", "create_async_engine")
    imports = [imp] if imp else []
    edits: list[Edit] = [ctx.replace(func, ref)]
    runtime = sqla.static_url_rewrite(ctx, info)
    if runtime is not None:
        fix = _runtime_fix(ctx, call, url, edits, imports)
        detail = f"; its driver is mapped when the engine is created ({runtime})"
        if fix is None:
            detail = f"; no fix: {runtime}, and the module binds `make_url` to something else"
        yield RULE.at(ctx, call, fix, func=name, scheme="async", detail=detail)
        return
    if target != info.scheme:
        assert info.literal is not None and info.literal_ctx is not None and target is not None
        if sqla.file_key(info.literal_ctx) != sqla.file_key(ctx):
            yield RULE.at(ctx, call, None, func=name, scheme=target,
                          detail=f"; no fix: its URL literal at {info.literal_ctx.display_path}:"
                                 f"{info.literal.lineno} must use `{target}` first (reported there)")
            return
        span = sqla.scheme_span(ctx, info.literal, info.scheme)
        assert span is not None
        edits.append(Edit(span[0], span[1], target))
    fix = Fix(edits, Applicability.UNSAFE, imports)
    detail = _env_note(info)
    yield RULE.at(ctx, call, fix, func=name, scheme=target, detail=detail)


URL_HELPER = "_async_database_url"
URL_MARKER = "asyncify-lint AFY201"
URL_HELPER_TEMPLATE = '''def {name}(url):
    """The same database URL with its asyncio driver ({marker}).

    The URL can come from the environment at run time, so its driver is mapped here: the database,
    credentials, host and options stay as configured.
    """
    url = {make_url}(url)
    drivers = {drivers}
    return url.set(drivername=drivers.get(url.drivername, url.drivername))'''


def _first_engine_statement(ctx: FileContext) -> ast.AST | None:
    for stmt in ctx.tree.body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)) and \
                    sqla.normalize(ctx.qualname(n.func)) == sqla.CREATE_ENGINE:
                return stmt
    return None


def _runtime_fix(ctx: FileContext, call: ast.Call, url: ast.AST, edits: list[Edit], imports: list) -> Fix | None:
    name, exists = inject.helper_name(ctx, URL_HELPER, URL_MARKER)
    if isinstance(url, ast.Call) and isinstance(url.func, ast.Name) and url.func.id == name:
        return None  # already wrapped (a second run)
    edits = edits + [Edit(ctx.start(url), ctx.start(url), f"{name}("), Edit(ctx.end(url), ctx.end(url), ")")]
    if not exists:
        make_url, imp = ctx.import_ref("sqlalchemy.engine", "make_url")
        if imp is None and make_url != "make_url" and "." not in make_url:
            return None
        if imp is not None:
            imports = imports + [imp]
        drivers = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sqla.driver_map(ctx).items()).replace("'", '"') + "}"
        nl = ctx.source.newline
        helper = URL_HELPER_TEMPLATE.format(name=name, marker=URL_MARKER, make_url=make_url,
                                            drivers=drivers).replace("\n", nl)
        # every site anchors the helper at the same place, so two sites' fixes overlap there and the
        # second one waits for the next iteration, which sees the helper and only wraps its URL
        at, prefix = inject.insertion(ctx, _first_engine_statement(ctx) or inject.top_statement(ctx, call))
        edits.insert(0, Edit(at, at, prefix + helper + nl * 3))
    return Fix(edits, Applicability.UNSAFE, imports)


def _check_listener(ctx: FileContext, call: ast.Call):
    target = call.args[0] if call.args else None
    if target is None or sqla.engine_becomes_async(ctx, target) not in ("async", "sync"):
        return
    yield RULE.at(ctx, call, None, message=LISTENER_MESSAGE, engine=ctx.segment(target), func="", scheme="",
                  detail="")


@RULE.on(ast.Module)
def check_literals(ctx: FileContext, module: ast.Module):
    """URL literals of this module used by create_engine calls that are all in other modules."""
    entries = sqla.project_engine_urls(ctx)
    here = sqla.file_key(ctx)
    by_literal: dict[tuple, list[tuple[str, str, sqla.UrlInfo]]] = {}
    for call_file, call_display, info in entries:
        if info.literal is None or info.literal_ctx is None or sqla.file_key(info.literal_ctx) != here:
            continue
        by_literal.setdefault(sqla.node_key(info.literal_ctx, info.literal), []).append((call_file, call_display, info))
    if not by_literal:
        return
    nodes = {sqla.node_key(ctx, n): n for n in ast.walk(module) if isinstance(n, (ast.Constant, ast.JoinedStr))}
    for key, users in sorted(by_literal.items(), key=lambda kv: kv[0][1:]):
        if any(call_file == here for call_file, _, _ in users):
            continue  # the create_engine call in this module fixes it
        info = users[0][2]
        node = nodes.get(key)
        target = info.target
        if node is None or info.scheme is None or target is None or target == info.scheme:
            continue
        where = ", ".join(sorted({display for _, display, _ in users}))
        fix = None
        reason = ""
        foreign = None
        for _, _, i in users:
            foreign = foreign or sqla.foreign_uses(ctx, i)
        span = sqla.scheme_span(ctx, node, info.scheme)
        rejected = sqla.asyncpg_rejected_params(info)
        if foreign:
            reason = f"; no fix: {foreign}"
        elif rejected:
            reason = f"; no fix: `{target}` rejects its libpq parameters ({rejected})"
        elif span is None:
            reason = "; no fix: the driver is not written plainly in the literal"
        else:
            fix = Fix([Edit(span[0], span[1], target)], Applicability.UNSAFE)
        yield RULE.at(ctx, node, fix, message=LITERAL_MESSAGE + reason, scheme=target, target=f"`{target}`",
                      where=where, env=_env_note(info), func="", detail="")
