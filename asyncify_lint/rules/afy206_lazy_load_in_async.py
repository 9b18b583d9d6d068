"""
## What it does
Checks, in `async def` functions, for reads that make SQLAlchemy emit SQL implicitly, which an
`AsyncSession` cannot do:

- a relationship attribute with the default `lazy="select"` read on an object known to be an
  instance of a mapped class (from `Model(...)`, `await db.get(Model, ...)`, a `select(Model)`
  result, an annotation, or a project function annotated to return one, when that function does
  not name the relationship in a loader option or a refresh) that was loaded without an eager-load
  option for it. A name assigned several times by statements of the function's own body holds, at
  each read, what the last of them gave. A statement executed from a local variable
  (`stmt = select(Model)`, then `stmt = stmt.options(...)`, `stmt = stmt.where(...)`) is made of
  every value assigned to it, and to the names it is built from. A read straight on the awaited
  call of such a function (`(await crud.touch(db, obj)).owner`) counts too, and so does each element
  of a sequence of such objects (`users = (await db.scalars(select(User))).all()`, or a project
  function annotated `-> list[User]`): the target of a `for` loop or a comprehension over it, and the
  parameter of a `lambda` that `sorted`, `min`, `max`, `list.sort` (as `key=`), `map` or `filter`
  call with each;
- an attribute of such an object read after `await db.commit()` with no `await db.refresh(obj)` in
  between (the commit expired it), unless every session of the project is made with
  `expire_on_commit=False`. A call of a project `async def` that is passed the session and awaits
  `<its parameter>.commit()` counts as a commit;
- an object expired by a commit (as above) passed to a project `async def` that reads one of its
  columns (or increments one, `obj.count += 1`) before refreshing it: the read refreshes it
  implicitly, in the callee;
- a call of a sync project function with such an object, which reads one of its lazy relationships
  (in its body, or in a project helper it passes the object on to): the load happens in sync code;
- a pydantic validation of such an object (`Schema.model_validate(obj)`, `Schema.from_orm(obj)`,
  `TypeAdapter(Schema).validate_python(obj)`, `parse_obj_as(Schema, obj)`) whose schema has a field
  named after one of its lazy relationships that is not loaded: validation reads it;
- an endpoint returning such an object (or a list of them) whose `response_model` (or return
  annotation) has a field named after a lazy relationship of the returned class: serialization
  reads it. A value pydantic built (the result of `Schema.model_validate(...)` or another of its
  validations, a list of them, or a name only ever assigned one) is plain data: serializing it
  loads nothing.

## Why is this bad?
A sync session loads these attributes on first access. An `AsyncSession` cannot do I/O implicitly:
the read raises `MissingGreenlet` (SQLAlchemy 2.0) or a `StatementError` wrapping it (2.1), and in
response serialization it becomes a `ResponseValidationError`, an HTTP 500.

## Example
```python
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    addresses: Mapped[list["Address"]] = relationship()


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class UserOut(BaseModel):
    name: str
    addresses: list[int]


app = FastAPI()


@app.get("/users/{uid}", response_model=UserOut)
async def read_user(uid: int, db: AsyncSession):
    return (await db.scalars(select(User).where(User.id == uid))).one()
```

## Use instead
```python
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    addresses: Mapped[list["Address"]] = relationship()


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class UserOut(BaseModel):
    name: str
    addresses: list[int]


app = FastAPI()


@app.get("/users/{uid}", response_model=UserOut)
async def read_user(uid: int, db: AsyncSession):
    stmt = select(User).options(selectinload(User.addresses)).where(User.id == uid)
    return (await db.scalars(stmt)).one()
```

## Fix safety
Most findings have no fix: the remedy (`selectinload(...)` on the query, `await db.refresh(obj,
["rel"])`, or the `AsyncAttrs` mixin and `await obj.awaitable_attrs.rel`) depends on code the rule
cannot see in full, and whether the load happens at all is partly runtime-dependent (a many-to-one
target already in the identity map needs no SQL).

Three fixes are offered, all unsafe:

- For a lazy relationship read, or an attribute read after `commit()`, in an `async def` with a
  session parameter: the read runs inside SQLAlchemy's greenlet: `hero.teams.append(team)` becomes
  `(await session.run_sync(lambda _: hero.teams)).append(team)`, and a sync helper that reads them
  is called there: `await session.run_sync(lambda _: notify.send_receipt(order))`, and so is a
  validation that reads them: `await session.run_sync(lambda _: UserOut.model_validate(user))`. The
  lazy load (or the refresh of the expired object) then happens exactly as in the sync app: the same
  SQL, at the same point of the evaluation, only when the attribute is not loaded yet. (A helper that also
  blocks, on a file or the network, then blocks the loop there: AFY100 reports it.) Inside a
  comprehension or an f-string, the whole expression of the statement (an expression statement, an
  assigned, returned or iterated value, an `if`/`while` test) is wrapped instead; that is not offered when it awaits, yields, binds a
  name (`:=`), or uses `super()`/`locals()`/`vars()`, whose meaning a lambda changes. A read on an
  awaited call passes the call's result to the callable, so the call is still awaited first:
  `(await crud.touch(db, obj)).owner` becomes
  `await db.run_sync(lambda _, result: result.owner, await crud.touch(db, obj))`. A read in a `key=`
  lambda wraps the call that runs it: `await db.run_sync(lambda _: sorted(users, key=...))`.
- For an expired object passed to a function whose first statement reads it (before it awaits
  anything): `await db.refresh(obj)` as a statement right before the call. The SELECT the read ran
  implicitly at the start of the call runs just before it instead, with nothing in between.
- For a `select(Model)` written inline in the statement that produces the endpoint's return value:
  `.options(selectinload(Model.rel))` right after `select(Model)`. The relationship is then loaded
  with the query (one extra `SELECT ... IN`) instead of lazily during serialization, which yields the
  same data unless the endpoint changes the relationship in between.
- Otherwise, for an endpoint whose response model, at any depth, has a field named after a lazy
  relationship of a mapped class of the project (whether the returned value is visible, or comes from
  a crud or service function): each such `return value` becomes
  `return await db.run_sync(lambda _, result: TypeAdapter(Model).validate_python(result, from_attributes=True), value)`.
  The response model is then built inside SQLAlchemy's greenlet, where lazy loads and refreshes of
  expired attributes work, with the same per-object SELECTs the sync app ran during serialization;
  FastAPI then serializes the validated model as before. What differs is only the failure mode: a
  value that does not validate raises pydantic's `ValidationError` instead of FastAPI's
  `ResponseValidationError` (both are HTTP 500). It needs a session parameter in the endpoint, and is
  not offered with `response_model_exclude_unset` / `_defaults` / `_none` (the fields-set bookkeeping
  of a model built from attributes is not FastAPI's).

  `TypeAdapter` is new in pydantic 2. For a project on pydantic 1 (detected from its lock files,
  declared dependencies or code, such as `orm_mode` / `from_orm`; or set with `target-pydantic = "1"`)
  the value is validated the way FastAPI validates a pydantic 1 response model, as a field of that
  type: `return await db.run_sync(lambda _, result: parse_obj_as(Model, result), value)`, which calls
  `Model.from_orm(obj)` for an `orm_mode` model, element by element for `list[Model]`.

The suggestions never name `AsyncAttrs` / `awaitable_attrs` (new in SQLAlchemy 2.0.13) for a project
on SQLAlchemy 1.4.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Edit, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import fastapi, query, versions
from asyncify_lint.helpers.rewrites import needs_parentheses
from asyncify_lint.helpers.sqla import bound_parameter, function_def, is_session
from asyncify_lint.project.callgraph import called_def
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY206",
        name="lazy-load-in-async",
        message="{what} raises `MissingGreenlet` in async code; {remedy}",
        fix_title="Load `{rel}` where SQLAlchemy can do I/O",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=206,
    )
)

SELECTS = frozenset({"sqlalchemy.select", "sqlalchemy.sql.select", "sqlalchemy.sql.expression.select",
                     "sqlmodel.select", "sqlmodel.sql.expression.select"})
SESSION_FACTORIES = frozenset({"sqlalchemy.orm.sessionmaker", "sqlalchemy.ext.asyncio.async_sessionmaker",
                               "sqlalchemy.orm.Session", "sqlalchemy.ext.asyncio.AsyncSession", "sqlmodel.Session",
                               "sqlmodel.ext.asyncio.session.AsyncSession"})


class Instance:
    """A local name known to hold instances of a mapped class."""

    def __init__(self, name: str, mc: query.MappedClass, producer: ast.AST | None, select: ast.Call | None,
                 bound: ast.AST, many: bool = False, opaque: bool = False,
                 statement: tuple[ast.AST, ...] = ()) -> None:
        self.name = name
        self.mc = mc
        self.producer = producer  # the expression that loaded it (None: unknown)
        self.select = select  # the select(Model) call that loaded it, when there is one
        #: the values of the local names holding the statement the producer executes
        #: (``stmt = select(Model)``, ``stmt = stmt.options(...)``)
        self.statement = statement
        self.bound = bound
        self.many = many
        #: returned by a project function: how it was loaded is not visible (only expiry is checked)
        self.opaque = opaque
        #: for an element of a sequence of instances (``for u in users``): the sequence's instance,
        #: whose binding is when the elements were loaded
        self.origin: Instance | None = None


def _walk_own(func: ast.AST):
    """Nodes of ``func``'s body, not entering nested functions, lambdas or classes (run_sync callables)."""
    stack = list(reversed(func.body))  # type: ignore[attr-defined]
    while stack:
        n = stack.pop()
        yield n
        for child in reversed(list(ast.iter_child_nodes(n))):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(child)


