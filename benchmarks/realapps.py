"""Run the real-app corpus (``../shared/realapps``) before and after asyncify-lint migrates each app.

    python benchmarks/realapps.py [--corpus DIR] [--tool "python -m asyncify_lint"] \\
        [--apps fast-zero-todos,quetz] [--strategies baseline,default,bridge] \\
        [--timeout 1800] [--logs DIR] [--json FILE]

Each app of the corpus has a script that clones the app at a pinned commit, runs ``$MIGRATE`` in the
app's project root and then the app's ORIGINAL test suite, unchanged, printing ``(K skipped)`` and
``N passed, M failed`` last (see the corpus README). This driver runs each script once per strategy,
one run at a time (the scripts start databases and are CPU-heavy, so runs are never parallel):

  baseline  no MIGRATE: the sync app as published;
  default   MIGRATE='<tool> --fix --unsafe-fixes . ; true';
  bridge    MIGRATE='<tool> --fix --unsafe-fixes --strategy bridge . ; true'.

What it measures: how much of each app's own suite still passes after the migration (passed/total,
where a collection error counts as one failed case), and whether the tool itself failed on the app:
an exit status of 2 or more (1 only means diagnostics remain), a line ``asyncify-lint: error: ...``
or a Python traceback while MIGRATE ran. The tool's exit status is recorded by an ``echo`` placed
before the final ``; true``; the migration itself is exactly the command above.

``--tool`` is run by ``bash -c`` in the app's directory, so give it an interpreter that has
asyncify_lint (default: this interpreter, ``-m asyncify_lint``). ``PYTHONPATH``, when set in this
environment, is passed to the tool inside MIGRATE (and not to the app's test run), so a checkout or
a snapshot of the package can be measured without installing it:

    PYTHONPATH=. python benchmarks/realapps.py --apps fast-zero-todos,fcc-social-api

ukrdc-fastapi runs its tests as the postgres account when run as root, so its script gets
``PYTHON=/usr/bin/python3`` (the interpreter that builds its venv; ``--ukrdc-python`` to change it).
Each run's output goes to ``--logs`` (``<app>.<strategy>.log``). Prints a Markdown table; ``--json``
also writes the raw results, with the most frequent failure messages of each run's junit XML.

The report checked: for each migrated run, the tests the report printed before the fix (AFY501 and
AFY502, named as the tool names them: a test function, or every test of a file for a finding in a
fixture or helper, or below a ``conftest.py``) are compared with the tests' outcomes in the junit XML,
over the tests that pass in the baseline run of the same invocation (all tests without one). A second
table gives, per app and strategy: failed and predicted, passed although predicted, and failed
without being predicted (the issue's "no failing test may be unpredicted"), with examples.
"""

from __future__ import annotations

import argparse
import ast
import collections
import glob
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("fast-zero-todos", "fcc-social-api", "fastapi-celery", "invoice-reader", "open-prices",
        "ukrdc-fastapi", "quetz", "hng-boilerplate")
STRATEGIES = ("baseline", "default", "bridge")
STATUS_MARK = "== asyncify-lint exited with status"

RE_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed\s*$", re.MULTILINE)
RE_SKIPPED = re.compile(r"^\((\d+) skipped\)\s*$", re.MULTILINE)
RE_WORK = re.compile(r"^== \S+ @ [0-9a-f]+ in (\S+)/app\s*$", re.MULTILINE)
RE_TOOL_STATUS = re.compile(r"^" + re.escape(STATUS_MARK) + r" (\d+)\s*$", re.MULTILINE)
RE_MIGRATE_STATUS = re.compile(r"^== MIGRATE exited with status (\d+)\s*$", re.MULTILINE)
RE_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
RE_FOUND = re.compile(r"^Found (\d+) errors? \((\d+) fixed, (\d+) remaining\)", re.MULTILINE)


def migrate_command(tool: str, strategy: str, pythonpath: str | None) -> str | None:
    if strategy == "baseline":
        return None
    extra = " --strategy bridge" if strategy == "bridge" else ""
    prefix = f"PYTHONPATH={shlex.quote(pythonpath)} " if pythonpath else ""
    return f'{prefix}{tool} --fix --unsafe-fixes{extra} . ; echo "{STATUS_MARK} $?" ; true'


def run_script(script: Path, env: dict, log: Path, timeout: float) -> tuple[int | None, float]:
    """Runs one script in its own process group; on timeout, TERM then KILL the group (its EXIT trap
    stops the PostgreSQL cluster on TERM). Returns (exit status or None on timeout, seconds)."""
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", str(script)], stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            for sig, grace in ((signal.SIGTERM, 60), (signal.SIGKILL, 30)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            out.write(f"\n== timed out after {timeout:.0f} s\n")
    return rc, time.monotonic() - start


