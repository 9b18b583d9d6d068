"""
## What it does
Checks for synchronous database driver and client calls in the body of an `async def`:
`sqlite3.connect()` and the methods of its connections and cursors, `psycopg2`, `pymysql`, and
sync `redis.Redis` clients (connections and cursors are tracked through `conn.cursor()`,
assignments, annotations and `self.<attr>` set in `__init__`). SQLAlchemy sessions are the AFY2xx
rules' business.

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

## Why is this bad?
Every query is a round trip to the database, made on the event loop's thread.

## Example
```python
import sqlite3


async def count_users():
    conn = sqlite3.connect("app.db")
    return conn.execute("select count(*) from users").fetchone()[0]
```

## Use instead
```python
import aiosqlite


async def count_users():
    async with aiosqlite.connect("app.db") as conn:
        async with conn.execute("select count(*) from users") as cur:
            return (await cur.fetchone())[0]
```

## Fix safety
Only `psycopg2.connect(...)` gets a fix, applied with `--unsafe-fixes`:
`await asyncio.to_thread(psycopg2.connect, ...)`. Nothing is offered for sqlite3, whose objects are
bound to the thread that created them (`asyncio.to_thread` would raise `ProgrammingError`), nor for
cursors and clients, whose calls belong to one unit of work: move to an async driver.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY117",
        name="blocking-db-driver-call-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=607,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
