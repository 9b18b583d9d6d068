"""SQLAlchemy / SQLModel facts: which expressions are sessions, engines, session factories."""

from __future__ import annotations

import ast

from asyncify_lint.engine.context import FileContext

SYNC_SESSION_TYPES = frozenset({"sqlalchemy.orm.Session", "sqlmodel.Session"})
ASYNC_SESSION_TYPES = frozenset(
    {"sqlalchemy.ext.asyncio.AsyncSession", "sqlmodel.ext.asyncio.session.AsyncSession"}
)
SESSION_TYPES = SYNC_SESSION_TYPES | ASYNC_SESSION_TYPES


def value_type(ctx: FileContext, expr: ast.AST) -> str | None:
    """``ctx.type_of`` with ``with X as x`` targets unwrapped (a session's ``__enter__`` returns itself)."""
    t = ctx.type_of(expr)
    if t is not None and t.startswith("with:"):
        t = t[5:]
    return t


def is_session(ctx: FileContext, expr: ast.AST) -> bool:
    """Whether ``expr`` is known to be a (sync or async) ORM session."""
    return value_type(ctx, expr) in SESSION_TYPES
