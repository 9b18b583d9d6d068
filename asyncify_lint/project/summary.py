"""Per-module summaries for the whole-project analysis: cheap, picklable, no ``ast`` nodes inside.

A summary records, for one module: its functions and methods (qualname, sync/async, decorators,
generator or not, position), the call sites in each function with their *lexically* resolved target
(imports followed within the module; re-exports, classes and instances are resolved later, when the
call graph links all summaries), whether each call is awaited or runs in a worker thread, the known
blocking calls and the session I/O calls that will need ``await``.

Targets are strings:
    ``q:pkg.mod.name[.attr...]``  a qualified name (may be a function, a class, ``Class.meth``, an
                                  instance attribute, or something outside the project)
    ``m:pkg.mod.Class:meth``      a method looked up on an instance of ``Class`` (``self.meth()``,
                                  ``Service().meth()``, ``svc.meth()`` with ``svc`` typed)
    ``s:pkg.mod.Class:meth``      ``super().meth()`` inside ``Class``
    ``?``                         not resolvable statically (a call of one is only counted, in
                                  ``unknown_calls``: it can never be an edge of the graph)

The summary is computed with a context whose project does *not* follow re-exports (so that the
summary depends only on the file, plus the few modules consulted for the type of a value and the
modules those answers were read from in turn, which are listed in ``deps`` and checked by the cache).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import itertools
import json
import operator
import os
import warnings
import weakref
from dataclasses import dataclass, field
from sys import intern
from typing import NamedTuple

from asyncify_lint import __version__
from asyncify_lint.config import max_file_size, over_limit, too_large_message
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import block_fields
from asyncify_lint.engine.source import SourceFile
from asyncify_lint.helpers import blocking, fastapi, query, sqla
from asyncify_lint.helpers.convert import blocker
from asyncify_lint.project.view import ModuleView

SUMMARY_VERSION = f"{__version__}-s29"

# Session I/O that makes its function await: the methods that return an awaitable on an AsyncSession,
# and the legacy query and bulk methods, which are missing there (a query is rewritten and awaited; a
# bulk call keeps its function sync, run with run_sync, see _sync_bound_reason).
SESSION_IO = sqla.SESSION_AWAITABLE | {"query", "bulk_save_objects", "bulk_insert_mappings", "bulk_update_mappings"}

# Calls whose first argument (or argument ``index``) is a callable run in a worker thread.
THREAD_RUNNERS = {
    "asyncio.to_thread": 0,
    "starlette.concurrency.run_in_threadpool": 0,
    "fastapi.concurrency.run_in_threadpool": 0,
    "anyio.to_thread.run_sync": 0,
}
BACKGROUND_TYPES = frozenset({"fastapi.BackgroundTasks"})
PARTIAL = frozenset({"functools.partial"})
FACTORY_CALLS = {
    "sqlalchemy.create_engine": "engine",
    "sqlalchemy.orm.sessionmaker": "session factory",
    "sqlalchemy.orm.scoped_session": "session factory",
}

_OTHER_REF_NEEDLES = ("add_api_route", "add_event_handler", "add_exception_handler", "on_startup", "on_shutdown",
                      "exception_handlers", "lifespan")

# call flags
AWAITED = 1
EXEMPT = 2  # runs in a worker thread (inside a to_thread/run_in_executor/add_task argument)
IN_LAMBDA = 4
IN_GENEXP = 8
ARGUMENT = 16  # the call is an argument of another call
HANDED = 32  # the result is stored in a name the function awaits or passes to a call (not `print(x)`), or its `__await__()` is called
MAIN_GUARD = 64  # at module level, in the body of `if __name__ == "__main__":` (a script's entry point)
RETURNED = 128  # the value of a `return`: handed to the caller, which may await it
STORED = 256  # stored in an attribute or an item (`self._task = f()`, `d[k] = f()`) or yielded: kept to run later
ITERATED = 512  # its result is iterated right there (`for x in f()`, `list(f())`, `yield from f()`): a generator's body runs

#: annotations of a value that is awaited later, by whoever receives it
AWAITABLE_ANNOTATIONS = frozenset({"Awaitable", "Coroutine", "Future", "Task", "FutureLike", "CoroutineType"})


def _awaitable_annotation(node: ast.AST | None) -> bool:
    """``Awaitable[T]``, ``typing.Coroutine[...]``, ``"asyncio.Future[T]"``: an awaitable's type."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        head = node.value.split("[", 1)[0].strip()
        return head.rsplit(".", 1)[-1] in AWAITABLE_ANNOTATIONS
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr in AWAITABLE_ANNOTATIONS
    return isinstance(node, ast.Name) and node.id in AWAITABLE_ANNOTATIONS


_EMPTY: frozenset = frozenset()
#: builtins that iterate their first argument to the end (or, ``next``, to its first item)
_ITERATING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "dict", "sorted", "sum", "min", "max", "any",
                                 "all", "next"})
#: builtins that look at a value without running it: a coroutine passed to one is not "handed over"
_INSPECTING_BUILTINS = frozenset({"print", "repr", "str", "format", "len", "id", "type", "isinstance", "bool",
                                  "hash", "vars", "dir"})


def _is_main_guard(node: ast.If) -> bool:
    """``if __name__ == "__main__":`` (either operand order)."""
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return False
    sides = [t.left, t.comparators[0]]
    return any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides) and any(
        isinstance(x, ast.Constant) and x.value == "__main__" for x in sides)


class CallSite(NamedTuple):
    line: int
    col: int  # ast col_offset (UTF-8 bytes)
    end_line: int
    end_col: int
    target: str
    text: str  # the callee as written (shortened)
    flags: int = 0
    kind: str = "call"  # "call"; "thread": a callable handed to a worker thread; "depends": Depends(x);
    #                     "callback": a project callable handed to another call; "use": a name used (tests)
    consumer: str = ""  # for "callback": the called function's target; for "depends" in a decorator
    #                     (`@router.get("/", dependencies=[Depends(auth)])`): the decorated function

    @property
    def pos(self) -> tuple[int, int]:
        return (self.line, self.col)


_call_site = functools.partial(tuple.__new__, CallSite)  # a CallSite from a plain tuple of its fields


