"""The project root of a command-line run, and why it was chosen (``--verbose`` says it).

The enclosing project is the nearest directory with a project marker around the current directory (or
around the paths, when they lie outside it or no marker covers the current directory). Inside it, the
paths may lie in an **app of its own**: the innermost directory, between the paths and the enclosing
root, that holds a project marker or a ``requirements*.txt`` and whose files import nothing from the
rest of the enclosing project. That app is the project then: it is indexed alone (an example app in a
tool's repository, a service of a monorepo), instead of every file around it.

"Import nothing from the rest" is read from the import statements of the app's files, never run: each
absolute import's top-level name is one of the app's own modules (as its import roots name them), a
standard module, or a name no module of the rest of the project is importable as (an installed
distribution); no relative import climbs out of the app. Nor may the rest import the app (a
``tests/`` directory beside it): those tests use it, and the test-impact report must read them.
"""

from __future__ import annotations

import glob
import os
import re
import sys
from dataclasses import dataclass

from asyncify_lint.config import DEFAULT_EXCLUDE
from asyncify_lint.engine.runner import display_path
from asyncify_lint.project import Project
from asyncify_lint.project.discover import ROOT_MARKERS, Layout, find_root, git_files, walk_files

#: an app's own marker, besides the project markers
REQUIREMENTS = "requirements*.txt"

_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<dots>\.*)[ \t]*(?P<module>[\w.]*)[ \t]+import\b|import[ \t]+(?P<names>[\w. \t,]+))",
    re.M,
)


@dataclass
class RootChoice:
    root: str  # absolute
    why: str  # for --verbose: what made it the root
    #: the enclosing project's root (``root`` itself unless the paths are an app of their own)
    outer: str


def marker_of(directory: str, app: bool = False) -> str | None:
    """The project marker ``directory`` holds (with ``app``, also a ``requirements*.txt``), or None."""
    for name in ROOT_MARKERS:
        if os.path.exists(os.path.join(directory, name)):
            return name
    if app:
        found = sorted(glob.glob(os.path.join(glob.escape(directory), REQUIREMENTS)))
        if found:
            return os.path.basename(found[0])
    return None


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def choose_root(paths: list[str], cwd: str) -> RootChoice:
    """The project root for a run on ``paths`` (files or directories) from ``cwd``."""
    cwd_root = find_root(cwd)
    absolute = [os.path.abspath(p) for p in paths]
    first = paths[0]
    if all(_within(p, cwd_root) for p in absolute):
        outer, marker = cwd_root, marker_of(cwd_root)
        why = f"the project around the current directory, which holds {marker}"
        if marker is None:
            path_root = find_root(first)
            marker = marker_of(path_root)
            if marker is not None:  # no project around the cwd: the paths' own
                outer, why = path_root, f"the project around {first}, which holds {marker}"
            else:
                why = "the current directory: no project marker around it or the paths"
    else:
        outer = find_root(first)
        marker = marker_of(outer)
        why = (f"the project around {first}, which holds {marker}" if marker is not None
               else f"the directory of {first}: no project marker around it")
    dirs = [p if os.path.isdir(p) else os.path.dirname(p) for p in absolute]
    d = os.path.commonpath(dirs)
    rejected: list[str] = []
    while d != outer and _within(d, outer):
        marker = marker_of(d, app=True)
        if marker is not None:
            reason = imports_from_outside(d, outer)
            if reason is None:
                return RootChoice(d, f"an app of its own: it holds {marker} and imports nothing from the rest "
                                     f"of {display_path(outer)} ({why})", outer)
            rejected.append(f"not {display_path(d)}, which holds {marker} but {reason}")
        d = os.path.dirname(d)
    return RootChoice(outer, "; ".join([why] + rejected), outer)


def imports_from_outside(app: str, outer: str) -> str | None:
    """What ``app`` (a directory inside the project at ``outer``) imports from the rest of that project
    (``imports `common` (api/main.py:3)``), or None when it imports nothing from there."""
    project = Project(app)
    own = {name.split(".")[0].split("/")[0] for name in project.modules}
    rest_files, rest = _rest_of(app, outer)
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    for rel in project.files:
        text = _read(os.path.join(app, rel))
        depth = len(rel.replace(os.sep, "/").split("/")) - 1
        for m in _IMPORT.finditer(text):
            where = f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
            if m.group("dots"):
                if len(m.group("dots")) > depth:
                    return f"makes a relative import out of it ({where})"
                continue
            for top in _imported_tops(m):
                if top not in own and top not in stdlib and top in rest:
                    return f"imports `{top}` ({where}), which the rest of the project has"
    # the other way: a module of the rest imports one of the app's own names (that the rest does not
    # have itself), as a test directory beside the app does
    mine = own - rest - stdlib
    for rel in rest_files:
        if not rel.endswith(".py"):
            continue
        text = _read(os.path.join(outer, rel))
        for m in _IMPORT.finditer(text):
            if m.group("dots"):
                continue
            for top in _imported_tops(m):
                if top in mine:
                    where = f"{display_path(os.path.join(outer, rel))}:{text.count(chr(10), 0, m.start()) + 1}"
                    return f"is imported by the rest of the project (`{top}` at {where})"
    return None


def _imported_tops(m: re.Match) -> list[str]:
    """The top-level names an absolute import statement matched by ``_IMPORT`` imports from."""
    names = [m.group("module")] if m.group("names") is None else m.group("names").split(",")
    out = []
    for name in names:
        words = name.split()
        top = words[0].split(".")[0] if words else ""
        if top:
            out.append(top)
    return out


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _rest_of(app: str, outer: str) -> tuple[list[str], set[str]]:
    """The files of the project at ``outer`` outside ``app``, and the top-level names they are
    importable as (discover.Layout: from their import roots and packages) with the names of the
    directories from ``outer`` down to ``app``."""
    rel_app = os.path.relpath(app, outer).replace(os.sep, "/")
    files = git_files(outer)
    if files is None:
        files = walk_files(outer, DEFAULT_EXCLUDE)
    rest = [f for f in files if not f.replace(os.sep, "/").startswith(rel_app + "/")]
    names = {name.split(".")[0] for name in Layout(outer, rest).modules if "/" not in name}
    return rest, names | set(rel_app.split("/"))
