"""Name bindings of a module and of functions, from the stdlib ``ast``.

Qualified names are resolved through imports, never by local spelling: with
``from fastapi import APIRouter as R``, ``R`` is ``fastapi.APIRouter``; a parameter or local variable
named ``time`` is not the ``time`` module.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

FUNC_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)

# Public names that are re-exported under a shorter path; keys map to the canonical spelling.
CANONICAL = {
    "fastapi.applications.FastAPI": "fastapi.FastAPI",
    "fastapi.routing.APIRouter": "fastapi.APIRouter",
    "fastapi.param_functions.Depends": "fastapi.Depends",
    "fastapi.param_functions.Security": "fastapi.Security",
    "fastapi.params.Depends": "fastapi.Depends",
    "fastapi.params.Security": "fastapi.Security",
    "fastapi.background.BackgroundTasks": "fastapi.BackgroundTasks",
    "starlette.background.BackgroundTasks": "fastapi.BackgroundTasks",
    "sqlalchemy.orm.session.Session": "sqlalchemy.orm.Session",
    "sqlalchemy.orm.session.sessionmaker": "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.orm.scoping.scoped_session": "sqlalchemy.orm.scoped_session",
    "sqlalchemy.engine.create_engine": "sqlalchemy.create_engine",
    "sqlalchemy.engine.create.create_engine": "sqlalchemy.create_engine",
    "sqlalchemy.engine.Engine": "sqlalchemy.Engine",
    "sqlalchemy.engine.base.Engine": "sqlalchemy.Engine",
    "sqlmodel.create_engine": "sqlalchemy.create_engine",
    "sqlmodel.orm.session.Session": "sqlmodel.Session",
    "typing_extensions.Annotated": "typing.Annotated",
    "os.path": "os.path",
}


#: Modules whose name, used as ``name.attr`` where nothing in the file binds it (no import, no assignment,
#: no parameter), can only mean the module: the code would raise NameError otherwise. Snippets and
#: peers' test files use them that way (``subprocess.run()`` with no ``import subprocess``). The
#: top-level modules of the blocking-call catalogue (a test keeps them in step).
IMPLICIT_MODULES = frozenset({
    "argon2", "bcrypt", "codecs", "concurrent", "glob", "hashlib", "http", "httpx", "httpx2", "io", "os", "passlib",
    "pathlib", "psycopg2", "pymysql", "queue", "redis", "requests", "shutil", "socket", "sqlite3", "ssl",
    "subprocess", "tempfile", "threading", "time", "urllib", "urllib3", "werkzeug",
})


# Calling an instance of the key class produces an instance of the value class.
FACTORY_PRODUCTS = {
    "sqlalchemy.orm.sessionmaker": "sqlalchemy.orm.Session",
    "sqlalchemy.ext.asyncio.async_sessionmaker": "sqlalchemy.ext.asyncio.AsyncSession",
    "sqlalchemy.orm.scoped_session": "sqlalchemy.orm.Session",
}


def canonical(qualname: str | None) -> str | None:
    if qualname is None:
        return None
    return CANONICAL.get(qualname, qualname)


def dotted(expr: ast.AST) -> str | None:
    """``a.b.c`` for a chain of Names/Attributes, else None."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def absolute(module: str | None, name: str) -> str:
    """``name``, written in an absolute import in ``module``, as the project's module map names it:
    in an app whose packages another app of the repository named first, ``app.db`` is
    ``<app root>/app.db`` (``module.imports``, project/discover.py ``ModuleName``)."""
    imports = getattr(module, "imports", None)
    if not imports:
        return name
    top, dot, rest = name.partition(".")
    found = imports.get(top)
    return name if found is None else found + dot + rest


def resolve_relative(module: str | None, is_package: bool, level: int, target: str | None) -> str | None:
    """Absolute module name of ``from <level dots><target> import ...`` in ``module``."""
    if level == 0:
        return absolute(module, target) if target else target
    if module is None:
        return None
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    up = level - 1
    if up > len(parts):
        return None
    base = parts[: len(parts) - up] if up else parts
    if target:
        base = base + [target]
    return ".".join(base) if base else None


