"""``asyncify-lint rule NAME`` and ``asyncify-lint rule --all``: a rule's documentation, as ``ruff rule``.

NAME is a code (``AFY301``, any case) or a rule's name (``sync-endpoint``). ``--output-format json``
prints an object per rule (a list with ``--all``), for tools. ``asyncify-lint --explain CODE`` is the
text form of one rule.
"""

from __future__ import annotations

import difflib
import json
import sys

from asyncify_lint.cli_common import EXIT_CLEAN, UsageError, _Parser
from asyncify_lint.devtools.generate_docs import fix_text, plain_summary
from asyncify_lint.registry import Rule, all_rules, find_rule


def format_text(rule: Rule) -> str:
    lines = [f"# {rule.code} {rule.name}", "", fix_text(rule)]
    if not rule.default_enabled:
        lines.append("Off by default: enable it with --select.")
    return "\n".join(lines) + "\n" + rule.doc.rstrip() + "\n"


def as_json(rule: Rule) -> dict:
    return {
        "code": rule.code,
        "name": rule.name,
        "linter": "asyncify-lint",
        "summary": plain_summary(rule),
        "message_formats": [rule.message],
        "fix": fix_text(rule),
        "fix_availability": rule.fix_availability.value,
        "fix_applicability": rule.fix_applicability.value if rule.fix_applicability else None,
        "default_enabled": rule.default_enabled,
        "preview": rule.preview,
        "since": rule.since,
        "explanation": rule.doc.strip() + "\n",
    }


def lookup(name: str) -> Rule:
    """The rule of a code or name; else a usage error that names the closest ones."""
    rule = find_rule(name)
    if rule is None:
        is_code = name[:3].upper() == "AFY"
        known = [r.code if is_code else r.name for r in all_rules()]
        close = difflib.get_close_matches(name.upper() if is_code else name.lower(), known, 3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown rule {'code' if is_code else 'name'} {name!r}{hint}; "
                         "`asyncify-lint rule --all` lists them")
    return rule


def show(rules: list[Rule], output_format: str, many: bool) -> int:
    if output_format == "json":
        data = [as_json(r) for r in rules]
        print(json.dumps(data if many else data[0], indent=2))
    else:
        sys.stdout.write("\n".join(format_text(r) for r in rules))
    return EXIT_CLEAN


def main(argv: list[str]) -> int:
    p = _Parser(prog="asyncify-lint rule", description="Print the documentation of a rule, or of every rule.")
    p.add_argument("name", nargs="?", help="a rule's code (AFY301) or name (sync-endpoint)")
    p.add_argument("--all", action="store_true", help="every rule")
    p.add_argument("--output-format", choices=("text", "json"), default="text", help="output format")
    args = p.parse_args(argv)
    if args.all == (args.name is not None):
        raise UsageError("rule: give a rule's code or name, or --all")
    if args.all:
        return show(all_rules(), args.output_format, many=True)
    return show([lookup(args.name)], args.output_format, many=False)
