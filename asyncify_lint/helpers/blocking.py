"""Known blocking calls: the catalogue (``asyncify_lint/data/blocking_calls.tsv``), light instance
tracking for blocking client/file/connection objects (and for password hashers), the "is this call on
the event loop" question, and the fixes of the AFY110-AFY120 family.

The catalogue also holds the CPU-bound calls of AFY120 (category ``cpu``: password hashing and key
derivation): they do no I/O, but they hold the event loop as long as a blocking call does, so the
project summaries and the call graph count them as blocking (AFY100 chains, AFY301's safe fix).

Other rules ask :func:`classify` (the category of a blocking call); the AFY11x rules and AFY120 use
:func:`finding` (cached per call) and :func:`build_fix`.
"""

from __future__ import annotations

import ast
import csv
import os
from dataclasses import dataclass
from typing import Iterator

from asyncify_lint.diagnostics import Applicability, Fix, ImportRequest
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers.rewrites import can_await_here, needs_parentheses

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "blocking_calls.tsv")

#: advice per ``hint`` key of the catalogue; asyncio first, third-party libraries as options
HINTS = {
    "sleep": "use `await asyncio.sleep(...)`",
    "requests": "use `httpx.AsyncClient` (awaited, created once) or offload with `await asyncio.to_thread(...)`",
    "httpx": "use `httpx.AsyncClient` and await its methods, or offload with `await asyncio.to_thread(...)`",
    "urllib": "use `httpx.AsyncClient`, or offload the request and the read together with "
    "`await asyncio.to_thread(...)`",
    "urllib3": "use `httpx.AsyncClient`, or offload with `await asyncio.to_thread(...)`",
    "subprocess": "use `await asyncio.create_subprocess_exec(...)` (or `create_subprocess_shell`), "
    "or offload with `await asyncio.to_thread(...)`",
    "popen": "use `await asyncio.create_subprocess_exec(...)` and `await proc.communicate()`/`await proc.wait()`",
    "oswait": "wait for children with the asyncio subprocess API (`await proc.wait()`), "
    "or offload with `await asyncio.to_thread(...)`",
    "open": "do the file I/O in a worker thread (`await asyncio.to_thread(...)`), "
    "or use an async file API (aiofiles, `anyio.open_file`)",
    "fileobj": "do the file I/O in a worker thread (`await asyncio.to_thread(...)`), "
    "or use an async file API (aiofiles, `anyio.open_file`)",
    "os": "offload with `await asyncio.to_thread(...)` (or use `aiofiles.os`)",
    "ositer": "offload the whole iteration with `await asyncio.to_thread(lambda: list(...))`",
    "pathlib": "offload with `await asyncio.to_thread(...)` (or use `anyio.Path`)",
    "pathiter": "offload the whole iteration with `await asyncio.to_thread(lambda: list(...))` (or use `anyio.Path`)",
    "socket": "use asyncio streams (`asyncio.open_connection`) or the loop's socket API (`loop.sock_*`), "
    "or offload with `await asyncio.to_thread(...)`",
    "dns": "use `await loop.getaddrinfo(...)`/`loop.getnameinfo(...)`, or offload with `await asyncio.to_thread(...)`",
    "sqlite3": "use an async driver (aiosqlite, or SQLAlchemy's `sqlite+aiosqlite`); sqlite3 objects are bound to "
    "their thread, so `asyncio.to_thread` is not a drop-in fix",
    "psycopg2": "use an async driver (psycopg 3 `AsyncConnection`, asyncpg), or offload with `await asyncio.to_thread(...)`",
    "pymysql": "use an async driver (aiomysql, asyncmy), or offload with `await asyncio.to_thread(...)`",
    "redis": "use `redis.asyncio.Redis` and await its methods",
    "boto3": "use an `aiobotocore` (or `aioboto3`) client and await its methods, or offload with "
             "`await asyncio.to_thread(...)`",
    "input": "offload with `await asyncio.to_thread(input, ...)`",
    "lock": "use `asyncio.Lock` (`async with lock:`), or offload with `await asyncio.to_thread(lock.acquire)`",
    "queue": "use `asyncio.Queue` (`await queue.get()`), or offload with `await asyncio.to_thread(queue.get)`",
    "future": "use `await asyncio.wrap_future(future)`",
    "join": "offload with `await asyncio.to_thread(thread.join)`",
    "event": "use `asyncio.Event` (`await event.wait()`) when every setter is a coroutine, "
    "or offload with `await asyncio.to_thread(event.wait)`",
    "user": "declared blocking in the configuration (blocking-calls / blocking-patterns); "
    "offload with `await asyncio.to_thread(...)` or use an async API",
    "password": "password hashing is slow by design (tens to hundreds of milliseconds of CPU per call); "
    "offload it with `await asyncio.to_thread(...)`",
    "kdf": "password-based key derivation is slow by design (tens to hundreds of milliseconds of CPU per call); "
    "offload it with `await asyncio.to_thread(...)`",
}

#: the category of the CPU-bound rows (AFY120); what a call of each of their hints does, for messages
CPU = "cpu"
CPU_WORK = {"password": "hashes a password", "kdf": "derives a key from a password"}


@dataclass(frozen=True)
class Entry:
    """One catalogue row."""

    name: str  # canonical qualified name; ``Type.*`` = every method of Type
    code: str  # AFY110 ... AFY118, AFY120
    kind: str  # function | method | any-method
    fix: str  # sleep | to_thread | none
    hint: str  # key of HINTS
    category: str  # the reference category (sleep, http, subprocess, file-io, os, socket, dns, db, other), or cpu

    @property
    def advice(self) -> str:
        return HINTS[self.hint]


def _load() -> tuple[dict[str, Entry], dict[str, Entry], frozenset[str]]:
    entries: dict[str, Entry] = {}
    any_method: dict[str, Entry] = {}
    with open(DATA, encoding="utf-8", newline="") as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    for row in csv.DictReader(lines, delimiter="\t"):
        e = Entry(row["qualified_name"], row["code"], row["kind"], row["fix"], row["hint"], row["category"])
        if e.hint not in HINTS:
            raise ValueError(f"{DATA}: unknown hint {e.hint!r} for {e.name}")
        if e.kind == "any-method":
            any_method[e.name[:-2]] = e
        else:
            entries[e.name] = e
    # last segments of dotted names, to skip most attribute calls without resolving them
    attrs = frozenset(name.rsplit(".", 1)[-1] for name in entries)
    return entries, any_method, attrs


