"""`--strategy bridge`: the planner (what it rewrites, byte-exact on the tied example app) and the
runtime helpers it copies into the app (asyncify_lint/bridge_runtime.py), run against SQLAlchemy."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import textwrap
import threading
import warnings

import pytest

from asyncify_lint import bridge_runtime
from harness import run_cli, tree_bytes

sqlalchemy = pytest.importorskip("sqlalchemy")
pytest.importorskip("aiosqlite")

from sqlalchemy import ForeignKey, create_engine, func, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

HERE = os.path.dirname(__file__)
TIED = os.path.join(HERE, "e2e", "apps", "tied")
EXPECTED = os.path.join(HERE, "fixtures", "bridge", "tied.fixed")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", ".pytest_cache", ".asyncify_cache")


# -- the runtime ---------------------------------------------------------------------------------
class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id"))


@bridge_runtime.sync_bridge
async def add_note(db: AsyncSession, text: str) -> Note:
    note = Note(text=text)
    db.add(note)
    await db.commit()
    await db.refresh(note)
    return note


@bridge_runtime.sync_bridge
async def count_notes(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(Note))


@bridge_runtime.sync_bridge
async def rename_in_transaction(db: AsyncSession, note_id: int, text: str) -> str:
    async with db.begin():
        note = await db.get(Note, note_id)
        note.text = text
    return await db.run_sync(lambda session, n: type(session).__name__ + ":" + n.text, note)


@bridge_runtime.sync_bridge
async def nested(db: AsyncSession, text: str) -> int:
    await add_note(db, text)  # the inner bridged call gets the wrapped session: it returns a coroutine
    return await count_notes(db)


@bridge_runtime.sync_bridge
async def sleeps(db: AsyncSession) -> None:
    await asyncio.sleep(0)


@bridge_runtime.sync_bridge_on_loop
async def offloads(db: AsyncSession) -> str:
    await asyncio.to_thread(lambda: None)
    return await db.run_sync(lambda session: type(session).__name__)


@pytest.fixture
def sync_session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/bridge.db")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def test_sync_session_runs_to_completion(sync_session):
    note = add_note(sync_session, "first")
    assert isinstance(note, Note) and note.id == 1
    assert count_notes(sync_session) == 1
    sync_session.commit()  # a read began a transaction (autobegin), as it does on an AsyncSession
    assert rename_in_transaction(sync_session, note.id, "renamed") == "Session:renamed"
    assert nested(sync_session, "second") == 2
    assert sync_session.get(Note, 1).text == "renamed"


def test_keyword_session(sync_session):
    assert add_note(db=sync_session, text="kw").text == "kw"


def test_something_else_awaited_is_an_error_not_a_hang(sync_session):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine ... was never awaited"
        with pytest.raises(RuntimeError, match="sleeps.. awaited something other than its session"):
            sleeps(sync_session)


def test_the_on_loop_form_runs_what_else_is_awaited_on_a_loop_of_its_own(sync_session):
    """A body that awaits more than its session (`asyncio.to_thread` of a password hash, an async HTTP
    client) gets `sync_bridge_on_loop`: it runs to completion on a private event loop."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert offloads(sync_session) == "Session"


def test_async_session_gets_the_coroutine(tmp_path):
    async def main():
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/bridge.db")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine, expire_on_commit=False) as db:
            pending = add_note(db, "async")
            assert inspect.iscoroutine(pending)
            assert (await pending).id == 1
            assert await count_notes(db) == 1
        await engine.dispose()

    asyncio.run(main())


def test_sync_session_inside_a_running_loop_goes_to_a_thread(sync_session):
    loop_thread = threading.get_ident()
    seen = []

    @bridge_runtime.sync_bridge
    async def where(db):
        return await db.run_sync(lambda _session: seen.append(threading.get_ident()) or len(seen))

    async def main():
        pending = where(sync_session)
        assert inspect.isawaitable(pending)
        return await pending

    assert asyncio.run(main()) == 1
    assert seen and seen[0] != loop_thread


def test_endpoint_form_is_a_coroutine_function_with_the_same_signature():
    async def endpoint(item_id: int, q: str | None = None, db: Session | None = None) -> dict:
        return {"item_id": item_id}

    wrapped = bridge_runtime.sync_bridge_endpoint(endpoint)
    assert inspect.iscoroutinefunction(wrapped)
    sig = inspect.signature(wrapped)
    assert list(sig.parameters) == ["item_id", "q", "db"]
    # this module's annotations are strings (`from __future__ import annotations`): resolved for FastAPI
    assert sig.parameters["q"].annotation == (str | None)
    assert asyncio.run(wrapped(3)) == {"item_id": 3}


