"""``--baseline FILE``: the findings a project has accepted, so that only new ones are reported.

A finding is keyed by its path relative to the project root, its code, the stripped text of its line
and its index among the findings of that file with the same three (``Report.keys``), never by its line
number: lines added above keep it accepted, while a second identical finding is new. The file is JSON,
``{"version": 1, "findings": [{"path", "code", "line", "occurrence"}, ...]}``, sorted.
"""

from __future__ import annotations

import json

from asyncify_lint.output import Report

VERSION = 1
FIELDS = ("path", "code", "line", "occurrence")

Key = tuple[str, str, str, int]


class BaselineError(Exception):
    """The baseline file cannot be read; the message is one line, for the user."""


def load(path: str) -> set[Key]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such file (write it with --update-baseline)") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise BaselineError(f"{path}: not a baseline file: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("findings"), list):
        raise BaselineError(f'{path}: not a baseline file: expected {{"version": {VERSION}, "findings": [...]}}')
    keys: set[Key] = set()
    for i, item in enumerate(data["findings"]):
        if not (isinstance(item, dict) and set(item) == set(FIELDS)
                and all(isinstance(item[k], str) for k in FIELDS[:3])
                and type(item["occurrence"]) is int and item["occurrence"] >= 0):
            raise BaselineError(f"{path}: not a baseline file: finding {i + 1} is not an object of "
                                f"{', '.join(FIELDS)}")
        keys.add((item["path"], item["code"], item["line"], item["occurrence"]))
    return keys


def dump(keys: list[Key]) -> str:
    findings = [dict(zip(FIELDS, k)) for k in sorted(set(keys))]
    return json.dumps({"version": VERSION, "findings": findings}, indent=2, ensure_ascii=False) + "\n"


def write(path: str, report: Report) -> int:
    """Write every finding of ``report`` to ``path``; returns how many."""
    keys = report.keys()
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(dump(keys))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return len(keys)


def new_findings(report: Report, accepted: set[Key]) -> Report:
    """``report`` without the findings the baseline accepts."""
    kept = [df for df, key in zip(report.diagnostics, report.keys()) if key not in accepted]
    return Report(kept, report.root, report.rules, report.files, report.fix_edits)
