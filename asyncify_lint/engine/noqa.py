"""``# noqa`` handling for the standalone CLI, with flake8's regex and line mapping.

Under flake8, flake8 does this itself and the plugin reports everything.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from typing import Iterator

from asyncify_lint.diagnostics import Diagnostic

# flake8/defaults.py NOQA_INLINE_REGEX
NOQA_INLINE = re.compile(
    r"# noqa"
    r"(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?",
    re.IGNORECASE,
)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa(?P<codes>:\s?(([A-Z][0-9]+(?:[,\s]+)?)+))?", re.I)
_SEP = re.compile(r"[,\s]")
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def physical_lines(text: str) -> list[str]:
    """The lines of ``text`` with their endings, numbered as ``ast`` numbers them: split at ``\r\n``,
    ``\r`` and ``\n`` only (``str.splitlines`` also splits at a form feed, and then the numbers drift)."""
    return _PHYSICAL_LINE.findall(text)


def token_runs(text: str) -> Iterator[tuple[int, int, tokenize.TokenInfo | None]]:
    """flake8's runs of lines (FileProcessor._noqa_line_mapping): the tokens up to each NL or NEWLINE,
    as (first line, last line, the run's last comment or None). A run spans several lines only through
    a multi-line string or a backslash continuation; a comment can only end it. Raises
    ``tokenize.TokenError`` or ``SyntaxError`` on text that does not tokenize."""
    min_line, max_line, comment = sys.maxsize, -1, None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        tp, (s_line, _), (e_line, _) = tok.type, tok.start, tok.end
        if tp in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        min_line, max_line = min(min_line, s_line), max(max_line, e_line)
        if tp == tokenize.COMMENT:
            comment = tok
        elif tp in (tokenize.NL, tokenize.NEWLINE):
            yield min_line, max_line, comment
            min_line, max_line, comment = sys.maxsize, -1, None


def _line_mapping(text: str, lines: list[str]) -> dict[int, str]:
    """Each line of a multi-line token run maps to the joined run (flake8's line mapping)."""
    ret: dict[int, str] = {}
    try:
        for first, last, _ in token_runs(text):
            joined = "".join(lines[first - 1 : last])
            for ln in range(first, last + 1):
                ret[ln] = joined
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
