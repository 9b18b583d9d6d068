"""SQLAlchemy engine/session rules (AFY201, AFY202, AFY203, AFY205): cross-module cases, and a real run
of fixed code (the fixed module is our own test data; it is imported and run with aiosqlite)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import sys
import textwrap
import warnings

import pytest

from asyncify_lint.diagnostics import Applicability
from harness import Run

SELECT = ["AFY201", "AFY202", "AFY203", "AFY205"]


def _check(tmp_path, main: str, select, extra=None, name="main.py"):
    run = Run(str(tmp_path), textwrap.dedent(main), select, unsafe=True, name=name,
              extra={k: textwrap.dedent(v) for k, v in (extra or {}).items()})
    diags, state, _ = run.check()
    assert not state.errors, state.errors
    return diags


def _fix_project(tmp_path, files: dict[str, str], select, unsafe=True) -> dict[str, str]:
    """Fix every module of a scratch project the way the CLI does (rounds over the files)."""
    (first, text), *rest = files.items()
    run = Run(str(tmp_path), textwrap.dedent(text), select, unsafe=unsafe, name=first,
              extra={k: textwrap.dedent(v) for k, v in rest})
    linter = run.linter()
    states = [linter.load(os.path.join(run.dir, rel), rel) for rel in files]
    for _ in range(5):
        if not any([linter.fix(st) for st in states]):
            break
    for st in states:
        assert not st.errors, st.errors
    return {st.relpath: st.text for st in states}


# -- sessions known through other modules ----------------------------------------------------------

DATABASE_ASYNC = """
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine("sqlite+aiosqlite:///./app.db")
    SessionLocal = async_sessionmaker(bind=engine)
"""
DATABASE_SYNC = """
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("sqlite:///./app.db")
    SessionLocal = sessionmaker(bind=engine)
"""
DEPS = """
    from typing import Annotated

    from fastapi import Depends
    from sqlalchemy.ext.asyncio import AsyncSession

    from database import SessionLocal


    async def get_db():
        db = SessionLocal()
        try:
            yield db
        finally:
            await db.close()


    def get_cache():
        yield {}


    DbDep = Annotated[AsyncSession, Depends(get_db)]
