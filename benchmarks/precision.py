"""Precision on real async code: asyncify-lint, ruff ASYNC and flake8-async on pinned async libraries.

The tool is also a guard on code that is already async. There its migration rules (AFY2xx, AFY3xx,
AFY401-403) should be silent except where a migration really reaches, and its blocking-call rules
(AFY100-AFY119) precise. This benchmark runs it on the published source of real async projects that
nobody here wrote, next to the two peers, and helps classify what it reports by hand.

    python benchmarks/precision.py                                   # download, unpack, run all, print the table
    python benchmarks/precision.py --only starlette,httpx            # some projects only
    python benchmarks/precision.py --json findings.json              # also write every AFY finding
    python benchmarks/precision.py --findings findings.json --sample 15 --seed 1   # a sample to classify
    python benchmarks/precision.py --findings findings.json --classified verdicts.json  # precision per code

Corpus: ``PROJECTS`` below, each a pinned sdist from PyPI, fetched with ``pip download --no-deps
--no-binary NAME NAME==VERSION`` into the cache (``--cache``, default ``<tempdir>/asyncify-precision``)
and unpacked there (``--no-binary :all:`` would also build every build backend from source: 13 minutes
for this list, and it fails for backends that need Rust, such as ``uv_build``). The whole unpacked
sdist is one tree: the library, and its tests, examples and documentation code when it ships them.
A sdist already in the cache is not downloaded again, a tree already unpacked not unpacked again.

For each tree, from the tree's directory, with a timeout for each run (``--timeout``):

* ``python -m asyncify_lint . --format json --no-cache --select AFY`` (every code);
* ``ruff check --select ASYNC --output-format json --isolated --no-cache .``;
* ``flake8 --select ASYNC --isolated .`` (flake8-async as a flake8 plugin).

The peers come from the same environment as this interpreter (``--venv`` to change): install them
with ``pip install ruff==0.17.6 flake8-async==26.8.1``; they are not dependencies of the package.
The peers run ``--isolated`` (the projects' own ruff/flake8 settings would select or exclude other
things); ``noqa`` comments are honoured by all three.

Lines are the physical lines of the ``.py`` files under the tree, less the directories the tool
excludes by default (``build``, ``dist``, ``*.egg-info``, ...). The table gives findings per 10,000
lines for each AFY family and the peers (their blocking-call rules, ASYNC2xx, in parentheses), the wall
time of each run, and any crash: an exit code other than 0/1, a traceback, unreadable output, a
timeout, or ``internal error`` lines on stderr. A crashed run is shown as ``crash``, never as zero.

``--json OUT`` writes the projects and every AFY finding (project, path relative to the tree, line,
column, code, message, the source line) to OUT. ``--findings FILE`` reads such a file instead of
running the tools. ``--sample N --seed S`` prints, for each code, up to N findings drawn at random
with ``--context`` lines of source either side and the key to classify them by. ``--classified FILE``
reads hand verdicts and prints precision per code over the classified sample. Its format, either:

    {"starlette:starlette/testclient.py:412:AFY118": "tp",
     "httpx:httpx/_main.py:77:AFY113": {"verdict": "fp", "note": "runs in a worker thread"}}

or a list of ``{"project", "path", "line", "code", "verdict", "note"}`` objects.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    sys.path.insert(0, ROOT)
    from asyncify_lint.config import DEFAULT_EXCLUDE  # noqa: E402
except ImportError:  # pragma: no cover - the list as of this benchmark's writing
    DEFAULT_EXCLUDE = (".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".eggs", "*.egg-info",
                       "__pycache__", "build", "dist", "node_modules", "site-packages", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache", ".asyncify_cache", "__pypackages__")

#: (PyPI name, pinned version, what it is)
PROJECTS: list[tuple[str, str, str]] = [
    ("starlette", "1.10.0", "web framework"),
    ("uvicorn", "0.55.0", "ASGI server"),
    ("aiohttp", "3.14.5", "web framework, server and client"),
    ("httpx", "0.29.0", "HTTP client"),
    ("asyncpg", "0.32.0", "PostgreSQL driver"),
    ("aiosqlite", "0.22.1", "SQLite driver"),
    ("redis", "8.1.0", "Redis client (redis.asyncio)"),
    ("motor", "3.7.1", "MongoDB client"),
    ("databases", "0.9.0", "async database layer on SQLAlchemy Core"),
    ("SQLAlchemy", "2.1.9", "ORM and Core (ext/asyncio); the whole sdist"),
    ("sqlmodel", "0.0.50", "ORM on SQLAlchemy + pydantic"),
    ("fastapi-users", "15.0.5", "FastAPI library"),
    ("fastapi-users-db-sqlalchemy", "7.0.0", "FastAPI library on AsyncSession"),
    ("sqladmin", "0.32.0", "admin for Starlette/FastAPI on (Async)Session"),
    ("fastapi-pagination", "0.16.1", "FastAPI library, AsyncSession paginators"),
    ("fastcrud", "0.23.0", "FastAPI CRUD on AsyncSession"),
]

#: table columns: (heading, predicate on a code)
FAMILIES: list[tuple[str, object]] = [
    ("AFY1xx", lambda c: c.startswith("AFY1")),
    ("AFY2xx", lambda c: c.startswith("AFY2")),
    ("AFY3xx", lambda c: c.startswith("AFY3")),
    ("AFY401", lambda c: c == "AFY401"),
    ("AFY402", lambda c: c == "AFY402"),
    ("AFY403", lambda c: c == "AFY403"),
    ("AFY5xx", lambda c: c.startswith("AFY5")),
    ("AFY0xx", lambda c: c.startswith("AFY0")),
]

FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>ASYNC\d+) (?P<msg>.*)$")
PEER_BLOCKING = re.compile(r"^ASYNC2\d\d$")
#: flake8-async's rules that are off unless selected by name; ``--select ASYNC`` turns them on, so
#: they are counted apart (``off_by_default``) and left out of the table (ruff has none of them)
FLAKE8_ASYNC_OFF = {"ASYNC106", "ASYNC900", "ASYNC910", "ASYNC911", "ASYNC912", "ASYNC913"}
TRACEBACK = "Traceback (most recent call last):"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


# ------------------------------------------------------------------------------------- corpus


def sdist_in(cache: str, name: str, version: str) -> str | None:
    want = f"{norm(name)}-{version}"
    for p in sorted(os.listdir(cache)) if os.path.isdir(cache) else []:
        for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
            if p.endswith(ext) and "-" in p:
                n, v = p[: -len(ext)].rsplit("-", 1)
                if f"{norm(n)}-{v}" == want:
                    return os.path.join(cache, p)
    return None


def download(cache: str, name: str, version: str, timeout: float) -> str:
    found = sdist_in(cache, name, version)
    if found:
        return found
    os.makedirs(cache, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", name,
           f"{name}=={version}", "-d", cache]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    found = sdist_in(cache, name, version)
    if proc.returncode or not found:
        tail = "\n".join(line for line in proc.stderr.splitlines() if "is ignored" not in line)[-2000:]
        raise RuntimeError(f"pip download {name}=={version} failed ({proc.returncode}):\n{tail}")
    return found


def unpack(cache: str, archive: str, name: str, version: str) -> str:
    """The unpacked tree (the sdist's top directory), unpacked once under ``<cache>/src``."""
    dest = os.path.join(cache, "src", f"{norm(name)}-{version}")
    done = os.path.join(dest, ".unpacked")
    if not os.path.exists(done):
        tmp = dest + ".tmp"
        if os.path.isdir(tmp):
            _rmtree(tmp)
        os.makedirs(tmp)
        if archive.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data")
        if os.path.isdir(dest):
            _rmtree(dest)
        os.rename(tmp, dest)
        with open(done, "w"):
            pass
    tops = [d for d in os.listdir(dest) if os.path.isdir(os.path.join(dest, d))]
    return os.path.join(dest, tops[0]) if len(tops) == 1 else dest


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path)