def _first_select(ctx: FileContext, expr: ast.AST) -> tuple[ast.Call, query.MappedClass | None] | None:
    """The first ``select(...)`` call in ``expr`` (outermost first), with the mapped class it selects
    alone (None: it selects something else)."""
    for n in ast.walk(expr):
        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)) and ctx.qualname(n.func) in SELECTS:
            if len(n.args) == 1 and not n.keywords:
                return n, query.mapped_class(ctx, n.args[0])
            return n, None
    return None


def _select_of(ctx: FileContext, expr: ast.AST,
               func: ast.AST) -> tuple[ast.Call, query.MappedClass, tuple[ast.AST, ...]] | None:
    """The ``select(Model)`` call ``expr`` executes, its mapped class, and the values of the local names
    of ``func`` that hold the statement, when it is executed from a variable (``db.scalars(stmt)``)."""
    found = _first_select(ctx, expr)
    if found is not None:
        return (found[0], found[1], ()) if found[1] is not None else None
    statement = _statement_values(ctx, func, expr)
    selects = [s for s in (_first_select(ctx, v) for v in statement) if s is not None]
    if not selects or any(s[1] is None or s[1].node is not selects[0][1].node for s in selects):
        return None  # no select, or not the same single mapped class in every assignment
    return selects[0][0], selects[0][1], statement  # type: ignore[return-value]


_EXECUTES = frozenset({"execute", "scalars", "scalar", "stream", "stream_scalars", "exec"})


def _statement_names(ctx: FileContext, func: ast.AST) -> dict[str, list[ast.AST]]:
    """The local names of ``func`` bound only by ``name = value`` statements: name → the values
    assigned (memoised)."""
    key = f"afy206:{id(func)}:names"
    if key in ctx.cache:
        return ctx.cache[key]
    args = func.args  # type: ignore[attr-defined]
    other = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
    values: dict[str, list[ast.AST]] = {}
    for n in _walk_own(func):
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            other.update(n.names)
        if not (isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))):
            continue
        parent = ctx.parent(n)
        if isinstance(parent, ast.Assign) and parent.targets == [n] or \
                isinstance(parent, ast.AnnAssign) and parent.target is n and parent.value is not None:
            values.setdefault(n.id, []).append(parent.value)  # type: ignore[arg-type]
        else:
            other.add(n.id)
    out = {k: v for k, v in values.items() if k not in other}
    ctx.cache[key] = out
    return out


def _chain_root(expr: ast.AST) -> ast.AST:
    """``stmt`` of ``stmt.options(...).where(...)``, ``result`` of ``(await result).scalars().one()``."""
    while isinstance(expr, (ast.Call, ast.Attribute, ast.Await)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr


def _statement_values(ctx: FileContext, func: ast.AST, expr: ast.AST) -> tuple[ast.AST, ...]:
    """The values assigned to the local names that ``expr`` executes as a statement (``db.scalars(stmt)``)
    or reads a result from (``result.scalars().one()``), followed through the steps that build them
    (``result = await db.execute(stmt)``, ``stmt = stmt.options(...)``, ``stmt = base.where(...)``)."""
    named = _statement_names(ctx, func)
    out: list[ast.AST] = []
    seen: set[str] = set()
    todo = [expr]
    while todo:
        value = todo.pop()
        roots = [_chain_root(value)] + [_chain_root(c.args[0]) for c in ast.walk(value) if isinstance(c, ast.Call)
                                        and isinstance(c.func, ast.Attribute) and c.func.attr in _EXECUTES and c.args]
        for root in roots:
            if isinstance(root, ast.Name) and root.id in named and root.id not in seen:
                seen.add(root.id)
                out += named[root.id]
                todo += named[root.id]
    return tuple(out)


def _producer(ctx: FileContext, value: ast.AST,
              func: ast.AST) -> tuple[query.MappedClass, ast.Call | None, bool, tuple[ast.AST, ...]] | None:
    """(mapped class, select call, many, statement values) for the expressions that load mapped instances."""
    if isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)):
        mc = query.mapped_class(ctx, value.func)
        if mc is not None:
            return mc, None, False, ()  # Model(...)
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call):
        call = value.value
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("get", "get_one") and call.args:
            if is_session(ctx, call.func.value):
                mc = query.mapped_class(ctx, call.args[0])
                if mc is not None:
                    return mc, None, False, ()
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        term = value.func.attr
        if term in ("first", "one", "one_or_none", "scalar_one", "scalar_one_or_none", "all", "scalar"):
            found = _select_of(ctx, value, func)
            if found is not None and any(isinstance(n, ast.Await) for part in (value, *found[2])
                                         for n in ast.walk(part)):
                return found[1], found[0], term == "all", found[2]
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call):
        call = value.value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "scalar" and is_session(ctx, call.func.value):
            found = _select_of(ctx, call, func)
            if found is not None:
                return found[1], found[0], False, found[2]
    return None


def _commits_session(ctx: FileContext, call: ast.Call) -> bool:
    """A call, given a session, of a project ``async def`` that awaits ``<parameter>.commit()``."""
    if not any(isinstance(a, ast.Name) and is_session(ctx, a) for a in
               list(call.args) + [k.value for k in call.keywords]):
        return False
    found = function_def(ctx, call.func)
    if found is None or not isinstance(found[1], ast.AsyncFunctionDef):
        return False
    func = found[1]
    params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    for n in _walk_own(func):
        if isinstance(n, ast.Await) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute):
            f = n.value.func
            if f.attr == "commit" and isinstance(f.value, ast.Name) and f.value.id in params:
                return True
    return False


