"""
## What it does
Checks for calls, in async code, of a project function whose database work cannot be made async
mechanically, with a session as its first argument: a legacy `Query` built across statements
(`q = db.query(Item)`, then `q = q.filter(...)` under a condition, then `q.all()`), or a session
method that `AsyncSession` does not have (`bulk_save_objects`, `bulk_insert_mappings`,
`bulk_update_mappings`, `enable_relationship_loading`). Such a function stays a sync `def` (AFY402
does not convert it, AFY202 keeps its `Session` annotation).

## Why is this bad?
Called directly with an `AsyncSession` it fails (`'AsyncSession' object has no attribute 'query'`);
called with a sync session from async code it blocks the event loop.

## Example
```python
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from .models import Item


def get_items(db: Session, category_id: int | None = None):
    query = db.query(Item)
    if category_id is not None:
        query = query.filter(Item.category_id == category_id)
    return query.all()


async def read_items(db: AsyncSession, category_id: int | None = None):
    return get_items(db, category_id=category_id)
```

## Use instead
```python
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from .models import Item


def get_items(db: Session, category_id: int | None = None):
    query = db.query(Item)
    if category_id is not None:
        query = query.filter(Item.category_id == category_id)
    return query.all()


async def read_items(db: AsyncSession, category_id: int | None = None):
    return await db.run_sync(get_items, category_id=category_id)
```

## Fix safety
`AsyncSession.run_sync(fn, *args, **kwargs)` calls `fn(sync_session, *args, **kwargs)` inside
SQLAlchemy's greenlet, with real async I/O underneath: the function's body runs unchanged, with the
same `Query` semantics (deduplication, `first()`'s LIMIT, lazy loads), so the results, errors and SQL
are those of the sync code. The fix drops the session argument (first positional, or the keyword of
the function's first parameter) because `run_sync` passes the session itself.

It is safe when the session is known to be an `AsyncSession`, and unsafe when it is a `Session`
that AFY202 makes async. There is no fix when the call uses `*args`/`**kwargs`, when the session is not
its first argument, or where `await` is not possible.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import sqla
from asyncify_lint.helpers.rewrites import can_await_here, needs_parentheses
from asyncify_lint.project.callgraph import unawaited_calls_to
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY403",
        name="sync-session-work-in-async",
        message="`{name}()` does database work that stays sync ({why}); in async code call it through "
                "`run_sync`{nofix}",
        fix_title="Call it with `await {session}.run_sync({name}, ...)`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.SAFE,
        doc=__doc__,
        module=__name__,
        fix_order=405,
    )
)


def _sites(ctx: FileContext) -> dict:
    return unawaited_calls_to(ctx, "afy403")


RULE.prefilter = lambda ctx: bool(_sites(ctx))


def _session_argument(node: ast.Call, first_param: str | None) -> tuple[ast.AST, list[str]] | None:
    """The session argument and the texts of the other arguments, or None."""
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    if node.args:
        return node.args[0], ["a"]
    for k in node.keywords:
        if first_param is not None and k.arg == first_param:
            return k.value, ["k"]
    return None


@RULE.on(ast.Call)
def check(ctx: FileContext, node: ast.Call):
    entry = _sites(ctx).get((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset))
    if entry is None or not ctx.in_async_function(node):
        return
    site, target = entry
    name = ctx.segment(node.func)
    found = _session_argument(node, target.first_param)
    if found is None or not sqla.is_session(ctx, found[0]):
        return  # not given a session: nothing to run in the greenlet
    session_node = found[0]
    session = ctx.segment(session_node)
    fmt = dict(name=name, why=target.sync_bound, session=session)
    if not can_await_here(ctx, node):
        yield RULE.at(ctx, node, None, nofix="; no fix: `await` is not possible here", **fmt)
        return
    rest = [ctx.segment(a) for a in node.args if a is not session_node]
    rest += [ctx.segment(k) for k in node.keywords if k.value is not session_node]
    text = f"await {session}.run_sync({', '.join([name] + rest)})"
    if needs_parentheses(ctx, node) and not ctx.is_parenthesized(node):
        text = f"({text})"
    applicability = Applicability.SAFE if sqla.is_async_session(ctx, session_node) else Applicability.UNSAFE
    yield RULE.at(ctx, node, Fix([ctx.replace(node, text)], applicability), nofix="", **fmt)