class Finding(NamedTuple):
    line: int
    col: int
    text: str  # e.g. "time.sleep" or "db.commit"
    kind: str  # blocking category ("cpu": CPU-bound, "user": declared in the settings), or "session"
    flags: int = 0


@dataclass
class FunctionSummary:
    qualname: str
    name: str
    is_async: bool
    line: int
    col: int
    cls: str | None = None  # the class qualname for a method
    nested: bool = False  # defined inside another function
    decorators: list[tuple[str, str]] = field(default_factory=list)  # (target, source text)
    generator: bool = False
    roles: list[str] = field(default_factory=list)  # FastAPI roles given by decorators in this module
    first_param: str | None = None
    calls: list[CallSite] = field(default_factory=list)
    blocking: list[Finding] = field(default_factory=list)
    session_io: list[Finding] = field(default_factory=list)
    #: why this function's session work cannot be made async mechanically (it then stays sync and
    #: async callers run it with ``await session.run_sync(f, ...)``, AFY403); "" when it can
    sync_bound: str = ""
    #: calls in it (not in worker-thread code) of something no analysis can name (``obj.run()`` on a
    #: value of unknown type): counted, no call site kept
    unknown_calls: int = 0
    #: its return annotation is an awaitable (``-> Awaitable[T]``, ``Coroutine``, ``Future``, ``Task``):
    #: a coroutine it returns is handed to its caller on purpose
    returns_awaitable: bool = False
    #: for a sync def: why the fixes of the endpoint, dependency and handler rules (AFY301-303) would
    #: not make it ``async def`` (helpers/convert.py ``blocker``, generators allowed: another decorator
    #: such as ``@lru_cache``, a direct call in its module, ``yield from``); "" when they would
    convert_blocker: str = ""


_FUNCTION_FIELDS = tuple(FunctionSummary.__dataclass_fields__)
_CALLS = _FUNCTION_FIELDS.index("calls")


#: Session methods that AsyncSession does not have, and that no rewrite replaces
SYNC_ONLY_SESSION_METHODS = frozenset({"bulk_save_objects", "bulk_insert_mappings", "bulk_update_mappings",
                                       "enable_relationship_loading"})


@dataclass
class ModuleSummary:
    relpath: str
    module: str | None
    is_package: bool
    is_test: bool
    sha: str
    version: str = SUMMARY_VERSION
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)  # class qualname -> base targets
    imports: dict[str, str] = field(default_factory=dict)  # module-level name -> imported qualname
    defs: dict[str, str] = field(default_factory=dict)  # module-level def/class name -> qualname
    instances: dict[str, str] = field(default_factory=dict)  # module-level name -> target of its class
    aliases: dict[str, str] = field(default_factory=dict)  # module-level name -> target (partial, g = f)
    factories: dict[str, str] = field(default_factory=dict)  # name -> "engine" / "session factory"
    refs: list[tuple[str, str, int, int]] = field(default_factory=list)  # (role, target, line, col)
    module_calls: list[CallSite] = field(default_factory=list)  # module level and class bodies
    deps: dict[str, str] = field(default_factory=dict)  # project module consulted for types -> "" (sha set by cache)
    error: str | None = None  # the module could not be parsed
    external_calls: int = 0  # calls of a qualified name outside the project (no call site kept for them)
    unknown_calls: int = 0  # calls of something no analysis can name (target "?"; no call site kept for them)
    #: the top-level names taken to be outside the project (`os`, `requests`): the summary is stale once
    #: one of them is a project package (a vendored copy, an exclude removed)
    outside: frozenset[str] = frozenset()

    # Pickled with each function as its field values by position (its qualname is its key) and the call
    # sites as plain tuples. Loading then calls the dataclass's `__init__` from Python, which is three
    # times as fast as pickle rebuilding an object from a dict of field names or a reduce function, and
    # makes CallSites in C (`tuple.__new__`): a named tuple is otherwise rebuilt through its
    # Python-level `__new__`.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["module_calls"] = [tuple(c) for c in self.module_calls]
        state["functions"] = [
            tuple([[tuple(c) for c in d[k]] if k == "calls" else d[k] for k in _FUNCTION_FIELDS])
            for d in (f.__dict__ for f in self.functions.values())
        ]
        return state

    def __setstate__(self, state: dict) -> None:
        state["module_calls"] = list(map(_call_site, state["module_calls"]))
        make, new, calls = _call_site, FunctionSummary, _CALLS
        functions: dict[str, FunctionSummary] = {}
        for values in state.pop("functions"):
            f = functions[values[0]] = new(*values)
            if values[calls]:
                f.calls = list(map(make, values[calls]))
        state["functions"] = functions
        self.__dict__.update(state)

    def all_calls(self):
        yield None, self.module_calls
        for f in self.functions.values():
            yield f, f.calls

    def function_at(self, line: int, col: int) -> FunctionSummary | None:
        """The function defined at (line, col) (its ``def``'s position; the first one, in the
        summary's order, should two share it): one dictionary lookup, through an index of the
        positions built on the first call (see ``_positions``)."""
        return _positions(self).get((line, col))


#: id(summary) -> (its ``functions`` dict, how many functions it held, (line, col) -> function). Kept
#: beside the summaries rather than in them, so that it is never pickled with a summary; an entry is
#: dropped with its summary, and rebuilt when the summary's functions are no longer what it indexed.
_POSITIONS: dict[int, tuple[dict, int, dict[tuple[int, int], FunctionSummary]]] = {}


def _positions(summary: ModuleSummary) -> dict[tuple[int, int], FunctionSummary]:
    key = id(summary)
    functions = summary.functions
    entry = _POSITIONS.get(key)
    if entry is not None and entry[0] is functions and entry[1] == len(functions):
        return entry[2]
    index: dict[tuple[int, int], FunctionSummary] = {}
    for f in functions.values():
        index.setdefault((f.line, f.col), f)
    if entry is None:
        weakref.finalize(summary, _POSITIONS.pop, key, None)
    _POSITIONS[key] = (functions, len(functions), index)
    return index


