"""FileContext: everything a rule may ask about one file, computed lazily from the stdlib ``ast``."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from asyncify_lint.diagnostics import Edit, ImportRequest
from asyncify_lint.engine.scope import (
    CHILD_FIELDS,
    Binding,
    Scope,
    build_function_scope,
    FACTORY_PRODUCTS,
    IMPLICIT_MODULES,
    build_module_scope,
    canonical,
    child_fields,
    statements,
)
from asyncify_lint.engine.source import SourceFile

if TYPE_CHECKING:
    from asyncify_lint.config import Settings


class ProjectView(Protocol):
    """The project as a file's context asks it about other modules' names: what a re-exported name
    is, the type of a module-level value, a type alias. A ``Project`` and a ``ModuleView`` of it
    (project/) are ones; the context needs nothing else of them and imports nothing of the project
    (the rules and helpers ask the same object more: ``function_def``, ``fact``, ``graph``)."""

    def resolve_reexport(self, qualname: str, _depth: int = 0) -> str: ...

    def type_of_qualname(self, qualname: str, _depth: int = 0) -> str | None: ...

    def type_alias(self, qualname: str) -> str | None: ...


def link_parents(tree: ast.AST, parents: dict[int, ast.AST] | None = None,
                 by_type: dict[type, list[ast.AST]] | None = None) -> list[ast.AST]:
    """Record every node's parent in ``parents`` (keyed by ``id``); returns every node, breadth-first
    (but the shared context and operator singletons, which have no position and no single parent).
    ``by_type`` receives the same nodes by class, each list in the same (breadth-first) order, so that
    a pass interested in calls or names does not visit every node again.

    A side table rather than an attribute on the nodes: no reference cycles, so a tree is freed as
    soon as its context is, without waking the cyclic garbage collector on large runs.
    """
    if parents is None:
        parents = {}
    if by_type is None:
        by_type = {}
    order: list[ast.AST] = [tree]
    append = order.append
    AST = ast.AST
    fields_of = CHILD_FIELDS
    seen: dict[type, tuple[tuple[str, ...], Any]] = {}  # class -> (child fields, its list's append)
    i = 0
    while i < len(order):
        node = order[i]
        i += 1
        cls = node.__class__
        entry = seen.get(cls)
        if entry is None:
            fields = fields_of.get(cls)
            if fields is None:
                fields = child_fields(cls)
            entry = seen[cls] = (fields, by_type.setdefault(cls, []).append)
        fields, add = entry
        add(node)
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for child in value:
                    if isinstance(child, AST):
                        parents[id(child)] = node
                        append(child)
            elif isinstance(value, AST):
                parents[id(value)] = node
                append(value)
    return order


_SCOPE_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_NAMED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs, ast.MatchStar,
          ast.MatchMapping)


class FileContext:
    def __init__(
        self,
        source: SourceFile,
        tree: ast.Module,
        *,
        display_path: str,
        module: str | None = None,
        is_package: bool = False,
        project: "ProjectView | None" = None,
        settings: "Settings | None" = None,
        is_test: bool = False,
    ) -> None:
        self.source = source
        self.tree = tree
        self.display_path = display_path
        self.module = module
        self.is_package = is_package
        self.project = project
        self.settings = settings
        self.is_test = is_test
        self._module_scope: Scope | None = None
        self._func_scopes: dict[int, Scope] = {}
        self.cache: dict[str, Any] = {}  # per-file memo for rules and helpers
        self._nodes: list[ast.AST] | None = None
        self._by_type: dict[type, list[ast.AST]] = {}
        self._parents: dict[int, ast.AST] = {}
        self._string_annotations: list[ast.AST] = []
        self._bound: dict[int, set[str]] | None = None
        self._bound_anywhere: set[str] = set()  # names some function binds (the others are module names)
        self._params_only: set[str] = set()  # names functions bind only as parameters
        self._qualnames: dict[int, str | None] = {}
        self._lookups: dict[tuple[str, int], Binding | None] = {}

    @property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree, parents linked (done once, on first use)."""
        if self._nodes is None:
            self._nodes = link_parents(self.tree, self._parents, self._by_type)
        return self._nodes

    def nodes_of(self, *types: type) -> list[ast.AST]:
        """The nodes of exactly these classes, breadth-first within each class, class after class."""
        if self._nodes is None:
            self.nodes  # noqa: B018 - links parents
        by_type = self._by_type
        if len(types) == 1:
            return by_type.get(types[0], [])
        out: list[ast.AST] = []
        for t in types:
            out += by_type.get(t, ())
        return out

    # -- positions ---------------------------------------------------------------------------
    def position(self, node: ast.AST) -> tuple[int, int]:
        lineno = node.lineno  # type: ignore[attr-defined]
        return lineno, self.source.char_col(lineno, node.col_offset)  # type: ignore[attr-defined]

    def end_position(self, node: ast.AST) -> tuple[int, int]:
        lineno = node.end_lineno  # type: ignore[attr-defined]
        return lineno, self.source.char_col(lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def start(self, node: ast.AST) -> int:
        return self.source.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.source.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        return self.source.text[self.start(node) : self.end(node)]

    def replace(self, node: ast.AST, content: str) -> Edit:
        return Edit(self.start(node), self.end(node), content)

    def is_parenthesized(self, node: ast.AST) -> bool:
        """Whether ``node`` is directly wrapped in its own pair of parentheses."""
        text = self.source.text
        i = self.start(node) - 1
        while i >= 0 and text[i] in " \t\r\n\\":
            i -= 1
        j = self.end(node)
        while j < len(text) and text[j] in " \t\r\n\\":
            j += 1
        if not (i >= 0 and text[i] == "(" and j < len(text) and text[j] == ")"):
            return False
        p = self.parent(node)
        if isinstance(p, ast.Call) and node is not p.func:
            # `f(x)`: the parentheses of a sole argument belong to the call
            k = self.end(p.func)
            while k < len(text) and text[k] in " \t\r\n\\":
                k += 1
            if k == i:
                return False
        return True

    # -- tree structure ----------------------------------------------------------------------
    def parent(self, node: ast.AST) -> ast.AST | None:
        if self._nodes is None:
            self.nodes  # noqa: B018 - links parents
        return self._parents.get(id(node))

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        if self._nodes is None:
            self.nodes  # noqa: B018 - links parents
        get = self._parents.get
        p = get(id(node))
        while p is not None:
            yield p
            p = get(id(p))

    def share_structure(self, other: "FileContext") -> None:
        """Reuse another context's work on the same tree and module: parent links, scopes and bound
        names (not the memo of qualified names, which depends on the project view)."""
        assert other.tree is self.tree and other.module == self.module and other.is_package == self.is_package
        self._nodes = other.nodes
        self._by_type = other._by_type
        self._parents = other._parents
        self._bound = other._bound_names()
        self._bound_anywhere = other._bound_anywhere
        self._params_only = other._params_only
        self._module_scope = other.module_scope
        self._func_scopes = other._func_scopes
        self._string_annotations = other._string_annotations

    def adopt(self, node: ast.AST, parent_node: ast.AST) -> None:
        """Give a node built outside the tree (a parsed string annotation) a parent for name lookups.

        The node is kept alive with the context: parents (and memos) are keyed by ``id``."""
        self.nodes  # noqa: B018 - links parents
        self._string_annotations.append(node)
        self._parents[id(node)] = parent_node

    def enclosing_function(self, node: ast.AST) -> ast.AST | None:
        """Nearest enclosing ``def``/``async def``/``lambda`` (None at module or class level)."""
        for a in self.ancestors(node):
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return a
            if isinstance(a, ast.ClassDef):
                return None
        return None

    def in_async_function(self, node: ast.AST) -> bool:
        """True when ``node`` runs in the body of an ``async def`` (not inside a nested def or lambda)."""
        f = self.enclosing_function(node)
        return isinstance(f, ast.AsyncFunctionDef)

    def in_generator_expression(self, node: ast.AST, stop: ast.AST | None = None) -> bool:
        for a in self.ancestors(node):
            if a is stop or isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
            if isinstance(a, ast.GeneratorExp):
                return True
        return False

    def is_awaited(self, node: ast.AST) -> bool:
        return isinstance(self.parent(node), ast.Await)

    # -- scopes and names --------------------------------------------------------------------
    @property
    def module_scope(self) -> Scope:
        if self._module_scope is None:
            self._module_scope = build_module_scope(self.tree, self.module, self.is_package, self._walrus)
        return self._module_scope

    @property
    def _walrus(self) -> bool:
        """Whether the file may contain ``:=`` (the only binding inside expressions)."""
        found = self.cache.get("scope.walrus")
        if found is None:
            found = self.cache["scope.walrus"] = ":=" in self.source.text
        return found

    def function_scope(self, func: ast.AST) -> Scope:
        key = id(func)
        scope = self._func_scopes.get(key)
        if scope is None:
            scope = build_function_scope(func, self.module, self.is_package, self._walrus)
            self._func_scopes[key] = scope
        return scope

    def _bound_names(self) -> dict[int, set[str]]:
        """Per function (by ``id``), a superset of the names it binds, from one pass over the tree: a
        name bound in none of the enclosing functions is a module-level (or builtin) name, so most
        lookups never build a function's scope."""
        if self._bound is not None:
            return self._bound
        get = self._parents.get
        bound: dict[int, set[str]] = {}
        params: set[str] = set()
        others: set[str] = set()
        funcs = _SCOPE_FUNCS
        Name, arg, alias, Load = ast.Name, ast.arg, ast.alias, ast.Load
        for node in self.nodes_of(Name, arg, alias, *_NAMED, ast.Global, ast.Nonlocal):
            c = node.__class__
            if c is Name:
                if node.ctx.__class__ is Load:  # type: ignore[attr-defined]
                    continue
                names = (node.id,)  # type: ignore[attr-defined]
            elif c is arg:
                names = (node.arg,)  # type: ignore[attr-defined]
            elif c is alias:
                names = (node.asname or node.name.split(".")[0],)  # type: ignore[attr-defined]
            elif c in _NAMED:
                name = getattr(node, "name", None) or getattr(node, "rest", None)
                if not name:
                    continue
                names = (name,)
            elif c is ast.Global or c is ast.Nonlocal:
                names = tuple(node.names)  # type: ignore[attr-defined]
            else:
                continue
            p = get(id(node))
            if c is arg and p is not None:
                p = get(id(p))  # arg -> arguments -> the function
            while p is not None and p.__class__ not in funcs:
                p = get(id(p))
            if p is not None:
                bound.setdefault(id(p), set()).update(names)
                (params if c is arg else others).update(names)
        self._bound = bound
        self._bound_anywhere = set().union(*bound.values())
        self._params_only = params - others
        return bound

    def parameter_only(self, name: str) -> bool:
        """Whether every function that binds ``name`` binds it as a parameter, and the module does not:
        wherever it is read, it is a parameter (or an undefined name), never a function or an import."""
        if self._bound is None:
            self._bound_names()
        return name in self._params_only and name not in self.module_scope.bindings

    def lookup(self, name: str, node: ast.AST) -> Binding | None:
        """The binding ``name`` refers to at ``node``: enclosing functions first, then the module
        (memoised for the nodes of this tree: several rules ask about the same names)."""
        key = (name, id(node))
        memo = self._lookups
        if key in memo:
            return memo[key]
        result = self._lookup(name, node)
        if key[1] in self._parents:
            memo[key] = result
        return result

    def _lookup(self, name: str, node: ast.AST) -> Binding | None:
        bound = self._bound if self._bound is not None else self._bound_names()
        if name not in self._bound_anywhere:
            return self._module_binding(name, node)  # no function binds it: what the walk would find
        get = self._parents.get
        in_class_body = True
        p = get(id(node))
        while p is not None:
            c = p.__class__
            if c in _SCOPE_FUNCS:
                in_class_body = False
                if name in bound.get(id(p), ()):
                    b = self.function_scope(p).bindings.get(name)
                    if b is not None:
                        return b
            elif c is ast.ClassDef and in_class_body:
                in_class_body = False  # class bodies are not visible from methods
            p = get(id(p))
        return self._module_binding(name, node)

    def _module_binding(self, name: str, node: ast.AST) -> Binding | None:
        """The module-level binding of ``name`` read at ``node``: an alias that shadows what it is
        built from (``Session = Annotated[Session, ...]``) means the shadowed binding inside its own
        value."""
        b = self.module_scope.bindings.get(name)
        if b is not None and b.previous is not None and b.value is not None and _inside(node, b.value):
            return b.previous
        return b

    def qualname(self, expr: ast.AST) -> str | None:
        """Canonical qualified name of a Name/Attribute chain, resolved through imports (memoised for
        the nodes of this tree)."""
        key = id(expr)
        memo = self._qualnames
        if key in memo:
            return memo[key]
        result = self._qualname(expr)
        if key in self._parents:
            memo[key] = result
        return result

    def _qualname(self, expr: ast.AST) -> str | None:
        attrs = []
        while isinstance(expr, ast.Attribute):
            attrs.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        b = self.lookup(expr.id, expr)
        if b is None:
            base = expr.id if attrs and expr.id in IMPLICIT_MODULES else f"builtins.{expr.id}"
        elif b.kind in ("import", "def", "class") and b.qualname:
            base = b.qualname
        else:
            return None
        if attrs:
            base = base + "." + ".".join(reversed(attrs))
        if self.project is not None and not base.startswith("builtins."):
            base = self.project.resolve_reexport(base)
        return canonical(base)

    def could_name(self, expr: ast.AST, targets: frozenset[str], normalize=canonical) -> bool:
        """A cheap syntactic test to run before ``qualname``: can ``expr`` name one of ``targets``?

        True when its last component is a target's last component, or it is a module-level import
        alias of a target (``from sqlalchemy import create_engine as ce``). A False is final; a True
        still needs ``qualname`` to decide.
        """
        key = ("could_name", id(targets))
        entry = self.cache.get(key)
        if entry is None:
            lasts = frozenset(t.rsplit(".", 1)[-1] for t in targets)
            aliases = frozenset(
                local for local, b in self.module_scope.bindings.items()
                if b.kind == "import" and b.qualname and normalize(b.qualname) in targets
            )
            entry = self.cache[key] = (lasts, aliases, targets)  # keeps ``targets`` alive for its id
        if expr.__class__ is ast.Attribute:
            return expr.attr in entry[0]  # type: ignore[attr-defined]
        if expr.__class__ is ast.Name:
            return expr.id in entry[0] or expr.id in entry[1]  # type: ignore[attr-defined]
        return False

    def type_of(self, expr: ast.AST, _depth: int = 0) -> str | None:
        """Canonical qualified name of the class of ``expr``'s value, when it is known statically.

        Known from: a constructor call (``FastAPI()``), a variable assigned one (in this module, a
        function, or another project module), an annotation, or ``with X() as x``.
        """
        if _depth > 8:
            return None
        if isinstance(expr, ast.Call):
            func = expr.func
            if isinstance(func, (ast.Name, ast.Attribute)):
                callee_type = self.type_of(func, _depth + 1)
                if callee_type in FACTORY_PRODUCTS:
                    return FACTORY_PRODUCTS[callee_type]
                if callee_type is not None and callee_type.startswith("returns:"):
                    return callee_type[len("returns:"):]
            return self.qualname(func)
        if isinstance(expr, ast.Name):
            b = self.lookup(expr.id, expr)
            if b is None:
                return None
            return self.binding_type(b, _depth)
        if isinstance(expr, ast.Attribute):
            qn = self.qualname(expr)
            if qn and self.project is not None:
                return self.project.type_of_qualname(qn, _depth + 1)
            if qn is None and expr.value.__class__ is ast.Name:
                return self.self_attribute_type(expr, lambda a, v: self._declared_type(a, v, _depth),
                                                "instance_attribute_types")
        return None

    def straight_line_assignment(self, name: ast.Name) -> tuple[ast.AST | None, ast.AST | None] | None:
        """(annotation, value) of the assignment a read of a name bound several times in its function
        sees: the nearest ``x = v`` / ``x: T = v`` before it in its block or an enclosing one, or the
        ``with v as x:`` whose body holds it ((None, v)), when nothing between binds ``x``: no statement
        before it in those blocks, no other part of a compound statement around it (a ``for`` target,
        another ``with ... as``, an ``except ... as``, the ``try`` body before a handler, the other
        branch of an ``if``), and no statement of a loop around it (its next iteration would see that).
        (None, None) when nothing before it in the function binds ``x`` (a parameter's read sees the
        argument). None otherwise."""
        ident = name.id
        node, p = name, self.parent(name)
        while p is not None and not isinstance(node, ast.stmt):
            node, p = p, self.parent(p)
        if _binds(node, ident):  # the statement of the read binds it too (a comprehension, a walrus)
            return None
        while p is not None:
            block, others = None, []
            for f in p._fields:  # type: ignore[attr-defined]
                value = getattr(p, f, None)
                if block is None and isinstance(value, list) and any(x is node for x in value):
                    block = value
                elif isinstance(value, list):
                    others.extend(value)
                elif isinstance(value, ast.AST):
                    others.append(value)
            if block is not None:
                for prev in reversed(block[: next(i for i, x in enumerate(block) if x is node)]):
                    if not _binds(prev, ident):
                        continue
                    if isinstance(prev, ast.Assign) and len(prev.targets) == 1 \
                            and isinstance(prev.targets[0], ast.Name):
                        return None, prev.value
                    if isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name):
                        return prev.annotation, prev.value  # type: ignore[return-value]
                    return None
            if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return None, None
            if isinstance(p, (ast.ClassDef, ast.Module)):
                return None
            if isinstance(p, (ast.With, ast.AsyncWith)) and block is p.body:
                bound = [item for item in p.items if _binds(item, ident)]
                if len(bound) == 1 and isinstance(bound[0].optional_vars, ast.Name) \
                        and bound[0].optional_vars.id == ident and not _binds(bound[0].context_expr, ident):
                    return None, bound[0].context_expr
            if getattr(p, "name", None) == ident or any(_binds(o, ident) for o in others):
                return None
            if isinstance(p, (ast.For, ast.AsyncFor, ast.While)) and any(_binds(s, ident) for s in block or ()):
                return None
            node, p = p, self.parent(p)
        return None

    def self_class(self, expr: ast.AST) -> ast.ClassDef | None:
        """The class whose instance ``expr`` is, when it is the first parameter (``self``) of a method
        defined directly in a class body."""
        if expr.__class__ is not ast.Name:
            return None
        b = self.lookup(expr.id, expr)  # type: ignore[attr-defined]
        if b is None or b.kind != "param":
            return None
        method = self.parent(self.parent(b.node))  # arg -> arguments -> def
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        args = method.args.posonlyargs + method.args.args
        if not args or args[0] is not b.node:
            return None
        cls = self.parent(method)
        return cls if isinstance(cls, ast.ClassDef) else None

    def instance_attributes(self, cls: ast.ClassDef) -> list[tuple[str, ast.AST | None, ast.AST | None]]:
        """(name, annotation, value) of what a class declares for its instances: the annotations of its
        body (``client: httpx.Client``) and the ``self.x = ...`` / ``self.x: T = ...`` of its ``__init__``
        (memoised per class)."""
        memo = self.cache.setdefault("instance_attributes", {})
        found = memo.get(id(cls))
        if found is not None:
            return found
        found = memo[id(cls)] = []
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                found.append((stmt.target.id, stmt.annotation, None))
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__" and (stmt.args.posonlyargs + stmt.args.args):
                self_name = (stmt.args.posonlyargs + stmt.args.args)[0].arg
                for node in statements(stmt):
                    if isinstance(node, ast.Assign):
                        targets, ann, value = node.targets, None, node.value
                    elif isinstance(node, ast.AnnAssign):
                        targets, ann, value = [node.target], node.annotation, node.value
                    else:
                        continue
                    for tgt in targets:
                        if isinstance(tgt, ast.Attribute) and isinstance(tgt.value, ast.Name) and tgt.value.id == self_name:
                            found.append((tgt.attr, ann, value))
        return found

    def self_attribute_type(self, expr: ast.Attribute, declared: Callable[[Any, Any], str | None],
                            key: str) -> str | None:
        """The type of ``self.x`` in a method, when every declaration of ``x`` in the class (see
        ``instance_attributes``) gives the same one by ``declared(annotation, value)``; an annotation that
        gives none, with no value, says nothing. Memoised per class and attribute under ``key`` (each
        caller has its own kind of type: canonical classes here, tracked types for the blocking rules)."""
        cls = self.self_class(expr.value)
        if cls is None:
            return None
        memo = self.cache.setdefault(key, {})
        k = (id(cls), expr.attr)
        if k in memo:
            return memo[k]
        memo[k] = None  # recursion guard
        types = set()
        for name, ann, value in self.instance_attributes(cls):
            if name == expr.attr:
                t = declared(ann, value)
                if t is not None or value is not None:
                    types.add(t)
        found = memo[k] = types.pop() if len(types) == 1 else None
        return found

    def _declared_type(self, ann: ast.AST | None, value: ast.AST | None, _depth: int = 0) -> str | None:
        t = self.annotation_type(ann) if ann is not None else None
        if t is None and value is not None:
            t = self.type_of(value, _depth + 1)
        return t

    def binding_type(self, b: Binding, _depth: int = 0) -> str | None:
        if b.annotation is not None:
            ann = self.annotation_type(b.annotation)
            if ann:
                return ann
        if b.kind in ("assign", "with") and b.value is not None:
            if b.kind == "with":
                return "with:" + (self.type_of(b.value, _depth + 1) or "?")
            return self.type_of(b.value, _depth + 1)
        if b.kind == "import" and b.qualname and self.project is not None:
            return self.project.type_of_qualname(b.qualname, _depth + 1)
        if b.kind == "def" and getattr(b.node, "returns", None) is not None:
            ret = self.annotation_type(b.node.returns)  # type: ignore[union-attr]
            return f"returns:{ret}" if ret else None
        return None

    def annotation_type(self, ann: ast.AST) -> str | None:
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except SyntaxError:
                return None
            self._string_annotations.append(ann)  # keep it alive: parents are keyed by id
            self.adopt(ann, self.tree)
            for child in ast.walk(ann):
                for grandchild in ast.iter_child_nodes(child):
                    self._parents[id(grandchild)] = child
        if isinstance(ann, ast.Subscript):
            # (`builtins.` is an unimported name: annotations are not evaluated under PEP 563)
            base = self.qualname(ann.value)
            if base in ("typing.Annotated",) and isinstance(ann.slice, ast.Tuple) and ann.slice.elts:
                return self.annotation_type(ann.slice.elts[0])
            if base in ("typing.Optional", "builtins.Optional"):
                return self.annotation_type(ann.slice)
            if base in ("typing.Union", "builtins.Union"):  # Union[X, None]
                members = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
                real = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
                return self.annotation_type(real[0]) if len(real) == 1 else None
            return None
        if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
            # X | None, None | X
            if isinstance(ann.right, ast.Constant) and ann.right.value is None:
                return self.annotation_type(ann.left)
            if isinstance(ann.left, ast.Constant) and ann.left.value is None:
                return self.annotation_type(ann.right)
            return None
        qn = self.qualname(ann)
        if qn and self.project is not None and not qn.startswith("builtins."):
            alias = self.project.type_alias(qn)
            if alias is not None:
                return alias
        if qn is None and isinstance(ann, ast.Name):
            b = self.lookup(ann.id, ann)
            if b is not None and b.kind == "assign" and b.value is not None:
                return self.annotation_type(b.value)
        return qn

    # -- imports for fixes -------------------------------------------------------------------
    def imported_names(self) -> dict[str, str]:
        """Imported qualified name -> the first module-level name bound to it (in binding order), for
        every module-level import: built once per file, so that each fix's question about an import
        is a dictionary lookup rather than a scan of the module's bindings."""
        found = self.cache.get("imported_names")
        if found is None:
            found = self.cache["imported_names"] = {}
            for local, b in self.module_scope.bindings.items():
                if b.kind == "import" and b.qualname is not None and b.qualname not in found:
                    found[b.qualname] = local
        return found

    def import_ref(self, module: str, name: str | None = None) -> tuple[str, ImportRequest | None]:
        """How to spell ``module`` (or ``module.name``) here, and the import to add if needed.

        Reuses an existing module-level binding (``import asyncio`` gives ``asyncio.sleep``,
        ``from asyncio import sleep`` gives ``sleep``) before asking for a new import.
        """
        bindings = self.module_scope.bindings
        imported = self.imported_names()
        target = f"{module}.{name}" if name else module
        local = imported.get(target)
        if local is not None:
            return local, None
        if name is not None:
            local = imported.get(module)
            if local is not None:
                return f"{local}.{name}", None
            if name not in bindings or bindings[name].qualname == target:
                return name, ImportRequest(module, name)
            return f"{module}.{name}", ImportRequest(module, None)
        top = module.split(".")[0]
        if top in bindings and bindings[top].qualname != top:
            return module, None  # shadowed: cannot import it under its own name; caller must bail
        return module, ImportRequest(module, None)


