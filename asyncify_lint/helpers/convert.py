"""When may a ``def`` become ``async def`` mechanically? Shared by the FastAPI rules."""

from __future__ import annotations

import ast

from asyncify_lint.diagnostics import Edit, ImportRequest
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import statements
from asyncify_lint.helpers.fastapi import handler_decorator, route_decorator

#: a generator's return annotation → the async generator's, from the same module
ASYNC_GENERATOR_TYPES = {"Generator": "AsyncGenerator", "Iterator": "AsyncIterator", "Iterable": "AsyncIterable"}
_TYPING_MODULES = frozenset({"typing", "typing_extensions", "collections.abc"})


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
    if kinds:
        for node in statements(func):
            if node.__class__ is ast.Return and node.value is not None and ctx.enclosing_function(node) is func:  # type: ignore[attr-defined]
                return f"it is a generator that returns a value (line {node.lineno}), which an async generator cannot"
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


def async_generator_returns(ctx: FileContext, func: ast.AST) -> tuple[list[Edit], list[ImportRequest]]:
    """Edits (and the import they need) that give a generator made ``async def`` the return annotation
    of an async generator: ``Generator[Y, S, None]`` → ``AsyncGenerator[Y, S]``, ``Iterator[Y]`` →
    ``AsyncIterator[Y]``, ``Iterable[Y]`` → ``AsyncIterable[Y]``, from the module the original came from
    (``typing``, ``collections.abc``). Nothing for a function that does not yield, or for any other
    annotation: a string, or a ``Generator`` whose return type is not None (an async generator cannot
    return a value)."""
    ann = func.returns  # type: ignore[attr-defined]
    if ann is None or not yield_kinds(ctx).get(id(func)):
        return [], []
    head = ann.value if isinstance(ann, ast.Subscript) else ann
    if not isinstance(head, (ast.Name, ast.Attribute)):
        return [], []
    module, _, name = (ctx.qualname(head) or "").rpartition(".")
    new = ASYNC_GENERATOR_TYPES.get(name)
    if new is None or module not in _TYPING_MODULES:
        return [], []
    edits = []
    if name == "Generator" and isinstance(ann, ast.Subscript):
        args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if len(args) == 3:
            returns = args[2]
            if not (isinstance(returns, ast.Constant) and returns.value is None):
                return [], []
            edits.append(Edit(ctx.end(args[1]), ctx.end(returns), ""))  # `, None`: AsyncGenerator has no return type
    if isinstance(head, ast.Attribute):  # `typing.Generator`: only the attribute's name changes
        end = ctx.end(head)
        edits.append(Edit(end - len(head.attr), end, new))
        return edits, []
    text, imp = ctx.import_ref(module, new)
    edits.append(ctx.replace(head, text))
    return edits, [imp] if imp else []
