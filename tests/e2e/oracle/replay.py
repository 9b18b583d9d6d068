"""Replay a recorded request sequence against one copy of an app, in a fresh process (standalone: it is
run with the app's own interpreter, and imports nothing from asyncify-lint; asyncify_pg, beside the
recording plugin, runs the PostgreSQL client binaries).

    python replay.py APP_DIR TRACE_DIR CONFIG_JSON OUT_JSON [--blockbuster]

The working directory is a fresh, empty directory: the app's SQLite database lives there. Before the
app is imported, the environment is set from the configuration (`database`, `env`), and the snapshot
of the first segment is copied to the database file; on PostgreSQL (`database.postgresql`, resolved
by the harness: the server, this side's database name, the app's variables), this side's database is
created anew from that snapshot (schema and data; empty without one, or when the suite ran on SQLite:
then the app or `metadata` creates the tables). The app is imported and entered with `TestClient` as
a context manager, so its lifespan/startup handlers run (they may create the tables); `metadata`,
when configured, creates the schema with the app's own engine (`run_sync` on an `AsyncEngine`). No
dependency is overridden: each request goes through the app's own session dependency.

For each recorded request, in order: at the first request of a segment (a test of the recorded run)
the database is dumped (the state the previous segment left); at a request that has a snapshot (the
first of its segment, or one before which the test wrote to the database itself) the database is
restored from it (on PostgreSQL the rows are put back in place, see asyncify_pg; a SQLite snapshot
is copied into the PostgreSQL tables); opaque generated values (UUIDs, JWTs, long random tokens) that
the recorded responses carried are replaced in the request by the values this run's responses carried
at the same place; the request is sent, without following a redirect (Starlette's TestClient on
httpx, or the requests-based one of Starlette before 0.21); the response, or the exception the app
raised, is written out, with the frames it came from (the app's innermost one first). With
`--blockbuster`, blockbuster is active for the whole run (but for DRIVER_INTERNALS): a blocking call
on the event loop raises `BlockingError`, recorded as `blocked`; one that is caught before it reaches
the client is recorded as `caught_blocking` (the comparison counts it when the response differs).
`RuntimeWarning`s are errors, and an exception that cannot be raised (a coroutine never awaited,
reported when it is collected) is recorded on the request.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import importlib
import inspect
import json
import os
import re
import shutil
import sqlite3
import sys
import sysconfig
import traceback
import warnings
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent / "plugins"))  # asyncify_pg; the app's path wins

OPAQUE = re.compile(
    r"^(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"  # uuid
    r"|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,})$"  # long random token
)


#: Where the async drivers themselves block, once per connection or per process: asyncpg reads libpq's
#: files (~/.pgpass, ~/.postgresql/*) as it connects, psycopg 3 loads the time zone the server names
#: from the tz database. Not the app's code, and nothing a migration could change: blockbuster lets
#: these frames block.
DRIVER_INTERNALS = [("asyncpg/connect_utils.py", {"_parse_connect_dsn_and_args"}), ("psycopg/_tz.py", {"get_tzinfo"})]


def _learn(recorded, actual, mapping: dict[str, str]) -> None:
    """Pair the opaque values of a recorded response with this run's, at the same JSON place."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        for key, value in recorded.items():
            if key in actual:
                _learn(value, actual[key], mapping)
    elif isinstance(recorded, list) and isinstance(actual, list) and len(recorded) == len(actual):
        for a, b in zip(recorded, actual):
            _learn(a, b, mapping)
    elif isinstance(recorded, str) and isinstance(actual, str) and recorded != actual:
        if OPAQUE.match(recorded) and OPAQUE.match(actual):
            mapping[recorded] = actual


