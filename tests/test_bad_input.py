"""Bad input gets one clear message and leaves files byte-identical: undecodable files, parser
failures, bad paths and bad configuration, in the CLI and in the flake8 plugin."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from asyncify_lint import flake8_plugin
from asyncify_lint.engine import runner
from asyncify_lint.engine.source import SourceError
from asyncify_lint.registry import all_rules
from tests.test_cli import run, write

BLOCKING = "import time\n\n\nasync def handler():\n    time.sleep(1)\n"
LATIN1 = b'# no coding cookie\nNAME = "caf\xe9"\n'


@pytest.fixture
def proj(tmp_path, monkeypatch):
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = demo\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _flake8(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


# -- undecodable files -----------------------------------------------------------------------------


def test_undecodable_file_is_afy001_and_the_others_are_still_checked(proj):
    write(proj, "legacy.py", LATIN1)
    write(proj, "app.py", BLOCKING)
    rc, out, err = run(".")
    assert rc == 1, err  # findings, not a usage error
    assert err == ""
    assert ("legacy.py:1:1: AFY001 cannot parse: cannot decode: byte 0xe9 at line 2, column 12 is not UTF-8, "
            "and the file declares no other encoding (PEP 263)") in out
    assert "app.py:5:5: AFY110" in out


def test_undecodable_file_is_left_byte_identical_by_fix(proj):
    bad = write(proj, "legacy.py", LATIN1)
    good = write(proj, "app.py", BLOCKING)
    rc, out, err = run(".", "--fix", "--unsafe-fixes")
    assert bad.read_bytes() == LATIN1
    assert "await asyncio.sleep(1)" in good.read_text()
    assert "legacy.py:1:1: AFY001" in out
    assert "error" not in err, err


def test_a_wrong_coding_cookie_is_afy001_too(proj):
    write(proj, "ascii.py", b"# -*- coding: ascii -*-\nNAME = 'caf\xc3\xa9'\n")
    rc, out, _ = run("ascii.py")
    assert rc == 1
    assert out.startswith("ascii.py:1:1: AFY001 cannot parse: cannot decode as ascii")


def test_flake8_reports_an_undecodable_file_as_afy001(proj):
    write(proj, "legacy.py", LATIN1)
    write(proj, "app.py", BLOCKING)
    res = _flake8(proj, "--select", "AFY", "-j1", "legacy.py", "app.py")
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("app.py:5:5: AFY110"), lines
    assert lines[1].startswith("legacy.py:1:1: AFY001 cannot parse: cannot decode: byte 0xe9 at line 2"), lines


# -- parser failures ---------------------------------------------------------------------------------


def test_memory_error_in_the_parser_gives_a_reason(proj, monkeypatch):
    write(proj, "app.py", BLOCKING)

    def out_of_memory(self, state):
        raise MemoryError()

    monkeypatch.setattr(runner.Linter, "_shared_context", lambda self, state: None)
    monkeypatch.setattr(runner.Linter, "make_context", out_of_memory)
    diag = runner.parse_error_diagnostic("app.py", None, MemoryError())
    assert diag.message == "cannot parse: out of memory while parsing"
    rc, out, _ = run("app.py", "--select", "AFY110")
    assert "app.py:1:1: AFY001 cannot parse: out of memory while parsing (53 bytes)" in out, out


# -- errors and paths ----------------------------------------------------------------------------------


def test_each_error_is_printed_once(proj, monkeypatch):
    write(proj, "app.py", BLOCKING)
    write(proj, "locked.py", "x = 1\n")
    real_read = runner.SourceFile.read

    def read(path):
        if os.path.basename(path) == "locked.py":
            raise SourceError("cannot read: Permission denied")
        return real_read(path)

    monkeypatch.setattr(runner.SourceFile, "read", staticmethod(read))
    for args in ((), ("--fix",), ("--fix", "--unsafe-fixes", "--strategy", "bridge"), ("--diff",)):
        rc, out, err = run("app.py", "locked.py", *args)
        assert rc == 2, args
        assert err.count("locked.py: cannot read: Permission denied") == 1, (args, err)


def test_github_format_escapes_file_names(proj):
    write(proj, "a,b:c%d.py", BLOCKING)
    rc, out, _ = run("a,b:c%d.py", "--format", "github")
    assert rc == 1
    assert out.startswith("::error title=asyncify-lint (AFY110),file=a%2Cb%3Ac%25d.py,line=5,col=5,"), out


def test_github_format_escapes_newlines_in_messages():
    from asyncify_lint.diagnostics import Diagnostic
    from asyncify_lint.output import FORMATS, Report

    d = Diagnostic("AFY001", "cannot parse: a\nb, c: 100%", "x.py", 1, 0, 1, 0)
    assert FORMATS["github"](Report([(d, False)])).endswith("::AFY001 cannot parse: a%0Ab, c: 100%25\n")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: (os.symlink("b.py", p / "a.py"), os.symlink("a.py", p / "b.py")),
         "a.py: a symbolic link loop (too many levels of symbolic links)"),
        (lambda p: os.symlink("gone.py", p / "a.py"), "a.py: a symbolic link to 'gone.py', which does not exist"),
        (lambda p: None, "a.py: no such file or directory"),
    ],
)
def test_bad_paths_say_what_is_wrong(proj, make, message):
    make(proj)
    rc, out, err = run("a.py")
    assert (rc, out) == (2, "")
    assert err == f"asyncify-lint: error: {message}\n"


# -- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("blocking-patterns = $$$(", "blocking-patterns: invalid ast-grep pattern '$$$(': not valid Python syntax"),
        ("blocking-patterns = $C.read(", "invalid ast-grep pattern '$C.read(': not valid Python syntax"),
        ("blocking-patterns = a b", "invalid ast-grep pattern 'a b'"),
        ("blocking-calls = vendor..fetch", "blocking-calls: 'vendor..fetch' is not a qualified name"),
        ("blocking-calls = vendor.fetch()", "blocking-calls: 'vendor.fetch()' is not a qualified name"),
        ("AFY201.driver = asyncpg", "per-rule option AFY201.driver is read by no rule (AFY201 has none)"),
    ],
)
def test_bad_settings_are_refused_with_one_line(proj, content, message):
    write(proj, "setup.cfg", f"[asyncify_lint]\n{content}\n")
    write(proj, "app.py", BLOCKING)
    rc, out, err = run("app.py")
    assert (rc, out) == (2, "")
    assert err.count("\n") == 1 and message in err, err


def test_an_empty_blocking_call_name_is_refused(proj):
    write(proj, "pyproject.toml", '[tool.asyncify-lint]\nblocking-calls = ["", "vendor.sdk.fetch"]\n')
    write(proj, "app.py", BLOCKING)
    rc, _, err = run("app.py")
    assert rc == 2 and "blocking-calls: an empty name is not a qualified name" in err, err


@pytest.mark.parametrize("content", [
    "blocking-patterns = $C.fetch_sync($$$)\n    requests.get($$$ARGS)",
    "blocking-calls = vendor.sdk.fetch_sync, vendor.admin.*",
])
def test_good_settings_are_accepted(proj, content):
    write(proj, "setup.cfg", f"[asyncify_lint]\n{content}\n")
    write(proj, "app.py", BLOCKING)
    rc, _, err = run("app.py")
    assert rc == 1 and err == "", err


# -- the flake8 plugin when no AFY code is selected ---------------------------------------------------


def test_rule_codes_without_importing_the_rules_match_the_registry():
    assert flake8_plugin.rule_codes() == tuple(sorted(r.code for r in all_rules()))


def test_flake8_without_afy_selected_builds_nothing_and_writes_nothing(proj):
    write(proj, "app.py", BLOCKING)
    res = _flake8(proj, "--select", "E9,F", "app.py")
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    assert not (proj / ".asyncify_cache").exists()
    res = _flake8(proj, "--extend-ignore", "AFY", "app.py")
    assert "AFY" not in res.stdout
    assert not (proj / ".asyncify_cache").exists()
    res = _flake8(proj, "--select", "AFY110", "app.py")
    assert res.stdout.startswith("app.py:5:5: AFY110"), res.stdout + res.stderr


def test_plugin_does_no_work_when_no_afy_code_is_selected(proj, monkeypatch):
    from flake8.main.options import register_default_options
    from flake8.options.manager import OptionManager

    write(proj, "app.py", BLOCKING)
    monkeypatch.setattr(flake8_plugin.Plugin, "selected", None)  # parse_options sets it: restored after
    manager = OptionManager(version="0", plugin_versions="", parents=[], formatter_names=[])
    register_default_options(manager)
    built = []

    class Built(Exception):
        pass

    def linter_for(*args):
        built.append(args)
        raise Built

    monkeypatch.setattr(flake8_plugin, "_linter_for", linter_for)
    tree = ast.parse(BLOCKING)

    def afy_run(*argv):
        options = manager.parse_args(list(argv))
        options.extended_default_select = ["AFY"]  # what flake8 adds for an installed plugin
        options.extended_default_ignore = []
        flake8_plugin.Plugin.parse_options(options)
        return list(flake8_plugin.Plugin(tree, "app.py", BLOCKING.splitlines(True)).run())

    assert afy_run("--select", "E9") == [] and built == []
    assert afy_run("--ignore", "AFY") == [] and built == []
    assert flake8_plugin.Plugin.selected == frozenset()
    with pytest.raises(Built):
        afy_run("--select", "AFY11")
    assert len(built) == 1
    assert flake8_plugin.Plugin.selected == {c for c in flake8_plugin.rule_codes() if c.startswith("AFY11")}


def test_flake8_runs_only_the_selected_rules(proj, monkeypatch):
    from asyncify_lint.config import Settings
    from asyncify_lint.engine.runner import Linter
    from asyncify_lint.project import Project

    seen = []
    real_init = Linter.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        seen.append(self)

    monkeypatch.setattr(Linter, "__init__", init)
    flake8_plugin._PROJECTS.clear()
    linter = flake8_plugin._linter_for(str(proj / "app.py"), frozenset({"AFY110", "AFY301"}))
    assert sorted(r.code for r in linter.rules) == ["AFY110", "AFY301"]
    assert seen == [linter] and isinstance(linter.project, Project) and isinstance(linter.settings, Settings)
    flake8_plugin._PROJECTS.clear()


def test_flake8_reports_a_bad_configuration_when_afy_is_selected(proj):
    write(proj, "setup.cfg", "[asyncify_lint]\nselct = AFY301\n")
    write(proj, "app.py", BLOCKING)
    for jobs in ("1", "2"):
        res = _flake8(proj, "--select", "AFY", f"-j{jobs}", "app.py", "setup_helpers.py" if jobs == "2" else "app.py")
        assert res.returncode == 1
        assert "There was a critical error during execution of Flake8:\nasyncify-lint: " in res.stdout, res
        assert "unknown option 'selct'" in res.stdout and "Traceback" not in res.stderr, res.stderr
    res = _flake8(proj, "--select", "E9", "app.py")  # AFY not selected: the configuration is not ours to read
    assert res.returncode == 0, res.stdout + res.stderr