def text_sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# -- the disk cache's form of a summary --------------------------------------------------------------
# The disk cache (cache.py) holds each summary as JSON of plain values: a list of its fields in the
# order below, where the functions, the call sites, the findings and the references are tables of
# columns (one list per field: a table of 1,000 call sites is 9 lists, not 1,000), and the rows of a
# function's own tables (its call sites, decorators...) follow each other, with their counts in a
# column of the function table. The cache is a file in the project directory, so whatever it holds is
# data to check, never to trust: `from_json` checks the type of every value (bool is not int, a float
# is neither; None only where a field may be None), raises ValueError at the first one that is wrong,
# and builds the summary with the types a computed one has (CallSite and Finding tuples, tuples in
# lists, a frozenset), so the two are equal and behave the same. The checks and the building run over
# whole columns at once in C (`set(map(type, column))`, `map(CallSite, zip(*columns))`); only the
# dataclasses' own `__init__` runs once per object in Python, as when they are computed.

_NONE = type(None)
_STR, _OPT_STR, _INT, _BOOL = map(frozenset, ({str}, {str, _NONE}, {int}, {bool}))
_SITE = (_INT, _INT, _INT, _INT, _STR, _STR, _INT, _STR, _STR)  # CallSite's fields
_FINDING = (_INT, _INT, _STR, _STR, _INT)  # Finding's fields
_REF = (_STR, _STR, _INT, _INT)  # (role, target, line, col)
_DECORATOR = (_STR, _STR)  # (target, source text)
_ROLE = (_STR,)
_finding = functools.partial(tuple.__new__, Finding)
_first = operator.itemgetter(0)

#: FunctionSummary's fields in the order of the function table, each with the types it may have, or
#: for a list of rows, the types of a row's fields and what makes a row from them
_PLAIN_FUNCTION: tuple[tuple[str, object], ...] = (
    ("qualname", _STR), ("name", _STR), ("is_async", _BOOL), ("line", _INT), ("col", _INT), ("cls", _OPT_STR),
    ("nested", _BOOL), ("decorators", (_DECORATOR, tuple)), ("generator", _BOOL), ("roles", (_ROLE, _first)),
    ("first_param", _OPT_STR), ("calls", (_SITE, _call_site)), ("blocking", (_FINDING, _finding)),
    ("session_io", (_FINDING, _finding)), ("sync_bound", _STR), ("unknown_calls", _INT),
    ("returns_awaitable", _BOOL), ("convert_blocker", _STR),
)
#: ModuleSummary's fields, in the order of its list; "str dict": a dict of strings to strings
_PLAIN_MODULE: tuple[tuple[str, object], ...] = (
    ("relpath", _STR), ("module", _OPT_STR), ("is_package", _BOOL), ("is_test", _BOOL), ("sha", _STR),
    ("version", _STR), ("functions", "functions"), ("classes", "classes"), ("imports", "str dict"),
    ("defs", "str dict"), ("instances", "str dict"), ("aliases", "str dict"), ("factories", "str dict"),
    ("refs", (_REF, tuple)), ("module_calls", (_SITE, _call_site)), ("deps", "str dict"), ("error", _OPT_STR),
    ("external_calls", _INT), ("unknown_calls", _INT), ("outside", "strs"),
)
_MODULE_NAMES = tuple(name for name, _kind in _PLAIN_MODULE)
_FUNCTION_NAMES = tuple(name for name, _kind in _PLAIN_FUNCTION)


def _columns(rows, width: int) -> list[list]:
    """A table's rows (tuples) as its columns."""
    return list(map(list, zip(*rows))) or [[] for _ in range(width)]


def to_json(s: ModuleSummary) -> bytes:
    """The summary as the disk cache holds it: ASCII JSON (``from_json`` reads it back)."""
    d = s.__dict__
    plain: list = []
    for name, kind in _PLAIN_MODULE:
        value = d[name]
        if kind == "functions":
            table = []
            for fname, fkind in _PLAIN_FUNCTION:
                column = [f.__dict__[fname] for f in value.values()]
                if fkind.__class__ is tuple and fkind[0].__class__ is tuple:  # a list of rows each
                    width = len(fkind[0])
                    rows = _chain(column) if width > 1 else zip(_chain(column))
                    column = [list(map(len, column)), *_columns(rows, width)]
                table.append(column)
            value = table
        elif kind == "strs":
            value = sorted(value)
        elif kind.__class__ is tuple:
            value = _columns(value, len(kind[0]))
        plain.append(value)
    # ensure_ascii: a lone surrogate in a name or text (read with surrogateescape) comes back as it was
    blob = _ENCODE(plain).encode("ascii")
    if s.__dict__.get("_content") is None:  # (the content fingerprint, from the same plain values)
        plain[_SHA_AT], plain[_DEPS_AT] = "", {}
        d["_content"] = hashlib.blake2b(_ENCODE(plain).encode("ascii"), digest_size=12).hexdigest()
    return blob


_SHA_AT, _DEPS_AT = _MODULE_NAMES.index("sha"), _MODULE_NAMES.index("deps")


def content_fingerprint(s: ModuleSummary) -> str:
    """What the call graph reads of a summary: all of it but the hashes of the texts it was made of
    (an edit that leaves the summary as it was leaves the graph as it was)."""
    found = s.__dict__.get("_content")
    if found is None:
        to_json(s)
        found = s.__dict__["_content"]
    return found


class _Refused(ValueError):
    """A cache entry that is not a summary ``to_json`` wrote."""


def _check(ok: object) -> None:
    if not ok:
        raise _Refused("ill-typed cache entry")


def _column(column: object, kinds: frozenset, length: int | None = None) -> list:
    """A list of values of the ``kinds`` (of ``length`` values, when given)."""
    _check(column.__class__ is list and set(map(type, column)) <= kinds)  # type: ignore[call-overload]
    _check(length is None or len(column) == length)  # type: ignore[arg-type]
    return column  # type: ignore[return-value]


def _table(columns: object, kinds: tuple, make, length: int | None = None) -> list:
    """The rows of a table of columns of the ``kinds``, each made by ``make`` from a tuple of its values."""
    _check(columns.__class__ is list and len(columns) == len(kinds))  # type: ignore[arg-type]
    length = len(columns[0]) if length is None and columns[0].__class__ is list else length  # type: ignore[index]
    for column, k in zip(columns, kinds):  # type: ignore[call-overload]
        _column(column, k, length)
    return list(map(make, zip(*columns)))  # type: ignore[call-overload]


