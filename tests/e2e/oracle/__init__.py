"""The async-path oracle: the same requests, against the original sync app and the migrated one.

A green suite after a migration does not prove the async path: a suite whose conftest overrides the
session dependency with a sync `Session` never runs the app's own `AsyncSession`. The oracle runs the
app's own request path on both sides and compares what the clients see:

1. record: the ORIGINAL suite is run once, unchanged, with the `asyncify_record` plugin
   (tests/e2e/plugins), which writes every request it sends to the app (method, path and query,
   headers, body) and the response, grouped by test, with a snapshot of the database taken at each
   test's first request, and again before a later request of the test when the test itself wrote to
   the database in between (a fixture seeding through its own session);
2. replay (replay.py, a fresh process per app copy, in the app's own interpreter, working directory a
   fresh empty directory): the app is pointed at a new database of its own through its own settings (an
   environment variable it reads, or the relative path it hard-codes), as the per-app configuration
   says (oracle/apps/<app>.json); the sequence is sent with `TestClient` through the app's own
   dependencies (no override), each request on the state its recorded run saw (the snapshots are
   restored at the same points). The migrated copy runs under blockbuster, with `RuntimeWarning`s as
   errors;
3. compare: status code, content type and body of each response (JSON compared as data), and the
   database content left by each test, after normalisation (below); a request that hit a blocking call
   on the event loop is counted as blocked, and so is one whose response differs after a blocking call
   was stopped and the exception caught on its way (an app turning every exception into a 500).

Both replays run with the same PYTHONHASHSEED (set orders, hence enum listings in validation errors,
agree), redirects are not followed (the recording has each hop), and the blocking calls the async
drivers make themselves (asyncpg reading libpq's files as it connects, psycopg loading the server's
time zone) are let through: no migration could avoid them.

Normalisation (the same on both sides): a UUID (with or without dashes: SQLite stores them as 32 hex
digits) becomes `<uuid:N>`, N numbering the distinct UUIDs of a test (its responses, then the rows
it left, sorted with the UUIDs masked) in order of first appearance, so two runs agree when the same
place holds the same (generated) id; a JWT becomes `<jwt>`; a salted password hash (bcrypt, argon2,
pbkdf2, sha-crypt: `$2b$12$...`) becomes `<password-hash>`; an ISO 8601 date-time becomes
`<datetime>`. Integer ids are not normalised: from the same state, the same sequence generates the
same ones. Opaque values a test took from a response (a created item's UUID, a token) are followed
by the replay: replay.py substitutes, in later requests, the value the recorded response held by the
one this run's response holds at the same place.

Configuration (oracle/apps/<app>.json, data only):
- "app": "module:attribute" of the FastAPI app, imported with the app directory on sys.path;
- "path": directories of the app (relative) put on sys.path before it, and on the suite's PYTHONPATH
  (a `src/` layout);
- "database": where the app's database is. SQLite: {"file": "sql_app.db"} (a path relative to the
  working directory that the app hard-codes) or {"env": "DATABASE_URL"} (the variable the app's
  settings read; the replay sets it to `url`, default "sqlite:///{path}"). Absent: the app uses an
  in-memory database (fresh in every process; no snapshots, no state comparison).
  PostgreSQL: {"postgresql": {"env": {NAME: TEMPLATE, ...}, "suite_database": ...}}. "env" says how
  the app reads its connection, one URL variable ({"DATABASE_URL": "{url}"}, or a template such as
  "postgresql+psycopg2://{user}:{password}@{host}:{port}/{database}") or separate variables
  ({"POSTGRES_HOST": "{host}", "POSTGRES_PORT": "{port}", "POSTGRES_DB": "{database}", ...; a host
  variable that must carry the port too: "{host}:{port}"}); the placeholders are host, port, user,
  password, database and url (postgresql://user:password@host:port/database, quoted), and one variable
  at least must hold {database} or {url}. The harness starts a private server for the run (initdb and
  pg_ctl from PG_BIN or the pg_ctl on PATH; as root, as the `postgres` account through runuser), and
  every run gets a database of its own on it: "oracle_record" for the recording (the suite gets the
  variables too), one per replay (the app's sync driver and the migrated app's async one, asyncpg or
  psycopg 3, both reach it through the same variables). "suite_database" is the database the suite's
  requests reach when it is not the app's own: a name template ("{database}_test": a conftest with an
  engine of its own), or {"sqlite": {}} when the suite runs the app on SQLite ({} its in-memory
  StaticPool engine; {"file": ...} or {"env": ...} as above) while the app itself is on PostgreSQL:
  then the replay creates the tables (the app, or "metadata" below) and copies each SQLite snapshot's
  rows into them. Snapshots are `pg_dump`s of what is committed; the first creates the replay's
  database (schema and data), the later ones are put back in place, in one transaction (rows deleted
  with foreign keys off, copied back, sequences set), so the app's open connections stay valid. The
  state compared is every table's rows as JSON (`json_agg`);
- "env": other variables the app reads (the suite gets them too), formatted with {cwd};
- "copy_files": files of the app directory the app reads from its working directory (".env");
- "metadata", "engine", "import": optional, for an app that creates no tables itself: the
  MetaData and engine ("module:attr") to run `create_all` with before the first request;
- "expected_blocking": requests that still block the event loop after the migration by design
  (a MANUAL AFY100 the tool leaves for review), or that block it before the app's own code runs, in
  the sync app as well (FastAPI parses and validates the request body on the event loop), as
  [{"method", "path" (a regex), "where" (optional: a regex searched in the blocking call and the
  frames it was made from), "reason"}];
- "random_values": regexes of values the app draws at random (a file name made with `random.choices`),
  replaced by `<random>` in responses and database states before they are compared.

What the replay cannot reproduce: a test's mocks (an S3 client patched by the suite is real in the
replay: both sides then fail the same way), and the clock (a test that moves it with freezegun sees
other expiries): the original replay's fidelity to the recorded status codes shows how much of this
there is.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import string
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
PLUGINS = HERE.parent / "plugins"
CONFIGS = HERE / "apps"
REPLAY = HERE / "replay.py"

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# a salted password hash in the modular crypt format: bcrypt, argon2, passlib's pbkdf2, sha256/512-crypt
_PASSWORD_HASH = re.compile(r"\$(?:2[abxy]?|argon2(?:id|i|d)|pbkdf2(?:-[a-z0-9]+)?|[56])\$[^\s\"']{20,}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", ".pytest_cache", ".asyncify_cache")


def load_config(app: str) -> dict:
    return json.loads((CONFIGS / f"{app}.json").read_text(encoding="utf-8"))


PG_FIELDS = ("host", "port", "user", "password", "database", "url")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def postgres_config(config: dict) -> dict | None:
    """The "database": {"postgresql": ...} part of a configuration, checked, with its defaults; None when
    the app is on SQLite. Raises ValueError on a configuration the harness could not apply."""
    pg = (config.get("database") or {}).get("postgresql")
    if pg is None:
        return None
    env = pg.get("env") if isinstance(pg, dict) else None
    if not (isinstance(env, dict) and env and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ValueError('"database": {"postgresql": {"env": ...}} must map variable names to templates')
    suite = pg.get("suite_database", "{database}")
    if not (isinstance(suite, str) or (isinstance(suite, dict) and set(suite) == {"sqlite"}
                                       and isinstance(suite["sqlite"], dict))):
        raise ValueError('"suite_database": a name template, or {"sqlite": {...}} (the suite\'s SQLite database)')
    for template in (*env.values(), *([suite] if isinstance(suite, str) else [])):
        unknown = _placeholders(template) - set(PG_FIELDS)
        if unknown:
            raise ValueError(f"{template!r}: unknown placeholder(s) {sorted(unknown)}; known: {list(PG_FIELDS)}")
    if not any(_placeholders(v) & {"database", "url"} for v in env.values()):
        raise ValueError("no variable of \"env\" holds {database} or {url}: the app would not reach its own database")
    unknown_keys = set(pg) - {"env", "suite_database"}
    if unknown_keys:
        raise ValueError(f'"postgresql": unknown key(s) {sorted(unknown_keys)}')
    return {"env": dict(env), "suite_database": suite}


def _pg_values(server: dict, database: str) -> dict[str, str]:
    values = {"host": server["host"], "port": str(server["port"]), "user": server["user"],
              "password": server.get("password", ""), "database": database}
    values["url"] = (f"postgresql://{quote(values['user'], safe='')}:{quote(values['password'], safe='')}"
                     f"@{values['host']}:{values['port']}/{quote(database, safe='')}")
    return values


def postgres_env(pg: dict, server: dict, database: str) -> dict[str, str]:
    """The app's variables (`pg` from postgres_config) pointing it at `database` on `server`."""
    values = _pg_values(server, database)
    return {name: template.format(**values) for name, template in pg["env"].items()}