CATALOGUE, ANY_METHOD, _ATTRS = _load()

# -- instance tracking ------------------------------------------------------------------------

THREADPOOL_RUNNERS = ("starlette.concurrency.run_in_threadpool", "fastapi.concurrency.run_in_threadpool")
OFFLOADERS = frozenset(("asyncio.to_thread", "anyio.to_thread.run_sync") + THREADPOOL_RUNNERS)

FILE = "<file>"  # placeholder: the concrete io type depends on the mode argument
PATH = "pathlib.Path"

#: calling the key (a class or a factory) produces an instance of the value type; also used for annotations
PRODUCERS = {
    "requests.Session": "requests.Session",
    "requests.session": "requests.Session",
    "requests.sessions.Session": "requests.Session",
    "requests.sessions.session": "requests.Session",
    "httpx.Client": "httpx.Client",
    "httpx2.Client": "httpx2.Client",
    "urllib3.PoolManager": "urllib3.PoolManager",
    "urllib3.poolmanager.PoolManager": "urllib3.PoolManager",
    "urllib3.ProxyManager": "urllib3.ProxyManager",
    "urllib3.proxy_from_url": "urllib3.ProxyManager",
    "urllib3.HTTPConnectionPool": "urllib3.HTTPConnectionPool",
    "urllib3.HTTPSConnectionPool": "urllib3.HTTPSConnectionPool",
    "urllib3.connection_from_url": "urllib3.HTTPConnectionPool",
    "urllib.request.urlopen": "http.client.HTTPResponse",
    "http.client.HTTPResponse": "http.client.HTTPResponse",
    "builtins.open": FILE,
    "io.open": FILE,
    "codecs.open": FILE,
    "os.fdopen": FILE,
    "tempfile.NamedTemporaryFile": "io.BufferedRandom",
    "tempfile.TemporaryFile": "io.BufferedRandom",
    "typing.TextIO": "io.TextIOWrapper",
    "typing.BinaryIO": "io.BufferedRandom",
    "typing.IO": "io.TextIOWrapper",
    "io.TextIOWrapper": "io.TextIOWrapper",
    "io.BufferedReader": "io.BufferedReader",
    "io.BufferedWriter": "io.BufferedWriter",
    "io.BufferedRandom": "io.BufferedRandom",
    "sqlite3.connect": "sqlite3.Connection",
    "sqlite3.Connection": "sqlite3.Connection",
    "sqlite3.Cursor": "sqlite3.Cursor",
    "psycopg2.connect": "psycopg2.extensions.connection",
    "psycopg2.extensions.connection": "psycopg2.extensions.connection",
    "psycopg2.extensions.cursor": "psycopg2.extensions.cursor",
    "pymysql.connect": "pymysql.connections.Connection",
    "pymysql.Connect": "pymysql.connections.Connection",
    "pymysql.Connection": "pymysql.connections.Connection",
    "pymysql.connections.Connection": "pymysql.connections.Connection",
    "pymysql.cursors.Cursor": "pymysql.cursors.Cursor",
    "redis.Redis": "redis.Redis",
    "redis.StrictRedis": "redis.Redis",
    "redis.client.Redis": "redis.Redis",
    "redis.client.StrictRedis": "redis.Redis",
    "redis.from_url": "redis.Redis",
    "redis.Redis.from_url": "redis.Redis",
    "boto3.client": "botocore.client.BaseClient",
    "boto3.session.Session.client": "botocore.client.BaseClient",
    "botocore.client.BaseClient": "botocore.client.BaseClient",
    "socket.socket": "socket.socket",
    "socket.create_connection": "socket.socket",
    "ssl.SSLSocket": "ssl.SSLSocket",
    "ssl.create_default_context": "ssl.SSLContext",
    "ssl.SSLContext": "ssl.SSLContext",
    "subprocess.Popen": "subprocess.Popen",
    "threading.Lock": "threading.Lock",
    "threading.RLock": "threading.RLock",
    "threading.Semaphore": "threading.Semaphore",
    "threading.BoundedSemaphore": "threading.BoundedSemaphore",
    "threading.Event": "threading.Event",
    "threading.Condition": "threading.Condition",
    "threading.Thread": "threading.Thread",
    "queue.Queue": "queue.Queue",
    "queue.LifoQueue": "queue.LifoQueue",
    "queue.PriorityQueue": "queue.PriorityQueue",
    "queue.SimpleQueue": "queue.SimpleQueue",
    "concurrent.futures.Future": "concurrent.futures.Future",
    "concurrent.futures.ThreadPoolExecutor": "concurrent.futures.ThreadPoolExecutor",
    "concurrent.futures.ProcessPoolExecutor": "concurrent.futures.ThreadPoolExecutor",
    "pathlib.Path": PATH,
    "pathlib.PosixPath": PATH,
    "pathlib.WindowsPath": PATH,
    "pathlib.Path.cwd": PATH,
    "pathlib.Path.home": PATH,
    # password hashers (AFY120); the classes themselves come from the catalogue's method rows below
    "passlib.context.LazyCryptContext": "passlib.context.CryptContext",
    "argon2.PasswordHasher.from_parameters": "argon2.PasswordHasher",
    "pwdlib.PasswordHash.recommended": "pwdlib.PasswordHash",
}

# every type the catalogue has ``Type.method`` rows for is also known by its own name (annotations)
for _name, _e in list(CATALOGUE.items()) + [(t + ".*", e) for t, e in ANY_METHOD.items()]:
    if _e.kind in ("method", "any-method"):
        PRODUCERS.setdefault(_name.rsplit(".", 1)[0], _name.rsplit(".", 1)[0])
    elif _name.startswith("passlib.hash."):
        # a passlib hasher class (`passlib.hash.bcrypt`): `bcrypt.using(rounds=13)` is a configured copy of it,
        # whose `hash()`/`verify()` are the class's rows
        PRODUCERS.setdefault(_name.rsplit(".", 1)[0] + ".using", _name.rsplit(".", 1)[0])

