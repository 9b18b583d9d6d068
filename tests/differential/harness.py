"""Differential harness: the legacy expression on a sync pysqlite ``Session`` vs. OUR fixer's rewrite on an
aiosqlite ``AsyncSession``, over the same seeded database (the method of
/work/shared/reference/sqlalchemy_async_verify/q/harness.py, with the rewrite produced by AFY204).

Only test-owned code is executed: the scratch module is built here from ``models.MODELS`` and a case.
"""

from __future__ import annotations

import ast
import asyncio
import os
import shutil
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))  # tests/ (for the fixture harness's Run)

from sqlalchemy import create_engine, inspect, select  # noqa: E402
from sqlalchemy.engine import Row  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import harness as fixture_harness  # noqa: E402  (tests/harness.py)

from .models import MODELS, seed  # noqa: E402

RAW = "update users set name='X' where id=1"


def module_text(legacy: str) -> str:
    return MODELS + f"\n\nasync def f(db: AsyncSession):\n    return {legacy}\n"


def fix(tmpdir: str, text: str) -> tuple[str, list]:
    """Run AFY204 with unsafe fixes on the scratch module; returns (fixed text, diagnostics)."""
    run = fixture_harness.Run(tmpdir, text, ["AFY204"], unsafe=True)
    diags, _, _ = run.check()
    fixed, state = run.fix()
    assert not state.errors, state.errors
    return fixed, diags


def norm(x) -> str:
    """Normalized result: ORM objects by class name and pk, Row vs tuple vs list kept apart."""
    if hasattr(type(x), "__table__"):
        return f"{type(x).__name__}({x.id})"
    if isinstance(x, Row):
        return "Row(" + ", ".join(norm(v) for v in x) + ")"
    if isinstance(x, list):
        return "[" + ", ".join(norm(v) for v in x) + "]"
    if isinstance(x, tuple):
        return "(" + ", ".join(norm(v) for v in x) + ")"
    return f"{type(x).__name__}:{x!r}"


def seeded_db(path: str) -> None:
    ns: dict = {}
    exec(compile(MODELS, "<models>", "exec"), ns)
    e = create_engine("sqlite:///" + path)
    ns["Base"].metadata.create_all(e)
    with Session(e) as s:
        seed(s, ns["User"], ns["Address"])
    e.dispose()


def _namespace(text: str) -> dict:
    ns: dict = {"__name__": "scratch"}
    exec(compile(text, "<scratch>", "exec"), ns)
    ns.update(RAW=RAW, inspect=inspect)
    return ns


def run_legacy(text: str, db_path: str, setup: str | None) -> str:
    """The original module: ``f`` is an ``async def`` without awaits, run with a sync Session."""
    ns = _namespace(text)
    e = create_engine("sqlite:///" + db_path)
    try:
        with Session(e) as s:
            ns["db"] = s
            if setup:
                exec(setup, ns)
            try:
                return norm(asyncio.run(ns["f"](s)))
            except Exception as ex:  # noqa: BLE001 - the exception class is the result
                return "RAISES " + type(ex).__name__
    finally:
        e.dispose()


async def _run_fixed(text: str, db_path: str, setup: str | None) -> str:
    ns = _namespace(text)
    e = create_async_engine("sqlite+aiosqlite:///" + db_path)
    try:
        async with AsyncSession(e) as s:
            ns["db"] = s
            if setup:
                injected = "select" not in ns  # the setup may use select(); the rewrite must import its own
                ns.setdefault("select", select)
                code = compile(setup, "<setup>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
                res = eval(code, ns)
                if asyncio.iscoroutine(res):
                    await res
                if injected:
                    del ns["select"]
            try:
                return norm(await ns["f"](s))
            except Exception as ex:  # noqa: BLE001
                return "RAISES " + type(ex).__name__
    finally:
        await e.dispose()


def run_fixed(text: str, db_path: str, setup: str | None) -> str:
    return asyncio.run(_run_fixed(text, db_path, setup))


def compare(tmpdir: str, template_db: str, case: tuple) -> tuple[str, str, str]:
    """Returns (fixed module text, legacy result, rewritten result)."""
    cid, legacy, _fragment = case[:3]
    setup_sync = case[3] if len(case) > 3 else None
    setup_async = case[4] if len(case) > 4 else None
    text = module_text(legacy)
    fixed, _ = fix(os.path.join(tmpdir, "proj"), text)
    db1, db2 = os.path.join(tmpdir, "sync.db"), os.path.join(tmpdir, "async.db")
    shutil.copy(template_db, db1)
    shutil.copy(template_db, db2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r1 = run_legacy(text, db1, setup_sync)
        r2 = run_fixed(fixed, db2, setup_async)
    return fixed, r1, r2
