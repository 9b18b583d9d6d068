"""AFY401 edge cases: coroutines handed to something that runs them are not "missing an await"."""

from __future__ import annotations

import textwrap

from harness import Run


def _codes(tmp_path, text: str) -> list[tuple[str, int]]:
    diags, _, _ = Run(str(tmp_path), textwrap.dedent(text), ["AFY401"], unsafe=True, name="mod.py").check()
    return [(d.code, d.line) for d in diags]


def test_coroutine_passed_to_a_runner_is_not_missing_an_await(tmp_path):
    text = """
        import asyncio
        import concurrent.futures


        async def work():
            return 1


        def run_in_thread():
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                return ex.submit(asyncio.run, work()).result()


        def main():
            return asyncio.run(work())


        async def spawn():
            task = asyncio.create_task(work())
            return await asyncio.gather(task, work())


        async def forgotten():
            work()
    """
    assert _codes(tmp_path, text) == [("AFY401", 25)]  # only the discarded call in `forgotten`


def test_coroutine_stored_then_awaited_or_handed_over_is_not_missing_an_await(tmp_path):
    # found by benchmarks/robustness.py in asyncio.subprocess.Process.communicate: the safe fix
    # turned `stdin = self._noop()` ... `await gather(stdin, ...)` into `stdin = await self._noop()`
    text = """
        import asyncio


        async def part(n):
            return n


        async def both():
            a = part(1)
            b = part(2)
            return await asyncio.gather(a, b)


        async def later():
            x = part(3)
            return await x


        async def listed(items):
            fs = [part(i) for i in items]
            return await asyncio.gather(*fs)


        async def plain():
            user = part(4)
            return user
    """
    assert _codes(tmp_path, text) == [("AFY401", 26)]  # only `plain`, which returns the coroutine


CRUD = """
from sqlalchemy.orm import Session

import models


def get_items(db: Session, category_id: int | None = None):
    query = db.query(models.Item)
    if category_id is not None:
        query = query.filter(models.Item.category_id == category_id)
    return query.all()


def save_all(db: Session, items):
    db.bulk_save_objects(items)
    db.commit()


def get_item(db: Session, item_id: int):
    return db.get(models.Item, item_id)
"""

MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None]
"""

MAIN = """
from sqlalchemy.ext.asyncio import AsyncSession

import crud


async def read_items(db: AsyncSession, category_id: int | None = None):
    return crud.get_items(db, category_id=category_id)


async def first_name(db: AsyncSession):
    return crud.get_items(db)[0].name


async def store(db: AsyncSession, items):
    crud.save_all(db, items)


async def one(db: AsyncSession):
    return await crud.get_item(db, 1)
"""


def test_sync_bound_functions_stay_sync_and_run_in_the_greenlet(tmp_path):
    run = Run(str(tmp_path), textwrap.dedent(MAIN), ["AFY202", "AFY402", "AFY403"], unsafe=True, name="main.py",
              extra={"crud.py": textwrap.dedent(CRUD), "models.py": textwrap.dedent(MODELS)})
    fixed, state = run.fix()
    assert not state.errors
    assert "return await db.run_sync(crud.get_items, category_id=category_id)" in fixed
    assert "return (await db.run_sync(crud.get_items))[0].name" in fixed  # precedence kept
    assert "await db.run_sync(crud.save_all, items)" in fixed
    assert "return await crud.get_item(db, 1)" in fixed  # an ordinary function is awaited, not wrapped
    crud_run = Run(str(tmp_path / "c"), textwrap.dedent(CRUD), ["AFY202", "AFY402"], unsafe=True, name="crud.py",
                   extra={"main.py": textwrap.dedent(MAIN), "models.py": textwrap.dedent(MODELS)})
    crud_fixed, _ = crud_run.fix()
    # get_items and save_all keep `def` and `Session` (run_sync hands them the sync session); get_item converts
    assert "def get_items(db: Session" in crud_fixed and "async def get_items" not in crud_fixed
    assert "def save_all(db: Session" in crud_fixed and "async def save_all" not in crud_fixed
    assert "async def get_item(db: AsyncSession" in crud_fixed


def test_sync_function_that_schedules_a_coroutine_stays_sync(tmp_path):
    """`coro = f(); ensure_future(coro)` in a sync def schedules on purpose; a dropped or returned
    `f()` needs the caller to become async (AFY402): a service returning a repository coroutine (in a
    FastAPI app being migrated: in an async library, see the next test)."""
    text = """
        import asyncio
        from fastapi import FastAPI


        async def work():
            return 1


        def schedule():
            coro = work()
            asyncio.ensure_future(coro)


        def wrapper():
            return work()


        def forgets():
            work()
    """
    diags, _, _ = Run(str(tmp_path), textwrap.dedent(text), ["AFY402"], unsafe=True, name="mod.py").check()
    assert [(d.code, d.line) for d in diags] == [("AFY402", 15), ("AFY402", 19)]  # `wrapper`, `forgets`


def test_async_library_hands_coroutines_on_from_sync_code(tmp_path):
    """In a project that is async already, a sync function returning a coroutine that nothing in the
    project calls is its API (annotated or not); one returning it to callers that all await it hands it
    back; a dropped coroutine is still a bug (AFY402 and AFY401 agree on each)."""
    text = """
        import asyncio
        from typing import Awaitable


        async def work():
            return 1


        def api():
            return work()


        def annotated() -> Awaitable[int]:
            return work()


        def handed_back():
            return work()


        async def user():
            return await handed_back()


        def stored(self):
            self._pending = work()


        def forgets():
            work()
    """
    diags, _, _ = Run(str(tmp_path), textwrap.dedent(text), ["AFY401", "AFY402"], unsafe=True, name="mod.py").check()
    assert [(d.code, d.line) for d in diags] == [("AFY402", 30), ("AFY401", 31)]  # `forgets` only


def test_coroutine_passed_to_a_project_function_that_awaits_it_is_not_missing_an_await(tmp_path):
    text = """
        import asyncio


        async def close():
            return 1


        async def run_guarded(coro, *, note=""):
            task = asyncio.create_task(coro)
            return await asyncio.shield(task)


        async def awaits_it(coro):
            return await coro


        async def forwards(c):
            return await awaits_it(c)


        async def ignores(coro):
            return 2


        async def main():
            await run_guarded(close())
            await awaits_it(coro=close())
            await forwards(close())
            await ignores(close())
    """
    assert _codes(tmp_path, text) == [("AFY401", 30)]  # only `ignores(close())`


SQLMODEL_CRUD = """
from sqlmodel import Session, select

