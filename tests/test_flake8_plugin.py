"""The flake8 adapter reports exactly what the CLI reports (flake8 in a subprocess, as users run it)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "rules")
FMT = "%(path)s|%(row)d|%(col)d|%(code)s"


def _fixture_inputs() -> list[str]:
    return sorted(
        p for p in glob.glob(os.path.join(FIXTURES, "afy30*.py")) if not p.endswith(".fixed.py")
    )


def _flake8(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _cli(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asyncify_lint", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _flake8_set(out: str) -> set[tuple[str, int, int, str]]:
    found = set()
    for line in out.splitlines():
        path, row, col, code = line.split("|")
        found.add((os.path.normpath(path), int(row), int(col), code))
    return found


def _cli_set(out: str) -> set[tuple[str, int, int, str]]:
    return {
        (os.path.normpath(d["filename"]), d["location"]["row"], d["location"]["column"], d["code"])
        for d in json.loads(out)
    }


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    names = []
    for src in _fixture_inputs():
        name = "routes_" + os.path.basename(src)  # not a test file name
        shutil.copyfile(src, pkg / name)
        names.append(os.path.join("app", name))
    assert len(names) >= 3, names
    return tmp_path, names


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_flake8_reports_what_the_cli_reports(project, jobs):
    root, names = project
    f8 = _flake8(root, "--select", "AFY", f"--jobs={jobs}", f"--format={FMT}", *names)
    assert f8.returncode == 1, f8.stdout + f8.stderr
    cli = _cli(root, "--format", "json", *names)
    assert cli.returncode == 1, cli.stderr
    flake8_found, cli_found = _flake8_set(f8.stdout), _cli_set(cli.stdout)
    assert cli_found, "the fixtures must produce diagnostics"
    assert {c for *_, c in cli_found} >= {"AFY301", "AFY302", "AFY303"}
    assert flake8_found == cli_found, (sorted(flake8_found - cli_found), sorted(cli_found - flake8_found))


def test_flake8_messages_match_the_cli(project):
    root, names = project
    f8 = _flake8(root, "--select", "AFY", "--format=%(path)s:%(row)d:%(col)d: %(code)s %(text)s", *names)
    cli = _cli(root, *names)
    cli_lines = {ln for ln in cli.stdout.splitlines() if re.match(r"\S+:\d+:\d+: AFY", ln)}
    assert {ln.replace(" [*]", "") for ln in cli_lines} == set(f8.stdout.splitlines())


NOQA_APP = textwrap.dedent(
    """\
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/a")
    def a():  # noqa: AFY301
        return 1


    @app.get("/b")
    def b():  # noqa: AFY302
        return 2


    @app.get("/c")
    def c():  # noqa
        return 3


    @app.get("/d")
    def d():  # noqa:AFY3
        return 4
    """
)


def test_noqa_is_honoured_by_flake8_and_by_the_cli(tmp_path):
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = demo\n")
    (tmp_path / "api.py").write_text(NOQA_APP)
    f8 = _flake8(tmp_path, "--select", "AFY", f"--format={FMT}", "api.py")
    assert _flake8_set(f8.stdout) == {("api.py", 12, 1, "AFY301")}, f8.stdout + f8.stderr
    cli = _cli(tmp_path, "--format", "json", "api.py")
    assert _cli_set(cli.stdout) == {("api.py", 12, 1, "AFY301")}

    # a file-level `# flake8: noqa`, with codes after it or not, hides the whole file from flake8
    # (flake8 reads no codes there), and from the CLI alike: both use flake8's own regexes
    for header in ("# flake8: noqa\n", "# flake8: noqa: E501\n", "# FLAKE8= NOQA:AFY301\n"):
        (tmp_path / "api.py").write_text(header + NOQA_APP)
        f8 = _flake8(tmp_path, "--select", "AFY", f"--format={FMT}", "api.py")
        assert f8.returncode == 0 and f8.stdout == "", header + f8.stdout + f8.stderr
        assert _cli(tmp_path, "api.py").returncode == 0, header


def test_flake8_version_lists_the_plugin():
    from asyncify_lint import __version__

    r = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert re.search(rf"asyncify-lint: {re.escape(__version__)}\b", " ".join(r.stdout.split())), r.stdout


def test_a_long_lived_flake8_process_sees_edits_in_other_modules(tmp_path, monkeypatch, capsys):
    """Editors run flake8 in-process, run after run: a cross-module finding follows an edit of the
    other module (the plugin starts each run from a fresh project view)."""
    from flake8.main.application import Application

    (tmp_path / ".git").mkdir()
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "__init__.py").write_text("")
    (app_dir / "helpers.py").write_text("def helper():\n    return 1\n")
    (app_dir / "main.py").write_text(
        "from fastapi import FastAPI\nfrom app.helpers import helper\napp = FastAPI()\n\n\n"
        "@app.get('/')\nasync def index():\n    return helper()\n"
    )
    monkeypatch.chdir(tmp_path)

    def run() -> int:
        application = Application()
        application.run(["--select", "AFY", "--jobs", "1", "app"])
        return application.result_count

    assert run() == 0
    (app_dir / "helpers.py").write_text("import time\n\n\ndef helper():\n    time.sleep(1)\n    return 1\n")
    assert run() == 1
    assert "AFY100" in capsys.readouterr().out
