"""flake8 adapter: reports the same diagnostics as the CLI; never fixes. flake8 applies ``# noqa``."""

from __future__ import annotations

import ast
import os
from typing import Iterator

from asyncify_lint import __version__
from asyncify_lint.config import ConfigError, Settings, load_config
from asyncify_lint.engine.checker import InternalError
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.runner import Linter
from asyncify_lint.engine.source import SourceFile
from asyncify_lint.project import Project
from asyncify_lint.project.discover import find_root

# One project per root and process: flake8 runs each file in a fresh plugin instance, possibly in
# several worker processes; each process builds what it needs lazily, once.
_PROJECTS: dict[str, tuple[Project, Linter]] = {}


def _linter_for(filename: str) -> Linter:
    root = find_root(os.path.abspath(filename))
    entry = _PROJECTS.get(root)
    if entry is None:
        try:
            settings = load_config(root)
        except ConfigError:
            settings = Settings()
        # flake8 does selection itself: run every rule the project enables, flake8 filters the rest
        project = Project(root, settings)
        entry = (project, Linter(project, settings))
        _PROJECTS[root] = entry
    return entry[1]


class Plugin:
    name = "asyncify-lint"
    version = __version__

    @classmethod
    def parse_options(cls, options) -> None:
        """Called once per flake8 run (before workers fork): start from a fresh project view, so a
        long-lived host (the VS Code Flake8 extension runs flake8 in-process) never reuses the trees
        and facts of an earlier run; per-module summaries still come from the on-disk cache."""
        _PROJECTS.clear()

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        linter = _linter_for(self.filename)
        text = "".join(self.lines)
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