def _binds(node: ast.AST, ident: str) -> bool:
    """Whether ``node`` (anything inside it) may bind ``ident``."""
    for n in ast.walk(node):
        c = n.__class__
        if c is ast.Name:
            if n.id == ident and n.ctx.__class__ is not ast.Load:  # type: ignore[attr-defined]
                return True
        elif c in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            if n.name == ident:  # type: ignore[attr-defined]
                return True
        elif c in (ast.Import, ast.ImportFrom):
            if any((a.asname or a.name.split(".")[0]) == ident for a in n.names):  # type: ignore[attr-defined]
                return True
        elif c in (ast.Global, ast.Nonlocal):
            if ident in n.names:  # type: ignore[attr-defined]
                return True
        elif c is ast.ExceptHandler or c is ast.MatchAs or c is ast.MatchStar:
            if n.name == ident:  # type: ignore[attr-defined]
                return True
        elif c is ast.MatchMapping and n.rest == ident:  # type: ignore[attr-defined]
            return True
    return False


def _inside(node: ast.AST, outer: ast.AST) -> bool:
    """Whether ``node`` lies within ``outer``'s source span (both nodes of one tree)."""
    line = getattr(node, "lineno", None)
    if line is None:
        return False
    start = (outer.lineno, outer.col_offset)  # type: ignore[attr-defined]
    end = (outer.end_lineno, outer.end_col_offset)  # type: ignore[attr-defined]
    return start <= (line, node.col_offset) and (node.end_lineno, node.end_col_offset) <= end  # type: ignore[attr-defined]
