"""``# noqa`` handling for the standalone CLI, with flake8's regex and line mapping.

Under flake8, flake8 does this itself and the plugin reports everything.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from typing import Iterator

from flake8.defaults import NOQA_FILE, NOQA_INLINE_REGEXP

from asyncify_lint.diagnostics import Diagnostic, Edit
from asyncify_lint.engine.source import SourceFile

# flake8's own: `# noqa`, `# noqa: X1,Y2`; a line that starts with `# flake8: noqa` (codes after it or
# not: flake8 ignores the whole file then, and so does the CLI)
NOQA_INLINE = NOQA_INLINE_REGEXP
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


def _noqa_text(mapping: dict[int, str], lines: list[str], line: int) -> str:
    """The text a ``# noqa`` for ``line`` is read from: its token run, else the physical line."""
    ctext = mapping.get(line)
    if ctext is None:
        ctext = lines[line - 1] if 0 < line <= len(lines) else ""
    return ctext


def filter_noqa(text: str, lines: list[str], diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    if not diagnostics or "noqa" not in text.lower():
        return diagnostics
    if any(NOQA_FILE.match(line) for line in lines):
        return []
    mapping = _line_mapping(text, lines)
    return [d for d in diagnostics if not _suppresses(_noqa_text(mapping, lines, d.line), d.code)]


def suppressed_codes(text: str, line: int, codes: tuple[str, ...]) -> list[str]:
    """Which of ``codes`` a ``# noqa`` on ``line`` (or on the token run holding it) suppresses, as
    ``filter_noqa`` reads it; a file-level ``# flake8: noqa`` counts too."""
    if "noqa" not in text.lower():
        return []
    lines = physical_lines(text)
    if any(NOQA_FILE.match(x) for x in lines):
        return list(codes)
    ctext = _noqa_text(_line_mapping(text, lines), lines, line)
    return [c for c in codes if _suppresses(ctext, c)]


def _run_of(text: str, line: int) -> tuple[int, list[tokenize.TokenInfo]]:
    """The run of physical lines flake8 reads one ``# noqa`` for (``_line_mapping``) that holds
    ``line``: (its last line, its comments); the line alone when the text does not tokenize."""
    first, comments = 0, []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            if not first:
                first = tok.start[0]
            if tok.type == tokenize.COMMENT:
                comments.append(tok)
            elif tok.type in (tokenize.NL, tokenize.NEWLINE):
                if first <= line <= tok.end[0]:
                    return tok.start[0], comments
                first, comments = 0, []
    except (tokenize.TokenError, SyntaxError):
        pass
    return line, []


def noqa_edit(text: str, line: int, code: str) -> Edit:
    """The edit that makes ``# noqa`` hide ``code`` reported on ``line`` (1-based), as flake8 reads it:
    the code added to a ``# noqa: ...`` comment on the line's run of physical lines (a statement
    continued with a backslash, a multi-line string), else ``  # noqa: CODE`` at the end of the run's
    last line, after any comment there (never inside a string, nor after a backslash)."""
    last, comments = _run_of(text, line)
    src = SourceFile("", text, "utf-8", b"")
    for tok in comments:
        m = NOQA_INLINE.search(tok.string)
        if m is not None and m.group("codes"):
            start = src.line_starts[tok.start[0] - 1] + tok.start[1] + m.start("codes")
            at = start + len(m.group("codes").rstrip(", \t"))
            return Edit(at, at, f", {code}")
    starts = src.line_starts
    last = min(last, len(starts))
    content = src.line_text(last).rstrip("\r\n").rstrip(" \t\f")
    at = starts[last - 1] + len(content)
    return Edit(at, at, f"  # noqa: {code}")