def migrate_section(text: str) -> str:
    """The part of the log written while MIGRATE ran."""
    start = text.find("== migrating in ")
    if start < 0:
        return ""
    m = RE_TOOL_STATUS.search(text, start) or RE_MIGRATE_STATUS.search(text, start)
    return text[start:m.end()] if m else text[start:]


def junit_cases(work: str):
    """Every ``<testcase>`` of the run's junit XML files (unreadable files skipped)."""
    for path in sorted(glob.glob(os.path.join(work, "junit-*.xml"))):
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            continue
        yield from root.iter("testcase")


def junit_failures(work: str | None, top: int = 8) -> list[dict]:
    """The most frequent failure/error messages (first line) of the run's junit XML, with examples."""
    if not work:
        return []
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for tc in junit_cases(work):
        for child in tc:
            if child.tag in ("failure", "error"):
                msg = (child.get("message") or (child.text or "").strip() or child.tag).splitlines()
                first = RE_ADDRESS.sub(" at 0x…", msg[0] if msg else child.tag)  # group the same message
                key = f"{child.tag}: {first[:200]}"
                groups[key].append(f"{tc.get('classname', '')}::{tc.get('name', '')}")
                break
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:top]
    return [{"message": k, "count": len(v), "examples": v[:2]} for k, v in ranked]


RE_IMPACT = re.compile(r"^(\S+\.py):(\d+):\d+: (AFY50[12]) ", re.MULTILINE)
RE_MIGRATE_DIR = re.compile(r"^== migrating in (\S+): ", re.MULTILINE)


def _defs(path: str, memo: dict) -> list:
    """The ``def`` nodes of a Python file (memoised; none when it cannot be read or parsed)."""
    if path not in memo:
        try:
            with open(path, "rb") as f:
                tree = ast.parse(f.read())
            memo[path] = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        except (OSError, SyntaxError, ValueError):
            memo[path] = []
    return memo[path]


def predicted(section: str, app_dir: str) -> tuple[set[tuple[str, str]], set[str]]:
    """What the report printed before the fix (AFY501/AFY502) predicts will fail, read the way the tool
    names tests: (test file, test function) for a finding inside a test; the whole file for a finding
    in a fixture, a helper or at module level; a ``conftest.py``'s directory for one in a conftest
    (every test below it may use it). Paths are absolute."""
    m = RE_MIGRATE_DIR.search(section)
    base = os.path.normpath(os.path.join(app_dir, m.group(1))) if m else app_dir
    tests: set[tuple[str, str]] = set()
    wholes: set[str] = set()
    memo: dict = {}
    for rel, line, _code in RE_IMPACT.findall(section):
        path = os.path.normpath(os.path.join(base, rel))
        n = int(line)
        inner = max((d for d in _defs(path, memo) if d.lineno <= n <= (d.end_lineno or d.lineno)),
                    key=lambda d: d.lineno, default=None)
        if os.path.basename(path) == "conftest.py":
            wholes.add(os.path.dirname(path) + os.sep)
        elif inner is not None and inner.name.startswith("test"):
            tests.add((path, inner.name))
        else:
            wholes.add(path)
    return tests, wholes


