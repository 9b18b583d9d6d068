"""Project root, file listing and module names."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import subprocess

from asyncify_lint.config import DEFAULT_TEST_PATTERNS

ROOT_MARKERS = ("setup.cfg", "pyproject.toml", ".git", "setup.py")


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


# -- import roots and module names --------------------------------------------------------------

# pytest's configuration files, and the section of each that holds its options
_PYTEST_INI = (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))


class ModuleName(str):
    """A module's dotted name as the project's module map knows it. ``imports`` maps the top-level
    names that absolute imports in this module write to the names the map gives them, where they
    differ: in an app whose package names another app of the repository took first (``Layout``),
    ``from app.db import x`` is ``<app root>/app.db.x`` (engine/scope.py ``absolute``)."""

    imports: dict[str, str] = {}

    def __new__(cls, value: str, imports: dict[str, str] | None = None) -> "ModuleName":
        self = super().__new__(cls, value)
        if imports:
            self.imports = imports
        return self


def _rel_dir(root: str, path: str) -> str | None:
    """``path`` (absolute) as a directory relative to ``root`` ("" for root), None outside root."""
    rel = os.path.relpath(os.path.normpath(path), root)
    if rel == ".":
        return ""
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return None
    return "/".join(_parts(rel))


def pytest_pythonpath(directory: str) -> list[str]:
    """The directories pytest's ``pythonpath`` option, in a configuration file of ``directory``,
    puts on ``sys.path`` (absolute paths)."""
    import configparser

    out: list[str] = []
    for name, section in _PYTEST_INI:
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
            value = parser.get(section, "pythonpath", fallback="")
        except (configparser.Error, UnicodeDecodeError, OSError):
            continue
        out.extend(os.path.join(directory, p) for p in value.split())
    path = os.path.join(directory, "pyproject.toml")
    if os.path.isfile(path):
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            with open(path, "rb") as f:
                value = tomllib.load(f).get("tool", {}).get("pytest", {}).get("ini_options", {}).get("pythonpath")
        except (OSError, ValueError, AttributeError):
            value = None
        if isinstance(value, str):
            value = value.split()
        if isinstance(value, list):
            out.extend(os.path.join(directory, p) for p in value if isinstance(p, str))
    return out


def conftest_sys_path(path: str, text: str) -> list[str]:
    """The directories a ``conftest.py`` adds to ``sys.path`` (absolute paths): the arguments of its
    ``sys.path.insert(i, p)`` / ``sys.path.append(p)`` calls that are built from ``__file__``
    (``os.path`` functions, ``pathlib.Path`` and its ``parent``/``parents[n]``/``/``), directly or
    through a module-level name."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names: dict[str, ast.AST] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            names[stmt.targets[0].id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            names[stmt.target.id] = stmt.value

    def dotted(node: ast.AST) -> str:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        return ""

    def literal(node: ast.AST) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    def value(node: ast.AST, depth: int = 0) -> str | None:
        """The absolute path ``node`` evaluates to, when it is built from ``__file__``."""
        if depth > 20:
            return None
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return path
            bound = names.get(node.id)
            return value(bound, depth + 1) if bound is not None else None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = value(node.value, depth + 1)
            return os.path.dirname(base) if base else None
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "parents" and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, int)):
            base = value(node.value.value, depth + 1)
            for _ in range(node.slice.value + 1):
                base = os.path.dirname(base) if base else None
            return base
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            base, part = value(node.left, depth + 1), literal(node.right)
            return os.path.join(base, part) if base and part is not None else None
        if not isinstance(node, ast.Call) or node.keywords:
            return None
        func = dotted(node.func)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else func
        args = node.args
        if isinstance(node.func, ast.Attribute) and name in ("resolve", "absolute", "expanduser", "joinpath") \
                and func not in ("os.path.expanduser",):
            base = value(node.func.value, depth + 1)
            if base is None or name != "joinpath":
                return base if not args else None
            rest = [literal(a) for a in args]
            return os.path.join(base, *rest) if None not in rest else None  # type: ignore[arg-type]
        if not args:
            return None
        if func in ("os.path.join", "join", "Path", "pathlib.Path", "PurePath", "pathlib.PurePath"):
            base = value(args[0], depth + 1)
            rest = [literal(a) for a in args[1:]]
            return os.path.join(base, *rest) if base and None not in rest else None  # type: ignore[arg-type]
        if len(args) != 1:
            return None
        if func in ("os.path.dirname", "dirname"):
            base = value(args[0], depth + 1)
            return os.path.dirname(base) if base else None
        if func in ("os.path.abspath", "abspath", "os.path.realpath", "realpath", "os.path.normpath",
                    "normpath", "str", "os.fspath", "fspath"):
            return value(args[0], depth + 1)
        return None

    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or node.keywords:
            continue
        func = dotted(node.func)
        if func == "sys.path.insert" and len(node.args) == 2:
            arg = node.args[1]
        elif func == "sys.path.append" and len(node.args) == 1:
            arg = node.args[0]
        else:
            continue
        found = value(arg)
        if found is not None:
            out.append(os.path.normpath(found))
    return out