def _nested(columns: object, kinds: tuple, make, functions: int) -> list[list]:
    """Each function's rows: a column of counts, then the table of all the rows, one function's after
    another's."""
    _check(columns.__class__ is list and len(columns) == len(kinds) + 1)  # type: ignore[arg-type]
    counts = _column(columns[0], _INT, functions)  # type: ignore[index]
    total = sum(counts)
    rows = _table(columns[1:], kinds, make, total)  # type: ignore[index]
    if not total:
        _check(not any(counts))
        return list(map(list, _repeat((), functions)))
    _check(min(counts) >= 0)
    ends = list(itertools.accumulate(counts))
    return list(map(rows.__getitem__, map(slice, [0, *ends[:-1]], ends)))


def _str_dict(value: object) -> dict:
    _check(value.__class__ is dict and set(map(type, value.values())) <= _STR)  # type: ignore[attr-defined]
    return value  # type: ignore[return-value]


def from_json(data: bytes | str) -> ModuleSummary:
    """The summary ``to_json`` wrote; ValueError for anything else (malformed JSON, a missing or extra
    field, a value of the wrong type). Never runs anything: the JSON decoder only builds plain values."""
    plain = _DECODE(data)
    _check(plain.__class__ is list and len(plain) == len(_PLAIN_MODULE))
    values: dict = {}
    for (name, kind), value in zip(_PLAIN_MODULE, plain):
        if kind.__class__ is frozenset:
            _check(value.__class__ in kind)
        elif kind == "str dict":
            _str_dict(value)
        elif kind == "strs":
            value = frozenset(_column(value, _STR))
        elif kind == "classes":  # class qualname -> base targets
            _check(value.__class__ is dict and set(map(type, value.values())) <= {list})
            _column(list(_chain(value.values())), _STR)
        elif kind == "functions":
            value = _functions(value)
        else:
            value = _table(value, *kind)  # type: ignore[misc]
        values[name] = value
    return ModuleSummary(**values)


def _functions(table: object) -> dict[str, FunctionSummary]:
    _check(table.__class__ is list and len(table) == len(_PLAIN_FUNCTION))  # type: ignore[arg-type]
    n = len(table[0]) if table[0].__class__ is list else 0  # type: ignore[index]
    columns = []
    for (_name, kind), column in zip(_PLAIN_FUNCTION, table):  # type: ignore[call-overload]
        if kind.__class__ is frozenset:
            columns.append(_column(column, kind, n))  # type: ignore[arg-type]
        else:
            columns.append(_nested(column, *kind, n))  # type: ignore[misc]
    functions = dict(zip(columns[0], map(FunctionSummary, *columns)))
    _check(len(functions) == n)  # two functions of one name: not a summary we wrote
    return functions


_ENCODE = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False, separators=(",", ":")).encode
_DECODE = json.loads
_chain = itertools.chain.from_iterable
_repeat = itertools.repeat


