"""The command line: exit codes, output formats, selection, configuration, and what it writes (and never writes)."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from asyncify_lint import __version__, cli
from asyncify_lint.diagnostics import Applicability, Edit, Fix
from asyncify_lint.registry import get_rule

APP = textwrap.dedent(
    """\
    from fastapi import Depends, FastAPI

    app = FastAPI()


    def get_db():
        db = {}
        try:
            yield db
        finally:
            db.clear()


    def get_user(db=Depends(get_db)):
        return {"db": db}


    @app.get("/items")
    def list_items(user=Depends(get_user)):
        return user.items()


    @app.post("/items")
    def create_item(item: dict, db=Depends(get_db)):  # a comment that stays
        return db.setdefault("item", item)
    """
)
# (code, line) of every diagnostic of APP with the default selection
APP_DIAGS = [("AFY302", 6), ("AFY302", 14), ("AFY301", 19), ("AFY301", 24)]
APP_ENDPOINTS_FIXED = APP.replace("def list_items", "async def list_items").replace(
    "def create_item", "async def create_item"
)

# `q.strip()` is a call the analysis cannot resolve: the endpoint's fix stays unsafe
ENDPOINT = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/")\ndef index(q=""):\n    return q.strip()\n'
CLEAN = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A scratch project (root marker: setup.cfg) that is the cwd."""
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = demo\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(root, rel: str, text: str | bytes):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_bytes(text.encode("utf-8"))
    return p


def run(*argv: str) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(list(argv))
        except SystemExit as exc:  # --version, as argparse does it
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def codes_lines(stdout: str) -> list[tuple[str, int]]:
    return [(m.group(2), int(m.group(1))) for m in re.finditer(r"^\S+?:(\d+):\d+: (AFY\d{3}) ", stdout, re.M)]


# -- exit codes ------------------------------------------------------------------------------------


def test_exit_0_when_clean(proj):
    write(proj, "clean.py", CLEAN)
    assert run("clean.py") == (0, "", "")


def test_exit_1_with_findings_and_text_format(proj):
    write(proj, "app.py", APP)
    rc, out, err = run("app.py")
    assert rc == 1, err
    assert codes_lines(out) == APP_DIAGS
    assert "app.py:19:1: AFY301 endpoint `list_items` (@app.get) is a sync `def`" in out
    assert "Found 4 errors." in out
    assert "4 hidden fixes can be enabled with the `--unsafe-fixes` option." in out
    rc, out, _ = run("app.py", "--unsafe-fixes")
    assert "app.py:19:1: AFY301 [*] endpoint" in out and "[*] 4 fixable with the `--fix` option." in out


def test_fix_exits_0_when_nothing_remains_and_says_what_it_fixed(proj):
    p = write(proj, "app.py", ENDPOINT)
    rc, out, err = run("app.py", "--fix", "--unsafe-fixes")
    assert rc == 0  # as ruff: --fix fails only on what remains
    assert out == "Found 1 error (1 fixed, 0 remaining).\n"
    assert err == "Rewriting app.py\n"
    assert p.read_text() == ENDPOINT.replace("def index", "async def index")
    assert run("app.py", "--fix", "--unsafe-fixes") == (0, "", "")