@dataclass
class Binding:
    """What a name is bound to in one scope."""

    kind: str  # "import", "def", "class", "assign", "param", "local"
    qualname: str | None = None  # imports: the imported thing; def/class: module.name
    value: ast.AST | None = None  # assign: the assigned expression; param: the annotation
    node: ast.AST | None = None
    annotation: ast.AST | None = None
    #: an annotated parameter the function assigns again: what a read sees depends on where it is
    rebound: bool = False
    #: ``Session = Annotated[Session, Depends(get_db)]``: the import (or def, class) the assignment
    #: rebinds and reads in its own value; a read inside that value sees it, every other read the alias
    previous: "Binding | None" = None


@dataclass
class Scope:
    bindings: dict[str, Binding] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)


def _collect_import(stmt: ast.AST, scope: Scope, module: str | None, is_package: bool) -> None:
    if isinstance(stmt, ast.Import):
        for a in stmt.names:
            if a.asname:
                scope.bindings[a.asname] = Binding("import", absolute(module, a.name), node=stmt)
            else:
                top = a.name.split(".")[0]
                scope.bindings[top] = Binding("import", absolute(module, top), node=stmt)
    elif isinstance(stmt, ast.ImportFrom):
        base = resolve_relative(module, is_package, stmt.level, stmt.module)
        for a in stmt.names:
            if a.name == "*":
                continue
            qn = f"{base}.{a.name}" if base else None
            scope.bindings[a.asname or a.name] = Binding("import", qn, node=stmt)


def _target_names(target: ast.AST):
    if isinstance(target, ast.Name):
        yield target
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _same_callee(a: ast.AST, b: ast.AST) -> bool:
    """Two assigned values are the same kind of value: the same callee (``x = f(1)`` then ``x = f(2)``),
    or the same expression when neither is a call of a dotted name."""
    fa, fb = getattr(a, "func", a), getattr(b, "func", b)
    da = dotted(fa)
    if da is not None:
        return da == dotted(fb)
    return dotted(fb) is None and ast.dump(fa) == ast.dump(fb)


def _reads_name(value: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(value))


def _bind_store(scope: Scope, target: ast.AST, value: ast.AST | None, annotation: ast.AST | None = None) -> None:
    single = isinstance(target, ast.Name)
    for name in _target_names(target):
        prev = scope.bindings.get(name.id)
        if prev is not None and prev.kind == "assign" and single and value is not None:
            if prev.value is None:
                # `x: T` then `x = ...`: the value joins the declared annotation
                scope.bindings[name.id] = Binding("assign", value=value, node=name,
                                                  annotation=annotation or prev.annotation)
                continue
            # a second assignment: keep it only if it is the same kind of value (same callee), declared
            # the same way (`c: PoolManager = ...` then `c: ProxyManager = ...` are two types)
            if not _same_callee(prev.value, value) or (
                    annotation is not None and prev.annotation is not None
                    and ast.dump(annotation) != ast.dump(prev.annotation)):
                scope.bindings[name.id] = Binding("local", node=name)
                continue
        if prev is not None and prev.kind in ("import", "def", "class", "param") and prev.kind != "param":
            if single and prev.previous is None and (isinstance(value, ast.Subscript)
                                                     or value is not None and _reads_name(value, name.id)):
                # `Session = Annotated[Session, Depends(get_db)]`: an alias built from the name it
                # shadows, which every later read means (FastAPI's `Annotated` dependency idiom; the
                # migration makes it `Annotated[AsyncSession, ...]`, still the same alias)
                scope.bindings[name.id] = Binding("assign", value=value, node=name, annotation=annotation,
                                                  previous=prev)
                continue
            # rebinding an import/def at the same level: the name is no longer reliable
            scope.bindings[name.id] = Binding("local", node=name)
            continue
        if prev is not None and prev.kind == "local":
            continue  # bound several ways already: a later assignment does not make it reliable again
        if prev is not None and prev.kind == "param":
            if prev.annotation is None and single and value is not None:
                scope.bindings[name.id] = Binding("assign", value=value, node=name, annotation=annotation)
            else:
                prev.rebound = True
            continue
        scope.bindings[name.id] = Binding(
            "assign" if single and (value is not None or annotation is not None) else "local",
            value=value if single else None,
            node=name,
            annotation=annotation,
        )


