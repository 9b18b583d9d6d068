"""SQLAlchemy / SQLModel facts: which expressions are sessions, engines, connections, session factories,
and what an engine's URL is, within a module and across the project.

Types are canonical class names (``sqlalchemy.orm.Session``, ``sqlalchemy.ext.asyncio.AsyncEngine``...).
They are inferred from the stdlib ``ast`` only, from:

* constructor and factory calls: ``Session(engine)``, ``create_engine(url)``, ``SessionLocal()`` where
  ``SessionLocal = sessionmaker(...)`` / ``async_sessionmaker(...)`` (``class_=`` honoured), in any module;
* annotations (``Session``, ``Optional[...]``, ``Annotated[Session, ...]`` and aliases of it, in any module);
* FastAPI dependencies: a parameter ``db = Depends(get_db)`` (or ``Annotated[X, Depends(get_db)]``) has the
  type of what ``get_db`` (any module) yields or returns; that beats the annotation, because it is what
  the parameter receives at run time;
* ``with X as x`` / ``async with X as x`` targets, ``engine.connect()`` / ``engine.begin()``,
  ``await session.connection()``;
* attributes assigned only sessions in the same module (``request.state.db = SessionLocal()``).
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from typing import Iterator

from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import dotted

SYNC_SESSION_TYPES = frozenset({"sqlalchemy.orm.Session", "sqlmodel.Session"})
ASYNC_SESSION_TYPES = frozenset(
    {"sqlalchemy.ext.asyncio.AsyncSession", "sqlmodel.ext.asyncio.session.AsyncSession"}
)
SESSION_TYPES = SYNC_SESSION_TYPES | ASYNC_SESSION_TYPES
#: session methods that return an awaitable on an AsyncSession (SQLModel's ``exec`` included), as
#: verified on SQLAlchemy 2.1 and SQLModel 0.0.50
SESSION_AWAITABLE = frozenset({
    "execute", "scalar", "scalars", "get", "get_one", "commit", "rollback", "flush", "refresh", "delete",
    "merge", "close", "connection", "stream", "stream_scalars", "run_sync", "reset", "invalidate",
    "delete_all", "merge_all", "exec", "aclose",
})

ENGINE = "sqlalchemy.Engine"
ASYNC_ENGINE = "sqlalchemy.ext.asyncio.AsyncEngine"
CONNECTION = "sqlalchemy.Connection"
ASYNC_CONNECTION = "sqlalchemy.ext.asyncio.AsyncConnection"
SESSIONMAKER = "sqlalchemy.orm.sessionmaker"
ASYNC_SESSIONMAKER = "sqlalchemy.ext.asyncio.async_sessionmaker"
SCOPED_SESSION = "sqlalchemy.orm.scoped_session"
ASYNC_SCOPED_SESSION = "sqlalchemy.ext.asyncio.async_scoped_session"
CREATE_ENGINE = "sqlalchemy.create_engine"
CREATE_ASYNC_ENGINE = "sqlalchemy.ext.asyncio.create_async_engine"
METADATA = "sqlalchemy.MetaData"
SA_SESSION = "sqlalchemy.orm.Session"
SA_ASYNC_SESSION = "sqlalchemy.ext.asyncio.AsyncSession"
SQLMODEL_SESSION = "sqlmodel.Session"
SQLMODEL_ASYNC_SESSION = "sqlmodel.ext.asyncio.session.AsyncSession"

#: the async counterpart of each sync session class: (module, name) to import
ASYNC_COUNTERPART = {
    SA_SESSION: ("sqlalchemy.ext.asyncio", "AsyncSession"),
    SQLMODEL_SESSION: ("sqlmodel.ext.asyncio.session", "AsyncSession"),
}

_NORMALIZE = {
    "sqlalchemy.ext.asyncio.session.AsyncSession": SA_ASYNC_SESSION,
    "sqlalchemy.ext.asyncio.engine.AsyncEngine": ASYNC_ENGINE,
    "sqlalchemy.ext.asyncio.engine.AsyncConnection": ASYNC_CONNECTION,
    "sqlalchemy.ext.asyncio.engine.create_async_engine": CREATE_ASYNC_ENGINE,
    "sqlalchemy.ext.asyncio.session.async_sessionmaker": ASYNC_SESSIONMAKER,
    "sqlalchemy.ext.asyncio.scoping.async_scoped_session": ASYNC_SCOPED_SESSION,
    "sqlalchemy.engine.Connection": CONNECTION,
    "sqlalchemy.engine.base.Connection": CONNECTION,
    "sqlalchemy.future.Engine": ENGINE,
    "sqlalchemy.future.Connection": CONNECTION,
    "sqlalchemy.future.create_engine": CREATE_ENGINE,
    "sqlalchemy.schema.MetaData": METADATA,
    "sqlalchemy.sql.schema.MetaData": METADATA,
    "sqlmodel.ext.asyncio.session.AsyncSession": SQLMODEL_ASYNC_SESSION,
    "sqlmodel.orm.session.Session": SQLMODEL_SESSION,
    "sqlmodel.MetaData": METADATA,
}

_SESSION_FACTORIES = frozenset({SESSIONMAKER, ASYNC_SESSIONMAKER, SCOPED_SESSION, ASYNC_SCOPED_SESSION})
_DEPENDS = frozenset({"fastapi.Depends", "fastapi.Security"})
_ITERATOR_TYPES = frozenset({
    "typing.Generator", "typing.Iterator", "typing.Iterable", "typing.AsyncGenerator", "typing.AsyncIterator",
    "typing.AsyncIterable", "collections.abc.Generator", "collections.abc.Iterator", "collections.abc.Iterable",
    "collections.abc.AsyncGenerator", "collections.abc.AsyncIterator", "collections.abc.AsyncIterable",
    "typing.ContextManager", "typing.AsyncContextManager", "contextlib.AbstractContextManager",
    "contextlib.AbstractAsyncContextManager",
})
_MAX_DEPTH = 12


def normalize(qualname: str | None) -> str | None:
    if qualname is None:
        return None
    return _NORMALIZE.get(qualname, qualname)


@dataclass(frozen=True)
class SqlaType:
    """A value's class; for session factories also the class of the sessions they make."""

    cls: str
    product: str | None = None


