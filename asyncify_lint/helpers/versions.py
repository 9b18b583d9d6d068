"""Which SQLAlchemy and pydantic versions the project targets, so that every fix emits only APIs they have
(and which fastapi-pagination, whose async API changed twice).

Nothing of the project is imported. The evidence, strongest first:

1. the configuration: ``target-sqlalchemy = "1.4"``, ``target-pydantic = "1"``;
2. lock files (exact versions): ``poetry.lock``, ``uv.lock``, ``pdm.lock``, ``Pipfile.lock``;
3. declared dependencies: ``requirements*.txt`` and ``requirements/*.txt`` (with the files they include
   with ``-r`` / ``-c``), ``pyproject.toml`` (PEP 621 ``dependencies``, ``[tool.poetry.dependencies]``),
   ``setup.cfg`` ``install_requires``, ``Pipfile``; a range allows every release series it admits;
4. what other pins imply: FastAPI before 0.100 needs pydantic 1, SQLModel before 0.0.12 needs
   SQLAlchemy 1.4 and before 0.0.14 pydantic 1;
5. the code: APIs only one major version has (pydantic 2: ``model_config``, ``ConfigDict``,
   ``model_validate``, ``model_dump``, ``field_validator``, ``from_attributes``; pydantic 1: ``orm_mode``,
   ``.from_orm(``, a nested ``class Config:``; SQLAlchemy 2: ``DeclarativeBase``, ``Mapped[``,
   ``mapped_column``). ``.dict()`` and ``parse_obj`` are not taken as signs of pydantic 1: they run
   (deprecated) on pydantic 2, whose apps often still call them, and a pydantic 1 app that returns ORM
   objects through a response model needs ``orm_mode`` anyway;
6. the installed package metadata of the environment running the tool.

Files are looked for in the project root, then in each parent directory up to the repository root (the
directory holding ``.git``), nearest first. Each piece of evidence narrows the set of release series
still possible (SQLAlchemy 1.3, 1.4, 2.0, 2.1; pydantic 1, 2); evidence that contradicts what is
already known is ignored, so the stronger source wins. The newest series left is the answer.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Version = tuple[int, ...]

#: release series a range is evaluated against (the newest is assumed when several remain)
SQLALCHEMY_SERIES: tuple[Version, ...] = ((1, 3), (1, 4), (2, 0), (2, 1))
PYDANTIC_SERIES: tuple[Version, ...] = ((1,), (2,))
#: fastapi-pagination: before 0.12 only ``ext.async_sqlalchemy`` takes an AsyncSession; 0.12 lets
#: ``ext.sqlalchemy.paginate`` (and ``ext.sqlmodel``'s) take one and return an awaitable; 0.13 adds
#: ``apaginate`` and deprecates that use of ``paginate``, which 0.15's successors remove
PAGINATION_SERIES: tuple[Version, ...] = ((0, 11), (0, 12), (0, 13))


@dataclass(frozen=True)
class TargetVersions:
    """The SQLAlchemy (major, minor) and pydantic major version the project targets (None: unknown)."""

    sqlalchemy: tuple[int, int] | None = None
    pydantic: int | None = None
    sqlalchemy_source: str | None = None  # what decided it, e.g. "poetry.lock" or "code"
    pydantic_source: str | None = None
    fastapi_pagination: tuple[int, int] | None = None

    @property
    def async_paginate(self) -> str | None:
        """The fastapi-pagination function that takes an ``AsyncSession`` and returns an awaitable:
        ``apaginate`` (0.13 and later), ``paginate`` (0.12); None before 0.12 or when unknown."""
        v = self.fastapi_pagination
        if v is None or v < (0, 12):
            return None
        return "apaginate" if v >= (0, 13) else "paginate"

    def facts(self) -> tuple:
        """What the rules read of these versions: a change of the requirements that changes none of
        these changes no result (the results cache records this tuple)."""
        return (self.sqlalchemy_1x, self.pydantic_v1, self.async_paginate)

    @property
    def sqlalchemy_1x(self) -> bool:
        """SQLAlchemy before 2.0: no ``async_sessionmaker``, no psycopg 3 dialect, no ``AsyncAttrs``."""
        return self.sqlalchemy is not None and self.sqlalchemy < (2, 0)

    @property
    def pydantic_v1(self) -> bool:
        """pydantic 1: no ``TypeAdapter``; ``parse_obj_as`` and ``orm_mode`` instead."""
        return self.pydantic == 1


def of(ctx) -> TargetVersions:
    """The versions targeted by the project of a file context (its settings alone without a project)."""
    project = getattr(ctx, "project", None)
    if project is not None:
        return project.versions
    return detect(None, getattr(ctx, "settings", None))


# -- version specifiers ---------------------------------------------------------------------------
_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)(\.\*)?")
_CLAUSE = re.compile(r"(===|==|!=|~=|>=|<=|>|<|\^|~)?\s*(v?\d+(?:\.\d+)*(?:\.\*)?[A-Za-z0-9.+-]*|\*)")


def parse_version(text: str) -> Version | None:
    m = _VERSION.match(text)
    if not m:
        return None
    return tuple(int(p) for p in m.group(1).split("."))


def _cmp(a: Version, b: Version) -> int:
    n = max(len(a), len(b))
    a2, b2 = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a2 > b2) - (a2 < b2)


def _bump(v: Version, at: int) -> Version:
    """``v`` truncated to ``at + 1`` parts with the last one incremented: the first version past the prefix."""
    v = v + (0,) * (at + 1 - len(v))
    return v[:at] + (v[at] + 1,)


Clause = tuple[str, Version, bool]  # (operator, version, wildcard)


def parse_spec(spec: str) -> list[list[Clause]] | None:
    """A PEP 440 / Poetry constraint as alternatives (``||``) of conjunctions; None when unreadable.
    An empty conjunction allows everything."""
    out: list[list[Clause]] = []
    for alternative in spec.split("||"):
        clauses: list[Clause] = []
        text = alternative.strip()
        if text in ("", "*"):
            out.append([])
            continue
        pos = 0
        while pos < len(text):
            if text[pos] in ", \t":
                pos += 1
                continue
            m = _CLAUSE.match(text, pos)
            if not m:
                return None
            op, raw = m.group(1) or "==", m.group(2)
            pos = m.end()
            if raw == "*":
                continue
            wildcard = ".*" in raw
            v = parse_version(raw)
            if v is None:
                return None
            if op == "^":  # Poetry: up to the next change of the first non-zero part
                first = next((i for i, p in enumerate(v) if p != 0), len(v) - 1)
                clauses += [(">=", v, False), ("<", _bump(v, first), False)]
            elif op == "~":  # Poetry: ~1.4 and ~1.4.2 stay in 1.4, ~1 in 1
                clauses += [(">=", v, False), ("<", _bump(v, min(1, len(v) - 1)), False)]
            elif op == "~=":
                clauses += [(">=", v, False), ("<", _bump(v, max(len(v) - 2, 0)), False)]
            elif op == "===":
                clauses.append(("==", v, False))
            else:
                clauses.append((op, v, wildcard))
        out.append(clauses)
    return out


def _allows_clause(clause: Clause, v: Version) -> bool:
    op, want, wildcard = clause
    if wildcard:
        same = v[: len(want)] + (0,) * (len(want) - len(v[: len(want)])) == want
        return same if op == "==" else not same if op == "!=" else True
    c = _cmp(v, want)
    return {"==": c == 0, "!=": c != 0, ">=": c >= 0, "<=": c <= 0, ">": c > 0, "<": c < 0}.get(op, True)


def allows(spec: list[list[Clause]], v: Version) -> bool:
    return any(all(_allows_clause(c, v) for c in alt) for alt in spec)


def allows_from(spec: list[list[Clause]], low: Version, high: Version | None) -> bool:
    """Whether ``spec`` admits some version in ``[low, high)`` (``high`` None: no upper end)."""
    points = {low}
    top = high if high is not None else (10**6,)
    for alt in spec:
        for _, v, _ in alt:
            for p in (v, v + (0,), _bump(v, len(v) - 1), v + (10**6,)):
                if _cmp(p, low) >= 0 and _cmp(p, top) < 0:
                    points.add(p)
    if high is not None:  # just below the upper end: low's parts, then a large one
        points.add(low + (10**6,))
    else:
        points.add(top)
    return any(allows(spec, p) for p in points)


def series_allowed(spec: list[list[Clause]], series: Iterable[Version]) -> set[Version]:
    """The release series (``(1, 4)``: every 1.4.x) of which ``spec`` admits some version."""
    out = set()
    for s in series:
        high = s[:-1] + (s[-1] + 1,)
        if allows_from(spec, s, high):
            out.add(s)
    return out


# -- files --------------------------------------------------------------------------------------
def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def parse_requirement(line: str) -> tuple[str, str] | None:
    """``SQLAlchemy[asyncio]>=1.4,<2 ; python_version>"3.8"`` → ("sqlalchemy", ">=1.4,<2")."""
    line = line.split(" #", 1)[0].split(";", 1)[0].strip()
    if not line or line.startswith(("#", "-")):
        return None
    m = _REQ.match(line)
    if not m:
        return None
    rest = m.group(3).strip()
    if rest.startswith("@"):  # a direct reference: no version to read
        return normalize_name(m.group(1)), ""
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    return normalize_name(m.group(1)), rest


Evidence = dict[str, list[tuple[str, str]]]  # package -> [(specifier, where)]


def _add(out: Evidence, name: str, spec: str, where: str) -> None:
    out.setdefault(normalize_name(name), []).append((spec, where))


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _read_toml(path: str) -> dict | None:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def _requirements(path: str, out: Evidence, where: str, seen: set[str]) -> None:
    path = os.path.abspath(path)
    if path in seen or len(seen) > 50:
        return
    seen.add(path)
    text = _read_text(path)
    if text is None:
        return
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        m = re.match(r"^(?:-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)", line)
        if m:
            _requirements(os.path.join(os.path.dirname(path), m.group(1)), out, where, seen)
            continue
        req = parse_requirement(line)
        if req is not None:
            _add(out, req[0], req[1], where)


def _poetry_constraint(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("version"), str):
        return value["version"]
    if isinstance(value, list):  # multiple constraints (per Python version): any of them
        parts = [_poetry_constraint(v) for v in value]
        return " || ".join(p for p in parts if p) or None
    return None


def declared(directory: str) -> Evidence:
    """Declared dependency specifiers of one directory."""
    out: Evidence = {}
    seen: set[str] = set()
    names = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        pass
    for name in names:
        if re.match(r"^requirements.*\.(txt|in)$", name):
            _requirements(os.path.join(directory, name), out, name, seen)
    sub = os.path.join(directory, "requirements")
    if os.path.isdir(sub):
        for name in sorted(os.listdir(sub)):
            if name.endswith((".txt", ".in")):
                _requirements(os.path.join(sub, name), out, f"requirements/{name}", seen)
    data = _read_toml(os.path.join(directory, "pyproject.toml")) if "pyproject.toml" in names else None
    if data:
        project = data.get("project")
        if isinstance(project, dict) and isinstance(project.get("dependencies"), list):
            for dep in project["dependencies"]:
                req = parse_requirement(dep) if isinstance(dep, str) else None
                if req:
                    _add(out, req[0], req[1], "pyproject.toml")
        poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
        deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
        if isinstance(deps, dict):
            for name, value in deps.items():
                spec = _poetry_constraint(value)
                if spec is not None and name.lower() != "python":
                    _add(out, name, spec, "pyproject.toml")
    if "setup.cfg" in names:
        parser = configparser.RawConfigParser()
        try:
            parser.read(os.path.join(directory, "setup.cfg"), encoding="utf-8")
            if parser.has_option("options", "install_requires"):
                for line in parser.get("options", "install_requires").splitlines():
                    req = parse_requirement(line)
                    if req:
                        _add(out, req[0], req[1], "setup.cfg")
        except (configparser.Error, UnicodeDecodeError):
            pass
    pipfile = _read_toml(os.path.join(directory, "Pipfile")) if "Pipfile" in names else None
    if pipfile and isinstance(pipfile.get("packages"), dict):
        for name, value in pipfile["packages"].items():
            spec = _poetry_constraint(value)
            if spec is not None:
                _add(out, name, spec, "Pipfile")
    return out


def locked(directory: str) -> Evidence:
    """Exact versions from the lock files of one directory."""
    out: Evidence = {}
    for name in ("poetry.lock", "uv.lock", "pdm.lock"):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        data = _read_toml(path) or {}
        packages = data.get("package")
        if isinstance(packages, list):
            for p in packages:
                if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("version"), str):
                    _add(out, p["name"], "==" + p["version"], name)
    path = os.path.join(directory, "Pipfile.lock")
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        for section in ("default", "develop"):
            entries = data.get(section) if isinstance(data, dict) else None
            if isinstance(entries, dict):
                for pkg, info in entries.items():
                    if isinstance(info, dict) and isinstance(info.get("version"), str):
                        _add(out, pkg, info["version"], "Pipfile.lock")
    return out


def search_dirs(root: str) -> list[str]:
    """``root``, then its parents up to the repository root (the nearest holding ``.git``); only
    ``root`` when no parent is a repository root."""
    root = os.path.abspath(root)
    dirs = [root]
    d = root
    while not os.path.exists(os.path.join(d, ".git")) and not os.path.exists(os.path.join(d, ".hg")):
        up = os.path.dirname(d)
        if up == d:
            return [root]
        d = up
        dirs.append(d)
    return dirs


# -- code ---------------------------------------------------------------------------------------
_SIGNALS = {
    ("pydantic", (2,)): re.compile(
        rb"\bmodel_config\b|\bConfigDict\b|\.model_validate(?:_json)?\(|\.model_dump(?:_json)?\(|\bfield_validator\b"
        rb"|\bmodel_validator\b|\bfrom_attributes\b"),
    ("pydantic", (1,)): re.compile(rb"\borm_mode\b|\.from_orm\(|^[ \t]+class Config\b", re.M),
    ("sqlalchemy", (2,)): re.compile(rb"\bDeclarativeBase\b|\bMapped\[|\bmapped_column\b"),
}

_SIGNALS_OF = frozenset(name for name, _ in _SIGNALS)


def code_signals(texts: Iterable[bytes]) -> dict[str, set[Version]]:
    """The series the code's APIs allow: a pydantic 2 API anywhere means 2 (pydantic 1 APIs still run,
    deprecated, on 2); pydantic 1 APIs alone mean 1; a SQLAlchemy 2.0 API means 2.0 or later."""
    found: set[tuple[str, Version]] = set()
    for data in texts:
        for key, rx in _SIGNALS.items():
            if key not in found and rx.search(data):
                found.add(key)
        if ("pydantic", (2,)) in found and ("sqlalchemy", (2,)) in found:
            break  # nothing more to learn: pydantic 1 spellings do not outweigh a pydantic 2 API
    out: dict[str, set[Version]] = {}
    if ("pydantic", (2,)) in found:
        out["pydantic"] = {(2,)}
    elif ("pydantic", (1,)) in found:
        out["pydantic"] = {(1,)}
    if ("sqlalchemy", (2,)) in found:
        out["sqlalchemy"] = {s for s in SQLALCHEMY_SERIES if s >= (2, 0)}
    return out


def _project_texts(project) -> Iterable[bytes]:
    for rel in project.files:
        if not rel.endswith(".py"):
            continue
        try:
            with open(os.path.join(project.root, rel), "rb") as f:
                yield f.read()
        except OSError:
            continue


def installed(package: str) -> Version | None:
    """The version of ``package`` installed where the tool runs (package metadata only)."""
    from importlib import metadata

    try:
        return parse_version(metadata.version(package))
    except (metadata.PackageNotFoundError, ValueError, TypeError):
        return None


# -- deciding -----------------------------------------------------------------------------------
def _series(v: Version, known: tuple[Version, ...]) -> Version:
    return v[: len(known[0])] + (0,) * (len(known[0]) - len(v))


class _Narrowing:
    """The release series still possible for one package, narrowed by evidence strongest first."""

    def __init__(self, known: tuple[Version, ...]) -> None:
        self.known = known
        self.possible: set[Version] | None = None  # None: anything
        self.source: str | None = None

    def narrow(self, allowed: set[Version], source: str) -> None:
        if not allowed:
            return
        if self.possible is None:
            self.possible, self.source = set(allowed), source
            return
        both = self.possible & allowed
        if both and both != self.possible:
            self.possible = both
            self.source = self.source if self.source == source else f"{self.source}, {source}"

    def spec(self, specs: list[tuple[str, str]]) -> None:
        """Several specifiers of one place (all must hold)."""
        clauses: list[list[Clause]] = [[]]
        where = []
        exact = None
        for text, w in specs:
            parsed = parse_spec(text)
            if parsed is None:
                continue
            where.append(w)
            if len(parsed) == 1 and len(parsed[0]) == 1 and parsed[0][0][0] == "==" and not parsed[0][0][2]:
                exact = parsed[0][0][1]
            clauses = [a + b for a in clauses for b in parsed]
        if not where:
            return
        allowed = series_allowed(clauses, self.known)
        if exact is not None and allows(clauses, exact):
            allowed = {_series(exact, self.known)}
        self.narrow(allowed, " + ".join(dict.fromkeys(where)))

    @property
    def done(self) -> bool:
        return self.possible is not None and len(self.possible) == 1

    def result(self) -> Version | None:
        return max(self.possible) if self.possible else None


# what a pin of another package implies: (package, first version without the constraint, target, series)
_IMPLIED = (
    ("fastapi", (0, 100), "pydantic", {(1,)}),
    ("sqlmodel", (0, 0, 14), "pydantic", {(1,)}),
    ("sqlmodel", (0, 0, 12), "sqlalchemy", {(1, 4)}),
)


def _override(value, known: tuple[Version, ...]) -> set[Version] | None:
    if value is None:
        return None
    v = parse_version(str(value))
    return {_series(v, known)} if v is not None else None


def detect(project, settings=None) -> TargetVersions:
    """The target versions of ``project`` (a ``Project``; None: from ``settings`` and the environment)."""
    if settings is None and project is not None:
        settings = project.settings
    packages = {"sqlalchemy": _Narrowing(SQLALCHEMY_SERIES), "pydantic": _Narrowing(PYDANTIC_SERIES),
                "fastapi-pagination": _Narrowing(PAGINATION_SERIES)}
    for name, n in packages.items():
        forced = _override(getattr(settings, f"target_{name.replace('-', '_')}", None), n.known)
        if forced:
            n.possible, n.source = forced, "configuration"

    def pending():
        return [(name, n) for name, n in packages.items() if not n.done]

    if project is not None and pending():
        dirs = search_dirs(project.root)
        for directory in dirs:
            evidence = locked(directory)
            for name, n in pending():
                if evidence.get(name):
                    n.spec(evidence[name])
        for directory in dirs:
            evidence = declared(directory)
            for name, n in pending():
                if evidence.get(name):
                    n.spec(evidence[name])
            for other, first_without, name, implied in _IMPLIED:
                n = packages[name]
                specs = [parse_spec(s) for s, _ in evidence.get(other, ())]
                if n.done or not specs or any(s is None for s in specs):
                    continue
                clauses = [[c for s in specs for alt in s for c in alt]]  # type: ignore[union-attr]
                if not allows_from(clauses, first_without, None):
                    n.narrow(implied, f"{evidence[other][0][1]} ({other})")
        if any(name in _SIGNALS_OF for name, _ in pending()):
            for name, allowed in code_signals(_project_texts(project)).items():
                packages[name].narrow(allowed, "code")
    for name, n in pending():
        v = installed(name)
        if v is not None:
            n.narrow({_series(v, n.known)}, "installed")
    sa = packages["sqlalchemy"].result()
    pd = packages["pydantic"].result()
    pg = packages["fastapi-pagination"].result()
    return TargetVersions(
        sqlalchemy=(sa[0], sa[1]) if sa else None,
        pydantic=pd[0] if pd else None,
        sqlalchemy_source=packages["sqlalchemy"].source if sa else None,
        pydantic_source=packages["pydantic"].source if pd else None,
        fastapi_pagination=(pg[0], pg[1]) if pg else None,
    )