def _instances(ctx: FileContext, func: ast.AsyncFunctionDef) -> dict[str, Instance]:
    """Names bound once in ``func`` to a mapped instance (memoised; the names bound several times in
    straight-line code go to ``_steps``)."""
    key = f"afy206:{id(func)}"
    if key in ctx.cache:
        return ctx.cache[key]
    counts: dict[str, int] = {}
    found: dict[str, Instance] = {}
    steps: dict[str, list[tuple[int, Instance | None]]] = {}
    for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs:
        if a.annotation is not None and isinstance(a.annotation, (ast.Name, ast.Attribute)):
            mc = query.mapped_class(ctx, a.annotation)
            if mc is not None:
                found[a.arg] = Instance(a.arg, mc, None, None, a)
                counts[a.arg] = 1
    for n in _walk_own(func):
        targets: list[tuple[ast.AST, ast.AST | None]] = []
        if isinstance(n, ast.Assign):
            targets = [(t, n.value) for t in n.targets]
        elif isinstance(n, ast.AnnAssign):
            targets = [(n.target, n.value)]
        elif isinstance(n, (ast.For, ast.AsyncFor)):
            targets = [(n.target, None)]
            if isinstance(n.target, ast.Name):
                sel = _select_of(ctx, n.iter, func)
                counts[n.target.id] = counts.get(n.target.id, 0) + 1
                if sel is not None and any(isinstance(x, ast.Await) for x in ast.walk(n.iter)):
                    found[n.target.id] = Instance(n.target.id, sel[1], n.iter, sel[0], n, statement=sel[2])
                continue
        elif isinstance(n, (ast.AugAssign, ast.NamedExpr)):
            targets = [(n.target, None)]
        for t, value in targets:
            for name in ast.walk(t):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):  # not `user.items = ...`
                    counts[name.id] = counts.get(name.id, 0) + 1
            if isinstance(t, ast.Tuple) and value is not None:
                for name, mc in _returned_tuple(ctx, value, t):
                    found[name.id] = Instance(name.id, mc, value, None, n, opaque=True)
                continue
            if not isinstance(t, ast.Name):
                continue
            inst = None
            if value is not None:
                p = _producer(ctx, value, func)
                if p is not None:
                    inst = Instance(t.id, p[0], value, p[1], n, many=p[2], statement=p[3])
                else:
                    returned = _returned(ctx, value)
                    if returned is not None:
                        inst = Instance(t.id, returned[0], value, None, n, many=returned[1], opaque=True)
            if inst is not None:
                found[t.id] = inst
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and any(n is b for b in func.body):
                steps.setdefault(t.id, []).append((ctx.end(n), inst))
    out = {k: v for k, v in found.items() if counts.get(k, 0) == 1}
    # a name assigned several times, each time by a statement of the function's own body (no branch in
    # between): at a read, it holds what the last assignment before it gave
    ctx.cache[_steps_key(func)] = {k: v for k, v in steps.items() if counts.get(k, 0) == len(v) > 1}
    ctx.cache[key] = out
    return out


def _steps_key(func: ast.AST) -> str:
    return f"afy206:{id(func)}:steps"


def _instance_at(ctx: FileContext, func: ast.AsyncFunctionDef, name: str, at: int) -> Instance | None:
    """The instance ``name`` holds at offset ``at`` of ``func`` (None: not a known mapped instance)."""
    inst = _instances(ctx, func).get(name)
    if inst is not None:
        return inst
    current = None
    for end, step in ctx.cache.get(_steps_key(func), {}).get(name, ()):
        if end <= at:
            current = step
    return current


def _transient(inst: Instance) -> bool:
    """Made by the mapped class's constructor (``Model(...)``) in this function."""
    return isinstance(inst.producer, ast.Call) and inst.select is None and not isinstance(inst.bound, ast.arg)


def _eager(inst: Instance, rel: str) -> bool:
    """The producing statement (or a step that built it) names ``rel`` in a loader option (or anywhere
    as `X.rel`)."""
    if inst.producer is None:
        return False
    for n in (n for part in (inst.producer, *inst.statement) for n in ast.walk(part)):
        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
            fname = n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id
            if fname in query.EAGER_OPTIONS or fname == "options":
                for m in ast.walk(n):
                    if isinstance(m, ast.Attribute) and m.attr == rel:
                        return True
                    if isinstance(m, ast.Constant) and m.value in (rel, "*"):
                        return True
        if isinstance(n, ast.keyword) and n.arg == "options":
            return any(isinstance(m, ast.Attribute) and m.attr == rel for m in ast.walk(n.value))
    return False


def _session_calls(ctx: FileContext, func: ast.AST, method: str) -> list[ast.Call]:
    out = []
    for n in _walk_own(func):
        if isinstance(n, ast.Await) and isinstance(n.value, ast.Call):
            c = n.value
            if isinstance(c.func, ast.Attribute) and c.func.attr == method and is_session(ctx, c.func.value):
                out.append(c)
    return out


def _refreshes(ctx: FileContext, func: ast.AST, name: str, rel: str | None) -> list[int]:
    """Offsets of ``await db.refresh(name)`` (with ``rel`` among the attribute names when given)."""
    out = []
    for c in _session_calls(ctx, func, "refresh"):
        if not c.args or not (isinstance(c.args[0], ast.Name) and c.args[0].id == name):
            continue
        names = c.args[1] if len(c.args) > 1 else next((k.value for k in c.keywords if k.arg == "attribute_names"), None)
        if rel is not None:
            if names is None or not any(isinstance(m, ast.Constant) and m.value == rel for m in ast.walk(names)):
                continue
        elif names is not None:
            continue
        out.append(ctx.end(c))
    return out


def _expire_on_commit_false(project) -> bool:
    """Every session / session factory the project makes passes ``expire_on_commit=False``."""
    seen = False
    for other in project.contexts_containing([b"Session", b"sessionmaker"]):
        for n in ast.walk(other.tree):
            if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
                if other.qualname(n.func) in SESSION_FACTORIES:
                    seen = True
                    kw = next((k.value for k in n.keywords if k.arg == "expire_on_commit"), None)
                    if not (isinstance(kw, ast.Constant) and kw.value is False):
                        return False
    return seen


def _remedy(inst: Instance, rel: str, session: str, sqlalchemy_1x: bool = False) -> str:
    m = inst.mc.name
    if inst.origin is not None:
        return f"eager-load it (`selectinload({m}.{rel})`) where `{inst.origin.name}` is queried"
    if inst.name == "<result>":
        return f"add `selectinload({m}.{rel})` to the query"
    if inst.select is not None:
        return f"add `selectinload({m}.{rel})` to the query, or `await {session}.refresh({inst.name}, [\"{rel}\"])`"
    if inst.opaque:
        return (f"eager-load it (`selectinload({m}.{rel})`) where `{_producer_call_text(inst)}` queries it, or "
                f"`await {session}.refresh({inst.name}, [\"{rel}\"])`")
    if isinstance(inst.producer, ast.Await):
        return f"pass `options=[selectinload({m}.{rel})]` to `get`, or `await {session}.refresh({inst.name}, [\"{rel}\"])`"
    if sqlalchemy_1x:  # AsyncAttrs is new in SQLAlchemy 2.0.13
        return f"use `await {session}.refresh({inst.name}, [\"{rel}\"])`"
    return f"use `await {session}.refresh({inst.name}, [\"{rel}\"])` or `await {inst.name}.awaitable_attrs.{rel}` (AsyncAttrs)"


def _producer_call_text(inst: Instance) -> str:
    """``crud.get_user()`` for an instance returned by ``await crud.get_user(db, 1)``."""
    call = inst.producer.value if isinstance(inst.producer, ast.Await) else None
    func = call.func if isinstance(call, ast.Call) else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}()"
    if isinstance(func, ast.Name):
        return f"{func.id}()"
    return "the function"


