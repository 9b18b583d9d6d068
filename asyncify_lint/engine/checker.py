"""One traversal per file: parent links, then dispatch of each node to the rules' handlers."""

from __future__ import annotations

from typing import Iterable

from asyncify_lint.diagnostics import Diagnostic
from asyncify_lint.engine.context import FileContext
from asyncify_lint.project.state import MIGRATION_CODES, reached
from asyncify_lint.registry import Rule


class InternalError(Exception):
    """A rule crashed; carries the rule code so the user knows whom to blame."""

    def __init__(self, code: str, path: str, exc: BaseException) -> None:
        super().__init__(f"{path}: internal error in {code}: {type(exc).__name__}: {exc}")
        self.code = code


def run_rules(ctx: FileContext, rules: Iterable[Rule]) -> list[Diagnostic]:
    """All diagnostics of ``rules`` on ``ctx``, in source order (noqa not applied)."""
    active = [r for r in rules if r.handlers and (r.prefilter is None or r.prefilter(ctx))]
    if not active:
        return []
    dispatch: dict[type, list[tuple[Rule, object]]] = {}
    for r in active:
        for t, hs in r.handlers.items():
            for h in hs:
                dispatch.setdefault(t, []).append((r, h))
    out: list[Diagnostic] = []
    for node in ctx.nodes:
        entries = dispatch.get(type(node))
        if not entries:
            continue
        for rule, handler in entries:
            try:
                out.extend(handler(ctx, node))  # type: ignore[operator]
            except RecursionError:
                continue
            except Exception as exc:  # a rule bug must not take the whole run down silently
                raise InternalError(rule.code, ctx.display_path, exc) from exc
    project = ctx.project
    if out and project is not None and project.state.is_async:
        # an async project: the migration rules report only where the migration reaches
        out = [d for d in out if d.code not in MIGRATION_CODES or reached(ctx, d.code, d.line, d.col)]
    out.sort(key=Diagnostic.sort_key)
    return out
