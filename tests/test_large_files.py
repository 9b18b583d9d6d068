"""Large files: the work per file is linear in its size, and a file over ``max-file-size`` gets one
AFY001 instead of an analysis (in the CLI, the flake8 plugin and the other modules' project analysis).

Linearity is guarded without a clock: a check scans each per-file collection that grows with the file
(the module's bindings, the summary's functions, the module's FastAPI references) a number of times
that must not depend on the file's size. A lookup that scanned one of them per call (per fix, per
function, per route) made the check quadratic, and shows here as more scans for a larger file.
"""

from __future__ import annotations

import ast
import importlib.util
import os

import pytest

from asyncify_lint import flake8_plugin
from asyncify_lint.config import (
    DEFAULT_MAX_FILE_SIZE,
    ConfigError,
    Settings,
    load_config,
    parse_size,
    too_large_message,
)
from asyncify_lint.engine import context as context_mod
from asyncify_lint.engine.runner import Linter, gc_paused
from asyncify_lint.helpers import fastapi
from asyncify_lint.project import Project
from asyncify_lint.project import summary as summary_mod
from tests.test_cli import run, write

HERE = os.path.dirname(os.path.abspath(__file__))


def _bench():
    """The benchmark's generator of large modules (benchmarks/ is not a package)."""
    path = os.path.join(os.path.dirname(HERE), "benchmarks", "bench_large_files.py")
    spec = importlib.util.spec_from_file_location("bench_large_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# -- linear work per file ----------------------------------------------------------------------------


class _Scans:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def _counting_dict(scans: _Scans, what: str, data: dict) -> dict:
    class CountingDict(dict):
        def __iter__(self):
            scans.add(what)
            return super().__iter__()

        def items(self):
            scans.add(what)
            return super().items()

        def values(self):
            scans.add(what)
            return super().values()

        def keys(self):
            scans.add(what)
            return super().keys()

    return CountingDict(data)


def _counting_list(scans: _Scans, what: str, data: list) -> list:
    class CountingList(list):
        def __iter__(self):
            scans.add(what)
            return super().__iter__()

    return CountingList(data)


def _scans_of_check(tmp_path, size: int) -> tuple[dict[str, int], int]:
    """Check a generated module of ``size`` bytes; (scans of each per-file collection, diagnostics)."""
    scans = _Scans()
    real_scope = context_mod.build_module_scope

    def build_module_scope(*args, **kwargs):
        scope = real_scope(*args, **kwargs)
        scope.bindings = _counting_dict(scans, "module bindings", scope.bindings)
        return scope

    real_builder_init = summary_mod._Builder.__init__

    def builder_init(self, ctx, summary):
        summary.functions = _counting_dict(scans, "summary functions", summary.functions)
        real_builder_init(self, ctx, summary)

    real_refs = fastapi.module_refs

    def module_refs(ctx):
        refs = real_refs(ctx)
        if not hasattr(refs, "__dict__"):  # wrapped once per file, where it is memoised
            refs = ctx.cache["fastapi.refs"] = _counting_list(scans, "fastapi refs", refs)
        return refs

    root = tmp_path / f"p{size}"
    path = _bench().write_project(str(root), size)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context_mod, "build_module_scope", build_module_scope)
        mp.setattr(summary_mod._Builder, "__init__", builder_init)
        mp.setattr(fastapi, "module_refs", module_refs)
        mp.setenv("ASYNCIFY_LINT_NO_CACHE", "1")
        mp.setenv("ASYNCIFY_LINT_JOBS", "1")
        settings = Settings()
        with gc_paused():
            linter = Linter(Project(str(root), settings), settings)
            diags = linter.check(linter.load(path, os.path.basename(path)))
    return scans.counts, len(diags)


def test_per_file_collections_are_scanned_a_constant_number_of_times(tmp_path):
    small, n_small = _scans_of_check(tmp_path, 25_000)
    large, n_large = _scans_of_check(tmp_path, 100_000)
    assert n_large > 3 * n_small > 0  # the larger file has about 4 times the work
    # every collection is indexed: scanned as often for a file 4 times as large
    assert set(small) >= {"module bindings", "summary functions", "fastapi refs"}
    assert large == small


def test_function_at_finds_the_function_at_its_def(tmp_path):
    summary = summary_mod.ModuleSummary(relpath="m.py", module="m", is_package=False, is_test=False, sha="")
    for i in range(50):
        summary.functions[f"m.f{i}"] = summary_mod.FunctionSummary(f"m.f{i}", f"f{i}", False, 3 * i + 1, 4 * (i % 2))
    assert summary.function_at(34, 4).qualname == "m.f11"
    assert summary.function_at(34, 0) is None
    assert summary.function_at(1000, 0) is None
    summary.functions["m.late"] = summary_mod.FunctionSummary("m.late", "late", True, 1000, 0)
    assert summary.function_at(1000, 0).name == "late"  # a function added later is found too


def test_the_benchmark_generator_is_deterministic_and_sized():
    bench = _bench()
    text = bench.generate_module(50_000)
    assert text == bench.generate_module(50_000) != bench.generate_module(50_000, seed=1)
    assert 50_000 <= len(text) < 55_000
    ast.parse(text)