# -- the public, backwards compatible API -----------------------------------------------------
def value_type(ctx: FileContext, expr: ast.AST) -> str | None:
    """``ctx.type_of`` with ``with X as x`` targets unwrapped (a session's ``__enter__`` returns itself)."""
    t = ctx.type_of(expr)
    if t is not None and t.startswith("with:"):
        t = t[5:]
    return t


def is_session(ctx: FileContext, expr: ast.AST) -> bool:
    """Whether ``expr`` is known to be a (sync or async) ORM session."""
    return sqla_type(ctx, expr) in SESSION_TYPES or value_type(ctx, expr) in SESSION_TYPES


def sqla_type(ctx: FileContext, expr: ast.AST) -> str | None:
    """The canonical class of ``expr``'s value when it is a SQLAlchemy object we track (else any known class)."""
    t = resolve(ctx, expr)
    return t.cls if t is not None else None


def is_async_session(ctx: FileContext, expr: ast.AST) -> bool:
    return sqla_type(ctx, expr) in ASYNC_SESSION_TYPES


# -- inference ---------------------------------------------------------------------------------
def resolve(ctx: FileContext, expr: ast.AST, _depth: int = 0) -> SqlaType | None:
    if _depth > _MAX_DEPTH:
        return None
    d = _depth + 1
    if isinstance(expr, ast.Await):
        return _resolve_awaited(ctx, expr.value, d)
    if isinstance(expr, ast.Call):
        return _resolve_call(ctx, expr, d)
    if isinstance(expr, ast.Name):
        b = ctx.lookup(expr.id, expr)
        if b is None:
            return None
        if b.kind == "local":
            return _resolve_rebound(ctx, expr, d)
        return _resolve_binding(ctx, b, expr, d)
    if isinstance(expr, ast.Attribute):
        qn = ctx.qualname(expr)
        if qn is not None and not qn.startswith("builtins."):
            found = _module_binding(ctx, qn)
            if found is not None:
                octx, b = found
                return _resolve_binding(octx, b, None, d)
            return None
        return _resolve_dotted_attribute(ctx, expr, d)
    return None


def _plain(t: str | None) -> SqlaType | None:
    return SqlaType(t) if t else None


def _resolve_binding(ctx: FileContext, b, at: ast.AST | None, depth: int) -> SqlaType | None:
    kind = b.kind
    if kind == "param":
        dep = dependency_target(ctx, b.value, b.annotation)
        if dep is not None:
            t = provided_type(*dep, depth)
            if t is not None:
                return t
        if b.annotation is not None:
            return _plain(annotation_sqla_type(ctx, b.annotation))
        return None
    if kind == "assign":
        if b.annotation is not None:
            t = annotation_sqla_type(ctx, b.annotation)
            if t:
                return SqlaType(t)
        if b.value is not None:
            return resolve(ctx, b.value, depth)
        return None
    if kind == "with":
        if b.value is None:
            return None
        return _entered(ctx, b.value, depth)
    if kind == "import" and b.qualname:
        found = _module_binding(ctx, b.qualname)
        if found is not None:
            octx, ob = found
            return _resolve_binding(octx, ob, None, depth)
        return None  # an imported class or function is not an instance
    return None


def _resolve_rebound(ctx: FileContext, name: ast.Name, depth: int) -> SqlaType | None:
    """A name bound several times in one function (``with SessionLocal() as db: ...`` then
    ``with Session(engine) as db: ...``): its type when every binding gives the same one."""
    func = ctx.enclosing_function(name)
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    args = func.args
    if any(a.arg == name.id for a in args.posonlyargs + args.args + args.kwonlyargs
           + [x for x in (args.vararg, args.kwarg) if x]):
        return None
    found: set[SqlaType | None] = set()
    for node in ast.walk(func):
        if node is func:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name.id:
            return None
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name.id in node.names:
            return None
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == name.id for a in node.names):
            return None
        if isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name) \
                and node.optional_vars.id == name.id:
            found.add(_entered(ctx, node.context_expr, depth))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name.id for t in node.targets):
            found.add(resolve(ctx, node.value, depth) if len(node.targets) == 1 else None)
        elif isinstance(node, ast.Name) and node.id == name.id and isinstance(node.ctx, (ast.Store, ast.Del)):
            p = ctx.parent(node)
            if not (isinstance(p, ast.withitem) or (isinstance(p, ast.Assign) and node in p.targets)):
                return None  # a for target, a tuple target, a walrus, an augmented assignment...
        elif isinstance(node, ast.ExceptHandler) and node.name == name.id:
            return None
        if None in found or len(found) > 1:
            return None
    return found.pop() if len(found) == 1 else None


def _entered(ctx: FileContext, cm: ast.AST, depth: int) -> SqlaType | None:
    """The value bound by ``with cm as x``: sessions and connections return themselves."""
    t = resolve(ctx, cm, depth)
    if t is None:
        return None
    if t.cls in SESSION_TYPES or t.cls in (CONNECTION, ASYNC_CONNECTION):
        return SqlaType(t.cls)
    return None


