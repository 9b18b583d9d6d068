"""
## What it does
Checks for thread-local storage that requests share once they run in the event loop: a
`threading.local()` (also `from threading import local`, `from _threading_local import local`) kept at
module level or in a class attribute, and a class deriving from `threading.local` (the class definition
is reported) with an instance kept so. It is reported when code that runs in the event loop once the
migration is done changes it: an `async def` of the project, an endpoint, dependency or handler that
the migration makes async, a function the migration makes async (AFY402), or a sync function one of
these calls on the loop (not in a worker thread), whichever module calls it.

The storage's uses are read in its own module: a name's uses (`global` rebinding included),
`Class.attr` and `self.attr` for a class attribute, the instances' names and `self` in the methods of a
subclass (not in `__init__`, which sets each thread's defaults). A use changes the storage when it
assigns or deletes an attribute or item of it, calls a method of it or of what it holds
(`state.items.append(x)`), rebinds the name, or hands the storage on (returns it, assigns it, passes it
to a call), whose receiver may change it; reading an attribute (`state.user`, `getattr(state, "user",
None)`, `hasattr(...)`) or testing it does not. Code on the loop that only reads the storage sees what
the loop's own thread holds, which no request changes: not reported.

When no function of its module uses the storage (the module only defines it for others), the call
graph cannot tell which function of the importing modules uses it. In an app that declares FastAPI
endpoints, dependencies or handlers, the rule then reports it when a module that imports it (or
imports its module), or its own module, has code that runs in the event loop; elsewhere (a library),
it does not.

Not reported: a `threading.local()` made in a function and kept in a local name (each call has its
own); one assigned to an instance attribute (`self.state = threading.local()`), and a subclass with no
instance kept in its module: whether the instance is shared is not known; storage that functions of
its module use and that no code on the loop changes (a worker thread's state, a command-line
script's); and thread-local storage in test files. In a project that is async already, only the code
that runs in the loop today counts (a sync endpoint that stays sync runs in FastAPI's thread pool).
The rule is not one of the migration's: where async code changes thread-local storage, requests leak
state in any project.

## Why is this bad?
A sync FastAPI app runs each request in a worker thread of its own, so a `threading.local` holds one
request's state: the current user, a per-request session, a request id. Once the endpoints are
`async def`, every request runs on the event loop's single thread, interleaved at each `await`: they
all see the same `threading.local`, and under concurrency a request reads what another one wrote
(the wrong user, another request's session). A `contextvars.ContextVar` is what follows a request
through the event loop: each task runs in a copy of the context it was created in.

## Example
```python
import threading

from fastapi import FastAPI, Request

app = FastAPI()
request_state = threading.local()


@app.middleware("http")
async def remember_user(request: Request, call_next):
    request_state.user = request.headers.get("x-user")
    return await call_next(request)


@app.get("/me")
async def me():
    return {"user": request_state.user}
```

## Use instead
```python
from contextvars import ContextVar

from fastapi import FastAPI, Request

app = FastAPI()
current_user: ContextVar[str | None] = ContextVar("current_user", default=None)


@app.middleware("http")
async def remember_user(request: Request, call_next):
    current_user.set(request.headers.get("x-user"))
    return await call_next(request)


@app.get("/me")
async def me():
    return {"user": current_user.get()}
```

## Fix safety
There is no fix: every read and write changes shape (`state.user = u` becomes `current_user.set(u)`,
`state.user` becomes `current_user.get()`, `hasattr(state, "user")` a default), and where a value must
be reset, or must not follow a task that a request starts, is a design decision.
"""

import ast

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.project.callgraph import graph_for
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY405",
        name="thread-local-state",
        message="`{name}` is {what}{where}: the requests the loop serves all share its thread, so it leaks "
                "state between concurrent requests; use a `contextvars.ContextVar`",
        fix_availability=FixAvailability.NONE,
        doc=__doc__,
        module=__name__,
        prefilter=lambda ctx: not ctx.is_test and "local" in ctx.source.text and "threading" in ctx.source.text,
    )
)

LOCAL_TYPES = frozenset({"threading.local", "_threading_local.local", "_thread._local"})
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _is_local_type(ctx: FileContext, expr: ast.AST) -> bool:
    return isinstance(expr, (ast.Name, ast.Attribute)) and ctx.could_name(expr, LOCAL_TYPES) \
        and ctx.qualname(expr) in LOCAL_TYPES


def _local_class(ctx: FileContext, cls: ast.ClassDef, _depth: int = 0) -> bool:
    """``cls`` derives from ``threading.local``, directly or through classes of this module."""
    for base in cls.bases:
        if _is_local_type(ctx, base):
            return True
        if isinstance(base, ast.Name) and _depth < 8:
            b = ctx.lookup(base.id, base)
            if b is not None and b.kind == "class" and isinstance(b.node, ast.ClassDef) \
                    and _local_class(ctx, b.node, _depth + 1):
                return True
    return False