"""


def test_session_from_depends_in_another_module_is_async_and_safe(tmp_path):
    main = """
        from fastapi import Depends

        from deps import get_db


        async def endpoint(db=Depends(get_db)):
            db.commit()
    """
    diags = _check(tmp_path, main, ["AFY203"], {"deps.py": DEPS, "database.py": DATABASE_ASYNC})
    assert [(d.code, d.line) for d in diags] == [("AFY203", 8)]
    assert diags[0].fix.applicability is Applicability.SAFE
    assert "`AsyncSession`" in diags[0].message


def test_session_from_sync_factory_in_another_module_is_unsafe(tmp_path):
    main = """
        from fastapi import Depends

        from deps import get_db


        async def endpoint(db=Depends(get_db)):
            db.execute("select 1")
    """
    diags = _check(tmp_path, main, ["AFY203"], {"deps.py": DEPS, "database.py": DATABASE_SYNC})
    assert len(diags) == 1 and diags[0].fix.applicability is Applicability.UNSAFE
    assert "sync `Session`" in diags[0].message


def test_alias_and_factory_imported_from_other_modules(tmp_path):
    main = """
        from database import SessionLocal
        from deps import DbDep


        async def endpoint(db: DbDep):
            db.flush()
            async with SessionLocal() as other:
                other.refresh(object())
    """
    diags = _check(tmp_path, main, ["AFY203"], {"deps.py": DEPS, "database.py": DATABASE_ASYNC})
    assert [d.line for d in diags] == [7, 9]
    fixed = _fix_project(tmp_path / "fix", {"main.py": main, "deps.py": DEPS, "database.py": DATABASE_ASYNC},
                         ["AFY203"], unsafe=False)
    assert "    await db.flush()\n" in fixed["main.py"]
    assert "        await other.refresh(object())\n" in fixed["main.py"]


def test_dependency_that_is_not_a_session_is_ignored(tmp_path):
    main = """
        from fastapi import Depends

        from deps import get_cache


        async def endpoint(cache=Depends(get_cache), db: dict = Depends(get_cache)):
            cache.get("k")
            db.get("k")
            return cache.execute()
    """
    assert _check(tmp_path, main, ["AFY203"], {"deps.py": DEPS, "database.py": DATABASE_ASYNC}) == []


# -- AFY201: URLs defined in another module -------------------------------------------------------

def test_url_constant_in_another_module_is_fixed_there(tmp_path):
    files = {
        "database.py": """
            from sqlalchemy import create_engine

            from config import DATABASE_URL

            engine = create_engine(DATABASE_URL, connect_args={"check_same_thread": False})
        """,
        "config.py": """
            DATABASE_URL = "sqlite:///./app.db"
        """,
    }
    diags = _check(tmp_path / "c", files["database.py"], ["AFY201"], {"config.py": files["config.py"]},
                   name="database.py")
    assert len(diags) == 1 and diags[0].fix is None and "config.py:2" in diags[0].message
    diags = _check(tmp_path / "d", files["config.py"], ["AFY201"], {"database.py": files["database.py"]},
                   name="config.py")
    assert len(diags) == 1 and diags[0].fix is not None and "database.py" in diags[0].message
    fixed = _fix_project(tmp_path / "f", files, ["AFY201"])
    assert fixed["config.py"] == '\nDATABASE_URL = "sqlite+aiosqlite:///./app.db"\n'
    assert "engine = create_async_engine(DATABASE_URL, connect_args={\"check_same_thread\": False})" in fixed[
        "database.py"]
    assert "from sqlalchemy.ext.asyncio import create_async_engine\n" in fixed["database.py"]


SETTINGS = """
    from pydantic_settings import BaseSettings


    class Settings(BaseSettings):
        DATABASE_URL: str = "sqlite:///./app.db"
        DEBUG: bool = False


    settings = Settings()
"""
ENGINE_FROM_SETTINGS = """
    from sqlalchemy import create_engine

    from config import settings

    engine = create_engine(settings.DATABASE_URL)