def excluded(part: str) -> bool:
    return any(fnmatch.fnmatchcase(part, pat) for pat in DEFAULT_EXCLUDE)


def count_lines(tree: str) -> tuple[int, int]:
    files = lines = 0
    for d, dirs, names in os.walk(tree):
        dirs[:] = sorted(x for x in dirs if not excluded(x))
        for n in names:
            if n.endswith(".py"):
                with open(os.path.join(d, n), "rb") as f:
                    data = f.read()
                files += 1
                lines += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return files, lines


# --------------------------------------------------------------------------------------- runs


@dataclass
class Run:
    tool: str
    seconds: float = 0.0
    status: str = "ok"  # ok | crash: why | timeout | not run
    internal_errors: int = 0
    counts: Counter = field(default_factory=Counter)
    off_by_default: Counter = field(default_factory=Counter)
    stderr_tail: str = ""

    @property
    def crashed(self) -> bool:
        return self.status != "ok" and not self.status.startswith("not run")


def run(tool: str, cmd: list[str], cwd: str, timeout: float) -> tuple[Run, str]:
    r = Run(tool)
    t0 = time.perf_counter()
    try:
        # a session of its own, so that a timeout also ends the workers the run forked
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONHASHSEED": "0"}, start_new_session=True)
    except FileNotFoundError as exc:
        r.status = f"not run: {exc.filename} not found"
        return r, ""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        r.seconds = time.perf_counter() - t0
        r.status = f"timeout ({timeout:.0f} s)"
        return r, ""
    proc = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    r.seconds = time.perf_counter() - t0
    r.internal_errors = sum("internal error" in line for line in proc.stderr.splitlines())
    r.stderr_tail = proc.stderr[-3000:]
    if TRACEBACK in proc.stderr:
        r.status = f"crash (traceback, exit {proc.returncode})"
    elif proc.returncode not in (0, 1):
        r.status = f"crash (exit {proc.returncode})"
    return r, proc.stdout


