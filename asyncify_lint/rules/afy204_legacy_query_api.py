"""
## What it does
Checks for the legacy `Query` API, `session.query(...)...`, on an expression known to be a SQLAlchemy
(or SQLModel) session.

## Why is this bad?
`AsyncSession` has no `query()` method: after the session becomes async, every `session.query(...)`
chain must become a 2.0-style `select()` statement executed with `await`. The exact translation is not
the obvious one: a legacy query post-processes its rows (`.scalars()` for a single entity, and
`.unique()` whenever an entity is selected), `.first()` adds `LIMIT 1`, `.scalar()` raises on several
rows, `.count()` counts a subquery, and a query of columns returns `Row`s, not scalars.

## Example
```python
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User


async def adults(db: AsyncSession):
    return db.query(User).filter(User.age >= 18).all()
```

## Use instead
```python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User


async def adults(db: AsyncSession):
    return (await db.scalars(select(User).filter(User.age >= 18))).unique().all()
```

## Fix safety
The fix is unsafe: it is only correct once the session is an `AsyncSession` (the rewritten code
awaits the session's methods). Each form it emits is the exact one of the verified translation
table (same results, same result types, same exceptions), checked by the differential tests in
`tests/differential/`:

- single entity: `(await db.scalars(stmt)).unique().all()` / `.first()` (with `.limit(1)`, which
  `Query.first()` adds) / `.one()` / `.one_or_none()`; `.scalar()` becomes `.unique().one_or_none()`;
- columns: `(await db.execute(stmt)).all()` (rows, never `.scalars()`); `.scalar()` becomes
  `.scalar_one_or_none()` (never `await db.scalar(...)`, which silently drops extra rows);
- entities and columns mixed: `(await db.execute(stmt)).unique()...`;
- `.count()`: `await db.scalar(select(func.count()).select_from(stmt.subquery()))`;
- `.get(pk)`: `await db.get(Model, pk)` (with `options=[...]`, `populate_existing=True`);
- bulk `.update(values)` / `.delete()`: `(await db.execute(update(Model)...values(...))).rowcount`,
  with `synchronize_session` carried as an execution option;
- `for x in db.query(Model)...:` iterates `(await db.scalars(stmt)).unique()`;
- `q[a:b]` (non-negative literal bounds) becomes `.slice(a, b)`.

The chain methods `filter`, `filter_by`, `join`, `outerjoin`, `order_by`, `offset`, `limit`, `options`,
`group_by`, `having`, `distinct`, `with_for_update`, `execution_options`, `select_from` keep their
names (`select()` has them all); `populate_existing()` becomes `.execution_options(populate_existing=True)`.

When the shape of the query cannot be told statically (an argument that is a variable, `*args`, a
method without a 1:1 counterpart, another session use inside the chain, an unknown terminal method), the
fix is the exact fallback `await db.run_sync(lambda s: <the original expression>)`, the session renamed to
the lambda's parameter: the legacy code runs unchanged in SQLAlchemy's greenlet. Objects it returns are
still subject to lazy-loading rules (AFY206).

There is no fix outside an `async def` (the function must become async first), where `await` is not
allowed (a lambda, a generator expression), when the query is not consumed in the same expression (a
query built across statements), or when a name the rewrite needs (`select`, `func`) is shadowed.
"""

import ast

from asyncify_lint.diagnostics import Applicability, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import query, sqla
from asyncify_lint.helpers.rewrites import can_await_here
from asyncify_lint.project.callgraph import sync_bound_function
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY204",
        name="legacy-query-api",
        message="`{call}` uses the legacy `Query` API, which `AsyncSession` does not have{why}",
        fix_title="Rewrite as {form}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=204,
        # while an engine of the app stays sync, so do its sessions and their queries (AFY201)
        prefilter=lambda ctx: ".query(" in ctx.source.text and not sqla.declined_engine(ctx),
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, node: ast.Call):
    if not query.is_query_call(ctx, node) or query.nested_in_other_query(ctx, node):
        return
    chain = query.chain_of(ctx, node)
    call = f"{ctx.segment(chain.receiver)}.query(...)"
    if chain.terminal is not None and chain.terminal.kind == "call":
        call += f"...{chain.terminal.name}()"
    why, fix, form = "", None, ""
    if not ctx.in_async_function(node):
        func = ctx.enclosing_function(node)
        if isinstance(func, ast.FunctionDef) and sync_bound_function(ctx, func):
            why = (f"; no automatic fix: `{func.name}` stays sync ({sync_bound_function(ctx, func)}); "
                   "async callers run it with `run_sync` (AFY403)")
        else:
            why = "; no automatic fix: the enclosing function is not async yet"
    elif not can_await_here(ctx, node):
        why = "; no automatic fix: `await` is not allowed here"
    else:
        rw = query.rewrite(ctx, chain, query.iterated(ctx, chain))
        if rw is None:
            if chain.terminal is None:
                why = "; no automatic fix: the query is not executed in this expression"
            else:
                why = "; no automatic fix for this form"
        else:
            fix = Fix(rw.edits, Applicability.UNSAFE, rw.imports)
            form = rw.form
    yield RULE.at(ctx, node, fix, end_node=chain.outer, call=call, why=why, form=form)