def test_exit_non_zero_on_fix(proj):
    p = write(proj, "app.py", ENDPOINT)
    rc, out, err = run("app.py", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix")
    assert (rc, out, err) == (1, "Found 1 error (1 fixed, 0 remaining).\n", "Rewriting app.py\n")
    assert "async def index" in p.read_text()
    # nothing rewritten: 0 again
    assert run("app.py", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix") == (0, "", "")


def test_fix_summary_counts_what_remains_and_the_hidden_fixes(proj):
    p = write(proj, "app.py", APP)
    write(proj, "jobs.py", "import time\n\n\nasync def tick():\n    time.sleep(1)\n    time.sleep(2)\n")
    rc, out, err = run(".", "--fix", "--show-fixes")
    assert rc == 1 and err == "Rewriting jobs.py\n"
    assert p.read_text() == APP  # its fixes are unsafe
    assert codes_lines(out) == APP_DIAGS
    assert out.endswith(
        "\nFixed 2 errors:\n"
        "- jobs.py:\n"
        "    2 × AFY110 (blocking-sleep-in-async)\n"
        "\n"
        "Found 6 errors (2 fixed, 4 remaining).\n"
        "4 hidden fixes can be enabled with the `--unsafe-fixes` option.\n"
    ), out
    # without --show-fixes: the summary only
    write(proj, "jobs.py", "import time\n\n\nasync def tick():\n    time.sleep(1)\n")
    rc, out, _ = run(".", "--fix")
    assert "Fixed" not in out and out.endswith("Found 5 errors (1 fixed, 4 remaining).\n"
                                               "4 hidden fixes can be enabled with the `--unsafe-fixes` option.\n")


def test_show_fixes_lists_each_file_and_code_most_frequent_first(proj):
    write(proj, "app.py", APP)
    write(proj, "b.py", ENDPOINT)
    rc, out, err = run(".", "--fix", "--unsafe-fixes", "--show-fixes")
    assert rc == 0, err
    assert out == (
        "\nFixed 5 errors:\n"
        "- app.py:\n"
        "    2 × AFY301 (sync-endpoint)\n"
        "    2 × AFY302 (sync-dependency)\n"
        "- b.py:\n"
        "    1 × AFY301 (sync-endpoint)\n"
        "\n"
        "Found 5 errors (5 fixed, 0 remaining).\n"
    )


def test_a_refused_migration_fixed_nothing(proj):
    p = write(proj, "app.py", ENDPOINT)
    os.chmod(p, 0o444)  # not writable: the migration is refused, nothing is written
    rc, out, err = run("app.py", "--fix", "--unsafe-fixes", "--show-fixes")
    assert rc == 2 and "Rewriting" not in err, err
    assert "fixed" not in out and out.endswith("Found 1 error.\n[*] 1 fixable with the `--fix` option.\n"), out


def test_exit_zero(proj):
    write(proj, "app.py", APP)
    rc, out, _ = run("app.py", "--exit-zero")
    assert rc == 0 and codes_lines(out) == APP_DIAGS


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--select", "FOO"], "--select: 'FOO' is not an asyncify-lint code or prefix"),
        (["--select", "AFY301,E501"], "'E501' is not an asyncify-lint code"),
        (["--ignore", "AFY30X"], "--ignore: 'AFY30X'"),
        (["--select", "AFY999"], "no rule matches the selection"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["missing.py"], "missing.py: no such file or directory"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--explain", "AFY999"], "unknown rule code 'AFY999'"),
        (["--config", "nowhere.toml"], "nowhere.toml: no such file"),
    ],
)
def test_exit_2_usage_errors(proj, argv, message):
    write(proj, "app.py", APP)
    rc, out, err = run("app.py", *argv)
    assert rc == 2, (out, err)
    assert out == ""
    assert err.startswith("asyncify-lint: error: ") and message in err, err
    assert err.count("\n") == 1  # one line, no usage dump


@pytest.mark.parametrize(
    "filename, content, message",
    [
        ("setup.cfg", "[asyncify_lint]\nselect = AFY301, FOO\n", "setup.cfg [asyncify_lint]: select: 'FOO'"),
        ("setup.cfg", "[asyncify_lint]\nunsafe-fixes = maybe\n", "unsafe-fixes must be true or false, not 'maybe'"),
        ("setup.cfg", "[asyncify-lint]\nselct = AFY301\n", "unknown option 'selct'"),
        ("pyproject.toml", '[tool.asyncify-lint]\nselect = ["AFY3", "X1"]\n', "[tool.asyncify-lint]: select: 'X1'"),
        ("pyproject.toml", "[tool.asyncify-lint]\nselect = [301]\n", "select must be a list of strings"),
        ("pyproject.toml", '[tool.asyncify-lint]\nunsafe-fixes = "sometimes"\n', "unsafe-fixes must be true or false"),
        ("pyproject.toml", "[tool.asyncify-lint\n", "pyproject.toml: cannot read"),
    ],
)
def test_exit_2_bad_config(tmp_path, monkeypatch, filename, content, message):
    write(tmp_path, filename, content)
    write(tmp_path, "app.py", APP)
    monkeypatch.chdir(tmp_path)
    rc, out, err = run("app.py")
    assert rc == 2, (out, err)
    assert out == ""
    assert message in err and filename in err, err


def test_exit_2_unreadable_file_but_others_are_checked(proj):
    write(proj, "app.py", ENDPOINT)
    os.symlink("nowhere.py", proj / "broken.py")  # listed by the walk, cannot be read
    rc, out, err = run(".")
    assert rc == 2
    assert "asyncify-lint: error: broken.py: cannot read: No such file or directory" in err
    assert codes_lines(out) == [("AFY301", 7)]
    # given explicitly: a link to nothing
    rc, out, err = run("broken.py")
    assert rc == 2 and "broken.py: a symbolic link to 'nowhere.py', which does not exist" in err


def test_directory_named_like_a_python_file_is_walked_not_read(proj):
    write(proj, "x.py/inner.py", ENDPOINT)
    rc, out, err = run("x.py")
    assert rc == 1, err
    assert codes_lines(out) == [("AFY301", 7)] and "inner.py" in out
    rc, out, err = run(".")
    assert rc == 1 and err == ""


# -- output formats and informational flags -------------------------------------------------------


def test_json_format(proj):
    write(proj, "app.py", APP)
    rc, out, _ = run("app.py", "--format", "json")
    assert rc == 1
    data = json.loads(out)
    assert [(d["code"], d["location"]["row"]) for d in data] == APP_DIAGS
    first = data[2]
    assert first["filename"] == "app.py"
    assert first["location"] == {"row": 19, "column": 1}
    assert first["end_location"]["row"] == 20
    assert first["message"].startswith("endpoint `list_items` (@app.get)")
    assert first["fix"] == {"applicability": "unsafe", "message": "Make `list_items` an `async def`", "applies": False}
    rc, out, _ = run("app.py", "--format", "json", "--unsafe-fixes")
    assert json.loads(out)[2]["fix"]["applies"] is True
    write(proj, "clean.py", CLEAN)
    assert run("clean.py", "--format", "json") == (0, "[]\n", "")


def test_github_format(proj):
    write(proj, "app.py", APP)
    rc, out, _ = run("app.py", "--format", "github")
    assert rc == 1
    lines = out.splitlines()
    assert len(lines) == 4
    assert lines[2] == (
        "::error title=asyncify-lint (AFY301),file=app.py,line=19,col=1,endLine=20,endColumn=24::"
        "AFY301 endpoint `list_items` (@app.get) is a sync `def` and runs in the threadpool"
    )


def test_statistics(proj):
    write(proj, "app.py", APP)
    rc, out, _ = run("app.py", "--statistics")
    assert rc == 1
    assert "    2\tAFY301\tsync-endpoint\n" in out
    assert "    2\tAFY302\tsync-dependency\n" in out
    rc, out, _ = run("app.py", "--statistics", "--unsafe-fixes")
    assert "    2\tAFY301\t[*] sync-endpoint\n" in out


def test_explain(proj):
    rc, out, err = run("--explain", "afy301")
    assert rc == 0, err
    assert out.startswith("# AFY301 sync-endpoint\n")
    assert "Fix is sometimes available (safe)." in out
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in out


def test_version(proj):
    rc, out, _ = run("--version")
    assert rc == 0 and out.strip() == f"asyncify-lint {__version__}"
    r = subprocess.run([sys.executable, "-m", "asyncify_lint", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"asyncify-lint {__version__}"


def test_a_check_does_not_import_what_only_fixes_baselines_and_other_formats_use(proj):
    """Start-up time: importing the CLI, and a check with text output, leave out the modules that only
    --fix / --diff, --strategy bridge, --baseline or the other output formats use (each is imported in
    the function that uses it)."""
    write(proj, "app.py", ENDPOINT)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__))))
    lazy = {"asyncify_lint.bridge", "asyncify_lint.baseline", "libcst", "xml.etree.ElementTree"}
    script = ("import sys\nbefore = set(sys.modules)\nimport asyncify_lint.cli\n{run}"
              "print(sorted(set(sys.modules) - before))\n")
    r = subprocess.run([sys.executable, "-c", script.format(run="")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    imported = set(ast.literal_eval(r.stdout))
    assert "asyncify_lint.cli" in imported
    # the migration's transaction (and the summary cache it reaches) come with the run, not the import
    assert not imported & (lazy | {"asyncify_lint.engine.transaction", "importlib.metadata"}), imported
    check = "code = asyncify_lint.cli.main(['app.py'])\nsys.stdout.flush()\nprint()\n"
    r = subprocess.run([sys.executable, "-c", script.format(run=check)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    report, _, modules = r.stdout.rpartition("\n\n")
    assert "AFY301" in report
    imported = set(ast.literal_eval(modules))
    assert "asyncify_lint.rules" in imported
    assert not imported & lazy, imported


# -- --diff and --fix ----------------------------------------------------------------------------


def test_diff_writes_nothing_and_prints_a_unified_diff(proj):
    p = write(proj, "app.py", APP)
    before = p.read_bytes()
    mtime = p.stat().st_mtime_ns
    rc, out, err = run("app.py", "--diff", "--unsafe-fixes", "--select", "AFY301")
    assert rc == 1
    assert err == ""  # no "Rewriting"
    assert p.read_bytes() == before and p.stat().st_mtime_ns == mtime
    assert out.startswith("--- a/app.py\n+++ b/app.py\n@@ ")
    assert "\n-def list_items(user=Depends(get_user)):\n+async def list_items(user=Depends(get_user)):\n" in out
    assert "\n-def create_item(" in out and "\n+async def create_item(" in out
    assert "get_db" not in [ln for ln in out.splitlines() if ln.startswith(("-", "+"))]
    # nothing to fix: empty diff, exit 0
    write(proj, "clean.py", CLEAN)
    assert run("clean.py", "--diff") == (0, "", "")


def test_diff_says_how_many_fixes_it_hides(proj):
    # a sync app whose fixes are all unsafe: an empty diff, and why
    write(proj, "app.py", APP)
    assert run("app.py", "--diff") == (0, "", "4 hidden fixes can be enabled with the `--unsafe-fixes` option.\n")
    write(proj, "jobs.py", "import time\n\n\nasync def tick():\n    time.sleep(1)\n")
    rc, out, err = run(".", "--diff")
    assert rc == 1 and out.startswith("--- a/jobs.py\n+++ b/jobs.py\n")
    assert err == "4 hidden fixes can be enabled with the `--unsafe-fixes` option.\n"
    rc, out, err = run(".", "--diff", "--unsafe-fixes")
    assert rc == 1 and "+++ b/app.py" in out and err == ""


def test_fix_without_unsafe_applies_only_safe_fixes(proj):
    p = write(proj, "app.py", APP)
    rc, out, err = run("app.py", "--fix")
    assert rc == 1 and "Rewriting" not in err
    assert p.read_text() == APP  # AFY301/AFY302 fixes are unsafe


def test_select_one_rule_fixes_only_that_rule(proj):
    p = write(proj, "app.py", APP)
    rc, out, err = run("app.py", "--fix", "--unsafe-fixes", "--select", "AFY301")
    assert rc == 0
    assert err == "Rewriting app.py\n"
    assert out == "Found 2 errors (2 fixed, 0 remaining).\n"  # only AFY301 is selected, and it is all fixed
    fixed = p.read_text()
    assert fixed == APP_ENDPOINTS_FIXED  # the dependencies are still plain `def`
    compile(fixed, "app.py", "exec")
    assert run("app.py", "--fix", "--unsafe-fixes", "--select", "AFY301") == (0, "", "")
    assert p.read_text() == fixed
    # the dependencies are still reported by their own rule
    rc, out, _ = run("app.py")
    assert codes_lines(out) == [("AFY302", 6), ("AFY302", 14)]


def test_fix_that_does_not_compile_is_refused(proj, monkeypatch):
    rule = get_rule("AFY301")

    def broken(ctx, node):
        if node.name == "index":
            start = ctx.start(node)
            yield rule.at(ctx, node, Fix([Edit(start, start, "def def ")], Applicability.SAFE),
                          name=node.name, how="@broken", why="")

    monkeypatch.setitem(rule.handlers, ast.FunctionDef, [broken])
    p = write(proj, "app.py", ENDPOINT)
    other = write(proj, "other.py", CLEAN)
    rc, out, err = run(".", "--fix", "--select", "AFY301")
    assert rc == 2
    assert "internal error: the fix of AFY301 produced code that does not compile" in err, err
    assert "Rewriting" not in err
    assert p.read_text() == ENDPOINT and other.read_text() == CLEAN
    assert codes_lines(out) == [("AFY301", 7)]  # still reported


def test_syntax_error_is_reported_and_left_alone_while_other_files_are_fixed(proj):
    bad_bytes = b'from fastapi import FastAPI\r\napp = FastAPI()\r\n@app.get("/")\r\ndef index(:\r\n    pass\r\n'
    bad = write(proj, "bad.py", bad_bytes)
    good = write(proj, "good.py", ENDPOINT)
    rc, out, err = run(".", "--fix", "--unsafe-fixes")
    assert rc == 1
    assert re.search(r"^bad\.py:4:\d+: AFY001 cannot parse: .*\(line 4\)$", out, re.M), out
    assert bad.read_bytes() == bad_bytes
    assert good.read_text() == ENDPOINT.replace("def index", "async def index")
    assert err == "Rewriting good.py\n"
    rc, out, err = run("bad.py", "--select", "AFY301")  # AFY001 is reported whatever the selection
    assert rc == 1 and "AFY001 cannot parse" in out


def test_atomic_write_keeps_the_file_mode(proj):
    p = write(proj, "app.py", ENDPOINT)
    os.chmod(p, 0o751)
    run("app.py", "--fix", "--unsafe-fixes")
    assert "async def index" in p.read_text()
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o751
    assert sorted(os.listdir(proj)) == ["app.py", "setup.cfg"]  # no temporary file left behind


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(ENDPOINT.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param(b"\xef\xbb\xbf" + ENDPOINT.encode(), id="bom"),
        pytest.param(ENDPOINT.replace("    ", "\t").encode(), id="tabs"),
        pytest.param(
            "# -*- coding: latin-1 -*-\n".encode()
            + ENDPOINT.replace("return 1", 'return "caf\u00e9 \u00bd"').encode("latin-1"),
            id="latin-1",
        ),
        pytest.param(
            b"# mixed\r\nimport os\n" + ENDPOINT.replace("return 1", "return 1  # trailing \t ").encode() + b"\r\n",
            id="mixed-endings",
        ),
    ],
)
def test_fix_keeps_every_byte_outside_the_edit(proj, raw):
    p = write(proj, "app.py", raw)
    rc, _, err = run("app.py", "--fix", "--unsafe-fixes")
    assert err == "Rewriting app.py\n"
    assert p.read_bytes() == raw.replace(b"\ndef index", b"\nasync def index", 1)


# -- noqa -----------------------------------------------------------------------------------------


def test_noqa(proj):
    text = textwrap.dedent(
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
        def d():  # NOQA:AFY3
            return 4
        """
    )
    p = write(proj, "app.py", text)
    rc, out, _ = run("app.py")
    assert codes_lines(out) == [("AFY301", 12)]
    # a suppressed diagnostic is not fixed either
    run("app.py", "--fix", "--unsafe-fixes")
    assert p.read_text() == text.replace("def b()", "async def b()")
    p.write_text("# flake8: noqa\n" + text)
    assert run("app.py", "--fix", "--unsafe-fixes") == (0, "", "")
    assert p.read_text() == "# flake8: noqa\n" + text


# -- files that are never written ----------------------------------------------------------------

TEST_FILES = ["tests/test_api.py", "test_views.py", "views_test.py", "conftest.py", "pkg/tests/sub/helpers.py",
              "pkg/test/mod.py", "alembic/env.py", "pkg/migrations/versions/0001_init.py"]


# a test's own app, and a blocking call in a coroutine function
TEST_APP = "import time\n" + ENDPOINT + "\n\nasync def pause():\n    time.sleep(1)\n"


def test_test_files_are_checked_but_never_written(proj):
    for rel in TEST_FILES:
        write(proj, rel, TEST_APP)
    app = write(proj, "pkg/app.py", ENDPOINT)
    rc, out, err = run(".", "--fix", "--unsafe-fixes")
    assert rc == 1
    assert err == "Rewriting pkg/app.py\n"
    assert "async def index" in app.read_text()
    for rel in TEST_FILES:
        assert (proj / rel).read_text() == TEST_APP, rel
    reported = {m.group(1) for m in re.finditer(r"^(\S+):13:5: AFY110 ", out, re.M)}
    assert reported == set(TEST_FILES)
    assert "[*]" not in out  # their fixes never apply


def test_a_test_apps_endpoints_are_not_reported(proj):
    """The endpoint and dependency rules report what the fixer converts: never a test file's own app."""
    for rel in TEST_FILES:
        write(proj, rel, APP)
    write(proj, "pkg/app.py", APP)
    rc, out, err = run(".", "--select", "AFY3")
    assert rc == 1
    assert codes_lines(out) == APP_DIAGS
    assert all(line.startswith("pkg/app.py:") for line in out.splitlines() if " AFY3" in line)


def test_a_migration_environment_using_the_app_engine_is_reported_before_the_fix(proj):
    """Alembic's env.py runs synchronously under the `alembic` command: read, never written, and its
    uses of the engine the migration makes async are in the impact report."""
    write(proj, "app/__init__.py", "")
    write(proj, "app/db.py", "from sqlalchemy import create_engine\n\nengine = create_engine('sqlite:///./a.db')\n")
    env = write(proj, "alembic/env.py", textwrap.dedent("""\
        from alembic import context

        from app.db import engine


        def run_migrations_online():
            with engine.connect() as connection:
                context.configure(connection=connection)


        run_migrations_online()
        """))
    before = env.read_text()
    rc, out, err = run(".", "--fix", "--unsafe-fixes")
    assert env.read_text() == before
    assert ("alembic/env.py:7:10: AFY501 alembic/env.py:7 calls engine.connect() (the engine); after the "
            "migration it is an AsyncEngine") in err
    assert "create_async_engine" in (proj / "app" / "db.py").read_text()


def test_non_python_files_are_never_written(proj):
    script = write(proj, "manage", ENDPOINT)
    rc, out, err = run("manage", "--fix", "--unsafe-fixes")
    assert script.read_text() == ENDPOINT
    assert "Rewriting" not in err
    assert rc == 1 and codes_lines(out) == [("AFY301", 7)]
    assert run("manage", "--diff", "--unsafe-fixes")[1] == ""


# -- configuration --------------------------------------------------------------------------------


def _config(root, kind: str, options: dict[str, list[str]]) -> None:
    if kind == "setup.cfg":
        body = "".join(f"{k} = {', '.join(v)}\n" for k, v in options.items())
        write(root, "setup.cfg", "[metadata]\nname = demo\n\n[asyncify_lint]\n" + body)
    else:
        body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
        write(root, "pyproject.toml", "[tool.asyncify-lint]\n" + body)


@pytest.fixture(params=["setup.cfg", "pyproject.toml"])
def cfg_proj(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path, request.param


def test_config_select_and_cli_override(cfg_proj):
    root, kind = cfg_proj
    _config(root, kind, {"select": ["AFY302"]})
    write(root, "app.py", APP)
    assert codes_lines(run("app.py")[1]) == [("AFY302", 6), ("AFY302", 14)]
    assert codes_lines(run("app.py", "--select", "AFY301")[1]) == [("AFY301", 19), ("AFY301", 24)]
    assert codes_lines(run("app.py", "--extend-select", "AFY301")[1]) == APP_DIAGS


def test_config_ignore_and_cli_override(cfg_proj):
    root, kind = cfg_proj
    _config(root, kind, {"ignore": ["AFY301"]})
    write(root, "app.py", APP)
    assert codes_lines(run("app.py")[1]) == [("AFY302", 6), ("AFY302", 14)]
    assert codes_lines(run("app.py", "--ignore", "AFY302")[1]) == [("AFY301", 19), ("AFY301", 24)]


def test_config_exclude_and_extend_exclude(cfg_proj):
    root, kind = cfg_proj
    _config(root, kind, {"exclude": ["generated/"], "extend-exclude": ["legacy_*.py"]})
    write(root, "app.py", ENDPOINT)
    write(root, "generated/api.py", ENDPOINT)
    write(root, "legacy_api.py", ENDPOINT)
    write(root, "build/api.py", ENDPOINT)  # `exclude` replaced the defaults (build/ among them)
    rc, out, _ = run(".")
    files = sorted({ln.split(":")[0] for ln in out.splitlines() if ": AFY" in ln})
    assert files == ["app.py", "build/api.py"]


def test_config_extend_exclude_keeps_the_default_excludes(cfg_proj):
    root, kind = cfg_proj
    _config(root, kind, {"extend-exclude": ["legacy_*.py"]})
    write(root, "app.py", ENDPOINT)
    write(root, "legacy_api.py", ENDPOINT)
    write(root, ".venv/lib/api.py", ENDPOINT)
    write(root, "build/api.py", ENDPOINT)
    rc, out, _ = run(".")
    files = sorted({ln.split(":")[0] for ln in out.splitlines() if ": AFY" in ln})
    assert files == ["app.py"]


def test_config_test_paths(cfg_proj):
    root, kind = cfg_proj
    _config(root, kind, {"test-paths": ["spec/"]})
    spec = write(root, "spec/api_spec.py", ENDPOINT)
    # `tests/` is no longer a test path once test-paths is set
    tests_file = write(root, "tests/api.py", ENDPOINT)
    rc, out, err = run(".", "--fix", "--unsafe-fixes")
    assert spec.read_text() == ENDPOINT
    assert "async def index" in tests_file.read_text()
    assert err == "Rewriting tests/api.py\n"


def test_config_unsafe_fixes_and_pyproject_wins_over_setup_cfg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "setup.cfg", "[asyncify_lint]\nselect = AFY302\n")
    write(tmp_path, "pyproject.toml", "[tool.asyncify-lint]\nselect = ['AFY301']\nunsafe-fixes = true\n")
    p = write(tmp_path, "app.py", APP)
    rc, out, _ = run("app.py")
    assert codes_lines(out) == [("AFY301", 19), ("AFY301", 24)]
    assert "[*]" in out
    run("app.py", "--fix")
    assert p.read_text() == APP_ENDPOINTS_FIXED


def test_explicit_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "setup.cfg", "[metadata]\nname = demo\n")
    write(tmp_path, "conf/lint.toml", "")
    write(tmp_path, "conf/pyproject.toml", "[tool.asyncify-lint]\nselect = ['AFY302']\n")
    write(tmp_path, "app.py", APP)
    rc, out, _ = run("app.py", "--config", "conf/pyproject.toml")
    assert codes_lines(out) == [("AFY302", 6), ("AFY302", 14)]


# -- default path ----------------------------------------------------------------------------------


def test_default_path_is_the_project_containing_the_cwd(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    write(root, "pyproject.toml", '[project]\nname = "demo"\nversion = "0"\n')
    write(root, "app/api.py", ENDPOINT)
    write(root, "app/sub/__init__.py", "")
    write(tmp_path, "elsewhere/api.py", ENDPOINT)  # outside the project
    monkeypatch.chdir(root / "app" / "sub")
    rc, out, err = run()
    assert rc == 1, err
    api = root / "app" / "api.py"  # outside the cwd: shown with its absolute path
    assert out.splitlines()[0].startswith(f"{api}:7:1: AFY301 endpoint `index`")
    assert "elsewhere" not in out
    rc, out, err = run("--fix", "--unsafe-fixes")
    assert err == f"Rewriting {api}\n"
    assert "async def index" in (root / "app" / "api.py").read_text()
    assert (tmp_path / "elsewhere" / "api.py").read_text() == ENDPOINT


def test_a_path_with_its_own_project_below_a_cwd_without_one(tmp_path, monkeypatch):
    # `asyncify-lint proj` from a directory no project marker covers: the project is `proj`, not the
    # cwd and whatever else lies beside it (analysed and cached under the cwd before)
    write(tmp_path, "proj/pyproject.toml", '[project]\nname = "demo"\nversion = "0"\n')
    write(tmp_path, "proj/app/__init__.py", "")
    write(tmp_path, "proj/app/api.py", ENDPOINT)
    write(tmp_path, "other/broken.py", "def (:\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    rc, out, err = run("proj", "--statistics")
    assert rc == 1, err
    assert out.splitlines()[0].startswith(os.path.join("proj", "app", "api.py") + ":7:1: AFY301")
    assert (tmp_path / "proj" / ".asyncify_cache").is_dir()
    assert not (tmp_path / ".asyncify_cache").exists()


def test_console_script_in_a_subprocess(proj):
    write(proj, "app.py", ENDPOINT)
    exe = os.path.join(os.path.dirname(sys.executable), "asyncify-lint")
    argv = [exe] if os.path.exists(exe) else [sys.executable, "-m", "asyncify_lint"]
    r = subprocess.run(argv, capture_output=True, text=True, cwd=proj)
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("app.py:7:1: AFY301 endpoint `index` (@app.get)")


def test_fast_exit_keeps_the_exit_code_and_all_the_output(proj):
    # the command ends with os._exit once its output is flushed: nothing may be lost on the way
    for i in range(300):
        write(proj, f"m{i}.py", ENDPOINT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as usual
    r = subprocess.run([sys.executable, "-m", "asyncify_lint", "--format", "json"], capture_output=True,
                       text=True, cwd=proj, env=env)
    assert r.returncode == 1, r.stderr
    assert len(json.loads(r.stdout)) == 300
    r = subprocess.run([sys.executable, "-m", "asyncify_lint", "--exit-zero", "--statistics"], capture_output=True,
                       text=True, cwd=proj, env=env)
    assert r.returncode == 0, r.stderr
    assert "Found 300 errors." in r.stdout, r.stdout
    r = subprocess.run([sys.executable, "-m", "asyncify_lint", "--select", "AFY999"], capture_output=True,
                       text=True, cwd=proj, env=env)
    assert r.returncode == 2 and r.stderr == "asyncify-lint: error: no rule matches the selection\n"


def test_endpoint_fix_is_safe_when_nothing_blocking_is_reachable(proj):
    write(proj, "helpers.py", "def total(a, b):\n    return a + b\n")
    p = write(proj, "app.py", 'from fastapi import FastAPI\n\nfrom helpers import total\n\napp = FastAPI()\n\n\n'
                              '@app.get("/")\ndef index():\n    return {"total": total(1, 2)}\n\n\n'
                              '@app.get("/slow")\ndef slow():\n    return open("x").read()\n')
    rc, out, _ = run("app.py")
    assert "app.py:9:1: AFY301 [*] endpoint `index`" in out  # safe: `total` blocks nothing
    assert "app.py:14:1: AFY301 endpoint `slow`" in out  # unsafe: open() would block the loop
    run("app.py", "--fix")
    text = p.read_text()
    assert "async def index" in text and "\ndef slow" in text


def test_the_impact_report_reads_every_test_file_whatever_the_paths(proj):
    """`--fix app` names the tests of tests/ as `--fix .` does: the report reads the project's test
    files, not only those under the paths given."""
    write(proj, "app/__init__.py", "")
    write(proj, "app/db.py", "from sqlalchemy import create_engine\n\nengine = create_engine('sqlite:///./a.db')\n")
    test = write(proj, "tests/test_db.py", "from app.db import engine\n\n\ndef test_connect():\n"
                                           "    with engine.connect():\n        pass\n")
    before = test.read_text()
    rc, out, err = run("app", "--fix", "--unsafe-fixes")
    assert test.read_text() == before
    assert ("tests/test_db.py:5:10: AFY501 tests/test_db.py:5 calls engine.connect() (the engine); after the "
            "migration it is an AsyncEngine") in err
    assert ("asyncify-lint: 1 test uses what the migration changes and will fail, or pass by accident, until "
            "ported: tests/test_db.py::test_connect; `--strategy bridge` keeps") in err
