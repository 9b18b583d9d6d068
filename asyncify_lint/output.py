"""Output formats (``--output-format``), the fix summary and the closing summary of a run.

Every format is one function of a :class:`Report` that returns the text to print, registered in
``FORMATS``. The structured formats follow what the consuming tool expects, as ruff emits them:
GitHub workflow commands, GitLab Code Quality, JUnit XML, SARIF 2.1.0. The modules only one format
uses (xml.etree, importlib.metadata) are imported by it, not by a run that prints text.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from asyncify_lint import __version__
from asyncify_lint.diagnostics import Diagnostic, Edit
from asyncify_lint.engine.source import SourceFile
from asyncify_lint.registry import Rule, get_rule

TOOL = "asyncify-lint"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@dataclass
class ReportFile:
    relpath: str  # relative to the project root, with `/`
    path: str  # absolute
    source: SourceFile | None  # the text that was checked (after the fixes); None when unreadable


@dataclass
class Report:
    """What a run reports, as every output format needs it."""

    diagnostics: list[tuple[Diagnostic, bool]]  # sorted, each with whether its fix applies
    root: str = "."  # the project root
    rules: list[Rule] = field(default_factory=list)  # the rules that ran
    files: dict[str, ReportFile] = field(default_factory=dict)  # by display path
    #: the edits of a diagnostic's fix, with the import lines it needs (SARIF's fixes)
    fix_edits: Callable[[Diagnostic], list[Edit]] = lambda d: list(d.fix.edits) if d.fix else []

    def relpath(self, d: Diagnostic) -> str:
        f = self.files.get(d.path)
        return f.relpath if f is not None else d.path.replace(os.sep, "/")

    def line_text(self, d: Diagnostic) -> str:
        f = self.files.get(d.path)
        return f.source.line_text(d.line).rstrip("\r\n") if f is not None and f.source is not None else ""

    def keys(self) -> list[tuple[str, str, str, int]]:
        """Each diagnostic's identity, which does not change when lines move: (path relative to the
        project root, code, the stripped text of its line, its index among the diagnostics of the file
        with the same three)."""
        seen: Counter[tuple[str, str, str]] = Counter()
        out = []
        for d, _ in self.diagnostics:
            key = (self.relpath(d), d.code, self.line_text(d).strip())
            out.append((*key, seen[key]))
            seen[key] += 1
        return out

    def fingerprints(self) -> list[str]:
        return [hashlib.sha256(json.dumps(k).encode()).hexdigest() for k in self.keys()]


# -- text, json, json-lines, github ------------------------------------------------------------------


def format_text_line(d: Diagnostic, fixable: bool) -> str:
    mark = "[*] " if fixable else ""
    return f"{d.path}:{d.line}:{d.col + 1}: {d.code} {mark}{d.message}"


def _text(report: Report) -> str:
    return "".join(format_text_line(d, f) + "\n" for d, f in report.diagnostics)


def _json_object(d: Diagnostic, fixable: bool) -> dict:
    fix = None
    if d.fix is not None:
        fix = {
            "applicability": d.fix.applicability.value,
            "message": d.fix_title,
            "applies": fixable,
        }
    return {
        "code": d.code,
        "message": d.message,
        "filename": d.path,
        "location": {"row": d.line, "column": d.col + 1},
        "end_location": {"row": d.end_line, "column": d.end_col + 1},
        "fix": fix,
    }


def _json(report: Report) -> str:
    return json.dumps([_json_object(d, f) for d, f in report.diagnostics], indent=2) + "\n"


def _json_lines(report: Report) -> str:
    return "".join(json.dumps(_json_object(d, f)) + "\n" for d, f in report.diagnostics)


def _escape_gh(s: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (as the Actions toolkit's escapeData)."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_gh_property(s: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): ``:`` and ``,`` too, which would
    otherwise end the value (as the Actions toolkit's escapeProperty)."""
    return _escape_gh(s).replace(":", "%3A").replace(",", "%2C")


