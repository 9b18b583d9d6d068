"""pytest plugin for the async-path oracle (tests/e2e/oracle): record every HTTP request the suite makes
to the app under test, with its response, as JSON lines.

Loaded with `-p asyncify_record` (this directory on PYTHONPATH) in a run of the app's ORIGINAL suite.
It wraps the in-process transports a FastAPI suite uses, Starlette's `TestClient` (httpx-based, or the
requests-based one of Starlette before 0.21) and httpx's `ASGITransport` (for `AsyncClient`), so it sees
each request as sent: method, path and query, headers (cookies included) and body bytes, whatever
client instance or fixture made it.

Environment:
- ASYNCIFY_ORACLE_TRACE: the directory to write `requests.jsonl` and the database snapshots to;
- ASYNCIFY_ORACLE_DB (optional): JSON telling where the app's database is: a SQLite file,
  `{"file": "app.db"}` (relative to the working directory) or `{"env": "DATABASE_URL"}` (the variable
  holding its URL, as the suite's conftest sets it); or a PostgreSQL database, `{"postgresql":
  {"server": {...}, "database": NAME}}` (the database the suite's requests reach, on the server the
  harness started; see asyncify_pg). When a SQLite spec is not a file (or none is given), the in-memory
  SQLite database of the engine the suite used last, if it keeps one connection (`StaticPool`, the
  usual test override), is snapshotted instead.

Requests are grouped in segments, one per test (its node id). At the first request of each segment
the database, as the test left it just before that request (after its fixtures and any seeding
through the ORM), is saved: a SQLite file is copied with SQLite's backup API, a PostgreSQL database
with `pg_dump` (what is committed). It is saved again before a later request of the same test when
the test changed it since the previous response (a fixture seeding through its own session between
two requests: the content's digest after each response is compared with the one before the next
request). The replay restores each snapshot at the same point, so every request runs against the
state it ran against here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

_TRACE = os.environ.get("ASYNCIFY_ORACLE_TRACE")
_DB_SPEC = json.loads(os.environ.get("ASYNCIFY_ORACLE_DB") or "null")
_DROP_HEADERS = {"host", "content-length"}

_state: dict = {"test": None, "segment": None, "segments": 0, "n": 0, "out": None, "after": None}


def _db_file() -> Path | None:
    if not _DB_SPEC or "postgresql" in _DB_SPEC:
        return None
    if "file" in _DB_SPEC:
        return Path.cwd() / _DB_SPEC["file"]
    url = os.environ.get(_DB_SPEC.get("env", ""), "")
    if not url.startswith("sqlite") or ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return Path(database) if database else None


_engines: list = []  # SQLite engines that connected, most recent last


def _track_engines() -> None:
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
    except ImportError:  # pragma: no cover
        return

    @event.listens_for(Engine, "engine_connect")
    def _seen(conn, *_):  # SQLAlchemy 1.4 also passes `branch`
        engine = conn.engine
        if engine.dialect.name == "sqlite":
            if engine in _engines:
                _engines.remove(engine)
            _engines.append(engine)


@contextmanager
def _sqlite_source() -> Iterator[sqlite3.Connection | None]:
    """A connection to the suite's SQLite database: the configured file, or the in-memory database of a
    `StaticPool` engine (a test override on one shared connection); None when there is neither."""
    src = _db_file()
    if src is not None and src.exists():
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            yield source
        finally:
            source.close()
    elif src is None and _engines and _engines[-1].pool.__class__.__name__ == "StaticPool":
        # its one connection, not checked out: checking it in again would roll back what the test's
        # session has not committed
        yield _engines[-1].pool.connection.dbapi_connection
    else:
        yield None


def _snapshot(n: int) -> str | None:
    """Save the database as it is before request `n`; its path relative to the trace directory."""
    if _DB_SPEC and "postgresql" in _DB_SPEC:
        import asyncify_pg

        rel = f"db/{n:05d}.pgdump"
        (Path(_TRACE) / rel).parent.mkdir(parents=True, exist_ok=True)
        pg = _DB_SPEC["postgresql"]
        return rel if asyncify_pg.snapshot(pg["server"], pg["database"], Path(_TRACE) / rel) else None
    rel = f"db/{n:05d}.sqlite"
    (Path(_TRACE) / rel).parent.mkdir(parents=True, exist_ok=True)
    with _sqlite_source() as source:
        if source is None:
            return None
        target = sqlite3.connect(Path(_TRACE) / rel)
        try:
            source.backup(target)
        finally:
            target.close()
    return rel


def _fingerprint() -> str | None:
    """A digest of the database content (None without a database), to see whether the suite changed it
    between two requests."""
    if _DB_SPEC and "postgresql" in _DB_SPEC:
        import asyncify_pg

        pg = _DB_SPEC["postgresql"]
        try:
            text = json.dumps(asyncify_pg.dump(pg["server"], pg["database"]), sort_keys=True)
        except RuntimeError:  # a table locked by the suite, a database dropped: no comparison
            return None
    else:
        with _sqlite_source() as source:
            if source is None:
                return None
            text = "\n".join(source.iterdump())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _body(data: bytes) -> dict:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _begin(method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> dict:
    _state["n"] += 1
    snapshot = None
    if _state["segment"] is None or _state["segment"][0] != _state["test"]:
        _state["segments"] += 1
        _state["segment"] = (_state["test"], _state["segments"])
        snapshot = _snapshot(_state["n"])
    elif _state["after"] is not None and _fingerprint() != _state["after"]:
        snapshot = _snapshot(_state["n"])  # the test wrote to the database since its last request
    test, segment = _state["segment"]
    headers = [[k, v] for k, v in headers if k.lower() not in _DROP_HEADERS]
    return {"n": _state["n"], "test": test, "segment": segment, "snapshot": snapshot,
            "method": method, "url": url, "headers": headers, "body": _body(body)}


def _begin_httpx(request) -> dict:
    return _begin(request.method, request.url.raw_path.decode("ascii"),
                  [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw], request.read())


def _begin_requests(request) -> dict:
    """A `requests.PreparedRequest` (Starlette's TestClient before 0.21)."""
    body = request.body
    body = body.encode("utf-8") if isinstance(body, str) else body if isinstance(body, bytes) else b""
    return _begin(request.method, request.path_url, list(request.headers.items()), body)


def _finish(entry: dict, response=None, error: BaseException | None = None) -> None:
    if response is not None:
        entry["response"] = {"status": response.status_code,
                             "content_type": response.headers.get("content-type", ""),
                             "body": _body(response.content)}
    else:
        entry["response"] = {"error": f"{type(error).__name__}: {error}"}
    _state["after"] = _fingerprint()
    if _state["out"] is None:
        Path(_TRACE).mkdir(parents=True, exist_ok=True)
        _state["out"] = open(Path(_TRACE) / "requests.jsonl", "w", encoding="utf-8")
    _state["out"].write(json.dumps(entry) + "\n")
    _state["out"].flush()


def _install() -> None:
    try:
        from starlette.testclient import _TestClientTransport
    except ImportError:  # Starlette before 0.21: a requests.Session with an adapter
        _install_requests()
    else:
        sync_handle = _TestClientTransport.handle_request

        def handle_request(self, request):
            entry = _begin_httpx(request)
            try:
                response = sync_handle(self, request)
                response.read()
            except BaseException as exc:
                _finish(entry, error=exc)
                raise
            _finish(entry, response)
            return response

        _TestClientTransport.handle_request = handle_request

    try:
        import httpx
    except ImportError:  # pragma: no cover
        return
    async_handle = httpx.ASGITransport.handle_async_request

    async def handle_async_request(self, request):
        entry = _begin_httpx(request)
        try:
            response = await async_handle(self, request)
            await response.aread()
        except BaseException as exc:
            _finish(entry, error=exc)
            raise
        _finish(entry, response)
        return response

    httpx.ASGITransport.handle_async_request = handle_async_request


def _install_requests() -> None:
    from starlette.testclient import _ASGIAdapter

    send = _ASGIAdapter.send

    def send_recorded(self, request, *args, **kwargs):
        if request.url.startswith(("ws:", "wss:")):  # a WebSocket session is not replayed
            return send(self, request, *args, **kwargs)
        entry = _begin_requests(request)
        try:
            response = send(self, request, *args, **kwargs)
        except BaseException as exc:
            _finish(entry, error=exc)
            raise
        _finish(entry, response)
        return response

    _ASGIAdapter.send = send_recorded


def pytest_configure(config):
    if _TRACE:
        _install()
        _track_engines()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _state["test"] = item.nodeid  # fixtures' requests belong to the test they set up


def pytest_sessionfinish(session, exitstatus):
    if _state["out"] is not None:
        _state["out"].close()