def _session_name(ctx: FileContext, func: ast.AST) -> str:
    for n in _walk_own(func):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and is_session(ctx, n.value):
            return n.value.id
    return "db"


@RULE.on(ast.AsyncFunctionDef)
def check(ctx: FileContext, func: ast.AsyncFunctionDef):
    insts = _instances(ctx, func)
    session = _session_name(ctx, func)
    commits = [ctx.end(c) for c in _session_calls(ctx, func, "commit")]
    flushes = [ctx.end(c) for c in _session_calls(ctx, func, "flush")]
    commits += [ctx.end(n.value) for n in _walk_own(func) if isinstance(n, ast.Await) and isinstance(n.value, ast.Call)
                and isinstance(n.value.func, (ast.Name, ast.Attribute)) and _commits_session(ctx, n.value)]
    expire_known_false = None
    reported: set[tuple[str, str, int]] = set()
    for n in _walk_own(func):
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) and isinstance(n.value, ast.Await):
            yield from _read_on_result(ctx, func, n, session)
            continue
        if not (isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) and isinstance(n.value, ast.Name)):
            continue
        at = ctx.start(n)
        inst = _instance_at(ctx, func, n.value.id, at)
        if inst is None:
            inst = _element_at(ctx, func, n.value)
        elif ctx.lookup(n.value.id, n) is None:
            continue
        if inst is None:
            continue
        if isinstance(inst.bound, ast.stmt) and at < ctx.end(inst.bound) and not isinstance(inst.bound, (ast.For, ast.AsyncFor)):
            continue
        rel, lazy = n.attr, inst.mc.relationships.get(n.attr)
        if lazy == "select":
            if _loaded(ctx, func, inst, rel, at, commits + flushes):
                continue
            if (inst.name, rel, id(inst.bound)) in reported:
                continue
            reported.add((inst.name, rel, id(inst.bound)))
            wrap = _run_in_greenlet(ctx, func, n)
            yield RULE.at(ctx, n, wrap, what=f"`{inst.name}.{rel}` (a lazy relationship of `{inst.mc.name}`, not eager-loaded)",
                          remedy=_remedy(inst, rel, session, versions.of(ctx).sqlalchemy_1x), rel=f"{inst.name}.{rel}", model="")
            continue
        if n.attr not in inst.mc.columns:
            continue
        loaded = inst.origin or inst  # an element was loaded with its sequence
        if isinstance(loaded.bound, ast.arg):
            start = 0
        elif isinstance(loaded.bound, (ast.For, ast.AsyncFor)):
            start = ctx.start(loaded.bound)
        else:  # a commit inside the statement that binds it came before the object was returned
            start = ctx.end(loaded.bound)
        before = [c for c in commits if start < c < at]
        if not before:
            continue
        last = max(before)
        if any(last < r < at for r in _refreshes(ctx, func, inst.name, None)):
            continue
        if (inst.name, "@commit", id(inst.bound)) in reported:
            continue
        if expire_known_false is None:
            expire_known_false = ctx.project is not None and bool(
                ctx.project.fact("afy206.expire_on_commit_false", _expire_on_commit_false))
        if expire_known_false:
            continue
        reported.add((inst.name, "@commit", id(inst.bound)))
        wrap = _run_in_greenlet(ctx, func, n)
        yield RULE.at(ctx, n, wrap, what=f"`{inst.name}.{n.attr}`, read after `commit()` expired `{inst.name}`,",
                      remedy=f"add `await {session}.refresh({inst.name})` after the commit", rel=f"{inst.name}.{n.attr}",
                      model="")
    yield from _helper_lazy_reads(ctx, func, insts, session)
    yield from _key_function_reads(ctx, func, session, commits + flushes)
    yield from _expired_arguments(ctx, func, commits, session)
    yield from _validation_reads(ctx, func, session, commits + flushes)
    yield from _response_model(ctx, func, {k: v for k, v in insts.items() if not v.opaque})


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _element_of(ctx: FileContext, func: ast.AsyncFunctionDef, seq: ast.AST, bound: ast.AST,
                name: str) -> Instance | None:
    """The instance ``name`` holds when it is bound (by ``bound``) to the elements of ``seq``, a local
    name known to hold a sequence of mapped instances (``users = (await db.scalars(...)).all()``)."""
    if not isinstance(seq, ast.Name):
        return None
    src = _instance_at(ctx, func, seq.id, ctx.start(seq))
    if src is None or not src.many:
        return None
    element = Instance(name, src.mc, src.producer, src.select, bound, opaque=src.opaque, statement=src.statement)
    element.origin = src
    return element


def _element_at(ctx: FileContext, func: ast.AsyncFunctionDef, name: ast.Name) -> Instance | None:
    """The instance the name read ``name`` holds as the target of an enclosing ``for`` loop or
    comprehension over a sequence of mapped instances (``for u in users``, ``[u.x for u in users]``)."""
    for a in ctx.ancestors(name):
        if a is func:
            break
        if isinstance(a, (ast.For, ast.AsyncFor)) and isinstance(a.target, ast.Name) and a.target.id == name.id:
            if any(name is n for stmt in a.body for n in ast.walk(stmt)):
                return _element_of(ctx, func, a.iter, a, name.id)
        if isinstance(a, _COMPREHENSIONS):
            for gen in a.generators:
                if isinstance(gen.target, ast.Name) and gen.target.id == name.id:
                    return _element_of(ctx, func, gen.iter, a, name.id)
    return None


#: the builtins that call a ``key=`` function (or, for ``map``/``filter``, their first argument) with
#: each element of a sequence: (index of the sequence argument, index of the function argument or None)
_KEY_CALLERS = {"builtins.sorted": (0, None), "builtins.min": (0, None), "builtins.max": (0, None),
                "builtins.map": (1, 0), "builtins.filter": (1, 0)}


def _key_function_reads(ctx: FileContext, func: ast.AsyncFunctionDef, session: str, writes: list[int]):
    """``sorted(users, key=lambda u: len(u.posts))``, ``users.sort(key=...)``, ``map(lambda u: u.posts,
    users)``: a lambda called with each element of a sequence of mapped instances, reading one of their
    lazy relationships. The whole call is run in the session's greenlet."""
    for call in _walk_own(func):
        if not isinstance(call, ast.Call):
            continue
        if isinstance(call.func, ast.Attribute) and call.func.attr == "sort" and not call.args:
            seq, fn = call.func.value, None
        elif isinstance(call.func, ast.Name) and ctx.qualname(call.func) in _KEY_CALLERS:
            iseq, ifn = _KEY_CALLERS[ctx.qualname(call.func)]  # type: ignore[index]
            if len(call.args) <= iseq:
                continue
            seq, fn = call.args[iseq], (call.args[ifn] if ifn is not None else None)
        else:
            continue
        if fn is None:
            fn = next((k.value for k in call.keywords if k.arg == "key"), None)
        if not isinstance(fn, ast.Lambda) or not fn.args.args:
            continue
        param = fn.args.args[0].arg
        inst = _element_of(ctx, func, seq, call, param)
        if inst is None:
            continue
        for n in ast.walk(fn.body):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == param \
                    and isinstance(n.ctx, ast.Load) and inst.mc.relationships.get(n.attr) == "select" \
                    and not _loaded(ctx, func, inst, n.attr, ctx.start(call), writes):
                yield RULE.at(ctx, n, _run_in_greenlet(ctx, func, call),
                              what=f"`{param}.{n.attr}` (a lazy relationship of `{inst.mc.name}`, not eager-loaded, "
                                   f"read for each element of `{ctx.segment(seq)}`)",
                              remedy=_remedy(inst, n.attr, session, versions.of(ctx).sqlalchemy_1x),
                              rel=f"{param}.{n.attr}", model="")
                break