def _resolve_call(ctx: FileContext, call: ast.Call, depth: int) -> SqlaType | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        recv = resolve(ctx, func.value, depth)
        if recv is not None:
            return _method_result(recv.cls, func.attr, awaited=False)
    if not isinstance(func, (ast.Name, ast.Attribute)):
        return None
    qn = normalize(ctx.qualname(func))
    if qn in (CREATE_ENGINE,):
        return SqlaType(ENGINE)
    if qn == CREATE_ASYNC_ENGINE:
        return SqlaType(ASYNC_ENGINE)
    if qn in SESSION_TYPES:
        return SqlaType(qn)
    if qn == METADATA:
        return SqlaType(METADATA)
    if qn in (SESSIONMAKER, ASYNC_SESSIONMAKER):
        product = factory_class(ctx, call)
        if product is None:
            return SqlaType(qn, None)
        if product in ASYNC_SESSION_TYPES:
            return SqlaType(ASYNC_SESSIONMAKER if qn == SESSIONMAKER else qn, product)
        return SqlaType(qn, product)
    if qn in (SCOPED_SESSION, ASYNC_SCOPED_SESSION):
        inner = call.args[0] if call.args else _keyword(call, "session_factory")
        it = resolve(ctx, inner, depth) if inner is not None else None
        default = SA_ASYNC_SESSION if qn == ASYNC_SCOPED_SESSION else SA_SESSION
        return SqlaType(qn, it.product if it is not None and it.product else default)
    # calling a session factory (SessionLocal()), or a project function (get_session())
    callee = resolve(ctx, func, depth)
    if callee is not None and callee.cls in _SESSION_FACTORIES and callee.product:
        return SqlaType(callee.product)
    fdef = function_def(ctx, func)
    if fdef is not None:
        fctx, fnode = fdef
        if isinstance(fnode, ast.FunctionDef) and not _is_generator(fnode):
            return provided_type(fctx, fnode, depth)
    return None


def _resolve_awaited(ctx: FileContext, value: ast.AST, depth: int) -> SqlaType | None:
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    if isinstance(func, ast.Attribute):
        recv = resolve(ctx, func.value, depth)
        if recv is not None:
            return _method_result(recv.cls, func.attr, awaited=True)
    fdef = function_def(ctx, func)
    if fdef is not None and isinstance(fdef[1], ast.AsyncFunctionDef) and not _is_generator(fdef[1]):
        return provided_type(fdef[0], fdef[1], depth)
    return None


def _method_result(recv: str, method: str, awaited: bool) -> SqlaType | None:
    if recv == ENGINE and method in ("connect", "begin"):
        return SqlaType(CONNECTION)
    if recv == ASYNC_ENGINE and method in ("connect", "begin"):
        return SqlaType(ASYNC_CONNECTION)
    if recv in SYNC_SESSION_TYPES and method == "connection":
        return SqlaType(CONNECTION)
    if recv in ASYNC_SESSION_TYPES and method == "connection" and awaited:
        return SqlaType(ASYNC_CONNECTION)
    if recv in SESSION_TYPES and method == "get_bind":
        return SqlaType(ENGINE)
    if recv == ASYNC_ENGINE and method == "execution_options":
        return SqlaType(ASYNC_ENGINE)
    if recv == ENGINE and method == "execution_options":
        return SqlaType(ENGINE)
    return None


def _resolve_dotted_attribute(ctx: FileContext, expr: ast.Attribute, depth: int) -> SqlaType | None:
    """``request.state.db`` / ``self.db``: the type every assignment of that spelling in the module gives."""
    text = dotted(expr)
    if text is None or "." not in text:
        return None
    memo = ctx.cache.setdefault("sqla.dotted", {})
    if text in memo:
        return memo[text]
    memo[text] = None  # recursion guard
    found: SqlaType | None = None
    ok = False
    for value in _dotted_assignments(ctx).get(text, ()):
        vt = resolve(ctx, value, depth) if value is not None else None
        if vt is None or (found is not None and vt != found):
            memo[text] = None
            return None
        found, ok = vt, True
    memo[text] = found if ok else None
    return memo[text]


def _dotted_assignments(ctx: FileContext) -> dict[str, list[ast.AST | None]]:
    """Every assignment to an attribute spelling of the module (``self.db = ...``), by spelling; one
    pass over the file, shared by all the spellings asked about (None: an augmented assignment)."""
    index = ctx.cache.get("sqla.dotted_assignments")
    if index is None:
        index = {}
        for node in ctx.nodes:
            c = node.__class__
            if c is ast.Assign:
                targets, value = node.targets, node.value  # type: ignore[attr-defined]
            elif c is ast.AnnAssign and node.value is not None:  # type: ignore[attr-defined]
                targets, value = [node.target], node.value  # type: ignore[attr-defined]
            elif c is ast.AugAssign:
                targets, value = [node.target], None  # type: ignore[attr-defined]
            else:
                continue
            for t in targets:
                if t.__class__ is ast.Attribute:
                    spelled = dotted(t)
                    if spelled is not None:
                        index.setdefault(spelled, []).append(value)
        ctx.cache["sqla.dotted_assignments"] = index
    return index


def factory_class(ctx: FileContext, call: ast.Call) -> str | None:
    """The session class a ``sessionmaker(...)``/``async_sessionmaker(...)`` call makes (None: unknown)."""
    qn = normalize(ctx.qualname(call.func)) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
    cls = _keyword(call, "class_")
    if cls is None:
        if any(k.arg is None for k in call.keywords):
            return None
        return SA_ASYNC_SESSION if qn == ASYNC_SESSIONMAKER else SA_SESSION
    return normalize(ctx.qualname(cls)) if isinstance(cls, (ast.Name, ast.Attribute)) else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def bind_argument(call: ast.Call) -> ast.AST | None:
    """The engine or connection a call binds to: its ``bind=`` keyword, else its first positional
    argument (``create_all(engine)``, ``Session(engine)``, ``sessionmaker(engine)``)."""
    bind = _keyword(call, "bind")
    if bind is None and call.args and not isinstance(call.args[0], ast.Starred):
        bind = call.args[0]
    return bind


