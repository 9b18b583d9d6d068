"""The summary cache is data from the project directory, never code: a crafted cache file runs nothing,
a damaged or ill-typed one is ignored and rebuilt; where the cache lives (--cache-dir,
ASYNCIFY_LINT_CACHE_DIR, `cache-dir`, --no-cache)."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys

import pytest

import asyncify_lint
from asyncify_lint import cli
from asyncify_lint.config import Settings, load_config
from asyncify_lint.project import Project
from asyncify_lint.project import cache as cache_mod
from asyncify_lint.project.summary import (
    SUMMARY_VERSION,
    CallSite,
    Finding,
    FunctionSummary,
    ModuleSummary,
    from_json,
    to_json,
)

FILES = {
    "pyproject.toml": '[project]\nname = "demo"\nversion = "0"\n',
    "s/__init__.py": "",
    "s/crud.py": (
        "import time\nfrom sqlalchemy.orm import Session\n\n\n@staticmethod\ndef get(db: Session):\n"
        "    time.sleep(1)\n    return db.get(1, 2)\n"
    ),
    "s/api.py": (
        "from fastapi import FastAPI\nfrom s import crud\n\napp = FastAPI()\n\n\n@app.get('/')\n"
        "async def ep(db):\n    return crud.get(db)\n\n\nclass Svc:\n    def run(self):\n"
        "        return [crud.get(x) for x in self.run()]\n"
    ),
}


def make(root: pathlib.Path, files: dict[str, str] = FILES) -> pathlib.Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture(autouse=True)
def _cache_on(monkeypatch):
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    monkeypatch.delenv("ASYNCIFY_LINT_CACHE_DIR", raising=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ASYNCIFY_LINT_NO_CACHE", "ASYNCIFY_LINT_CACHE_DIR")}
    env.update(extra)
    return env


def _cli(cwd, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asyncify_lint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=_env(**env))


def _flake8(cwd, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "AFY", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=_env(**env))


# -- a crafted cache runs nothing ---------------------------------------------------------------------

class _Payload:
    """Unpickling it writes the marker file: what a malicious cache committed to a repository would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _plant(root: pathlib.Path, marker: pathlib.Path, settings=None) -> list[pathlib.Path]:
    """The payload under every name a cache file of this or the earlier (pickled) format has."""
    payload = pickle.dumps(_Payload(str(marker)))
    py = f"py{sys.version_info[0]}{sys.version_info[1]}"
    directory = root / ".asyncify_cache"
    directory.mkdir(exist_ok=True)
    names = [directory / f"summaries-{SUMMARY_VERSION}-{py}.pickle",  # the name the pickled cache had
             directory / f"summaries-{SUMMARY_VERSION}-{py}-changes.pickle",
             pathlib.Path(cache_mod.cache_file(str(root), settings)),
             pathlib.Path(cache_mod.changes_file(str(root), settings))]
    for path in names:
        path.write_bytes(payload)
    pickle.loads(payload)  # the payload does work when unpickled...
    assert marker.exists()
    marker.unlink()  # ...and the runs below must not unpickle it
    return names


def test_a_crafted_cache_runs_nothing_in_the_cli(tmp_path):
    clean = make(tmp_path / "clean")
    expected = _cli(clean, "s", ASYNCIFY_LINT_NO_CACHE="1")
    assert expected.returncode == 1, expected.stderr
    assert "AFY402" in expected.stdout and "AFY100" in expected.stdout  # cross-module findings: the cache is used
    root = make(tmp_path / "repo")
    marker = tmp_path / "marker"
    planted = _plant(root, marker)
    r = _cli(root, "s")
    assert not marker.exists()
    assert (r.returncode, r.stdout, r.stderr) == (expected.returncode, expected.stdout, expected.stderr)
    # the cache was written again, as data; the pickles of the earlier format are gone
    assert cache_mod._read(str(planted[2])) is not None
    assert not planted[0].exists() and not planted[1].exists()
    assert not os.path.exists(cache_mod.changes_file(str(root)))
    # and a warm run gives the same answer
    r = _cli(root, "s")
    assert (r.returncode, r.stdout) == (expected.returncode, expected.stdout)
    assert not marker.exists()