def _callee(ctx: FileContext, call: ast.Call) -> tuple[FileContext, ast.AST] | None:
    """The project ``def`` a call calls: a module-level function it names, else what the call graph
    resolves (a method of a local instance or of a class)."""
    return function_def(ctx, call.func) or called_def(ctx, call)  # type: ignore[return-value]


#: the annotations of a returned sequence of instances: ``list[M]``, ``Sequence[M]``...
_SEQUENCES = frozenset({"builtins.list", "typing.List", "typing.Sequence", "collections.abc.Sequence",
                        "typing.Iterable", "collections.abc.Iterable"})


def _returned(ctx: FileContext, value: ast.AST) -> tuple[query.MappedClass, bool] | None:
    """(mapped class, many) for ``await f(...)`` of a project ``async def`` (a function or a method)
    annotated to return one mapped instance (``-> M``, ``-> M | None``, ``-> Optional[M]``) or a
    sequence of them (``-> list[M]``, ``-> Sequence[M]``)."""
    if not (isinstance(value, ast.Await) and isinstance(value.value, ast.Call)):
        return None
    found = _callee(ctx, value.value)
    if found is None or not isinstance(found[1], ast.AsyncFunctionDef) or found[1].returns is None:
        return None
    fctx, ann = found[0], found[1].returns
    if isinstance(ann, ast.Subscript) and fctx.qualname(ann.value) in _SEQUENCES:
        mc = query.mapped_annotation(fctx, ann.slice)
        return (mc, True) if mc is not None else None
    mc = query.mapped_annotation(fctx, ann)
    return (mc, False) if mc is not None else None


def _returned_tuple(ctx: FileContext, value: ast.AST, target: ast.Tuple) -> list[tuple[ast.Name, query.MappedClass]]:
    """``product, created = await f(...)`` of a project ``async def`` annotated ``-> tuple[Product,
    bool]``: the names of the target that receive a mapped instance, with its class."""
    if not (isinstance(value, ast.Await) and isinstance(value.value, ast.Call)):
        return []
    found = _callee(ctx, value.value)
    ann = found[1].returns if found is not None and isinstance(found[1], ast.AsyncFunctionDef) else None
    if not (isinstance(ann, ast.Subscript) and found[0].qualname(ann.value) in ("builtins.tuple", "typing.Tuple")
            and isinstance(ann.slice, ast.Tuple) and len(ann.slice.elts) == len(target.elts)):
        return []
    out = []
    for name, elt in zip(target.elts, ann.slice.elts):
        mc = query.mapped_annotation(found[0], elt) if isinstance(name, ast.Name) else None
        if mc is not None:
            out.append((name, mc))
    return out


def _expired_arguments(ctx: FileContext, func: ast.AsyncFunctionDef, commits: list[int], session: str):
    """``await crud.bump(db, product=product)`` after a commit expired ``product``, where ``bump`` reads a
    column of its parameter before refreshing it: the read refreshes the expired object, implicitly, in
    the callee."""
    refreshed = None
    for n in _walk_own(func):
        if not (isinstance(n, ast.Await) and isinstance(n.value, ast.Call)):
            continue
        call, at = n.value, ctx.start(n)
        for arg in list(call.args) + [k.value for k in call.keywords]:
            if not isinstance(arg, ast.Name):
                continue
            inst = _instance_at(ctx, func, arg.id, at)
            if inst is None or isinstance(inst.bound, ast.arg) or _transient(inst):
                continue
            before = [c for c in commits if ctx.end(inst.bound) < c < at]
            if not before or any(max(before) < r < at for r in _refreshes(ctx, func, arg.id, None)):
                continue
            callee = _callee(ctx, call)
            bound = bound_parameter(ctx, call, arg, callee) if callee is not None else None
            if bound is None or not isinstance(bound[1], ast.AsyncFunctionDef):
                continue
            found = _first_column_read(bound[0], bound[1], bound[2].arg, inst.mc)
            if found is None:
                continue
            read, first = found
            if refreshed is None:
                refreshed = ctx.project is not None and bool(
                    ctx.project.fact("afy206.expire_on_commit_false", _expire_on_commit_false))
            if refreshed:
                return
            yield RULE.at(ctx, arg, _refresh_before(ctx, func, n, arg.id) if first else None,
                          what=f"`{arg.id}`, expired by `commit()` and passed to `{ctx.segment(call.func)}()`, which reads "
                               f"`{bound[2].arg}.{read}`,",
                          remedy=f"add `await {session}.refresh({arg.id})` before the call", rel=f"{arg.id}.{read}",
                          model="")


def _first_column_read(fctx: FileContext, func: ast.AsyncFunctionDef, param: str,
                       mc: query.MappedClass) -> tuple[str, bool] | None:
    """The column of ``param`` that ``func`` reads first (``param.x``, ``param.x += 1``; setting one loads
    nothing), when it reads one before any ``refresh(param)``; and whether it does so before anything
    is awaited (then the implicit refresh is the first statement the call runs)."""
    awaited = False
    for n in _walk_own(func):
        if isinstance(n, ast.Await):
            awaited = True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "refresh" and n.args \
                and isinstance(n.args[0], ast.Name) and n.args[0].id == param:
            return None
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == param \
                and n.attr in mc.columns and n.attr not in mc.relationships \
                and (isinstance(n.ctx, ast.Load) or isinstance(fctx.parent(n), ast.AugAssign)):
            return n.attr, not awaited
    return None


def _refresh_before(ctx: FileContext, func: ast.AsyncFunctionDef, awaited: ast.Await, name: str) -> Fix | None:
    """``await db.refresh(obj)`` as a statement of its own right before the statement that awaits the call
    (an expression statement or an assignment of the awaited value): the SELECT the callee's first read
    ran implicitly, run just before the call instead, with nothing in between."""
    session = _session_param(ctx, func)
    stmt = ctx.parent(awaited)
    if session is None or not (isinstance(stmt, ast.Expr) or isinstance(stmt, (ast.Assign, ast.AnnAssign))
                               and stmt.value is awaited):
        return None
    line_start = ctx.source.text.rfind("\n", 0, ctx.start(stmt)) + 1
    indent = ctx.source.text[line_start:ctx.start(stmt)]
    if indent.strip():  # another statement before it on the line (`a = 1; await f(obj)`)
        return None
    return Fix([Edit(ctx.start(stmt), ctx.start(stmt), f"await {session}.refresh({name})\n{indent}")],
               Applicability.UNSAFE)


def _read_on_result(ctx: FileContext, func: ast.AsyncFunctionDef, node: ast.Attribute, session: str):
    """``(await crud.touch(db, obj)).owner``: a lazy relationship read straight on the object a project
    function returns (annotated ``-> Model``), which does not name it in a loader option or a refresh."""
    returned = _returned(ctx, node.value)
    if returned is None or returned[1] or returned[0].relationships.get(node.attr) != "select":
        return
    mc = returned[0]
    inst = Instance("<returned>", mc, node.value, None, node, opaque=True)
    if _loaded_by_producer(ctx, inst, node.attr):
        return
    callee = _producer_call_text(inst)
    yield RULE.at(ctx, node, _run_on_result(ctx, func, node),
                  what=f"`{node.attr}` of the `{mc.name}` that `{callee}` returns (a lazy relationship, not eager-loaded)",
                  remedy=f"eager-load it (`selectinload({mc.name}.{node.attr})`) where `{callee}` queries it, or read it "
                         f"in the session's greenlet: `await {session}.run_sync(lambda _, obj: obj.{node.attr}, ...)`",
                  rel=f"{mc.name}.{node.attr}", model="")


