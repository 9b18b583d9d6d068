"""ruff's command-line conventions: `rule`, `--add-noqa`, `--exclude`/`--extend-exclude`,
`--per-file-ignores`, `--fixable`/`--unfixable`, `--quiet`/`--verbose`, `--stdin-filename`, and the
project root of an app given by its directory."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from asyncify_lint import cli
from asyncify_lint.registry import all_rules, get_rule

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


    @app.get("/items")
    def list_items(db=Depends(get_db)):
        return db.items()
    """
)
# `q.strip()` is a call the analysis cannot resolve: the endpoint's fix stays unsafe
ENDPOINT = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/")\ndef index(q=""):\n    return q.strip()\n'
FIXED = ENDPOINT.replace("def index", "async def index")


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A scratch project (root marker: setup.cfg) that is the cwd."""
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = demo\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(root, rel: str, text: str):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode("utf-8"))
    return p


def run(*argv: str) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def run_stdin(cwd, source: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asyncify_lint", *argv], input=source.encode(), cwd=cwd,
                          capture_output=True)


def codes_lines(stdout: str) -> list[tuple[str, str, int]]:
    return [(m.group(1), m.group(3), int(m.group(2)))
            for m in re.finditer(r"^(\S+?):(\d+):\d+: (AFY\d{3}) ", stdout, re.M)]


# -- asyncify-lint rule ---------------------------------------------------------------------------


def test_rule_by_code_or_name_is_the_explain_text(proj):
    rc, by_code, err = run("rule", "afy301")
    assert rc == 0, err
    assert by_code.startswith("# AFY301 sync-endpoint\n\nFix is sometimes available (safe).\n\n## What it does\n")
    assert run("rule", "sync-endpoint") == (0, by_code, "")
    assert run("--explain", "AFY301") == (0, by_code, "")
    assert "Off by default" not in by_code


def test_rule_all_prints_every_rule_once_in_code_order(proj):
    rc, out, _ = run("rule", "--all")
    assert rc == 0
    headings = re.findall(r"^# (AFY\d{3}) ", out, re.M)
    assert headings == [r.code for r in all_rules()]
    assert "\n\n# AFY301 sync-endpoint\n" in out  # a blank line between two rules


def test_rule_json(proj):
    rc, out, _ = run("rule", "AFY204", "--output-format", "json")
    assert rc == 0
    data = json.loads(out)
    rule = get_rule("AFY204")
    assert data["code"] == "AFY204" and data["name"] == "legacy-query-api"
    assert data["fix"] == "Fix is sometimes available (unsafe)."
    assert data["fix_availability"] == "sometimes" and data["fix_applicability"] == "unsafe"
    assert data["summary"].startswith("Checks for the legacy `Query` API") and data["summary"].endswith(".")
    assert data["explanation"] == rule.doc.strip() + "\n"
    assert data["message_formats"] == [rule.message] and data["default_enabled"] is True
    rc, out, _ = run("rule", "--all", "--output-format", "json")
    assert rc == 0
    assert [d["code"] for d in json.loads(out)] == [r.code for r in all_rules()]


@pytest.mark.parametrize("argv, message", [
    (["rule", "sync-endpont"], "unknown rule name 'sync-endpont' (did you mean sync-endpoint"),
    (["rule", "AFY399"], "unknown rule code 'AFY399'"),
    (["rule"], "give a rule's code or name, or --all"),
    (["rule", "AFY301", "--all"], "give a rule's code or name, or --all"),
    (["rule", "AFY301", "--output-format", "xml"], "invalid choice: 'xml'"),
    (["--explain", "nope"], "unknown rule name 'nope'"),
])
def test_rule_usage_errors(proj, argv, message):
    rc, out, err = run(*argv)
    assert (rc, out) == (2, "")
    assert err.startswith("asyncify-lint: error: ") and message in err and err.count("\n") == 1, err


# -- --add-noqa ------------------------------------------------------------------------------------

NOQA_BEFORE = textwrap.dedent(
    '''\
    import time

    from fastapi import Depends, FastAPI

    app = FastAPI()


    def get_db():  # noqa: E501
        return {}


    @app.get("/a")
    def a(db=Depends(get_db)):  # a comment that stays
        return db


    @app.get("/b")
    def b():  # noqa:AFY302  (kept for now)
        return 2


    async def slow():
        time.sleep(len("""
        a multi-line string: no comment can go here
        """))
        time.sleep(1) or \\
            None
        s = "# noqa:E501"; time.sleep(2)
    '''
)
NOQA_AFTER = textwrap.dedent(
    '''\
    import time

    from fastapi import Depends, FastAPI

    app = FastAPI()


    def get_db():  # noqa: E501, AFY302
        return {}


    @app.get("/a")
    def a(db=Depends(get_db)):  # a comment that stays  # noqa: AFY301
        return db


    @app.get("/b")
    def b():  # noqa:AFY302, AFY301  (kept for now)
        return 2


    async def slow():
        time.sleep(len("""
        a multi-line string: no comment can go here
        """))  # noqa: AFY110
        time.sleep(1) or \\
            None  # noqa: AFY110
        s = "# noqa:E501"; time.sleep(2)
    '''
)


def test_add_noqa_merges_into_existing_comments_and_a_second_run_adds_none(proj):
    p = write(proj, "app.py", NOQA_BEFORE)
    rc, out, _ = run("app.py")
    assert [(c, ln) for _, c, ln in codes_lines(out)] == [
        ("AFY302", 8), ("AFY301", 13), ("AFY301", 18), ("AFY110", 23), ("AFY110", 26), ("AFY110", 28)]
    assert run("app.py", "--add-noqa") == (0, "", "Added 5 noqa directives.\n")
    assert p.read_text() == NOQA_AFTER
    # flake8 reads the first `# noqa` of a line: behind one in a string, no directive can silence a finding
    rc, out, _ = run("app.py")
    assert rc == 1 and [(c, ln) for _, c, ln in codes_lines(out)] == [("AFY110", 28)]
    assert run("app.py", "--add-noqa") == (0, "", "Added 0 noqa directives.\n")
    assert p.read_text() == NOQA_AFTER
    assert run("app.py", "--add-noqa", "-q") == (0, "", "")


def test_add_noqa_numbers_lines_as_python_does(proj):
    # a form feed (a page break) is no line break for Python, nor for the noqa handling
    p = write(proj, "app.py", "import time\n\x0c\n\nasync def slow():\r\n    time.sleep(1)\r\n")
    assert run("app.py", "--add-noqa") == (0, "", "Added 1 noqa directive.\n")
    assert p.read_bytes() == b"import time\n\x0c\n\nasync def slow():\r\n    time.sleep(1)  # noqa: AFY110\r\n"
    assert run("app.py") == (0, "", "")


def test_add_noqa_silences_every_finding_of_the_example_app(tmp_path, monkeypatch):
    app = tmp_path / "shop"
    shutil.copytree(os.path.join(REPO, "examples", "shop"), app,
                    ignore=shutil.ignore_patterns("__pycache__", ".asyncify_cache", "*.db"))
    monkeypatch.chdir(app)
    rc, out, _ = run(".")
    findings = codes_lines(out)
    assert rc == 1 and len(findings) > 20
    tests_before = {p: (app / p).read_bytes() for p in ("tests/test_items.py", "conftest.py")}
    rc, out, err = run(".", "--add-noqa")
    lines = {(path, ln) for path, _, ln in findings}
    assert (rc, out, err) == (0, "", f"Added {len(lines)} noqa directives.\n")
    assert run(".") == (0, "", "")
    assert run(".", "--add-noqa") == (0, "", "Added 0 noqa directives.\n")
    assert {p: (app / p).read_bytes() for p in tests_before} == tests_before  # nothing to silence there
    for path, _, _ in findings:
        compile((app / path).read_text(), path, "exec")


def test_add_noqa_leaves_a_file_that_does_not_parse_and_writes_all_or_nothing(proj):
    bad = write(proj, "bad.py", "def (:\n")
    ok = write(proj, "ok.py", ENDPOINT)
    readonly = write(proj, "ro.py", ENDPOINT)
    os.chmod(readonly, 0o444)
    rc, out, err = run(".", "--add-noqa")
    assert rc == 2 and "cannot write ro.py: it is read-only; nothing was written" in err, err
    assert ok.read_text() == ENDPOINT and readonly.read_text() == ENDPOINT
    os.chmod(readonly, stat.S_IWUSR | stat.S_IRUSR)
    assert run(".", "--add-noqa") == (0, "", "Added 2 noqa directives.\n")
    assert bad.read_text() == "def (:\n"
    assert ok.read_text() == ENDPOINT.replace('def index(q=""):', 'def index(q=""):  # noqa: AFY301')
    rc, out, _ = run(".")
    assert rc == 1 and [c for _, c, _ in codes_lines(out)] == ["AFY001"]


@pytest.mark.parametrize("flag", ["--fix", "--diff"])
def test_add_noqa_is_not_a_fix(proj, flag):
    p = write(proj, "app.py", ENDPOINT)
    rc, out, err = run("app.py", "--add-noqa", flag)
    assert rc == 2 and "--add-noqa cannot be used with --fix, --diff or --stdin-filename" in err
    assert p.read_text() == ENDPOINT


# -- --exclude, --extend-exclude, --per-file-ignores, --fixable, --unfixable ------------------------


def reported_files(out: str) -> list[str]:
    return sorted({path for path, _, _ in codes_lines(out)})


def test_exclude_options_replace_and_extend_the_configured_patterns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "pyproject.toml", '[tool.asyncify-lint]\nextend-exclude = ["legacy_*.py"]\n')
    for rel in ("app.py", "legacy_api.py", "generated/api.py", "build/api.py", "gen_a.py"):
        write(tmp_path, rel, ENDPOINT)
    assert reported_files(run(".")[1]) == ["app.py", "gen_a.py", "generated/api.py"]
    assert reported_files(run(".", "--extend-exclude", "generated/, gen_*.py")[1]) == ["app.py"]
    # --exclude replaces `exclude` (build/ was among its defaults); extend-exclude still applies
    assert reported_files(run(".", "--exclude", "generated/")[1]) == ["app.py", "build/api.py", "gen_a.py"]
    # an excluded file given by name is left out too, as with the settings
    assert run("gen_a.py", "--extend-exclude", "gen_*.py") == (0, "", "")


PFI_CONFIGS = {
    "setup.cfg": "[asyncify_lint]\nper-file-ignores =\n    legacy/*.py: AFY301\n    api_*.py:AFY3,AFY110\n",
    "pyproject.toml": ('[tool.asyncify-lint.per-file-ignores]\n"legacy/*.py" = ["AFY301"]\n'
                       '"api_*.py" = ["AFY3", "AFY110"]\n'),
    "command line": None,
}


@pytest.mark.parametrize("where", PFI_CONFIGS)
def test_per_file_ignores_in_the_configuration_and_on_the_command_line_agree(tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "setup.cfg", "[metadata]\nname = demo\n")
    if PFI_CONFIGS[where] is not None:
        write(tmp_path, where, PFI_CONFIGS[where])
    argv = ["--per-file-ignores", "legacy/*.py:AFY301 api_*.py:AFY3,AFY110"] if where == "command line" else []
    for rel in ("app.py", "legacy/old.py", "legacy/sub/deep.py", "pkg/api_v1.py"):
        write(tmp_path, rel, APP)
    rc, out, err = run(".", *argv)
    assert rc == 1, err
    assert sorted(codes_lines(out)) == sorted([
        ("app.py", "AFY301", 15), ("app.py", "AFY302", 6), ("legacy/old.py", "AFY302", 6),
        ("legacy/sub/deep.py", "AFY302", 6)])  # `legacy/*.py` matches the path, as `exclude` does
    # an ignored code is not fixed there either
    run(".", "--fix", "--unsafe-fixes", "--select", "AFY301", *argv)
    assert "async def list_items" in (tmp_path / "app.py").read_text()
    for rel in ("legacy/old.py", "pkg/api_v1.py"):
        assert (tmp_path / rel).read_text() == APP


def test_per_file_ignores_apply_under_flake8_too(tmp_path):
    write(tmp_path, "pyproject.toml", PFI_CONFIGS["pyproject.toml"])
    for rel in ("app.py", "legacy/old.py"):
        write(tmp_path, rel, APP)
    r = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "AFY", "--format",
                        "%(path)s:%(row)d: %(code)s", "app.py", "legacy/old.py"], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.stdout.splitlines() == ["app.py:6: AFY302", "app.py:15: AFY301", "legacy/old.py:6: AFY302"], r.stderr


def test_per_file_ignores_on_the_command_line_replace_the_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "pyproject.toml", PFI_CONFIGS["pyproject.toml"])
    write(tmp_path, "api_x.py", ENDPOINT)
    assert run("api_x.py") == (0, "", "")
    rc, out, _ = run("api_x.py", "--per-file-ignores", "tests/:AFY3", "--per-file-ignores", "x.py:AFY1")
    assert [c for _, c, _ in codes_lines(out)] == ["AFY301"]


@pytest.mark.parametrize("value, message", [
    ("app.py AFY301", "expected `glob:CODE,CODE` pairs (flake8's per-file-ignores syntax), not 'app.py AFY301'"),
    ("app.py:", "'app.py' has no codes"),
    ("app.py:E501", "'E501' is not an asyncify-lint code or prefix"),
])
def test_per_file_ignores_syntax_errors(proj, value, message):
    write(proj, "app.py", ENDPOINT)
    rc, out, err = run("app.py", "--per-file-ignores", value)
    assert (rc, out) == (2, "") and err.startswith(f"asyncify-lint: error: --per-file-ignores: {message}"), err
    assert err.count("\n") == 1
    write(proj, "setup.cfg", f"[asyncify_lint]\nper-file-ignores = {value}\n")
    rc, _, err = run("app.py")
    assert rc == 2 and "setup.cfg [asyncify_lint]: per-file-ignores: " + message in err, err


def test_fixable_and_unfixable(proj):
    p = write(proj, "app.py", APP)
    rc, out, _ = run("app.py", "--unsafe-fixes")
    assert out.count("[*]") == 2 + 1  # two diagnostics and the summary
    # a code that is not fixable: no [*], not counted, and not fixed
    rc, out, _ = run("app.py", "--unsafe-fixes", "--unfixable", "AFY301")
    assert "AFY301 [*]" not in out and "AFY302 [*]" in out and "[*] 1 fixable with the `--fix` option." in out
    rc, out, _ = run("app.py", "--unfixable", "AFY3")
    assert "[*]" not in out and "hidden fixes" not in out  # nor counted as a hidden unsafe fix
    rc, out, _ = run("app.py", "--unsafe-fixes", "--fixable", "AFY3", "--unfixable", "AFY302", "--statistics")
    assert "\tAFY301\t[*] sync-endpoint\n" in out and "\tAFY302\tsync-dependency\n" in out
    run("app.py", "--fix", "--unsafe-fixes", "--fixable", "AFY301")
    assert "\nasync def list_items" in p.read_text() and "\ndef get_db" in p.read_text()
    write(proj, "setup.cfg", "[asyncify_lint]\nfixable = AFY302\n")
    run("app.py", "--fix", "--unsafe-fixes")
    assert "\nasync def get_db" in p.read_text()
    write(proj, "setup.cfg", "[asyncify_lint]\nunfixable = AFY30\n")
    write(proj, "app.py", APP)
    assert run("app.py", "--fix", "--unsafe-fixes")[2] == ""
    assert p.read_text() == APP


# -- --quiet, --verbose ------------------------------------------------------------------------------


def test_quiet_prints_the_diagnostics_only(proj):
    p = write(proj, "app.py", APP)
    rc, loud, _ = run("app.py")
    assert "Found 2 errors." in loud
    rc, out, err = run("app.py", "-q")
    assert rc == 1 and err == "" and out == "".join(ln + "\n" for ln in loud.splitlines() if ": AFY" in ln)
    assert run("app.py", "--quiet", "--fix", "--unsafe-fixes") == (0, "", "")  # no "Rewriting app.py"
    assert "async def list_items" in p.read_text()
    rc, _, err = run("app.py", "-q", "-v")
    assert rc == 2 and "argument -v/--verbose: not allowed with argument -q/--quiet" in err


def test_verbose_says_the_root_the_settings_and_the_files(proj):
    write(proj, "app.py", APP)
    write(proj, "pkg/mod.py", "x = 1\n")
    rc, out, err = run("app.py", "-v")
    assert rc == 1 and "Found 2 errors." in out
    assert err == ("asyncify-lint: project root: .: the project around the current directory, which holds setup.cfg\n"
                   "asyncify-lint: settings: defaults (no configuration section)\n"
                   "asyncify-lint: project state: migrating (a FastAPI app (app.py) with no async engine)\n"
                   "asyncify-lint: files: 1 checked, 2 in the project\n"
                   "asyncify-lint: results: 0 reused from the cache, 1 checked (app.py)\n")
    assert run("app.py", "-v")[2].endswith("asyncify-lint: results: 1 reused from the cache, 0 checked\n")
    write(proj, "pyproject.toml", "[tool.asyncify-lint]\nignore = ['AFY302']\nproject-state = 'async'\n")
    err = run("--verbose")[2]
    assert "asyncify-lint: settings: pyproject.toml\n" in err
    assert "asyncify-lint: project state: async (set by the `project-state` setting)\n" in err


# -- --stdin-filename ---------------------------------------------------------------------------------


def test_stdin_is_checked_as_the_named_file_in_its_project(proj):
    write(proj, "helpers.py", "import time\n\n\ndef wait():\n    time.sleep(1)\n")
    on_disk = write(proj, "api/app.py", "x = 1\n")
    buffer = ENDPOINT + '\n\n@app.get("/w")\nasync def w():\n    from helpers import wait\n    wait()\n'
    r = run_stdin(proj, buffer, "--stdin-filename", "api/app.py")
    assert r.returncode == 1, r.stderr
    out = r.stdout.decode()
    assert [(c, ln) for path, c, ln in codes_lines(out) if path == "api/app.py"] == [("AFY301", 7), ("AFY100", 14)]
    assert on_disk.read_text() == "x = 1\n"
    # a name that does not exist yet (an unsaved buffer)
    r = run_stdin(proj, ENDPOINT, "--stdin-filename", "new/unsaved.py", "--format", "json")
    assert [(d["filename"], d["code"]) for d in json.loads(r.stdout)] == [("new/unsaved.py", "AFY301")]


def test_stdin_fix_prints_the_fixed_source_and_writes_nothing(proj):
    p = write(proj, "app.py", ENDPOINT)
    r = run_stdin(proj, ENDPOINT, "--stdin-filename", "app.py", "--fix", "--unsafe-fixes")
    # the fixed source on stdout; the summary, as ruff prints it, on stderr
    assert (r.returncode, r.stdout.decode(), r.stderr.decode()) == (0, FIXED, "Found 1 error (1 fixed, 0 remaining).\n")
    assert p.read_text() == ENDPOINT and sorted(os.listdir(proj)) == ["app.py", "setup.cfg"]
    # what is left goes to stderr: stdout is the source
    r = run_stdin(proj, APP, "--stdin-filename", "app.py", "--fix")
    assert r.returncode == 1 and r.stdout.decode() == APP
    assert "app.py:15:1: AFY301" in r.stderr.decode() and "Found 2 errors." in r.stderr.decode()
    # a source that does not parse comes back as it was
    r = run_stdin(proj, "def (:\n", "--stdin-filename", "app.py", "--fix")
    assert r.returncode == 1 and r.stdout == b"def (:\n" and "AFY001 cannot parse" in r.stderr.decode()
    r = run_stdin(proj, ENDPOINT, "--stdin-filename", "app.py", "--diff", "--unsafe-fixes")
    assert r.returncode == 1 and "-def index" in r.stdout.decode() and p.read_text() == ENDPOINT


@pytest.mark.parametrize("argv, message", [
    (["app.py", "--stdin-filename", "app.py"], "--stdin-filename reads the source from stdin: give no paths"),
    (["--stdin-filename", "app.py", "--add-noqa"], "--add-noqa cannot be used with"),
    (["--stdin-filename", "app.py", "--fix", "--strategy", "bridge"], "--strategy bridge writes new files"),
])
def test_stdin_usage_errors(proj, argv, message):
    write(proj, "app.py", ENDPOINT)
    rc, out, err = run(*argv)
    assert (rc, out) == (2, "") and message in err, err


# -- the project root of an app given by its directory ------------------------------------------------

SHOP = {
    "apps/shop/requirements.txt": "fastapi\n",
    "apps/shop/shop/__init__.py": "",
    "apps/shop/shop/main.py": ENDPOINT.replace("return q.strip()", "return helpers.clean(q)").replace(
        "from fastapi import FastAPI\n", "from fastapi import FastAPI\n\nfrom shop import helpers\n"),
    "apps/shop/shop/helpers.py": "def clean(q):\n    return q\n",
}
# the rest of the repository: modules full of calls nothing resolves
REST = {f"tools/gen_{i}.py": "".join(f"def f{j}(x):\n    x.go()\n    x.run()\n" for j in range(20)) for i in range(5)}


def make_repo(root, files: dict[str, str]) -> None:
    write(root, "setup.cfg", "[metadata]\nname = repo\n")
    for rel, text in files.items():
        write(root, rel, text)


def unresolved(out: str) -> int:
    return int(re.search(r"^\s*(\d+)\tunresolved calls$", out, re.M).group(1))


def test_an_app_of_its_own_is_the_project_root(tmp_path, monkeypatch):
    make_repo(tmp_path, {**SHOP, **REST})
    monkeypatch.chdir(tmp_path / "apps" / "shop")
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    rc, inside, _ = run(".", "--statistics")
    monkeypatch.chdir(tmp_path)
    rc, out, err = run("apps/shop", "--statistics", "-v")
    assert rc == 1
    assert unresolved(out) == unresolved(inside) < 5  # not the 200 calls of tools/
    assert codes_lines(out) == [("apps/shop/shop/main.py", "AFY301", 9)]
    # the fix is safe: what `helpers.clean` does is known
    assert out.splitlines()[0].startswith("apps/shop/shop/main.py:9:1: AFY301 [*] endpoint")
    assert err.splitlines()[0] == (
        "asyncify-lint: project root: apps/shop: an app of its own: it holds requirements.txt and imports nothing "
        "from the rest of . (the project around the current directory, which holds setup.cfg)")
    assert "files: 3 checked, 3 in the project" in err
    assert (tmp_path / "apps" / "shop" / ".asyncify_cache").is_dir() and not (tmp_path / ".asyncify_cache").exists()
    # one file of it, as pre-commit passes them
    rc, out, err = run("apps/shop/shop/main.py", "-v")
    assert "project root: apps/shop: an app of its own" in err
    # no path, from inside it: the app is the project containing the current directory
    monkeypatch.chdir(tmp_path / "apps" / "shop" / "shop")
    rc, out, err = run("-v")
    assert f"project root: {tmp_path / 'apps' / 'shop'}: an app of its own" in err
    assert codes_lines(out) == [("main.py", "AFY301", 9)]
    monkeypatch.chdir(tmp_path)
    # paths beyond the app: the enclosing project
    rc, out, err = run("apps/shop", "tools/gen_0.py", "--statistics", "-v")
    assert unresolved(out) >= 200
    assert "project root: .: the project around the current directory, which holds setup.cfg\n" in err


COMMON = {"common/__init__.py": "", "common/util.py": "import time\n\n\ndef fetch():\n    time.sleep(1)\n"}


@pytest.mark.parametrize("files, why", [
    ({"apps/api/requirements.txt": "", "apps/api/main.py": "from common.util import fetch\n"},
     "not apps/api, which holds requirements.txt but imports `common` (main.py:1), which the rest of the project has"),
    ({"apps/api/pyproject.toml": "", "apps/api/pkg/__init__.py": "",
      "apps/api/pkg/main.py": "from ...common import util\n"},
     "not apps/api, which holds pyproject.toml but makes a relative import out of it (pkg/main.py:1)"),
    # tests beside the app use it: the test-impact report must read them, so the enclosing root stays
    ({"apps/api/requirements.txt": "", "apps/api/service/__init__.py": "", "apps/api/service/main.py": "x = 1\n",
      "tests/test_service.py": "import os\n\nfrom service.main import x\n"},
     "not apps/api, which holds requirements.txt but is imported by the rest of the project (`service` at "
     "tests/test_service.py:3)"),
])
def test_an_app_that_imports_from_the_rest_keeps_the_enclosing_root(tmp_path, monkeypatch, files, why):
    make_repo(tmp_path, {**COMMON, **files})
    monkeypatch.chdir(tmp_path)
    rc, out, err = run("apps/api", "-v")
    assert err.splitlines()[0] == ("asyncify-lint: project root: .: the project around the current directory, "
                                   f"which holds setup.cfg; {why}")


def test_a_blocking_helper_of_the_rest_is_still_found_from_an_app_that_imports_it(tmp_path, monkeypatch):
    make_repo(tmp_path, {**COMMON,
                         "apps/api/requirements.txt": "",
                         "apps/api/main.py": "from common.util import fetch\n\n\nasync def handler():\n    fetch()\n"})
    monkeypatch.chdir(tmp_path)
    rc, out, _ = run("apps/api")
    assert codes_lines(out) == [("apps/api/main.py", "AFY100", 5)]


def test_the_settings_of_an_app_are_the_nearest_configuration_section(tmp_path, monkeypatch):
    make_repo(tmp_path, SHOP)
    write(tmp_path, "pyproject.toml", "[tool.asyncify-lint]\nignore = ['AFY301']\n")
    monkeypatch.chdir(tmp_path)
    rc, out, err = run("apps/shop", "-v")
    assert (rc, out) == (0, "") and "asyncify-lint: settings: pyproject.toml\n" in err
    write(tmp_path, "apps/shop/setup.cfg", "[asyncify_lint]\nselect = AFY3\n")  # a marker and a section
    rc, out, err = run("apps/shop", "-v")
    assert rc == 1 and "project root: apps/shop: an app of its own: it holds setup.cfg" in err
    assert f"asyncify-lint: settings: {os.path.join('apps', 'shop', 'setup.cfg')}\n" in err


def test_the_example_app_is_analysed_alone_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(REPO)
    rc, out, err = run(os.path.join("examples", "shop"), "--statistics", "--no-cache", "-v")
    assert rc == 1
    assert f"project root: {os.path.join('examples', 'shop')}: an app of its own" in err
    assert unresolved(out) < 100  # the whole repository: thousands
