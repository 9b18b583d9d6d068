"""PostgreSQL for the async-path oracle (tests/e2e/oracle): a private server, per-test snapshots, in-place
restores and table dumps, all done with the PostgreSQL client binaries (stdlib only: this module is
imported by the harness, by the recording plugin in the app's pytest process and by replay.py in the
app's interpreter, and never loads a database driver of its own).

A server is a dict {"host", "port", "user", "password", "bin"} ("bin": the directory of psql, pg_dump,
pg_restore, createdb; "" for PATH).

- `start(work)` runs a throw-away cluster (initdb + pg_ctl; as root, as the `postgres` account through
  runuser, since initdb refuses root) on 127.0.0.1 at a free port, trust authentication; `stop` ends it.
- `snapshot(server, db, file)`: `pg_dump --format=custom` of the whole database (schema and data) as it
  is committed at that moment; it waits at most `LOCK_WAIT` for a lock a test keeps (then no snapshot).
- `create(server, db, file)`: a new, empty database, or one restored from a snapshot (schema and data).
- `restore_data(server, db, file)`: the snapshot's data put back in place in an existing database of the
  same schema, in one transaction: every table emptied (`DELETE`, with `session_replication_role =
  replica` so that foreign keys are not checked) and refilled (`COPY`), sequences set to the snapshot's
  values. Tables and their OIDs stay, so the app's open connections (and asyncpg's prepared statements)
  remain valid, and an idle connection's lock does not block it (`DELETE` needs no exclusive lock).
- `restore_sqlite(server, db, file)`: the same from a SQLite snapshot (a suite that runs the app on
  SQLite while the app itself is on PostgreSQL): each SQLite table's rows are copied into the table of
  the same name, which the app created, and every sequence is set past the largest value of its column.
- `dump(server, db)`: every table's rows, {"table" or "schema.table": [row as JSON object]}.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

LOCK_WAIT = "10s"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

_DUMP_FUNCTION = """
CREATE FUNCTION pg_temp.asyncify_oracle_dump() RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  t record;
  rows json;
  result jsonb := '{}';
BEGIN
  FOR t IN SELECT schemaname, tablename FROM pg_tables
           WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2 LOOP
    EXECUTE format('SELECT coalesce(json_agg(r), ''[]'') FROM %I.%I r', t.schemaname, t.tablename) INTO rows;
    result := result || jsonb_build_object(
      CASE WHEN t.schemaname = 'public' THEN t.tablename ELSE t.schemaname || '.' || t.tablename END, rows);
  END LOOP;
  RETURN result::json;
END
$fn$;
SELECT pg_temp.asyncify_oracle_dump();
"""

_TABLES = ("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
           "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")


def _tool(server: dict, name: str) -> str:
    return str(Path(server["bin"]) / name) if server.get("bin") else name


def _env(server: dict) -> dict[str, str]:
    return dict(os.environ, PGHOST=server["host"], PGPORT=str(server["port"]), PGUSER=server["user"],
                PGPASSWORD=server.get("password", ""), PGCONNECT_TIMEOUT="10", PGOPTIONS="")


def run(server: dict, tool: str, *args: str, stdin: str | None = None) -> str:
    """Run a client binary on the server; its stdout. A failure raises RuntimeError with its stderr."""
    proc = subprocess.run([_tool(server, tool), *args], input=stdin, capture_output=True, text=True,
                          env=_env(server), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def psql(server: dict, database: str, sql: str, single_transaction: bool = False) -> str:
    args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-f", "-"]
    return run(server, "psql", *(["-1"] if single_transaction else []), *args, stdin=sql)


def snapshot(server: dict, database: str, file: Path) -> bool:
    """Save the database (schema and data) to `file`; False when it cannot be read now (a lock held)."""
    try:
        run(server, "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
            f"--lock-wait-timeout={LOCK_WAIT}", "-d", database, "-f", str(file))
    except RuntimeError:
        return False
    return True


def create(server: dict, database: str, file: Path | None = None) -> None:
    """A new database `database` (dropped first if it exists), restored from a snapshot when given."""
    run(server, "dropdb", "--if-exists", "--force", database)
    run(server, "createdb", database)
    if file is not None:
        run(server, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            "-d", database, str(file))


def restore_sql(tables: list[str], data: str) -> str:
    """The script putting a snapshot's data (`pg_restore --data-only` output) in place of `tables`' rows."""
    return "\n".join(["SET session_replication_role = replica;",
                      *(f"DELETE FROM {table};" for table in tables), data])


def restore_data(server: dict, database: str, file: Path) -> None:
    tables = [t for t in psql(server, database, _TABLES + ";").splitlines() if t]
    data = run(server, "pg_restore", "--data-only", "--no-owner", "--no-privileges", "-f", "-", str(file))
    psql(server, database, restore_sql(tables, data), single_transaction=True)


_RESET_SEQUENCES = """
DO $fn$
DECLARE
  r record;
  top bigint;
