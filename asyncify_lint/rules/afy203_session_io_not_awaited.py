"""
## What it does
Checks for session, connection and engine I/O in `async def` code that is not awaited:
`execute`, `scalar`, `scalars`, `get`, `get_one`, `commit`, `rollback`, `flush`, `refresh`, `delete`,
`merge`, `close`, `connection`, `stream`, `stream_scalars`, `run_sync`, `reset`, `invalidate`,
`delete_all`, `merge_all` and SQLModel's `exec` on a session; `begin()`/`begin_nested()` used as a
statement; `execute`, `commit`, `close`... on an `AsyncConnection`; `dispose()`, `connect()` and
`raw_connection()` on an `AsyncEngine`, and `with engine.connect()`/`with engine.begin()` on one.
Also library functions that do the I/O of the session handed to them: fastapi-pagination's
`paginate(db, stmt)` (`fastapi_pagination.ext.sqlalchemy`, `.ext.sqlmodel`), which returns an
awaitable when `db` is an `AsyncSession`.

Only receivers *known* to be sessions are checked: annotated `Session`/`AsyncSession` (also through
`Annotated` aliases defined in any module), parameters declared with `Depends(get_db)` where `get_db`
(in any module) yields or returns a session, calls of a session factory (`SessionLocal()` with
`SessionLocal = sessionmaker(...)`/`async_sessionmaker(...)`, possibly imported), `with`/`async with`
targets, and attributes assigned only sessions in the module (`request.state.db = SessionLocal()`).
Sync-only methods (`add`, `add_all`, `expunge`, `expire`, `is_modified`, `in_transaction`,
`get_bind`...) are never awaited.

## Why is this bad?
On an `AsyncSession` these methods return coroutines: without `await` nothing happens. A forgotten
`await db.delete(obj)` or `await db.commit()` silently loses the change (Python only prints
`RuntimeWarning: coroutine ... was never awaited`). On a sync `Session` in `async def` code the call
blocks the event loop, and every other request waits.

## Example
```python
async def delete_item(db: AsyncSession, item_id: int):
    item = db.get(Item, item_id)
    db.delete(item)
    db.commit()
    return db.scalars(select(Item)).all()
```

## Use instead
```python
async def delete_item(db: AsyncSession, item_id: int):
    item = await db.get(Item, item_id)
    await db.delete(item)
    await db.commit()
    return (await db.scalars(select(Item))).all()
```

## Fix safety
The fix adds `await` (with parentheses where the result is used, `(await s.exec(q)).all()`). It is
safe when the receiver is known to be an `AsyncSession`/`AsyncConnection`/`AsyncEngine` at run time
(from its factory or dependency, else its annotation): the un-awaited call did nothing, the awaited
one does what the sync code did.

It is unsafe when the receiver is still a sync `Session`: awaiting its result (`None`, a `Result`)
raises `TypeError` until the session becomes an `AsyncSession` (AFY202 rewrites the factory, the
annotations and the `with` statements; run them together with `--unsafe-fixes`).

For fastapi-pagination the fix follows the version the project uses (lock files, requirements, the
installed package): 0.12 awaits `paginate(...)`; 0.13 and later await `apaginate(...)`, imported from
the same module, since passing an `AsyncSession` to `paginate` is deprecated there and removed after
0.15. Before 0.12, or when the version is unknown, there is no fix (the async function lives in
`fastapi_pagination.ext.async_sqlalchemy` there).

There is no fix where `await` is not allowed or would change the meaning: in a generator expression,
a lambda or a nested sync `def` (those are not reported).
"""

import ast

from asyncify_lint.diagnostics import Applicability, Edit, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import sqla
from asyncify_lint.helpers.rewrites import add_await, can_await_here
from asyncify_lint.helpers import versions
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY203",
        name="session-io-not-awaited",
        message="{what}{why}",
        fix_title="Await `{call}`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.SAFE,
        doc=__doc__,
        module=__name__,
        fix_order=230,
    )
)

