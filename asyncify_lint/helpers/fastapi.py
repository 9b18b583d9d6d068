"""FastAPI facts: app/router instances, route decorators, and the roles functions play (endpoint,
dependency, event or exception handler, lifespan), within a module and across the project."""

from __future__ import annotations

import ast
from typing import Iterator, NamedTuple

from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import FUNC_TYPES, canonical

APP_TYPES = frozenset({"fastapi.FastAPI", "fastapi.APIRouter"})
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "options", "head", "trace", "api_route", "websocket"}
)
DEPENDS = frozenset({"fastapi.Depends", "fastapi.Security"})

ENDPOINT = "endpoint"
DEPENDENCY = "dependency"
EVENT_HANDLER = "event handler"
EXCEPTION_HANDLER = "exception handler"
LIFESPAN = "lifespan"

_NEEDLES = (b"Depends", b"Security", b"add_api_route", b"add_event_handler", b"add_exception_handler",
            b"on_startup", b"on_shutdown", b"exception_handlers", b"lifespan")


class Ref(NamedTuple):
    role: str
    qualname: str | None  # the referenced function, when it resolves to a name
    node: ast.AST | None  # the referenced def, when it is in the same module
    site: ast.AST  # where the reference is


def is_app(ctx: FileContext, expr: ast.AST) -> bool:
    return ctx.type_of(expr) in APP_TYPES


def route_decorator(ctx: FileContext, dec: ast.AST) -> str | None:
    """``@app.get(...)`` / ``@router.api_route(...)`` on a FastAPI/APIRouter instance → the method name."""
    if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr in ROUTE_METHODS:
        if is_app(ctx, dec.func.value):
            return dec.func.attr
    return None


def handler_decorator(ctx: FileContext, dec: ast.AST) -> str | None:
    if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute):
        attr = dec.func.attr
        if attr in ("on_event", "exception_handler") and is_app(ctx, dec.func.value):
            return EVENT_HANDLER if attr == "on_event" else EXCEPTION_HANDLER
    return None


def _target(ctx: FileContext, expr: ast.AST) -> tuple[str | None, ast.AST | None]:
    node = None
    if isinstance(expr, ast.Name):
        b = ctx.lookup(expr.id, expr)
        if b is not None and b.kind == "def":
            node = b.node
    qn = ctx.qualname(expr)
    if qn is not None and qn.startswith("builtins."):
        qn = None
    return qn, node