def _holder(ctx: FileContext, value: ast.AST):
    """Where the value ``value`` is kept: ("module", name), ("class", ClassDef, name), or None (a local
    name of a function, an instance attribute, anything else)."""
    stmt = ctx.parent(value)
    if isinstance(stmt, ast.Assign):
        names = [t for t in stmt.targets if isinstance(t, ast.Name)]
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is value:
        names = [stmt.target] if isinstance(stmt.target, ast.Name) else []
    else:
        return None
    if not names:
        return None
    name = names[0].id
    for a in ctx.ancestors(stmt):
        if isinstance(a, _DEFS):
            # `global state` then `state = threading.local()`: the module's, made lazily
            return ("module", name) if name in ctx.function_scope(a).declared_global else None
        if isinstance(a, ast.Lambda):
            return None
        if isinstance(a, ast.ClassDef):
            return ("class", a, name) if ctx.enclosing_function(a) is None else None
    return ("module", name)


def _innermost_def(ctx: FileContext, node: ast.AST):
    for a in ctx.ancestors(node):
        if isinstance(a, _DEFS):
            return a
    return None


def _module_uses(ctx: FileContext, names: set[str]) -> list:
    """(function, Name node) for each read or write of the module-level ``names`` in a function."""
    module = ctx.module_scope.bindings
    uses = []
    for n in ctx.nodes_of(ast.Name):
        if n.id in names:
            func = _innermost_def(ctx, n)
            if func is not None and ctx.lookup(n.id, n) is module.get(n.id):
                uses.append((func, n))
    return uses


def _attribute_uses(ctx: FileContext, cls: ast.ClassDef, attr: str) -> list:
    """(function, Attribute node) for each use of the class attribute ``attr`` of ``cls``: ``Cls.attr``,
    and ``self.attr`` or ``cls.attr`` in the class's methods."""
    uses = []
    for n in ctx.nodes_of(ast.Attribute):
        if n.attr != attr or not isinstance(n.value, ast.Name):
            continue
        func = _innermost_def(ctx, n)
        if func is None:
            continue
        b = ctx.lookup(n.value.id, n.value)
        if (b is not None and b.kind == "class" and b.node is cls) or ctx.self_class(n.value) is cls:
            uses.append((func, n))
    return uses


def _self_uses(ctx: FileContext, cls: ast.ClassDef) -> list:
    """(method, Name node) for each use of ``self`` in the methods of ``cls`` but ``__init__`` (the
    instance is the storage)."""
    uses = []
    for method in cls.body:
        # (`__init__` runs once in each thread that touches the instance: it sets that thread's defaults)
        params = method.args.posonlyargs + method.args.args if isinstance(method, _DEFS) else []
        if not params or method.name == "__init__":
            continue
        first = params[0].arg
        for n in ast.walk(method):
            if isinstance(n, ast.Name) and n.id == first and _innermost_def(ctx, n) is method \
                    and ctx.self_class(n) is cls:
                uses.append((method, n))
    return uses


def _instances(ctx: FileContext, cls: ast.ClassDef) -> list:
    """Where instances of ``cls`` are kept at module level or in class attributes (``_holder``)."""
    out = []
    for call in ctx.nodes_of(ast.Call):
        if isinstance(call.func, ast.Name) and call.func.id == cls.name:
            b = ctx.lookup(call.func.id, call.func)
            if b is not None and b.kind == "class" and b.node is cls:
                held = _holder(ctx, call)
                if held is not None:
                    out.append(held)
    return out


#: calls that only look at the storage passed to them
_INSPECTORS = frozenset({"builtins.getattr", "builtins.hasattr", "builtins.isinstance", "builtins.id",
                         "builtins.type", "builtins.repr", "builtins.str", "builtins.bool"})
_TESTS = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.If, ast.IfExp, ast.While, ast.Assert, ast.FormattedValue)


def _writes(ctx: FileContext, expr: ast.AST) -> bool:
    """Whether the use ``expr`` of the storage may change what it holds: an attribute or item of it
    assigned or deleted, a method called on it or on what it holds (``state.items.append(x)``), the
    name rebound, or the storage handed on (returned, assigned, passed to a call, stored), whose
    receiver may change it. Reading an attribute (``state.user``, ``getattr(state, "user", None)``)
    or testing it does not."""
    if not isinstance(getattr(expr, "ctx", ast.Load()), ast.Load):
        return True
    node, p = expr, ctx.parent(expr)
    while isinstance(p, (ast.Attribute, ast.Subscript)) and p.value is node:
        if not isinstance(p.ctx, ast.Load):
            return True
        node, p = p, ctx.parent(p)
    if isinstance(p, ast.Call) and p.func is node:
        return True  # a method called on it, or on what it holds
    if node is not expr:
        return False  # a value read from it
    if isinstance(p, ast.Call) and isinstance(p.func, (ast.Name, ast.Attribute)):
        return ctx.qualname(p.func) not in _INSPECTORS
    return not isinstance(p, _TESTS)