def _substitute(text: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        if old in text:
            text = text.replace(old, new)
    return text


def _json(body: dict):
    try:
        return json.loads(body["text"])
    except (KeyError, ValueError):
        return None


def _blocking(exc: BaseException | None, seen=None) -> BaseException | None:
    """The BlockingError in an exception's chain or group, if any."""
    seen = seen or set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "BlockingError":
            return exc
        for inner in getattr(exc, "exceptions", ()) or ():
            found = _blocking(inner, seen)
            if found is not None:
                return found
        exc = exc.__cause__ or exc.__context__
    return None


def _frames(stack: list[traceback.FrameSummary], app_dir: Path) -> list[str]:
    """Where an exception was raised: the innermost frame in the app's directory, then the frames outside
    the standard library below it (the libraries that made the call); blockbuster's own left out."""
    stdlib = sysconfig.get_paths()["stdlib"]
    frames = [f for f in stack if "blockbuster" not in f.filename and f.filename != __file__]
    in_app = [i for i, f in enumerate(frames) if f.filename.startswith(str(app_dir))]
    head, below = (frames[in_app[-1]:in_app[-1] + 1], frames[in_app[-1] + 1:]) if in_app else ([], frames)
    kept = head + [f for f in below if not f.filename.startswith((stdlib, "<frozen"))][-5:]
    return [f"{f.filename}:{f.lineno} {f.name}" for f in kept]


def _notice_blocking_errors(current, app_dir: Path) -> None:
    """Note every BlockingError made during a request (`current()["blocking"]`), including one that is
    caught before it reaches the client: by the app (an `except Exception` turning it into a 500), by
    Starlette (a body parser's error response), or by a library that carries on without the result."""
    from blockbuster import BlockingError

    init = BlockingError.__init__

    def noticed(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if current() is not None:
            current()["blocking"].append((f"{self} (caught)", _frames(traceback.extract_stack()[:-1], app_dir)))

    BlockingError.__init__ = noticed


def _dump(db: Path | dict | None) -> dict | None:
    if isinstance(db, dict):  # PostgreSQL: {"server", "database"}
        import asyncify_pg

        return asyncify_pg.dump(db["server"], db["database"])
    if db is None or not db.exists():
        return None
    out = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for name in names:
            cur = conn.execute(f'SELECT * FROM "{name}"')
            cols = [c[0] for c in cur.description]
            out[name] = [dict(zip(cols, [v if not isinstance(v, bytes) else base64.b64encode(v).decode() for v in row]))
                         for row in cur.fetchall()]
    finally:
        conn.close()
    return out


def _restore(snapshot: Path, db: Path | dict) -> None:
    if isinstance(db, dict):
        import asyncify_pg

        if snapshot.suffix == ".sqlite":  # recorded on the suite's SQLite database
            asyncify_pg.restore_sqlite(db["server"], db["database"], snapshot)
        else:
            asyncify_pg.restore_data(db["server"], db["database"], snapshot)
        return
    source, target = sqlite3.connect(snapshot), sqlite3.connect(db)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _body(data: bytes) -> dict:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _send(client, method: str, url: str, content: bytes, headers: list[tuple[str, str]]):
    """One request as recorded: a redirect is not followed (the recording has the next hop, if any)."""
    if "content" in inspect.signature(client.request).parameters:  # httpx-based TestClient
        return client.request(method, url, content=content, headers=headers, follow_redirects=False)
    # Starlette before 0.21: a requests.Session; a header given twice is kept once (the last)
    return client.request(method, url, data=content, headers=dict(headers), allow_redirects=False)


def _create_schema(config: dict) -> None:
    metadata_ref, engine_ref = config.get("metadata"), config.get("engine")
    if not (metadata_ref and engine_ref):
        return
    for module in config.get("import", []):
        importlib.import_module(module)
    metadata, engine = _resolve(metadata_ref), _resolve(engine_ref)
    if hasattr(engine, "sync_engine"):  # an AsyncEngine: the migrated app

        async def create():
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)

        asyncio.run(create())
        if not engine.pool.__class__.__name__ == "StaticPool":
            asyncio.run(engine.dispose())
    else:
        metadata.create_all(engine)


def _resolve(ref: str):
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv: list[str]) -> int:
    app_dir, trace_dir, config_path, out_path = (Path(a).resolve() for a in argv[:4])
    use_blockbuster = "--blockbuster" in argv[4:]
    config = json.loads(config_path.read_text(encoding="utf-8"))
    requests = [json.loads(line) for line in (trace_dir / "requests.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
    cwd = Path.cwd()
    fmt = {"cwd": str(cwd)}

    spec = config.get("database") or {}
    db: Path | dict | None = None
    if "postgresql" in spec:  # resolved by the harness: server, this side's database, the app's variables
        pg = spec["postgresql"]
        db = {"server": pg["server"], "database": pg["database"]}
        os.environ.update(pg["env"])
    elif "file" in spec or "env" in spec:
        db = cwd / spec.get("file", "oracle.db")
        fmt["path"] = str(db)
        if "env" in spec:
            os.environ[spec["env"]] = spec.get("url", "sqlite:///{path}").format(**fmt)
    for name, value in (config.get("env") or {}).items():
        os.environ[name] = value.format(**fmt)
    for name in config.get("copy_files") or []:  # files the app reads from its working directory (.env)
        shutil.copyfile(app_dir / name, cwd / name)
    first = next((r["snapshot"] for r in requests if r.get("snapshot")), None)
    if isinstance(db, dict):
        import asyncify_pg

        schema = trace_dir / first if first and first.endswith(".pgdump") else None
        asyncify_pg.create(db["server"], db["database"], schema)
    elif db is not None and first:
        shutil.copyfile(trace_dir / first, db)

    sys.path[:0] = [str(app_dir / d) for d in config.get("path") or []] + [str(app_dir)]
    warnings.simplefilter("error", RuntimeWarning)
    current = {"errors": [], "blocking": []}
    unraisable: list[str] = []

    def hook(info):
        text = f"{type(info.exc_value).__name__}: {info.exc_value}"
        (current["errors"] if current is not None else unraisable).append(text)

    sys.unraisablehook = hook

    from starlette.testclient import TestClient

    drivers: dict[str, int] = {}  # the DBAPI drivers the app ran statements with during requests, how often
    in_request = [False]
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        @event.listens_for(Engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            if in_request[0]:
                drivers[conn.engine.dialect.driver] = drivers.get(conn.engine.dialect.driver, 0) + 1
    except ImportError:  # pragma: no cover - not a SQLAlchemy app
        pass

    results: list[dict] = []
    states: dict[str, dict | None] = {}
    startup_error = None
    try:
        app = _resolve(config["app"])
        _create_schema(config)
    except BaseException as exc:  # the app does not even import: every request fails
        startup_error = f"{type(exc).__name__}: {exc}"
    if startup_error is None:
        ctx = None
        if use_blockbuster:
            from blockbuster import blockbuster_ctx

            ctx = blockbuster_ctx()
            for function in ctx.__enter__().functions.values():
                for filename, functions in DRIVER_INTERNALS:
                    function.can_block_in(filename, functions)
            _notice_blocking_errors(lambda: current, app_dir)
        try:
            with TestClient(app, raise_server_exceptions=True) as client:
                mapping: dict[str, str] = {}
                segment = None
                for rec in requests:
                    if rec["segment"] != segment:
                        if segment is not None:
                            states[str(segment)] = _dump(db)
                        segment = rec["segment"]
                    if db is not None and rec.get("snapshot"):  # a test's first request, or one after
                        _restore(trace_dir / rec["snapshot"], db)  # the test wrote to the database
                    current = {"errors": [], "blocking": []}
                    body = rec["body"]
                    content = (_substitute(body["text"], mapping).encode("utf-8") if "text" in body
                               else base64.b64decode(body["b64"]))
                    headers = [(k, _substitute(v, mapping)) for k, v in rec["headers"]]
                    result: dict = {"n": rec["n"]}
                    client.cookies.clear()  # the recorded headers carry the cookies the test sent
                    in_request[0] = True
                    try:
                        response = _send(client, rec["method"], _substitute(rec["url"], mapping), content, headers)
                        result.update(status=response.status_code,
                                      content_type=response.headers.get("content-type", ""),
                                      body=_body(response.content))
                        recorded = rec.get("response") or {}
                        if "body" in recorded:
                            _learn(_json(recorded["body"]), _json(result["body"]), mapping)
                    except BaseException as exc:  # noqa: BLE001 - every failure is a result
                        blocked = _blocking(exc)
                        if blocked is not None:
                            result["blocked"] = str(blocked)
                            result["blocked_at"] = _frames(traceback.extract_tb(blocked.__traceback__), app_dir)
                        else:
                            result["error"] = f"{type(exc).__name__}: {exc}"
                            result["error_at"] = _frames(traceback.extract_tb(exc.__traceback__), app_dir)
                        if isinstance(exc, KeyboardInterrupt):
                            raise
                    finally:
                        in_request[0] = False
                    gc.collect()
                    if "blocked" not in result and current["blocking"]:  # raised, then caught (see compare)
                        result["caught_blocking"] = current["blocking"][-10:]
                    result["errors"] = current["errors"]
                    results.append(result)
                    current = None
                if segment is not None:
                    states[str(segment)] = _dump(db)
        except BaseException as exc:  # lifespan failures
            startup_error = f"{type(exc).__name__}: {exc}"
        finally:
            if ctx is not None:
                ctx.__exit__(None, None, None)
    gc.collect()
    Path(out_path).write_text(json.dumps({"app_dir": str(app_dir), "startup_error": startup_error,
                                          "results": results, "states": states,
                                          "unraisable": unraisable, "drivers": drivers}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