def _github(report: Report) -> str:
    return "".join(
        f"::error title={_escape_gh_property(f'{TOOL} ({d.code})')},file={_escape_gh_property(d.path)},"
        f"line={d.line},col={d.col + 1},endLine={d.end_line},endColumn={d.end_col + 1}"
        f"::{_escape_gh(d.code + ' ' + d.message)}\n"
        for d, _ in report.diagnostics
    )


# -- gitlab --------------------------------------------------------------------------------------------


def _gitlab(report: Report) -> str:
    """GitLab Code Quality: paths relative to ``$CI_PROJECT_DIR`` when set (the repository GitLab
    checked out), else to the project root; a fingerprint that survives lines moving."""
    base = os.environ.get("CI_PROJECT_DIR")
    issues = []
    for (d, _), fingerprint in zip(report.diagnostics, report.fingerprints()):
        f = report.files.get(d.path)
        path = report.relpath(d)
        if base and f is not None:
            path = os.path.relpath(f.path, base).replace(os.sep, "/")
        issues.append({
            "description": f"{d.code}: {d.message}",  # GitLab shows no check_name: the code leads
            "check_name": d.code,
            "fingerprint": fingerprint,
            "severity": "major",
            "location": {"path": path, "lines": {"begin": d.line, "end": d.end_line}},
        })
    return json.dumps(issues, indent=2) + "\n"


# -- junit ----------------------------------------------------------------------------------------------

# characters XML 1.0 cannot hold, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(s: str) -> str:
    return _NOT_XML.sub("\ufffd", s)


def _junit(report: Report) -> str:
    """One testsuite per file, one failed testcase per diagnostic (ruff's layout)."""
    import xml.etree.ElementTree as ET

    by_file: dict[str, list[Diagnostic]] = {}
    for d, _ in report.diagnostics:
        by_file.setdefault(d.path, []).append(d)
    n = str(len(report.diagnostics))
    root = ET.Element("testsuites", name=TOOL, tests=n, failures=n, errors="0")
    if not by_file:
        suite = ET.SubElement(root, "testsuite", name=TOOL, tests="1", disabled="0", errors="0", failures="0",
                              package=TOOL)
        ET.SubElement(suite, "testcase", name="No errors found", classname=TOOL)
    for path, diags in by_file.items():
        k = str(len(diags))
        suite = ET.SubElement(root, "testsuite", name=_xml_text(path), tests=k, disabled="0", errors="0",
                              failures=k, package=TOOL)
        classname = _xml_text(os.path.splitext(path)[0])
        for d in diags:
            case = ET.SubElement(suite, "testcase", name=f"{TOOL}.{d.code}", classname=classname,
                                 line=str(d.line), column=str(d.col + 1))
            failure = ET.SubElement(case, "failure", message=_xml_text(d.message))
            failure.text = _xml_text(f"line {d.line}, col {d.col + 1}, {d.message}")
    ET.indent(root, space="    ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- sarif ------------------------------------------------------------------------------------------------


@functools.cache
def repository_url() -> str | None:
    """The repository URL of the installed package's metadata (``project_urls`` or ``url`` of
    setup.cfg), or None."""
    from importlib import metadata

    try:
        meta = metadata.metadata(TOOL)
    except metadata.PackageNotFoundError:
        return None
    urls = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    for label in ("source", "source code", "repository", "code", "homepage"):
        if urls.get(label):
            return urls[label].rstrip("/")
    home = meta.get("Home-page")
    return home.rstrip("/") if home and home != "UNKNOWN" else None


def _artifact(report: Report, d: Diagnostic) -> dict:
    f = report.files.get(d.path)
    rel = report.relpath(d)
    if f is not None and (rel == ".." or rel.startswith("../")):  # outside the project: an absolute URI
        return {"uri": pathlib.Path(f.path).as_uri()}
    return {"uri": urllib.parse.quote(rel), "uriBaseId": "%SRCROOT%"}


def _region(start: tuple[int, int], end: tuple[int, int]) -> dict:
    """A text region of 1-based lines and columns; ``end`` is the position after its last character."""
    return {"startLine": start[0], "startColumn": start[1] + 1, "endLine": end[0], "endColumn": end[1] + 1}


def _sarif_fix(report: Report, d: Diagnostic, artifact: dict) -> dict | None:
    f = report.files.get(d.path)
    if d.fix is None or f is None or f.source is None:
        return None
    src = f.source
    replacements = []
    for e in report.fix_edits(d):
        replacement: dict = {"deletedRegion": _region(src.line_col(e.start), src.line_col(e.end))}
        if e.content:
            replacement["insertedContent"] = {"text": e.content}
        replacements.append(replacement)
    fix: dict = {"artifactChanges": [{"artifactLocation": artifact, "replacements": replacements}],
                 "properties": {"applicability": d.fix.applicability.value}}
    if d.fix_title:
        fix["description"] = {"text": d.fix_title}
    return fix


def _sarif_rule(rule: Rule, url: str | None) -> dict:
    doc = rule.doc.strip()
    out = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.short_description},
        "fullDescription": {"text": rule.what_it_does},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": "error"},
    }
    if url:
        out["helpUri"] = f"{url}/blob/main/docs/rules/{rule.code}-{rule.name}.md"
    return out