def _run_on_result(ctx: FileContext, func: ast.AsyncFunctionDef, node: ast.Attribute) -> Fix | None:
    """``(await f(db)).rel`` → ``await db.run_sync(lambda _, result: result.rel, await f(db))``: the call
    is awaited first, as before, and the read (with its lazy load) runs in SQLAlchemy's greenlet."""
    session = _session_param(ctx, func)
    if session is None or any(isinstance(a, _NESTED_CODE) for a in ctx.ancestors(node)):
        return None
    param = _lambda_param(node, session)
    text = f"await {session}.run_sync(lambda {param}, result: result.{node.attr}, {ctx.segment(node.value)})"
    if needs_parentheses(ctx, node) and not ctx.is_parenthesized(node):
        text = f"({text})"
    return Fix([ctx.replace(node, text)], Applicability.UNSAFE)


def _loaded(ctx: FileContext, func: ast.AsyncFunctionDef, inst: Instance, rel: str, at: int, writes: list[int]) -> bool:
    """``rel`` of ``inst`` needs no lazy load at offset ``at``: it is eager-loaded, refreshed before, or
    may be loaded by the project function that returned ``inst``; or ``inst`` is a new object not flushed
    yet (``writes``: the offsets of the commits and flushes)."""
    if _eager(inst, rel) or any(r < at for r in _refreshes(ctx, func, inst.name, rel)):
        return True
    if _transient(inst) and not any(ctx.end(inst.bound) < c < at for c in writes):
        return True  # `Model(...)` not flushed yet: it has no row, its collections start empty
    return inst.opaque and _loaded_by_producer(ctx, inst, rel)


#: pydantic's ways to build a model (or validated data) from a value: the result is plain data
_VALIDATES = frozenset({"model_validate", "model_validate_json", "validate_python", "validate_json", "from_orm",
                        "parse_obj", "parse_raw"})
#: the validations that read the attributes of an object (``parse_obj_as``, too)
_READS_ATTRIBUTES = frozenset({"model_validate", "validate_python", "from_orm"})
_PARSE_OBJ_AS = frozenset({"pydantic.parse_obj_as", "pydantic.tools.parse_obj_as"})
_TYPE_ADAPTER = frozenset({"pydantic.TypeAdapter", "pydantic.type_adapter.TypeAdapter"})


def _validation(ctx: FileContext, call: ast.AST) -> tuple[ast.AST | None, ast.AST] | None:
    """(schema, value) of a call that validates ``value`` into pydantic data: ``Schema.model_validate(obj)``
    (``from_orm`` / ``parse_obj``: pydantic 1), ``TypeAdapter(Schema).validate_python(obj)``,
    ``parse_obj_as(Schema, obj)``; the schema is None when not written there (``adapter.validate_python``).
    Not a mapped class's ``model_validate``: SQLModel's ``Hero.model_validate(data)`` makes an ORM object."""
    if not isinstance(call, ast.Call) or not call.args:
        return None
    f = call.func
    if isinstance(f, (ast.Name, ast.Attribute)) and ctx.qualname(f) in _PARSE_OBJ_AS:
        return (call.args[0], call.args[1]) if len(call.args) > 1 else None
    if not (isinstance(f, ast.Attribute) and f.attr in _VALIDATES):
        return None
    schema: ast.AST | None = f.value
    if isinstance(schema, ast.Call):
        adapter = isinstance(schema.func, (ast.Name, ast.Attribute)) and ctx.qualname(schema.func) in _TYPE_ADAPTER
        schema = schema.args[0] if adapter and schema.args else None
    elif isinstance(schema, (ast.Name, ast.Attribute)) and query.mapped_class(ctx, schema) is not None:
        return None
    elif f.attr in ("validate_python", "validate_json"):
        schema = None  # a TypeAdapter held in a variable
    return schema, call.args[0]