BEGIN
  FOR r IN SELECT s.oid::regclass AS seq, format('%I.%I', n.nspname, t.relname) AS tab, a.attname AS col
           FROM pg_class s
           JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
                           AND d.refclassid = 'pg_class'::regclass
           JOIN pg_class t ON t.oid = d.refobjid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
           WHERE s.relkind = 'S' LOOP
    EXECUTE format('SELECT max(%I) FROM %s', r.col, r.tab) INTO top;
    PERFORM setval(r.seq, coalesce(top, 1), top IS NOT NULL);
  END LOOP;
END
$fn$;
"""


def _csv(value) -> str:
    """A SQLite value as a CSV field of COPY: NULL unquoted and empty, bytes as bytea hex."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = "\\x" + value.hex()
    return '"' + str(value).replace('"', '""') + '"'


def sqlite_copy(source: sqlite3.Connection, tables: dict[str, str]) -> str:
    """COPY statements (with their data) for the rows of the SQLite tables that `tables` (bare name ->
    qualified PostgreSQL name) has; a SQLite table holding rows that PostgreSQL lacks is an error."""
    parts = []
    names = [r[0] for r in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for name in names:
        cursor = source.execute(f'SELECT * FROM "{name}"')
        rows = cursor.fetchall()
        if not rows:
            continue
        if name not in tables:
            raise RuntimeError(f"the SQLite snapshot has rows in {name!r}, which the PostgreSQL database lacks")
        columns = ", ".join('"' + c[0].replace('"', '""') + '"' for c in cursor.description)
        data = "".join(",".join(_csv(v) for v in row) + "\n" for row in rows)
        parts.append(f"COPY {tables[name]} ({columns}) FROM STDIN WITH (FORMAT csv);\n{data}\\.")
    return "\n".join(parts)


def restore_sqlite(server: dict, database: str, file: Path) -> None:
    tables = [t for t in psql(server, database, _TABLES + ";").splitlines() if t]
    bare = {t.split(".", 1)[1].strip('"'): t for t in tables}
    source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        data = sqlite_copy(source, bare)
    finally:
        source.close()
    psql(server, database, restore_sql(tables, data) + _RESET_SEQUENCES, single_transaction=True)


def dump(server: dict, database: str) -> dict[str, list[dict]]:
    return json.loads(psql(server, database, _DUMP_FUNCTION).strip() or "{}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> list[str]:
    """initdb refuses root: as root, the server's commands run as the `postgres` account."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", os.environ.get("PG_OS_USER", "postgres"), "--"]


def binaries() -> str | None:
    """The directory of the PostgreSQL binaries: PG_BIN, else where the `pg_ctl` on PATH really is."""
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    found = shutil.which("pg_ctl")
    return str(Path(found).resolve().parent) if found else None


def start(work: Path | None = None) -> dict:
    """A throw-away cluster; the returned server also holds "data" (its directory) for `stop`."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries: put pg_ctl on PATH or set PG_BIN")
    root = Path(tempfile.mkdtemp(prefix="asyncify-oracle-pg-", dir=work))
    as_user = _as_user()
    if as_user:
        shutil.chown(root, user=as_user[2])
        os.chmod(root, 0o755)
    port = _free_port()
    data = root / "data"
    subprocess.run([*as_user, str(Path(bin_dir) / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, text=True)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    subprocess.run([*as_user, str(Path(bin_dir) / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
                    "-w", "-s", "-o", options, "start"], check=True, capture_output=True, text=True)
    server = {"host": "127.0.0.1", "port": port, "user": "postgres", "password": "postgres", "bin": bin_dir,
              "data": str(data)}
    for _ in range(50):
        try:
            run(server, "psql", "-X", "-q", "-d", "postgres", "-c", "SELECT 1")
            break
        except RuntimeError:
            time.sleep(0.2)
    return server


def stop(server: dict) -> None:
    data = Path(server["data"])
    subprocess.run([*_as_user(), _tool(server, "pg_ctl"), "-D", str(data), "-w", "-s", "-m", "fast", "stop"],
                   capture_output=True, text=True)
    shutil.rmtree(data.parent, ignore_errors=True)