#: ``Type.method`` → type of its result
RETURNS = {
    "sqlite3.Connection.cursor": "sqlite3.Cursor",
    "sqlite3.Connection.execute": "sqlite3.Cursor",
    "sqlite3.Connection.executemany": "sqlite3.Cursor",
    "sqlite3.Connection.executescript": "sqlite3.Cursor",
    "sqlite3.Cursor.execute": "sqlite3.Cursor",
    "sqlite3.Cursor.executemany": "sqlite3.Cursor",
    "psycopg2.extensions.connection.cursor": "psycopg2.extensions.cursor",
    "pymysql.connections.Connection.cursor": "pymysql.cursors.Cursor",
    "redis.Redis.pipeline": "redis.client.Pipeline",
    "ssl.SSLContext.wrap_socket": "ssl.SSLSocket",
    "concurrent.futures.ThreadPoolExecutor.submit": "concurrent.futures.Future",
    "pathlib.Path.open": FILE,
    "pathlib.Path.resolve": PATH,
    "pathlib.Path.absolute": PATH,
    "pathlib.Path.expanduser": PATH,
    "pathlib.Path.joinpath": PATH,
    "pathlib.Path.with_name": PATH,
    "pathlib.Path.with_stem": PATH,
    "pathlib.Path.with_suffix": PATH,
    "pathlib.Path.relative_to": PATH,
}

#: methods of an ``any-method`` type that do no I/O
NON_BLOCKING = {
    # `tell()` reports the position (an lseek, never a wait)
    "io.TextIOWrapper": frozenset({"fileno", "isatty", "readable", "writable", "seekable", "tell", "detach",
                                   "reconfigure"}),
    "redis.Redis": frozenset({"pipeline", "pubsub", "lock", "register_script", "get_encoder",
                              "get_connection_kwargs", "set_response_callback", "monitor"}),
    # signing a URL, and the paginator and waiter objects, are local (their pages and waits are not)
    "botocore.client.BaseClient": frozenset({"can_paginate", "get_paginator", "get_waiter",
                                             "generate_presigned_url", "generate_presigned_post", "close"}),
}
for _t in ("io.BufferedReader", "io.BufferedWriter", "io.BufferedRandom"):
    NON_BLOCKING[_t] = NON_BLOCKING["io.TextIOWrapper"]


def _file_type(call: ast.Call, qualname: str | None) -> str:
    """``open(p, "rb")`` → io.BufferedReader, ...; text mode → io.TextIOWrapper."""
    mode: ast.AST | None = None
    pos = 0 if qualname == "pathlib.Path.open" else 1
    if len(call.args) > pos:
        mode = call.args[pos]
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and "b" in mode.value:
        if "+" in mode.value:
            return "io.BufferedRandom"
        return "io.BufferedReader" if "r" in mode.value else "io.BufferedWriter"
    return "io.TextIOWrapper"


def _normalize(t: str | None) -> str | None:
    if t is None:
        return None
    if t.startswith("with:"):
        t = t[5:]
    r = PRODUCERS.get(t)
    return None if r == FILE else r


def instance_type(ctx: FileContext, expr: ast.AST, _depth: int = 0) -> str | None:
    """The tracked type (a key of the catalogue's ``Type.method`` rows) of ``expr``'s value, or None."""
    if _depth > 8:
        return None
    if isinstance(expr, ast.Call):
        return _result_type(ctx, expr.func, expr, _depth)
    if isinstance(expr, ast.Await) and isinstance(expr.value, ast.Call):
        # `await asyncio.to_thread(f, ...)` has the type of `f(...)` (so fixed code keeps its findings)
        inner = expr.value
        if inner.args and isinstance(inner.func, (ast.Name, ast.Attribute)):
            if ctx.qualname(inner.func) in OFFLOADERS:
                shifted = ast.Call(func=inner.args[0], args=inner.args[1:], keywords=inner.keywords)
                return _result_type(ctx, inner.args[0], shifted, _depth)
        return None
    if isinstance(expr, ast.Name):
        b = ctx.lookup(expr.id, expr)
        if b is None:
            return None
        if b.rebound:  # an annotated parameter assigned again: the argument only until then
            found = ctx.straight_line_assignment(expr)
            if found is None:
                return None
            if found != (None, None):
                return _declared_type(ctx, *found, _depth)
        if b.annotation is not None:
            t = annotation_instance_type(ctx, b.annotation)
            if t is not None:
                return t
        if b.kind in ("assign", "with") and b.value is not None:
            return instance_type(ctx, b.value, _depth + 1)
        if b.kind == "import" and b.qualname and ctx.project is not None:
            return _normalize(ctx.project.type_of_qualname(b.qualname))
        if b.kind == "local":  # bound several times: the assignment this read sees, in straight-line code
            found = ctx.straight_line_assignment(expr)
            if found is not None and found[1] is not None:
                return _declared_type(ctx, *found, _depth)
        return None
    if isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name):
            t = _self_attribute_type(ctx, expr)
            if t is not None:
                return t
        if expr.attr == "parent" and instance_type(ctx, expr.value, _depth + 1) == PATH:
            return PATH
        return _object_attribute_type(ctx, expr)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
        if instance_type(ctx, expr.left, _depth + 1) == PATH:
            return PATH
        return None
    if isinstance(expr, ast.NamedExpr):
        return instance_type(ctx, expr.value, _depth + 1)
    return None


def _result_type(ctx: FileContext, func: ast.AST, call: ast.Call, _depth: int) -> str | None:
    """The tracked type of what calling ``func`` (with ``call``'s arguments) returns."""
    if isinstance(func, ast.Attribute):
        recv = instance_type(ctx, func.value, _depth + 1)
        if recv is not None:
            r = RETURNS.get(f"{recv}.{func.attr}")
            if r is not None:
                return _file_type(call, "pathlib.Path.open") if r == FILE else r
    if isinstance(func, (ast.Name, ast.Attribute)):
        qn = ctx.qualname(func)
        if qn is not None:
            r = PRODUCERS.get(qn)
            if r is not None:
                return _file_type(call, qn) if r == FILE else r
            if ctx.project is not None and not qn.startswith("builtins."):
                # a factory function of the project annotated with its return type
                return _normalize(_returns(ctx, func))
    return None


def _returns(ctx: FileContext, func: ast.AST) -> str | None:
    t = ctx.type_of(func)
    if t is not None and t.startswith("returns:"):
        return t[len("returns:"):]
    return None


