"""Edit builders shared by fixers: ``def`` → ``async def``, adding ``await`` with correct precedence."""

from __future__ import annotations

import ast

from asyncify_lint.diagnostics import Edit
from asyncify_lint.engine.context import FileContext


def make_async(ctx: FileContext, func: ast.FunctionDef) -> Edit:
    """Insert ``async `` before the ``def`` keyword (``FunctionDef`` positions point at it)."""
    at = ctx.start(func)
    return Edit(at, at, "async ")


def needs_parentheses(ctx: FileContext, node: ast.AST) -> bool:
    """Whether ``await <node>`` must be parenthesised where ``node`` stands: as the object of an
    attribute access, a subscript or a call, ``await`` would otherwise apply to the whole trailer."""
    p = ctx.parent(node)
    if isinstance(p, ast.Attribute) and p.value is node:
        return True
    if isinstance(p, ast.Subscript) and p.value is node:
        return True
    if isinstance(p, ast.Call) and p.func is node:
        return True
    if isinstance(p, ast.BinOp) and isinstance(p.op, ast.Pow) and p.right is node:
        return False
    if isinstance(p, ast.Await):
        return True
    return False


def add_await(ctx: FileContext, node: ast.AST) -> list[Edit]:
    """Edits that turn ``node`` into ``await node`` (parenthesised where precedence requires)."""
    start, end = ctx.start(node), ctx.end(node)
    if needs_parentheses(ctx, node) and not ctx.is_parenthesized(node):
        return [Edit(start, start, "(await "), Edit(end, end, ")")]
    return [Edit(start, start, "await ")]


def can_await_here(ctx: FileContext, node: ast.AST) -> bool:
    """``await`` is valid and means the same at ``node``: directly in an ``async def`` body, not in a
    lambda, a nested def, or a generator expression (which would become an async generator)."""
    f = ctx.enclosing_function(node)
    if not isinstance(f, ast.AsyncFunctionDef):
        return False
    return not ctx.in_generator_expression(node, stop=f)
