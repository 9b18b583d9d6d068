"""
## What it does
Reports, in test files (the test paths, which by default also hold the database migration
environments `alembic/` and `migrations/`), each use of something the migration changes: a function
that becomes a coroutine function (a sync endpoint or dependency that AFY3xx converts, a function
AFY402 converts), an engine or session factory (`create_engine(...)`, `sessionmaker(...)` assigned to
a name) that becomes an async engine or an `async_sessionmaker`, or a call of one of its methods
(`engine.connect()`), and a generator dependency that becomes an async generator. For example:
`tests/test_crud.py:14 calls crud.get_user() synchronously; after the migration it returns a
coroutine`.

`asyncify-lint --fix` prints these findings on stderr before it writes anything.

## Why is this bad?
Tests are never rewritten by the fixer. A test that calls a converted function synchronously gets a
coroutine instead of a result, and usually passes or fails for the wrong reason. These are the tests
to port (to `pytest-asyncio`/`anyio` and `AsyncSession`) together with the migration. A test that
asserts the call's result (`assert crud.get_user(db, 1)`, `... is not None`, `... != x`) is named as
one that passes by accident: a coroutine object is always true, so it keeps passing and tests nothing.

## Example
```python
# tests/test_crud.py
def test_get_user(db):
    assert crud.get_user(db, 1).name == "ann"
```

## Use instead
```python
async def test_get_user(db):
    assert (await crud.get_user(db, 1)).name == "ann"
```

## Fix safety
There is no fix: tests are read, never written.
"""

import ast

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.project.callgraph import AFTER_COROUTINE, graph_for
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY501",
        name="test-impact",
        message="{text}",
        fix_availability=FixAvailability.NONE,
        doc=__doc__,
        module=__name__,
        fix_order=900,
        report="before",
    )
)


def _findings(ctx: FileContext) -> dict:
    found = ctx.cache.get("afy501")
    if found is None:
        g = graph_for(ctx) if ctx.is_test else None
        found = g[1].afy501(g[0]) if g is not None else {}
        ctx.cache["afy501"] = found
    return found


RULE.prefilter = lambda ctx: bool(_findings(ctx))


@RULE.on(ast.Call, ast.Name, ast.Attribute)
def check(ctx: FileContext, node: ast.AST):
    text = _findings(ctx).get((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]
    if text is not None:
        if text.endswith(AFTER_COROUTINE) and _always_true(ctx, node):
            test = _enclosing_function(ctx, node)
            who = f"`{test}`" if test else "the test"
            text += (f"; {who} then passes by accident: a coroutine object is always true, so the `assert` "
                     "tests nothing")
        yield RULE.at(ctx, node, text=text)


def _always_true(ctx: FileContext, call: ast.AST) -> bool:
    """Whether an ``assert`` holds for any coroutine ``call`` returns: ``assert f()``, ``assert f() is
    not None``, ``assert f() != x``."""
    parent = ctx.parent(call)
    if isinstance(parent, ast.Assert):
        return parent.test is call
    if isinstance(parent, ast.Compare) and isinstance(ctx.parent(parent), ast.Assert) and parent.left is call \
            and len(parent.ops) == 1:
        op, right = parent.ops[0], parent.comparators[0]
        return isinstance(op, ast.NotEq) or (
            isinstance(op, ast.IsNot) and isinstance(right, ast.Constant) and right.value is None)
    return False


def _enclosing_function(ctx: FileContext, node: ast.AST) -> str | None:
    return next((a.name for a in ctx.ancestors(node) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))),
                None)