def side_database(name: str) -> str:
    """The PostgreSQL database of one record or replay run (a lower-case identifier)."""
    return "oracle_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _pg():
    """tests/e2e/plugins/asyncify_pg.py (stdlib only), which the app-side processes import too."""
    if "asyncify_pg" not in sys.modules:
        spec = importlib.util.spec_from_file_location("asyncify_pg", PLUGINS / "asyncify_pg.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["asyncify_pg"]


@contextmanager
def database_server(config: dict) -> Iterator[dict | None]:
    """A private PostgreSQL server for the whole run when the app is on PostgreSQL (None on SQLite)."""
    if postgres_config(config) is None:
        yield None
        return
    pg = _pg()
    server = pg.start()
    try:
        yield server
    finally:
        pg.stop(server)


class Normaliser:
    """Rewrites generated values of one run (see the module docstring); one instance per run."""

    def __init__(self, numbered: bool = True, random_values: list[str] | tuple[str, ...] = ()) -> None:
        self.uuids: dict[str, int] = {}
        self.numbered = numbered  # False: every UUID becomes `<uuid>`
        #: the app's own random values ("random_values" of the configuration), each becomes `<random>`
        self.random = [re.compile(p) for p in random_values]

    def _uuid(self, match: re.Match) -> str:
        if not self.numbered:
            return "<uuid>"
        key = match.group(0).replace("-", "").lower()
        return f"<uuid:{self.uuids.setdefault(key, len(self.uuids) + 1)}>"

    def text(self, value: str) -> str:
        for pattern in self.random:
            value = pattern.sub("<random>", value)
        value = _PASSWORD_HASH.sub("<password-hash>", value)
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
    """A database dump, normalised: each table's rows as sorted JSON texts. The rows are numbered (their
    UUIDs) in an order that does not depend on the generated values (nor on the order the database
    returns them in): sorted with every UUID masked first."""
    if dump is None:
        return None
    masked = Normaliser(numbered=False)
    return {table: sorted(json.dumps(norm(row), sort_keys=True)
                          for row in sorted(rows, key=lambda r: json.dumps(masked(r), sort_keys=True)))
            for table, rows in dump.items()}


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
    blocked_calls: dict[str, int] = field(default_factory=dict)  # "call in frame": requests it stopped
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
        lines += [f"  blocked by: {call} ({n} requests)" for call, n in self.blocked_calls.items()]
        lines += [f"  unexpected blocked: {b}" for b in self.unexpected_blocked[:8]]
        if len(self.unexpected_blocked) > 8:
            lines.append(f"  ... and {len(self.unexpected_blocked) - 8} more unexpected blocked requests")
        lines += [f"  expected to block, did not: {b}" for b in self.expected_not_blocked]
        lines += [f"  {d}" for d in self.diffs[:8]]
        return "\n".join(lines)


def compare(app: str, strategy: str, recorded: list[dict], original: dict, migrated: dict,
            expected_blocking: list[dict] = (), random_values: list[str] = ()) -> Report:
    rep = Report(app, strategy, requests=len(recorded), startup_error=migrated["startup_error"],
                 drivers=migrated.get("drivers") or {})
    if original["startup_error"]:
        rep.startup_error = f"original: {original['startup_error']}"
    # one pair of normalisers per segment: UUIDs are numbered within a test, so a difference in one test
    # does not shift the numbering of every test after it
    norms: dict[int, tuple[Normaliser, Normaliser]] = {}
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
        n_orig, n_mig = norms.setdefault(rec["segment"], (Normaliser(random_values=random_values),
                                                          Normaliser(random_values=random_values)))
        ra, rb = _response(a, n_orig), _response(b, n_mig)
        if "blocked" not in b and b.get("caught_blocking") and ra != rb and rec["segment"] not in blocked_segments:
            # a blocking call was stopped, the exception caught on its way, and the client saw a difference
            message, at = _caught(b["caught_blocking"], migrated.get("app_dir", ""))
            b = dict(b, blocked=message, blocked_at=at)
        if "blocked" in b:
            rep.blocked += 1
            blocked_segments.add(rec["segment"])
            at = b.get("blocked_at") or ["?"]
            call = f"{b['blocked']} in {at[0]}" + (f" via {at[-1]}" if len(at) > 1 else "")
            rep.blocked_calls[call] = rep.blocked_calls.get(call, 0) + 1
            matches = [i for i, e in enumerate(expected_blocking)
                       if e["method"] == rec["method"] and re.fullmatch(e["path"], rec["url"].split("?")[0])
                       and re.search(e.get("where", ""), "\n".join([b["blocked"], *at]))]
            if matches:
                rep.blocked_expected += 1
                seen_expected.update(matches)
            else:
                rep.unexpected_blocked.append(f"{where}: {call}")
            continue
        if ra == rb:
            rep.identical += 1
        elif rec["segment"] in blocked_segments:
            rep.differing_after_blocked += 1
        elif "error" in b:
            rep.errors += 1
            at = b.get("error_at") or []
            at = f" (in {at[0]}" + (f" via {at[-1]})" if len(at) > 1 else ")") if at else ""
            rep.diffs.append(f"{where}: the migrated app raised {b['error'].splitlines()[0][:300]}{at}")
        else:
            rep.differing += 1
            rep.diffs.append(f"{where}: original {_short(ra)} != migrated {_short(rb)}")
    rep.expected_not_blocked = [f"{e['method']} {e['path']} ({e.get('reason', '')})"
                                for i, e in enumerate(expected_blocking) if i not in seen_expected]
    for segment in sorted(set(original["states"]) | set(migrated["states"]), key=int):
        n_orig, n_mig = norms.setdefault(int(segment), (Normaliser(random_values=random_values),
                                                        Normaliser(random_values=random_values)))
        sa, sb = _state(original["states"].get(segment), n_orig), _state(migrated["states"].get(segment), n_mig)
        if (sa is None and sb is None) or int(segment) in blocked_segments:
            continue  # no file database, or a test whose requests were cut short by a blocking call
        rep.states += 1
        if sa != sb:
            rep.states_differing += 1
            tables = sorted(t for t in set(sa or {}) | set(sb or {}) if (sa or {}).get(t) != (sb or {}).get(t))
            rep.diffs.append(f"database after segment {segment}: tables {tables} differ")
    return rep


def _caught(caught: list, app_dir: str) -> tuple[str, list[str]]:
    """The caught BlockingError that most likely changed the response: the last one the app's own code
    made, else the last one."""
    mine = [c for c in caught if app_dir and c[1] and c[1][0].startswith(app_dir)]
    return tuple((mine or caught)[-1])


def _short(value, limit: int = 300) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def read_trace(trace: Path) -> list[dict]:
    return [json.loads(line) for line in (trace / "requests.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def record(app_dir: Path, config: dict, trace: Path, python: str = sys.executable,
           pytest_args: tuple[str, ...] = (), server: dict | None = None) -> subprocess.CompletedProcess:
    """Run the app's original suite once with the recording plugin (its results do not matter here).

    The suite gets the configuration's "env"; on PostgreSQL, the app's variables name a new database
    on `server`, and the database its requests reach (`suite_database`) is the one snapshotted."""
    database = config.get("database")
    path = [str(PLUGINS), *(str(app_dir / d) for d in config.get("path") or []), os.environ.get("PYTHONPATH")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)), PYTHONDONTWRITEBYTECODE="1",
               PYTHONHASHSEED="0", ASYNCIFY_ORACLE_TRACE=str(trace))
    env.update({name: value.format(cwd=app_dir) for name, value in (config.get("env") or {}).items()})
    pg = postgres_config(config)
    if pg is not None:
        if server is None:
            raise ValueError("a PostgreSQL app needs a server (database_server)")
        name = side_database("record")
        databases = [name]
        suite = pg["suite_database"]
        if isinstance(suite, str):  # snapshots of the PostgreSQL database the suite's requests reach
            databases.append(suite.format(**_pg_values(server, name)))
            database = {"postgresql": {"server": server, "database": databases[-1]}}
        else:  # the suite runs the app on SQLite: snapshots of that database
            database = suite["sqlite"] or None
        for db in dict.fromkeys(databases):
            _pg().create(server, db)
        env.update(postgres_env(pg, server, name))
    env["ASYNCIFY_ORACLE_DB"] = json.dumps(database)
    return subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "asyncify_record",
                           *pytest_args], cwd=app_dir, capture_output=True, text=True, timeout=900, env=env)


