"""Sync entry points kept for a test suite written against the sync API (asyncify-lint bridge).

`asyncify-lint --fix --strategy bridge` migrated this application to asyncio and kept working the
names its tests use synchronously. Delete this module, the decorators that use it and the sync twins
marked `asyncify-lint bridge` once the tests are ported to async.

- `sync_bridge` decorates a coroutine function that tests call synchronously with a sync `Session`
  (an argument, or an attribute of the object a method is called on: a repository holding the test's
  session). Called without one, it returns the coroutine, exactly as the function does. Called with
  one and no running event loop (a sync test), it runs the function to completion on that session
  and returns its result, as the sync function did. Called with one inside a running event loop, it
  returns a coroutine that does the same work in a worker thread (`asyncio.to_thread`), so the loop
  never blocks.
- `sync_bridge_endpoint` does the same for an endpoint or dependency whose session dependency a test
  overrides with one that yields a sync `Session`; FastAPI still sees a coroutine function with the
  same signature.

With a sync `Session`, each awaited session method (`execute`, `commit`, `refresh`...) runs
synchronously on it, with no event loop (a blocking-call detector such as blockbuster sees none). The
`_on_loop` forms are for a function that also awaits something else (`asyncio.to_thread`, an async HTTP
client, directly or through what it awaits): it runs to completion on an event loop of its own, in the
calling thread (a worker thread when the caller is on the app's loop). Without them, such a function
raises `RuntimeError` naming it.
"""

import asyncio
import copy
import functools
import inspect

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

__all__ = ["sync_bridge", "sync_bridge_endpoint", "sync_bridge_endpoint_on_loop", "sync_bridge_on_loop"]

# The methods AsyncSession (and SQLModel's, with `exec`) has as coroutines; the rest (add, expunge,
# in_transaction...) are sync on both.
_AWAITED = frozenset({
    "close", "commit", "connection", "delete", "exec", "execute", "flush", "get", "get_one", "invalidate", "merge",
    "refresh", "reset", "rollback", "scalar", "scalars",
})


class _Done:
    """An awaitable whose value is already known: awaiting it never suspends."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __await__(self):
        return self.value
        yield  # makes __await__ a generator  # pragma: no cover


class _Transaction:
    """A sync SessionTransaction behind the AsyncSessionTransaction API."""

    def __init__(self, tx):
        self._tx = tx

    def __await__(self):
        return _Done(self).__await__()

    def __aenter__(self):
        return _Done(self)

    def __aexit__(self, *exc_info):
        return _Done(self._tx.__exit__(*exc_info))

    def commit(self):
        return _Done(self._tx.commit())

    def rollback(self):
        return _Done(self._tx.rollback())


class _SessionAsAsync:
    """A sync Session behind the AsyncSession API: each awaited method runs synchronously on it."""

    def __init__(self, session):
        object.__setattr__(self, "sync_session", session)

    def __getattr__(self, name):
        attr = getattr(self.sync_session, name)
        if name in _AWAITED and callable(attr):
            return lambda *args, **kwargs: _Done(attr(*args, **kwargs))
        return attr

    def __setattr__(self, name, value):
        setattr(self.sync_session, name, value)

    def __contains__(self, instance):
        return instance in self.sync_session

    def __iter__(self):
        return iter(self.sync_session)

    def run_sync(self, fn, *args, **kwargs):
        return _Done(fn(self.sync_session, *args, **kwargs))

    def begin(self):
        return _Transaction(self.sync_session.begin())

    def begin_nested(self):
        return _Transaction(self.sync_session.begin_nested())

    def __aenter__(self):
        return _Done(self)

    def __aexit__(self, *exc_info):
        return _Done(self.sync_session.__exit__(*exc_info))


def _holds_sync_session(obj):
    """An object (a method's `self`) that holds a sync Session in one of its attributes."""
    if isinstance(obj, (Session, AsyncSession, _SessionAsAsync)):  # (an AsyncSession holds its sync_session)
        return False
    attrs = getattr(obj, "__dict__", None)
    return isinstance(attrs, dict) and any(isinstance(v, Session) for v in attrs.values())


def _has_sync_session(args, kwargs):
    return (any(isinstance(a, Session) for a in args) or any(isinstance(v, Session) for v in kwargs.values())
            or bool(args) and _holds_sync_session(args[0]))


def _with_async_sessions(obj):
    """A shallow copy of ``obj`` whose sync Session attributes are seen through the AsyncSession API
    (``obj`` itself is left as it is: other code may be using it)."""
    clone = copy.copy(obj)
    for name, value in vars(obj).items():
        if isinstance(value, Session):
            vars(clone)[name] = _SessionAsAsync(value)
    return clone


def _as_async(value):
    return _SessionAsAsync(value) if isinstance(value, Session) else value


def _run_on_sync_session(func, args, kwargs, on_loop=False):
    holder = bool(args) and _holds_sync_session(args[0])
    args = [_as_async(a) for a in args]
    if holder:
        args[0] = _with_async_sessions(args[0])
    coro = func(*args, **{k: _as_async(v) for k, v in kwargs.items()})
    if on_loop:
        # it also awaits something else (`asyncio.to_thread`, an async HTTP client): on an event loop of
        # its own, in this thread (never the app's loop, which this call must not block)
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.close()
    try:
        coro.send(None)  # only session methods awaited: none of them suspends
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError(
        f"{func.__qualname__}() awaited something other than its session; with a sync Session it cannot "
        "run synchronously: call it from async code with an AsyncSession"
    )


def sync_bridge(func, on_loop=False):
    @functools.wraps(func)
    def call(*args, **kwargs):
        if not _has_sync_session(args, kwargs):
            return func(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _run_on_sync_session(func, args, kwargs, on_loop)
        return asyncio.to_thread(_run_on_sync_session, func, args, kwargs, on_loop)

    return call


def sync_bridge_on_loop(func):
    return sync_bridge(func, on_loop=True)


def sync_bridge_endpoint(func, on_loop=False):
    @functools.wraps(func)
    async def call(*args, **kwargs):
        if _has_sync_session(args, kwargs):
            return await asyncio.to_thread(_run_on_sync_session, func, args, kwargs, on_loop)
        return await func(*args, **kwargs)

    try:  # FastAPI reads the signature, and resolves string annotations in the wrapper's globals
        call.__signature__ = inspect.signature(func, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        pass
    return call


def sync_bridge_endpoint_on_loop(func):
    return sync_bridge_endpoint(func, on_loop=True)