def _declared_type(ctx: FileContext, ann: ast.AST | None, value: ast.AST | None, _depth: int = 0) -> str | None:
    """The tracked type of a name declared ``x: ann = value`` (either part may be missing): the
    annotation's, else the value's."""
    t = annotation_instance_type(ctx, ann) if ann is not None else None
    if t is None and value is not None:
        t = instance_type(ctx, value, _depth + 1)
    return t


def annotation_instance_type(ctx: FileContext, ann: ast.AST) -> str | None:
    if isinstance(ann, ast.Subscript) and ctx.qualname(ann.value) == "typing.IO":
        return "io.TextIOWrapper"
    return _normalize(ctx.annotation_type(ann))


def _object_attribute_type(ctx: FileContext, expr: ast.Attribute) -> str | None:
    """``settings.images_dir`` where ``settings`` holds an instance of a project class whose body
    declares ``images_dir: Path`` (a pydantic settings object, a dataclass)."""
    if ctx.project is None or not isinstance(expr.value, (ast.Name, ast.Attribute)):
        return None
    owner = ctx.type_of(expr.value)
    if not owner or ":" in owner or owner.startswith("builtins.") or ctx.project.module_prefix(owner) is None:
        return None
    return _normalize(ctx.project.class_attribute_type(owner, expr.attr))


def _self_attribute_type(ctx: FileContext, expr: ast.Attribute) -> str | None:
    """``self.client`` in a method, when ``__init__`` assigns ``self.client = httpx.Client()`` (or the
    class body annotates ``client: httpx.Client``)."""
    return ctx.self_attribute_type(expr, lambda a, v: _declared_type(ctx, a, v), "blocking.class_attrs")


# -- where a call runs -------------------------------------------------------------------------

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def async_owner(ctx: FileContext, node: ast.AST) -> ast.AsyncFunctionDef | None:
    """The ``async def`` whose body runs ``node`` on the event loop, or None.

    Nested sync ``def`` and ``lambda`` bodies are not on the loop unless called (and callables passed to
    ``asyncio.to_thread``/``run_in_executor``/``run_in_threadpool``/``anyio.to_thread.run_sync`` are
    exactly those); their decorators and default values are, and so is a class body.
    ``if TYPE_CHECKING:`` blocks never run.
    """
    child = node
    for a in ctx.ancestors(node):
        if isinstance(a, _FUNCS):
            if any(child is s for s in a.body):
                return a if isinstance(a, ast.AsyncFunctionDef) else None
        elif isinstance(a, ast.Lambda):
            if child is a.body:
                return None
        elif isinstance(a, ast.If) and any(child is s for s in a.body):
            if ctx.qualname(a.test) in ("typing.TYPE_CHECKING", "typing_extensions.TYPE_CHECKING"):
                return None
        elif isinstance(a, ast.Module):
            return None
        child = a
    return None


# -- findings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    entry: Entry
    what: str  # how the call is shown in the message
    func: ast.AsyncFunctionDef
    qualname: str | None  # the resolved callee, for function rows


def _spelling(ctx: FileContext, func: ast.AST) -> str:
    text = " ".join(ctx.segment(func).split())
    return text if len(text) <= 48 else text[:45] + "..."


def lookup(ctx: FileContext, call: ast.Call, by_type: bool = False) -> tuple[Entry, str | None, str] | None:
    """The catalogue row ``call`` matches, the callee's qualified name (function rows) and the
    catalogue name it matched, whatever the context. With ``by_type``, only a method row matched
    through the tracked type of the receiver (a project module's ``pwd_context = CryptContext(...)``,
    imported: ``pwd_context.hash(p)``)."""
    func = call.func
    if isinstance(func, ast.Name):
        if by_type:
            return None
        qn = ctx.qualname(func)
        e = CATALOGUE.get(qn) if qn else None
        return (e, qn, e.name) if e else None
    if not isinstance(func, ast.Attribute):
        return None
    attr = func.attr
    if by_type and not (_imported_value(ctx, func.value) or isinstance(func.value, ast.Attribute)):
        return None  # (an attribute: a project value's typed attribute, `config.settings.images_dir.mkdir()`)
    if attr in _ATTRS and not by_type:
        qn = ctx.qualname(func)
        if qn is not None:
            e = CATALOGUE.get(qn)
            if e is not None:
                return e, qn, e.name
            if isinstance(func.value, ast.Name):
                b = ctx.lookup(func.value.id, func.value)
                if b is not None and b.kind == "import" and not _imported_value(ctx, func.value):
                    return None  # a module attribute that is not in the catalogue
                # `from app.security import pwd_context`: maybe a value of a tracked type
    t = instance_type(ctx, func.value)
    if t is None:
        return None
    name = f"{t}.{attr}"
    e = CATALOGUE.get(name)
    if e is not None:
        return e, None, name
    e = ANY_METHOD.get(t)
    if e is not None and not attr.startswith("_") and attr not in NON_BLOCKING.get(t, ()):
        return e, None, name
    return None


def _imported_value(ctx: FileContext, expr: ast.AST) -> bool:
    """``expr`` is a name imported with ``from m import name`` that is not a module of the project."""
    if not isinstance(expr, ast.Name):
        return False
    b = ctx.lookup(expr.id, expr)
    return (b is not None and b.kind == "import" and isinstance(b.node, ast.ImportFrom) and b.qualname is not None
            and ctx.project is not None and b.qualname not in ctx.project.modules)


def _mentions_wnohang(ctx: FileContext, call: ast.Call) -> bool:
    for node in ast.walk(call):
        if isinstance(node, (ast.Name, ast.Attribute)) and ctx.qualname(node) == "os.WNOHANG":
            return True
    return False