class _SummaryProject(ModuleView):
    """The project as seen while summarising: types of other modules' values are looked up, and the
    modules consulted are recorded (as a parsed module's view records them, but in this summary's own
    ``consulted``), re-exports are not followed (the call graph does that)."""

    def __init__(self, project) -> None:
        self._project = project
        self._reads = self.consulted = set()
        self._hard, self._soft = set(), set()  # (what the results cache reads of a file's own context)

    def resolve_reexport(self, qualname: str, _depth: int = 0) -> str:
        return qualname

    def fact(self, key, compute):  # helpers asking for project facts while summarising: none
        return {}

    def contexts_containing(self, needles):
        return iter(())

    def function_def(self, qualname: str):
        return None

    def reached(self, ctx, code: str, line: int, col: int) -> bool:
        """Whether the migration reaches a finding (project/state.py) is a question for the call graph,
        which is being built from the summaries: a summary takes the migration's default, reached
        (asking would build the graph again, recursively, until Python's recursion limit)."""
        return True


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Builder:
    def __init__(self, ctx: FileContext, summary: ModuleSummary) -> None:
        self.ctx = ctx
        self.s = summary
        self.module = ctx.module or ""
        self.def_qualnames: dict[int, str] = {}  # id(def/class node) -> qualname
        self.func_by_id: dict[int, FunctionSummary] = {}
        self.exempt: set[int] = set()  # ids of arguments that run in a worker thread
        self._above_memo: dict[int, tuple[FunctionSummary | None, int]] = {}
        self.handed: dict[int, set[str]] | None = None  # id(function) -> names it awaits or passes on
        self.tops: frozenset[str] = frozenset()
        self.outside: set[str] = set()  # top-level names in_project answered False for
        self.user_blocking = blocking.has_user_declared(ctx)

    # -- resolution --------------------------------------------------------------------------
    def qn(self, prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    def name_target(self, expr: ast.Name, methods: bool = True) -> str:
        ctx = self.ctx
        b = ctx.lookup(expr.id, expr)
        if b is None:
            return f"q:builtins.{expr.id}"
        if b.kind in ("def", "class"):
            q = self.def_qualnames.get(id(b.node)) or b.qualname
            return f"q:{q}" if q else "?"
        if b.kind == "import":
            return f"q:{b.qualname}" if b.qualname else "?"
        if b.kind == "assign" and b.value is not None:
            v = b.value
            if isinstance(v, ast.Call) and isinstance(v.func, (ast.Name, ast.Attribute)) and v.args:
                if ctx.qualname(v.func) in PARTIAL:
                    return self.callable_target(v.args[0], methods=methods)
            if isinstance(v, (ast.Name, ast.Attribute)) and not (isinstance(v, ast.Name) and v.id == expr.id):
                return self.callable_target(v, methods=methods)
            if ctx.module_scope.bindings.get(expr.id) is b and self.module:
                return f"q:{self.module}.{expr.id}"  # a module-level value: resolved when linking
            if not methods:
                return "?"
            t = sqla.value_type(ctx, expr)
            if t and t != "?" and not t.startswith("returns:"):
                return f"m:{t}:__call__"
        return "?"

    def callable_target(self, expr: ast.AST, _depth: int = 0, methods: bool = True) -> str:
        """Target of calling ``expr``; with ``methods`` False, only a qualified name (``q:``) is worked
        out, and the rest is "?" (the value's type is not looked for)."""
        if _depth > 5:
            return "?"
        ctx = self.ctx
        if isinstance(expr, ast.Name):
            return self.name_target(expr, methods)
        if isinstance(expr, ast.Attribute):
            base = expr.value
            if isinstance(base, ast.Name):
                b = ctx.lookup(base.id, base)
                if b is not None and b.kind == "param":
                    owner = self.method_owner(expr) or self.param_method(b)
                    if owner is not None:
                        func, cls = owner
                        if func.first_param == base.id:
                            return f"m:{cls}:{expr.attr}"
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super" and not base.args:
                owner = self.method_owner(expr)
                if owner is not None:
                    return f"s:{owner[1]}:{expr.attr}"
            q = ctx.qualname(expr) if isinstance(base, (ast.Name, ast.Attribute)) else None
            if q is not None:
                if isinstance(base, ast.Name):
                    b = ctx.lookup(base.id, base)
                    if b is not None and b.kind == "class":
                        return "q:" + self.def_qualnames.get(id(b.node), b.qualname or "") + "." + expr.attr
                return f"q:{q}"
            if not methods:
                return "?"
            t = sqla.value_type(ctx, base)
            if t is not None and t != "?":
                if t.startswith("returns:"):
                    t = t[8:]
                return f"m:{t}:{expr.attr}"
            return "?"
        if isinstance(expr, ast.Call):
            f = expr.func
            if isinstance(f, (ast.Name, ast.Attribute)) and expr.args and ctx.qualname(f) in PARTIAL:
                return self.callable_target(expr.args[0], _depth + 1, methods)
        return "?"

    def method_owner(self, node: ast.AST):
        """(function summary, class qualname) when ``node`` is directly in a method (not a staticmethod)."""
        f = self.ctx.enclosing_function(node)
        if f is None or isinstance(f, ast.Lambda):
            return None
        fs = self.func_by_id.get(id(f))
        if fs is None or fs.cls is None or fs.nested:
            return None
        if any(t == "q:builtins.staticmethod" for t, _ in fs.decorators):
            return None
        return fs, fs.cls

    def param_method(self, b) -> tuple[FunctionSummary, str] | None:
        """(function summary, class qualname) of the method whose parameter ``b`` is: a method's
        ``self`` read in a function nested in it (``def runner(): self._run()``)."""
        args = self.ctx._parents.get(id(b.node))
        f = self.ctx._parents.get(id(args)) if args is not None else None
        fs = self.func_by_id.get(id(f)) if f is not None else None
        if fs is None or fs.cls is None or fs.nested or any(t == "q:builtins.staticmethod" for t, _ in fs.decorators):
            return None
        return fs, fs.cls

    # -- walk --------------------------------------------------------------------------------
    def run(self) -> None:
        ctx = self.ctx
        s = self.s
        for name, b in ctx.module_scope.bindings.items():
            if b.kind == "import" and b.qualname:
                s.imports[name] = b.qualname
            elif b.kind in ("def", "class") and b.qualname:
                s.defs[name] = b.qualname
        # defs first (so that calls can name functions defined later in the file)
        stack: list[tuple[ast.AST, str, str | None, bool]] = [(stmt, self.module, None, False) for stmt in ctx.tree.body]
        funcs: list[tuple[ast.AST, str, str | None, bool]] = []
        classes: list[tuple[ast.ClassDef, str]] = []
        while stack:
            node, prefix, cls, nested = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = self.qn(prefix, node.name)
                self.def_qualnames[id(node)] = q
                funcs.append((node, q, cls, nested))
                inner = q + ".<locals>"
                for child in node.body:
                    stack.append((child, inner, None, True))
                continue
            if isinstance(node, ast.ClassDef):
                q = self.qn(prefix, node.name)
                self.def_qualnames[id(node)] = q
                classes.append((node, q))
                for child in node.body:
                    stack.append((child, q, q, nested))
                continue
            for name in block_fields(node.__class__):
                for child in getattr(node, name):
                    stack.append((child, prefix, cls, nested))
        for node, q, cls, nested in funcs:
            args = node.args.posonlyargs + node.args.args
            fs = FunctionSummary(
                qualname=q, name=node.name, is_async=isinstance(node, ast.AsyncFunctionDef), line=node.lineno,
                col=node.col_offset, cls=cls, nested=nested,
                first_param=args[0].arg if args and cls is not None else None,
                returns_awaitable=_awaitable_annotation(node.returns),
            )
            self.func_by_id[id(node)] = fs
            s.functions[q] = fs
        for node, q, cls, nested in funcs:
            fs = self.func_by_id[id(node)]
            for dec in node.decorator_list:
                t = self.callable_target(dec.func if isinstance(dec, ast.Call) else dec)
                fs.decorators.append((t, _short(ctx.segment(dec))))
                if fastapi.route_decorator(ctx, dec):
                    fs.roles.append(fastapi.ENDPOINT)
                else:
                    h = fastapi.handler_decorator(ctx, dec)
                    if h:
                        fs.roles.append(h)
            if not fs.is_async:
                fs.convert_blocker = blocker(ctx, node, allow_generator=True) or ""
        for cnode, q in classes:
            # a generic base (`CRUDBase[User]`, `Generic[T]`) is its class
            bases = [b.value if isinstance(b, ast.Subscript) else b for b in cnode.bases]
            s.classes[q] = [self.callable_target(b) for b in bases if isinstance(b, (ast.Name, ast.Attribute))]
        # module-level instances, aliases, factories
        for name, b in ctx.module_scope.bindings.items():
            if b.kind != "assign" or b.value is None:
                continue
            v = b.value
            if isinstance(v, ast.Call) and isinstance(v.func, (ast.Name, ast.Attribute)):
                fq = ctx.qualname(v.func)
                if fq in PARTIAL and v.args:
                    s.aliases[name] = self.callable_target(v.args[0])
                    continue
                kind = FACTORY_CALLS.get(fq or "")
                if kind is None:
                    t = sqla.value_type(ctx, v)
                    if t in FACTORY_CALLS:
                        kind = FACTORY_CALLS[t]
                if kind is not None:
                    s.factories[name] = kind
                    continue
                t = self.callable_target(v.func)
                if t.startswith("q:"):
                    s.instances[name] = t
            elif isinstance(v, (ast.Name, ast.Attribute)):
                t = self.callable_target(v)
                if t != "?":
                    s.aliases[name] = t
        text = ctx.source.text
        refs = fastapi.module_refs(ctx) if any(n in text for n in _OTHER_REF_NEEDLES) else ()
        for ref in refs:
            if ref.qualname and ref.role != fastapi.DEPENDENCY:
                target = "q:" + ref.qualname
                if ref.node is not None and id(ref.node) in self.def_qualnames:
                    target = "q:" + self.def_qualnames[id(ref.node)]
                s.refs.append((ref.role, target, ref.site.lineno, ref.site.col_offset))  # type: ignore[attr-defined]
        self.walk_calls()

    def walk_calls(self) -> None:
        """One pass over the context's node list (breadth-first, parents linked by the engine): calls,
        yields, and in test files the names used. A call's context (enclosing function, lambda,
        generator expression, worker-thread argument) comes from a short walk up its ancestors."""
        ctx = self.ctx
        is_test = self.s.is_test
        Call, Yield, YieldFrom, Name, Attribute = ast.Call, ast.Yield, ast.YieldFrom, ast.Name, ast.Attribute
        # outside test files only calls and yields matter: visit just those (calls still breadth-first,
        # so a worker-thread runner is seen before the callable it is handed)
        for node in (ctx.nodes if is_test else ctx.nodes_of(Call, Yield, YieldFrom)):
            t = node.__class__
            if t is Call:
                fs, flags = self.where(node)
                self.record_call(node, fs, flags)  # type: ignore[arg-type]
            elif t is Yield or t is YieldFrom:
                fs, flags = self.where(node)
                if fs is not None and not flags & IN_LAMBDA:
                    fs.generator = True
            elif is_test and (t is Name or t is Attribute) and isinstance(node.ctx, ast.Load):  # type: ignore[attr-defined]
                p = ctx.parent(node)
                if not (p.__class__ is Call and p.func is node) and p.__class__ is not Attribute:  # type: ignore[union-attr]
                    target = self.callable_target(node)
                    if target.startswith("q:") and not target.startswith("q:builtins."):
                        fs, flags = self.where(node)
                        self.add_site(fs, node, target, "use", flags)

    def where(self, node: ast.AST) -> tuple[FunctionSummary | None, int]:
        """The function a node's code belongs to, and its flags (lambda, genexp, worker thread...)."""
        flags = 0
        p = self.ctx._parents.get(id(node))
        if p is not None:
            if p.__class__ is ast.Await:
                flags |= AWAITED
            elif (p.__class__ is ast.Assign and len(p.targets) == 1  # type: ignore[attr-defined]
                  and p.targets[0].__class__ is ast.Name  # type: ignore[attr-defined]
                  and self._handed_names(p).__contains__(p.targets[0].id)):  # type: ignore[attr-defined]
                flags |= HANDED
            elif p.__class__ is ast.Call and p.func is not node:
                if not self._inspects(p):  # `print(f())` looks at the coroutine: it is not handed over
                    flags |= ARGUMENT
            elif p.__class__ is ast.keyword:
                flags |= ARGUMENT
            elif p.__class__ is ast.Attribute and p.attr == "__await__":  # type: ignore[attr-defined]
                flags |= HANDED  # `return self._connect().__await__()`: driven by the awaiter
            elif p.__class__ is ast.Return:
                flags |= RETURNED
            elif p.__class__ is ast.Yield or p.__class__ is ast.YieldFrom:
                flags |= STORED
            elif ((p.__class__ is ast.Assign or p.__class__ is ast.AnnAssign) and p.value is node  # type: ignore[attr-defined]
                  and all(t.__class__ in (ast.Attribute, ast.Subscript)
                          for t in (p.targets if p.__class__ is ast.Assign else [p.target]))):  # type: ignore[attr-defined]
                flags |= STORED
            if self._iterated(node, p):
                flags |= ITERATED
        fs, above = self._above(node)
        return fs, flags | above

    def _iterated(self, node: ast.AST, p: ast.AST) -> bool:
        """``node``'s value (``p`` its parent) is iterated where it is: the iterable of a ``for``, of a list,
        set or dict comprehension, or of a generator expression iterated so in turn; after ``yield from``
        or ``*``; the first argument of ``list``, ``sorted``, ``sum``, ``next``... (builtins) or of
        ``"sep".join``; the value of an unpacking assignment (``a, b = f()``)."""
        t = p.__class__
        if t is ast.For:
            return p.iter is node  # type: ignore[attr-defined]
        if t is ast.comprehension:
            if p.iter is not node or p.is_async:  # type: ignore[attr-defined]
                return False
            comp = self.ctx._parents[id(p)]
            return comp.__class__ is not ast.GeneratorExp or self._iterated(comp, self.ctx._parents[id(comp)])
        if t is ast.YieldFrom or t is ast.Starred:
            return True
        if t is ast.Call:
            if not p.args or p.args[0] is not node:  # type: ignore[attr-defined]
                return False
            f = p.func  # type: ignore[attr-defined]
            if f.__class__ is ast.Name:
                return f.id in _ITERATING_BUILTINS and self.ctx.lookup(f.id, f) is None
            return (f.__class__ is ast.Attribute and f.attr == "join" and f.value.__class__ is ast.Constant
                    and isinstance(f.value.value, (str, bytes)))
        if t is ast.Assign:
            return p.value is node and any(x.__class__ in (ast.Tuple, ast.List) for x in p.targets)  # type: ignore[attr-defined]
        return False

    def _above(self, node: ast.AST) -> tuple[FunctionSummary | None, int]:
        """The function ``node``'s code belongs to, and the flags its ancestors give it (worker thread,
        lambda, generator expression, main guard): one walk up, memoised for every node on the way, as
        sibling calls share their ancestors. (Nodes are visited breadth-first, so a worker-thread
        argument is marked before any node below it asks.)"""
        memo = self._above_memo
        found = memo.get(id(node))
        if found is not None:
            return found
        parents, exempt = self.ctx._parents, self.exempt
        path: list[tuple[ast.AST, int]] = []
        child = node
        while True:
            found = memo.get(id(child))
            if found is not None:
                break
            p = parents.get(id(child))
            f = EXEMPT if id(child) in exempt else 0
            if p is None:
                found = (None, f)
                memo[id(child)] = found
                break
            t = p.__class__
            if (t is ast.FunctionDef or t is ast.AsyncFunctionDef) and child not in p.decorator_list:  # type: ignore[attr-defined]
                found = (self.func_by_id.get(id(p)), f)
                memo[id(child)] = found
                break
            if t is ast.Lambda:
                f |= IN_LAMBDA
            elif t is ast.GeneratorExp:
                f |= IN_GENEXP
            elif t is ast.If and _is_main_guard(p) and child in p.body:  # type: ignore[attr-defined]
                f |= MAIN_GUARD
            path.append((child, f))
            child = p
        fs, flags = found
        for c, f in reversed(path):
            flags |= f
            memo[id(c)] = (fs, flags)
        return memo[id(node)]

    def _handed_names(self, stmt: ast.AST) -> set[str]:
        """Names the function around ``stmt`` (its body, nested functions included) awaits or passes to a
        call; the module's set holds every such name of the file."""
        handed = self.handed
        if handed is None:
            handed = self.handed = self._index_handed()
        return handed.get(id(self.ctx.enclosing_function(stmt)), _EMPTY)

    def _index_handed(self) -> dict[int, set[str]]:
        """One pass over the file's nodes: for each awaited / passed name, every function whose body holds
        it. Only the names a call's result is assigned to (``x = f()``) are asked about, so only they are
        looked for."""
        parents = self.ctx._parents
        found: dict[int, set[str]] = {}
        module: set[str] = set()
        found[id(None)] = module
        Name, Load, Call = ast.Name, ast.Load, ast.Call
        asked = {a.targets[0].id for a in self.ctx.nodes_of(ast.Assign)  # type: ignore[attr-defined]
                 if len(a.targets) == 1 and a.targets[0].__class__ is Name and a.value.__class__ is Call}  # type: ignore[attr-defined]
        handing = (ast.Await, ast.keyword, ast.Starred)
        funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
        for n in self.ctx.nodes_of(Name):
            if n.id not in asked or n.ctx.__class__ is not Load:  # type: ignore[attr-defined]
                continue
            q = parents.get(id(n))
            if not (q.__class__ in handing or (q.__class__ is Call and q.func is not n)):  # type: ignore[attr-defined]
                continue
            if q.__class__ is Call and self._inspects(q):
                continue  # `print(coro)`: looked at, not run
            name = n.id  # type: ignore[attr-defined]
            module.add(name)
            child, a = q, parents.get(id(q))
            while a is not None:
                t = a.__class__
                if t in funcs:
                    if isinstance(child, ast.stmt):  # in its body (not a decorator, default or annotation)
                        found.setdefault(id(a), set()).add(name)
                elif t is ast.Lambda and child is a.body:  # type: ignore[attr-defined]
                    found.setdefault(id(a), set()).add(name)
                child, a = a, parents.get(id(a))
        return found

    def _inspects(self, call: ast.Call) -> bool:
        """A call of a builtin that only looks at its arguments (``print``, ``len``, ``repr``...): a
        coroutine passed to it is not handed over to be run."""
        func = call.func
        return (func.__class__ is ast.Name and func.id in _INSPECTING_BUILTINS  # type: ignore[attr-defined]
                and self.ctx.lookup(func.id, func) is None)  # type: ignore[attr-defined]

    def add_site(self, fs: FunctionSummary | None, node: ast.AST, target: str, kind: str, flags: int,
                 consumer: str = "") -> CallSite:
        # the same target and text recur across a module: one string each, written once in the cache
        site = CallSite(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset,  # type: ignore[attr-defined]
                        intern(target), intern(_short(self.ctx.segment(node.func if isinstance(node, ast.Call) else node))),
                        flags, kind, consumer)
        (fs.calls if fs is not None else self.s.module_calls).append(site)
        return site

    def record_call(self, call: ast.Call, fs: FunctionSummary | None, flags: int) -> None:
        ctx = self.ctx
        func = call.func
        target = self.callable_target(func)
        if target == "?":  # `obj.run()`, `handlers[k]()`: never an edge of the graph; counted
            self.s.unknown_calls += 1
            if fs is not None and not flags & EXEMPT:
                fs.unknown_calls += 1
        elif target.startswith("q:") and not self.in_project(target):
            self.s.external_calls += 1  # `len(x)`, `os.path.join(...)`: never an edge of the graph; counted
        else:
            self.add_site(fs, call, target, "call", flags)
        fq = target[2:] if target.startswith("q:") else ""
        if fq in fastapi.DEPENDS:
            dep = fastapi.call_arg(call, 0, "dependency")
            if dep is not None:
                dt = self.callable_target(dep)
                self.add_site(fs, dep, dt, "depends", flags, consumer=self._decorated(call))
                if dt.startswith("q:"):
                    self.s.refs.append((fastapi.DEPENDENCY, dt, call.lineno, call.col_offset))
            return
        # worker-thread runners: the callable argument runs in a thread
        index = THREAD_RUNNERS.get(fq)
        if index is None and func.__class__ is ast.Attribute:
            if func.attr == "run_in_executor":  # type: ignore[attr-defined]
                index = 1
            elif func.attr == "add_task" and sqla.value_type(ctx, func.value) in BACKGROUND_TYPES:  # type: ignore[attr-defined]
                index = 0
        if index is not None:
            if len(call.args) > index:
                arg = call.args[index]
                self.exempt.add(id(arg))
                if isinstance(arg, (ast.Name, ast.Attribute, ast.Call)):
                    self.add_site(fs, arg, self.callable_target(arg), "thread", flags)
            return
        if not (flags & EXEMPT):
            if func.__class__ is ast.Attribute and func.attr in SESSION_IO and not (flags & AWAITED):  # type: ignore[attr-defined]
                if sqla.is_session(ctx, func.value):  # type: ignore[attr-defined]
                    if fs is not None:
                        text = _short(ctx.segment(func))
                        kind = "async session" if sqla.is_async_session(ctx, func.value) else "session"  # type: ignore[attr-defined]
                        fs.session_io.append(Finding(call.lineno, call.col_offset, text, kind, flags))
                        if not fs.sync_bound:
                            fs.sync_bound = _sync_bound_reason(ctx, call, text)
                    return
            if func.__class__ is ast.Attribute and func.attr in sqla.DDL_METHODS and not (flags & AWAITED):  # type: ignore[attr-defined]
                if sqla.ddl_site(ctx, call) is not None:  # DDL on an engine that is or becomes async
                    if fs is not None:
                        fs.session_io.append(Finding(call.lineno, call.col_offset, _short(ctx.segment(func)), "ddl", flags))
                    return
            # a target in the project is no catalogued function, but it may be a method of a project
            # module's value of a tracked type (`from app.security import pwd_context`; `pwd_context.hash(p)`)
            kind = blocking.classify(ctx, call, by_type=self.in_project(target))
            if kind is None and self.user_blocking and blocking.user_declared(ctx, call) is not None:
                kind = "user"  # declared in the settings (`blocking-calls`, `blocking-patterns`)
            if kind is not None and fs is not None:
                fs.blocking.append(Finding(call.lineno, call.col_offset, _blocking_text(ctx, call, target), kind, flags))
        # project callables handed to another call (callbacks)
        for a in call.args:
            if a.__class__ is ast.Name or a.__class__ is ast.Attribute:
                self._callback(fs, a, target, flags)
        for k in call.keywords:
            if k.value.__class__ is ast.Name or k.value.__class__ is ast.Attribute:
                self._callback(fs, k.value, target, flags)

    def _decorated(self, node: ast.AST) -> str:
        """The qualified name of the function whose decorators hold ``node``
        (``@router.get("/", dependencies=[Depends(auth)])``), or ""."""
        parents = self.ctx._parents
        child, p = node, parents.get(id(node))
        while p is not None:
            t = p.__class__
            if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
                if child in p.decorator_list:  # type: ignore[attr-defined]
                    return self.def_qualnames.get(id(p), "")
                return ""
            if t is ast.Lambda or t is ast.ClassDef:
                return ""
            child, p = p, parents.get(id(p))
        return ""

    def _callback(self, fs, a: ast.AST, consumer: str, flags: int) -> None:
        base = a
        while base.__class__ is ast.Attribute:
            base = base.value  # type: ignore[attr-defined]
        if base.__class__ is ast.Name and self.ctx.parameter_only(base.id):  # type: ignore[attr-defined]
            return  # `f(db)`, `f(request.app)`: a parameter (or what it holds) is never a project function's name
        at = self.callable_target(a, methods=False)  # only a project function's qualified name counts
        if at.startswith("q:") and self.in_project(at):
            self.add_site(fs, a, at, "callback", flags, consumer=consumer)

    def in_project(self, target: str) -> bool:
        """The target names something in a project module (by its top-level package)."""
        body = target[2:]
        top = body.split(".", 1)[0].split(":", 1)[0]
        if top in self.tops:
            return True
        self.outside.add(top)
        return False


def _blocking_text(ctx: FileContext, call: ast.Call, target: str) -> str:
    q = ctx.qualname(call.func)
    if q is not None:
        return q
    if target.startswith("m:"):
        cls, _, meth = target[2:].partition(":")
        return f"{cls}.{meth}"
    return _short(ctx.segment(call.func))


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _sync_bound_reason(ctx: FileContext, call: ast.Call, text: str) -> str:
    """Why a session call pins its function to the sync API ("" when it can be made async)."""
    attr = call.func.attr  # type: ignore[attr-defined]
    if attr in SYNC_ONLY_SESSION_METHODS:
        return f"`{text}()` (line {call.lineno}) does not exist on AsyncSession"
    if attr == "query" and not query.nested_in_other_query(ctx, call) and query.chain_of(ctx, call).terminal is None:
        return f"the legacy query `{text}(...)` (line {call.lineno}) is built across statements"
    return ""


def project_tops(project) -> frozenset[str]:
    tops = project._facts.get("summary.tops")
    if tops is None:
        tops = frozenset(m.split(".", 1)[0] for m in project.modules)
        project._facts["summary.tops"] = tops
    return tops  # type: ignore[return-value]


def summarize_text(project, relpath: str, text: str) -> ModuleSummary:
    """Summarise one module's text (``project`` gives module names and other modules' types)."""
    module, is_pkg = project.module_of(relpath)
    is_test = project.is_test_file(relpath)
    summary = ModuleSummary(relpath=relpath, module=None if module is None else str(module),  # a plain str, as cached
                            is_package=is_pkg, is_test=is_test, sha=text_sha(text))
    limit = max_file_size(getattr(project, "settings", None))
    if over_limit(text, limit):  # not analysed (max-file-size): a module with no functions, as unparsable
        summary.error = too_large_message(len(text.encode("utf-8", "surrogatepass")), limit)
        return summary
    shared = None
    if relpath not in getattr(project, "_overlay", {relpath: None}) and hasattr(project, "context"):
        shared = project.context(relpath)  # parsed once, for the rules and for the summary
    if shared is not None and shared.source.text == text:
        tree = shared.tree  # parsed already for the rules: share the tree, its parents and scopes
    else:
        shared = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text, filename=relpath)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            summary.error = f"{type(exc).__name__}: {exc}"
            return summary
    proxy = _SummaryProject(project)
    src = SourceFile(os.path.join(project.root, relpath), text, "utf-8", b"")
    ctx = FileContext(src, tree, display_path=relpath, module=module, is_package=is_pkg, project=proxy,  # type: ignore[arg-type]
                      settings=project.settings, is_test=is_test)
    if shared is not None:
        ctx.share_structure(shared)
    b = _Builder(ctx, summary)
    b.tops = project_tops(project)
    try:
        b.run()
    except RecursionError as exc:
        summary.error = f"RecursionError: {exc}"
    summary.outside = frozenset(b.outside)
    # the modules consulted for a type, and what their answers were made of (a re-export, an import)
    summary.deps = {m: "" for m in sorted(project.read_closure(proxy.consulted)) if m != module}
    return summary