def rel(tree: str, path: str) -> str:
    path = path if os.path.isabs(path) else os.path.join(tree, path)
    return os.path.relpath(os.path.normpath(path), tree).replace(os.sep, "/")


def source_line(tree: str, relpath: str, line: int, _cache: dict = {}) -> str:
    key = (tree, relpath)
    if key not in _cache:
        try:
            with open(os.path.join(tree, relpath), encoding="utf-8", errors="replace") as f:
                _cache[key] = f.read().splitlines()
        except OSError:
            _cache[key] = []
    text = _cache[key]
    return text[line - 1] if 0 < line <= len(text) else ""


def run_afy(project: str, tree: str, timeout: float) -> tuple[Run, list[dict]]:
    cmd = [sys.executable, "-m", "asyncify_lint", ".", "--format", "json", "--no-cache", "--select", "AFY"]
    r, out = run("asyncify-lint", cmd, tree, timeout)
    findings: list[dict] = []
    if r.crashed:
        return r, findings
    try:
        data = json.loads(out or "[]")
    except json.JSONDecodeError as exc:
        r.status = f"crash (output is not JSON: {exc})"
        return r, findings
    for d in data:
        path = rel(tree, d["filename"])
        line = d["location"]["row"]
        findings.append({"project": project, "path": path, "line": line, "col": d["location"]["column"],
                         "code": d["code"], "message": d["message"],
                         "fix": (d.get("fix") or {}).get("applicability"),
                         "source": source_line(tree, path, line).strip()})
        r.counts[d["code"]] += 1
    return r, findings


def run_ruff(bin_: str, tree: str, timeout: float) -> Run:
    cmd = [os.path.join(bin_, "ruff"), "check", "--select", "ASYNC", "--output-format", "json", "--isolated",
           "--no-cache", "--exit-zero", "."]
    r, out = run("ruff", cmd, tree, timeout)
    if not r.crashed:
        try:
            for d in json.loads(out or "[]"):
                if (d.get("code") or "").startswith("ASYNC"):
                    r.counts[d["code"]] += 1
        except json.JSONDecodeError as exc:
            r.status = f"crash (output is not JSON: {exc})"
    return r


