"""
## What it does
Checks for calls of a coroutine function of the project (an `async def`, found through imports,
re-exports, classes and instances, in any module) whose result is not awaited.

In sync code (a plain `def`, or module level) the call cannot be awaited: the diagnostic says so,
and the enclosing function is reported by AFY402, which makes it async. A coroutine handed to
`asyncio.run`, `create_task`, `gather` and the like is not reported, nor, in an `async def`, one
stored in a variable that the function later awaits or hands over (`a = f(); await gather(a, b)`,
`task = f(); loop.create_task(task)`), nor one whose `__await__()` is called (an awaitable's own
`__await__` delegating to a coroutine).

## Why is this bad?
Calling a coroutine function only creates a coroutine object: the body does not run, exceptions
are lost, and Python warns `coroutine ... was never awaited` at garbage collection. This is the
state the code is in right after a callee was made async (AFY402, AFY3xx).

## Example
```python
async def get_user(db, user_id): ...


async def read_user(db, user_id):
    user = get_user(db, user_id)
    return user
```

## Use instead
```python
async def read_user(db, user_id):
    user = await get_user(db, user_id)
    return user
```

## Fix safety
The fix inserts `await` (with parentheses where precedence needs them: `(await f()).x`). It is safe
when the call is an expression statement or the value of an assignment in an `async def`. Elsewhere
in an `async def` (returned, passed to another function, part of an expression) it is unsafe: the
coroutine might have been meant to be handed over unawaited. A coroutine handed to a runner
(`create_task`, `gather`, `wait_for`...), or to a project function whose parameter receiving it is
awaited or handed to a runner in its body (`await run_guarded(self.close())`), is not reported. There is no fix inside a lambda, a
generator expression or a nested `def`, nor in sync code.
"""

import ast
import re

from asyncify_lint.diagnostics import Applicability, Fix, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers.rewrites import add_await, can_await_here
from asyncify_lint.helpers.sqla import bound_parameter, function_def
from asyncify_lint.project.callgraph import becomes_async, graph_for, unawaited_calls_to
from asyncify_lint.project.summary import RETURNED, STORED
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY401",
        name="missing-await",
        message="coroutine function `{name}` is called without `await`{where}",
        fix_title="Await `{name}()`",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.SAFE,
        doc=__doc__,
        module=__name__,
        fix_order=410,
    )
)

CONSUMERS = frozenset(
    {"run", "create_task", "ensure_future", "gather", "wait", "wait_for", "shield", "as_completed",
     "run_until_complete", "run_coroutine_threadsafe", "start_soon", "start", "spawn", "add_task", "timeout"}
)


# consumers that take a callable first and pass their other arguments on to it
FORWARDING = frozenset({"add_task", "start_soon", "start", "spawn"})


def _sites(ctx: FileContext) -> dict:
    return unawaited_calls_to(ctx, "afy401")


#: functions that call the function they are handed synchronously, in the caller's thread or another,
#: and use what it returns: a coroutine function handed to one makes coroutines nothing awaits (an
#: async generator function, generators nothing can iterate: `contextmanager(get_db)` fails at
#: `with`). Not `map`: `gather(*map(fetch, urls))` awaits what it makes.
SYNC_CALLERS = frozenset({
    "contextlib.contextmanager", "builtins.filter", "builtins.sorted", "builtins.min", "builtins.max",
    "functools.reduce", "threading.Thread", "threading.Timer", "atexit.register",
})
_SYNC_CALLER_NAMES = frozenset(q.rpartition(".")[2] for q in SYNC_CALLERS)


#: a call of one of them in the text (`filter(`, `threading.Thread (`): the files the check can fire in
_SYNC_CALLER_CALL = re.compile(r"\b(?:" + "|".join(sorted(_SYNC_CALLER_NAMES)) + r")\s*\(")


def _may_hand_to_sync_caller(ctx: FileContext) -> bool:
    return _SYNC_CALLER_CALL.search(ctx.source.text) is not None


RULE.prefilter = lambda ctx: bool(_sites(ctx)) or _may_hand_to_sync_caller(ctx)


_CONTAINERS = (ast.keyword, ast.Starred, ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp, ast.GeneratorExp,
               ast.comprehension, ast.IfExp)


def _consumed(ctx: FileContext, node: ast.AST, depth: int = 0) -> bool:
    """The coroutine is handed to something that runs it: ``create_task(f())``, ``gather(*[f() ...])``."""
    child, p = node, ctx.parent(node)
    if isinstance(p, ast.Attribute) and p.attr == "__await__":
        return True  # `return self._connect().__await__()`: an awaitable's protocol, driven by its awaiter
    while isinstance(p, _CONTAINERS):
        child, p = p, ctx.parent(p)
    if not isinstance(p, ast.Call) or p.func is child:
        return False
    consumer = _consumer_name(p.func)
    if consumer in FORWARDING and p.args and child is not p.args[0] and not isinstance(p.args[0], ast.Starred):
        # `add_task(fn, *args)`: the call runs `fn`; an argument after it only reaches `fn`'s parameter
        forwarded = ast.Call(func=p.args[0], args=p.args[1:], keywords=p.keywords)
        return depth < 4 and _parameter_consumed(ctx, forwarded, child, depth + 1)
    if consumer in CONSUMERS:
        return True
    # `executor.submit(asyncio.run, f())`, `loop.call_soon_threadsafe(asyncio.ensure_future, f())`
    if any(a is not child and _consumer_name(a) in CONSUMERS for a in p.args):
        return True
    return depth < 4 and _parameter_consumed(ctx, p, child, depth + 1)


