"""Module-level helper functions that a fix adds once per module (marked in their docstring, so a
second run recognises them and an unrelated function of the same name is never reused)."""

from __future__ import annotations

import ast

from asyncify_lint.engine.context import FileContext


def helper_name(ctx: FileContext, base: str, marker: str) -> tuple[str, bool]:
    """A free module-level name for the helper (``base``, ``base2``...) and whether it exists already."""
    bindings = ctx.module_scope.bindings
    i = 1
    while True:
        name = base if i == 1 else f"{base}{i}"
        b = bindings.get(name)
        if b is None:
            return name, False
        if b.kind == "def" and marker in (ast.get_docstring(b.node) or ""):  # type: ignore[arg-type]
            return name, True
        i += 1


def top_statement(ctx: FileContext, node: ast.AST) -> ast.AST:
    """The module-level statement that contains ``node``."""
    cur = node
    for a in ctx.ancestors(node):
        if isinstance(a, ast.Module):
            return cur
        cur = a
    return cur


def insertion(ctx: FileContext, stmt: ast.AST) -> tuple[int, str]:
    """Offset before ``stmt`` (and its decorators and the comment lines right above it), and the blank
    lines to put before the helper."""
    src = ctx.source
    line = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])  # type: ignore[attr-defined]
    while line > 1 and src.line_text(line - 1).lstrip().startswith("#"):
        line -= 1
    blanks = 0
    k = line - 1
    while k >= 1 and not src.line_text(k).strip():
        blanks += 1
        k -= 1
    prefix = "" if k < 1 else src.newline * max(0, 2 - blanks)
    return src.line_starts[line - 1], prefix