def run_flake8(bin_: str, tree: str, timeout: float) -> Run:
    cmd = [os.path.join(bin_, "flake8"), "--select", "ASYNC", "--isolated", "--exit-zero", "."]
    r, out = run("flake8-async", cmd, tree, timeout)
    if not r.crashed:
        for line in out.splitlines():
            m = FLAKE8_LINE.match(line.strip())
            if m:
                (r.off_by_default if m["code"] in FLAKE8_ASYNC_OFF else r.counts)[m["code"]] += 1
    return r


# -------------------------------------------------------------------------------------- table


def per10k(n: int, lines: int) -> str:
    return f"{n * 10000 / lines:.1f}" if lines else "-"


def peer_cell(r: dict, lines: int) -> str:
    if r["status"] != "ok":
        return "crash" if not r["status"].startswith("not run") else "not run"
    total = sum(r["counts"].values())
    blocking = sum(n for c, n in r["counts"].items() if PEER_BLOCKING.match(c))
    return f"{per10k(total, lines)} ({per10k(blocking, lines)})"


def table(projects: list[dict]) -> str:
    head = ["project", "version", "files", "lines"] + [f for f, _ in FAMILIES] + \
        ["AFY total", "ruff ASYNC (2xx)", "flake8-async (2xx)", "AFY s", "ruff s", "flake8 s", "crashes"]
    out = ["| " + " | ".join(head) + " |", "| --- | --- | " + " | ".join("---:" for _ in head[2:-1]) + " | --- |"]
    tot_lines = tot_files = 0
    ok_lines: Counter = Counter()  # lines of the trees on which each tool ran to the end
    tot_afy: Counter = Counter()
    tot_peer = {"ruff": Counter(), "flake8-async": Counter()}
    tot_time = defaultdict(float)
    any_crash = defaultdict(bool)
    for p in projects:
        lines = p["lines"]
        afy = p["runs"]["asyncify-lint"]
        crashes = [f"{name}: {r['status']}" + (f", {r['internal_errors']} internal errors" if r["internal_errors"] else "")
                   for name, r in p["runs"].items()
                   if (r["status"] != "ok" and not r["status"].startswith("not run")) or r["internal_errors"]]
        row = [p["name"], p["version"], f"{p['files']:,}", f"{lines:,}"]
        if afy["status"] != "ok":
            row += ["crash"] * (len(FAMILIES) + 1)
            any_crash["asyncify-lint"] = True
        else:
            counts = Counter(afy["counts"])
            tot_afy.update(counts)
            row += [per10k(sum(n for c, n in counts.items() if pred(c)), lines) for _, pred in FAMILIES]
            row.append(per10k(sum(counts.values()), lines))
        for name in ("ruff", "flake8-async"):
            r = p["runs"][name]
            row.append(peer_cell(r, lines))
            if r["status"] == "ok":
                tot_peer[name].update(r["counts"])
            elif not r["status"].startswith("not run"):
                any_crash[name] = True
        for name in ("asyncify-lint", "ruff", "flake8-async"):
            if p["runs"][name]["status"] == "ok":
                ok_lines[name] += lines
            row.append(f"{p['runs'][name]['seconds']:.1f}" if not p["runs"][name]["status"].startswith("not run") else "-")
            tot_time[name] += p["runs"][name]["seconds"]
        row.append("; ".join(crashes) or "none")
        out.append("| " + " | ".join(row) + " |")
        tot_lines += lines
        tot_files += p["files"]
    ran = {n for n in ("asyncify-lint", "ruff", "flake8-async")
           if not all(p["runs"][n]["status"].startswith("not run") for p in projects)}
    mark = lambda name: " *" if name in ran and ok_lines[name] != tot_lines else ""  # noqa: E731
    row = ["**total**", "", f"{tot_files:,}", f"{tot_lines:,}"]
    al = ok_lines["asyncify-lint"]
    row += [per10k(sum(n for c, n in tot_afy.items() if pred(c)), al) + mark("asyncify-lint") for _, pred in FAMILIES]
    row.append(f"**{per10k(sum(tot_afy.values()), al)}**" + mark("asyncify-lint"))
    for name in ("ruff", "flake8-async"):
        c = tot_peer[name]
        if all(p["runs"][name]["status"].startswith("not run") for p in projects):
            row.append("not run")
            continue
        pl = ok_lines[name]
        blocking = sum(n for k, n in c.items() if PEER_BLOCKING.match(k))
        row.append(f"{per10k(sum(c.values()), pl)} ({per10k(blocking, pl)})" + mark(name))
    row += [f"{tot_time[n]:.1f}" for n in ("asyncify-lint", "ruff", "flake8-async")]
    row.append("* per 10k of the lines the tool ran on: "
               + ", ".join(f"{n} {ok_lines[n]:,}" for n in ("asyncify-lint", "ruff", "flake8-async") if mark(n))
               if any(mark(n) for n in ("asyncify-lint", "ruff", "flake8-async")) else "")
    out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def raw_counts(projects: list[dict]) -> str:
    """Absolute counts: AFY per family, ruff and flake8-async per project."""
    head = ["project"] + [f for f, _ in FAMILIES] + ["AFY", "ruff", "flake8-async"]
    out = ["| " + " | ".join(head) + " |", "| --- | " + " | ".join("---:" for _ in head[1:]) + " |"]
    for p in projects:
        afy = p["runs"]["asyncify-lint"]
        c = Counter(afy["counts"])
        row = [p["name"]] + ([str(sum(n for k, n in c.items() if pred(k))) for _, pred in FAMILIES] + [str(sum(c.values()))]
                             if afy["status"] == "ok" else ["crash"] * (len(FAMILIES) + 1))
        row += [str(sum(p["runs"][n]["counts"].values())) if p["runs"][n]["status"] == "ok"
                else "-" if p["runs"][n]["status"].startswith("not run") else "crash"
                for n in ("ruff", "flake8-async")]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