SESSION_IO = sqla.SESSION_AWAITABLE
#: AsyncConnection methods that are both awaitable and async context managers
#: (SQLAlchemy's ``@asyncstartablecontext``): `async with conn.stream(stmt) as result:`
STARTABLE_CONTEXTS = frozenset({"stream", "stream_scalars"})
CONNECTION_IO = frozenset({
    "execute", "scalar", "scalars", "commit", "rollback", "close", "exec_driver_sql", "invalidate",
    "get_isolation_level", "execution_options", "stream", "stream_scalars", "run_sync", "start",
    "get_raw_connection",
})
ENGINE_IO = frozenset({"dispose", "raw_connection", "connect"})
BEGIN = frozenset({"begin", "begin_nested"})


def _io_kind(recv: str | None, method: str, call: ast.Call, ctx: FileContext) -> str | None:
    """"async" / "sync" when ``recv.method()`` is I/O to await (sync: once the session is async)."""
    p = ctx.parent(call)
    in_with = isinstance(p, ast.withitem) and p.context_expr is call
    if recv in sqla.SESSION_TYPES:
        if method in SESSION_IO or (method in BEGIN and not in_with):
            return "async" if recv in sqla.ASYNC_SESSION_TYPES else "sync"
    elif recv == sqla.ASYNC_CONNECTION:
        if in_with and method in STARTABLE_CONTEXTS and isinstance(ctx.parent(p), ast.AsyncWith):
            return None  # `async with conn.stream(...) as result:` (an async context manager too)
        if method in CONNECTION_IO or (method in BEGIN and not in_with):
            return "async"
    elif recv == sqla.ASYNC_ENGINE:
        if method in ENGINE_IO and not in_with:
            return "async"
    return None


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    func = call.func
    if not isinstance(func, ast.Attribute) or ctx.is_awaited(call):
        return
    if func.attr not in SESSION_IO and func.attr not in CONNECTION_IO and func.attr not in ENGINE_IO \
            and func.attr not in BEGIN:
        return
    if not ctx.in_async_function(call):
        return
    recv = sqla.sqla_type(ctx, func.value)
    kind = _io_kind(recv, func.attr, call, ctx)
    if kind is None:
        return
    name = f"{ctx.segment(func)}()"
    recv_text = ctx.segment(func.value)
    if kind == "sync" and sqla.declined_engine(ctx):
        return  # the session stays sync with the engine AFY201 cannot convert
    if kind == "async":
        noun = {sqla.ASYNC_CONNECTION: "`AsyncConnection`", sqla.ASYNC_ENGINE: "`AsyncEngine`"}.get(
            recv, "`AsyncSession`")
        what = f"`{name}` on the {noun} `{recv_text}` returns a coroutine that is never awaited: the I/O does not happen"
        applicability = Applicability.SAFE
    else:
        what = (f"`{name}` on the sync `Session` `{recv_text}` blocks the event loop; it must be awaited once "
                "the session is an `AsyncSession` (AFY202)")
        applicability = Applicability.UNSAFE
    if not can_await_here(ctx, call):
        yield RULE.at(ctx, call, None, what=what, why="; no fix: `await` is not possible here", call=name)
        return
    yield RULE.at(ctx, call, Fix(add_await(ctx, call), applicability), what=what, why="", call=name)


#: library functions that run the I/O of the session they are given: qualified name -> the name of
#: the session parameter (also the first positional argument)
SESSION_TAKING = {
    "fastapi_pagination.ext.sqlalchemy.paginate": "conn",
    "fastapi_pagination.ext.sqlmodel.paginate": "session",
}


def _session_argument(call: ast.Call, param: str) -> ast.AST | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == param), None)