class _Loop:
    """Whether this file's functions, and the project's modules, run code in the event loop."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        found = graph_for(ctx)
        self.rel, self.graph = found if found is not None else (None, None)
        project = ctx.project
        self.migrating = project is None or not project.state.is_async

    def function(self, func) -> str | None:
        """Whether the ``def`` node ``func`` runs in the event loop: "now", "after" (the migration), or None."""
        if isinstance(func, ast.AsyncFunctionDef):
            return "now"
        f = self.graph.summaries[self.rel].function_at(func.lineno, func.col_offset) if self.graph else None
        if f is None or f.qualname not in self.graph.on_loop():
            return None
        return "now" if f.qualname in self.graph.reached_from_async() else "after"

    def importer(self, qualnames: list[str]) -> str | None:
        """A module, other than this one, that imports one of ``qualnames`` and runs code in the loop."""
        if self.graph is None:
            return None
        loop = self.graph.loop_modules()
        for qn in qualnames:
            for rel in self.graph.importers(qn):
                if rel != self.rel and rel in loop:
                    s = self.graph.summaries[rel]
                    return s.module or rel
        return None

    def serves_requests(self) -> bool:
        if self.graph is None:
            return "fastapi" in self.ctx.source.text
        return self.graph.serves_requests()

    def module(self) -> bool:
        if self.graph is None:
            return any(isinstance(f, ast.AsyncFunctionDef) for f in self.ctx.nodes_of(ast.AsyncFunctionDef))
        return self.rel in self.graph.loop_modules()


def _loop(ctx: FileContext) -> _Loop:
    found = ctx.cache.get("afy405.loop")
    if found is None:
        found = ctx.cache["afy405.loop"] = _Loop(ctx)
    return found


def _where(ctx: FileContext, uses: list, exported: list[str]) -> str | None:
    """Why the storage leaks between requests on the event loop (the message's ``where``), or None.

    ``uses``: (function, node) for each use of the storage in this module's functions; ``exported``: the
    qualified names other modules may import it by (its module's own name is added)."""
    loop = _loop(ctx)
    after = " after the migration" if loop.migrating else ""
    found = []
    for func in dict.fromkeys(f for f, node in uses if _writes(ctx, node)):
        when = loop.function(func)
        if when is not None:
            found.append((when, func))
    if found:
        # the first function on the loop, one that is there today before one the migration puts there
        when, func = min(found, key=lambda wf: (wf[0] != "now", wf[1].lineno, wf[1].col_offset))
        return f", used by `{func.name}`, which runs in the event loop{after if when == 'after' else ''}"
    if uses or not loop.serves_requests():
        # its own module's functions decide: none that changes it runs in the loop (code there that only
        # reads it sees what the loop's thread holds, which no request changes). Without them, what other
        # modules do with it is not known: only an app that serves requests is taken to share it
        return None
    module = ctx.module
    found_in = loop.importer(exported + ([module] if module else []))
    if found_in is not None:
        return f", imported by `{found_in}`, whose code runs in the event loop{after}"
    if loop.module():
        return f", in a module whose code runs in the event loop{after}"
    return None


@RULE.on(ast.Call)
def check_call(ctx: FileContext, call: ast.Call):
    if ctx.is_test or call.args or call.keywords or not _is_local_type(ctx, call.func):
        return
    held = _holder(ctx, call)
    if held is None:
        return
    module = ctx.module
    if held[0] == "module":
        name = held[1]
        uses = _module_uses(ctx, {name})
        exported = [f"{module}.{name}"] if module else []
    else:
        cls, name = held[1], held[2]
        uses = _attribute_uses(ctx, cls, name)
        exported = [f"{module}.{cls.name}"] if module and isinstance(ctx.parent(cls), ast.Module) else []
        name = f"{cls.name}.{name}"
    where = _where(ctx, uses, exported)
    if where is not None:
        yield RULE.at(ctx, call, name=name, what="a threading.local", where=where)


@RULE.on(ast.ClassDef)
def check_class(ctx: FileContext, cls: ast.ClassDef):
    if ctx.is_test or ctx.enclosing_function(cls) is not None or not _local_class(ctx, cls):
        return
    held = _instances(ctx, cls)
    if not held:
        return  # no instance kept here: made in a call, or elsewhere (not known to be shared)
    module = ctx.module
    exported = []
    uses = _self_uses(ctx, cls)
    for h in held:
        if h[0] == "module":
            uses += _module_uses(ctx, {h[1]})
            if module:
                exported.append(f"{module}.{h[1]}")
        else:
            uses += _attribute_uses(ctx, h[1], h[2])
            if module and isinstance(ctx.parent(h[1]), ast.Module):
                exported.append(f"{module}.{h[1].name}")
    where = _where(ctx, uses, exported)
    if where is not None:
        yield RULE.at(ctx, cls, name=cls.name, what="a threading.local subclass", where=where)