BACKTICKS = re.compile(r"`[^`]*`")


def shape(message: str, width: int = 100) -> str:
    """A message with every backtick span but the first replaced by `…` (the call named, not where)."""
    seen = [0]

    def sub(m: re.Match) -> str:
        seen[0] += 1
        return m.group(0) if seen[0] == 1 else "`…`"

    s = BACKTICKS.sub(sub, message)
    return s if len(s) <= width else s[: width - 1] + "…"


def per_code(findings: list[dict], top: int = 5) -> str:
    by_code: dict[str, list[dict]] = defaultdict(list)
    for f in findings:
        by_code[f["code"]].append(f)
    out = []
    for code in sorted(by_code):
        fs = by_code[code]
        projects = Counter(f["project"] for f in fs)
        out.append(f"{code}: {len(fs)} in {len(projects)} projects ("
                   + ", ".join(f"{p} {n}" for p, n in projects.most_common(4)) + (", ..." if len(projects) > 4 else "") + ")")
        for msg, n in Counter(shape(f["message"]) for f in fs).most_common(top):
            out.append(f"    {n:5d}  {msg}")
    return "\n".join(out) if out else "(no AFY finding)"


# ------------------------------------------------------------------------ sample, classification


def key(f: dict) -> str:
    return f"{f['project']}:{f['path']}:{f['line']}:{f['code']}"