# -- annotations -------------------------------------------------------------------------------
def annotation_sqla_type(ctx: FileContext, ann: ast.AST) -> str | None:
    t = normalize(ctx.annotation_type(ann))
    if t is not None and t.startswith("with:"):
        return None
    return t


def _iter_annotated_metadata(ctx: FileContext, ann: ast.AST, _depth: int = 0) -> Iterator[tuple[FileContext, ast.AST]]:
    """The metadata elements of ``Annotated[T, m1, m2]`` (following aliases into other modules)."""
    if _depth > 5 or ann is None:
        return
    if isinstance(ann, ast.Subscript):
        base = ctx.qualname(ann.value)
        if base == "typing.Annotated" and isinstance(ann.slice, ast.Tuple):
            for m in ann.slice.elts[1:]:
                yield ctx, m
        elif base == "typing.Optional":
            yield from _iter_annotated_metadata(ctx, ann.slice, _depth + 1)
        return
    if isinstance(ann, ast.Name):
        b = ctx.lookup(ann.id, ann)
        if b is None:
            return
        if b.kind == "assign" and b.value is not None:
            yield from _iter_annotated_metadata(ctx, b.value, _depth + 1)
        elif b.kind == "import" and b.qualname:
            found = _module_binding(ctx, b.qualname)
            if found is not None and found[1].kind == "assign" and found[1].value is not None:
                yield from _iter_annotated_metadata(found[0], found[1].value, _depth + 1)
    elif isinstance(ann, ast.Attribute):
        qn = ctx.qualname(ann)
        found = _module_binding(ctx, qn) if qn else None
        if found is not None and found[1].kind == "assign" and found[1].value is not None:
            yield from _iter_annotated_metadata(found[0], found[1].value, _depth + 1)


def depends_call(ctx: FileContext, expr: ast.AST | None) -> ast.Call | None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        if ctx.qualname(expr.func) in _DEPENDS:
            return expr
    return None


def depends_target(call: ast.Call) -> ast.AST | None:
    if call.args:
        return call.args[0]
    return _keyword(call, "dependency")


def dependency_target(ctx: FileContext, default: ast.AST | None, annotation: ast.AST | None
                      ) -> tuple[FileContext, ast.AST] | None:
    """The def a parameter's ``Depends(f)`` (default or ``Annotated`` metadata) refers to."""
    dep = depends_call(ctx, default)
    dctx = ctx
    if dep is None and annotation is not None:
        for mctx, m in _iter_annotated_metadata(ctx, annotation):
            dep = depends_call(mctx, m)
            if dep is not None:
                dctx = mctx
                break
    if dep is None:
        return None
    target = depends_target(dep)
    if target is None:
        return None
    return function_def(dctx, target)