_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_BLOCK_FIELD_MAP: dict[type, tuple[str, ...]] = {}


def block_fields(cls: type) -> tuple[str, ...]:
    """The fields of a module, statement, exception handler or match case class that hold statements,
    handlers or match cases, in ``_fields`` order (``Try``: body, handlers, orelse, finalbody); none
    for expressions (defs are never inside one)."""
    found = _BLOCK_FIELD_MAP.get(cls)
    if found is None:
        found = ()
        if issubclass(cls, (ast.stmt, ast.excepthandler, ast.match_case, ast.Module)):
            found = tuple(f for f in cls._fields if f in _BLOCKS)  # type: ignore[attr-defined]
        _BLOCK_FIELD_MAP[cls] = found
    return found


def statements(node: ast.AST):
    """The statements inside ``node`` (a def, class or compound statement), nested blocks, handlers,
    match cases and defs included: the statements ``ast.walk`` would find, without visiting the
    expressions (in no particular order)."""
    stack = [node]
    while stack:
        n = stack.pop()
        for name in block_fields(n.__class__):
            for child in getattr(n, name):
                if isinstance(child, ast.stmt):
                    yield child
                stack.append(child)


# Fields that never hold a node worth visiting: names and flags, and the expression contexts and
# operators (`Load`, `Add`...), which the parser shares between all the nodes that use them.
_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "asname", "type_comment", "kind",
                          "level", "is_async", "conversion", "simple", "module", "lineno"})
