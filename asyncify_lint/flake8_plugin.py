"""flake8 adapter: reports the same diagnostics as the CLI; never fixes. flake8 applies ``# noqa``.

Installing the package must cost nothing to a flake8 run that selects no AFY code (``flake8 --select
E9``, a project that ignores AFY): flake8 loads this module and calls ``run()`` on every file whatever
the selection. So this module imports nothing of the analysis at import time, ``parse_options`` asks
flake8's own decision engine which AFY codes the run reports, and ``run()`` returns at once when
none is: no configuration read, no project index, no cache written. When some are, only those rules
run (flake8 would drop the others' results anyway).
"""

from __future__ import annotations

import ast
import os
import re
from typing import TYPE_CHECKING, Iterator

from asyncify_lint import __version__

if TYPE_CHECKING:
    from asyncify_lint.engine.runner import Linter
    from asyncify_lint.project import Project

# One project per root and process: flake8 runs each file in a fresh plugin instance, possibly in
# several worker processes; each process builds what it needs lazily, once.
_PROJECTS: dict[str, tuple["Project", "Linter"]] = {}

_RULE_MODULE = re.compile(r"afy(\d{3})_\w+\.py")


def rule_codes() -> tuple[str, ...]:
    """Every rule code, read from the rule modules' file names (``afy301_sync_endpoint.py``) without
    importing them; a test keeps this in step with the registry."""
    import asyncify_lint.rules as rules  # an empty package: loads no rule

    names = os.listdir(os.path.dirname(os.path.abspath(rules.__file__)))
    return tuple(sorted(f"AFY{m.group(1)}" for m in map(_RULE_MODULE.fullmatch, names) if m))


def selected_codes(options) -> frozenset[str] | None:
    """The AFY codes flake8 reports with these options (None when flake8's decision engine cannot
    be asked: then every rule runs and flake8 filters, as before)."""
    try:
        from flake8.style_guide import Decision, DecisionEngine

        engine = DecisionEngine(options)
        return frozenset(c for c in rule_codes() if engine.decision_for(c) is Decision.Selected)
    except Exception:  # another flake8 version's options or API: select nothing away
        return None


def _linter_for(filename: str, selected: frozenset[str] | None) -> "Linter":
    from asyncify_lint.config import ConfigError, load_config
    from asyncify_lint.engine.runner import Linter
    from asyncify_lint.project import Project
    from asyncify_lint.project.discover import find_root

    root = find_root(os.path.abspath(filename))
    entry = _PROJECTS.get(root)
    if entry is None:
        # a bad configuration is an error of the run, as in the CLI (exit 2): flake8 stops with
        # "There was a critical error during execution of Flake8:" and the message, rather than
        # running with settings the user did not write
        try:
            settings = load_config(root)
        except ConfigError as exc:
            from flake8.exceptions import ExecutionError

            raise ExecutionError(f"asyncify-lint: {exc}") from None
        project = Project(root, settings)
        linter = Linter(project, settings)
        if selected is not None:  # flake8 does the selection; only the rules whose codes it reports run
            linter.rules = [r for r in linter.rules if r.code in selected]
        entry = (project, linter)
        _PROJECTS[root] = entry
    return entry[1]


def _undecodable(filename: str, text: str) -> str | None:
    """Why the file's bytes are not text, or None. flake8 falls back to Latin-1 for a file it cannot
    decode and passes that text on; the CLI reports such a file as AFY001, and so does the plugin."""
    if text.isascii() or filename in ("-", "stdin"):
        return None  # ASCII text decodes the same in every encoding Python reads source in
    from asyncify_lint.engine.source import DecodeError, SourceError, SourceFile

    try:
        with open(filename, "rb") as f:
            SourceFile.from_bytes(filename, f.read())
    except DecodeError as exc:
        return str(exc)
    except (OSError, SourceError):
        return None
    return None


class Plugin:
    name = "asyncify-lint"
    version = __version__
    #: the AFY codes this flake8 run reports (None: not known, run every rule)
    selected: frozenset[str] | None = None

    @classmethod
    def parse_options(cls, options) -> None:
        """Called once per flake8 run (before workers fork): start from a fresh project view, so a
        long-lived host (the VS Code Flake8 extension runs flake8 in-process) never reuses the trees
        and facts of an earlier run; per-module summaries still come from the on-disk cache."""
        _PROJECTS.clear()
        cls.selected = selected_codes(options)

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        selected = type(self).selected
        if selected is not None and not selected:
            return  # no AFY code is reported by this run: nothing to do
        text = "".join(self.lines)
        reason = _undecodable(self.filename, text)
        if reason is not None:
            yield 1, 0, f"AFY001 cannot parse: {reason}", type(self)
            return
        from asyncify_lint.engine.checker import InternalError
        from asyncify_lint.engine.context import FileContext
        from asyncify_lint.engine.source import SourceFile

        linter = _linter_for(self.filename, selected)
        limit = linter.settings.max_file_size
        if limit:  # over max-file-size: one AFY001, as in the CLI (flake8 has parsed it, nothing more is done)
            try:
                size = os.path.getsize(self.filename)
            except OSError:  # stdin
                size = len(text.encode("utf-8", "surrogatepass"))
            if size > limit:
                from asyncify_lint.config import too_large_message

                yield 1, 0, f"AFY001 {too_large_message(size, limit)}", type(self)
                return
        path = os.path.abspath(self.filename)
        relpath = linter.project.relpath(path)
        src = SourceFile(path, text, "utf-8", b"")
        module, is_pkg = linter.project.module_of(relpath)
        ctx = FileContext(
            src,
            self.tree,
            display_path=self.filename,
            module=module,
            is_package=is_pkg,
            project=linter.project,
            settings=linter.settings,
            is_test=linter.project.is_test_file(relpath),
        )
        try:
            diags = linter.diagnostics(ctx, noqa=False)
        except InternalError:
            return
        for d in diags:
            yield d.line, d.col, f"{d.code} {d.message}", type(self)