def test_a_crafted_cache_runs_nothing_in_the_flake8_plugin(tmp_path):
    clean = make(tmp_path / "clean")
    expected = _flake8(clean, "s", ASYNCIFY_LINT_NO_CACHE="1")
    assert expected.returncode == 1 and "AFY402" in expected.stdout, expected.stderr
    root = make(tmp_path / "repo")
    marker = tmp_path / "marker"
    _plant(root, marker)
    r = _flake8(root, "s")
    assert not marker.exists()
    assert (r.returncode, r.stdout) == (expected.returncode, expected.stdout), r.stderr
    r = _flake8(root, "--jobs=2", "s")
    assert not marker.exists()
    assert sorted(r.stdout.splitlines()) == sorted(expected.stdout.splitlines())


def test_a_crafted_cache_runs_nothing_in_process(tmp_path):
    root = make(tmp_path / "repo")
    marker = tmp_path / "marker"
    _plant(root, marker)
    p = Project(str(root), load_config(str(root)))
    assert p.store.entries == {}
    p.summaries
    assert p.store.stats == {"loaded": 0, "computed": 3}
    assert not marker.exists()


def test_no_module_of_the_package_unpickles_file_data():
    """``pickle.load``/``loads`` (or marshal's, shelve) may only take bytes our own worker processes
    sent: the one call allowed is parallel.py's, on a worker's result; cache.py does not import pickle."""
    package = os.path.dirname(os.path.abspath(asyncify_lint.__file__))
    calls = []
    for dirpath, _dirs, names in os.walk(package):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            rel = os.path.relpath(path, package).replace(os.sep, "/")
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert not {"shelve", "dill", "cloudpickle", "joblib"} & {m.split(".")[0] for m in mods}, rel
                    if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "marshal"):
                        raise AssertionError(f"{rel}: from {node.module} import ...")
                    if rel == "project/cache.py":
                        assert "pickle" not in mods and "marshal" not in mods
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                        and node.value.id in ("pickle", "marshal", "_pickle") \
                        and node.attr in ("load", "loads", "Unpickler"):
                    calls.append((rel, node.value.id, node.attr))
    assert calls == [("project/parallel.py", "pickle", "loads")]


# -- a damaged or ill-typed cache is ignored and rebuilt ----------------------------------------------

def _warm(root: pathlib.Path) -> tuple[Project, str]:
    p = Project(str(root), Settings())
    p.summaries
    return p, cache_mod.cache_file(str(root))


def _expected(root: pathlib.Path) -> dict:
    os.environ["ASYNCIFY_LINT_NO_CACHE"] = "1"
    try:
        return Project(str(root), Settings()).summaries
    finally:
        del os.environ["ASYNCIFY_LINT_NO_CACHE"]