@RULE.on(ast.Call)
def check_session_taking(ctx: FileContext, call: ast.Call):
    """``paginate(db, stmt)``: the library awaits the session's I/O only when its result is awaited."""
    func = call.func
    if not isinstance(func, (ast.Name, ast.Attribute)) or ctx.is_awaited(call) or not ctx.in_async_function(call):
        return
    qualname = ctx.qualname(func)
    param = SESSION_TAKING.get(qualname) if qualname else None
    if param is None:
        return
    arg = _session_argument(call, param)
    recv = sqla.sqla_type(ctx, arg) if arg is not None else None
    if recv in sqla.ASYNC_SESSION_TYPES or recv == sqla.ASYNC_CONNECTION:
        what = (f"`{ctx.segment(func)}()` is handed the async `{ctx.segment(arg)}`: it returns an awaitable "
                "that is never awaited")
        applicability = Applicability.SAFE
    elif recv in sqla.SESSION_TYPES and not sqla.declined_engine(ctx):
        what = (f"`{ctx.segment(func)}()` is handed the sync `Session` `{ctx.segment(arg)}` and blocks the event "
                "loop; it must be awaited once the session is an `AsyncSession` (AFY202)")
        applicability = Applicability.UNSAFE
    else:
        return
    module, _, _name = qualname.rpartition(".")
    api = versions.of(ctx).async_paginate
    name = f"{ctx.segment(func)}()"
    if api is None:
        yield RULE.at(ctx, call, None, what=what, call=name,
                      why="; no fix: fastapi-pagination before 0.12 (or of an unknown version) has no such "
                          "call (`fastapi_pagination.ext.async_sqlalchemy.paginate` takes an `AsyncSession`)")
        return
    if not can_await_here(ctx, call):
        yield RULE.at(ctx, call, None, what=what, why="; no fix: `await` is not possible here", call=name)
        return
    edits = add_await(ctx, call)
    imports = []
    if api != _name:
        if isinstance(func, ast.Attribute):
            spelled = f"{ctx.segment(func.value)}.{api}"
        else:
            spelled, imp = ctx.import_ref(module, api)
            if imp is not None and imp.name is None:
                yield RULE.at(ctx, call, None, what=what, call=name,
                              why=f"; no fix: the name `{api}` is taken in this module")
                return
            imports = [imp] if imp is not None else []
        start, end = ctx.start(func), ctx.end(func)
        if edits[0].start == start:  # `await ` goes where the name starts: one edit for both
            edits[0] = Edit(start, end, edits[0].content + spelled)
        else:
            edits.append(Edit(start, end, spelled))
        name = f"{api}()"
    yield RULE.at(ctx, call, Fix(edits, applicability, imports), what=what, why="", call=name)


@RULE.on(ast.With)
def check_with(ctx: FileContext, node: ast.With):
    """``with engine.connect() as conn`` on an AsyncEngine: only ``async with`` works."""
    kinds = []
    for item in node.items:
        e = item.context_expr
        kind = None
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute):
            recv = sqla.sqla_type(ctx, e.func.value)
            if recv == sqla.ASYNC_ENGINE and e.func.attr in ("connect", "begin"):
                kind = "engine"
            elif recv == sqla.ASYNC_CONNECTION and e.func.attr in BEGIN:
                kind = "engine"
            elif recv in sqla.SESSION_TYPES or sqla.sqla_type(ctx, e) in sqla.SESSION_TYPES:
                return  # a session `with`: AFY202's
        kinds.append(kind)
    if "engine" not in kinds:
        return
    first = next(i.context_expr for i, k in zip(node.items, kinds) if k == "engine")
    call = ctx.segment(first)
    what = f"`with {call}` on an async engine needs `async with` (`AsyncConnection` has no `__enter__`)"
    if not isinstance(ctx.enclosing_function(node), ast.AsyncFunctionDef):
        yield RULE.at(ctx, node, None, what=what, why="; no fix: this is not in an `async def`", call=call,
                      end_node=first)
        return
    if None in kinds:
        yield RULE.at(ctx, node, None, what=what, why="; no fix: another item is not an async context manager",
                      call=call, end_node=first)
        return
    at = ctx.start(node)
    yield RULE.at(ctx, node, Fix([Edit(at, at, "async ")], Applicability.SAFE), what=what, why="", call=call,
                  end_node=first)