class _External:
    """Whether a top-level name is a module of the standard library or an installed distribution:
    a module or regular package found on this interpreter's path outside the project, or in a
    virtual environment at the project's root (``.venv``, ``venv``). Nothing is imported."""

    def __init__(self, root: str) -> None:
        import glob
        import sys

        self.stdlib = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)
        paths = []
        for p in sys.path:
            if not p or not os.path.isdir(p):
                continue
            inside = _rel_dir(root, os.path.abspath(p)) is not None
            if not inside or "site-packages" in _parts(p) or "dist-packages" in _parts(p):
                paths.append(p)
        for venv in (".venv", "venv"):
            paths += sorted(glob.glob(os.path.join(root, venv, "lib", "python*", "site-packages")))
            paths += glob.glob(os.path.join(root, venv, "Lib", "site-packages"))
        self.paths = paths
        self._memo: dict[str, bool] = {}

    def __call__(self, top: str) -> bool:
        found = self._memo.get(top)
        if found is None:
            found = top in self.stdlib
            if not found:
                import importlib.machinery

                try:
                    spec = importlib.machinery.PathFinder.find_spec(top, self.paths)
                except (ImportError, OSError, ValueError):
                    spec = None
                # a module or a regular package; a directory without __init__.py (a namespace
                # portion) would lose to the project's own module or package of that name
                found = spec is not None and spec.origin is not None
            self._memo[top] = found
        return found


class _Candidate:
    """One name a file is importable as."""

    __slots__ = ("parts", "base", "kind", "real")

    def __init__(self, parts: list[str], base: str, kind: str, real: bool) -> None:
        self.parts = parts  # the dotted name's components
        self.base = base  # the directory it is relative to ("" for the root)
        self.kind = kind  # "strong": from the file's import root; "weak": from its own directory; "alias"
        self.real = real  # its top-level component is a module or a regular package at ``base``