def junit_outcomes(work: str | None, app_dir: str, project: str | None = None) -> dict[tuple[str, str], bool]:
    """(test file, test function) -> whether every case of it passed (parametrised cases together),
    from the run's junit XML; skipped cases do not count. Files are found from the junit class names
    under the app's directory, those under ``project`` (the directory MIGRATE ran in) first. A file
    that failed to collect (pytest's ``classname=""`` case) is a key of its own, ``(file, "")``."""
    out: dict[tuple[str, str], bool] = {}
    if not work:
        return out
    project = project or app_dir
    files: dict[str, list[str]] = collections.defaultdict(list)  # "a/b/test_x.py" suffixes -> paths
    for dirpath, dirnames, filenames in os.walk(app_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
        for name in filenames:
            if name.endswith(".py"):
                files[name].append(os.path.join(dirpath, name))
    for tc in junit_cases(work):
        kinds = {child.tag for child in tc}
        if "skipped" in kinds:
            continue
        classname, name = tc.get("classname") or "", tc.get("name") or ""
        collect_error = not classname
        parts = (name if collect_error else classname).split(".")
        found = None
        for cut in (len(parts), len(parts) - 1):  # `pkg.test_mod` or `pkg.test_mod.TestClass`
            suffix = os.sep.join(parts[:cut]) + ".py"
            cands = [f for f in files.get(os.path.basename(suffix), ()) if f.endswith(os.sep + suffix)]
            cands.sort(key=lambda f: not f.startswith(project.rstrip(os.sep) + os.sep))
            if cut > 0 and cands:
                found = cands[0]
                break
        if found is None:
            continue
        key = (found, "" if collect_error else name.split("[", 1)[0])
        ok = not kinds & {"failure", "error"}
        out[key] = out.get(key, True) and ok
    return out


def confusion(after: dict[tuple[str, str], bool], baseline: dict[tuple[str, str], bool] | None,
              tests: set[tuple[str, str]], wholes: set[str]) -> dict:
    """Predicted against actual, over the tests that pass in the baseline (all tests when there is no
    baseline run): predicted and failed, predicted but passed, failed unpredicted (with examples)."""
    def named(key: tuple[str, str]) -> bool:
        path = key[0]
        return key in tests or path in wholes or any(w.endswith(os.sep) and path.startswith(w) for w in wholes)

    counts = {"predicted_failed": 0, "predicted_passed": 0, "unpredicted_failed": 0, "unpredicted_passed": 0}
    missed: list[str] = []
    after = dict(after)
    for path, test in list(after):  # a file that failed to collect: every test of it the baseline ran failed
        if test == "" and baseline is not None:
            del after[(path, test)]
            for key in baseline:
                if key[0] == path and key not in after:
                    after[key] = False
    for key, ok in sorted(after.items()):
        if baseline is not None and baseline.get(key) is not True:
            continue
        p = named(key)
        counts[("predicted_" if p else "unpredicted_") + ("passed" if ok else "failed")] += 1
        if not p and not ok:
            missed.append(f"{os.path.basename(key[0])}::{key[1]}")
    counts["unpredicted_examples"] = missed[:5]
    return counts


def parse_log(text: str) -> dict:
    summary = RE_SUMMARY.findall(text)
    skipped = RE_SKIPPED.findall(text)
    work = RE_WORK.search(text)
    section = migrate_section(text)
    status = RE_TOOL_STATUS.search(section) or RE_MIGRATE_STATUS.search(section)
    errors = [line.strip() for line in section.splitlines()
              if "asyncify-lint: error" in line and not line.startswith("== ")]
    if "Traceback (most recent call last)" in section:
        errors.append("Python traceback while MIGRATE ran")
    tool_status = int(status.group(1)) if status else None
    found = RE_FOUND.findall(section)
    passed, failed = (int(summary[-1][0]), int(summary[-1][1])) if summary else (None, None)
    return {
        "passed": passed,
        "failed": failed,
        "total": None if passed is None else passed + failed,
        "skipped": int(skipped[-1]) if skipped else None,
        "work_dir": work.group(1) if work else None,
        "tool_exit_status": tool_status,
        "diagnostics": ({"found": int(found[-1][0]), "fixed": int(found[-1][1]), "remaining": int(found[-1][2])}
                        if found else None),
        "tool_nonzero": bool(tool_status),
        "tool_errors": errors,
        "tool_error": bool(errors) or (tool_status is not None and tool_status >= 2),
    }


def cell(result: dict | None) -> str:
    if result is None:
        return "—"
    if result["timed_out"]:
        return f"timed out ({result['seconds']:.0f} s)"
    if result["total"] is None:
        return f"no summary (exit {result['script_exit_status']})"
    skipped = f" (+{result['skipped']} skipped)" if result.get("skipped") else ""
    return f"{result['passed']} / {result['total']}{skipped}"


def tool_cell(results: dict[str, dict]) -> str:
    notes = []
    for strategy, r in results.items():
        if strategy == "baseline":
            continue
        if r["tool_error"]:
            what = "; ".join(r["tool_errors"][:2]) or f"exit {r['tool_exit_status']}"
            notes.append(f"{strategy}: {what}")
        elif r["tool_exit_status"] is None and r["diagnostics"] is None and not r["timed_out"]:
            notes.append(f"{strategy}: the tool printed neither a status nor its summary")
    return "<br>".join(notes).replace("|", "\\|") if notes else "none"


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = ["| app | tests (baseline passed/total) | default strategy (passed/total) | bridge (passed/total) | tool errors |",
             "|---|---|---|---|---|"]
    for app, per in results.items():
        lines.append(f"| {app} | {cell(per.get('baseline'))} | {cell(per.get('default'))} | "
                     f"{cell(per.get('bridge'))} | {tool_cell(per)} |")
    return "\n".join(lines)


def prediction_table(results: dict[str, dict[str, dict]]) -> str:
    lines = ["| app | strategy | failed, predicted | passed, predicted | failed, NOT predicted | examples |",
             "|---|---|---:|---:|---:|---|"]
    for app, per in results.items():
        for strategy in ("default", "bridge"):
            c = (per.get(strategy) or {}).get("prediction")
            if not c:
                continue
            lines.append(f"| {app} | {strategy} | {c['predicted_failed']} | {c['predicted_passed']} | "
                         f"{c['unpredicted_failed']} | {', '.join(c['unpredicted_examples']) or '—'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=str(ROOT.parent / "shared" / "realapps"), help="the realapps directory")
    p.add_argument("--tool", default=f"{shlex.quote(sys.executable)} -m asyncify_lint",
                   help="the asyncify-lint command, run by bash in the app's directory")
    p.add_argument("--apps", default=",".join(APPS), help="comma-separated script names")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated: baseline,default,bridge")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run (default 1800)")
    p.add_argument("--logs", default="realapps-logs", help="directory for one log per run")
    p.add_argument("--json", help="write the raw results to this file")
    p.add_argument("--ukrdc-python", default="/usr/bin/python3", help="PYTHON for ukrdc-fastapi's venv")
    args = p.parse_args(argv)

    corpus = Path(args.corpus).resolve()
    apps = [a for a in args.apps.split(",") if a]
    strategies = [s for s in args.strategies.split(",") if s]
    for s in strategies:
        if s not in STRATEGIES:
            p.error(f"unknown strategy {s!r} (choose from {', '.join(STRATEGIES)})")
    for a in apps:
        if not (corpus / f"{a}.sh").is_file():
            p.error(f"no script {a}.sh in {corpus}")
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    pythonpath = os.environ.get("PYTHONPATH")

    results: dict[str, dict[str, dict]] = {}
    baselines: dict[str, str] = {}  # app -> the work directory of its baseline run
    for app in apps:
        results[app] = {}
        for strategy in strategies:
            env = {k: v for k, v in os.environ.items() if k not in ("MIGRATE", "PYTHONPATH")}
            migrate = migrate_command(args.tool, strategy, pythonpath)
            if migrate is not None:
                env["MIGRATE"] = migrate
            if app == "ukrdc-fastapi":
                env["PYTHON"] = args.ukrdc_python
            log = logs / f"{app}.{strategy}.log"
            print(f"-- {app} / {strategy} ...", file=sys.stderr, flush=True)
            rc, seconds = run_script(corpus / f"{app}.sh", env, log, args.timeout)
            r = parse_log(log.read_text(errors="replace"))
            r.update(app=app, strategy=strategy, migrate=migrate, log=str(log), seconds=round(seconds, 1),
                     script_exit_status=rc, timed_out=rc is None, failures=junit_failures(r["work_dir"]))
            if r["work_dir"]:
                app_dir = os.path.join(r["work_dir"], "app")
                if strategy == "baseline":
                    baselines[app] = r["work_dir"]  # read with each migrated run's project directory
                else:
                    section = migrate_section(log.read_text(errors="replace"))
                    m = RE_MIGRATE_DIR.search(section)
                    rel = os.path.normpath(m.group(1)) if m else "."
                    outcomes = junit_outcomes(r["work_dir"], app_dir, os.path.join(app_dir, rel))
                    base = None
                    if app in baselines:
                        base_app = os.path.join(baselines[app], "app")
                        base = {(os.path.join(app_dir, os.path.relpath(f, base_app)), t): ok for (f, t), ok in
                                junit_outcomes(baselines[app], base_app, os.path.join(base_app, rel)).items()}
                    tests, wholes = predicted(section, app_dir)
                    r["prediction"] = confusion(outcomes, base, tests, wholes)
            results[app][strategy] = r
            print(f"   {cell(r)} in {seconds:.0f} s"
                  + (f"; tool: {'; '.join(r['tool_errors']) or 'exit ' + str(r['tool_exit_status'])}"
                     if r["tool_error"] else ""), file=sys.stderr, flush=True)
            if args.json:  # written after every run, so a long run keeps what it measured
                Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    if any("prediction" in r for per in results.values() for r in per.values()):
        print()
        print("The report before the fix, against the outcomes (tests that pass in the baseline run, or all "
              "tests without one):")
        print()
        print(prediction_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
