"""
## What it does
Checks for the sync session API: session factories (`sessionmaker(...)`, `scoped_session(...)`),
sessions made directly (`Session(engine)`, SQLModel's `Session(engine)`), `Session` annotations
(parameters, return types, `Annotated[Session, Depends(...)]` and aliases of it), and `with` statements
over a session or its transaction (`with SessionLocal() as db`, `with Session(engine) as s`,
`with db.begin()`).

## Why is this bad?
A `Session` does blocking I/O on the event loop. Its async counterpart, `AsyncSession`, is made by
`async_sessionmaker` (or `AsyncSession(engine)`), awaits its I/O, and is an *async* context manager:
`with` on it raises `AttributeError: __enter__`, so it needs `async with`.

## Example
```python
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)


async def create_user(db: Session, name: str):
    with db.begin():
        db.add(User(name=name))
```

## Use instead
```python
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SessionLocal = async_sessionmaker(autocommit=False, autoflush=False, bind=engine)


async def create_user(db: AsyncSession, name: str):
    async with db.begin():
        db.add(User(name=name))
```

SQLModel's `Session` becomes `sqlmodel.ext.asyncio.session.AsyncSession` (which keeps `exec()`); its
`create_engine` is AFY201's.

## Fix safety
The fixes are unsafe: they change what the session *is*, so every call on it that does I/O must then be
awaited (AFY203) and every function using it must be `async def`. Sync code that keeps using the
factory (a seeding script, a test that commits through `SessionLocal()`) breaks; a test that does so
without awaiting fails *silently* (the coroutine is never run). The keyword arguments of `sessionmaker`
are kept (`async_sessionmaker` accepts `autocommit=False`, `autoflush`, `bind`, `expire_on_commit`);
`class_=Session` becomes `class_=AsyncSession`.

SQLAlchemy 1.4 has no `async_sessionmaker` (it is new in 2.0): for a project that targets 1.4 (read
from its lock files, declared dependencies or code, or set with the configuration key
`target-sqlalchemy = "1.4"`), `sessionmaker(...)` stays and makes
`AsyncSession`s: `sessionmaker(autocommit=False, autoflush=False, bind=engine, class_=AsyncSession)`,
with `AsyncSession` imported from `sqlalchemy.ext.asyncio` (SQLModel's from
`sqlmodel.ext.asyncio.session`).

There is no fix:
* for a `with` statement or a `Session(...)` call in a sync `def` or at module level: the function
  must become `async def` first (AFY301/AFY302 for endpoints and dependencies), then this rule fixes it;
* for a `with` that also enters something that is not async;
* for `scoped_session` (thread-local scoping becomes `async_scoped_session(..., scopefunc=
  asyncio.current_task)` with an awaited `remove()`: a decision to make by hand);
* for `sessionmaker(class_=MySession)` with a custom session class, or `**kwargs`;
* for an annotation that is itself the dependency (`db: Session = Depends()`), since changing it would
  change what FastAPI calls. Annotations in class bodies (pydantic or dataclass fields) and string
  annotations are left alone.
"""

import ast
import re

from asyncify_lint.diagnostics import Applicability, Edit, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import parameters
from asyncify_lint.helpers import sqla, versions
from asyncify_lint.project.callgraph import sync_bound_function
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY202",
        name="sync-session",
        message="sync session: {what}{why}",
        fix_title="{title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=210,
    )
)

# while an engine of the app stays sync, so do its sessions (AFY201 says why, once)
RULE.prefilter = lambda ctx: not sqla.declined_engine(ctx)

_BEGIN = ("begin", "begin_nested")


def _counterpart(ctx: FileContext, session_cls: str):
    module, name = sqla.ASYNC_COUNTERPART[session_cls]
    return ctx.import_ref(module, name)


def _context_where(ctx: FileContext, node: ast.AST) -> str | None:
    """None when ``node`` is in the body of an ``async def``; else why a fix must wait."""
    f = ctx.enclosing_function(node)
    if isinstance(f, ast.AsyncFunctionDef):
        return None
    if isinstance(f, ast.FunctionDef):
        return f"`{f.name}` is a sync `def`: it must become `async def` first"
    if isinstance(f, ast.Lambda):
        return "it is in a lambda"
    return "it runs at module or class level, where nothing can be awaited"