"""


def test_settings_default_is_rewritten_and_the_environment_is_named(tmp_path):
    diags = _check(tmp_path / "c", SETTINGS, ["AFY201"], {"database.py": ENGINE_FROM_SETTINGS}, name="config.py")
    assert len(diags) == 1 and diags[0].fix is not None
    assert "`DATABASE_URL`" in diags[0].message and "deployed values must name an async driver" in diags[0].message
    fixed = _fix_project(tmp_path / "f", {"config.py": SETTINGS, "database.py": ENGINE_FROM_SETTINGS}, ["AFY201"])
    assert '    DATABASE_URL: str = "sqlite+aiosqlite:///./app.db"\n' in fixed["config.py"]
    assert "engine = create_async_engine(settings.DATABASE_URL)\n" in fixed["database.py"]


def test_setting_also_used_elsewhere_gets_no_fix(tmp_path):
    test_module = """
        from sqlalchemy import create_engine

        from config import settings

        sync_engine = create_engine(settings.DATABASE_URL.replace("app", "test"))
    """
    extra = {"database.py": ENGINE_FROM_SETTINGS, "tests/test_db.py": test_module}
    diags = _check(tmp_path, SETTINGS, ["AFY201"], extra, name="config.py")
    assert len(diags) == 1 and diags[0].fix is None
    assert "`DATABASE_URL` is also used at tests/test_db.py" in diags[0].message


def test_url_from_environment_without_default_is_mapped_at_run_time(tmp_path):
    main = """
        import os

        from sqlalchemy import create_engine

        engine = create_engine(os.environ["DATABASE_URL"])
        other = create_engine(os.getenv("OTHER_URL"))
    """
    diags = _check(tmp_path, main, ["AFY201"])
    assert len(diags) == 2 and all(d.fix is not None for d in diags)
    assert all("mapped when the engine is created" in d.message for d in diags)
    wrapped = [e.content for d in diags for e in d.fix.edits if e.content == "_async_database_url("]
    assert len(wrapped) == 2


def test_constant_used_by_a_test_is_kept_and_mapped_at_run_time(tmp_path):
    main = """
        from sqlalchemy import create_engine

        SQLALCHEMY_DATABASE_URL = "sqlite:///./app.db"
        engine = create_engine(SQLALCHEMY_DATABASE_URL)
    """
    conftest = """
        from main import SQLALCHEMY_DATABASE_URL

        URL = SQLALCHEMY_DATABASE_URL
    """
    diags = _check(tmp_path, main, ["AFY201"], {"tests/conftest.py": conftest})
    assert len(diags) == 1 and "tests/conftest.py:4" in diags[0].message
    # the literal stays as the test sees it; the engine maps the driver when it is created
    assert not any(e.content == "sqlite+aiosqlite" for e in diags[0].fix.edits)
    assert any(e.content == "_async_database_url(" for e in diags[0].fix.edits)


def test_import_time_ddl_on_engine_from_another_module(tmp_path):
    main = """
        from sqlalchemy.orm import declarative_base

        from database import engine

        Base = declarative_base()
        Base.metadata.create_all(bind=engine)
    """
    diags = _check(tmp_path, main, ["AFY205"], {"database.py": DATABASE_ASYNC})
    assert len(diags) == 1 and diags[0].fix.applicability is Applicability.SAFE
    diags = _check(tmp_path / "s", main, ["AFY205"], {"database.py": DATABASE_SYNC})
    assert len(diags) == 1 and diags[0].fix.applicability is Applicability.UNSAFE


# -- a real run of fixed code --------------------------------------------------------------------

APP = '''
from fastapi import Depends, FastAPI
from sqlalchemy import Column, Integer, String, create_engine, select
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

SQLALCHEMY_DATABASE_URL = "{url}"
engine = create_engine(
    SQLALCHEMY_DATABASE_URL,
    connect_args={{"check_same_thread": False}},{pool}
)
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)
Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String, unique=True)


Base.metadata.create_all(bind=engine)
app = FastAPI()


async def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


async def create_user(db: Session, name: str) -> int:
    user = User(name=name)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user.id


async def list_names(db: Session) -> list[str]:
    return [u.name for u in db.scalars(select(User).order_by(User.id)).all()]


async def delete_user(db: Session, user_id: int) -> None:
    user = db.get(User, user_id)
    db.delete(user)
    db.commit()


async def main() -> list[str]:
    with SessionLocal() as db:
        alice = await create_user(db, "alice")
        await create_user(db, "bob")
        await delete_user(db, alice)
    with Session(engine) as db:
        with db.begin():
            db.add(User(name="carol"))
        return await list_names(db)


@app.post("/users/{{name}}")
async def post_user(name: str, db: Session = Depends(get_db)):
    return {{"id": await create_user(db, name)}}


@app.get("/users")
async def get_users(db: Session = Depends(get_db)):
    return await list_names(db)
'''


def _runtime_available() -> bool:
    try:
        import aiosqlite  # noqa: F401
        import greenlet  # noqa: F401
    except ImportError:
        return False
    return True


def _import(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


@pytest.mark.skipif(not _runtime_available(), reason="aiosqlite and greenlet are needed to run the fixed code")
@pytest.mark.parametrize("variant", ["file", "memory"])
def test_fixed_app_runs_with_aiosqlite(tmp_path, variant):
    if variant == "file":
        url, pool = f"sqlite:///{(tmp_path / 'app.db').as_posix()}", ""
    else:
        url, pool = "sqlite://", "\n    poolclass=StaticPool,"
    source = APP.format(url=url, pool=pool)
    fixed = _fix_project(tmp_path / "proj", {"app.py": source}, SELECT)["app.py"]
    for expected in (
        'SQLALCHEMY_DATABASE_URL = "sqlite+aiosqlite://',
        "engine = create_async_engine(\n",
        "SessionLocal = async_sessionmaker(autocommit=False, autoflush=False, bind=engine)\n",
        "_blocking_ddl(Base.metadata.create_all)(bind=engine)\n",
        "        await db.close()\n",
        "    await db.commit()\n    await db.refresh(user)\n",
        "(await db.scalars(select(User).order_by(User.id))).all()",
        "    user = await db.get(User, user_id)\n    await db.delete(user)\n",
        "    async with SessionLocal() as db:\n",
        "    async with AsyncSession(engine) as db:\n        async with db.begin():\n",
        "async def post_user(name: str, db: AsyncSession = Depends(get_db)):",
    ):
        assert expected in fixed, f"{expected!r} not in:\n{fixed}"
    compile(fixed, "app.py", "exec")
    out = tmp_path / "out"
    out.mkdir()
    (out / f"afy_fixed_{variant}.py").write_text(fixed, encoding="utf-8")
    name = f"afy_fixed_{variant}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        async def import_inside_a_running_loop():  # as uvicorn does: the import-time DDL must still work
            return _import(str(out / f"{name}.py"), name)

        try:
            mod = asyncio.run(import_inside_a_running_loop())
            assert asyncio.run(mod.main()) == ["bob", "carol"]
            from fastapi.testclient import TestClient

            client = TestClient(mod.app)  # without `with`: no lifespan; the tables come from import time
            assert client.post("/users/dave").status_code == 200
            assert client.get("/users").json() == ["bob", "carol", "dave"]
            with TestClient(mod.app) as c:
                assert c.post("/users/erin").json() == {"id": 5}
                assert c.get("/users").json() == ["bob", "carol", "dave", "erin"]
            asyncio.run(mod.engine.dispose())
        finally:
            sys.modules.pop(name, None)
            gc.collect()
    never_awaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert never_awaited == []


def test_real_run_source_is_sync_and_works_before_the_fix(tmp_path):
    """The input of the real-run test is a working sync program (so the test compares like with like)."""
    source = APP.format(url=f"sqlite:///{(tmp_path / 'sync.db').as_posix()}", pool="")
    path = tmp_path / "afy_sync_app.py"
    path.write_text(source.replace("async def main", "def main_").replace("await ", ""), encoding="utf-8")
    mod = _import(str(path), "afy_sync_app")
    try:
        async def call(f, *a):
            return await f(*a)

        with mod.SessionLocal() as db:
            alice = asyncio.run(call(mod.create_user, db, "alice"))
            asyncio.run(call(mod.create_user, db, "bob"))
            asyncio.run(call(mod.delete_user, db, alice))
            assert asyncio.run(call(mod.list_names, db)) == ["bob"]
    finally:
        sys.modules.pop("afy_sync_app", None)
        mod.engine.dispose()


def test_runtime_url_mapping_runs(tmp_path):
    """The fixed engine, built from a sync URL given at run time, works through aiosqlite."""
    pytest.importorskip("aiosqlite")
    pytest.importorskip("greenlet")
    main = textwrap.dedent("""
        import os

        from sqlalchemy import create_engine, text

        engine = create_engine(os.environ["ASYNCIFY_TEST_URL"])
    """)
    run = Run(str(tmp_path / "proj"), main, ["AFY201"], unsafe=True, name="runtime_url_mod.py")
    fixed, state = run.fix()
    assert "create_async_engine(_async_database_url(" in fixed and not state.errors
    db = tmp_path / "x.db"
    os.environ["ASYNCIFY_TEST_URL"] = f"sqlite:///{db}"
    try:
        namespace: dict = {}
        exec(compile(fixed, "runtime_url_mod.py", "exec"), namespace)
        engine = namespace["engine"]
        assert engine.url.drivername == "sqlite+aiosqlite" and engine.url.database == str(db)

        async def go():
            async with engine.connect() as conn:
                return (await conn.execute(namespace["text"]("select 41 + 1"))).scalar_one()

        assert asyncio.run(go()) == 42
        asyncio.run(engine.dispose())
    finally:
        del os.environ["ASYNCIFY_TEST_URL"]
