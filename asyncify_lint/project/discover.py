"""Project root, file listing and module names."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import subprocess

ROOT_MARKERS = ("setup.cfg", "pyproject.toml", ".git", "setup.py")

DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".eggs",
    "*.egg-info",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".asyncify_cache",
    "__pypackages__",
)

# Read for analysis, never written: tests, and the database migration environments (Alembic's
# `env.py` and revisions run synchronously by the `alembic` command, outside the app).
DEFAULT_TEST_PATTERNS = ("tests/", "test/", "test_*.py", "*_test.py", "conftest.py", "alembic/", "migrations/")


def has_marker(directory: str) -> bool:
    """``directory`` holds a project marker (setup.cfg, pyproject.toml, .git, setup.py)."""
    return any(os.path.exists(os.path.join(directory, m)) for m in ROOT_MARKERS)


def find_root(start: str) -> str:
    """The nearest directory at or above ``start`` holding a project marker; else ``start``'s directory."""
    start = os.path.abspath(start)
    here = start if os.path.isdir(start) else os.path.dirname(start)
    d = here
    while True:
        if has_marker(d):
            return d
        up = os.path.dirname(d)
        if up == d:
            return here
        d = up


def _parts(relpath: str) -> list[str]:
    return [p for p in relpath.replace(os.sep, "/").split("/") if p and p != "."]


def matches_any(relpath: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """gitignore-like matching: a pattern without '/' matches any path component (or the file name);
    a pattern ending in '/' matches a directory component; a pattern with '/' matches the path."""
    return _compiled(tuple(patterns)).matches(relpath)


class _Patterns:
    """One list of patterns, compiled: the component patterns into one expression each (for any
    component, for directory components), with the answer per component name memoised (a project's
    paths share few distinct names); the patterns with a '/' are matched against the path."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        names: list[str] = []
        dirs: list[str] = []
        self.paths: list[str] = []
        self.dir_paths: list[str] = []
        for pat in patterns:
            if pat.endswith("/"):
                name = pat.rstrip("/")
                (self.dir_paths if "/" in name else dirs).append(name)
            elif "/" in pat:
                self.paths.append(pat)
            else:
                names.append(pat)
        self._name = _either(names)
        self._dir = _either(names + dirs)
        self._memo: dict[tuple[str, bool], bool] = {}

    def _component(self, part: str, is_dir: bool) -> bool:
        key = (part, is_dir)
        found = self._memo.get(key)
        if found is None:
            match = self._dir if is_dir else self._name
            found = self._memo[key] = match is not None and match(part) is not None
        return found

    def matches(self, relpath: str) -> bool:
        parts = _parts(relpath)
        last = len(parts) - 1
        if any(self._component(p, i < last) for i, p in enumerate(parts)):
            return True
        if not (self.paths or self.dir_paths):
            return False
        norm = "/".join(parts)
        for name in self.dir_paths:
            if norm.startswith(name + "/") or fnmatch.fnmatchcase(norm, name + "/*"):
                return True
        for pat in self.paths:
            if fnmatch.fnmatchcase(norm, pat.lstrip("/")) or norm.startswith(pat.strip("/") + "/"):
                return True
        return False


def _either(patterns: list[str]):
    """One compiled expression matching any of the fnmatch ``patterns`` (case-sensitive), or None."""
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)).match


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> _Patterns:
    return _Patterns(patterns)


def git_files(root: str) -> list[str] | None:
    """Tracked and untracked-but-not-ignored .py files under root (relative paths), or None outside git."""
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.py", "*.pyi"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = []
    for rel in out.decode("utf-8", "surrogateescape").split("\0"):
        if rel.endswith(".py") and os.path.isfile(os.path.join(root, rel)):
            files.append(rel)
    return sorted(set(files))


def walk_files(top: str, exclude: tuple[str, ...] | list[str], base: str | None = None) -> list[str]:
    """.py files under ``top``, as paths relative to ``base`` (default ``top``), skipping excluded ones."""
    base = base or top
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = os.path.relpath(dirpath, base)
        keep = []
        for d in dirnames:
            rel = os.path.normpath(os.path.join(rel_dir, d))
            if not matches_any(rel + "/x", exclude):
                keep.append(d)
        dirnames[:] = sorted(keep)
        for f in sorted(filenames):
            if f.endswith(".py"):
                rel = os.path.normpath(os.path.join(rel_dir, f))
                if not matches_any(rel, exclude):
                    out.append(rel)
    return out


def longest_module(modules, qualname: str, proper: bool = False) -> str | None:
    """The longest prefix of ``qualname`` ending at a dot (``qualname`` itself included, unless
    ``proper``) that is one of ``modules``: ``pkg.mod`` for ``pkg.mod.Class.meth``; None when none is."""
    mod = qualname
    if proper:
        mod, dot, _ = mod.rpartition(".")
        if not dot:
            return None
    while mod not in modules:
        mod, dot, _ = mod.rpartition(".")
        if not dot:
            return None
    return mod


def module_names(root: str, relpath: str, packages: dict[str, bool] | None = None) -> list[tuple[str, bool]]:
    """Candidate dotted names of a file: relative to its topmost package's parent, to ``src/``, and to
    root. ``packages`` memoises, per directory, whether it holds an ``__init__.py`` (files share them)."""
    parts = _parts(relpath)
    if not parts or not parts[-1].endswith(".py"):
        return []
    is_package = parts[-1] == "__init__.py"
    stem = parts[:-1] if is_package else parts[:-1] + [parts[-1][:-3]]
    names: list[tuple[str, bool]] = []

    def add(seq: list[str]) -> None:
        if seq and all(p.isidentifier() for p in seq):
            n = ".".join(seq)
            if (n, is_package) not in names:
                names.append((n, is_package))

    # topmost package: climb while the directory has an __init__.py
    dirs = parts[:-1]
    k = len(dirs)
    if packages is None:
        packages = {}
    while k > 0:
        d = "/".join(dirs[:k])
        found = packages.get(d)
        if found is None:
            found = packages[d] = os.path.exists(os.path.join(root, *dirs[:k], "__init__.py"))
        if not found:
            break
        k -= 1
    add(stem[k:])
    if parts[0] == "src":
        add(stem[1:])
    add(stem)
    return names