#: async wrappers of an already open sync file: `await anyio.wrap_file(open(path))` is the idiom
WRAP_FILE = frozenset({"anyio.wrap_file", "trio.wrap_file"})
#: exceptions only an operation on a non-blocking socket raises
NONBLOCKING_ERRORS = frozenset({"builtins.BlockingIOError", "ssl.SSLWantReadError", "ssl.SSLWantWriteError"})
#: awaiting one of these with a future among its arguments waits for the future
FUTURE_WAITERS = frozenset({"asyncio.wrap_future", "asyncio.wait", "asyncio.wait_for", "asyncio.gather",
                            "asyncio.shield"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_TRY = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)


def _not_blocking_here(ctx: FileContext, call: ast.Call, entry: Entry) -> bool:
    """A catalogued call that cannot block where it is (see ``_cannot_block``), or that does not
    reach the catalogued API: an awaited call (``await client.get(u)``; also ``async with`` and
    ``async for`` on it), whose callee returns an awaitable, so it is not the sync API the annotation
    or the import names, and a file opened straight into ``anyio/trio.wrap_file(...)``."""
    p = ctx.parent(call)
    if isinstance(p, ast.Await):
        return True
    if isinstance(p, ast.withitem) and p.context_expr is call:
        return isinstance(ctx.parent(p), ast.AsyncWith)
    if isinstance(p, (ast.AsyncFor, ast.comprehension)) and p.iter is call:
        return isinstance(p, ast.AsyncFor) or bool(p.is_async)
    if (isinstance(p, ast.Call) and bool(p.args) and p.args[0] is call
            and isinstance(p.func, (ast.Name, ast.Attribute)) and ctx.qualname(p.func) in WRAP_FILE):
        return True
    return _cannot_block(ctx, call, entry)


def _cannot_block(ctx: FileContext, call: ast.Call, entry: Entry) -> bool:
    """What the code around a catalogued call shows about it, in the function that makes it:

    * any call, in a branch of an ``if`` (or of a conditional expression) whose other branch offloads
      the same callee (``if small: f.write(b) else: await run_in_threadpool(f.write, b)``): the code
      decides itself when the call is cheap enough for the loop;
    * ``os.wait*(..., os.WNOHANG)``: a poll;
    * a method of a socket set non-blocking: the last ``setblocking(...)``/``settimeout(...)`` call on
      the same receiver (a name, or ``self.x``) before it in the function is ``setblocking(False)`` or
      ``settimeout(0)``, or for ``self.x`` some method of the class sets it so and none sets it back;
      or the call is in the body of a ``try`` that catches ``BlockingIOError`` (or
      ``ssl.SSLWantReadError``/``SSLWantWriteError``), which only a non-blocking socket raises;
    * a method of a file object in the in-memory branch of a spooled file: the body of an ``if``
      whose test is a name, attribute or method call with ``in_memory`` in its name
      (``if self._in_memory:``, also as an operand of ``and``), or the ``else`` of ``if not ...``;
    * ``fut.result()`` on a ``concurrent.futures.Future`` known done: under ``if fut.done():`` (or the
      ``else`` of ``if not fut.done():``), after an ``if not fut.done():`` earlier in the function that
      returns or raises, after an earlier ``await fut`` / ``await asyncio.wrap_future(fut)`` /
      ``await asyncio.wait([..., fut])`` (``FUTURE_WAITERS``), or after an earlier
      ``await event.wait()`` of an event the callback ``fut.add_done_callback(...)`` registered earlier
      sets;
    * ``q.get()`` on a ``queue.Queue`` that does not wait: ``q.get(False)``, ``q.get(block=False)``,
      or under ``if``/``while`` ``not q.empty()`` or ``q.qsize()`` (``q.qsize() > 0``), or in the
      ``else`` of ``if q.empty():``.
    """
    func = call.func
    if _offloaded_in_other_branch(ctx, call):
        return True
    if entry.name.startswith("os.wait"):
        return _mentions_wnohang(ctx, call)
    if not isinstance(func, ast.Attribute) or entry.kind == "function":
        return False
    key = _receiver(func.value)
    if entry.category == "socket":
        return _nonblocking_socket(ctx, call, key) or _catches_nonblocking_error(ctx, call)
    if entry.hint == "fileobj":
        return _guarded(ctx, call, _in_memory_test)
    if key is None:
        return False
    if entry.name == "concurrent.futures.Future.result":
        return (_guarded(ctx, call, lambda t: _method_call(t, key, "done"))
                or _future_done_before(ctx, call, key))
    if entry.hint == "queue" and func.attr == "get":
        return _queue_get_cannot_wait(ctx, call, key)
    return False


def _catches_nonblocking_error(ctx: FileContext, call: ast.Call) -> bool:
    """``call`` is in the body of a ``try`` of its function that catches a ``NONBLOCKING_ERRORS``."""
    return any(isinstance(a, _TRY) and any(child is s for s in a.body)
               and any(_names_error(ctx, h.type) for h in a.handlers)
               for child, a in _enclosing(ctx, call))


def _queue_get_cannot_wait(ctx: FileContext, call: ast.Call, key: tuple[str, ...]) -> bool:
    block = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "block"), None)
    if isinstance(block, ast.Constant) and block.value is not None and not block.value:
        return True

    def not_empty(t: ast.AST) -> bool:  # `q.qsize()`, `q.qsize() > 0`, `q.qsize() != 0`, `q.qsize() >= 1`
        if isinstance(t, ast.Compare):
            n = t.comparators[0].value if isinstance(t.comparators[0], ast.Constant) else None
            op = t.ops[0] if len(t.ops) == 1 and type(n) is int else None
            if not (isinstance(op, (ast.Gt, ast.NotEq)) and n == 0 or isinstance(op, ast.GtE) and n >= 1):
                return False
            t = t.left
        return _method_call(t, key, "qsize")

    return _guarded(ctx, call, not_empty, lambda t: _method_call(t, key, "empty"))


def _receiver(expr: ast.AST) -> tuple[str, ...] | None:
    """``x`` or ``self.x``, as a key that is the same at two places of one function."""
    if isinstance(expr, ast.Name):
        return (expr.id,)
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        return (expr.value.id, expr.attr)
    return None


