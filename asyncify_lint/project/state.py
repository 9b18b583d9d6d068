"""Whether a project is being migrated to asyncio, or is async already, and where the migration reaches.

In a project that is **migrating** (its engine is still sync), the migration rules report everything
they find: that is the job. In a project that is **async** already, sync code is there on purpose: a
test fixture's sync engine, a sync ``Session`` handed to a sync library (OAuth, Celery, Alembic), a
library's own sync implementation. There the migration rules report only where the migration really
reaches: code that runs in the event loop (an ``async def``, an endpoint, dependency or handler that
must await something, and the sync functions they call). A sync endpoint that can stay sync runs in
FastAPI's thread pool; sync code that no async code calls, and a script's module-level engine,
sessions and queries, are not findings. AFY401/AFY402 are not gated: a coroutine that sync code drops
is a bug in any project (the call graph's ``drops`` decides what is handed on instead).

The state is read once, from the files as they are on disk (never from a fix's output, which turns a
migrating project async halfway through), or set with the configuration key ``project-state``.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

MIGRATING, ASYNC = "migrating", "async"

SYNC_ENGINES = frozenset({"create_engine", "engine_from_config"})
_NEEDLES = (b"create_engine", b"engine_from_config")
_ASYNC_API = re.compile(rb"\b(?:create_async_engine|async_engine_from_config|AsyncSession|async_sessionmaker|AsyncEngine)\b")
_FASTAPI_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+fastapi\b|import[ \t]+fastapi\b)", re.MULTILINE)
_ASYNC_DEF = re.compile(rb"^[ \t]*async[ \t]+def[ \t]", re.MULTILINE)
#: database migration scripts (Alembic's env.py) keep their own engine, sync or async, whatever the app's
_TOOLING_DIRS = frozenset({"alembic", "migrations"})

#: the migration rules: what they report is work the migration does (or cannot do)
MIGRATION_CODES = frozenset({"AFY201", "AFY202", "AFY204", "AFY205", "AFY301", "AFY302", "AFY303", "AFY403",
                             "AFY501", "AFY502"})
#: the migration rules whose findings at module level are sync code kept on purpose in an async project
MODULE_LEVEL_SYNC_CODES = frozenset({"AFY201", "AFY204", "AFY403"})
#: the rules for endpoints, dependencies and handlers: in an async project, reported only when the
#: function cannot work as it is (it must await something)
HANDLER_CODES = frozenset({"AFY301", "AFY302", "AFY303"})


@dataclass(frozen=True)
class ProjectState:
    state: str  # MIGRATING or ASYNC
    reason: str  # why, for --verbose: "`create_engine(...)` in app/db.py:5, and no async engine"

    @property
    def is_async(self) -> bool:
        return self.state == ASYNC

    def describe(self) -> str:
        return f"project state: {self.state} ({self.reason})"


def detect(project) -> ProjectState:
    """The state of ``project``: from the ``project-state`` setting, else from its code (tests and
    database migration scripts aside):

    1. async, when it uses SQLAlchemy's asyncio API (`create_async_engine`, `AsyncSession`,
       `async_sessionmaker`, `AsyncEngine`);
    2. migrating, when it creates a sync engine (`create_engine`, `engine_from_config`);
    3. migrating, when it is a FastAPI app (nothing async to say otherwise);
    4. otherwise async when it has coroutine functions (a library of its own kind), else migrating.
    """
    setting = getattr(project.settings, "project_state", "auto")
    if setting in (MIGRATING, ASYNC):
        return ProjectState(setting, "set by the `project-state` setting")
    sync_at: str | None = None
    async_at: str | None = None
    fastapi_at: str | None = None
    coroutine_functions = 0
    for rel in project.files:
        if project.is_test_file(rel):
            continue
        try:
            with open(os.path.join(project.root, rel), "rb") as f:
                data = f.read()
        except OSError:
            continue
        coroutine_functions += len(_ASYNC_DEF.findall(data))
        if fastapi_at is None and _FASTAPI_IMPORT.search(data):
            fastapi_at = rel
        if _TOOLING_DIRS.intersection(rel.replace(os.sep, "/").split("/")[:-1]):
            continue
        if not (b"sqlalchemy" in data or b"sqlmodel" in data):
            continue
        if async_at is None:
            m = _ASYNC_API.search(data)
            if m is not None:
                line = data.count(b"\n", 0, m.start()) + 1
                async_at = f"`{m.group().decode()}` in {rel}:{line}"
        if sync_at is None and any(n in data for n in _NEEDLES):
            for kind, line in _engine_calls(data):
                if kind in SYNC_ENGINES:
                    sync_at = f"`{kind}(...)` in {rel}:{line}"
                    break
    if async_at is not None:
        also = f"; a sync engine too, {sync_at}" if sync_at else ""
        return ProjectState(ASYNC, f"it uses SQLAlchemy's asyncio API: {async_at}{also}")
    if sync_at is not None:
        return ProjectState(MIGRATING, f"a sync engine, {sync_at}, and no async one")
    if fastapi_at is not None:
        return ProjectState(MIGRATING, f"a FastAPI app ({fastapi_at}) with no async engine")
    if coroutine_functions:
        return ProjectState(ASYNC, f"no engine and no FastAPI, and {coroutine_functions} coroutine functions")
    return ProjectState(MIGRATING, "no engine and no coroutine function")


def _engine_calls(data: bytes) -> list[tuple[str, int]]:
    """The sync engines a module creates: (the function's name, line), in line order."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in SYNC_ENGINES:
                out.append((name, node.lineno))
    out.sort(key=lambda kl: kl[1])
    return out


def migration_gate(ctx, diagnostics: list) -> list:
    """The diagnostics of a file's rules that its project reports: in an async project, the migration
    rules' only where the migration reaches (``run_rules`` applies it, given by the runner)."""
    project = ctx.project
    if diagnostics and project is not None and project.state.is_async:
        # an async project: the migration rules report only where the migration reaches
        return [d for d in diagnostics if d.code not in MIGRATION_CODES or reached(ctx, d.code, d.line, d.col)]
    return diagnostics


def reached(ctx, code: str, line: int, col: int) -> bool:
    """In an async project, whether a migration rule's finding at (line, col) is where the migration
    reaches: inside a function that is async, or that async code calls (an endpoint, a dependency, a
    handler, or a sync function on their call chains). For endpoints, dependencies and handlers
    themselves (AFY301-303), whether they must await something. Module-level code is not reached."""
    from asyncify_lint.project.callgraph import graph_for

    found = graph_for(ctx)
    if found is None:
        return False
    rel, graph = found
    func = _innermost_def(ctx, line, col)
    if func is None:
        # module level: a script's or a test helper's sync engine, sessions and queries are sync on
        # purpose; DDL run on an async engine, or sync sessions made on one, are bugs in any project
        if code == "AFY202":
            return _binds_async_engine(ctx, line, col)
        return code not in MODULE_LEVEL_SYNC_CODES
    f = graph.summaries[rel].function_at(func.lineno, func.col_offset)
    if f is None:
        return False
    q = f.qualname
    if code in HANDLER_CODES or q in graph.roots:
        return f.is_async or q in graph.must_async  # a sync endpoint that can stay sync runs in a thread
    return f.is_async or q in graph.reached_from_async()


def _binds_async_engine(ctx, line: int, col: int) -> bool:
    """The call at (line, col) (``sessionmaker(...)``, ``Session(...)``) is bound to an async engine."""
    from asyncify_lint.helpers import sqla

    for call in ctx.nodes_of(ast.Call):
        if call.lineno == line and call.col_offset == col:
            bind = sqla.bind_argument(call)
            return bind is not None and sqla.engine_kind(ctx, bind) == "async"
    return False


def _innermost_def(ctx, line: int, col: int):
    """The innermost ``def`` whose text holds (line, col); a diagnostic on a ``def`` belongs to it."""
    defs = ctx.cache.get("state.defs")
    if defs is None:
        defs = ctx.cache["state.defs"] = [
            n for n in ctx.nodes_of(ast.FunctionDef, ast.AsyncFunctionDef)
        ]
    best = None
    for d in defs:
        start = (d.decorator_list[0].lineno, d.decorator_list[0].col_offset) if d.decorator_list else (d.lineno, d.col_offset)
        if start <= (line, col) <= (d.end_lineno, d.end_col_offset):
            if best is None or (d.lineno, d.col_offset) > (best.lineno, best.col_offset):
                best = d
    return best
