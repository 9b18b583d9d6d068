"""What the command line's modules share: the exit codes, usage errors, the argument parser, and the
writing of a migration (``--fix``, ``--add-noqa``, ``plan --apply``). ``cli.py`` and the commands it
runs (add_noqa.py, rule_command.py, plan/, server/) import it; it imports none of them."""

from __future__ import annotations

import argparse
import os
import sys

from asyncify_lint.engine.runner import FileState, display_path
from asyncify_lint.project import Project

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with one line, as argparse does, but without the usage dump
        raise UsageError(message)


def _write_migration(project: Project, states: list[FileState], new_files: dict[str, str], failed: list[str],
                     journal: str, quiet: bool = False) -> tuple[int, int]:
    """Write the migration (``--fix``): every file of it or none. Returns (exit code, files written); an
    exit code above ``EXIT_ERROR`` is a signal's, and the run ends there. When nothing is written, each
    file's state is put back to the text on disk, so that what is reported after is what the files hold."""
    from asyncify_lint.engine.transaction import Change, Interrupted, WriteFailed, commit, problems, signals_interrupt

    changes: list[Change] = []
    for st in states:
        if not st.changed:
            continue
        assert st.source is not None and st.text is not None
        try:
            data = st.source.encode(st.text)
        except UnicodeEncodeError as exc:
            print(f"asyncify-lint: error: {st.display}: the fixed text cannot be encoded as {st.source.encoding} "
                  f"({exc.reason}, line {st.text.count(chr(10), 0, exc.start) + 1})", file=sys.stderr)
            failed.append(st.display)
            continue
        changes.append(Change(st.relpath, st.source.path, st.display, st.source.raw, data))
    for rel, text in sorted(new_files.items()):  # the bridge's helpers: new files
        path = os.path.join(project.root, rel)
        changes.append(Change(rel, path, display_path(path), None, text.encode("utf-8")))
    if failed:
        refusal = [f"the migration failed in {', '.join(failed)}; nothing was written"]
    else:
        refusal = problems(changes) if changes else []
    if not refusal and changes:
        try:
            with signals_interrupt():
                commit(changes, journal)
        except WriteFailed as exc:
            refusal = [str(exc)]
        except Interrupted as exc:
            print(f"asyncify-lint: error: interrupted while the migration was written ({exc.written} of "
                  f"{len(changes)} files written); run `asyncify-lint --fix` again to finish it", file=sys.stderr)
            return 128 + exc.signum, 0
    if refusal:
        for line in refusal:
            print(f"asyncify-lint: error: {line}", file=sys.stderr)
        for st in states:
            st.fixed.clear()
            if st.changed:
                assert st.source is not None
                st.text = st.source.text
                project.set_overlay(st.relpath, st.text)
        return EXIT_ERROR, 0
    for c in changes if not quiet else ():
        if c.original is None:
            print(f"Writing {c.display} (the bridge's helpers)", file=sys.stderr)
        else:
            print(f"Rewriting {c.display}", file=sys.stderr)
    for st in states:
        if st.changed:
            project.set_overlay(st.relpath, st.text)
    return EXIT_CLEAN, len(changes)