def _method_call(node: ast.AST, key: tuple[str, ...], name: str) -> bool:
    """``node`` is ``<key>.name(...)``."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name
            and _receiver(node.func.value) == key)


def _enclosing(ctx: FileContext, node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
    """(child, ancestor) pairs from ``node`` up to the function (or class body) around it."""
    child = node
    for a in ctx.ancestors(node):
        if isinstance(a, _SCOPES):
            return
        yield child, a
        child = a


def _scope_nodes(ctx: FileContext, node: ast.AST) -> list[ast.AST]:
    """The nodes of the code of the function (or module) around ``node``, without the nested
    functions, lambdas and classes (memoised per function)."""
    scope = next((a for a in ctx.ancestors(node) if isinstance(a, _SCOPES)), ctx.tree)
    memo = ctx.cache.setdefault("blocking.scope_nodes", {})
    found = memo.get(id(scope))
    if found is None:
        found = memo[id(scope)] = []
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            n = stack.pop()
            if hasattr(n, "end_lineno"):  # not an operator or an expression context
                found.append(n)
            if not isinstance(n, _SCOPES):
                stack.extend(ast.iter_child_nodes(n))
    return found


def _before(node: ast.AST, call: ast.AST) -> bool:
    return (node.end_lineno, node.end_col_offset) <= (call.lineno, call.col_offset)  # type: ignore[attr-defined]


def _guarded(ctx: FileContext, call: ast.Call, holds, fails=lambda t: False) -> bool:
    """``call`` is in a branch of an ``if``/``while``/conditional expression of its function that runs
    only when a test ``holds`` is true (or a test ``fails`` is false): the body of ``if T:``,
    ``if T and U:``, ``if not F:``, or the ``else`` of ``if F:``, ``if not T:``, ``if F or U:``."""

    def true(t: ast.AST) -> bool:
        if isinstance(t, ast.BoolOp) and isinstance(t.op, ast.And):
            return any(true(v) for v in t.values)
        if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
            return false(t.operand)
        return holds(t)

    def false(t: ast.AST) -> bool:
        if isinstance(t, ast.BoolOp) and isinstance(t.op, ast.Or):
            return any(false(v) for v in t.values)
        if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
            return true(t.operand)
        return fails(t)

    for child, a in _enclosing(ctx, call):
        branch = _branch(a, child)
        if branch == "body" and true(a.test) or branch == "orelse" and false(a.test):  # type: ignore[attr-defined]
            return True
    return False


def _branch(a: ast.AST, child: ast.AST) -> str | None:
    """Which branch of the ``if``/``while``/conditional expression ``a`` its child ``child`` is in."""
    if isinstance(a, (ast.If, ast.While)):
        if any(child is s for s in a.body):
            return "body"
        if any(child is s for s in a.orelse):
            return "orelse"
    elif isinstance(a, ast.IfExp):
        if child is a.body:
            return "body"
        if child is a.orelse:
            return "orelse"
    return None


def _offloaded_in_other_branch(ctx: FileContext, call: ast.Call) -> bool:
    shape = None
    for child, a in _enclosing(ctx, call):
        branch = _branch(a, child)
        if branch is None or isinstance(a, ast.While):
            continue
        if shape is None:
            shape = ast.dump(call.func)
        if shape in _offloaded(ctx, a, "orelse" if branch == "body" else "body"):
            return True
    return False


def _offloaded(ctx: FileContext, a: ast.AST, branch: str) -> frozenset[str]:
    """The callables (as ``ast.dump``) a branch of an ``if`` or conditional expression hands to a worker
    thread (``asyncio.to_thread(f, ...)``, ``run_in_threadpool``, ``loop.run_in_executor(None, f)``...),
    memoised per branch."""
    memo = ctx.cache.setdefault("blocking.offloaded", {})
    key = (id(a), branch)
    found = memo.get(key)
    if found is None:
        shapes = set()
        part = getattr(a, branch)
        for stmt in part if isinstance(part, list) else [part]:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
                    if isinstance(n.func, ast.Attribute) and n.func.attr == "run_in_executor":
                        index = 1
                    else:
                        index = 0 if ctx.qualname(n.func) in OFFLOADERS else None
                    if index is not None and len(n.args) > index:
                        shapes.add(ast.dump(n.args[index]))
        found = memo[key] = frozenset(shapes)
    return found


def _in_memory_test(t: ast.AST) -> bool:
    """``in_memory``, ``self._in_memory``, ``f.is_in_memory()``... (not ``not_in_memory``)."""
    if isinstance(t, ast.Call):
        t = t.func
    name = (t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else "").lower()
    return "in_memory" in name and "not_in_memory" not in name


def _names_error(ctx: FileContext, t: ast.AST | None) -> bool:
    if isinstance(t, ast.Tuple):
        return any(_names_error(ctx, e) for e in t.elts)
    return isinstance(t, (ast.Name, ast.Attribute)) and ctx.qualname(t) in NONBLOCKING_ERRORS


def _socket_mode(node: ast.AST, key: tuple[str, ...] | None) -> bool | None:
    """For ``<key>.setblocking(x)`` / ``<key>.settimeout(x)`` (any receiver when ``key`` is None):
    whether it makes the socket non-blocking; None for any other node."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("setblocking", "settimeout") and len(node.args) == 1):
        return None
    if key is not None and _receiver(node.func.value) != key:
        return None
    a = node.args[0]
    return isinstance(a, ast.Constant) and a.value is not None and a.value == 0


def _nonblocking_socket(ctx: FileContext, call: ast.Call, key: tuple[str, ...] | None) -> bool:
    if key is None:
        return False
    last = None
    for n in _scope_nodes(ctx, call):
        if _socket_mode(n, key) is not None and _before(n, call) and (last is None or _before(last, n)):
            last = n
    if last is not None:
        return bool(_socket_mode(last, key))
    if len(key) != 2:
        return False
    cls = ctx.self_class(call.func.value.value)  # type: ignore[attr-defined]
    return cls is not None and _class_socket_modes(ctx, cls).get(key[1]) is True


def _class_socket_modes(ctx: FileContext, cls: ast.ClassDef) -> dict[str, bool]:
    """``x`` → True when the methods of ``cls`` set ``self.x`` non-blocking and never back (memoised)."""
    memo = ctx.cache.setdefault("blocking.class_sockets", {})
    found = memo.get(id(cls))
    if found is None:
        found = memo[id(cls)] = {}
        for stmt in cls.body:
            args = stmt.args.posonlyargs + stmt.args.args if isinstance(stmt, _FUNCS) else []
            if not args:
                continue
            for n in ast.walk(stmt):
                mode = _socket_mode(n, None)
                recv = n.func.value if mode is not None else None  # type: ignore[attr-defined]
                if isinstance(recv, ast.Attribute) and isinstance(recv.value, ast.Name) and recv.value.id == args[0].arg:
                    found[recv.attr] = mode and found.get(recv.attr, True)
    return found