def replay(app_dir: Path, config: dict, trace: Path, workdir: Path, python: str = sys.executable,
           blockbuster: bool = False, extra_path: tuple[str, ...] = (), server: dict | None = None) -> dict:
    """Replay the trace against one copy of the app (replay.py in `python`), in `workdir`; on PostgreSQL,
    on a database of its own on `server`, named after `workdir`."""
    workdir.mkdir(parents=True)
    pg = postgres_config(config)
    if pg is not None:
        if server is None:
            raise ValueError("a PostgreSQL app needs a server (database_server)")
        name = side_database(workdir.name)
        config = dict(config, database={"postgresql": {"server": server, "database": name,
                                                       "env": postgres_env(pg, server, name)}})
    config_file, out = workdir.parent / f"{workdir.name}-config.json", workdir.parent / f"{workdir.name}-out.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")  # the same set orders on both sides
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
    with database_server(config) as server:
        proc = record(original, config, trace, server=server)
        if not (trace / "requests.jsonl").exists():
            raise RuntimeError(f"{app}: the suite made no request through TestClient/ASGITransport:\n"
                               f"{proc.stdout[-3000:]}")
        recorded = read_trace(trace)
        base = replay(original, config, trace, tmp / "run-original", server=server)
        reports = {}
        for strategy in strategies:
            copy = tmp / f"migrated-{strategy}"
            fix = migrate(src, copy, strategy)
            if fix.returncode not in (0, 1):
                raise RuntimeError(f"{app}: asyncify-lint failed:\n{fix.stderr[-3000:]}")
            result = replay(copy, config, trace, tmp / f"run-{strategy}", blockbuster=True, server=server)
            reports[strategy] = compare(app, strategy, recorded, base, result, config.get("expected_blocking", []),
                                        config.get("random_values", []))
    return reports