class Layout:
    """Where each file of a project is importable from, and the module names that follow.

    Import roots: the project's root; each sub-project root below it (a directory with a
    pyproject.toml, setup.cfg, setup.py or .git); the ``src/`` directory of either (unless it is a
    package itself); the directories pytest's ``pythonpath`` option or a ``conftest.py``'s
    ``sys.path.insert``/``append`` put on the path. A file's name is relative to the nearest import
    root above it, or, when its directories up to that root hold a regular package (with an
    ``__init__.py``), to the directory above the topmost one (``backend/app/db.py`` is ``app.db``).
    Directories without ``__init__.py`` are namespace packages (PEP 420) in between: ``app/services/
    users.py`` is ``app.services.users`` whether or not ``app/services/`` has one. Also registered,
    as today's Python would find them: the name relative to the file's innermost run of packages
    (a test directory pytest puts on the path: ``tests/helpers.py`` is ``helpers`` too), and the
    name relative to the project's root (``src.pkg.mod``).

    A name whose top-level component is a standard or installed module is the project's only when
    the project has that component as a module or regular package at the root the name is relative
    to (a namespace directory never shadows an installed module): an Alembic environment in
    ``alembic/`` is not the ``alembic`` library, its ``env.py`` is just ``env``.

    Apps: each sub-project root below the project's root is one app; outside them, each directory
    from which files are importable (the root, ``backend/`` above ``backend/app/``) is one. When two
    apps have a module or regular package of the same top-level name (``service_a/app/`` and
    ``service_b/app/``), the first (the shallowest, then by path) keeps its names and every name
    of the other is prefixed with its directory (``service_b/app.db``); absolute imports in the
    other app's files resolve to those prefixed names (``ModuleName.imports``), so an app's imports
    never resolve into a sibling app. (Test files and migrations do not count: every app may have
    its ``conftest.py``.)"""

    def __init__(self, root: str, files: list[str], packages: dict[str, bool] | None = None,
                 is_test=None) -> None:
        self.root = root
        self.files = files
        #: test files and migrations do not make an app's names another's (every app has a conftest)
        self.is_test = is_test or (lambda rel: matches_any(rel, DEFAULT_TEST_PATTERNS))
        self._packages = packages if packages is not None else {}
        self._markers: dict[str, bool] = {}
        self._external: _External | None = None
        dirs: set[str] = {""}
        for rel in files:
            d = "/".join(_parts(rel)[:-1])
            while d not in dirs:
                dirs.add(d)
                d = d.rpartition("/")[0]
        self.subprojects = sorted(d for d in dirs if d and self._is_marker(d))
        roots = {""}
        for top in [""] + self.subprojects:
            src = f"{top}/src" if top else "src"
            if src in dirs:
                roots.add(src)
        for d in sorted(dirs):
            if d == "" or d in self.subprojects or any(
                    os.path.isfile(os.path.join(root, d, n)) for n, _ in _PYTEST_INI):
                for p in pytest_pythonpath(os.path.join(root, d)):
                    found = _rel_dir(root, p)
                    if found is not None:
                        roots.add(found)
        for rel in files:
            if _parts(rel)[-1] == "conftest.py":
                path = os.path.join(root, rel)
                try:
                    with open(path, encoding="utf-8", errors="surrogateescape") as f:
                        text = f.read()
                except OSError:
                    continue
                if "sys.path" in text:
                    for p in conftest_sys_path(path, text):
                        found = _rel_dir(root, p)
                        if found is not None:
                            roots.add(found)
        # an import root inside a package (src/ with an __init__.py) is that package's directory
        self.roots = frozenset(r for r in roots if r == "" or not self._is_package(r))
        self._candidates: dict[str, list[_Candidate]] = {}
        self._build()

    # -- directories ---------------------------------------------------------------------------
    def _is_marker(self, d: str) -> bool:
        found = self._markers.get(d)
        if found is None:
            found = self._markers[d] = has_marker(os.path.join(self.root, *d.split("/")))
        return found

    def _is_package(self, d: str) -> bool:
        """``d`` holds an ``__init__.py`` (memoised: the files of a directory share the answer)."""
        found = self._packages.get(d)
        if found is None:
            found = self._packages[d] = os.path.exists(os.path.join(self.root, *d.split("/"), "__init__.py"))
        return found

    def external(self, top: str) -> bool:
        if self._external is None:
            self._external = _External(self.root)
        return self._external(top)

    def app_of(self, base: str, relpath: str) -> str:
        """The app a file belongs to: its nearest sub-project root below the project's root, else
        ``base``, the directory its name is relative to."""
        parts = _parts(relpath)[:-1]
        for k in range(len(parts), 0, -1):
            if self._is_marker("/".join(parts[:k])):
                return "/".join(parts[:k])
        return base

    # -- names -------------------------------------------------------------------------------
    def candidates(self, relpath: str) -> list[_Candidate]:
        found = self._candidates.get(relpath)
        if found is None:
            found = self._candidates[relpath] = self._candidates_of(relpath)
        return found

    def _candidates_of(self, relpath: str) -> list[_Candidate]:
        parts = _parts(relpath)
        if not parts or not parts[-1].endswith(".py"):
            return []
        is_package = parts[-1] == "__init__.py"
        stem = parts[:-1] if is_package else parts[:-1] + [parts[-1][:-3]]
        dirs = parts[:-1]
        # the nearest import root above the file
        r = len(dirs)
        while r > 0 and "/".join(dirs[:r]) not in self.roots:
            r -= 1
        # the topmost regular package between that root and the file
        top_pkg = next((k for k in range(r + 1, len(dirs) + 1) if self._is_package("/".join(dirs[:k]))), None)
        # the innermost run of regular packages (the file's directory and up while they are packages)
        k = len(dirs)
        while k > r and self._is_package("/".join(dirs[:k])):
            k -= 1
        out: list[_Candidate] = []
        seen: set[tuple[str, ...]] = set()

        def add(start: int, kind: str, real: bool) -> None:
            seq = stem[start:]
            key = tuple(seq)
            if seq and key not in seen and all(p.isidentifier() for p in seq):
                seen.add(key)
                out.append(_Candidate(seq, "/".join(dirs[:start]), kind, real))

        # the name from the import root (through namespace directories, from the topmost package's
        # parent when there is one); its top-level component is real when it is a regular package or
        # a module there
        if top_pkg is not None:
            add(top_pkg - 1, "strong", True)
        else:
            add(r, "strong", len(stem) == r + 1)
        add(k, "weak", False)  # from the file's innermost run of packages (pytest's rootdir insertion)
        add(r, "alias", False)  # from the import root, through the directories above the package
        add(0, "alias", False)  # from the project's root (``src.pkg.mod``)
        return out

    def _sound(self, c: _Candidate) -> bool:
        return c.real or not self.external(c.parts[0])

    def _build(self) -> None:
        # the apps, and the top-level modules and regular packages each has at its import roots
        app_of: dict[str, str] = {}
        tops: dict[str, set[str]] = {}
        claims: dict[str, list[str]] = {}
        for rel in self.files:
            cands = self.candidates(rel)
            if not cands:
                continue
            app = app_of[rel] = self.app_of(cands[0].base, rel)
            names = tops.setdefault(app, set())
            for c in cands:
                if c.kind != "alias" and self._sound(c):
                    names.add(c.parts[0])
                    if c.kind == "strong" and c.real and not self.is_test(rel):
                        apps = claims.setdefault(c.parts[0], [])
                        if app not in apps:
                            apps.append(app)
        order = sorted(tops, key=lambda a: (len(_parts(a)), a))
        rank = {a: i for i, a in enumerate(order)}
        shadowed = set()
        for apps in claims.values():
            if len(apps) > 1:
                first = min(apps, key=rank.__getitem__)
                shadowed.update(a for a in apps if a != first)
        self.app_of_file = app_of
        self.shadowed = frozenset(shadowed)
        self._imports = {a: {t: f"{_prefix(a)}/{t}" for t in sorted(tops[a])} for a in shadowed}
        self._names: dict[str, list[tuple[str, bool]]] = {}
        mods: dict[str, tuple[str, bool]] = {}
        for rel in self.files:
            for name, is_pkg in self.names(rel):
                mods.setdefault(name, (rel, is_pkg))
        self.modules = mods

    def names(self, relpath: str) -> list[tuple[str, bool]]:
        """A file's module names, the one its own definitions are named by first (memoised)."""
        found = self._names.get(relpath)
        if found is None:
            found = self._names[relpath] = self._names_of(relpath)
        return found

    def _names_of(self, relpath: str) -> list[tuple[str, bool]]:
        cands = self.candidates(relpath)
        if not cands:
            return []
        is_package = _parts(relpath)[-1] == "__init__.py"
        app = self.app_of_file.get(relpath)
        if app is None:  # a file not listed (a path given on the command line that is excluded)
            app = self.app_of(cands[0].base, relpath)
        imports = self._imports.get(app)
        out: list[tuple[str, bool]] = []
        for c in cands:
            if not self._sound(c):
                continue
            name = ".".join(c.parts)
            if imports is not None and c.kind != "alias":
                name = f"{_prefix(app)}/{name}"
            out.append((ModuleName(name, imports), is_package))
        if not out:  # no importable name: one of its own, that no import can write
            parts = _parts(relpath)
            stem = parts[:-1] if is_package else parts[:-1] + [parts[-1][:-3]]
            out.append((ModuleName("/".join(stem), imports), is_package))
        return out


def _prefix(app: str) -> str:
    """The prefix of a shadowed app's module names: its directory, without dots (module names are
    split at them)."""
    return app.replace(".", "_")