def _future_done_before(ctx: FileContext, call: ast.Call, key: tuple[str, ...]) -> bool:
    """Earlier in the function: ``if not fut.done(): return``, an awaited wait for ``fut``, or an awaited
    ``event.wait()`` of an event its done callback sets."""
    nodes = _scope_nodes(ctx, call)
    events = set()
    for n in nodes:
        if _method_call(n, key, "add_done_callback") and n.args and _before(n, call):  # type: ignore[attr-defined]
            cb = n.args[0]  # type: ignore[attr-defined]
            if isinstance(cb, ast.Name):
                b = ctx.lookup(cb.id, cb)
                cb = b.node if b is not None and b.kind == "def" else None
            for m in ast.walk(cb) if cb is not None else ():
                if isinstance(m, ast.Attribute) and m.attr == "set" and _receiver(m.value) is not None:
                    events.add(_receiver(m.value))
    for n in nodes:
        if not _before(n, call):
            continue
        if (isinstance(n, ast.If) and isinstance(n.test, ast.UnaryOp) and isinstance(n.test.op, ast.Not)
                and _method_call(n.test.operand, key, "done") and isinstance(n.body[-1], (ast.Return, ast.Raise))):
            return True
        if isinstance(n, ast.Await):
            v = n.value
            if _receiver(v) == key:
                return True
            if isinstance(v, ast.Call) and isinstance(v.func, (ast.Name, ast.Attribute)):
                if ctx.qualname(v.func) in FUTURE_WAITERS and any(
                        _receiver(m) == key for a in v.args for m in ast.walk(a)):
                    return True
                if isinstance(v.func, ast.Attribute) and v.func.attr == "wait" and _receiver(v.func.value) in events:
                    return True
    return False


def finding(ctx: FileContext, call: ast.Call) -> Finding | None:
    """The catalogued blocking call ``call`` makes on the event loop (cached per call), or None."""
    memo = ctx.cache.setdefault("blocking.findings", {})
    key = id(call)
    if key in memo:
        return memo[key]
    result = None
    owner = async_owner(ctx, call)
    if owner is not None:
        found = lookup(ctx, call)
        if found is not None and not _not_blocking_here(ctx, call, found[0]):
            entry, qn, name = found
            spelled = _spelling(ctx, call.func)
            shown = f"`{spelled}()`"
            if spelled != name and name != f"builtins.{spelled}":
                shown += f" (`{name}`)"
            result = Finding(entry, shown, owner, qn)
    memo[key] = result
    return result


def classify(ctx: FileContext, call: ast.Call, by_type: bool = False) -> str | None:
    """The category of a blocking call (``sleep``, ``http``, ``file-io``, ``os``, ``socket``, ``dns``,
    ``db``, ``subprocess``, ``other``; ``cpu`` for a CPU-bound one) wherever it is, or None. With
    ``by_type``, only a method of a value of a tracked type (see :func:`lookup`)."""
    found = lookup(ctx, call, by_type)
    if found is None or _not_blocking_here(ctx, call, found[0]):
        return None
    return found[0].category


def cpu_bound_call(ctx: FileContext, func: ast.AST) -> tuple[ast.Call, str] | None:
    """The first CPU-bound call (AFY120's rows) the body of the function ``func`` makes itself (not in a
    nested function, lambda or class, which run elsewhere, e.g. in a worker thread), and what it
    does ("hashes a password"); None when there is none."""
    stack = list(reversed(getattr(func, "body", [])))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(n, ast.Call):
            found = lookup(ctx, n)
            if found is not None and found[0].category == CPU and not _not_blocking_here(ctx, n, found[0]):
                return n, CPU_WORK[found[0].hint]
        stack.extend(reversed(list(ast.iter_child_nodes(n))))
    return None


def spelling(ctx: FileContext, func: ast.AST) -> str:
    """How a callee is spelled in the source, shortened for a message."""
    return _spelling(ctx, func)


# -- fixes -------------------------------------------------------------------------------------



def asyncio_ref(ctx: FileContext, name: str, at: ast.AST):
    """How to spell ``asyncio.<name>`` at ``at`` and the import to add: an existing ``import asyncio`` or
    ``from asyncio import <name>`` is reused; otherwise ``import asyncio`` is added. None if shadowed."""
    bindings = ctx.module_scope.bindings
    ref, req = ctx.import_ref("asyncio", name)
    if req is not None:
        if "asyncio" not in bindings:
            ref, req = f"asyncio.{name}", ImportRequest("asyncio")
        elif req.name is None:
            return None  # `asyncio` is bound to something else in this module
    root = ref.split(".")[0]
    if ctx.lookup(root, at) is not bindings.get(root):
        return None  # a local name hides the module-level one
    return ref, req


def threadpool_ref(ctx: FileContext, at: ast.AST):
    """``run_in_threadpool`` when the module already imports it (FastAPI/Starlette style), else
    ``asyncio.to_thread``."""
    runners = ctx.cache.get("blocking.threadpool_imports")
    if runners is None:  # one scan of the module's bindings per file, not per fix
        runners = ctx.cache["blocking.threadpool_imports"] = [
            (local, b) for local, b in ctx.module_scope.bindings.items()
            if b.kind == "import" and b.qualname in THREADPOOL_RUNNERS
        ]
    for local, b in runners:
        if ctx.lookup(local, at) is b:
            return local, None
    return asyncio_ref(ctx, "to_thread", at)


def _await_text(ctx: FileContext, call: ast.Call, expr: str) -> str:
    if needs_parentheses(ctx, call) and not ctx.is_parenthesized(call):
        return f"(await {expr})"
    return f"await {expr}"


def used_as_iterable_or_cm(ctx: FileContext, call: ast.Call) -> str | None:
    p = ctx.parent(call)
    if isinstance(p, (ast.withitem,)) and p.context_expr is call:
        return "its result is used as a context manager"
    if isinstance(p, (ast.For, ast.AsyncFor, ast.comprehension)) and p.iter is call:
        return "its result is iterated"
    if isinstance(p, ast.YieldFrom):
        return "its result is iterated"
    return None


def _inner_arguments(ctx: FileContext, call: ast.Call) -> str | None:
    """The text between the call's parentheses."""
    text = ctx.source.text
    i = ctx.end(call.func)
    end = ctx.end(call)
    while i < end and text[i] in " \t\r\n\\":
        i += 1
    if i >= end or text[i] != "(" or text[end - 1] != ")":
        return None
    return text[i + 1 : end - 1]