def _plain_data(ctx: FileContext, func: ast.AsyncFunctionDef, expr: ast.AST, depth: int = 0) -> bool:
    """``expr`` is data validated by pydantic (see ``_validation``), a list of it, or a local name only
    ever assigned such data: serializing it reads no ORM attribute."""
    if isinstance(expr, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        return _plain_data(ctx, func, expr.elt, depth)
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return bool(expr.elts) and all(_plain_data(ctx, func, e, depth) for e in expr.elts)
    if isinstance(expr, ast.Name) and depth < 3:
        values = _statement_names(ctx, func).get(expr.id)
        return bool(values) and all(_plain_data(ctx, func, v, depth + 1) for v in values)  # type: ignore[union-attr]
    return _validation(ctx, expr) is not None


def _validation_reads(ctx: FileContext, func: ast.AsyncFunctionDef, session: str, writes: list[int]):
    """``Schema.model_validate(obj)`` (and the other validations) of a mapped instance, where the schema
    has a field named after a lazy relationship that is not loaded: validation reads it."""
    for n in _walk_own(func):
        found = _validation(ctx, n)
        if found is None or found[0] is None or not isinstance(found[1], ast.Name):
            continue
        if isinstance(n.func, ast.Attribute) and n.func.attr not in _READS_ATTRIBUTES:  # type: ignore[attr-defined]
            continue  # `parse_obj` of an object that is not a dict fails; the JSON forms take text
        name = found[1].id
        inst = _instance_at(ctx, func, name, ctx.start(n))
        if inst is None or ctx.lookup(name, n) is None or ctx.start(n) < ctx.end(inst.bound):
            continue
        schema = _model_fields(ctx, found[0])
        if schema is None:
            continue
        for rel in sorted(schema[1]):
            if inst.mc.relationships.get(rel) != "select" or _loaded(ctx, func, inst, rel, ctx.start(n), writes):
                continue
            callee = ctx.segment(n.func)  # type: ignore[attr-defined]
            yield RULE.at(ctx, n, _run_in_greenlet(ctx, func, n),
                          what=f"`{callee}({name})`, which reads `{rel}` (a lazy relationship of `{inst.mc.name}`) "
                               f"for `{schema[0]}`,",
                          remedy=_remedy(inst, rel, session, versions.of(ctx).sqlalchemy_1x),
                          rel=f"{inst.mc.name}.{rel}", model="")
            break


def _loaded_by_producer(ctx: FileContext, inst: Instance, rel: str) -> bool:
    """The project function that returned ``inst`` names ``rel`` in a loader option or a refresh (it
    may load it eagerly), or cannot be read."""
    producer = inst.producer
    if not (isinstance(producer, ast.Await) and isinstance(producer.value, ast.Call)):
        return True
    found = _callee(ctx, producer.value)
    if found is None:
        return True
    for n in ast.walk(found[1]):
        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
            fname = n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id
            if fname in query.EAGER_OPTIONS or fname in ("options", "refresh"):
                if any((isinstance(m, ast.Attribute) and m.attr == rel) or (isinstance(m, ast.Constant) and m.value == rel)
                       for m in ast.walk(n)):
                    return True
    return False


def _helper_reads(fctx: FileContext, func: ast.FunctionDef, param: str, mc: query.MappedClass,
                  depth: int = 0, many: bool = False) -> tuple[str, str] | None:
    """(relationship, where) when the sync ``func`` reads a lazy relationship of its parameter ``param``
    (a ``mc`` instance; with ``many``, a sequence of them, whose elements a ``for`` loop or a
    comprehension over ``param`` binds), in its body or in a project helper it passes ``param`` (or
    such an element) to (a few levels)."""
    names = {param: many}
    if many:
        for n in _walk_own(func):
            if isinstance(n, (ast.For, ast.comprehension)) and isinstance(n.iter, ast.Name) and n.iter.id == param \
                    and isinstance(n.target, ast.Name):
                names[n.target.id] = False
    for n in _walk_own(func):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and names.get(n.value.id) is False \
                and isinstance(n.ctx, ast.Load) and mc.relationships.get(n.attr) == "select":
            return n.attr, func.name
    if depth >= 3:
        return None
    for n in _walk_own(func):
        if not isinstance(n, ast.Call):
            continue
        for name, seq in names.items():
            found = _sync_callee_parameter(fctx, n, name)
            if found is not None:
                hit = _helper_reads(found[0], found[1], found[2], mc, depth + 1, seq)
                if hit is not None:
                    return hit[0], f"{func.name} → {hit[1]}"
    return None


def _sync_callee_parameter(ctx: FileContext, call: ast.Call, name: str) -> tuple[FileContext, ast.FunctionDef, str] | None:
    """The project sync ``def`` ``call`` calls, and the name of its parameter that receives the
    variable ``name`` (its first appearance among the arguments)."""
    arg = next((a for a in list(call.args) + [k.value for k in call.keywords]
                if isinstance(a, ast.Name) and a.id == name), None)
    callee = _callee(ctx, call) if arg is not None else None
    found = bound_parameter(ctx, call, arg, callee) if callee is not None else None
    if found is None or not isinstance(found[1], ast.FunctionDef):
        return None
    return found[0], found[1], found[2].arg


def _helper_lazy_reads(ctx: FileContext, func: ast.AsyncFunctionDef, insts: dict[str, Instance], session: str):
    """A sync project function called with a mapped instance, which reads one of its lazy relationships:
    the load happens in sync code, outside the session's greenlet."""
    for n in _walk_own(func):
        if not isinstance(n, ast.Call) or isinstance(ctx.parent(n), ast.Await):
            continue
        args = [a for a in list(n.args) + [k.value for k in n.keywords] if isinstance(a, ast.Name)]
        for name in dict.fromkeys(a.id for a in args):
            inst = _instance_at(ctx, func, name, ctx.start(n))
            if inst is None:
                continue
            found = _sync_callee_parameter(ctx, n, name)
            if found is None or ctx.lookup(name, n) is None or ctx.start(n) < ctx.end(inst.bound):
                continue
            hit = _helper_reads(found[0], found[1], found[2], inst.mc, many=inst.many)
            if hit is None:
                continue
            rel, where = hit
            if _eager(inst, rel) or (inst.opaque and _loaded_by_producer(ctx, inst, rel)):
                continue
            callee = ctx.segment(n.func)
            wrap = _run_in_greenlet(ctx, func, n)
            yield RULE.at(ctx, n, wrap,
                          what=f"`{callee}(...)`, which reads `{inst.mc.name}.{rel}` of `{name}` (a lazy relationship) "
                               f"in sync code ({where}),",
                          remedy=f"run the call in the session's greenlet: `await {session}.run_sync(lambda _: ...)`, "
                                 f"or eager-load `{inst.mc.name}.{rel}` where `{name}` is queried",
                          rel=f"{inst.mc.name}.{rel}", model="")
            break


def _model_fields(ctx: FileContext, expr: ast.AST | None) -> tuple[str, set[str]] | None:
    """The pydantic (or any project) class of a response model, unwrapping ``list[X]``; its field names."""
    if expr is None:
        return None
    if isinstance(expr, ast.Subscript) and ctx.qualname(expr.value) in ("builtins.list", "typing.List",
                                                                        "typing.Sequence", "builtins.tuple"):
        expr = expr.slice
    found = query.resolve_class(ctx, expr) if isinstance(expr, (ast.Name, ast.Attribute)) else None
    if found is None:
        return None
    fctx, cls = found
    if query._class_kind(fctx, cls) in ("mapped", "declarative"):
        return None  # a mapped class / SQLModel table, not a response schema
    names = {s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    return cls.name, names


def _lazy_relationship_names(project) -> dict[str, str]:
    """Every lazy (``lazy="select"``) relationship of the project's mapped classes: name → ``Class.name``."""
    out: dict[str, str] = {}
    for fctx in project.contexts_containing((b"relationship", b"Relationship")):
        for node in fctx.nodes_of(ast.ClassDef):
            mc = query._mapped(fctx, node)
            if mc is not None:
                for rel, lazy in sorted(mc.relationships.items()):
                    if lazy == "select":
                        out.setdefault(rel, f"{mc.name}.{rel}")
    return out


_CONTAINERS = ("builtins.list", "typing.List", "typing.Sequence", "builtins.tuple", "typing.Optional",
               "builtins.set", "typing.Set", "typing.Union")


def _serialized_lazy(ctx: FileContext, expr: ast.AST | None, lazy: dict[str, str], depth: int = 0,
                     seen: set | None = None) -> tuple[str, str] | None:
    """(field path, Class.rel) of a response-model field, at any depth, named after a lazy relationship."""
    seen = set() if seen is None else seen
    if expr is None or depth > 4:
        return None
    if isinstance(expr, ast.Subscript):
        inner = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if ctx.qualname(expr.value) in _CONTAINERS or ctx.qualname(expr.value) == "typing.Annotated":
            for e in inner[:1] if ctx.qualname(expr.value) == "typing.Annotated" else inner:
                found = _serialized_lazy(ctx, e, lazy, depth, seen)
                if found:
                    return found
        return None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return _serialized_lazy(ctx, expr.left, lazy, depth, seen) or _serialized_lazy(ctx, expr.right, lazy, depth, seen)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        try:
            expr = ast.parse(expr.value, mode="eval").body
        except SyntaxError:
            return None
        ctx.adopt(expr, ctx.tree)
    if not isinstance(expr, (ast.Name, ast.Attribute)):
        return None
    found = query.resolve_class(ctx, expr)
    if found is None or id(found[1]) in seen:
        return None
    fctx, cls = found
    seen.add(id(cls))
    if query._class_kind(fctx, cls) in ("mapped", "declarative"):
        return None  # a mapped class / SQLModel table, not a response schema
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if name in lazy:
                return f"{cls.name}.{name}", lazy[name]
            nested = _serialized_lazy(fctx, stmt.annotation, lazy, depth + 1, seen)
            if nested:
                return f"{cls.name}.{name} → {nested[0]}", nested[1]
    for base in cls.bases:
        nested = _serialized_lazy(fctx, base, lazy, depth + 1, seen)
        if nested:
            return nested
    return None


def _session_param(ctx: FileContext, func: ast.AsyncFunctionDef) -> str | None:
    args = func.args
    for a in args.posonlyargs + args.args + args.kwonlyargs:
        probe = ast.Name(id=a.arg, ctx=ast.Load())
        ctx.adopt(probe, func.body[0])
        if is_session(ctx, probe):
            return a.arg
    return None


_NOT_ORM = (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Compare, ast.BoolOp)


def _in_greenlet(value: ast.AST) -> bool:
    """``await <session>.run_sync(...)``: built inside the greenlet already."""
    return (isinstance(value, ast.Await) and isinstance(value.value, ast.Call)
            and isinstance(value.value.func, ast.Attribute) and value.value.func.attr == "run_sync")


def _serialize_in_greenlet(ctx: FileContext, func: ast.AsyncFunctionDef, decorator: ast.Call,
                           model_expr: ast.AST, covered: set[int]):
    """Endpoints whose returned value is opaque but whose response model serializes lazy relationships."""
    if ctx.project is None:
        return
    fix_ok = not _exclude_options(decorator)
    lazy = ctx.project.fact("afy206.lazy_relationships", _lazy_relationship_names)
    hit = _serialized_lazy(ctx, model_expr, lazy)  # type: ignore[arg-type]
    if hit is None:
        return
    field_path, rel = hit
    session = _session_param(ctx, func)
    model_text = ctx.segment(model_expr)
    for n in _walk_own(func):
        if not isinstance(n, ast.Return) or n.value is None or id(n) in covered or isinstance(n.value, _NOT_ORM):
            continue
        if _in_greenlet(n.value) or _plain_data(ctx, func, n.value):
            continue
        fix = _greenlet_fix(ctx, n, session, model_text) if fix_ok else None
        remedy = (f"build the response inside the session's greenlet with `await {session or 'db'}.run_sync(...)`, "
                  f"or eager-load it with `selectinload({rel})` where the value is queried")
        yield RULE.at(ctx, n, fix,
                      what=f"serializing `{field_path}` (the lazy relationship `{rel}`) for the response",
                      remedy=remedy, rel=rel, model="...",
                      )


def _greenlet_fix(ctx: FileContext, ret: ast.Return, session: str | None, model_text: str) -> Fix | None:
    """``return value`` → ``return await db.run_sync(lambda _, result: TypeAdapter(M).validate_python(
    result, from_attributes=True), value)``: the response model is built where lazy loads work."""
    if session is None or "\n" in model_text or query.has_comment(ctx, ctx.start(ret.value), ctx.end(ret.value)):
        return None
    v1 = versions.of(ctx).pydantic_v1
    spelling, req = ctx.import_ref("pydantic", "parse_obj_as" if v1 else "TypeAdapter")
    value = ctx.segment(ret.value)
    if isinstance(ret.value, (ast.NamedExpr, ast.Lambda, ast.IfExp, ast.Yield)):
        value = f"({value})"
    if v1:  # what FastAPI does with a pydantic 1 response model: validate the value as a field of that type
        text = f"await {session}.run_sync(lambda _, result: {spelling}({model_text}, result), {value})"
    else:
        text = (f"await {session}.run_sync(lambda _, result: {spelling}({model_text})"
                f".validate_python(result, from_attributes=True), {value})")
    return Fix([ctx.replace(ret.value, text)], Applicability.UNSAFE, [req] if req else [])


# statement field -> the expression a fix may wrap whole (evaluated once per execution of the statement)
_WRAPPABLE = {ast.Expr: "value", ast.Assign: "value", ast.AnnAssign: "value", ast.AugAssign: "value",
              ast.Return: "value", ast.If: "test", ast.While: "test", ast.For: "iter", ast.AsyncFor: "iter"}
# names whose meaning changes inside a lambda
_SCOPE_SENSITIVE = frozenset({"super", "locals", "vars", "__class__"})


_NESTED_CODE = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.JoinedStr)


def _run_in_greenlet(ctx: FileContext, func: ast.AsyncFunctionDef, node: ast.AST) -> Fix | None:
    """``obj.rel`` → ``await db.run_sync(lambda _: obj.rel)``: the read runs in SQLAlchemy's greenlet,
    where the lazy load (or the refresh of an expired object) happens as in the sync app, with the same
    SQL at the same point of the evaluation. Inside a comprehension or an f-string, the whole expression
    of the statement is wrapped instead (an expression statement, an assigned, returned or iterated
    value, an `if`/`while` test)."""
    session = _session_param(ctx, func)
    if session is None:
        return None
    if not any(isinstance(a, _NESTED_CODE) for a in ctx.ancestors(node)):
        text = f"await {session}.run_sync(lambda {_lambda_param(node, session)}: {ctx.segment(node)})"
        if needs_parentheses(ctx, node) and not ctx.is_parenthesized(node):
            text = f"({text})"
        return Fix([ctx.replace(node, text)], Applicability.UNSAFE)
    root: ast.AST = node
    for a in ctx.ancestors(node):
        if isinstance(a, ast.stmt):
            field = _WRAPPABLE.get(type(a))
            if field is None or getattr(a, field) is not root:
                return None
            break
        root = a
    else:
        return None
    for n in ast.walk(root):
        if isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Starred)):
            return None
        if isinstance(n, ast.Name) and n.id in _SCOPE_SENSITIVE:
            return None
    text = ctx.segment(root)
    if isinstance(root, ast.Tuple) and not ctx.is_parenthesized(root):
        text = f"({text})"
    return Fix([ctx.replace(root, f"await {session}.run_sync(lambda {_lambda_param(root, session)}: {text})")],
               Applicability.UNSAFE)


