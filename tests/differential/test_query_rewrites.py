"""Every rewrite form AFY204 emits, proved on a live database: legacy (sync) vs. fixed (async) results.

Requires sqlalchemy[asyncio], aiosqlite and greenlet (the `test` extra).
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("aiosqlite")
pytest.importorskip("greenlet")

from . import harness as diff  # noqa: E402
from .cases import CASES  # noqa: E402


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("seed") / "seed.db")
    diff.seeded_db(path)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rewrite_is_exact(case, template_db, tmp_path):
    fixed, legacy, rewritten = diff.compare(str(tmp_path), template_db, case)
    original = diff.module_text(case[1])
    assert fixed != original, "AFY204 offered no fix"
    assert ".query(" not in fixed.replace("s.query(", "").replace("sync_session.query(", ""), fixed
    assert case[2] in fixed, f"expected form {case[2]!r} in:\n{fixed}"
    assert legacy == rewritten, f"legacy={legacy}\nnew   ={rewritten}\n{fixed}"


def test_cases_are_distinct():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(CASES) >= 35


def test_harness_detects_a_difference(template_db, tmp_path):
    """The comparison is not vacuous: a known-wrong rewrite (.scalars() on columns) is told apart."""
    text = diff.module_text("db.query(User.name).order_by(User.id).all()")
    wrong = text.replace("return db.query(User.name).order_by(User.id).all()",
                         "return (await db.scalars(select(User.name).order_by(User.id))).all()")
    wrong = wrong.replace("from sqlalchemy import Column", "from sqlalchemy import select, Column")
    db1, db2 = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    shutil.copy(template_db, db1)
    shutil.copy(template_db, db2)
    assert diff.run_legacy(text, db1, None) != diff.run_fixed(wrong, db2, None)