def build_fix(ctx: FileContext, call: ast.Call, f: Finding) -> tuple[Fix | None, str]:
    """The fix for a finding and its title (empty without a fix)."""
    kind = f.entry.fix
    if kind == "none" or isinstance(ctx.parent(call), ast.Await) or not can_await_here(ctx, call):
        return None, ""
    if kind == "sleep":
        if f.qualname != "time.sleep" or len(call.args) != 1 or call.keywords:
            return None, ""
        found = asyncio_ref(ctx, "sleep", call)
        if found is None:
            return None, ""
        ref, req = found
        args = _inner_arguments(ctx, call)
        if args is None:
            return None, ""
        edit = ctx.replace(call, _await_text(ctx, call, f"{ref}({args})"))
        return Fix([edit], Applicability.SAFE, [req] if req else []), f"Replace with `await {ref}(...)`"
    if kind == "to_thread":
        if used_as_iterable_or_cm(ctx, call):
            return None, ""
        for kw in call.keywords:
            if kw.arg == "stream" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                return None, ""  # a streamed response is read later, outside the thread
        if any(isinstance(n, ast.Call) and finding(ctx, n) is not None for n in ast.walk(call.func)):
            return None, ""  # the receiver would still block on the loop: offload the whole expression
        return offload(ctx, call)
    return None, ""


def offload(ctx: FileContext, call: ast.Call) -> tuple[Fix | None, str]:
    """``f(args)`` → ``await asyncio.to_thread(f, args)`` (``run_in_threadpool`` where the module
    uses it), an unsafe fix, and its title; (None, "") when the call's text cannot be split."""
    found = threadpool_ref(ctx, call)
    if found is None:
        return None, ""
    ref, req = found
    args = _inner_arguments(ctx, call)
    if args is None:
        return None, ""
    callee = ctx.segment(call.func)
    if not args.strip():
        inner = callee
    elif args[0] in " \t\r\n":
        inner = f"{callee},{args}"
    else:
        inner = f"{callee}, {args}"
    edit = ctx.replace(call, _await_text(ctx, call, f"{ref}({inner})"))
    return (Fix([edit], Applicability.UNSAFE, [req] if req else []),
            f"Run it in a worker thread with `await {ref}(...)`")


def check(rule, ctx: FileContext, call: ast.Call) -> Iterator:
    """The shared handler of the AFY110-AFY118 and AFY120 rules: a diagnostic when ``call`` is in ``rule``'s
    family."""
    f = finding(ctx, call)
    if f is None or f.entry.code != rule.code:
        return
    fix, title = build_fix(ctx, call, f)
    yield rule.at(ctx, call, fix, what=f.what, func=f.func.name, hint=f.entry.advice, fix_title=title)


def has_async(ctx: FileContext) -> bool:
    """Per-file prefilter: only files with an ``async def`` can have findings."""
    return "async" in ctx.source.text


# -- user-declared blocking calls (AFY119) -----------------------------------------------------


def _user_names(ctx: FileContext) -> tuple[frozenset[str], tuple[str, ...]]:
    names = tuple(ctx.settings.blocking_calls) if ctx.settings is not None else ()
    exact = frozenset(n for n in names if not n.endswith(".*"))
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    return exact, prefixes


def _pattern_matches(ctx: FileContext) -> dict[int, str]:
    """id(ast.Call) → the first configured ast-grep pattern that matches it (or a node inside it)."""
    memo = ctx.cache.get("blocking.patterns")
    if memo is not None:
        return memo
    memo = {}
    ctx.cache["blocking.patterns"] = memo
    patterns = list(ctx.settings.blocking_patterns) if ctx.settings is not None else []
    if not patterns:
        return memo
    from ast_grep_py import SgRoot  # imported only when patterns are configured

    root = SgRoot(ctx.source.text, "python").root()
    calls = [n for n in ast.walk(ctx.tree) if isinstance(n, ast.Call)]
    spans = [(ctx.position(c), ctx.end_position(c), c) for c in calls]
    for pattern in patterns:
        try:
            matches = root.find_all(pattern=pattern)
        except Exception:  # an invalid pattern matches nothing
            continue
        for m in matches:
            r = m.range()
            start = (r.start.line + 1, r.start.column)
            end = (r.end.line + 1, r.end.column)
            best = None
            for s, e, c in spans:
                if s <= start and end <= e and (best is None or (s >= best[0] and e <= best[1])):
                    best = (s, e, c)
            if best is not None:
                memo.setdefault(id(best[2]), pattern)
    return memo


def user_finding(ctx: FileContext, call: ast.Call) -> tuple[str, ast.AsyncFunctionDef] | None:
    """(what was declared, owner) when ``call`` is a user-declared blocking call on the event loop that
    the catalogue does not already cover."""
    if not has_user_declared(ctx):
        return None
    owner = async_owner(ctx, call)
    if owner is None or finding(ctx, call) is not None:
        return None
    what = user_declared(ctx, call)
    return (what, owner) if what is not None else None


def has_user_declared(ctx: FileContext) -> bool:
    """The settings declare blocking calls (``blocking-calls`` or ``blocking-patterns``)."""
    return ctx.settings is not None and bool(ctx.settings.blocking_calls or ctx.settings.blocking_patterns)


def user_declared(ctx: FileContext, call: ast.Call) -> str | None:
    """How ``call`` matches a user-declared blocking call, wherever it is (``"`fetch()`
    (`vendor.sdk.fetch_sync`)"``, or the ast-grep pattern it matches), or None."""
    exact, prefixes = _user_names(ctx)
    patterns = _pattern_matches(ctx) if ctx.settings is not None and ctx.settings.blocking_patterns else {}
    if not exact and not prefixes and not patterns:
        return None
    func = call.func
    names = []
    if isinstance(func, (ast.Name, ast.Attribute)):
        qn = ctx.qualname(func)
        if qn:
            names.append(qn)
        if isinstance(func, ast.Attribute):
            t = instance_type(ctx, func.value) or _normalize_any(ctx.type_of(func.value))
            if t:
                names.append(f"{t}.{func.attr}")
    for n in names:
        if n in exact or n.startswith(prefixes):
            shown = _spelling(ctx, func)
            return f"`{shown}()`" + (f" (`{n}`)" if shown != n else "")
    if id(call) in patterns:
        return f"`{_spelling(ctx, func)}()` (pattern `{patterns[id(call)]}`)"
    return None


def _normalize_any(t: str | None) -> str | None:
    if t is None or t == "?":
        return None
    return t[5:] if t.startswith("with:") else t
