"""``asyncify-lint --add-noqa``: a ``# noqa: AFYnnn`` directive for every finding, as ``ruff --add-noqa``.

Each directive goes where the noqa engine (engine/noqa.py, flake8's mapping) reads it for that finding:
at the end of the last line of the finding's run of lines, so a finding inside a multi-line string gets
its comment after the closing quotes, never in the string. A line that has a ``# noqa: X`` comment gets
the new codes merged into it (``# noqa: X, AFY301``), never a code twice; a line with another comment
gets the directive after it. Findings of a file that does not parse (AFY001) get none, and so does a line
whose run holds a ``# noqa: X`` in a string before it (flake8 reads the first one only).
"""

from __future__ import annotations

import os
import sys
import tokenize

from asyncify_lint.cli_common import EXIT_CLEAN, UsageError, _write_migration
from asyncify_lint.diagnostics import Diagnostic
from asyncify_lint.engine.noqa import _SEP, NOQA_INLINE, _suppresses, physical_lines, token_runs
from asyncify_lint.engine.runner import PARSE_ERROR, FileState
from asyncify_lint.project import Project


def with_noqa(text: str, diagnostics: list[Diagnostic]) -> tuple[str, int]:
    """``text`` with the directives that silence ``diagnostics`` (all of one file), and how many lines
    got one."""
    lines = physical_lines(text)
    try:
        runs = list(token_runs(text))
    except (tokenize.TokenError, SyntaxError):
        return text, 0
    last_of: dict[int, int] = {}
    first_of: dict[int, int] = {}
    comments: dict[int, tokenize.TokenInfo] = {}
    for first, last, comment in runs:
        for ln in range(first, last + 1):
            last_of[ln] = last
        first_of[last] = first
        if comment is not None and comment.start[0] == last:
            comments[last] = comment
    wanted: dict[int, list[str]] = {}
    for d in diagnostics:
        if d.code == PARSE_ERROR:
            continue
        ln = last_of.get(d.line, d.line)
        if 0 < ln <= len(lines):
            codes = wanted.setdefault(ln, [])
            if d.code not in codes:
                codes.append(d.code)
    added = 0
    for ln, codes in wanted.items():
        line = lines[ln - 1]
        body = line.rstrip("\r\n")
        comment = comments.get(ln)
        m = NOQA_INLINE.search(comment.string) if comment is not None else None
        if comment is not None and m is not None and m.group("codes"):
            have = [c for c in _SEP.split(m.group("codes")) if c]
            new = [c for c in sorted(codes) if c not in have]
            if not new:
                continue
            listed = m.group("codes").rstrip(", \t")
            at = comment.start[1] + m.start("codes") + len(listed)
            body = body[:at] + ", " + ", ".join(new) + body[at:]
        elif m is not None:  # a bare `# noqa` silences the whole line already
            continue
        else:
            body = body.rstrip(" \t") + "  # noqa: " + ", ".join(sorted(codes))
        lines[ln - 1] = body + line[len(line.rstrip("\r\n")):]
        run = "".join(lines[first_of.get(ln, ln) - 1 : ln])
        if not all(_suppresses(run, code) for code in codes):  # a `# noqa:X` in a string comes first
            lines[ln - 1] = line
            continue
        added += 1
    return "".join(lines), added


def add_noqa(states: list[FileState], diagnostics: list[Diagnostic]) -> int:
    """Put the directives for ``diagnostics`` into the text of each file's state (``FileState.text``);
    returns how many were added."""
    by_display: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_display.setdefault(d.path, []).append(d)
    added = 0
    for st in states:
        found = by_display.get(st.display)
        if st.source is None or st.text is None or not found:
            continue
        st.text, n = with_noqa(st.text, found)
        added += n
    return added


def write_noqa(project: Project, states: list[FileState], diagnostics: list[Diagnostic], journal: str,
               quiet: bool) -> int:
    """Add the directives and write the files, every one or none (the migration's transaction, its
    journal included); says how many were added. Returns the exit code."""
    if os.path.exists(journal):
        raise UsageError("a migration was interrupted: finish it with `asyncify-lint --fix` before --add-noqa")
    added = add_noqa(states, diagnostics)
    code, _ = _write_migration(project, states, {}, [], journal, quiet=True)
    if code == EXIT_CLEAN and not quiet:
        print(f"Added {added} noqa directive{'s' if added != 1 else ''}.", file=sys.stderr)
    return code
