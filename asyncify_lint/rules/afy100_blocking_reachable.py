"""
## What it does
Checks for calls, in async code, of project functions that reach a blocking call through a chain of
sync helpers, possibly across modules: `create_product → audit.record → time.sleep`. The diagnostic
is reported at the call in the async function (or in an endpoint or dependency that the migration
makes async) that starts the chain, and gives the shortest chain and where the blocking call is.

Blocking calls are the catalogue's (AFY110-AFY118, with the same exceptions: a call those rules
would not report ends no chain), its CPU-bound calls (AFY120: password hashing and key derivation,
`register → security.get_password_hash → passlib.context.CryptContext.hash`), which hold the loop
as long, and the ones the configuration declares (`blocking-calls`, `blocking-patterns`: AFY119).

Calling a generator function runs none of its body: such a call is part of a chain only where its
result is iterated right there (`for x in gen()`, a list, set or dict comprehension, a generator
expression iterated so, `list(gen())`, `sum(...)`, `next(...)`, `"".join(...)`, `*gen()`, or
`yield from gen()` in a generator iterated so in turn). `return StreamingResponse(gen())` is not
reported. A `@contextmanager` function runs its body when it is entered: a call of one always counts.

Calls that run in a worker thread (`asyncio.to_thread`, `loop.run_in_executor`,
`run_in_threadpool`, `anyio.to_thread.run_sync`, `BackgroundTasks.add_task` with a `def`) are not
reported.

## Why is this bad?
A blocking call stops the event loop, and with it every request the process is serving, for as long
as it lasts. Direct blocking calls are easy to spot; the ones hidden two modules away, in a helper
of a helper, are not.

## Example
```python
# shop/services/audit.py
import time


def record(event):
    time.sleep(0.1)  # stands for a slow write


# shop/api.py
@router.post("/products")
async def create_product(data: ProductIn):
    audit.record("created")
```

## Use instead
```python
@router.post("/products")
async def create_product(data: ProductIn):
    await asyncio.to_thread(audit.record, "created")
```
or make `record` use a non-blocking API and await it.

## Fix safety
The fix, applied only with `--unsafe-fixes`, is the reviewed offload: the call of the project
function runs in a worker thread, `await asyncio.to_thread(audit.record, "created")` (or
`run_in_threadpool` where the module already uses it). Its arguments are evaluated on the event loop
as before; the function then runs, with every helper it calls, in the thread. It is unsafe because
the function must be safe to run in another thread: shared state it mutates, thread-local state,
and the order of its side effects relative to the code after the call's `await` need a review.

There is no fix when the function cannot run in a worker thread as it is: when it is passed the
session, or an ORM object (an argument known to hold a mapped instance, or a parameter annotated with
a mapped class or a session type), because lazy loads and session I/O cannot happen outside the event
loop's greenlet; when it is a generator; when its result is iterated or entered as a context
manager (the work happens later, on the loop); inside a lambda or a generator expression; and for a
method of a session or an ORM object, or of a class that holds one (an `__init__` parameter or a
class attribute annotated with a session type or a mapped class). A method of another object is
offloaded like a function (`await asyncio.to_thread(storage.delete, key)`): the sync app ran it in
the threadpool's worker threads already, concurrently with other requests. Converting the helper instead, or replacing the
blocking call, stays a design decision; the blocking call itself is reported by the AFY1xx rules
once the helper is async.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking, query, sqla
from asyncify_lint.helpers.rewrites import can_await_here
from asyncify_lint.project.callgraph import becomes_async, called_def, graph_for
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY100",
        name="blocking-call-reachable",
        message="blocking call reachable from async code: {chain}{detail}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=690,
    )
)


def _findings(ctx: FileContext) -> dict:
    found = ctx.cache.get("afy100")
    if found is None:
        g = graph_for(ctx) if not ctx.is_test else None
        found = g[1].afy100(g[0]) if g is not None else {}
        ctx.cache["afy100"] = found
    return found


RULE.prefilter = lambda ctx: bool(_findings(ctx))


@RULE.on(ast.Call)
def check(ctx: FileContext, node: ast.Call):
    chain = _findings(ctx).get((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset))
    if chain is None:
        return
    reason = _no_offload(ctx, node)
    fix, title = (None, "") if reason is not None else blocking.offload(ctx, node)
    detail = f"; no fix: {reason}" if reason else ""
    yield RULE.at(ctx, node, fix, chain=chain, detail=detail, fix_title=title)


_SESSION = object()  # _orm_class: the value is a session
_UNKNOWN_MAPPED = object()  # _orm_class: a mapped instance of a class not resolved


def _orm_class(ctx: FileContext, expr: ast.AST, at: ast.AST):
    """What ``expr`` holds when it is a session or a mapped instance (None: neither, as far as known):
    a session, a parameter annotated with a mapped class, a name assigned `Model(...)`,
    `await db.get(Model, ...)` or `await f(...)` of a project function annotated to return a mapped
    instance, or a relationship of one (`order.user`)."""
    if sqla.is_session(ctx, expr):
        return _SESSION
    if isinstance(expr, ast.Attribute):
        owner = _orm_class(ctx, expr.value, at)
        if owner is None or owner is _SESSION:
            return None
        if owner is _UNKNOWN_MAPPED:
            return _UNKNOWN_MAPPED
        return _UNKNOWN_MAPPED if expr.attr in owner.relationships else None  # a column is a plain value
    if not isinstance(expr, ast.Name):
        return None
    b = ctx.lookup(expr.id, at)
    if b is None:
        return None
    if b.kind == "param":
        return query.mapped_annotation(ctx, b.annotation)
    if b.kind != "assign" or b.value is None:
        return None
    value = b.value
    if isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)):
        return query.mapped_class(ctx, value.func)
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call):
        call = value.value
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("get", "get_one") and call.args \
                and sqla.is_session(ctx, call.func.value):
            return query.mapped_class(ctx, call.args[0]) or _UNKNOWN_MAPPED
        return query.returned_mapped_class(ctx, value)
    return None


def _no_offload(ctx: FileContext, call: ast.Call) -> str | None:
    """Why the call cannot simply move to a worker thread (None: it can)."""
    if isinstance(ctx.parent(call), ast.Await):
        return "it is awaited"
    if not can_await_here(ctx, call):
        f = ctx.enclosing_function(call)
        if isinstance(f, ast.FunctionDef):
            return f"`{f.name}` is not an `async def` yet (the offload is offered once it is)"
        runner = ctx.parent(f) if isinstance(f, ast.Lambda) else None
        if isinstance(runner, ast.Call) and isinstance(runner.func, ast.Attribute) and runner.func.attr == "run_sync":
            return ("it runs in the session's greenlet (`run_sync`), on the event loop, because it reads lazy "
                    "relationships (AFY206); a worker thread needs them eager-loaded first")
        return "it is in a lambda or a generator expression, not directly in the body of an `async def`"
    used = blocking.used_as_iterable_or_cm(ctx, call)
    if used:
        return f"{used}, after the call returns"
    found = sqla.function_def(ctx, call.func)
    if found is None and isinstance(call.func, ast.Attribute):
        found = called_def(ctx, call)  # type: ignore[assignment]
        reason = _method_holds_orm(ctx, call, found) if found is not None else None
        if reason is not None:
            return reason
    if found is None:
        return "the callee is not a function or a method of the project"
    fctx, func = found
    if not isinstance(func, ast.FunctionDef):
        return "the callee is not a sync `def`"
    if _is_generator(func):
        return f"`{func.name}` is a generator"
    if becomes_async(fctx, func):
        return f"`{func.name}` becomes a coroutine function in the migration (AFY402): await it instead"
    a = func.args
    for p in a.posonlyargs + a.args + a.kwonlyargs:
        if p.annotation is not None and (query.mapped_annotation(fctx, p.annotation) is not None or
                                         sqla.annotation_sqla_type(fctx, p.annotation) in sqla.SESSION_TYPES):
            return (f"`{func.name}` takes `{p.arg}: {fctx.segment(p.annotation)}`, which cannot be used in a worker "
                    "thread (lazy loads and session I/O need the event loop)")
    for arg in list(call.args) + [k.value for k in call.keywords]:
        value = arg.value if isinstance(arg, ast.Starred) else arg
        if _orm_class(ctx, value, call) is not None:
            return (f"it is passed `{ctx.segment(value)}`, a session or an ORM object, which cannot be used in a "
                    "worker thread (lazy loads and session I/O need the event loop)")
    return None


def _method_holds_orm(ctx: FileContext, call: ast.Call, found: tuple[FileContext, ast.AST]) -> str | None:
    """Why a method cannot run in a worker thread: its object is a session or an ORM object, or its
    class holds one (an ``__init__`` parameter or a class-level annotation with a session type or a
    mapped class), whose lazy loads and session I/O need the event loop. None: it can."""
    fctx, func = found
    cls = fctx.parent(func)
    if not isinstance(cls, ast.ClassDef):
        return "the callee is not a method of a class of the project"
    receiver = call.func.value  # type: ignore[attr-defined]
    if _orm_class(ctx, receiver, call) is not None or query.is_mapped_class(fctx, cls):
        return (f"it is a method of `{ctx.segment(receiver)}`, a session or an ORM object, which cannot be used in a "
                "worker thread (lazy loads and session I/O need the event loop)")
    annotations = [n.annotation for n in cls.body if isinstance(n, ast.AnnAssign)]
    for n in cls.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "__init__":
            annotations += [a.annotation for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs if a.annotation]
    for ann in annotations:
        if query.mapped_annotation(fctx, ann) is not None or sqla.annotation_sqla_type(fctx, ann) in sqla.SESSION_TYPES:
            return (f"`{cls.name}` holds `{fctx.segment(ann)}`, which cannot be used in a worker thread (lazy loads "
                    "and session I/O need the event loop)")
    return None


def _is_generator(func: ast.FunctionDef) -> bool:
    stack: list[ast.AST] = list(func.body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(n))
    return False