@pytest.mark.parametrize("damage", [
    "truncated", "empty", "garbage", "not a dict", "another magic", "another version", "a line missing",
    "a line too many", "ill-typed header", "ill-typed entries", "deeply nested", "huge number", "nan",
])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(tmp_path, damage):
    root = make(tmp_path)
    p, path = _warm(root)
    data = pathlib.Path(path).read_bytes()
    header, *lines = data.split(b"\n")
    h = json.loads(header)
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    elif damage == "garbage":
        data = b"\x80\x05garbage"
    elif damage == "not a dict":
        data = b"[1, 2]\n"
    elif damage == "another magic":
        data = data.replace(cache_mod._MAGIC.encode(), b"asyncify-lint-summaries-2")
    elif damage == "another version":
        data = data.replace(SUMMARY_VERSION.encode(), b"0.0.0-s1", 1)
    elif damage == "a line missing":
        data = b"\n".join([header, *lines[1:]])
    elif damage == "a line too many":
        data = b"\n".join([header, lines[0], *lines])
    elif damage == "ill-typed header":
        h["entries"][1][0] = str(h["entries"][1][0])  # an mtime as a string
        data = b"\n".join([json.dumps(h).encode(), *lines])
    elif damage == "ill-typed entries":
        h["entries"] = {"s/api.py": [1, 2, 3]}
        data = b"\n".join([json.dumps(h).encode(), *lines])
    elif damage == "deeply nested":
        data = b"[" * 100_000 + b"]" * 100_000
    elif damage == "huge number":
        data = b"\n".join([header.replace(b'"entries":[', b'"x":' + b"9" * 10_000 + b',"entries":[', 1), *lines])
    elif damage == "nan":
        h["entries"][2][0] = float("nan")
        data = b"\n".join([json.dumps(h).encode(), *lines])
    pathlib.Path(path).write_bytes(data)
    p2 = Project(str(root), Settings())
    assert p2.store.entries == {}
    assert p2.summaries == _expected(root)
    assert p2.store.stats == {"loaded": 0, "computed": 3}
    assert cache_mod._read(path) is not None  # rebuilt
    p3 = Project(str(root), Settings())
    p3.summaries
    assert p3.store.stats == {"loaded": 3, "computed": 0}


def test_an_ill_typed_entry_is_computed_again(tmp_path):
    root = make(tmp_path)
    _p, path = _warm(root)
    entries = cache_mod._read(path)
    plain = json.loads(entries["s/api.py"][3])
    plain[17] = 1.5  # external_calls, a float
    entries["s/api.py"] = (*entries["s/api.py"][:3], json.dumps(plain).encode())
    entries["s/crud.py"] = (*entries["s/crud.py"][:3], b"{not json")
    cache_mod.save(str(root), entries)
    p = Project(str(root), Settings())
    assert p.summaries == _expected(root)
    assert p.store.stats == {"loaded": 1, "computed": 2}


def _leaves(value, path=()):
    if isinstance(value, list):
        yield path, value
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    elif isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, value


def _replace(value, path, new):
    if not path:
        return new
    value = list(value) if isinstance(value, list) else dict(value)
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


def _wrong(value) -> list:
    """Values of another type than ``value``'s (a field that may be None is a str otherwise: neither is
    used for the other)."""
    if value is None:
        return [0, True, []]
    if isinstance(value, bool):
        return [0, 1, None, "true"]
    if isinstance(value, int):
        return [True, 1.0, None, str(value), [value]]
    if isinstance(value, str):
        return [0, False, [value], {value: value}]
    if isinstance(value, list):
        return [None, 0, "x", {"0": value}, [*value, 0] if value and not isinstance(value[0], list) else [[0]]]
    return [None, [], "x", 0]  # a dict


def test_every_ill_typed_value_of_an_entry_is_refused(tmp_path):
    root = make(tmp_path)
    p = Project(str(root), Settings())
    for summary in p.summaries.values():
        plain = json.loads(to_json(summary))
        for path, value in _leaves(plain):
            for wrong in _wrong(value):
                if isinstance(value, dict) and path and isinstance(wrong, dict):
                    continue
                with pytest.raises(ValueError):
                    from_json(json.dumps(_replace(plain, path, wrong)))
        # fields missing or added
        for bad in (plain[:-1], [*plain, 0], [], {}, "x", None):
            with pytest.raises(ValueError):
                from_json(json.dumps(bad))