def function_def(ctx: FileContext, expr: ast.AST) -> tuple[FileContext, ast.AST] | None:
    """The module-level ``def`` (this module or another project module) ``expr`` names."""
    if isinstance(expr, ast.Name):
        b = ctx.lookup(expr.id, expr)
        if b is not None and b.kind == "def" and isinstance(b.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return ctx, b.node
    if not isinstance(expr, (ast.Name, ast.Attribute)):
        return None
    qn = ctx.qualname(expr)
    if qn is None or qn.startswith("builtins.") or ctx.project is None:
        return None
    found = ctx.project.function_def(qn)
    if found is not None and isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return found
    return None


def bound_parameter(ctx: FileContext, call: ast.Call, arg: ast.AST,
                    found: tuple[FileContext, ast.AST] | None = None) -> tuple[FileContext, ast.AST, ast.arg] | None:
    """The project ``def`` ``call`` calls (``found``, else the module-level function it names), and its
    parameter that receives ``arg`` (an element of ``call.args`` or the value of one of
    ``call.keywords``); None when that is not known: a ``*args`` before it, a keyword the ``def`` does
    not name, a callee outside the project. A method's ``self`` or ``cls`` receives no argument."""
    found = found or function_def(ctx, call.func)
    if found is None:
        return None
    fctx, func = found
    a = func.args  # type: ignore[attr-defined]
    positional = a.posonlyargs + a.args
    if isinstance(fctx.parent(func), ast.ClassDef) and not any(
            fctx.qualname(d) == "builtins.staticmethod" for d in func.decorator_list):  # type: ignore[attr-defined]
        positional = positional[1:]
    for i, x in enumerate(call.args):
        if isinstance(x, ast.Starred):
            return None
        if x is arg:
            return (fctx, func, positional[i]) if i < len(positional) else None
    for k in call.keywords:
        if k.value is arg and k.arg is not None:
            param = next((p for p in a.args + a.kwonlyargs if p.arg == k.arg), None)
            return (fctx, func, param) if param is not None else None
    return None


def provided_type(ctx: FileContext, func: ast.AST, depth: int = 0) -> SqlaType | None:
    """What calling (or depending on) ``func`` gives: its yielded values for a generator, else its returned
    values; all must agree. Falls back on the return annotation (``Generator[Session, None, None]``)."""
    if depth > _MAX_DEPTH:
        return None
    memo = ctx.cache.setdefault("sqla.provided", {})
    key = id(func)
    if key in memo:
        return memo[key]
    memo[key] = None  # recursion guard
    gen = _is_generator(func)
    values = []
    for node in _own_nodes(func):
        if gen and isinstance(node, ast.Yield) and node.value is not None:
            values.append(node.value)
        elif not gen and isinstance(node, ast.Return) and node.value is not None:
            values.append(node.value)
    result: SqlaType | None = None
    types = {resolve(ctx, v, depth + 1) for v in values}
    if values and None not in types and len(types) == 1:
        result = types.pop()
    elif not values or types == {None}:
        returns = getattr(func, "returns", None)
        if returns is not None:
            inner = returns
            if isinstance(returns, ast.Subscript) and ctx.qualname(returns.value) in _ITERATOR_TYPES:
                inner = returns.slice.elts[0] if isinstance(returns.slice, ast.Tuple) else returns.slice
            result = _plain(annotation_sqla_type(ctx, inner))
    memo[key] = result
    return result


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    stack = list(func.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(child)


def _is_generator(func: ast.AST) -> bool:
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _own_nodes(func))


# -- other modules ---------------------------------------------------------------------------
def split_qualname(ctx: FileContext, qualname: str) -> tuple[FileContext, str, list[str]] | None:
    """``pkg.mod.name.attr`` → (context of pkg.mod, "name", ["attr"]), for a module of this project."""
    project = ctx.project
    if project is None:
        return None
    parts = qualname.split(".")
    for k in range(len(parts) - 1, 0, -1):
        mod = ".".join(parts[:k])
        if mod == ctx.module:
            return ctx, parts[k], parts[k + 1:]
        if mod in project.modules:
            octx = project.module_context(mod)
            if octx is None:
                return None
            return octx, parts[k], parts[k + 1:]
    return None


def _module_binding(ctx: FileContext, qualname: str):
    split = split_qualname(ctx, qualname)
    if split is None:
        return None
    octx, name, rest = split
    if rest:
        return None
    b = octx.module_scope.bindings.get(name)
    if b is None:
        return None
    return octx, b


def class_def(ctx: FileContext, qualname: str) -> tuple[FileContext, ast.ClassDef] | None:
    found = _module_binding(ctx, qualname)
    if found is None:
        return None
    octx, b = found
    if b.kind == "class" and isinstance(b.node, ast.ClassDef):
        return octx, b.node
    if b.kind == "import" and b.qualname and b.qualname != qualname:
        return class_def(octx, b.qualname)
    return None


def file_key(ctx: FileContext) -> str:
    return os.path.normcase(os.path.abspath(ctx.source.path))


def node_key(ctx: FileContext, node: ast.AST) -> tuple:
    return (file_key(ctx), node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]


# -- database URLs -----------------------------------------------------------------------------
#: sync URL scheme → async URL scheme (a mapping the tool applies); already-async schemes map to themselves
DRIVER_MAP = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "mysql": "mysql+aiomysql",
    "mysql+pymysql": "mysql+aiomysql",
}
#: the mapping for SQLAlchemy 1.4, which has no psycopg 3 dialect (``postgresql+psycopg`` is 2.0+): asyncpg
DRIVER_MAP_1_4 = {**DRIVER_MAP, "postgresql": "postgresql+asyncpg", "postgresql+psycopg2": "postgresql+asyncpg"}
#: libpq connection parameters asyncpg rejects in a URL's query (``TypeError: connect() got an unexpected
#: keyword argument 'sslmode'``)
LIBPQ_QUERY_PARAMS = frozenset({"sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "connect_timeout",
                                "options", "application_name", "target_session_attrs", "keepalives",
                                "keepalives_idle", "keepalives_interval", "keepalives_count", "client_encoding",
                                "gssencmode", "sslpassword", "service", "passfile", "channel_binding"})


def driver_map(ctx: FileContext) -> dict[str, str]:
    """The sync → async driver mapping for the SQLAlchemy version the project targets."""
    from asyncify_lint.helpers import versions

    return DRIVER_MAP_1_4 if versions.of(ctx).sqlalchemy_1x else DRIVER_MAP


ASYNC_SCHEMES = frozenset({
    "sqlite+aiosqlite", "postgresql+psycopg", "postgresql+psycopg_async", "postgresql+asyncpg",
    "mysql+aiomysql", "mysql+asyncmy", "mariadb+aiomysql", "mariadb+asyncmy", "mssql+aioodbc",
    "oracle+oracledb", "oracle+oracledb_async",
})
#: async URL scheme → the package that provides its driver (what a migrated app must install)
DRIVER_PACKAGES = {
    "sqlite+aiosqlite": "aiosqlite",
    "postgresql+psycopg": "psycopg",
    "postgresql+psycopg_async": "psycopg",
    "postgresql+asyncpg": "asyncpg",
    "mysql+aiomysql": "aiomysql",
    "mariadb+aiomysql": "aiomysql",
    "mysql+asyncmy": "asyncmy",
    "mariadb+asyncmy": "asyncmy",
    "mssql+aioodbc": "aioodbc",
    "oracle+oracledb": "oracledb",
    "oracle+oracledb_async": "oracledb",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_]*(?:\+[A-Za-z0-9_]+)?)://")
_ENV_GETTERS = frozenset({"os.getenv", "os.environ.get"})
_SETTINGS_BASES = ("BaseSettings",)


@dataclass
class UrlInfo:
    """Where a ``create_engine`` URL comes from."""

    literal_ctx: FileContext | None = None  # the string literal (or f-string) that holds the scheme
    literal: ast.AST | None = None
    scheme: str | None = None
    env: list[str] = field(default_factory=list)  # environment variables (or settings fields) that override it
    links: list[tuple[FileContext, str]] = field(default_factory=list)  # names the value passes through
    uses: list[tuple] = field(default_factory=list)  # node keys of the references the chain goes through
    problem: str | None = None  # why the URL is not visible
    drivers: dict[str, str] = field(default_factory=lambda: DRIVER_MAP)  # the mapping for the target version

    @property
    def target(self) -> str | None:
        if self.scheme is None:
            return None
        if self.scheme in ASYNC_SCHEMES:
            return self.scheme
        return self.drivers.get(self.scheme)


def engine_url_arg(call: ast.Call) -> ast.AST | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return _keyword(call, "url")