def test_endpoint_form_with_an_overridden_sync_session(tmp_path):
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    engine = create_engine(f"sqlite:///{tmp_path}/api.db", connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    app = fastapi.FastAPI()

    async def get_db():
        raise AssertionError("overridden")
        yield

    @app.post("/notes/{text}")
    @bridge_runtime.sync_bridge_endpoint
    async def create(text: str, db: AsyncSession = fastapi.Depends(get_db)):
        note = await add_note(db, text)
        return {"id": note.id, "thread": threading.current_thread().name != "MainThread"}

    def override():
        with Session(engine) as session:
            yield session

    app.dependency_overrides[get_db] = override
    with TestClient(app) as client:
        assert client.post("/notes/hello").json() == {"id": 1, "thread": True}
    with Session(engine) as session:
        assert session.scalar(select(Note.text)) == "hello"
    engine.dispose()


# -- the planner ---------------------------------------------------------------------------------
_run = run_cli
_tree = tree_bytes


def test_tied_app_byte_exact(tmp_path, capsys, request):
    root = str(tmp_path / "tied")
    shutil.copytree(TIED, root, ignore=SKIP)
    before = _tree(root)
    code, _, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "."], root, capsys)
    assert code == 1, err
    after = _tree(root)
    app = {k: v for k, v in after.items() if k.startswith("app/")}
    if request.config.getoption("--update-fixtures"):
        shutil.rmtree(EXPECTED, ignore_errors=True)
        for rel, data in app.items():
            os.makedirs(os.path.dirname(os.path.join(EXPECTED, rel)), exist_ok=True)
            with open(os.path.join(EXPECTED, rel), "wb") as f:
                f.write(data)
    assert app == _tree(EXPECTED)
    assert {k: v for k, v in after.items() if not k.startswith("app/")} == {
        k: v for k, v in before.items() if not k.startswith("app/")}
    with open(os.path.join(os.path.dirname(bridge_runtime.__file__), "bridge_runtime.py"), "rb") as f:
        assert app["app/_asyncify_bridge.py"] == f.read()
    assert "Writing app/_asyncify_bridge.py" in err

    _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "."], root, capsys)
    assert _tree(root) == after


def _write(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))


DB = """\
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine({url!r})
    SessionLocal = sessionmaker(
        autoflush=False,
        bind=engine,
    )
"""

SERVICE = """\
    from fastapi import Depends, FastAPI
    from sqlalchemy.orm import Session

    from app import db as database
    from app.db import SessionLocal as SL

    api = FastAPI()


    def get_db():
        session = database.SessionLocal()
        try:
            yield session
        finally:
            session.close()


    def count(db: Session, model):
        return db.query(model).count()


    def other():
        with SL() as s:
            s.commit()


    @api.get("/count")
    def read_count(db: Session = Depends(get_db)):
        return count(db, object)
"""

TEST = """\
    from app.db import SessionLocal
    from app import service


    def test_it():
        with SessionLocal() as db:
            assert service.count(db, object) == 0
"""


def test_aliases_attributes_and_multiline_twins(tmp_path, capsys):
    root = str(tmp_path)
    _write(root, {"setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite:///./app.db"),
                  "app/service.py": SERVICE, "tests/test_service.py": TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "--diff", "."], root, capsys)
    assert code == 1, err
    assert "+from app.db import AsyncSessionLocal as SL" in out
    assert "+    session = database.AsyncSessionLocal()" in out
    assert "+SessionLocal = sessionmaker(  # noqa: AFY202  (asyncify-lint bridge: sync twin kept for the tests)" in out
    assert "+engine = create_engine('sqlite:///./app.db')  # noqa: AFY201" in out
    assert "--- /dev/null\n+++ b/app/_asyncify_bridge.py" in out
    assert "+@sync_bridge\n+async def count(db: AsyncSession, model):" in out
    assert _tree(root)["app/service.py"] == textwrap.dedent(SERVICE).encode()  # --diff writes nothing
    assert not os.path.exists(os.path.join(root, "app", "_asyncify_bridge.py"))


