"""
## What it does
Checks for asyncio tasks created and dropped in the same statement (`asyncio.create_task(...)`,
`asyncio.ensure_future(...)` or `loop.create_task(...)` as a statement of its own). The calls are
those of `asyncio.create_task` and `asyncio.ensure_future` through any import spelling, and
`create_task` on an event loop: `asyncio.get_running_loop()`, `get_event_loop()` or
`new_event_loop()`, called there or assigned to the name, or a name annotated
`asyncio.AbstractEventLoop`. A method called on the new task in the same statement, such as
`asyncio.create_task(job()).add_done_callback(log_errors)`, drops it all the same: the callback is
held by the task, not the task by anything.

A task that is awaited, assigned to a name, stored (in a collection, an attribute) or passed to a
call is not reported, nor one made by `TaskGroup.create_task()`, whose group keeps it until it is
done. The rule is asyncio's, not the migration's: it reports in every project, test files included.

## Why is this bad?
The event loop keeps only a weak reference to a task. A task nothing else refers to can be
garbage-collected before it finishes, at any point it waits: the work stops silently, and an
exception it raised is never seen. This is ruff's RUF006 (asyncio-dangling-task) and
flake8-async's ASYNC300 (create-task-no-reference).

## Example
```python
import asyncio


async def send_welcome(user_id: int) -> None:
    await asyncio.sleep(1)


async def sign_up(user_id: int) -> None:
    asyncio.create_task(send_welcome(user_id))
```

## Use instead
```python
import asyncio

background_tasks: set[asyncio.Task[None]] = set()


async def send_welcome(user_id: int) -> None:
    await asyncio.sleep(1)


async def sign_up(user_id: int) -> None:
    task = asyncio.create_task(send_welcome(user_id))
    background_tasks.add(task)
    task.add_done_callback(background_tasks.discard)
```

## Fix safety
There is no fix: where the reference belongs (a set the task leaves when it is done, an attribute of
an object that lives as long as the work, a `TaskGroup` that the caller waits for, or an `await`)
is a design decision.
"""

import ast

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY404",
        name="dangling-task",
        message="the task `{call}(...)` creates is dropped{how}: the event loop keeps only a weak reference "
                "to it, so it may be garbage-collected before it finishes; keep a reference until it is "
                "done, or use a `TaskGroup`",
        fix_availability=FixAvailability.NONE,
        doc=__doc__,
        module=__name__,
        prefilter=lambda ctx: "create_task" in ctx.source.text or "ensure_future" in ctx.source.text,
    )
)

TASK_FACTORIES = frozenset({"asyncio.create_task", "asyncio.ensure_future", "asyncio.tasks.create_task",
                            "asyncio.tasks.ensure_future"})
LOOP_GETTERS = frozenset({"asyncio.get_running_loop", "asyncio.get_event_loop", "asyncio.new_event_loop",
                          "asyncio.events.get_running_loop", "asyncio.events.get_event_loop",
                          "asyncio.events.new_event_loop"})
LOOP_TYPES = frozenset({"asyncio.AbstractEventLoop", "asyncio.events.AbstractEventLoop", "asyncio.BaseEventLoop",
                        "asyncio.base_events.BaseEventLoop"})


def _is_loop(ctx: FileContext, expr: ast.AST) -> bool:
    """``expr`` is an asyncio event loop: a loop getter's call, or a name assigned one or annotated so."""
    if isinstance(expr, ast.Call):
        return isinstance(expr.func, (ast.Name, ast.Attribute)) and ctx.qualname(expr.func) in LOOP_GETTERS
    if not isinstance(expr, ast.Name):
        return False
    b = ctx.lookup(expr.id, expr)
    if b is None:
        return False
    if b.kind == "assign" and isinstance(b.value, ast.Call):
        return _is_loop(ctx, b.value)
    annotation = b.annotation if b.kind in ("param", "assign") else None
    return isinstance(annotation, (ast.Name, ast.Attribute)) and ctx.qualname(annotation) in LOOP_TYPES


def _creates_task(ctx: FileContext, call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, (ast.Name, ast.Attribute)) and ctx.qualname(func) in TASK_FACTORIES:
        return True
    return isinstance(func, ast.Attribute) and func.attr == "create_task" and _is_loop(ctx, func.value)


@RULE.on(ast.Expr)
def check(ctx: FileContext, stmt: ast.Expr):
    node, chained = stmt.value, None
    # `create_task(...).add_done_callback(...)`: methods called on the new task, whose result is dropped
    while isinstance(node, ast.Call) and not _creates_task(ctx, node):
        if not isinstance(node.func, ast.Attribute):
            return
        chained, node = node.func.attr, node.func.value
    if not isinstance(node, ast.Call):
        return
    how = f" (only `{chained}()` is called on it)" if chained else ""
    yield RULE.at(ctx, node, call=ctx.segment(node.func), how=how)