def _sarif(report: Report) -> str:
    rules = {r.code: r for r in report.rules}
    for d, _ in report.diagnostics:
        rule = get_rule(d.code)
        if rule is not None:  # AFY001 is reported whatever the selection
            rules.setdefault(d.code, rule)
    ordered = sorted(rules.values(), key=lambda r: r.code)
    index = {r.code: i for i, r in enumerate(ordered)}
    url = repository_url()
    results = []
    for (d, _), fingerprint in zip(report.diagnostics, report.fingerprints()):
        artifact = _artifact(report, d)
        result: dict = {
            "ruleId": d.code,
            "level": "error",
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": artifact,
                "region": _region((d.line, d.col), (d.end_line, d.end_col)),
            }}],
            "partialFingerprints": {"asyncifyLint/v1": fingerprint},
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        fix = _sarif_fix(report, d, artifact)
        if fix is not None:
            result["fixes"] = [fix]
        results.append(result)
    driver: dict = {"name": TOOL, "version": __version__, "semanticVersion": __version__,
                    "rules": [_sarif_rule(r, url) for r in ordered]}
    if url:
        driver["informationUri"] = url
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(os.path.abspath(report.root)).as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",  # columns count characters, as Python's str does
        "results": results,
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


FORMATS: dict[str, Callable[[Report], str]] = {
    "text": _text,
    "json": _json,
    "json-lines": _json_lines,
    "github": _github,
    "gitlab": _gitlab,
    "junit": _junit,
    "sarif": _sarif,
}


# -- summaries (text format) ------------------------------------------------------------------------


def _s(n: int, suffix: str = "s") -> str:
    return "" if n == 1 else suffix


def hidden_fixes(n: int) -> str:
    return f"{n} hidden fix{_s(n, 'es')} can be enabled with the `--unsafe-fixes` option."


def summary(remaining: int, fixable: int, hidden: int, fixed: int = 0) -> str:
    """The closing lines of the text format (ruff's): what was found and fixed, and what can be."""
    if fixed:
        lines = [f"Found {fixed + remaining} error{_s(fixed + remaining)} ({fixed} fixed, {remaining} remaining)."]
    elif remaining:
        lines = [f"Found {remaining} error{_s(remaining)}."]
    else:
        return ""
    if fixable:
        lines.append(f"[*] {fixable} fixable with the `--fix` option.")
    if hidden:
        lines.append(hidden_fixes(hidden))
    return "\n".join(lines) + "\n"


def fix_summary(fixed: dict[str, Counter[str]]) -> str:
    """``--show-fixes`` (ruff's): the fixes applied, per file and code, most frequent first."""
    counts = [n for per_code in fixed.values() for n in per_code.values() if n]
    if not counts:
        return ""
    total, width = sum(counts), len(str(max(counts)))
    lines = [f"Fixed {total} error{_s(total)}:"]
    for path in sorted(fixed):
        if not any(fixed[path].values()):
            continue
        lines.append(f"- {path}:")
        for code, n in sorted(fixed[path].items(), key=lambda cn: (-cn[1], cn[0])):
            rule = get_rule(code)
            lines.append(f"    {n:>{width}} × {code} ({rule.name if rule else code})")
    return "\n".join(lines) + "\n"