def sample(findings: list[dict], trees: dict[str, str], n: int, seed: int, context: int) -> str:
    rng = random.Random(seed)
    by_code: dict[str, list[dict]] = defaultdict(list)
    for f in sorted(findings, key=lambda f: (f["code"], f["project"], f["path"], f["line"], f["col"])):
        by_code[f["code"]].append(f)
    out = []
    for code in sorted(by_code):
        fs = by_code[code]
        picked = rng.sample(fs, min(n, len(fs)))
        picked.sort(key=lambda f: (f["project"], f["path"], f["line"]))
        out.append(f"{'=' * 100}\n{code}: {len(picked)} of {len(fs)}\n{'=' * 100}")
        for f in picked:
            out.append(f"--- {key(f)}\n    {f['message']}")
            tree = trees.get(f["project"])
            text = []
            if tree and os.path.exists(os.path.join(tree, f["path"])):
                with open(os.path.join(tree, f["path"]), encoding="utf-8", errors="replace") as fh:
                    text = fh.read().splitlines()
            if text:
                lo, hi = max(1, f["line"] - context), min(len(text), f["line"] + context)
                for i in range(lo, hi + 1):
                    out.append(f"{'>' if i == f['line'] else ' '}{i:6d} | {text[i - 1]}")
            else:
                out.append(f">{f['line']:6d} | {f['source']}")
            out.append("")
    return "\n".join(out)


