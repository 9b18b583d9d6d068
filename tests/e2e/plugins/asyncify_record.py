"""pytest plugin for the async-path oracle (tests/e2e/oracle): record every HTTP request the suite makes
to the app under test, with its response, as JSON lines.

Loaded with `-p asyncify_record` (this directory on PYTHONPATH) in a run of the app's ORIGINAL suite.
It wraps the two in-process transports a FastAPI suite uses, Starlette's `TestClient` and httpx's
`ASGITransport` (for `AsyncClient`), so it sees each request as sent: method, path and query,
headers (cookies included) and body bytes, whatever client instance or fixture made it.

Environment:
- ASYNCIFY_ORACLE_TRACE: the directory to write `requests.jsonl` and the database snapshots to;
- ASYNCIFY_ORACLE_DB (optional): JSON telling where the app's SQLite file is, `{"file": "app.db"}`
  (relative to the working directory) or `{"env": "DATABASE_URL"}` (the variable holding its URL,
  as the suite's conftest sets it). When that is not a file (or not given), the in-memory SQLite
  database of the engine the suite used last, if it keeps one connection (`StaticPool`, the usual
  test override), is snapshotted instead.

Requests are grouped in segments, one per test (its node id). At the first request of each segment
the database file, as the test left it just before that request (after its fixtures and any seeding
through the ORM), is copied with SQLite's backup API; the replay restores it at the same point, so
each test's requests run against the state they ran against here.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import pytest

_TRACE = os.environ.get("ASYNCIFY_ORACLE_TRACE")
_DB_SPEC = json.loads(os.environ.get("ASYNCIFY_ORACLE_DB") or "null")
_DROP_HEADERS = {"host", "content-length"}

_state: dict = {"test": None, "segment": None, "segments": 0, "n": 0, "out": None}


def _db_file() -> Path | None:
    if not _DB_SPEC:
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
    def _seen(conn):
        engine = conn.engine
        if engine.dialect.name == "sqlite":
            if engine in _engines:
                _engines.remove(engine)
            _engines.append(engine)


def _snapshot(segment: int) -> str | None:
    rel = f"db/segment-{segment:04d}.sqlite"
    dst = Path(_TRACE) / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    src = _db_file()
    if src is not None and src.exists():
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    elif src is None and _engines and _engines[-1].pool.__class__.__name__ == "StaticPool":
        # no file given: the suite's own in-memory engine (a test override on one shared connection)
        raw = _engines[-1].raw_connection()
        source = raw.driver_connection
    else:
        return None
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        if src is not None:
            source.close()
        else:
            raw.close()
    return rel


def _body(data: bytes) -> dict:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _begin(request) -> dict:
    if _state["segment"] is None or _state["segment"][0] != _state["test"]:
        _state["segments"] += 1
        _state["segment"] = (_state["test"], _state["segments"], _snapshot(_state["segments"]))
    test, segment, snapshot = _state["segment"]
    _state["n"] += 1
    raw = request.url.raw_path.decode("ascii")
    headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw
               if k.decode("latin-1").lower() not in _DROP_HEADERS]
    return {"n": _state["n"], "test": test, "segment": segment, "snapshot": snapshot,
            "method": request.method, "url": raw, "headers": headers, "body": _body(request.read())}


def _finish(entry: dict, response=None, error: BaseException | None = None) -> None:
    if response is not None:
        entry["response"] = {"status": response.status_code,
                             "content_type": response.headers.get("content-type", ""),
                             "body": _body(response.content)}
    else:
        entry["response"] = {"error": f"{type(error).__name__}: {error}"}
    if _state["out"] is None:
        Path(_TRACE).mkdir(parents=True, exist_ok=True)
        _state["out"] = open(Path(_TRACE) / "requests.jsonl", "w", encoding="utf-8")
    _state["out"].write(json.dumps(entry) + "\n")
    _state["out"].flush()


def _install() -> None:
    from starlette.testclient import _TestClientTransport

    sync_handle = _TestClientTransport.handle_request

    def handle_request(self, request):
        entry = _begin(request)
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
        entry = _begin(request)
        try:
            response = await async_handle(self, request)
            await response.aread()
        except BaseException as exc:
            _finish(entry, error=exc)
            raise
        _finish(entry, response)
        return response

    httpx.ASGITransport.handle_async_request = handle_async_request


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