CHILD_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold child nodes worth visiting."""
    fields = CHILD_FIELDS.get(cls)
    if fields is None:
        fields = CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _LEAF_FIELDS)  # type: ignore[attr-defined]
    return fields


class _ScopeBuilder(ast.NodeVisitor):
    """Collects the bindings of one scope without entering nested scopes.

    Expressions bind names only through ``:=``; in a file without one (``walrus`` False) they are not
    visited at all, which leaves the statements, a small part of the tree."""

    _methods: dict[type, str] = {}

    def __init__(self, scope: Scope, module: str | None, is_package: bool, owner: str | None,
                 walrus: bool = True) -> None:
        self.scope = scope
        self.module = module
        self.is_package = is_package
        self.owner = owner  # qualname prefix for defs in this scope (module scope only)
        self.walrus = walrus

    def visit(self, node: ast.AST) -> None:
        cls = node.__class__
        if not self.walrus and isinstance(node, ast.expr):
            return
        name = self._methods.get(cls)
        if name is None:
            name = "visit_" + cls.__name__
            if not hasattr(self, name):
                name = "generic_visit"
            self._methods[cls] = name
        getattr(self, name)(node)

    def generic_visit(self, node: ast.AST) -> None:
        visit, AST = self.visit, ast.AST
        cls = node.__class__
        for name in CHILD_FIELDS.get(cls) or child_fields(cls):
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, AST):
                        visit(item)
            elif isinstance(value, AST):
                visit(value)

    def visit_Import(self, node: ast.Import) -> None:
        _collect_import(node, self.scope, self.module, self.is_package)

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def _def(self, node: ast.AST, kind: str) -> None:
        name = node.name  # type: ignore[attr-defined]
        qn = f"{self.owner}.{name}" if self.owner else None
        prev = self.scope.bindings.get(name)
        if prev is not None and prev.kind not in (kind,):
            self.scope.bindings[name] = Binding("local", node=node)
        else:
            self.scope.bindings[name] = Binding(kind, qn, node=node)
        for d in getattr(node, "decorator_list", ()):
            self.visit(d)

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self._def(node, "def")
        args = node.args  # type: ignore[attr-defined]
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(d)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._def(node, "class")
        for b in node.bases:
            self.visit(b)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in node.args.defaults:
            self.visit(d)

    def _comprehension(self, node: ast.AST) -> None:
        # comprehension targets are their own scope; only the first iterable is evaluated here
        gens = node.generators  # type: ignore[attr-defined]
        if gens:
            self.visit(gens[0].iter)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # type: ignore[assignment]

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.declared_global.update(node.names)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            _bind_store(self.scope, t, node.value)
            self._visit_target_subexprs(t)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        _bind_store(self.scope, node.target, node.value, node.annotation)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.scope.bindings.setdefault(node.target.id, Binding("local", node=node.target))

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        _bind_store(self.scope, node.target, node.value)

    def visit_For(self, node: ast.AST) -> None:
        for name in _target_names(node.target):  # type: ignore[attr-defined]
            self.scope.bindings[name.id] = Binding("local", node=name)
        self.visit(node.iter)  # type: ignore[attr-defined]
        for stmt in node.body + node.orelse:  # type: ignore[attr-defined]
            self.visit(stmt)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_With(self, node: ast.AST) -> None:
        for item in node.items:  # type: ignore[attr-defined]
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                if isinstance(item.optional_vars, ast.Name):
                    name = item.optional_vars.id
                    prev = self.scope.bindings.get(name)
                    if prev is None:
                        self.scope.bindings[name] = Binding("with", value=item.context_expr, node=item.optional_vars)
                    else:
                        self.scope.bindings[name] = Binding("local", node=item.optional_vars)
                else:
                    for n in _target_names(item.optional_vars):
                        self.scope.bindings[n.id] = Binding("local", node=n)
        for stmt in node.body:  # type: ignore[attr-defined]
            self.visit(stmt)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.scope.bindings[node.name] = Binding("local", node=node)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.AST) -> None:
        if getattr(node, "name", None):
            self.scope.bindings[node.name] = Binding("local", node=node)  # type: ignore[attr-defined]
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs  # type: ignore[assignment]

    def visit_MatchMapping(self, node: ast.AST) -> None:
        if getattr(node, "rest", None):
            self.scope.bindings[node.rest] = Binding("local", node=node)  # type: ignore[attr-defined]
        self.generic_visit(node)

    def _visit_target_subexprs(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            self.visit(target)


def build_module_scope(tree: ast.Module, module: str | None, is_package: bool, walrus: bool = True) -> Scope:
    scope = Scope()
    builder = _ScopeBuilder(scope, module, is_package, owner=module or "", walrus=walrus)
    for stmt in tree.body:
        builder.visit(stmt)
    return scope


def parameters(func: ast.AST) -> list[tuple[ast.arg, ast.AST | None]]:
    """A function's named parameters (positional-only, positional, keyword-only), each with its default."""
    args = func.args  # type: ignore[attr-defined]
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    return list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))


def build_function_scope(func: ast.AST, module: str | None, is_package: bool, walrus: bool = True) -> Scope:
    scope = Scope()
    args = func.args  # type: ignore[attr-defined]
    for a, default in parameters(func):
        scope.bindings[a.arg] = Binding("param", node=a, annotation=a.annotation, value=default)
    for a in (args.vararg, args.kwarg):
        if a is not None:
            scope.bindings[a.arg] = Binding("local", node=a)
    builder = _ScopeBuilder(scope, module, is_package, owner=None, walrus=walrus)
    body = func.body if isinstance(func.body, list) else [func.body]  # type: ignore[attr-defined]
    for stmt in body:
        builder.visit(stmt)
    for name in scope.declared_global:
        scope.bindings.pop(name, None)
    return scope
