"""The rule registry: one rule per module in ``asyncify_lint.rules``, registered at import time."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from asyncify_lint.diagnostics import Applicability, Diagnostic, Fix, FixAvailability

if TYPE_CHECKING:
    from asyncify_lint.engine.context import FileContext

Handler = Callable[["FileContext", ast.AST], Iterable[Diagnostic]]

REQUIRED_DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety")
_WHAT_IT_DOES = re.compile(r"^## What it does\s*\n(.*?)(?:\n\s*\n|\n## |\Z)", re.S | re.M)


@dataclass
class Rule:
    code: str
    name: str
    message: str
    fix_title: str | None = None
    fix_availability: FixAvailability = FixAvailability.NONE
    #: the strongest applicability this rule's fixes can have (documentation and ``--explain``)
    fix_applicability: Applicability | None = None
    default_enabled: bool = True
    since: str = "0.1.0"
    preview: bool = False
    #: rules run in ``--fix`` in ascending fix_order (then code); see README "Fix order"
    fix_order: int = 500
    doc: str = ""
    module: str = ""
    handlers: dict[type, list[Handler]] = field(default_factory=dict)
    #: called once per file before the walk; may return False to skip the file cheaply
    prefilter: Callable[["FileContext"], bool] | None = None
    #: a test-impact rule, printed by ``--fix`` before it writes anything: "before" runs it on the code
    #: as it was, "after" on the migrated code (what the tests will meet)
    report: str | None = None

    def on(self, *node_types: type) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            for t in node_types:
                self.handlers.setdefault(t, []).append(fn)
            return fn

        return deco

    def at(
        self,
        ctx: "FileContext",
        node: ast.AST,
        fix: Fix | None = None,
        *,
        end_node: ast.AST | None = None,
        message: str | None = None,
        **fmt: object,
    ) -> Diagnostic:
        """A diagnostic of this rule located at ``node`` (its first character)."""
        line, col = ctx.position(node)
        end = end_node or node
        end_line, end_col = ctx.end_position(end)
        text = (message if message is not None else self.message).format(**fmt)
        return Diagnostic(
            code=self.code,
            message=text,
            path=ctx.display_path,
            line=line,
            col=col,
            end_line=end_line,
            end_col=end_col,
            fix_title=self.fix_title.format(**fmt) if fix is not None and self.fix_title else None,
            fix=fix,
        )

    @property
    def summary(self) -> str:
        for line in self.doc.splitlines():
            if line.strip() and not line.startswith("#"):
                return line.strip()
        return self.message

    @property
    def what_it_does(self) -> str:
        """The first paragraph of the docs' "What it does" section, on one line."""
        m = _WHAT_IT_DOES.search(self.doc)
        return " ".join(m.group(1).split()) if m else self.summary

    @property
    def short_description(self) -> str:
        """The first sentence of "What it does" (the README's rules table, SARIF's rule descriptions)."""
        return first_sentence(self.what_it_does)


def first_sentence(text: str) -> str:
    """Up to the first `.`, `:` or `;` that ends a clause: outside backticks and brackets, before a space."""
    depth, code = 0, False
    for i, ch in enumerate(text):
        if ch == "`":
            code = not code
        elif code:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch in ".:;" and depth == 0 and (i + 1 == len(text) or text[i + 1].isspace()):
            return text[:i] + "."
    return text


_RULES: dict[str, Rule] = {}
_LOADED = False


def register(rule: Rule) -> Rule:
    if rule.code in _RULES:
        raise ValueError(f"duplicate rule code {rule.code} ({rule.module} and {_RULES[rule.code].module})")
    _RULES[rule.code] = rule
    return rule


def load_rules() -> dict[str, Rule]:
    """Import every module in ``asyncify_lint.rules`` once; returns code -> Rule, sorted by code."""
    global _LOADED
    if not _LOADED:
        import asyncify_lint.rules as pkg

        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("afy"):
                importlib.import_module(f"{pkg.__name__}.{info.name}")
        _LOADED = True
    return dict(sorted(_RULES.items()))


def all_rules() -> list[Rule]:
    return list(load_rules().values())


def get_rule(code: str) -> Rule | None:
    return load_rules().get(code.upper())


def find_rule(name: str) -> Rule | None:
    """The rule with this code (``AFY301``, any case) or name (``sync-endpoint``)."""
    rule = get_rule(name)
    if rule is None:
        rule = next((r for r in load_rules().values() if r.name == name.lower()), None)
    return rule


def is_selected(code: str, select: Iterable[str], ignore: Iterable[str]) -> bool:
    """Ruff-style selection: the longest matching prefix wins; on a tie, ignore wins."""
    best_sel = max((len(p) for p in select if code.startswith(p)), default=-1)
    best_ign = max((len(p) for p in ignore if code.startswith(p)), default=-1)
    return best_sel >= 0 and best_sel > best_ign


def selected_rules(select: Iterable[str] | None, ignore: Iterable[str] = ()) -> list[Rule]:
    rules = all_rules()
    ignore = [p.upper() for p in ignore]
    if select is None:
        enabled = [r for r in rules if r.default_enabled]
        return [r for r in enabled if is_selected(r.code, ["AFY"], ignore)]
    sel = [p.upper() for p in select]
    out = []
    for r in rules:
        if not is_selected(r.code, sel, ignore):
            continue
        # off-by-default rules need an explicit selection of at least their family (AFY9 or longer)
        if not r.default_enabled and not any(r.code.startswith(p) and len(p) >= 4 for p in sel):
            continue
        out.append(r)
    return out