def test_a_summary_from_the_cache_is_the_one_computed(tmp_path):
    root = make(tmp_path)
    computed = _expected(root)
    p, _path = _warm(root)
    loaded = Project(str(root), Settings())
    summaries = loaded.summaries
    assert loaded.store.stats == {"loaded": 3, "computed": 0}
    assert summaries == computed
    for rel, s in summaries.items():
        c = computed[rel]
        assert s.functions.keys() == c.functions.keys()
        for f, cf in zip(s.functions.values(), c.functions.values()):
            for name in FunctionSummary.__dataclass_fields__:
                a, b = getattr(f, name), getattr(cf, name)
                assert type(a) is type(b), name
                if isinstance(a, list):
                    assert [type(x) for x in a] == [type(x) for x in b], name
        for name in ModuleSummary.__dataclass_fields__:
            a, b = getattr(s, name), getattr(c, name)
            assert type(a) is type(b), name
            if isinstance(a, list):
                assert [type(x) for x in a] == [type(x) for x in b], name
    api = summaries["s/api.py"]
    assert api.module_calls and all(type(c) is CallSite for c in api.module_calls)
    crud = summaries["s/crud.py"].functions["s.crud.get"]
    assert crud.decorators == [("q:builtins.staticmethod", "staticmethod")]
    assert crud.blocking and all(type(b) is Finding for b in crud.blocking + crud.session_io)
    assert isinstance(api.outside, frozenset) and "fastapi" in api.outside


def test_the_cache_form_covers_every_field():
    """A field added to a summary must be added to its cache form (summary.py, `_PLAIN_*`)."""
    from asyncify_lint.project import summary

    assert summary._FUNCTION_NAMES == tuple(FunctionSummary.__dataclass_fields__)
    assert set(summary._MODULE_NAMES) == set(ModuleSummary.__dataclass_fields__)


def test_a_lone_surrogate_round_trips(tmp_path):
    s = ModuleSummary(relpath="a.py", module="a", is_package=False, is_test=False, sha="0")
    s.functions["a.f"] = FunctionSummary("a.f", "f", False, 1, 0, sync_bound="\udcff…")
    s.module_calls.append(CallSite(1, 0, 1, 5, "q:a.\udcff", "x\n\"y\"", 0, "call", ""))
    data = to_json(s)
    assert b"\n" not in data and data.isascii()
    assert from_json(data) == s


# -- where the cache lives ---------------------------------------------------------------------------

def _files(directory: pathlib.Path) -> set[str]:
    return set(os.listdir(directory)) if directory.is_dir() else set()


def test_cache_dir_precedence(tmp_path, monkeypatch):
    root = make(tmp_path / "repo")
    default = root / ".asyncify_cache"
    assert cache_mod.cache_dir(str(root)) == str(default)
    configured = Settings(cache_dir="build/afy")
    assert cache_mod.cache_dir(str(root), configured) == str(root / "build" / "afy")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASYNCIFY_LINT_CACHE_DIR", "envcache")
    assert cache_mod.cache_dir(str(root), configured) == str(tmp_path / "envcache")
    configured.cache_dir_option = str(tmp_path / "cli")
    assert cache_mod.cache_dir(str(root), configured) == str(tmp_path / "cli")
    # a directory outside the project may be shared: the file is named by the project's root too
    assert os.path.basename(cache_mod.cache_file(str(root), configured)) != os.path.basename(
        cache_mod.cache_file(str(tmp_path / "other"), configured))
    monkeypatch.delenv("ASYNCIFY_LINT_CACHE_DIR")
    assert os.path.basename(cache_mod.cache_file(str(root), Settings(cache_dir="c"))) == \
        os.path.basename(cache_mod.cache_file(str(root)))


