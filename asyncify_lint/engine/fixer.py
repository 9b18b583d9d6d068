"""Applying fixes: non-overlapping text edits located by ``ast`` positions, plus scheduled imports
(placed by ``asyncify_lint.engine.imports``).

Every byte outside the edited spans and the import lines stays as it was.
"""

from __future__ import annotations

import ast
from typing import Iterable

from asyncify_lint.diagnostics import Edit, Fix, ImportRequest
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.imports import insertion_edits


def _overlaps(a: Edit, b: Edit) -> bool:
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    if a.start == a.end:
        return b.start <= a.start < b.end
    if b.start == b.end:
        return a.start <= b.start < a.end
    return a.start < b.end and b.start < a.end


def choose(fixes: Iterable[Fix]) -> list[Fix]:
    """The fixes that can be applied together: the first in source order wins each overlap."""
    chosen: list[Fix] = []
    taken: list[Edit] = []
    for fix in sorted(fixes, key=lambda f: (f.start, f.end)):
        if any(_overlaps(e, t) for e in fix.edits for t in taken):
            continue
        chosen.append(fix)
        taken.extend(fix.edits)
    return chosen


def _top_level_imports(tree: ast.Module) -> list[ast.stmt]:
    out = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out.append(stmt)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
    return out


def import_edits(ctx: FileContext, requests: Iterable[ImportRequest]) -> list[Edit]:
    reqs: list[ImportRequest] = []
    for r in requests:
        if r not in reqs:
            reqs.append(r)
    if not reqs:
        return []
    bindings = ctx.module_scope.bindings
    edits: list[Edit] = []
    new_lines: list[str] = []
    extend: dict[int, tuple[ast.ImportFrom, list[str]]] = {}
    from_groups: dict[str, list[str]] = {}
    for r in reqs:
        if r.name is None:
            top = r.module.split(".")[0]
            b = bindings.get(top)
            if b is not None and b.kind == "import" and (b.qualname == top or b.qualname == r.module):
                if r.module == top or any(
                    isinstance(s, ast.Import) and any(a.name == r.module and not a.asname for a in s.names)
                    for s in ast.walk(ctx.tree)
                ):
                    continue
            line = f"import {r.module}"
            if line not in new_lines:
                new_lines.append(line)
            continue
        b = bindings.get(r.name)
        if b is not None and b.kind == "import" and b.qualname == f"{r.module}.{r.name}":
            continue
        target = None
        for stmt in _top_level_imports(ctx.tree):
            if isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module == r.module:
                if not any(a.name == "*" for a in stmt.names):
                    target = stmt
        if target is not None:
            extend.setdefault(id(target), (target, []))[1].append(r.name)
        else:
            from_groups.setdefault(r.module, [])
            if r.name not in from_groups[r.module]:
                from_groups[r.module].append(r.name)
    for stmt, names in extend.values():
        last = stmt.names[-1]
        pos = ctx.end(last)
        edits.append(Edit(pos, pos, "".join(f", {n}" for n in names)))
    for module, names in from_groups.items():
        new_lines.append(f"from {module} import {', '.join(names)}")
    edits.extend(insertion_edits(ctx, new_lines))  # placement: asyncify_lint.engine.imports
    return edits


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    # insertions at the same offset keep their given order
    indexed = sorted(enumerate(edits), key=lambda ie: (ie[1].start, ie[1].end, ie[0]))
    out = []
    pos = 0
    for _, e in indexed:
        if e.start < pos:
            raise ValueError("overlapping edits")
        out.append(text[pos : e.start])
        out.append(e.content)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def apply_fixes(ctx: FileContext, fixes: list[Fix]) -> str:
    edits: list[Edit] = []
    imports: list[ImportRequest] = []
    for fix in fixes:
        edits.extend(fix.edits)
        imports.extend(fix.imports)
    # import lines first: at an offset where a fix also inserts text (a helper before the statement
    # that follows the imports, a call wrapped at the start of that statement), the import lines
    # must come before it, never inside it
    return apply_edits(ctx.source.text, import_edits(ctx, imports) + edits)