def resolve_url(ctx: FileContext, expr: ast.AST) -> UrlInfo:
    info = UrlInfo(drivers=driver_map(ctx))
    _url(ctx, expr, info, 0)
    return info


def _literal_scheme(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        text = node.values[0].value
    else:
        return None
    m = _SCHEME.match(text)
    return m.group(1) if m else None


def _url(ctx: FileContext, expr: ast.AST, info: UrlInfo, depth: int) -> None:
    if depth > _MAX_DEPTH:
        info.problem = "the URL is built too indirectly"
        return
    if isinstance(expr, (ast.Constant, ast.JoinedStr)):
        scheme = _literal_scheme(expr)
        if scheme is None:
            info.problem = "the URL's driver is not written literally at its start"
            return
        info.literal_ctx, info.literal, info.scheme = ctx, expr, scheme
        return
    if isinstance(expr, ast.Name):
        info.uses.append(node_key(ctx, expr))
        b = ctx.lookup(expr.id, expr)
        if b is None:
            info.problem = f"`{expr.id}` is not defined"
            return
        _url_binding(ctx, b, expr.id, info, depth)
        return
    if isinstance(expr, ast.Attribute):
        info.uses.append(node_key(ctx, expr))
        qn = ctx.qualname(expr)
        if qn is not None and not qn.startswith("builtins."):
            found = _module_binding(ctx, qn)
            if found is not None:
                _url_binding(found[0], found[1], expr.attr, info, depth)
                return
        owner = ctx.type_of(expr.value)
        cd = class_def(ctx, owner) if owner else None
        if cd is None:
            info.problem = f"`{ctx.segment(expr)}` is not visible in the project"
            return
        cctx, cls = cd
        default = _class_attr_default(cls, expr.attr)
        if _is_settings_class(cctx, cls):
            info.env.append(expr.attr)
        info.links.append((cctx, expr.attr))
        if default is None:
            info.problem = f"`{ctx.segment(expr)}` has no default value in code"
            return
        _url(cctx, default, info, depth + 1)
        return
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        qn = ctx.qualname(expr.func)
        if qn in _ENV_GETTERS and expr.args and isinstance(expr.args[0], ast.Constant):
            info.env.append(str(expr.args[0].value))
            default = expr.args[1] if len(expr.args) > 1 else _keyword(expr, "default")
            if default is None:
                info.problem = f"the URL comes from the environment variable `{expr.args[0].value}`"
                return
            _url(ctx, default, info, depth + 1)
            return
    if isinstance(expr, ast.Subscript) and ctx.qualname(expr.value) == "os.environ":
        name = expr.slice.value if isinstance(expr.slice, ast.Constant) else "?"
        info.env.append(str(name))
        info.problem = f"the URL comes from the environment variable `{name}`"
        return
    info.problem = f"the URL `{ctx.segment(expr)}` is computed at run time"


def _url_binding(ctx: FileContext, b, name: str, info: UrlInfo, depth: int) -> None:
    if b.kind == "assign" and b.value is not None:
        info.links.append((ctx, name))
        _url(ctx, b.value, info, depth + 1)
    elif b.kind == "import" and b.qualname:
        found = _module_binding(ctx, b.qualname)
        if found is None:
            info.problem = f"`{name}` is not visible in the project"
            return
        _url_binding(found[0], found[1], b.qualname.rsplit(".", 1)[-1], info, depth + 1)
    else:
        info.problem = f"`{name}` is not a constant"


def _class_attr_default(cls: ast.ClassDef, attr: str) -> ast.AST | None:
    for stmt in cls.body:
        value = None
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == attr:
            value = stmt.value
        elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in stmt.targets):
            value = stmt.value
        else:
            continue
        if isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)):
            if (dotted(value.func) or "").split(".")[-1] == "Field":
                return value.args[0] if value.args else _keyword(value, "default")
        return value
    return None


def _is_settings_class(ctx: FileContext, cls: ast.ClassDef, depth: int = 0) -> bool:
    for base in cls.bases:
        qn = ctx.qualname(base) or ""
        if qn.split(".")[-1] in _SETTINGS_BASES:
            return True
        if depth < 5 and qn:
            cd = class_def(ctx, qn)
            if cd is not None and _is_settings_class(cd[0], cd[1], depth + 1):
                return True
    return False


def scheme_span(ctx: FileContext, literal: ast.AST, scheme: str) -> tuple[int, int] | None:
    """Character span of ``scheme`` inside the literal's source text (None when it is not written plainly)."""
    start = ctx.start(literal)
    text = ctx.source.text[start:ctx.end(literal)]
    m = re.match(r"[rRbBuUfF]{0,2}(\"\"\"|'''|\"|')", text)
    if not m:
        return None
    at = m.end()
    if text[at:at + len(scheme)] != scheme or text[at + len(scheme):at + len(scheme) + 3] != "://":
        return None
    return start + at, start + at + len(scheme)