def test_in_memory_database_gets_no_twin(tmp_path, capsys):
    root = str(tmp_path)
    _write(root, {"setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite://"),
                  "app/service.py": SERVICE, "tests/test_service.py": TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "--diff", "."], root, capsys)
    assert "no sync twin for `engine`: its database is in memory (sqlite://)" in err
    assert "noqa: AFY201" not in out and "AsyncSessionLocal" not in out


def test_plain_strategy_adds_no_bridge(tmp_path, capsys):
    root = str(tmp_path)
    _write(root, {"setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite:///./app.db"),
                  "app/service.py": SERVICE, "tests/test_service.py": TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--diff", "."], root, capsys)
    assert "sync_bridge" not in out and "noqa: AFY20" not in out and "bridge" not in err


def test_star_import_of_the_factory_module_gets_no_twin(tmp_path, capsys):
    root = str(tmp_path)
    _write(root, {"setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite:///./app.db"),
                  "app/service.py": SERVICE, "app/other.py": "from app.db import *\n",
                  "tests/test_service.py": TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "--diff", "."], root, capsys)
    assert "app/other.py imports `*` from `app.db`" in err
    assert "noqa: AFY20" not in out


def test_a_sync_consumer_of_the_engine_keeps_the_sync_twin(tmp_path, capsys):
    root = str(tmp_path)
    _write(root, {
        "setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite:///./app.db"),
        "app/service.py": SERVICE, "tests/test_service.py": textwrap.dedent(TEST) + "\n\nfrom app.db import engine\n",
        "app/pre.py": """\
            from sqlalchemy import Engine, text

            from app.db import engine


            def ping(db_engine: Engine) -> None:
                with db_engine.connect() as conn:
                    conn.execute(text("select 1"))


            def main() -> None:
                ping(engine)
            """,
        "app/both.py": """\
            from sqlalchemy import Engine

            from app.db import engine


            def size(db_engine: Engine) -> int:
                return db_engine.pool.size()


            async def handler():
                async with engine.connect() as conn:
                    return size(engine), conn
            """,
    })
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "--diff", "."], root, capsys)
    assert "app.db.engine` stays sync for the tests" in err, err
    assert "app/pre.py" not in out  # it passes the engine to a parameter annotated `Engine`: the sync twin
    assert "+from app.db import engine, async_engine" in out
    assert "+    async with async_engine.connect() as conn:" in out
    assert "\n         return size(engine), conn\n" in out  # unchanged: `size` takes `db_engine: Engine`


def test_a_factory_boy_factory_keeps_the_sync_session_factory(tmp_path, capsys):
    """factory-boy persists through the sync session of its `Meta`: the twin stays there."""
    root = str(tmp_path)
    _write(root, {
        "setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite:///./app.db"),
        "app/service.py": SERVICE, "tests/test_service.py": TEST,
        "app/factories.py": """\
            import factory

            from app.db import SessionLocal


            class NoteFactory(factory.alchemy.SQLAlchemyModelFactory):
                class Meta:
                    model = dict
                    sqlalchemy_session = SessionLocal()
                    sqlalchemy_session_persistence = "commit"


            class Other:
                class Meta:
                    session = SessionLocal()
            """,
    })
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "--diff", "."], root, capsys)
    assert "+from app.db import SessionLocal, AsyncSessionLocal\n" in out, out
    assert "sqlalchemy_session = " not in out  # unchanged: the sync twin
    assert "+        session = AsyncSessionLocal()\n" in out  # not a factory-boy factory


# -- repositories: a method called synchronously on an object holding the test's sync Session --------


class NoteRepository:
    def __init__(self, session):
        self.session = session

    @bridge_runtime.sync_bridge
    async def add(self, text: str) -> Note:
        note = Note(text=text)
        self.session.add(note)
        await self.session.commit()
        return note

    @bridge_runtime.sync_bridge
    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(Note))


def test_a_method_of_an_object_holding_a_sync_session_runs_to_completion(sync_session):
    repo = NoteRepository(sync_session)
    assert repo.add("held").id == 1
    assert repo.count() == 1
    assert repo.session is sync_session  # the object itself is left as it was