def _bind_blocker(ctx: FileContext, call: ast.Call) -> str | None:
    """A factory or session bound to an engine that AFY201 cannot convert must stay sync."""
    bind = sqla.bind_argument(call)
    if bind is not None and sqla.engine_becomes_async(ctx, bind) == "stays sync":
        return f"`{ctx.segment(bind)}` stays a sync engine (see AFY201), and an `AsyncSession` needs an `AsyncEngine`"
    return None


# -- factories and constructors ---------------------------------------------------------------
_CALL_TARGETS = frozenset({sqla.SESSIONMAKER, sqla.SCOPED_SESSION}) | sqla.SYNC_SESSION_TYPES

@RULE.on(ast.Call)
def check_call(ctx: FileContext, call: ast.Call):
    func = call.func
    if not ctx.could_name(func, _CALL_TARGETS, sqla.normalize):
        return
    qn = sqla.normalize(ctx.qualname(func))
    if qn == sqla.SESSIONMAKER:
        yield from _sessionmaker(ctx, call)
    elif qn == sqla.SCOPED_SESSION:
        yield RULE.at(ctx, call, None, what="`scoped_session(...)` scopes sessions per thread",
                      why="; no fix: use `async_scoped_session(factory, scopefunc=asyncio.current_task)` and "
                          "`await Scoped.remove()` by hand", title="")
    elif qn in sqla.SYNC_SESSION_TYPES:
        p = ctx.parent(call)
        if isinstance(p, ast.withitem) and p.context_expr is call:
            return  # the `with` statement's diagnostic covers it
        name = ctx.segment(func)
        where = _context_where(ctx, call) or _bind_blocker(ctx, call)
        if where:
            yield RULE.at(ctx, call, None, what=f"`{name}(...)` makes a sync session", why=f"; no fix: {where}",
                          title="")
            return
        ref, imp = _counterpart(ctx, qn)
        fix = Fix([ctx.replace(func, ref)], Applicability.UNSAFE, [imp] if imp else [])
        yield RULE.at(ctx, call, fix, what=f"`{name}(...)` makes a sync session", why="",
                      title=f"Use `{ref}(...)`")


def _sessionmaker(ctx: FileContext, call: ast.Call):
    name = ctx.segment(call.func)
    what = f"`{name}(...)` makes sync sessions"
    product = sqla.factory_class(ctx, call)
    if product in sqla.ASYNC_SESSION_TYPES:
        return  # sessionmaker(class_=AsyncSession): already async (the SQLAlchemy 1.4 form)
    if product not in sqla.ASYNC_COUNTERPART:
        cls = sqla._keyword(call, "class_")
        why = (f"; no fix: the custom session class `{ctx.segment(cls)}` needs an `AsyncSession` counterpart"
               if cls is not None else "; no fix: its keyword arguments passed with `**` cannot be checked")
        yield RULE.at(ctx, call, None, what=what, why=why, title="")
        return
    blocker = _bind_blocker(ctx, call)
    if blocker:
        if ctx.project is not None and ctx.project.state.is_async:
            return  # sessions of a sync engine that an async project keeps (project/state.py)
        yield RULE.at(ctx, call, None, what=what, why=f"; no fix: {blocker}", title="")
        return
    cls = sqla._keyword(call, "class_")
    if versions.of(ctx).sqlalchemy_1x:
        # no async_sessionmaker before 2.0: sessionmaker(..., class_=AsyncSession) makes AsyncSessions
        cref, cimp = _counterpart(ctx, product)
        if cls is not None:
            edits = [ctx.replace(cls, cref)]
        else:
            edits = [_add_keyword(ctx, call, f"class_={cref}")]
        yield RULE.at(ctx, call, Fix(edits, Applicability.UNSAFE, [cimp] if cimp else []), what=what, why="",
                      title=f"Make `{cref}` sessions: `class_={cref}` (SQLAlchemy 1.4 has no `async_sessionmaker`)")
        return
    ref, imp = ctx.import_ref("sqlalchemy.ext.asyncio", "async_sessionmaker")
    edits = [ctx.replace(call.func, ref)]
    imports = [imp] if imp else []
    if cls is not None:
        cref, cimp = _counterpart(ctx, product)
        edits.append(ctx.replace(cls, cref))
        if cimp:
            imports.append(cimp)
    yield RULE.at(ctx, call, Fix(edits, Applicability.UNSAFE, imports), what=what, why="",
                  title=f"Use `{ref}(...)`")