def _engine_calls(project) -> Iterator[tuple[FileContext, ast.Call]]:
    """Every ``create_engine(...)`` call of the project's files (tests included), with its context."""
    for octx in project.contexts_containing([b"create_engine"]):
        for node in ast.walk(octx.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                if normalize(octx.qualname(node.func)) == CREATE_ENGINE:
                    yield octx, node


def _project_url_fact(project) -> dict:
    """Every create_engine call of the project → (its file, its UrlInfo); and the references URLs go through."""
    allowed: set[tuple] = set()
    infos: list[tuple[str, str, UrlInfo]] = []
    for octx, node in _engine_calls(project):
        arg = engine_url_arg(node)
        if arg is not None:
            info = resolve_url(octx, arg)
            infos.append((file_key(octx), octx.display_path, info))
            allowed.update(info.uses)
    return {"allowed": allowed, "infos": infos}


def project_engine_urls(ctx: FileContext) -> list[tuple[str, str, UrlInfo]]:
    """(file key, display path, UrlInfo) of every create_engine call in the project."""
    if ctx.project is None:
        return []
    return ctx.project.fact("sqla.engine_urls", _project_url_fact)["infos"]  # type: ignore[index]


def foreign_uses(ctx: FileContext, info: UrlInfo) -> str | None:
    """Where a name the URL passes through (a constant, a setting, an environment variable) is also used for
    something other than a ``create_engine`` URL, in any project file (tests included); None when nowhere."""
    if not info.links and not info.env:
        return None
    if ctx.project is None:
        allowed = set(info.uses)
        contexts = [ctx]
    else:
        fact = ctx.project.fact("sqla.engine_urls", _project_url_fact)
        allowed = fact["allowed"] | set(info.uses)  # type: ignore[index]
        needles = [n.encode() for _, n in info.links] + [e.encode() for e in info.env]
        contexts = list(ctx.project.contexts_containing(needles))
    names = {n for _, n in info.links}
    envs = set(info.env)
    for octx in contexts:
        for node in ast.walk(octx.tree):
            hit = None
            if isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
                hit = node.id
            elif isinstance(node, ast.Attribute) and node.attr in names and isinstance(node.ctx, ast.Load):
                hit = node.attr
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in envs
                  and isinstance(octx.parent(node), (ast.Call, ast.Subscript))):
                p = octx.parent(node)
                reads_env = (isinstance(p, ast.Call) and octx.qualname(p.func) in _ENV_GETTERS) or (
                    isinstance(p, ast.Subscript) and octx.qualname(p.value) == "os.environ")
                if reads_env and not _inside_chain(octx, p, allowed, info):
                    verb = "set" if isinstance(p, ast.Subscript) and not isinstance(p.ctx, ast.Load) else "read"
                    return f"the environment variable `{node.value}` is also {verb} at {octx.display_path}:{node.lineno}"
                continue
            if hit is not None and node_key(octx, node) not in allowed:
                return f"`{hit}` is also used at {octx.display_path}:{node.lineno}"
    return None


def _inside_chain(ctx: FileContext, env_call: ast.AST, allowed: set, info: UrlInfo) -> bool:
    """An environment read that is itself a link of a URL chain (``X = os.getenv("X", ...)``)."""
    p = ctx.parent(env_call)
    if isinstance(p, (ast.Assign, ast.AnnAssign)):
        targets = p.targets if isinstance(p, ast.Assign) else [p.target]
        names = {n for _, n in info.links}
        return any(isinstance(t, ast.Name) and t.id in names for t in targets)
    if isinstance(p, ast.Call):  # create_engine(os.getenv(...))
        return normalize(ctx.qualname(p.func)) == CREATE_ENGINE if isinstance(p.func, (ast.Name, ast.Attribute)) else False
    return False


# -- engines that are, or will become, async -------------------------------------------------
def engine_kind(ctx: FileContext, expr: ast.AST) -> str | None:
    """"async" for an AsyncEngine, "sync" for an Engine made by create_engine (AFY201 makes it async)."""
    t = sqla_type(ctx, expr)
    if t == ASYNC_ENGINE:
        return "async"
    if t == ENGINE:
        return "sync"
    return None


def fresh_name(ctx: FileContext, scope_node: ast.AST | None, base: str) -> str:
    """A name not bound in ``scope_node`` (a function; the module when None) nor in the module."""
    taken = set(ctx.module_scope.bindings)
    if scope_node is not None:
        taken |= set(ctx.function_scope(scope_node).bindings)
        for n in ast.walk(scope_node):
            if isinstance(n, ast.Name):
                taken.add(n.id)
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}{i}"
    return name


def engine_creation(ctx: FileContext, expr: ast.AST, _depth: int = 0) -> tuple[FileContext, ast.Call] | None:
    """The ``create_engine(...)``/``create_async_engine(...)`` call an engine expression comes from."""
    if _depth > _MAX_DEPTH:
        return None
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        if normalize(ctx.qualname(expr.func)) in (CREATE_ENGINE, CREATE_ASYNC_ENGINE):
            return ctx, expr
        return None
    binding = None
    if isinstance(expr, ast.Name):
        b = ctx.lookup(expr.id, expr)
        binding = (ctx, b) if b is not None else None
    elif isinstance(expr, ast.Attribute):
        qn = ctx.qualname(expr)
        binding = _module_binding(ctx, qn) if qn else None
    while binding is not None and binding[1].kind == "import" and binding[1].qualname and _depth < _MAX_DEPTH:
        binding = _module_binding(binding[0], binding[1].qualname)
        _depth += 1
    if binding is None:
        return None
    bctx, b = binding
    if b.kind == "assign" and b.value is not None:
        return engine_creation(bctx, b.value, _depth + 1)
    return None


_OK_POOLS = ("StaticPool", "NullPool", "AsyncAdaptedQueuePool", "FallbackAsyncAdaptedQueuePool")
_BAD_KWARGS = ("creator", "module", "pool", "strategy")


def engine_kwargs_problem(ctx: FileContext, call: ast.Call) -> str | None:
    """Why ``create_engine``'s keyword arguments cannot be given to ``create_async_engine`` (None: they can)."""
    for k in call.keywords:
        if k.arg is None:
            return "its keyword arguments passed with `**` cannot be checked"
        if k.arg in _BAD_KWARGS:
            return f"`{k.arg}=` makes sync DBAPI connections"
        if k.arg == "poolclass":
            qn = ctx.qualname(k.value) if isinstance(k.value, (ast.Name, ast.Attribute)) else None
            if not qn or not qn.startswith("sqlalchemy") or qn.rsplit(".", 1)[-1] not in _OK_POOLS:
                return f"asyncio engines reject `poolclass={ctx.segment(k.value)}` (use `AsyncAdaptedQueuePool`)"
    return None


