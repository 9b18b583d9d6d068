"""Does a function do I/O? Blocking calls, database work, or a call to a project function that does."""

from __future__ import annotations

import ast

from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.helpers.fastapi import own_nodes

DB_TYPES = ("sqlalchemy.", "sqlmodel.")
DDL = ("create_all", "drop_all")


def io_call(ctx: FileContext, call: ast.Call) -> str | None:
    """A short description of the I/O ``call`` does, or None."""
    kind = blocking.classify(ctx, call)
    if kind is not None and kind != blocking.CPU:  # a CPU-bound call (AFY120) blocks, but is no I/O
        return f"`{ctx.segment(call.func)}()`"
    func = call.func
    if isinstance(func, ast.Attribute):
        if func.attr in DDL:
            return f"`{ctx.segment(func)}()`"
        t = ctx.type_of(func.value)
        if t is not None:
            t = t[5:] if t.startswith("with:") else t
            if t.startswith(DB_TYPES):
                return f"`{ctx.segment(func)}()`"
    return None


def does_io(ctx: FileContext, func: ast.AST, _depth: int = 0, _seen: set | None = None) -> str | None:
    """What I/O ``func`` does, directly or through project functions (up to 3 calls deep), or None."""
    seen = _seen if _seen is not None else set()
    if id(func) in seen or _depth > 3:
        return None
    seen.add(id(func))
    with_items = {id(item.context_expr) for n in own_nodes(func) if isinstance(n, ast.With) for item in n.items}
    for node in own_nodes(func):
        if not isinstance(node, ast.Call):
            continue
        what = io_call(ctx, node)
        if what is None and id(node) in with_items:
            t = ctx.type_of(node)
            if t is not None and t.startswith(DB_TYPES):
                what = f"`{ctx.segment(node)}`"
        if what is not None:
            return what
        target = _project_def(ctx, node)
        if target is not None:
            tctx, tfunc = target
            inner = does_io(tctx, tfunc, _depth + 1, seen)
            if inner is not None:
                return f"`{ctx.segment(node.func)}()` → {inner}"
    return None


def _project_def(ctx: FileContext, call: ast.Call):
    func = call.func
    if isinstance(func, ast.Name):
        b = ctx.lookup(func.id, func)
        if b is not None and b.kind == "def" and isinstance(b.node, ast.FunctionDef):
            return ctx, b.node
    qn = ctx.qualname(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
    if qn and ctx.project is not None and not qn.startswith("builtins."):
        found = ctx.project.function_def(qn)
        if found is not None and isinstance(found[1], ast.FunctionDef):
            return found
    return None