def load_verdicts(path: str) -> dict[str, tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    out: dict[str, tuple[str, str]] = {}
    items = data.items() if isinstance(data, dict) else ((key(d), d) for d in data)
    for k, v in items:
        verdict, note = (v, "") if isinstance(v, str) else (v.get("verdict", ""), v.get("note", ""))
        verdict = verdict.lower()
        if verdict not in ("tp", "fp"):
            raise SystemExit(f"{path}: {k}: verdict must be 'tp' or 'fp', not {verdict!r}")
        out[k] = (verdict, note)
    return out


def precision(findings: list[dict], verdicts: dict[str, tuple[str, str]]) -> str:
    by_code: dict[str, list[dict]] = defaultdict(list)
    for f in findings:
        by_code[f["code"]].append(f)
    keys = {key(f) for f in findings}
    out = ["| code | findings | classified | tp | fp | precision | unclassified |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    tt = [0, 0, 0, 0]
    for code in sorted(by_code):
        fs = by_code[code]
        v = [verdicts[key(f)][0] for f in fs if key(f) in verdicts]
        tp, fp = v.count("tp"), v.count("fp")
        prec = f"{tp / (tp + fp):.0%}" if tp + fp else "-"
        out.append(f"| {code} | {len(fs)} | {tp + fp} | {tp} | {fp} | {prec} | {len(fs) - tp - fp} |")
        tt = [a + b for a, b in zip(tt, (len(fs), tp, fp, len(fs) - tp - fp))]
    prec = f"{tt[1] / (tt[1] + tt[2]):.0%}" if tt[1] + tt[2] else "-"
    out.append(f"| **all** | {tt[0]} | {tt[1] + tt[2]} | {tt[1]} | {tt[2]} | **{prec}** | {tt[3]} |")
    stale = sorted(k for k in verdicts if k not in keys)
    if stale:
        out.append(f"\n{len(stale)} classified findings are no longer reported (first 10): " + ", ".join(stale[:10]))
    notes = [(k, n) for k, (v, n) in sorted(verdicts.items()) if v == "fp" and n and k in keys]
    if notes:
        out.append("\nFalse positives with a note:")
        out += [f"- `{k}`: {n}" for k, n in notes]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "asyncify-precision"),
                    help="where the sdists are downloaded and unpacked")
    ap.add_argument("--only", help="comma-separated PyPI names of the projects to run")
    ap.add_argument("--venv", default=os.path.dirname(os.path.dirname(sys.executable)),
                    help="the environment whose bin/ holds ruff and flake8 (default: this interpreter's)")
    ap.add_argument("--peers", default="ruff,flake8-async",
                    help="comma-separated peers to run (ruff, flake8-async; empty: none)")
    ap.add_argument("--flake8-max-lines", type=int, default=60_000,
                    help="run flake8-async only on trees of at most this many lines (0: all); it checks "
                         "100-300 lines/s here, SQLAlchemy's sdist alone would take over an hour")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds for one tool run on one tree")
    ap.add_argument("--json", metavar="OUT", help="write the projects and every AFY finding to OUT")
    ap.add_argument("--findings", metavar="FILE", help="read a --json file instead of running the tools")
    ap.add_argument("--sample", type=int, metavar="N", help="print up to N random findings per code, with context")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--context", type=int, default=3, help="source lines either side of a sampled finding")
    ap.add_argument("--sample-out", metavar="FILE", help="write the sample to FILE instead of stdout")
    ap.add_argument("--classified", metavar="FILE", help="hand verdicts: print precision per code")
    args = ap.parse_args(argv)

    if args.findings:
        with open(args.findings, encoding="utf-8") as f:
            data = json.load(f)
        projects, findings = data["projects"], data["findings"]
        wall = None
    else:
        wanted = {norm(x) for x in args.only.split(",")} if args.only else None
        chosen = [p for p in PROJECTS if wanted is None or norm(p[0]) in wanted]
        if wanted and len(chosen) != len(wanted):
            raise SystemExit(f"unknown project in --only: {sorted(wanted - {norm(p[0]) for p in chosen})}")
        bin_ = os.path.join(args.venv, "bin")
        peers = set(args.peers.split(",")) if args.peers else set()
        if peers - {"ruff", "flake8-async"}:
            raise SystemExit(f"unknown peer in --peers: {sorted(peers - {'ruff', 'flake8-async'})}")
        projects, findings = [], []
        t_start = time.perf_counter()
        for name, version, kind in chosen:
            archive = download(args.cache, name, version, args.timeout)
            tree = unpack(args.cache, archive, name, version)
            files, lines = count_lines(tree)
            print(f"{name}=={version}: {files:,} files, {lines:,} lines ...", file=sys.stderr, flush=True)
            afy, found = run_afy(name, tree, args.timeout)
            over = "flake8-async" in peers and bool(args.flake8_max_lines) and lines > args.flake8_max_lines
            runs = [afy,
                    run_ruff(bin_, tree, args.timeout) if "ruff" in peers else Run("ruff", status="not run"),
                    run_flake8(bin_, tree, args.timeout) if "flake8-async" in peers and not over
                    else Run("flake8-async", status="not run" + (f": over {args.flake8_max_lines:,} lines" if over else ""))]
            for r in runs:
                print(f"    {r.tool}: {r.status}, {sum(r.counts.values())} findings, {r.seconds:.1f} s"
                      + (f", {r.internal_errors} internal errors" if r.internal_errors else ""), file=sys.stderr, flush=True)
                if r.crashed or r.internal_errors:
                    print("      " + r.stderr_tail.replace("\n", "\n      ")[-1500:], file=sys.stderr)
            findings += found
            results = {r.tool: {**asdict(r), "counts": dict(r.counts), "off_by_default": dict(r.off_by_default)}
                       for r in runs}
            projects.append({"name": name, "version": version, "kind": kind, "tree": tree, "files": files,
                             "lines": lines, "runs": results})
        wall = time.perf_counter() - t_start
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"python": sys.version.split()[0], "projects": projects, "findings": findings}, f, indent=1)

    trees = {p["name"]: p["tree"] for p in projects}
    if args.sample:
        text = sample(findings, trees, args.sample, args.seed, args.context)
        if args.sample_out:
            with open(args.sample_out, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        else:
            print(text)
    if args.classified:
        print(precision(findings, load_verdicts(args.classified)))
    if not args.findings or not (args.sample or args.classified):
        print("## Findings per 10,000 lines (peers: all ASYNC rules, their blocking-call ASYNC2xx in parentheses)\n")
        print(table(projects))
        print("\n## Counts\n")
        print(raw_counts(projects))
        print("\n## AFY findings per code (top messages, every backtick span after the first shown as `…`)\n")
        print(per_code(findings))
        if wall is not None:
            print(f"\nWall time: {wall:.0f} s (downloads, unpacking, line counts and the three tools)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