# -- max-file-size ------------------------------------------------------------------------------------

BLOCKING_HELPER = "import time\n\n\ndef helper():\n    time.sleep(1)\n" + "\n# padding\n" * 400
APP = (
    "from fastapi import FastAPI\n\nfrom big import helper\n\napp = FastAPI()\n\n\n"
    "@app.get('/')\nasync def index():\n    helper()\n    return {}\n"
)


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASYNCIFY_LINT_NO_CACHE", "1")
    write(tmp_path, "big.py", BLOCKING_HELPER)
    write(tmp_path, "app.py", APP)
    return tmp_path


def _config(root, value) -> None:
    write(root, "pyproject.toml", f"[tool.asyncify-lint]\nmax-file-size = {value}\n")


@pytest.mark.parametrize("value, expected", [
    ("10MB", 10 * 1024 ** 2), ("10 mb", 10 * 1024 ** 2), ("512KB", 512 * 1024), ("1.5M", 1536 * 1024),
    ("2G", 2 * 1024 ** 3), ("4096", 4096), ("100B", 100), (4096, 4096), (0, 0), ("0", 0),
])
def test_max_file_size_values(value, expected):
    assert parse_size(value, "x") == expected


@pytest.mark.parametrize("value", ["ten", "-1", -1, True, "10 TB", "1e6", 1.5, ""])
def test_bad_max_file_size_is_refused(value):
    with pytest.raises(ConfigError, match="max-file-size must be a size such as 10MB"):
        parse_size(value, "x")


def test_max_file_size_is_read_from_the_configuration(tmp_path):
    assert Settings().max_file_size == DEFAULT_MAX_FILE_SIZE == 10 * 1024 ** 2
    _config(tmp_path, '"2KB"')
    assert load_config(str(tmp_path)).max_file_size == 2048
    write(tmp_path, "pyproject.toml", "")
    write(tmp_path, "setup.cfg", "[asyncify_lint]\nmax-file-size = 3 MB\n")
    assert load_config(str(tmp_path)).max_file_size == 3 * 1024 ** 2


def test_messages():
    assert too_large_message(54_944_153, 10 * 1024 ** 2) == \
        "file too large: 52.4 MB > max-file-size 10 MB; not analysed"
    assert too_large_message(10 * 1024 ** 2 + 1, 10 * 1024 ** 2) == \
        "file too large: 10,485,761 bytes > max-file-size 10,485,760 bytes; not analysed"
    assert too_large_message(3000, 2048) == "file too large: 2.9 KB > max-file-size 2 KB; not analysed"


def test_a_file_over_the_limit_gets_one_afy001_and_is_left_out_of_the_project(proj):
    _config(proj, 0)  # no limit: the helper's blocking call is reached from the endpoint
    rc, out, _ = run(".")
    assert rc == 1
    assert "app.py:10:5: AFY100" in out and "big.py:" in out
    size = os.path.getsize(proj / "big.py")
    _config(proj, '"2KB"')
    rc, out, _ = run(".")
    assert rc == 1
    big = [line for line in out.splitlines() if line.startswith("big.py")]
    assert big == [f"big.py:1:1: AFY001 file too large: {size / 1024:.1f} KB > max-file-size 2 KB; not analysed"]
    assert "AFY100" not in out  # the other modules do not see into it: no call chain through it


def test_a_file_over_the_limit_is_not_fixed(proj):
    _config(proj, '"2KB"')
    before = (proj / "big.py").read_bytes()
    run(".", "--fix", "--unsafe-fixes")
    assert (proj / "big.py").read_bytes() == before


def test_the_summary_of_a_file_over_the_limit_is_empty(proj):
    settings = Settings(max_file_size=2048)
    project = Project(str(proj), settings)
    s = project.summary("big.py")
    assert s.error is not None and s.error.startswith("file too large:") and not s.functions
    assert project.context("big.py") is None
    assert project.context("app.py") is not None
    assert Project(str(proj), Settings(max_file_size=0)).summary("big.py").functions


def test_the_limit_has_its_own_summary_cache(proj, monkeypatch):
    from asyncify_lint.project.cache import config_key

    assert config_key(Settings()) == ""
    assert config_key(Settings(max_file_size=2048)) != config_key(Settings(max_file_size=4096)) != ""


def test_flake8_plugin_respects_the_limit(proj, monkeypatch):
    monkeypatch.setattr(flake8_plugin.Plugin, "selected", None)
    monkeypatch.setattr(flake8_plugin, "_PROJECTS", {})
    _config(proj, '"2KB"')
    text = (proj / "big.py").read_text()
    found = list(flake8_plugin.Plugin(ast.parse(text), "big.py", text.splitlines(True)).run())
    size = os.path.getsize(proj / "big.py")
    assert [(line, col, msg) for line, col, msg, _ in found] == [
        (1, 0, f"AFY001 file too large: {size / 1024:.1f} KB > max-file-size 2 KB; not analysed")]
    app = (proj / "app.py").read_text()
    found = list(flake8_plugin.Plugin(ast.parse(app), "app.py", app.splitlines(True)).run())
    assert not any("AFY100" in msg for _, _, msg, _ in found)
