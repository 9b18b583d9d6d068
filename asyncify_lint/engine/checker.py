"""One traversal per file: parent links, then dispatch of each node to the rules' handlers."""

from __future__ import annotations

from typing import Callable, Iterable

from asyncify_lint.diagnostics import Diagnostic
from asyncify_lint.engine.context import FileContext
from asyncify_lint.registry import Rule


class InternalError(Exception):
    """A rule crashed; carries the rule code so the user knows whom to blame."""

    def __init__(self, code: str, path: str, exc: BaseException) -> None:
        super().__init__(f"{path}: internal error in {code}: {type(exc).__name__}: {exc}")
        self.code = code


def run_rules(ctx: FileContext, rules: Iterable[Rule],
              gate: Callable[[FileContext, list[Diagnostic]], list[Diagnostic]] | None = None) -> list[Diagnostic]:
    """All diagnostics of ``rules`` on ``ctx``, in source order (noqa not applied); with a ``gate``, those
    it keeps (the runner gives project/state.py's: where an async project reports the migration rules)."""
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
    if gate is not None:
        out = gate(ctx, out)
    out.sort(key=Diagnostic.sort_key)
    return out
