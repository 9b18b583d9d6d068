"""The async-path oracle's PostgreSQL support (tests/e2e/oracle, tests/e2e/plugins/asyncify_pg.py): the
configuration, the normalisation of database states, the scripts that put a snapshot back in place,
and, when the PostgreSQL binaries are installed, a round trip on a private server."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from harness import load_oracle as _oracle

SERVER = {"host": "127.0.0.1", "port": 54321, "user": "postgres", "password": "p@ss/word", "bin": ""}
SEPARATE = {"postgresql": {"env": {"POSTGRES_HOST": "{host}", "POSTGRES_PORT": "{port}", "POSTGRES_USER": "{user}",
                                   "POSTGRES_PASSWORD": "{password}", "POSTGRES_DB": "{database}"}}}


def test_separate_variables():
    oracle = _oracle()
    pg = oracle.postgres_config({"database": SEPARATE})
    assert pg["suite_database"] == "{database}"
    assert oracle.postgres_env(pg, SERVER, "oracle_run_original") == {
        "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "54321", "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "p@ss/word", "POSTGRES_DB": "oracle_run_original"}


def test_one_url_variable_is_quoted():
    oracle = _oracle()
    pg = oracle.postgres_config({"database": {"postgresql": {"env": {"DATABASE_URL": "{url}"}}}})
    assert oracle.postgres_env(pg, SERVER, "oracle_x") == {
        "DATABASE_URL": "postgresql://postgres:p%40ss%2Fword@127.0.0.1:54321/oracle_x"}
    # a URL the app's settings want with a driver of their own
    pg = oracle.postgres_config({"database": {"postgresql": {"env": {
        "DB": "postgresql+psycopg2://{user}@{host}:{port}/{database}"}}}})
    assert oracle.postgres_env(pg, SERVER, "d") == {"DB": "postgresql+psycopg2://postgres@127.0.0.1:54321/d"}


def test_host_with_port_and_suite_database():
    oracle = _oracle()
    pg = oracle.postgres_config({"database": {"postgresql": {
        "env": {"POSTGRES_HOST": "{host}:{port}", "POSTGRES_DB": "{database}"}, "suite_database": "{database}_test"}}})
    assert oracle.postgres_env(pg, SERVER, "oracle_record")["POSTGRES_HOST"] == "127.0.0.1:54321"
    assert pg["suite_database"].format(**oracle._pg_values(SERVER, "oracle_record")) == "oracle_record_test"
    pg = oracle.postgres_config({"database": {"postgresql": {"env": {"URL": "{url}"},
                                                             "suite_database": {"sqlite": {}}}}})
    assert pg["suite_database"] == {"sqlite": {}}


def test_sqlite_configurations_have_no_postgresql():
    oracle = _oracle()
    assert oracle.postgres_config({"database": {"env": "DATABASE_URL"}}) is None
    assert oracle.postgres_config({"database": {"file": "sql_app.db"}}) is None
    assert oracle.postgres_config({}) is None


@pytest.mark.parametrize("pg, message", [
    ({"env": {"DB": "{databse}"}}, "unknown placeholder"),
    ({"env": {"HOST": "{host}"}}, "holds {database} or {url}"),
    ({"env": {}}, "must map variable names"),
    ({"env": {"DB": 5}}, "must map variable names"),
    ({"env": "DATABASE_URL"}, "must map variable names"),
    ({"env": {"URL": "{url}"}, "suite_database": "{name}_test"}, "unknown placeholder"),
    ({"env": {"URL": "{url}"}, "suite_database": {"file": "x.db"}}, "suite_database"),
    ({"env": {"URL": "{url}"}, "snapshot": "x"}, "unknown key"),
])
def test_configuration_errors(pg, message):
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        _oracle().postgres_config({"database": {"postgresql": pg}})


def test_side_database_names():
    oracle = _oracle()
    assert oracle.side_database("run-original") == "oracle_run_original"
    assert oracle.side_database("run-Migrated.bridge") == "oracle_run_migrated_bridge"


def test_password_hashes_and_row_order_are_normalised():
    oracle = _oracle()
    bcrypt_a = "$2b$12$YWkRcjC9lfQBXGGHll0OXOidCoOxLus8B78DIl2j/61DmX3p3jx72"
    bcrypt_b = "$2b$12$K5WL0qqKuPpszjf3cYwie.mgSC2Q.EPPAdMqz12DBmhbjFMDMYp0G"
    argon = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
    norm = oracle.Normaliser()
    assert norm({"password": bcrypt_a, "other": argon, "price": "$5"}) == {
        "password": "<password-hash>", "other": "<password-hash>", "price": "$5"}
    # the same rows, other generated ids, returned in another order: the same state
    u1, u2, v1, v2 = ("0f8e5d9c-7b6a-4e3d-9c2b-1a0f9e8d7c6b", "1f8e5d9c-7b6a-4e3d-9c2b-1a0f9e8d7c6b",
                      "2f8e5d9c-7b6a-4e3d-9c2b-1a0f9e8d7c6b", "3f8e5d9c-7b6a-4e3d-9c2b-1a0f9e8d7c6b")
    a = {"users": [{"id": u1, "name": "a", "pw": bcrypt_a, "at": "2026-12-03T18:49:16.080407+00:00"},
                   {"id": u2, "name": "b", "pw": bcrypt_a, "at": "2026-12-03T18:49:16.48+00:00"}]}
    b = {"users": [{"id": v2, "name": "b", "pw": bcrypt_b, "at": "2026-12-03T18:50:00+00:00"},
                   {"id": v1, "name": "a", "pw": bcrypt_b, "at": "2026-12-03T18:50:01+00:00"}]}
    assert oracle._state(a, oracle.Normaliser()) == oracle._state(b, oracle.Normaliser())
    c = {"users": [{"id": v1, "name": "a", "pw": bcrypt_b, "at": None},
                   {"id": v1, "name": "b", "pw": None, "at": None}]}
    assert oracle._state(a, oracle.Normaliser()) != oracle._state(c, oracle.Normaliser())


def test_a_caught_blocking_call_counts_only_when_the_response_differs():
    oracle = _oracle()
    recorded = [{"n": n, "segment": 1, "method": "GET", "url": f"/items/{n}", "test": "t", "response": {"status": 200}}
                for n in (1, 2)]
    ok = {"status": 200, "content_type": "application/json", "body": {"text": "[]"}}
    caught = [["Blocking call to os.stat (caught)", ["/app/storage.py:3 delete", "/lib/botocore/x.py:1 parse"]]]
    original = {"startup_error": None, "results": [dict(ok, n=1), dict(ok, n=2)], "states": {}}
    migrated = {"startup_error": None, "app_dir": "/app", "states": {},
                "results": [dict(ok, n=1, caught_blocking=caught),
                            dict(ok, n=2, status=500, body={"text": "{}"}, caught_blocking=caught)]}
    report = oracle.compare("app", "bridge", recorded, original, migrated)
    assert (report.identical, report.blocked, report.differing) == (1, 1, 0)
    assert report.unexpected_blocked == ["#2 GET /items/2 (t): Blocking call to os.stat (caught) "
                                         "in /app/storage.py:3 delete via /lib/botocore/x.py:1 parse"]


def _pg():
    return _oracle()._pg()


def test_restore_script_empties_every_table_first():
    script = _pg().restore_sql(["public.users", 'public."Order"'], "COPY public.users (id) FROM stdin;\n1\n\\.")
    assert script.splitlines()[:3] == ["SET session_replication_role = replica;", "DELETE FROM public.users;",
                                       'DELETE FROM public."Order";']
    assert script.endswith("\\.")


def test_sqlite_rows_become_copy_data():
    source = sqlite3.connect(":memory:")
    source.executescript("""
        CREATE TABLE user (id INTEGER PRIMARY KEY, name TEXT, avatar BLOB, active BOOLEAN, uid CHAR(32));
        INSERT INTO user VALUES (1, 'say "hi", then, go', x'00ff', 1, '0f8e5d9c7b6a4e3d9c2b1a0f9e8d7c6b');
        INSERT INTO user VALUES (2, NULL, NULL, 0, NULL);
        CREATE TABLE empty (id INTEGER PRIMARY KEY);
    """)
    text = _pg().sqlite_copy(source, {"user": 'public."user"', "empty": "public.empty"})
    assert text.splitlines() == [
        'COPY public."user" ("id", "name", "avatar", "active", "uid") FROM STDIN WITH (FORMAT csv);',
        '"1","say ""hi"", then, go","\\x00ff","1","0f8e5d9c7b6a4e3d9c2b1a0f9e8d7c6b"',
        '"2",,,"0",',
        "\\.",
    ]
    with pytest.raises(RuntimeError, match="'user'"):
        _pg().sqlite_copy(source, {"empty": "public.empty"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pg = _pg()
    if pg.binaries() is None:
        pytest.skip("no PostgreSQL binaries (pg_ctl on PATH, or PG_BIN)")
    if pg._as_user() and shutil.which("runuser") is None:
        pytest.skip("as root, the server runs as the postgres account through runuser")
    server = pg.start()
    yield server
    pg.stop(server)


def test_snapshot_restore_and_dump_on_a_private_server(server, tmp_path):
    pg = _pg()
    pg.create(server, "recorded")
    pg.psql(server, "recorded", """
        CREATE TABLE users (id serial PRIMARY KEY, name text, tags jsonb, at timestamptz DEFAULT now());
        CREATE TABLE posts (id serial PRIMARY KEY, owner int REFERENCES users(id));
        INSERT INTO users (name, tags) VALUES ('a', '{"k": [1, 2]}'), ('b', NULL);
        INSERT INTO posts (owner) VALUES (2);
    """)
    snap = tmp_path / "1.pgdump"
    assert pg.snapshot(server, "recorded", snap)
    pg.create(server, "side", snap)  # schema and data
    state = pg.dump(server, "side")
    assert sorted(state) == ["posts", "users"] and state["users"][0]["tags"] == {"k": [1, 2]}
    # the app writes; the next test's snapshot is put back in place, sequences included
    pg.psql(server, "side", "DELETE FROM posts; INSERT INTO users (name) VALUES ('c');")
    pg.restore_data(server, "side", snap)
    assert pg.dump(server, "side") == state
    assert pg.psql(server, "side", "INSERT INTO users (name) VALUES ('d') RETURNING id;").strip() == "3"


def test_sqlite_snapshot_into_postgresql_tables(server, tmp_path):
    pg = _pg()
    snap = tmp_path / "1.sqlite"
    source = sqlite3.connect(snap)
    source.executescript("""
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, active BOOLEAN, uid CHAR(32));
        INSERT INTO users VALUES (7, 'a', 1, '0f8e5d9c7b6a4e3d9c2b1a0f9e8d7c6b');
    """)
    source.close()
    pg.create(server, "from_sqlite")
    pg.psql(server, "from_sqlite", "CREATE TABLE users (id serial PRIMARY KEY, name text, active boolean, uid uuid);"
                                   "INSERT INTO users (name) VALUES ('left over');")
    pg.restore_sqlite(server, "from_sqlite", snap)
    assert pg.dump(server, "from_sqlite") == {"users": [
        {"id": 7, "name": "a", "active": True, "uid": "0f8e5d9c-7b6a-4e3d-9c2b-1a0f9e8d7c6b"}]}
    assert pg.psql(server, "from_sqlite", "INSERT INTO users (name) VALUES ('b') RETURNING id;").strip() == "8"


def test_random_values_are_masked_before_the_comparison():
    oracle = _oracle()
    norm = oracle.Normaliser(random_values=[r"(?<=/)[A-Za-z0-9]{10}(?=\.webp)"])
    assert norm({"file_path": "0001/4blvqVpEdv.webp", "id": 4}) == {"file_path": "0001/<random>.webp", "id": 4}
    assert oracle.Normaliser()({"file_path": "0001/4blvqVpEdv.webp"}) == {"file_path": "0001/4blvqVpEdv.webp"}