from models import Hero


def get_hero_by_name(*, session: Session, name: str) -> Hero | None:
    return session.exec(select(Hero).where(Hero.name == name)).first()


def count_heroes(session: Session) -> int:
    return len(session.exec(select(Hero)).all())
"""

SQLMODEL_API = """
from fastapi import Depends, FastAPI
from sqlmodel import Session

import crud
from db import get_session

app = FastAPI()


@app.get("/heroes/{name}")
def read_hero(name: str, session: Session = Depends(get_session)):
    return crud.get_hero_by_name(session=session, name=name)
"""

SQLMODEL_MODELS = """
from sqlmodel import Field, SQLModel


class Hero(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
"""

SQLMODEL_DB = """
from sqlmodel import Session, create_engine

engine = create_engine("sqlite://")


def get_session():
    with Session(engine) as session:
        yield session
"""


def test_sqlmodel_exec_makes_its_function_async_and_is_awaited(tmp_path):
    """SQLModel's `session.exec()` is awaited on its AsyncSession (`(await session.exec(stmt)).first()`):
    a sync helper that calls it must become async, like one that commits."""
    extra = {"api.py": SQLMODEL_API, "models.py": SQLMODEL_MODELS, "db.py": SQLMODEL_DB}
    run = Run(str(tmp_path), SQLMODEL_CRUD, ["AFY402"], unsafe=True, name="crud.py", extra=extra)
    diags, _, _ = run.check()
    assert [(d.code, d.line) for d in diags] == [("AFY402", 7), ("AFY402", 11)]
    assert "it calls `session.exec()` (line 8), which is awaited on an AsyncSession" in diags[0].message
    fixed, state = Run(str(tmp_path / "f"), SQLMODEL_CRUD, ["AFY402", "AFY203"], unsafe=True, name="crud.py",
                       extra=extra).fix()
    assert not state.errors
    assert "async def get_hero_by_name(" in fixed
    assert "return (await session.exec(select(Hero).where(Hero.name == name))).first()" in fixed


def test_sync_code_that_hands_a_coroutine_over_or_delegates_await_is_not_missing_an_await(tmp_path):
    """Found on the 1M-line corpus (asyncio's selector loop, aiosqlite, anyio): a sync function that
    stores a coroutine and hands it to a runner, or an awaitable whose `__await__` delegates to a
    coroutine's, neither drops the coroutine nor must become async."""
    text = """
        import asyncio


        async def work():
            return 1


        def spawn(loop):
            task = work()
            loop.create_task(task)


        class Awaitable:
            async def _wait(self):
                return 2

            def __await__(self):
                return self._wait().__await__()


        def dropped():
            work()


        def returned_method():
            return work().done  # not the awaitable protocol: still a coroutine dropped
    """
    assert _codes(tmp_path, text) == [("AFY401", 23), ("AFY401", 27)]
    run = Run(str(tmp_path / "g"), textwrap.dedent(text), ["AFY402"], unsafe=True, name="mod.py")
    assert [d.line for d in run.check()[0]] == [22, 26]  # dropped, returned_method; not spawn, __await__