def _lambda_param(expr: ast.AST, session: str) -> str:
    """A name for the run_sync lambda's (unused) session parameter that ``expr`` does not use."""
    used = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
    return next(p for p in ("_", "_session", "_sync_session") if p not in used and p != session)


def _exclude_options(decorator: ast.Call) -> bool:
    return any(k.arg in ("response_model_exclude_unset", "response_model_exclude_defaults",
                         "response_model_exclude_none") for k in decorator.keywords)


def _response_model(ctx: FileContext, func: ast.AsyncFunctionDef, insts: dict[str, Instance]):
    model_expr = None
    for d in func.decorator_list:
        if fastapi.route_decorator(ctx, d):
            model_expr = next((k.value for k in d.keywords if k.arg == "response_model"), None)  # type: ignore[attr-defined]
            if model_expr is None:
                model_expr = func.returns
            decorator = d
            break
    else:
        return
    covered: set[int] = set()
    schema = _model_fields(ctx, model_expr)
    if schema is not None:
        greenlet = (_session_param(ctx, func), ctx.segment(model_expr)) if not _exclude_options(decorator) else None
        for ret, diag in _known_instances(ctx, func, insts, schema, greenlet):
            covered.add(id(ret))
            if diag is not None:
                yield diag
    yield from _serialize_in_greenlet(ctx, func, decorator, model_expr, covered)  # type: ignore[arg-type]


def _known_instances(ctx: FileContext, func: ast.AsyncFunctionDef, insts: dict[str, Instance], schema,
                     greenlet: tuple[str | None, str] | None):
    schema_name, fields = schema
    for n in _walk_own(func):
        if not isinstance(n, ast.Return) or n.value is None:
            continue
        inst: Instance | None = None
        if isinstance(n.value, ast.Name):
            inst = insts.get(n.value.id)
        else:
            p = _producer(ctx, n.value, func)
            if p is not None:
                inst = Instance("<result>", p[0], n.value, p[1], n, many=p[2], statement=p[3])
        if inst is None:
            continue
        yield n, None  # a visible instance: the checks below decide; the opaque-value check stays out
        for rel in sorted(fields):
            if inst.mc.relationships.get(rel) != "select" or _eager(inst, rel):
                continue
            if inst.name != "<result>" and _refreshes(ctx, func, inst.name, rel):
                continue
            fix = _fix(ctx, inst, rel)
            if fix is None and greenlet is not None:
                fix = _greenlet_fix(ctx, n, *greenlet)
            yield n, RULE.at(
                ctx, n, fix,
                what=f"serializing `{rel}` (a lazy relationship of `{inst.mc.name}`) for response model `{schema_name}`",
                remedy=_remedy(inst, rel, _session_name(ctx, func), versions.of(ctx).sqlalchemy_1x),
                rel=f"{inst.mc.name}.{rel}", model=inst.mc.name,
            )


def _fix(ctx: FileContext, inst: Instance, rel: str) -> Fix | None:
    sel = inst.select
    if sel is None or not isinstance(inst.producer, ast.AST):
        return None
    # only a select() written inside the statement that produces the returned value
    if not any(n is sel for n in ast.walk(inst.producer)):
        return None
    r = query.ref(ctx, sel, "sqlalchemy.orm", "selectinload")
    if r is None:
        return None
    spelling, req = r
    model = ctx.segment(sel.args[0])
    at = ctx.end(sel)
    return Fix([Edit(at, at, f".options({spelling}({model}.{rel}))")], Applicability.UNSAFE,
               [req] if req is not None else [])