REPOSITORY = """\
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

    engine = create_engine("sqlite:///./app.db")
    SessionLocal = sessionmaker(bind=engine)


    class Base(DeclarativeBase):
        pass


    class Client(Base):
        __tablename__ = "clients"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]


    class ClientRepository:
        def __init__(self, session: Session):
            self.session = session

        def add(self, name: str) -> Client:
            client = Client(name=name)
            self.session.add(client)
            self.session.commit()
            return client

        def get_by_name(self, name: str) -> Client | None:
            return self.session.execute(select(Client).where(Client.name == name)).scalar_one_or_none()


    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.post("/clients/{name}")
    def create(name: str, db: Session = Depends(get_db)):
        return {"id": ClientRepository(db).add(name).id}


    @app.get("/clients/{name}")
    def read(name: str, db: Session = Depends(get_db)):
        return {"name": ClientRepository(db).get_by_name(name).name}
"""

REPOSITORY_TEST = """\
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.repo import Base, ClientRepository


    def test_repository(tmp_path):
        engine = create_engine(f"sqlite:///{tmp_path}/t.db")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            repository = ClientRepository(session)
            repository.add("ann")
            assert repository.get_by_name("ann").name == "ann"
"""


def test_repository_methods_the_tests_call_get_the_bridge(tmp_path, capsys):
    root = str(tmp_path)
    _write(root, {"setup.cfg": "", "app/__init__.py": "", "app/repo.py": REPOSITORY,
                  "tests/test_repo.py": REPOSITORY_TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "."], root, capsys)
    migrated = open(os.path.join(root, "app", "repo.py")).read()
    assert "    @sync_bridge\n    async def add(self, name: str) -> Client:" in migrated, migrated
    assert "    @sync_bridge\n    async def get_by_name(self, name: str)" in migrated
    assert "`repo.ClientRepository.add()` runs synchronously when its object holds a sync Session" in err
    assert "AFY501" not in err  # the bridge keeps both calls working: the report leaves them out
    # the unchanged test, run on the migrated app
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error::RuntimeWarning",
                        "tests"], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_function_awaiting_an_offload_gets_the_on_loop_form(tmp_path, capsys):
    root = str(tmp_path)
    service = textwrap.dedent(SERVICE).replace(
        "def count(db: Session, model):\n    return db.query(model).count()",
        "def count(db: Session, model):\n    hashlib.pbkdf2_hmac('sha256', b'p', b's', 1)\n"
        "    return db.query(model).count()").replace("from fastapi import", "import hashlib\n\nfrom fastapi import")
    _write(root, {"setup.cfg": "", "app/__init__.py": "", "app/db.py": DB.format(url="sqlite:///./app.db"),
                  "app/service.py": service, "tests/test_service.py": TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "--diff", "."], root, capsys)
    assert "+@sync_bridge_on_loop\n+async def count(db: AsyncSession, model):" in out, out


NAMESPACE_DB = """\
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

    engine = create_engine("sqlite:///./app.db")
    SessionLocal = sessionmaker(bind=engine)


    class Base(DeclarativeBase):
        pass


    class Item(Base):
        __tablename__ = "items"
        id: Mapped[int] = mapped_column(primary_key=True)


    def get_db():
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()
    """

NAMESPACE_MAIN = """\
    from fastapi import Depends, FastAPI
    from sqlalchemy.orm import Session

    from api.db.database import Item, get_db

    app = FastAPI()


    @app.get("/items")
    def count_items(db: Session = Depends(get_db)):
        return {"n": db.query(Item).count()}
    """

NAMESPACE_TEST = """\
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    from api.db.database import Base, get_db
    from api.main import app

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    session = Session(engine)


    def test_count():
        app.dependency_overrides[get_db] = lambda: session
        assert TestClient(app).get("/items").json() == {"n": 0}
    """


def test_an_override_of_a_dependency_in_a_package_of_a_namespace_directory(tmp_path, capsys):
    # `api/` has no __init__.py and `api/db/` has one: the dependency's module has two names
    # (`api.db.database` as imported, `db.database` from its own import root); the override is found
    root = str(tmp_path)
    _write(root, {"setup.cfg": "[tool:pytest]\npythonpath = .\n", "api/db/__init__.py": "",
                  "api/db/database.py": NAMESPACE_DB, "api/main.py": NAMESPACE_MAIN,
                  "tests/test_api.py": NAMESPACE_TEST})
    code, out, err = _run(["--fix", "--unsafe-fixes", "--strategy", "bridge", "."], root, capsys)
    migrated = open(os.path.join(root, "api", "main.py")).read()
    assert "@sync_bridge_endpoint\nasync def count_items(" in migrated, migrated
    assert "overriding `api.db.database.get_db` with a sync Session keeps working: 1 endpoint(s)" in err, err
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error::RuntimeWarning",
                        "tests"], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