def engine_blocker(ctx: FileContext, call: ast.Call, info: UrlInfo | None = None) -> str | None:
    """Why AFY201 cannot turn this ``create_engine(...)`` into an async engine (None: it can, by
    rewriting the URL literal, here or in another module, or by mapping the driver at run time)."""
    url = engine_url_arg(call)
    if url is None:
        return "its URL argument is not visible"
    if info is None:
        info = resolve_url(ctx, url)
    if info.scheme is not None and info.target is None:
        return f"the driver `{info.scheme}` has no async counterpart this tool maps; choose an async driver by hand"
    rejected = asyncpg_rejected_params(info)
    if rejected:
        return (f"its URL passes libpq parameters ({rejected}) that `{info.target}` rejects; on SQLAlchemy 1.4 "
                f"(no psycopg 3 dialect) move them to `connect_args` by hand")
    return engine_kwargs_problem(ctx, call)


def asyncpg_rejected_params(info: UrlInfo) -> str | None:
    """The libpq query parameters of a literal URL that would be handed to asyncpg (the 1.4 mapping)."""
    if info.target != "postgresql+asyncpg" or info.scheme == info.target or info.literal is None:
        return None
    parts = []
    if isinstance(info.literal, ast.Constant) and isinstance(info.literal.value, str):
        parts = [info.literal.value]
    elif isinstance(info.literal, ast.JoinedStr):
        parts = [v.value for v in info.literal.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    text = "".join(parts)
    if "?" not in text:
        return None
    keys = re.findall(r"[?&]([A-Za-z_]+)=", text[text.index("?"):])
    bad = [k for k in dict.fromkeys(keys) if k in LIBPQ_QUERY_PARAMS]
    return ", ".join(f"`{k}`" for k in bad) or None


def static_url_rewrite(ctx: FileContext, info: UrlInfo) -> str | None:
    """Why the URL's driver cannot be rewritten in its string literal (None: it can, or needs no change);
    the engine then maps the driver at run time instead (AFY201)."""
    if info.scheme is None:
        return info.problem or "the URL is not visible in code"
    if info.target == info.scheme:
        return None
    foreign = foreign_uses(ctx, info)
    if foreign:
        return f"its URL `{info.scheme}://...` is shared: {foreign}"
    assert info.literal is not None and info.literal_ctx is not None
    if scheme_span(info.literal_ctx, info.literal, info.scheme) is None:
        return "the URL's driver is not written plainly in its string literal"
    return None


def _declined_engine_fact(project) -> tuple[str, int, str] | None:
    """The first ``create_engine(...)`` of the app (tests and migration scripts aside) that AFY201
    cannot convert: (display path, line, why)."""
    for octx, node in _engine_calls(project):
        if not octx.is_test:
            why = engine_blocker(octx, node)
            if why:
                return (octx.display_path, node.lineno, why)
    return None


def declined_engine(ctx: FileContext) -> tuple[str, int, str] | None:
    """In a project being migrated, the app's engine AFY201 cannot convert, if any: (display path, line,
    why). The migration converts the engines, session factories and session I/O all together or not at
    all: while one engine stays sync, so do they (AsyncSessions on a sync engine, or a sync session
    awaited, would break at run time). In an async project, None: its sync engines are kept on purpose
    where the migration does not reach (project/state.py)."""
    return declined_engine_in(ctx.project)


def declined_engine_in(project) -> tuple[str, int, str] | None:
    """``declined_engine`` of a project (None: no project)."""
    if project is None or project.state.is_async:
        return None
    return project.fact("sqla.declined_engine", _declined_engine_fact) or None


def declined_note(found: tuple[str, int, str]) -> str:
    """``the engine at app/db.py:7 stays sync (why)``, for the messages of what waits for it."""
    return f"the engine at {found[0]}:{found[1]} stays sync ({found[2]})"


def engine_becomes_async(ctx: FileContext, expr: ast.AST) -> str | None:
    """"async" for an AsyncEngine; "sync" for a create_engine engine that AFY201 converts (so it will
    become async); "stays sync" for one it cannot convert; None when unknown."""
    kind = engine_kind(ctx, expr)
    if kind != "sync":
        return kind
    if declined_engine(ctx):
        return "stays sync"
    made = engine_creation(ctx, expr)
    if made is None:
        return None
    mctx, call = made
    memo = mctx.cache.setdefault("sqla.engine_blocker", {})
    if id(call) not in memo:
        memo[id(call)] = engine_blocker(mctx, call) or kept_sync_engine(mctx, call)
    return "stays sync" if memo[id(call)] else "sync"


def kept_sync_engine(ctx: FileContext, call: ast.Call) -> bool:
    """A sync engine that a project which is async already keeps on purpose: AFY201 does not report it
    (project/state.py), so it stays sync."""
    project = ctx.project
    return project is not None and project.state.is_async and not project.reached(ctx, "AFY201", call.lineno,
                                                                                   call.col_offset)


DDL_METHODS = frozenset({"create_all", "drop_all"})


def ddl_site(ctx: FileContext, call: ast.Call):
    """(bind expression, engine kind) of a ``<metadata>.create_all/drop_all(...)`` call, else None."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in DDL_METHODS:
        return None
    recv = func.value
    is_metadata = (isinstance(recv, ast.Attribute) and recv.attr == "metadata") or sqla_type(
        ctx, recv) == METADATA
    if not is_metadata:
        return None
    bind = bind_argument(call)
    if bind is None:
        return None
    kind = engine_becomes_async(ctx, bind)
    if kind not in ("async", "sync"):
        return None
    return bind, kind