def test_cli_cache_dir_env_config_and_no_cache(tmp_path, monkeypatch):
    root = make(tmp_path / "repo")
    monkeypatch.chdir(root)
    # the `cache-dir` key, relative to the project root
    (root / "pyproject.toml").write_text(FILES["pyproject.toml"] + '\n[tool.asyncify-lint]\ncache-dir = "build/afy"\n')
    rc, out, err = _run("s")
    assert rc == 1, err
    settings = Settings(cache_dir="build/afy")
    found = _files(root / "build" / "afy")
    results = {f for f in found if f.startswith("results-")}
    assert len(results) == 1
    assert found - results == {".gitignore", os.path.basename(cache_mod.cache_file(str(root), settings))}
    assert (root / "build" / "afy" / ".gitignore").read_text() == "*\n"
    assert not (root / ".asyncify_cache").exists()
    # the environment over the key
    monkeypatch.setenv("ASYNCIFY_LINT_CACHE_DIR", str(tmp_path / "env"))
    assert _run("s")[1] == out
    assert len(_files(tmp_path / "env")) == 3  # .gitignore, the summaries, the results
    # the command line over both
    assert _run("s", "--cache-dir", "../cli")[1] == out
    assert len(_files(tmp_path / "cli")) == 3
    # --no-cache: nothing written anywhere, nothing read
    monkeypatch.delenv("ASYNCIFY_LINT_CACHE_DIR")
    shutil.rmtree(root / "build")
    assert _run("s", "--no-cache")[1] == out
    assert not (root / "build").exists()
    assert _run("s", "--no-cache", "--cache-dir", "x")[1] == out
    assert not (root / "x").exists()
    # the earlier variable still turns it off
    monkeypatch.setenv("ASYNCIFY_LINT_NO_CACHE", "1")
    assert _run("s")[1] == out
    assert not (root / "build").exists()


def test_a_bad_cache_dir_key_is_reported(tmp_path, monkeypatch):
    root = make(tmp_path)
    (root / "pyproject.toml").write_text(FILES["pyproject.toml"] + "\n[tool.asyncify-lint]\ncache-dir = 3\n")
    monkeypatch.chdir(root)
    rc, _out, err = _run("s")
    assert rc == 2 and "cache-dir must be a directory" in err


def test_an_existing_directory_is_not_given_a_gitignore(tmp_path, monkeypatch):
    root = make(tmp_path)
    (root / "mine").mkdir()
    monkeypatch.chdir(root)
    assert _run("s", "--cache-dir", "mine")[0] == 1
    settings = Settings(cache_dir_option=str(root / "mine"))
    found = _files(root / "mine")
    assert {f for f in found if not f.startswith("results-")} == {
        os.path.basename(cache_mod.cache_file(str(root), settings))}
    assert len(found) == 2


def test_flake8_plugin_honours_the_cache_settings(tmp_path):
    root = make(tmp_path / "repo")
    expected = _flake8(root, "s", ASYNCIFY_LINT_NO_CACHE="1")
    assert not (root / ".asyncify_cache").exists()
    r = _flake8(root, "s", ASYNCIFY_LINT_CACHE_DIR=str(tmp_path / "env"))
    assert r.stdout == expected.stdout, r.stderr
    assert len(_files(tmp_path / "env")) == 2 and not (root / ".asyncify_cache").exists()
    (root / "pyproject.toml").write_text(FILES["pyproject.toml"] + '\n[tool.asyncify-lint]\ncache-dir = "c"\n')
    r = _flake8(root, "s")
    assert r.stdout == expected.stdout, r.stderr
    assert len(_files(root / "c")) == 2 and not (root / ".asyncify_cache").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cache_directories_the_tool_creates_are_ignored_by_git(tmp_path, monkeypatch):
    root = make(tmp_path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)
    monkeypatch.chdir(root)
    assert _run("s")[0] == 1
    assert _run("s", "--cache-dir", "build/deep/afy")[0] == 1
    (root / "pyproject.toml").write_text(FILES["pyproject.toml"] + '\n[tool.asyncify-lint]\ncache-dir = ".cache/afy"\n')
    assert _run("s")[0] == 1
    assert (root / ".asyncify_cache").is_dir() and (root / "build/deep/afy").is_dir() and (root / ".cache/afy").is_dir()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True,
                            text=True, check=True).stdout
    assert status == " M pyproject.toml\n"


def _run(*argv: str) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(argv))
    return rc, out.getvalue(), err.getvalue()