def _add_keyword(ctx: FileContext, call: ast.Call, text: str) -> Edit:
    """An edit appending the keyword argument ``text`` to ``call`` (after a trailing comma if any)."""
    last = max(list(call.args) + [k.value for k in call.keywords], key=ctx.end, default=None)
    if last is None:
        at = ctx.end(call) - 1  # just before the closing parenthesis
        return Edit(at, at, text)
    at = ctx.end(last)
    src = ctx.source.text
    m = re.match(r",[ \t]*(?:#[^\r\n]*)?(?=\r?\n)", src[at:ctx.end(call)])
    if m:  # one argument a line, with a trailing comma: one more line, indented alike
        line_start = src.rfind("\n", 0, at) + 1
        indent = re.match(r"[ \t]*", src[line_start:]).group(0)  # type: ignore[union-attr]
        end = at + m.end()
        return Edit(end, end, f"{ctx.source.newline}{indent}{text},")
    return Edit(at, at, f", {text}")


# -- with statements ------------------------------------------------------------------------
def _item_kind(ctx: FileContext, expr: ast.AST) -> str | None:
    """"session" / "begin" for session items, "async" for other async-ready items, None otherwise."""
    t = sqla.sqla_type(ctx, expr)
    if t in sqla.SESSION_TYPES:
        return "session"
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        recv = sqla.sqla_type(ctx, expr.func.value)
        if expr.func.attr in _BEGIN and recv in sqla.SESSION_TYPES:
            return "begin"
        if recv == sqla.ASYNC_ENGINE and expr.func.attr in ("connect", "begin"):
            return "async"
        if recv == sqla.ASYNC_CONNECTION and expr.func.attr in _BEGIN:
            return "async"
    return None


@RULE.on(ast.With)
def check_with(ctx: FileContext, node: ast.With):
    kinds = [_item_kind(ctx, item.context_expr) for item in node.items]
    if not any(k in ("session", "begin") for k in kinds):
        return
    first = next(item.context_expr for item, k in zip(node.items, kinds) if k in ("session", "begin"))
    what = f"`with {ctx.segment(first)}` enters a session{' transaction' if _item_kind(ctx, first) == 'begin' else ''}"
    where = _context_where(ctx, node)
    if where:
        yield RULE.at(ctx, node, None, what=what, why=f"; no fix: {where}", title="", end_node=first)
        return
    for item in node.items:
        e = item.context_expr
        blocker = _bind_blocker(ctx, e) if isinstance(e, ast.Call) else None
        if blocker:
            yield RULE.at(ctx, node, None, what=what, why=f"; no fix: {blocker}", title="", end_node=first)
            return
    if None in kinds:
        bad = next(item.context_expr for item, k in zip(node.items, kinds) if k is None)
        yield RULE.at(ctx, node, None, what=what, why=f"; no fix: `{ctx.segment(bad)}` is not an async context manager",
                      title="", end_node=first)
        return
    at = ctx.start(node)
    edits = [Edit(at, at, "async ")]
    imports = []
    for item in node.items:
        e = item.context_expr
        if isinstance(e, ast.Call) and isinstance(e.func, (ast.Name, ast.Attribute)):
            qn = sqla.normalize(ctx.qualname(e.func))
            if qn in sqla.SYNC_SESSION_TYPES:
                ref, imp = _counterpart(ctx, qn)
                edits.append(ctx.replace(e.func, ref))
                if imp:
                    imports.append(imp)
    yield RULE.at(ctx, node, Fix(edits, Applicability.UNSAFE, imports), what=what, why="",
                  title="Use `async with`", end_node=first)