def call_arg(call: ast.Call, index: int, name: str) -> ast.AST | None:
    """The argument of ``call`` given at position ``index`` or as ``name=`` (None when absent, or when a
    ``*args`` before it hides where it is)."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
        return call.args[index]
    return None


_REF_ATTRS = frozenset({"Depends", "Security", "add_api_route", "add_event_handler", "add_exception_handler",
                        "FastAPI", "APIRouter"})
_REF_QUALNAMES = DEPENDS | APP_TYPES


def _candidate_names(ctx: FileContext) -> frozenset[str]:
    """Local names that may stand for Depends/Security/FastAPI/APIRouter (their own names, and aliases)."""
    names = set(_REF_ATTRS)
    for local, b in ctx.module_scope.bindings.items():
        if b.kind == "import" and b.qualname and canonical(b.qualname) in _REF_QUALNAMES:
            names.add(local)
    return frozenset(names)


def _iter_refs(ctx: FileContext) -> Iterator[Ref]:
    names = _candidate_names(ctx)
    for node in ctx.nodes_of(ast.Call):
        func = node.func  # type: ignore[attr-defined]
        # a cheap syntactic filter first; the qualified name below decides
        if func.__class__ is ast.Name:
            if func.id not in names:
                continue
        elif func.__class__ is ast.Attribute:
            if func.attr not in _REF_ATTRS:
                continue
        else:
            continue
        qn = ctx.qualname(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
        if qn in DEPENDS:
            target = call_arg(node, 0, "dependency")
            if target is not None:
                yield Ref(DEPENDENCY, *_target(ctx, target), node)
            continue
        if isinstance(func, ast.Attribute) and func.attr in (
            "add_api_route", "add_event_handler", "add_exception_handler"
        ):
            if not is_app(ctx, func.value):
                continue
            role = {"add_api_route": ENDPOINT, "add_event_handler": EVENT_HANDLER}.get(func.attr, EXCEPTION_HANDLER)
            target = call_arg(node, 1, {"add_api_route": "endpoint", "add_event_handler": "func"}.get(func.attr, "handler"))
            if target is not None:
                yield Ref(role, *_target(ctx, target), node)
            continue
        if qn == "fastapi.FastAPI" or qn == "fastapi.APIRouter":
            for kw in node.keywords:
                if kw.arg in ("on_startup", "on_shutdown") and isinstance(kw.value, (ast.List, ast.Tuple)):
                    for elt in kw.value.elts:
                        yield Ref(EVENT_HANDLER, *_target(ctx, elt), node)
                elif kw.arg == "exception_handlers" and isinstance(kw.value, ast.Dict):
                    for v in kw.value.values:
                        yield Ref(EXCEPTION_HANDLER, *_target(ctx, v), node)
                elif kw.arg == "lifespan":
                    yield Ref(LIFESPAN, *_target(ctx, kw.value), node)


def module_refs(ctx: FileContext) -> list[Ref]:
    refs = ctx.cache.get("fastapi.refs")
    if refs is None:
        data = ctx.source.text
        refs = list(_iter_refs(ctx)) if any(n.decode() in data for n in _NEEDLES) else []
        ctx.cache["fastapi.refs"] = refs
    return refs


def _refs_by_def(ctx: FileContext) -> dict[int, list[Ref]]:
    """The module's references grouped by the def they name (by ``id``), each group in module order:
    built once per file, so that each function's roles are not a scan of every reference."""
    index = ctx.cache.get("fastapi.refs_by_def")
    if index is None:
        index = ctx.cache["fastapi.refs_by_def"] = {}
        for ref in module_refs(ctx):
            if ref.node is not None:
                index.setdefault(id(ref.node), []).append(ref)
    return index


def _project_refs(project) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ctx in project.contexts_containing(_NEEDLES):
        for ref in module_refs(ctx):
            if ref.qualname:
                out.setdefault(ref.qualname, set()).add(ref.role)
    return out


def function_qualname(ctx: FileContext, func: ast.AST) -> str | None:
    """``module.name`` of a module-level def (None for methods, nested defs, or an unnamed module)."""
    if ctx.module is None or not isinstance(ctx.parent(func), ast.Module):
        return None
    return f"{ctx.module}.{func.name}"  # type: ignore[attr-defined]


def roles(ctx: FileContext, func: ast.AST) -> dict[str, ast.AST | None]:
    """The FastAPI roles of ``func`` → the decorator or reference site that gives it (None: another module).

    Memoised per function: the endpoint, dependency and handler rules all ask."""
    memo = ctx.cache.setdefault("fastapi.roles", {})
    found = memo.get(id(func))
    if found is None:
        found = memo[id(func)] = _roles(ctx, func)
    return found


def _roles(ctx: FileContext, func: ast.AST) -> dict[str, ast.AST | None]:
    found: dict[str, ast.AST | None] = {}
    for dec in func.decorator_list:  # type: ignore[attr-defined]
        if route_decorator(ctx, dec):
            found.setdefault(ENDPOINT, dec)
        else:
            h = handler_decorator(ctx, dec)
            if h:
                found.setdefault(h, dec)
    for ref in _refs_by_def(ctx).get(id(func), ()):
        found.setdefault(ref.role, ref.site)
    qn = function_qualname(ctx, func)
    if qn is not None and ctx.project is not None:
        project_refs = ctx.project.fact("fastapi.refs", _project_refs)
        for role in project_refs.get(qn, ()):  # type: ignore[union-attr]
            found.setdefault(role, None)
    return found


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function's body, not descending into nested functions, lambdas or classes."""
    stack = list(func.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(child)


own_nodes = _own_nodes

__all__ = ["FUNC_TYPES"]
