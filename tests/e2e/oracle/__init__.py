"""The async-path oracle: the same requests, against the original sync app and the migrated one.

A green suite after a migration does not prove the async path: a suite whose conftest overrides the
session dependency with a sync `Session` never runs the app's own `AsyncSession`. The oracle runs the
app's own request path on both sides and compares what the clients see:

1. record: the ORIGINAL suite is run once, unchanged, with the `asyncify_record` plugin
   (tests/e2e/plugins), which writes every request it sends to the app (method, path and query,
   headers, body) and the response, grouped by test, with a snapshot of the SQLite database taken at
   each test's first request;
2. replay (replay.py, a fresh process per app copy, working directory a fresh empty directory): the
   app is pointed at its own new database file there, through its own settings (an environment
   variable it reads, or the relative path it hard-codes), as the per-app configuration says
   (oracle/apps/<app>.json); the sequence is sent with `TestClient` through the app's own dependencies
   (no override), each test's requests on a copy of the state its recorded run saw. The migrated copy
   runs under blockbuster, with `RuntimeWarning`s as errors;
3. compare: status code, content type and body of each response (JSON compared as data), and the
   database content left by each test, after normalisation (below); a request that hit a blocking call
   on the event loop is counted as blocked.

Normalisation (the same on both sides): a UUID (with or without dashes: SQLite stores them as 32 hex
digits) becomes `<uuid:N>`, N numbering the distinct UUIDs of a run in order of first appearance, so
two runs agree when the same place holds the same (generated) id; a JWT becomes `<jwt>`; an ISO 8601
date-time becomes `<datetime>`. Integer ids are not normalised: from the same state, the same sequence
generates the same ones. Opaque values a test took from a response (a created item's UUID, a token)
are followed by the replay: replay.py substitutes, in later requests, the value the recorded response
held by the one this run's response holds at the same place.

Configuration (oracle/apps/<app>.json, data only):
- "app": "module:attribute" of the FastAPI app, imported with the app directory on sys.path;
- "database": where the app's SQLite database is: {"file": "sql_app.db"} (a path relative to the
  working directory that the app hard-codes) or {"env": "DATABASE_URL"} (the variable the app's
  settings read; the replay sets it to `url`, default "sqlite:///{path}"). Absent: the app uses an
  in-memory database (fresh in every process; no snapshots, no state comparison);
- "env": other variables the app reads, formatted with {cwd};
- "copy_files": files of the app directory the app reads from its working directory (".env");
- "metadata", "engine", "import": optional, for an app that creates no tables itself: the
  MetaData and engine ("module:attr") to run `create_all` with before the first request;
- "expected_blocking": requests that still block the event loop after the migration by design
  (a MANUAL AFY100 the tool leaves for review), as [{"method", "path" (a regex), "reason"}].
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGINS = HERE.parent / "plugins"
CONFIGS = HERE / "apps"
REPLAY = HERE / "replay.py"

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", ".pytest_cache", ".asyncify_cache")


def load_config(app: str) -> dict:
    return json.loads((CONFIGS / f"{app}.json").read_text(encoding="utf-8"))


class Normaliser:
    """Rewrites generated values of one run (see the module docstring); one instance per run."""

    def __init__(self) -> None:
        self.uuids: dict[str, int] = {}

    def _uuid(self, match: re.Match) -> str:
        key = match.group(0).replace("-", "").lower()
        return f"<uuid:{self.uuids.setdefault(key, len(self.uuids) + 1)}>"

    def text(self, value: str) -> str:
        value = _JWT.sub("<jwt>", value)
        value = _DATETIME.sub("<datetime>", value)
        return _UUID.sub(self._uuid, value)

    def __call__(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self(v) for k, v in value.items()}
        return value


def _response(result: dict, norm: Normaliser):
    """What a client sees of one response, normalised: (status, media type, body)."""
    if "blocked" in result:
        return ("blocked", result["blocked"])
    if "error" in result:
        return ("error", norm.text(result["error"]))
    body = result.get("body") or {}
    media = (result.get("content_type") or "").split(";")[0].strip()
    if "text" in body:
        try:
            data = json.loads(body["text"]) if "json" in media else None
        except ValueError:
            data = None
        content = norm(data) if data is not None else norm.text(body["text"])
    else:
        content = body.get("b64")
    return (result.get("status"), media, content)


def _state(dump: dict | None, norm: Normaliser):
    if dump is None:
        return None
    return {table: sorted((json.dumps(norm(row), sort_keys=True) for row in rows)) for table, rows in dump.items()}


@dataclass
class Report:
    """The comparison of one migrated copy with the original, on one recorded sequence."""

    app: str
    strategy: str
    requests: int = 0
    identical: int = 0
    differing: int = 0  # not explained by a blocked request earlier in the same test
    differing_after_blocked: int = 0
    blocked: int = 0
    blocked_expected: int = 0
    errors: int = 0  # exceptions other than blocking, and unraisable ones (never-awaited coroutines)
    states: int = 0  # database states compared: one per test, but the tests with a blocked request
    states_differing: int = 0
    recorded_fidelity: int = 0  # replayed original responses with the recorded status code
    startup_error: str | None = None
    drivers: dict[str, int] = field(default_factory=dict)  # statements the migrated app ran, per DBAPI driver
    diffs: list[str] = field(default_factory=list)
    unexpected_blocked: list[str] = field(default_factory=list)
    expected_not_blocked: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return (self.startup_error is None and self.requests > 0 and self.differing == 0 and self.errors == 0
                and not self.unexpected_blocked and not self.expected_not_blocked
                and self.states_differing == 0)

    def row(self) -> str:
        return (f"| `{self.app}` | {self.strategy} | {self.requests} | {self.identical} | {self.differing} | "
                f"{self.blocked} ({self.blocked_expected} expected) | {self.differing_after_blocked} | "
                f"{self.errors} | {self.states - self.states_differing} / {self.states} |")

    def summary(self) -> str:
        lines = [f"{self.app} [{self.strategy}]: {self.requests} requests, {self.identical} identical, "
                 f"{self.differing} differing, {self.blocked} blocked ({self.blocked_expected} expected), "
                 f"{self.differing_after_blocked} differing after a blocked request of the same test, "
                 f"{self.errors} errors; database states {self.states - self.states_differing}/{self.states} "
                 f"identical; original replay reproduces {self.recorded_fidelity}/{self.requests} recorded "
                 f"status codes; the migrated app's statements per driver: {self.drivers}"]
        if self.startup_error:
            lines.append(f"  startup error: {self.startup_error}")
        lines += [f"  unexpected blocked: {b}" for b in self.unexpected_blocked]
        lines += [f"  expected to block, did not: {b}" for b in self.expected_not_blocked]
        lines += [f"  {d}" for d in self.diffs[:8]]
        return "\n".join(lines)


def compare(app: str, strategy: str, recorded: list[dict], original: dict, migrated: dict,
            expected_blocking: list[dict] = ()) -> Report:
    rep = Report(app, strategy, requests=len(recorded), startup_error=migrated["startup_error"],
                 drivers=migrated.get("drivers") or {})
    if original["startup_error"]:
        rep.startup_error = f"original: {original['startup_error']}"
    n_orig, n_mig = Normaliser(), Normaliser()
    by_n_orig = {r["n"]: r for r in original["results"]}
    by_n_mig = {r["n"]: r for r in migrated["results"]}
    blocked_segments: set[int] = set()
    seen_expected: set[int] = set()
    for rec in recorded:
        a, b = by_n_orig.get(rec["n"], {"error": "not run"}), by_n_mig.get(rec["n"], {"error": "not run"})
        if a.get("status") == (rec.get("response") or {}).get("status"):
            rep.recorded_fidelity += 1
        where = f"#{rec['n']} {rec['method']} {rec['url']} ({rec['test']})"
        rep.errors += len(b.get("errors") or [])
        if b.get("errors"):
            rep.diffs.append(f"{where}: unraisable in the migrated app: {b['errors'][0]}")
        ra, rb = _response(a, n_orig), _response(b, n_mig)
        if "blocked" in b:
            rep.blocked += 1
            blocked_segments.add(rec["segment"])
            matches = [i for i, e in enumerate(expected_blocking)
                       if e["method"] == rec["method"] and re.fullmatch(e["path"], rec["url"].split("?")[0])]
            if matches:
                rep.blocked_expected += 1
                seen_expected.update(matches)
            else:
                rep.unexpected_blocked.append(f"{where}: {b['blocked']}")
            continue
        if ra == rb:
            rep.identical += 1
        elif rec["segment"] in blocked_segments:
            rep.differing_after_blocked += 1
        elif "error" in b:
            rep.errors += 1
            rep.diffs.append(f"{where}: the migrated app raised {b['error']}")
        else:
            rep.differing += 1
            rep.diffs.append(f"{where}: original {_short(ra)} != migrated {_short(rb)}")
    rep.expected_not_blocked = [f"{e['method']} {e['path']} ({e.get('reason', '')})"
                                for i, e in enumerate(expected_blocking) if i not in seen_expected]
    for segment in sorted(set(original["states"]) | set(migrated["states"]), key=int):
        sa, sb = _state(original["states"].get(segment), n_orig), _state(migrated["states"].get(segment), n_mig)
        if (sa is None and sb is None) or int(segment) in blocked_segments:
            continue  # no file database, or a test whose requests were cut short by a blocking call
        rep.states += 1
        if sa != sb:
            rep.states_differing += 1
            tables = sorted(t for t in set(sa or {}) | set(sb or {}) if (sa or {}).get(t) != (sb or {}).get(t))
            rep.diffs.append(f"database after segment {segment}: tables {tables} differ")
    return rep


def _short(value, limit: int = 300) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def read_trace(trace: Path) -> list[dict]:
    return [json.loads(line) for line in (trace / "requests.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def record(app_dir: Path, config: dict, trace: Path, python: str = sys.executable,
           pytest_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the app's original suite once with the recording plugin (its results do not matter here)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")])),
               PYTHONDONTWRITEBYTECODE="1", ASYNCIFY_ORACLE_TRACE=str(trace),
               ASYNCIFY_ORACLE_DB=json.dumps(config.get("database")))
    return subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "asyncify_record",
                           *pytest_args], cwd=app_dir, capture_output=True, text=True, timeout=900, env=env)


def replay(app_dir: Path, config: dict, trace: Path, workdir: Path, python: str = sys.executable,
           blockbuster: bool = False, extra_path: tuple[str, ...] = ()) -> dict:
    workdir.mkdir(parents=True)
    config_file, out = workdir.parent / f"{workdir.name}-config.json", workdir.parent / f"{workdir.name}-out.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    if extra_path:  # appended: the app's own environment wins
        env["PYTHONPATH"] = os.pathsep.join(extra_path)
    args = [python, str(REPLAY), str(app_dir), str(trace), str(config_file), str(out)]
    proc = subprocess.run(args + (["--blockbuster"] if blockbuster else []), cwd=workdir, capture_output=True,
                          text=True, timeout=900, env=env)
    if not out.exists():
        raise RuntimeError(f"replay of {app_dir} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def migrate(src: Path, dst: Path, strategy: str) -> subprocess.CompletedProcess:
    shutil.copytree(src, dst, ignore=_IGNORE)
    extra = ["--strategy", "bridge"] if strategy == "bridge" else []
    return subprocess.run([sys.executable, "-m", "asyncify_lint", "--fix", "--unsafe-fixes", *extra, "."], cwd=dst,
                          capture_output=True, text=True, timeout=900)


def run_app(app: str, src: Path, tmp: Path, config: dict | None = None,
            strategies: tuple[str, ...] = ("migrate", "bridge")) -> dict[str, Report]:
    """Record the app's suite, replay it on the original and on each strategy's migration, compare."""
    config = config if config is not None else load_config(app)
    original = tmp / "original"
    shutil.copytree(src, original, ignore=_IGNORE)
    trace = tmp / "trace"
    proc = record(original, config, trace)
    if not (trace / "requests.jsonl").exists():
        raise RuntimeError(f"{app}: the suite made no request through TestClient/ASGITransport:\n"
                           f"{proc.stdout[-3000:]}")
    recorded = read_trace(trace)
    base = replay(original, config, trace, tmp / "run-original")
    reports = {}
    for strategy in strategies:
        copy = tmp / f"migrated-{strategy}"
        fix = migrate(src, copy, strategy)
        if fix.returncode not in (0, 1):
            raise RuntimeError(f"{app}: asyncify-lint failed:\n{fix.stderr[-3000:]}")
        result = replay(copy, config, trace, tmp / f"run-{strategy}", blockbuster=True)
        reports[strategy] = compare(app, strategy, recorded, base, result, config.get("expected_blocking", []))
    return reports
