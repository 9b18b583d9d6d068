"""When may a ``def`` become ``async def`` mechanically? Shared by the FastAPI rules."""

from __future__ import annotations

import ast

from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers.fastapi import handler_decorator, route_decorator


def _calls_by_name(ctx: FileContext) -> dict[str, list[ast.Call]]:
    """``name(...)`` calls of the module, by name; built once per file (one pass over ``ctx.nodes``)."""
    index = ctx.cache.get("convert.calls_by_name")
    if index is None:
        index = {}
        for node in ctx.nodes_of(ast.Call):
            if isinstance(node.func, ast.Name):  # type: ignore[attr-defined]
                index.setdefault(node.func.id, []).append(node)
        ctx.cache["convert.calls_by_name"] = index
    return index


def yield_kinds(ctx: FileContext) -> dict[int, set[type]]:
    """id(function) → the yield node types (``ast.Yield``, ``ast.YieldFrom``) in its own body; one pass
    over the file's nodes, shared by every function asked about."""
    index = ctx.cache.get("convert.yields")
    if index is None:
        index = {}
        for node in ctx.nodes_of(ast.Yield, ast.YieldFrom):
            func = ctx.enclosing_function(node)
            if func is not None:
                index.setdefault(id(func), set()).add(node.__class__)
        ctx.cache["convert.yields"] = index
    return index


def direct_callers(ctx: FileContext, func: ast.AST) -> list[ast.Call]:
    """Calls of ``func`` in its own module (they would receive a coroutine after the conversion)."""
    name = func.name  # type: ignore[attr-defined]
    out = []
    for node in _calls_by_name(ctx).get(name, ()):
        b = ctx.lookup(name, node.func)
        if b is not None and b.node is func:
            out.append(node)
    return out


def blocker(ctx: FileContext, func: ast.AST, allow_generator: bool) -> str | None:
    """Why ``func`` cannot be converted by a mechanical fix, or None when it can."""
    kinds = yield_kinds(ctx).get(id(func), ())
    if ast.YieldFrom in kinds:
        return "it uses `yield from`"
    if not allow_generator and kinds:
        return "it is a generator (an async generator has a different protocol)"
    others = [
        d for d in func.decorator_list  # type: ignore[attr-defined]
        if not route_decorator(ctx, d) and not handler_decorator(ctx, d)
    ]
    if others:
        return f"the decorator `{ctx.segment(others[0])}` would wrap a coroutine function"
    callers = direct_callers(ctx, func)
    if callers:
        line = callers[0].lineno
        return f"it is also called directly at line {line}, which would receive a coroutine"
    return None
