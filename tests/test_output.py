"""Output formats (`--output-format`): json-lines, gitlab, junit and sarif, each checked against what its
consumer reads (SARIF against the official OASIS schema, JUnit parsed as XML)."""

from __future__ import annotations

import email.message
import json
import os
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from harness import run_cli

from asyncify_lint import __version__, output

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SARIF_SCHEMA = os.path.join(HERE, "fixtures", "sarif", "sarif-schema-2.1.0.json")

APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def index(q=""):
    return q.strip()
"""
# the fix of AFY110 needs `import asyncio`; `time` stays used, so --fix leaves the import block as is
JOBS = """\
import time


async def tick():
    started = time.time()
    label = "café"; time.sleep(1)
    return started, label
"""
JOBS_FIXED = JOBS.replace("import time\n", "import asyncio\nimport time\n").replace("time.sleep(1)",
                                                                                  "await asyncio.sleep(1)")
# (display path, line, column) of every diagnostic of a project of APP and JOBS
WHERE = [("app.py", 7, 1), ("jobs.py", 6, 21)]


@pytest.fixture
def proj(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "setup.cfg").write_text("[metadata]\nname = demo\n")
    (root / "app.py").write_text(APP)
    (root / "jobs.py").write_text(JOBS, encoding="utf-8")
    monkeypatch.delenv("CI_PROJECT_DIR", raising=False)
    return root


def run(proj, capsys, *args: str, cwd=None) -> tuple[int, str, str]:
    return run_cli(list(args), str(cwd or proj), capsys)


def test_format_is_an_alias_of_output_format(proj, capsys):
    assert run(proj, capsys, "--format", "json") == run(proj, capsys, "--output-format", "json")
    rc, out, err = run(proj, capsys, "--output-format", "xml")
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "argument --output-format/--format: invalid choice: 'xml'" in err


def test_json_lines_holds_the_json_objects_one_a_line(proj, capsys):
    rc, out, _ = run(proj, capsys, "--output-format", "json-lines")
    assert rc == 1
    assert [json.loads(line) for line in out.splitlines()] == json.loads(run(proj, capsys, "--format", "json")[1])
    assert [(d["filename"], d["location"]["row"], d["location"]["column"]) for d in map(json.loads, out.splitlines())] \
        == WHERE
    (proj / "app.py").write_text("x = 1\n")
    (proj / "jobs.py").write_text("y = 2\n")
    assert run(proj, capsys, "--output-format", "json-lines") == (0, "", "")


# -- gitlab ------------------------------------------------------------------------------------------


def test_gitlab_code_quality(proj, capsys, monkeypatch):
    rc, out, _ = run(proj, capsys, "--output-format", "gitlab")
    assert rc == 1
    issues = json.loads(out)
    assert [(i["location"]["path"], i["location"]["lines"]["begin"]) for i in issues] == [w[:2] for w in WHERE]
    first = issues[0]
    assert first["check_name"] == "AFY301" and first["severity"] == "major"
    assert first["description"].startswith("AFY301: endpoint `index` (@app.get) is a sync `def`")
    assert first["location"]["lines"]["end"] == 8
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    # paths relative to the checkout GitLab names, when it names one
    monkeypatch.setenv("CI_PROJECT_DIR", str(proj.parent))
    issues_ci = json.loads(run(proj, capsys, "--output-format", "gitlab")[1])
    assert [i["location"]["path"] for i in issues_ci] == ["proj/app.py", "proj/jobs.py"]


def test_gitlab_fingerprints_are_stable_across_runs_and_line_moves(proj, capsys):
    def fingerprints():
        return [i["fingerprint"] for i in json.loads(run(proj, capsys, "--output-format", "gitlab")[1])]

    first = fingerprints()
    assert fingerprints() == first
    # lines added above, and the run made from a sub-directory: the same findings
    (proj / "app.py").write_text("# a comment\n\n" + APP)
    (proj / "sub").mkdir()
    assert [i["fingerprint"] for i in json.loads(run(proj, capsys, "--output-format", "gitlab", "..",
                                                      cwd=proj / "sub")[1])] == first
    # a second, identical finding in the same file gets a fingerprint of its own
    (proj / "app.py").write_text(APP + APP[APP.index("\n\n@app"):])
    again = fingerprints()
    assert len(again) == 3 and len(set(again)) == 3 and again[0] == first[0] and again[2] == first[1]


# -- junit ---------------------------------------------------------------------------------------------


def test_junit_one_testsuite_per_file_one_failed_testcase_per_diagnostic(proj, capsys):
    odd = proj / 'a&b<"c">.py'  # a file name XML must escape
    odd.write_text(APP)
    rc, out, _ = run(proj, capsys, "--output-format", "junit")
    assert rc == 1
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root = ET.fromstring(out.split("\n", 1)[1])
    assert root.tag == "testsuites"
    assert (root.get("name"), root.get("tests"), root.get("failures"), root.get("errors")) == \
        ("asyncify-lint", "3", "3", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ['a&b<"c">.py', "app.py", "jobs.py"]
    assert [(s.get("tests"), s.get("failures"), s.get("package")) for s in suites] == [("1", "1", "asyncify-lint")] * 3
    case = suites[2].find("testcase")
    assert (case.get("name"), case.get("classname"), case.get("line"), case.get("column")) == \
        ("asyncify-lint.AFY110", "jobs", "6", "21")
    failure = case.find("failure")
    assert failure.get("message").startswith("blocking call `time.sleep()` in `async def tick`")
    assert failure.text == "line 6, col 21, " + failure.get("message")
    assert suites[0].find("testcase").get("classname") == 'a&b<"c">'


def test_junit_without_findings_is_one_passing_testcase(proj, capsys):
    (proj / "app.py").write_text("x = 1\n")
    (proj / "jobs.py").write_text("y = 2\n")
    rc, out, _ = run(proj, capsys, "--output-format", "junit")
    assert rc == 0
    suite = ET.fromstring(out.split("\n", 1)[1]).find("testsuite")
    (case,) = suite.findall("testcase")
    assert case.get("name") == "No errors found" and case.find("failure") is None


def test_junit_replaces_what_xml_cannot_hold():
    from asyncify_lint.diagnostics import Diagnostic

    d = Diagnostic("AFY001", "cannot parse: a\x00b\x1bc & <d>", "x.py", 1, 0, 1, 0)
    text = output.FORMATS["junit"](output.Report([(d, False)]))
    failure = ET.fromstring(text.split("\n", 1)[1]).find("testsuite/testcase/failure")
    assert failure.get("message") == "cannot parse: a\ufffdb\ufffdc & <d>"


# -- sarif ---------------------------------------------------------------------------------------------


def _validate(log: dict) -> None:
    with open(SARIF_SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(log)


def _apply(text: str, replacements: list[dict]) -> str:
    """The SARIF replacements applied to ``text`` (lines and columns counted in characters)."""
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    spans = [(offset(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]),
              offset(r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"]),
              r.get("insertedContent", {}).get("text", "")) for r in replacements]
    for start, end, new in sorted(spans, key=lambda s: s[:2], reverse=True):
        text = text[:start] + new + text[end:]
    return text


def test_sarif_is_valid_sarif_2_1_0(proj, capsys):
    rc, out, _ = run(proj, capsys, "--output-format", "sarif")
    assert rc == 1
    log = json.loads(out)
    _validate(log)
    assert log["version"] == "2.1.0"
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("asyncify-lint", __version__)
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == proj.as_uri() + "/"
    results = run_["results"]
    assert [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["locations"][0]["physicalLocation"]["region"]["startColumn"]) for r in results] == WHERE
    for r in results:
        assert r["level"] == "error"
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    endpoint = results[0]
    assert endpoint["ruleId"] == "AFY301"
    assert endpoint["message"]["text"].startswith("endpoint `index` (@app.get) is a sync `def`")
    assert endpoint["locations"][0]["physicalLocation"]["region"] == \
        {"startLine": 7, "startColumn": 1, "endLine": 8, "endColumn": 21}
    # the column of a character after a non-ASCII one counts characters
    line = JOBS.splitlines()[5]
    assert results[1]["locations"][0]["physicalLocation"]["region"]["startColumn"] == line.index("time.sleep") + 1
    assert run_["columnKind"] == "unicodeCodePoints"
    # every selected rule, described from its docs
    rules = {r["id"]: r for r in driver["rules"]}
    assert "AFY201" in rules and "AFY001" in rules
    assert rules["AFY301"]["name"] == "sync-endpoint"
    assert rules["AFY301"]["shortDescription"]["text"] == "Checks for FastAPI endpoints declared with a plain `def`."
    assert rules["AFY301"]["fullDescription"]["text"].startswith(
        "Checks for FastAPI endpoints declared with a plain `def`: functions registered with")
    assert rules["AFY301"]["help"]["markdown"].startswith("## What it does\n")
    assert "informationUri" not in driver and "helpUri" not in rules["AFY301"]  # no repository URL is configured


def test_sarif_fixes_are_the_fixes_that_fix_applies(proj, capsys):
    _, out, _ = run(proj, capsys, "--output-format", "sarif", "--unsafe-fixes")
    results = json.loads(out)["runs"][0]["results"]
    _validate(json.loads(out))
    sleep = next(r for r in results if r["ruleId"] == "AFY110")
    (fix,) = sleep["fixes"]
    assert fix["description"]["text"] == "Replace with `await asyncio.sleep(...)`"
    assert fix["properties"]["applicability"] == "safe"
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "jobs.py", "uriBaseId": "%SRCROOT%"}
    # the import line comes with it
    assert _apply(JOBS, change["replacements"]) == JOBS_FIXED
    endpoint = next(r for r in results if r["ruleId"] == "AFY301")
    assert endpoint["fixes"][0]["properties"]["applicability"] == "unsafe"
    assert _apply(APP, endpoint["fixes"][0]["artifactChanges"][0]["replacements"]) == \
        APP.replace("def index", "async def index")
    # and --fix writes exactly that
    assert run(proj, capsys, "--fix", "--select", "AFY110")[0] == 0
    assert (proj / "jobs.py").read_text(encoding="utf-8") == JOBS_FIXED


def test_sarif_help_uri_on_the_configured_repository(proj, capsys, monkeypatch):
    meta = email.message.Message()
    meta["Project-URL"] = "Source, https://github.com/example/asyncify-lint/"
    monkeypatch.setattr("importlib.metadata.metadata", lambda name: meta)  # (output imports it when used)
    output.repository_url.cache_clear()
    try:
        log = json.loads(run(proj, capsys, "--output-format", "sarif")[1])
    finally:
        output.repository_url.cache_clear()
    _validate(log)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://github.com/example/asyncify-lint"
    rule = next(r for r in driver["rules"] if r["id"] == "AFY301")
    assert rule["helpUri"] == "https://github.com/example/asyncify-lint/blob/main/docs/rules/AFY301-sync-endpoint.md"
    for r in driver["rules"]:  # each helpUri names a page of this repository
        assert os.path.isfile(os.path.join(ROOT, r["helpUri"].split("/blob/main/", 1)[1])), r["helpUri"]


def test_sarif_without_findings_and_outside_the_project(proj, capsys, tmp_path):
    (proj / "app.py").write_text("x = 1\n")
    (proj / "jobs.py").write_text("y = 2\n")
    rc, out, _ = run(proj, capsys, "--output-format", "sarif")
    assert rc == 0
    log = json.loads(out)
    _validate(log)
    assert log["runs"][0]["results"] == []
    # a file of another tree, checked with this project's: an absolute URI
    other = tmp_path / "other dir" / "x.py"
    other.parent.mkdir()
    other.write_text(APP)
    rc, out, _ = run(proj, capsys, "--output-format", "sarif", "app.py", str(other))
    log = json.loads(out)
    _validate(log)
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": other.as_uri()}
