"""``# noqa`` handling for the standalone CLI, with flake8's regex and line mapping.

Under flake8, flake8 does this itself and the plugin reports everything.
"""

from __future__ import annotations

import io
import re
import tokenize

from asyncify_lint.diagnostics import Diagnostic

# flake8/defaults.py NOQA_INLINE_REGEX
NOQA_INLINE = re.compile(
    r"# noqa"
    r"(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?",
    re.IGNORECASE,
)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa(?P<codes>:\s?(([A-Z][0-9]+(?:[,\s]+)?)+))?", re.I)
_SEP = re.compile(r"[,\s]")


def _line_mapping(text: str, lines: list[str]) -> dict[int, str]:
    """flake8's FileProcessor._noqa_line_mapping: each line of a multi-line token run maps to the joined run."""
    ret: dict[int, str] = {}
    try:
        min_line, max_line = len(lines) + 2, -1
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            tp, (s_line, _), (e_line, _) = tok.type, tok.start, tok.end
            if tp in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            min_line, max_line = min(min_line, s_line), max(max_line, e_line)
            if tp in (tokenize.NL, tokenize.NEWLINE):
                joined = "".join(lines[min_line - 1 : max_line])
                for ln in range(min_line, max_line + 1):
                    ret[ln] = joined
                min_line, max_line = len(lines) + 2, -1
    except (tokenize.TokenError, SyntaxError):
        return {}
    return ret


def _suppresses(comment_text: str, code: str) -> bool:
    m = NOQA_INLINE.search(comment_text)
    if m is None:
        return False
    codes = m.group("codes")
    if not codes:
        return True
    return any(code.startswith(c) for c in _SEP.split(codes) if c)


def filter_noqa(text: str, lines: list[str], diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    if not diagnostics or "noqa" not in text.lower():
        return diagnostics
    for line in lines:
        m = NOQA_FILE.match(line)
        if m and not m.group("codes"):
            return []
    mapping = _line_mapping(text, lines)
    out = []
    for d in diagnostics:
        ctext = mapping.get(d.line)
        if ctext is None:
            ctext = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
        if not _suppresses(ctext, d.code):
            out.append(d)
    return out