# -- annotations ----------------------------------------------------------------------------
def _session_refs(ctx: FileContext, ann: ast.AST):
    for n in ast.walk(ann):
        if isinstance(n, (ast.Name, ast.Attribute)) and not isinstance(ctx.parent(n), ast.Attribute):
            qn = sqla.normalize(ctx.qualname(n))
            if qn in sqla.SYNC_SESSION_TYPES:
                yield n, qn


def _annotation_is_dependency(ctx: FileContext, default: ast.AST | None, ann: ast.AST) -> bool:
    """``db: Session = Depends()`` / ``Annotated[Session, Depends()]``: FastAPI calls the annotation."""
    dep = sqla.depends_call(ctx, default)
    if dep is not None and sqla.depends_target(dep) is None:
        return True
    for mctx, m in sqla._iter_annotated_metadata(ctx, ann):
        dep = sqla.depends_call(mctx, m)
        if dep is not None and sqla.depends_target(dep) is None:
            return True
    return False


def _annotation_diags(ctx: FileContext, ann: ast.AST, where: str, blocked: str | None = None):
    for ref_node, qn in _session_refs(ctx, ann):
        name = ctx.segment(ref_node)
        what = f"`{name}` annotation ({where})"
        if blocked:
            yield RULE.at(ctx, ref_node, None, what=what, why=f"; no fix: {blocked}", title="")
            continue
        ref, imp = _counterpart(ctx, qn)
        fix = Fix([ctx.replace(ref_node, ref)], Applicability.UNSAFE, [imp] if imp else [])
        yield RULE.at(ctx, ref_node, fix, what=what, why="", title=f"Annotate with `{ref}`")


def _param_defaults(func: ast.AST) -> dict[int, ast.AST | None]:
    return {id(a): d for a, d in parameters(func)}


@RULE.on(ast.FunctionDef, ast.AsyncFunctionDef)
def check_signature(ctx: FileContext, func: ast.AST):
    if sync_bound_function(ctx, func):
        return  # it stays sync and receives the sync Session from run_sync (AFY403)
    defaults = _param_defaults(func)
    args = func.args  # type: ignore[attr-defined]
    for a in args.posonlyargs + args.args + args.kwonlyargs + [x for x in (args.vararg, args.kwarg) if x]:
        if a.annotation is None:
            continue
        blocked = None
        if _annotation_is_dependency(ctx, defaults.get(id(a)), a.annotation):
            blocked = "the annotation is the dependency FastAPI calls (`Depends()` without an argument)"
        yield from _annotation_diags(ctx, a.annotation, f"parameter `{a.arg}`", blocked)
    returns = getattr(func, "returns", None)
    if returns is not None:
        yield from _annotation_diags(ctx, returns, f"return type of `{func.name}`")  # type: ignore[attr-defined]


@RULE.on(ast.AnnAssign)
def check_local_annotation(ctx: FileContext, node: ast.AnnAssign):
    if isinstance(ctx.enclosing_function(node), (ast.FunctionDef, ast.AsyncFunctionDef)) and isinstance(
        node.target, ast.Name
    ):
        yield from _annotation_diags(ctx, node.annotation, f"variable `{node.target.id}`")


_ALIAS_BASES = frozenset({"typing.Annotated", "typing.Optional", "typing.Union"})


@RULE.on(ast.Assign)
def check_alias(ctx: FileContext, node: ast.Assign):
    """``SessionDep = Annotated[Session, Depends(get_db)]`` at module level."""
    if not isinstance(ctx.parent(node), ast.Module) or len(node.targets) != 1:
        return
    target, value = node.targets[0], node.value
    if not isinstance(target, ast.Name) or not isinstance(value, ast.Subscript):
        return
    if ctx.qualname(value.value) not in _ALIAS_BASES:
        return
    blocked = None
    if _annotation_is_dependency(ctx, None, value):
        blocked = "the annotation is the dependency FastAPI calls (`Depends()` without an argument)"
    yield from _annotation_diags(ctx, value, f"alias `{target.id}`", blocked)