def _parameter_consumed(ctx: FileContext, call: ast.Call, arg: ast.AST, depth: int) -> bool:
    """``await run_guarded(self.close())``: a project function whose parameter receiving the coroutine
    is awaited, or handed to a runner, in its body."""
    found = bound_parameter(ctx, call, arg.value if isinstance(arg, ast.keyword) else arg)
    if found is None:
        return False
    fctx, func, param = found
    for n in ast.walk(func):
        if isinstance(n, ast.Name) and n.id == param.arg and isinstance(n.ctx, ast.Load):
            q = fctx.parent(n)
            if isinstance(q, ast.Await) or _consumed(fctx, n, depth):
                return True
    return False


def _handed_over(ctx: FileContext, node: ast.Call, func: ast.AST) -> bool:
    """``x = f()`` (or ``xs = [f() for ...]``) whose name ``func`` later awaits or hands to a runner:
    ``a = f(); b = g(); await asyncio.gather(a, b)``, ``x = f(); ...; await x``."""
    child, p = node, ctx.parent(node)
    while isinstance(p, _CONTAINERS):
        child, p = p, ctx.parent(p)
    if isinstance(p, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and p.value is child:
        targets = p.targets if isinstance(p, ast.Assign) else [p.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
    else:
        return False
    return bool(names) and any(
        isinstance(n, ast.Name) and n.id in names and isinstance(n.ctx, ast.Load)
        and (isinstance(ctx.parent(n), ast.Await) or _consumed(ctx, n))  # type: ignore[arg-type]
        for n in ast.walk(func)
    )


def _consumer_name(f: ast.AST) -> str | None:
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


@RULE.on(ast.Call)
def check_handed_to_sync_caller(ctx: FileContext, node: ast.Call):
    """``contextmanager(get_db)``, ``map(fetch, ids)``: a project coroutine function (or one the
    migration makes async) handed to a function that calls it synchronously. No fix."""
    func = node.func
    short = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if short not in _SYNC_CALLER_NAMES or ctx.qualname(func) not in SYNC_CALLERS:
        return
    for a in (*node.args, *(k.value for k in node.keywords)):
        if not isinstance(a, (ast.Name, ast.Attribute)):
            continue
        found = function_def(ctx, a)
        if found is None:
            continue
        fctx, fdef = found
        if isinstance(fdef, ast.AsyncFunctionDef):
            when = ""
        elif becomes_async(fctx, fdef, generators=True):
            when = " once the migration makes it async"
        else:
            continue
        yield RULE.at(ctx, a, name=ctx.segment(a),
                      where=f"{when}: `{ctx.segment(func)}()` calls it synchronously; no fix")


@RULE.on(ast.Call)
def check(ctx: FileContext, node: ast.Call):
    entry = _sites(ctx).get((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset))
    if entry is None or _consumed(ctx, node):
        return
    site, target = entry
    name = site.text
    func = ctx.enclosing_function(node)
    if func is None or isinstance(func, ast.FunctionDef):
        # sync code: reported when it drops or uses the coroutine, as the call graph decides for AFY402
        found = graph_for(ctx)
        if found is None:
            return
        rel, graph = found
        f = graph.summaries[rel].function_at(func.lineno, func.col_offset) if func is not None else None
        if not graph.drops(f.qualname if f is not None else None, site):
            return
        if func is None:
            yield RULE.at(ctx, node, name=name, where=" at module level, where it cannot be awaited")
            return
        must = f is not None and f.qualname in graph.must_async
        where = f" in sync code; `{func.name}` must become async (AFY402)" if must else " in sync code"
        for a in ctx.ancestors(func):
            if isinstance(a, ast.AsyncFunctionDef):
                where = (f" in the nested sync function `{func.name}`; `{func.name}` must become async (AFY402)"
                         if must else f" in the nested sync function `{func.name}`")
                break
            if isinstance(a, (ast.FunctionDef, ast.ClassDef)):
                break
        yield RULE.at(ctx, node, name=name, where=where)
        return
    if _handed_over(ctx, node, func):
        return
    if (site.flags & (RETURNED | STORED) and isinstance(func, ast.AsyncFunctionDef) and ctx.project is not None
            and ctx.project.state.is_async):
        # async code of a project that is async already: a coroutine stored, or returned to callers
        # that hand it over, is kept on purpose (a call it is passed to was decided above)
        found = graph_for(ctx)
        f = found[1].summaries[found[0]].function_at(func.lineno, func.col_offset) if found else None
        if f is not None and not found[1].drops(f.qualname, site):  # type: ignore[index]
            return
    if can_await_here(ctx, node):
        p = ctx.parent(node)
        plain = isinstance(p, ast.Expr) or (isinstance(p, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and p.value is node)
        fix = Fix(add_await(ctx, node), Applicability.SAFE if plain else Applicability.UNSAFE)
        yield RULE.at(ctx, node, fix, name=name, where="")
        return
    if isinstance(func, ast.AsyncFunctionDef):  # inside a generator expression
        yield RULE.at(ctx, node, name=name, where=" inside a generator expression, where `await` would change its type")
        return
    # a lambda returns the coroutine to whoever calls it: in a project that is async already, that is
    # handing it over (`retry(lambda: fetch())`); in one that is migrating, it was a value before
    if ctx.project is not None and ctx.project.state.is_async:
        return
    yield RULE.at(ctx, node, name=name, where=" inside a lambda, which cannot await")
