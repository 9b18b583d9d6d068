"""`--baseline FILE` / `--update-baseline`: accepted findings stay quiet, new ones are reported, whatever
lines move."""

from __future__ import annotations

import json

import pytest
from harness import run_cli

APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def index(q=""):
    return q.strip()
"""
ROUTE = '\n\n@app.get("/other")\ndef index(q=""):\n    return q.strip()\n'  # the same line as APP's endpoint
JOBS = "import time\n\n\nasync def tick():\n    time.sleep(1)\n"


@pytest.fixture
def proj(tmp_path):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "setup.cfg").write_text("[metadata]\nname = demo\n")
    (root / "pkg" / "app.py").write_text(APP)
    (root / "pkg" / "jobs.py").write_text(JOBS)
    return root


def run(proj, capsys, *args: str, cwd=None) -> tuple[int, str, str]:
    return run_cli(list(args), str(cwd or proj), capsys)


def test_update_writes_a_sorted_versioned_baseline_and_exits_0(proj, capsys):
    rc, out, err = run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    assert (rc, out, err) == (0, "", "asyncify-lint: wrote 2 findings to baseline.json\n")
    text = (proj / "baseline.json").read_text()
    assert json.loads(text) == {"version": 1, "findings": [
        {"path": "pkg/app.py", "code": "AFY301", "line": 'def index(q=""):', "occurrence": 0},
        {"path": "pkg/jobs.py", "code": "AFY110", "line": "time.sleep(1)", "occurrence": 0},
    ]}
    # deterministic: the same findings, the same bytes
    run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    assert (proj / "baseline.json").read_text() == text


def test_accepted_findings_are_not_reported(proj, capsys):
    run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    assert run(proj, capsys, "--baseline", "baseline.json") == (0, "", "")
    # with any format, and from a sub-directory of the project (paths are the project's)
    assert run(proj, capsys, "--baseline", "baseline.json", "--output-format", "json") == (0, "[]\n", "")
    assert run(proj, capsys, "--baseline", "../baseline.json", ".", cwd=proj / "pkg") == (0, "", "")


def test_lines_moving_keep_a_finding_accepted(proj, capsys):
    run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    (proj / "pkg" / "app.py").write_text('"""Docs."""\n\nimport os\n\n' + APP.replace("app = FastAPI()\n",
                                                                                          "app = FastAPI()\nx = os.sep\n"))
    (proj / "pkg" / "jobs.py").write_text(JOBS.replace("async def tick():\n", "async def tick():\n    n = 1\n"))
    assert run(proj, capsys, "--baseline", "baseline.json") == (0, "", "")


def test_new_findings_are_reported_and_a_second_identical_one_is_new(proj, capsys):
    run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    (proj / "pkg" / "app.py").write_text(APP + ROUTE)
    (proj / "pkg" / "jobs.py").write_text(JOBS + "    time.sleep(2)\n")
    rc, out, _ = run(proj, capsys, "--baseline", "baseline.json")
    assert rc == 1
    lines = out.splitlines()
    assert [ln.split(" ", 2)[:2] for ln in lines[:2]] == [["pkg/app.py:12:1:", "AFY301"], ["pkg/jobs.py:6:5:", "AFY110"]]
    assert lines[2:] == ["Found 2 errors.", "[*] 1 fixable with the `--fix` option.",
                         "1 hidden fix can be enabled with the `--unsafe-fixes` option."]
    # accepting them: nothing new
    run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    findings = json.loads((proj / "baseline.json").read_text())["findings"]
    assert [(f["path"], f["occurrence"]) for f in findings if f["code"] == "AFY301"] == [("pkg/app.py", 0),
                                                                                          ("pkg/app.py", 1)]
    assert run(proj, capsys, "--baseline", "baseline.json") == (0, "", "")


def test_a_fixed_finding_leaves_the_baseline_on_update(proj, capsys):
    run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    (proj / "pkg" / "jobs.py").write_text("import asyncio\n\n\nasync def tick():\n    await asyncio.sleep(1)\n")
    assert run(proj, capsys, "--baseline", "baseline.json") == (0, "", "")
    rc, _, err = run(proj, capsys, "--baseline", "baseline.json", "--update-baseline")
    assert rc == 0 and err == "asyncify-lint: wrote 1 finding to baseline.json\n"
    assert [f["code"] for f in json.loads((proj / "baseline.json").read_text())["findings"]] == ["AFY301"]


def test_fix_with_a_baseline_reports_what_remains_new(proj, capsys):
    (proj / "baseline.json").write_text(json.dumps({"version": 1, "findings": [
        {"path": "pkg/app.py", "code": "AFY301", "line": 'def index(q=""):', "occurrence": 0}]}))
    rc, out, err = run(proj, capsys, "--fix", "--baseline", "baseline.json")
    assert (rc, out, err) == (0, "Found 1 error (1 fixed, 0 remaining).\n", "Rewriting pkg/jobs.py\n")


BAD = "baseline.json: not a baseline file: "
SHAPE = BAD + 'expected {"version": 1, "findings": [...]}'
FINDING = BAD + "finding 1 is not an object of path, code, line, occurrence"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "baseline.json: no such file (write it with --update-baseline)"),
        ("{", BAD + "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
        ('{"version": 2, "findings": []}', SHAPE),
        ("[]", SHAPE),
        ('{"version": 1, "findings": [{"path": "a.py", "code": "AFY301", "line": "x", "occurrence": "0"}]}', FINDING),
        ('{"version": 1, "findings": [{"path": "a.py", "code": "AFY301", "line": "x"}]}', FINDING),
    ],
    ids=["missing", "not-json", "version", "list", "occurrence-type", "missing-field"],
)
def test_a_bad_baseline_is_one_line_and_exit_2(proj, capsys, content, message):
    if content is not None:
        (proj / "baseline.json").write_text(content)
    assert run(proj, capsys, "--baseline", "baseline.json") == (2, "", f"asyncify-lint: error: {message}\n")


def test_update_baseline_needs_a_baseline_file(proj, capsys):
    expected = (2, "", "asyncify-lint: error: --update-baseline needs --baseline FILE, and no --diff\n")
    assert run(proj, capsys, "--update-baseline") == expected
    assert run(proj, capsys, "--update-baseline", "--baseline", "b.json", "--diff") == expected
    assert not (proj / "b.json").exists()
    # a bad baseline is no obstacle to writing a new one
    (proj / "b.json").write_text("{")
    assert run(proj, capsys, "--update-baseline", "--baseline", "b.json")[0] == 0
    assert json.loads((proj / "b.json").read_text())["version"] == 1
