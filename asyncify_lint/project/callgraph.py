"""The project's call graph, linked from the per-module summaries.

Resolution follows imports and re-exports (``pkg/__init__.py`` doing ``from .crud import get_user``),
aliases (``g = f``, ``p = functools.partial(f, 1)``), classes (constructor → ``__init__``,
``Class.meth``, classmethods, ``self``/``cls``, ``super()``, instances typed by construction or
annotation, module-level instances used from another module) and ``Depends(x)``. A call that cannot be
resolved is recorded as unknown and counted (``unresolved``), never guessed.

On top of the graph:
* roots: every ``async def`` plus the functions the migration makes async (FastAPI endpoints,
  dependencies, event/exception handlers, lifespans);
* ``reachable``: sync functions reachable from a root, with the predecessor on a shortest chain;
* ``blocking_next``: for sync functions that reach a blocking call, the next hop on a shortest chain
  (a call of a generator function counts only where it is iterated: its body runs then, not at the call);
* ``must_async``: sync functions that will await (session I/O, or a call of a coroutine function) and,
  transitively, their callers up to the roots; ``blocked``: the ones that cannot be made async, with
  the reason. Code that runs in a worker thread (``to_thread``, ``run_in_executor``,
  ``run_in_threadpool``, ``anyio.to_thread.run_sync``, ``BackgroundTasks.add_task``) is excluded.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

from asyncify_lint.helpers import sqla
from asyncify_lint.project.deps import query
from asyncify_lint.project.discover import longest_module
from asyncify_lint.project.summary import (
    ARGUMENT,
    AWAITED,
    HANDED,
    EXEMPT,
    MAIN_GUARD,
    IN_GENEXP,
    IN_LAMBDA,
    ITERATED,
    RETURNED,
    STORED,
    CallSite,
    FunctionSummary,
    ModuleSummary,
    text_sha,
)

FUNC, CLASS, EXT, UNKNOWN, FACTORY, MODULE = "func", "class", "ext", "unknown", "factory", "module"

OK_DECORATORS = frozenset(
    {"builtins.staticmethod", "builtins.classmethod", "abc.abstractmethod", "typing.overload", "typing.override",
     "typing_extensions.override", "typing.final", "typing_extensions.final", "functools.wraps",
     "contextlib.asynccontextmanager",
     # retry decorators that detect coroutine functions and await them (tenacity >= 5, backoff >= 1.4)
     "tenacity.retry", "backoff.on_exception", "backoff.on_predicate"}
)
PROPERTY_DECORATORS = frozenset({"builtins.property", "functools.cached_property", "abc.abstractproperty"})
CONTEXT_MANAGERS = frozenset({"contextlib.contextmanager"})
REGISTRATIONS = ("add_api_route", "add_api_websocket_route", "add_event_handler", "add_exception_handler",
                 "add_middleware", "partial", "Depends", "Security")


class Edge:
    __slots__ = ("caller", "callee", "relpath", "site")

    def __init__(self, caller: str | None, callee: str, relpath: str, site: CallSite) -> None:
        self.caller = caller  # function qualname; None at module level / in a class body
        self.callee = callee
        self.relpath = relpath  # file of the call site
        self.site = site

    def __repr__(self) -> str:
        return f"Edge({self.caller!r}, {self.callee!r}, {self.relpath!r}, {self.site!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Edge) and (self.caller, self.callee, self.relpath, self.site) == (
            other.caller, other.callee, other.relpath, other.site)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as the dataclass was)


def display(qualname: str, module: str | None, root: bool = False) -> str:
    """``shop.services.audit.record`` → ``audit.record`` (``record`` for the chain's first function)."""
    local = qualname[len(module) + 1 :] if module and qualname.startswith(module + ".") else qualname
    if root or not module:
        return local
    return f"{module.rsplit('.', 1)[-1]}.{local}"


class Resolver:
    """Resolves summary targets to project functions and classes; summaries are fetched lazily."""

    def __init__(self, modules: dict, get_summary: Callable[[str], ModuleSummary | None]) -> None:
        self.modules = modules  # module name -> (relpath, is_package)
        self.get_summary = get_summary
        self._memo: dict[str, tuple[str, str | None]] = {}
        self._splits: dict[str, tuple[str, list[str]] | None] = {}
        self._mros: dict[str, tuple[list[str], bool]] = {}
        self._methods: dict[tuple[str, str, bool], tuple[str, str | None]] = {}

    def split(self, qualname: str) -> tuple[str, list[str]] | None:
        """``pkg.mod.Class.meth`` → ("pkg.mod", ["Class", "meth"]): the longest project module prefix
        (memoised; callers do not modify the list)."""
        found = self._splits.get(qualname, False)
        if found is False:
            mod = longest_module(self.modules, qualname)
            found = None if mod is None else (mod, qualname[len(mod) + 1 :].split(".") if mod != qualname else [])
            self._splits[qualname] = found
        return found  # type: ignore[return-value]

    def resolve(self, target: str) -> tuple[str, str | None]:
        r = self._memo.get(target)
        if r is None:
            self._memo[target] = (UNKNOWN, None)  # cycle guard
            r = self._resolve(target, 0)
            self._memo[target] = r
        return r

    def _resolve(self, target: str, depth: int) -> tuple[str, str | None]:
        if depth > 12 or target == "?" or len(target) < 3:
            return (UNKNOWN, None)
        kind, body = target[:2], target[2:]
        if kind == "q:":
            return self._qualname(body, depth)
        cls, _, meth = body.partition(":")
        if kind == "m:":
            ck, cq = self._qualname(cls, depth + 1)
            if ck == CLASS:
                return self.method(cq, meth)  # type: ignore[arg-type]
            if ck == EXT:
                return (EXT, f"{cq}.{meth}")
            return (UNKNOWN, None)
        if kind == "s:":
            return self.method(cls, meth, skip_self=True)
        return (UNKNOWN, None)

    def _qualname(self, qn: str, depth: int) -> tuple[str, str | None]:
        if depth > 12:
            return (UNKNOWN, None)
        split = self.split(qn)
        if split is None:
            return (EXT, qn)
        mod, rest = split
        if not rest:
            return (MODULE, qn)
        s = self.get_summary(mod)
        if s is None or s.error:
            return (UNKNOWN, None)
        name = rest[0]
        if name in s.imports and s.imports[name] != qn:
            return self._qualname(".".join([s.imports[name]] + rest[1:]), depth + 1)
        if s.module != mod and s.module:
            # another name of the module (``helpers`` for tests/helpers.py, ``src.pkg.mod``): its
            # definitions are named by the module's own name
            mod = s.module
            qn = ".".join([mod] + rest)
        full = qn  # the module and the rest of the name it was split into
        if full in s.functions:
            return (FUNC, full)
        if full in s.classes:
            return (CLASS, full)
        if len(rest) == 1:
            if name in s.aliases:
                return self._resolve(s.aliases[name], depth + 1)
            if name in s.factories:
                return (FACTORY, full)
            if name in s.instances:
                ck, cq = self._resolve(s.instances[name], depth + 1)
                if ck == CLASS:
                    return self.method(cq, "__call__")  # type: ignore[arg-type]
                if ck == EXT:
                    return (EXT, f"{cq}.__call__")
        if len(rest) == 2 and name in s.instances:
            ck, cq = self._resolve(s.instances[name], depth + 1)
            if ck == CLASS:
                return self.method(cq, rest[1])  # type: ignore[arg-type]
            if ck == EXT:
                return (EXT, f"{cq}.{rest[1]}")
            return (UNKNOWN, None)
        if len(rest) >= 2:
            owner = f"{mod}.{'.'.join(rest[:-1])}"
            if owner in s.classes:
                return self.method(owner, rest[-1])
        return (UNKNOWN, None)

    def bases(self, cls: str) -> list[tuple[str, str | None]]:
        split = self.split(cls)
        if split is None:
            return []
        s = self.get_summary(split[0])
        if s is None:
            return []
        return [self.resolve(b) for b in s.classes.get(cls, ())]

    def mro(self, cls: str) -> tuple[list[str], bool]:
        """Project classes in lookup order, and whether some base is outside the project (or unknown);
        memoised like the resolutions it is made of (callers do not modify the list)."""
        found = self._mros.get(cls)
        if found is None:
            found = self._mros[cls] = self._mro(cls)
        return found

    def _mro(self, cls: str) -> tuple[list[str], bool]:
        out: list[str] = []
        foreign = False
        stack = [cls]
        while stack:
            c = stack.pop(0)
            if c in out:
                continue
            out.append(c)
            for k, q in self.bases(c):
                if k == CLASS:
                    stack.append(q)  # type: ignore[arg-type]
                elif not (k == EXT and q == "builtins.object"):
                    foreign = True
            if len(out) > 50:
                break
        return out, foreign

    def method(self, cls: str, name: str, skip_self: bool = False) -> tuple[str, str | None]:
        """The method ``name`` looked up on the class ``cls`` (memoised: a class is constructed, and its
        ``__init__`` looked up, at many call sites)."""
        key = (cls, name, skip_self)
        found = self._methods.get(key)
        if found is None:
            found = self._methods[key] = self._method(cls, name, skip_self)
        return found

    def _method(self, cls: str, name: str, skip_self: bool) -> tuple[str, str | None]:
        order, foreign = self.mro(cls)
        if skip_self:
            order = order[1:]
        for c in order:
            split = self.split(c)
            s = self.get_summary(split[0]) if split else None
            if s is not None and f"{c}.{name}" in s.functions:
                return (FUNC, f"{c}.{name}")
        if foreign or (name.startswith("__") and name.endswith("__")):
            return (EXT, f"{cls}.{name}")
        return (UNKNOWN, None)


@dataclass
class Finding:
    line: int
    col: int
    message: str
    fix: bool = False
    extra: dict = field(default_factory=dict)


class CallGraph:
    def __init__(self, summaries: dict[str, ModuleSummary], modules: dict, async_project: bool = False,
                 declined_engine: tuple[str, int, str] | None = None) -> None:
        self.summaries = summaries
        #: the project is async already (project/state.py): a coroutine a sync function returns to no
        #: caller of the project is its API's value, handed over on purpose
        self.async_project = async_project
        #: an engine of the app that stays sync (helpers/sqla.declined_engine): so do its sessions, and
        #: their I/O makes nothing async
        self.declined_engine = declined_engine
        # a module name two files share (two apps with an `app` package in one repository): the file
        # the project's module map chose (the first listed), as for every other resolution
        by_module = {name: summaries[entry[0]] for name, entry in modules.items() if entry[0] in summaries}
        self.resolver = Resolver(modules, by_module.get)
        self.functions: dict[str, FunctionSummary] = {}
        self.file_of: dict[str, str] = {}
        self.module_of: dict[str, str | None] = {}
        self.out: dict[str, list[Edge]] = {}
        self.callers: dict[str, list[Edge]] = {}
        self.depends: dict[str, list[Edge]] = {}  # dependency -> where it is used in Depends(...)
        #: function -> the Depends(...) of its parameters and of its route decorator's `dependencies=`
        self.dependencies: dict[str, list[Edge]] = {}
        self.thread: dict[str, list[Edge]] = {}
        self.callbacks: dict[str, list[Edge]] = {}
        self.roles: dict[str, set[str]] = {}
        self.unresolved = 0
        self.calls = 0
        self._link()
        tests = {rel for rel, s in summaries.items() if s.is_test}
        self._test_funcs: set[str] = set()
        self.roots: set[str] = set()
        #: sync project functions that are not roots and not test code (what the analyses below walk)
        self._inner: set[str] = set()
        file_of, roles = self.file_of, self.roles
        for q, f in self.functions.items():
            if file_of[q] in tests:
                self._test_funcs.add(q)
            elif f.is_async or roles.get(q):
                self.roots.add(q)
            else:
                self._inner.add(q)
        self._inner_order = sorted(self._inner)  # the analyses' seeds, in a stable order
        self.reachable = self._reachable()
        #: the sync functions that coroutine functions reach (they run in the event loop)
        self._from_coroutines = self._reach(q for q in sorted(self.roots) if self.functions[q].is_async)
        #: sync generator functions (not @contextmanager ones): calling one runs none of its body
        self._lazy = {q for q, f in self.functions.items() if f.generator and not f.is_async and not any(
            t[2:] in CONTEXT_MANAGERS for t, _text in f.decorators)}
        self.blocking_next = self._blocking()
        self.must_async, self.blocked = self._must_async()

    # -- linking -----------------------------------------------------------------------------
    def is_test(self, q: str) -> bool:
        return q in self._test_funcs

    def _link(self) -> None:
        memo_get, resolve = self.resolver._memo.get, self.resolver.resolve

        functions, file_of, module_of, roles = self.functions, self.file_of, self.module_of, self.roles
        modules = self.resolver.modules
        for rel, s in self.summaries.items():
            module = s.module
            for q, f in s.functions.items():
                if q in functions and modules.get(module, (rel,))[0] != rel:
                    continue  # a qualified name two files share: the module map's file keeps it
                functions[q] = f
                file_of[q] = rel
                module_of[q] = module
                if f.roles:
                    roles.setdefault(q, set()).update(f.roles)
        calls = unresolved = 0
        out, callers, method = self.out, self.callers, self.resolver.method
        out_get, callers_get = out.get, callers.get
        for rel, s in self.summaries.items():
            for role, target, _line, _col in s.refs:
                k, q = resolve(target)
                if k == FUNC:
                    self.roles.setdefault(q, set()).add(role)  # type: ignore[arg-type]
            calls += s.external_calls + s.unknown_calls
            unresolved += s.unknown_calls
            for f, sites in s.all_calls():
                caller = f.qualname if f is not None else None
                mine = None  # the caller's out edges (looked up at its first edge; None at module level)
                for site in sites:
                    kind = site.kind
                    if kind == "use":
                        continue
                    k, q = memo_get(site.target) or resolve(site.target)
                    if kind == "call":
                        calls += 1
                        if k == FUNC:
                            pass
                        elif k == CLASS:
                            k, q = method(q, "__init__")  # type: ignore[arg-type]
                            if k != FUNC:
                                continue
                        elif k == UNKNOWN:
                            unresolved += 1
                            continue
                        else:
                            continue
                        e = Edge(caller, q, rel, site)  # type: ignore[arg-type]
                        if caller is not None:
                            if mine is None:
                                mine = out_get(caller)
                                if mine is None:
                                    mine = out[caller] = []
                            mine.append(e)
                        into = callers_get(q)  # type: ignore[arg-type]
                        if into is None:
                            callers[q] = [e]  # type: ignore[index]
                        else:
                            into.append(e)
                    elif k == FUNC:
                        e = Edge(caller, q, rel, site)  # type: ignore[arg-type]
                        if kind == "depends":
                            self.depends.setdefault(q, []).append(e)  # type: ignore[arg-type]
                            if caller is not None and mine is None:
                                mine = out.setdefault(caller, [])
                            owner = site.consumer or caller  # a route decorator's: the endpoint's
                            if owner is not None:
                                self.dependencies.setdefault(owner, []).append(e)
                        elif kind == "thread":
                            self.thread.setdefault(q, []).append(e)  # type: ignore[arg-type]
                        elif kind == "callback" and not site.consumer.endswith(REGISTRATIONS):
                            self.callbacks.setdefault(q, []).append(e)  # type: ignore[arg-type]
        self.calls, self.unresolved = calls, unresolved

    # -- (a) reachability from async code ---------------------------------------------------
    def _live_edge(self, e: Edge) -> bool:
        return not (e.site.flags & EXEMPT)

    def _sync_inner(self, q: str) -> bool:
        """A sync project function that is not a root and not test code."""
        return q in self._inner

    def _reachable(self) -> dict[str, tuple[str, Edge] | None]:
        seen: dict[str, tuple[str, Edge] | None] = {}
        queue = deque(sorted(self.roots))
        while queue:
            q = queue.popleft()
            for e in self.out.get(q, ()):
                # (the sync inner functions are never roots)
                if e.callee in seen or not self._live_edge(e) or not self._sync_inner(e.callee):
                    continue
                seen[e.callee] = (q, e)
                queue.append(e.callee)
        return seen

    def reached_from_async(self) -> set[str]:
        """The sync functions that run in the event loop: reachable from an ``async def``, or from an
        endpoint, dependency or handler that must become async (in a project that is async already, the
        others stay sync and FastAPI runs them in its thread pool). Computed once."""
        found = self.__dict__.get("_from_async")
        if found is None:
            found = self.__dict__["_from_async"] = self._reach(
                q for q in sorted(self.roots) if q in self.must_async and q not in self.blocked)
            found |= self._from_coroutines
        return found

    def on_loop(self) -> set[str]:
        """The project functions (tests aside) whose code runs in the event loop once the migration is
        done: the coroutine functions; the functions the migration makes coroutine functions (AFY402's,
        and, in a project being migrated, the endpoints, dependencies and handlers AFY301-303 convert: in
        a project that is async already a sync one stays sync and runs in FastAPI's thread pool); and the
        sync functions these call on the loop (not in a worker thread). Computed once."""
        found = self.__dict__.get("_on_loop")
        if found is None:
            functions = self.functions
            seeds = [q for q in sorted(self.roots)
                     if functions[q].is_async or (not self.async_project and self.becomes_async(q))]
            seeds += [q for q in self._inner_order if self.becomes_async(q)]
            found = self.__dict__["_on_loop"] = set(seeds) | self._reach(seeds)
        return found

    def loop_modules(self) -> set[str]:
        """The files (relpaths) with a function that runs in the event loop (``on_loop``). Computed once."""
        found = self.__dict__.get("_loop_modules")
        if found is None:
            found = self.__dict__["_loop_modules"] = {self.file_of[q] for q in self.on_loop()}
        return found

    def serves_requests(self) -> bool:
        """Whether the project declares FastAPI endpoints, dependencies or handlers (outside tests)."""
        found = self.__dict__.get("_serves_requests")
        if found is None:
            found = self.__dict__["_serves_requests"] = any(
                roles and not self.is_test(q) for q, roles in self.roles.items())
        return found

    def importers(self, qualname: str) -> list[str]:
        """The files (relpaths, tests aside, sorted) that import ``qualname`` at module level by name
        (``from app.context import state``), directly or through re-exports (``from app import state``
        where ``app/__init__.py`` imports it). Whatever the files do with it is not recorded."""
        index = self.__dict__.get("_imported_by")
        if index is None:
            index = self.__dict__["_imported_by"] = {}
            for rel, s in self.summaries.items():
                if s.is_test:
                    continue
                for target in set(s.imports.values()):
                    index.setdefault(self._follow_imports(target), set()).add(rel)
        return sorted(index.get(qualname, ()))

    def _follow_imports(self, qualname: str) -> str:
        """``app.state`` → ``app.context.state`` when ``app/__init__.py`` imports it from there."""
        resolver = self.resolver
        for _ in range(12):
            split = resolver.split(qualname)
            if split is None or not split[1]:
                return qualname
            mod, rest = split
            s = resolver.get_summary(mod)
            target = s.imports.get(rest[0]) if s is not None else None
            if target is None or target == qualname:
                return qualname
            qualname = ".".join([target] + rest[1:])
        return qualname

    def _reach(self, seeds: Iterable[str]) -> set[str]:
        """The sync inner functions reachable from ``seeds`` through live edges."""
        found: set[str] = set()
        queue = deque(seeds)
        while queue:
            q = queue.popleft()
            for e in self.out.get(q, ()):
                if e.callee in found or not self._live_edge(e) or not self._sync_inner(e.callee):
                    continue
                found.add(e.callee)
                queue.append(e.callee)
        return found

    def chain_from_root(self, q: str) -> list[str]:
        """Shortest call chain root → ... → q (qualnames), for a reachable sync function."""
        chain = [q]
        while q in self.reachable and self.reachable[q] is not None:
            q = self.reachable[q][0]  # type: ignore[index]
            chain.append(q)
            if len(chain) > 100:
                break
        return list(reversed(chain))

    # -- blocking calls through sync helpers -------------------------------------------------
    def _runs_body(self, e: Edge) -> bool:
        """The call ``e`` runs its callee's body: any call, except of a generator function unless its
        result is iterated right there (``StreamingResponse(gen())`` runs nothing of ``gen``)."""
        return e.callee not in self._lazy or bool(e.site.flags & ITERATED)

    def _blocking(self) -> dict[str, tuple[str, object]]:
        """q -> ("direct", finding) or ("call", edge): next hop towards the nearest blocking call."""
        nxt: dict[str, tuple[str, object]] = {}
        queue: deque[str] = deque()
        functions = self.functions
        for q in self._inner_order:
            for b in functions[q].blocking:
                if not (b.flags & EXEMPT):
                    nxt[q] = ("direct", b)
                    queue.append(q)
                    break
        while queue:
            callee = queue.popleft()
            for e in self.callers.get(callee, ()):
                c = e.caller
                if c is None or c in nxt or not self._live_edge(e) or not self._sync_inner(c) or not self._runs_body(e):
                    continue
                nxt[c] = ("call", e)
                queue.append(c)
        return nxt

    def blocking_chain(self, q: str) -> tuple[list[str], object] | None:
        """[q, ..., f] and the blocking finding in f, on a shortest chain."""
        if q not in self.blocking_next:
            return None
        chain = [q]
        while True:
            how, what = self.blocking_next[chain[-1]]
            if how == "direct":
                return chain, what
            chain.append(what.callee)  # type: ignore[attr-defined]
            if len(chain) > 100:
                return None

    def loop_blocking_chain(self, q: str) -> tuple[list[str], object] | None:
        """For the async function ``q`` (an endpoint): a shortest chain [q, ..., f] through the project
        coroutine functions it calls, its async dependencies (``Depends(...)`` in its parameters and its
        route decorator, and theirs: FastAPI runs them on the loop, and sync ones in its threadpool) and
        the sync helpers these call on the loop, to a blocking call ``f`` makes on the event loop, and
        that call's finding; None when nothing reached blocks."""
        f = self.functions.get(q)
        if f is None or not f.is_async or self.is_test(q):
            return None
        prev: dict[str, str | None] = {q: None}
        queue: deque[str] = deque([q])

        def path(c: str) -> list[str]:
            out = [c]
            while prev[out[-1]] is not None:
                out.append(prev[out[-1]])  # type: ignore[arg-type]
            return list(reversed(out))

        while queue:
            c = queue.popleft()
            for b in self.functions[c].blocking:
                if not (b.flags & EXEMPT):
                    return path(c), b
            for e in self.out.get(c, ()):
                if not self._live_edge(e) or e.site.kind != "call" or e.callee in prev:
                    continue
                callee = self.functions[e.callee]
                if callee.is_async and not callee.generator and not self.is_test(e.callee):
                    prev[e.callee] = c
                    queue.append(e.callee)
                elif not callee.is_async and e.callee in self.blocking_next and self._runs_body(e):
                    found = self.blocking_chain(e.callee)
                    if found is not None:
                        return path(c) + found[0], found[1]
            for e in self.dependencies.get(c, ()):
                if e.callee not in prev and self.functions[e.callee].is_async and not self.is_test(e.callee):
                    prev[e.callee] = c  # an async dependency, generator or not, runs on the loop
                    queue.append(e.callee)
        return None

    def kept_sync(self, q: str) -> str | None:
        """Why the endpoint, dependency or handler ``q`` stays sync although AFY301-303 would convert
        it: sync code of the app calls it directly and stays sync, so it would receive a coroutine; or
        an engine of the app stays sync, so its sessions do, and in an ``async def`` their I/O would
        block the loop. None otherwise."""
        caller = self.sync_caller(q)
        if caller is not None:
            return caller
        if self.declined_engine is None:
            return None
        work = self.session_work(q)
        if work is None:
            return None
        return f"it does session I/O ({work}), and {sqla.declined_note(self.declined_engine)}, so its sessions do"

    def sync_caller(self, q: str) -> str | None:
        """``it is also called directly at app/tasks.py:55, ...``: the first call of ``q`` from app code
        that stays sync (module level, or a sync function the migration does not make async), which
        would receive a coroutine if ``q`` became one; None when there is none."""
        for e in self.callers.get(q, ()):
            if e.site.kind != "call" or e.site.flags & AWAITED or not self._live_edge(e):
                continue
            if self.summaries[e.relpath].is_test:
                continue
            c = e.caller
            if c is not None and (self.functions[c].is_async or c in self.must_async):
                continue
            return (f"it is also called directly at {e.relpath}:{e.site.line}, which stays sync and would "
                    "receive a coroutine")
        return None

    def session_work(self, q: str) -> str | None:
        """The first session I/O ``q`` does, itself or down the sync project functions it calls
        (``db.commit()`` at app/crud.py:12), or None."""
        seen = {q}
        queue = deque([q])
        while queue:
            c = queue.popleft()
            f = self.functions[c]
            for io in f.session_io:
                return f"`{io.text}()` at {self.file_of[c]}:{io.line}"
            for e in self.out.get(c, ()):
                if e.callee not in seen and self._live_edge(e) and not self.functions[e.callee].is_async:
                    seen.add(e.callee)
                    queue.append(e.callee)
        return None

    def loop_safe(self, q: str) -> bool:
        """Nothing that blocks is reachable from ``q``: no blocking call in it or down its calls, no
        session I/O (a sync session would block the loop), no call the analysis could not resolve."""
        f = self.functions[q]
        if f.session_io or any(not (b.flags & EXEMPT) for b in f.blocking):
            return False
        if f.unknown_calls:
            return False
        for e in self.out.get(q, ()):
            if not self._live_edge(e):
                continue
            callee = self.functions[e.callee]
            if e.callee in self.blocking_next and self._runs_body(e) or e.callee in self.must_async or callee.session_io:
                return False
        return True

    # -- (b) what must become async ----------------------------------------------------------
    def _must_async(self) -> tuple[dict[str, str], dict[str, str]]:
        must: dict[str, str] = {}
        queue: deque[str] = deque()
        functions, callers = self.functions, self.callers
        # the callers of coroutine functions: the only ones the second kind of seed below can be
        calls_coro = {e.caller for c, f in functions.items() if f.is_async and not f.generator
                      for e in callers.get(c, ())}
        for q in self._inner_order:
            f = functions[q]
            if f.sync_bound:
                continue  # a sync-bound function stays sync: async callers use run_sync (AFY403)
            if not f.session_io and q not in calls_coro:
                continue
            why = None
            # in an async project, a sync Session's work in sync code that no async code calls is sync on
            # purpose (a session handed to a sync library, a script): the migration does not reach it.
            # An AsyncSession's, or DDL on an async engine, is a bug there too.
            sync_kept = self.async_project and q not in self._from_coroutines
            for io in f.session_io:
                if sync_kept and io.kind == "session" or self.declined_engine:
                    continue
                if io.kind == "ddl":
                    why = f"it calls `{io.text}()` (line {io.line}), which must run on the AsyncEngine (AFY205)"
                else:
                    why = f"it calls `{io.text}()` (line {io.line}), which is awaited on an AsyncSession"
                break
            if why is None:
                for e in self.out.get(q, ()):
                    callee = self.functions[e.callee]
                    if callee.is_async and not callee.generator and e.site.kind == "call" and self.drops(q, e.site):
                        why = f"it calls the coroutine function `{e.site.text}()` (line {e.site.line})"
                        break
            if why is not None:
                must[q] = why
                queue.append(q)
        blocked: dict[str, str] = {}
        while queue:
            q = queue.popleft()
            reason = self.blocked_reason(q, must)
            if reason is not None:
                blocked[q] = reason
                continue
            for e in self.callers.get(q, ()):
                c = e.caller
                if c is None or c in must or not self._live_edge(e) or not self._sync_inner(c):
                    continue
                if self.functions[c].sync_bound:
                    continue
                must[c] = f"it calls `{e.site.text}()` (line {e.site.line}), which must become async"
                queue.append(c)
        return must, blocked

    def drops(self, q: str | None, site: CallSite) -> bool:
        """Whether sync code (the function ``q``, or module level for None) that calls a coroutine
        function at ``site`` drops or uses the coroutine, so that it must await it (and become async),
        rather than hand it over on purpose: awaited, passed to a call (`create_task(f())`, a runner, a
        bridge), stored in an attribute or item or yielded, kept in a name it awaits or passes on, made
        in a lambda (which returns it to whoever calls the lambda), run in a worker thread, or returned
        by a function that is annotated to return an awaitable or whose callers all await it."""
        flags = site.flags
        if flags & (AWAITED | ARGUMENT | EXEMPT | HANDED | STORED | IN_LAMBDA):
            return False
        if flags & RETURNED and q is not None:
            return not self._hands_back(q)
        return True

    def _hands_back(self, q: str) -> bool:
        """The function ``q`` returns a coroutine on purpose: it is annotated to return an awaitable, or,
        in a project that is async already, every call of it in the project awaits or hands over what
        it returns, or nothing in the project calls it and it is sync (a library's API). (In a project
        being migrated, those awaits may be the migration's own: the function becomes async.)"""
        f = self.functions[q]
        if f.returns_awaitable:
            return True
        if self.roles.get(q) or not self.async_project:
            return False  # an endpoint, dependency or handler: FastAPI does not await a sync def's value
        calls = [e for e in self.callers.get(q, ()) if e.site.kind == "call"]
        if not calls:
            return not f.is_async  # a sync function's awaitable is its API; a coroutine's, a double await
        return all(e.site.flags & (AWAITED | ARGUMENT | HANDED | STORED) for e in calls)

    def blocked_reason(self, q: str, must: dict[str, str] | None = None) -> str | None:
        """Why ``q`` cannot be turned into an ``async def`` mechanically, or None."""
        f = self.functions[q]
        name = f.name
        if name == "__init__":
            return "`__init__` cannot be a coroutine"
        if name.startswith("__") and name.endswith("__"):
            return f"`{name}` is called by Python's data model, which does not await it"
        for target, text in f.decorators:
            t = target[2:] if target.startswith("q:") else target
            if t in PROPERTY_DECORATORS or text.endswith((".setter", ".getter", ".deleter")):
                return "it is a property"
            if t in CONTEXT_MANAGERS:
                return "it is a @contextmanager (used as a sync context manager)"
            if t in OK_DECORATORS or target.startswith(("m:fastapi.", "q:fastapi.")):
                continue
            return f"it is decorated with `@{text}`, which may not support coroutine functions"
        if f.generator:
            return "it is a generator (iterated synchronously)"
        for io in f.session_io:
            if io.flags & IN_LAMBDA:
                return f"the call `{io.text}()` (line {io.line}) is inside a lambda, which cannot await"
            if io.flags & IN_GENEXP:
                return f"the call `{io.text}()` (line {io.line}) is inside a generator expression"
        if must is not None:
            for e in self.out.get(q, ()):
                if e.site.flags & (IN_LAMBDA | IN_GENEXP) and e.callee in must:
                    where = "a lambda" if e.site.flags & IN_LAMBDA else "a generator expression"
                    return f"the call `{e.site.text}()` (line {e.site.line}) is inside {where}, which cannot await"
        for e in self.callbacks.get(q, ()):
            return f"it is passed as a callback at {e.relpath}:{e.site.line}, where it is called synchronously"
        called = only_tests = False
        for e in self.callers.get(q, ()):
            if not self._live_edge(e):
                continue
            in_test = self.summaries[e.relpath].is_test
            only_tests = in_test and (only_tests or not called)
            called = True
            if e.caller is None and not in_test:
                if e.site.flags & MAIN_GUARD and e.relpath == self.file_of[q]:
                    continue  # a script's entry point: the fix runs it with asyncio.run()
                return f"it is called at module level ({e.relpath}:{e.site.line})"
        if only_tests:
            return "it is called from test files only (tests are not rewritten)"
        return None

    # -- per-file findings for the rules -----------------------------------------------------
    def afy100(self, relpath: str) -> dict[tuple[int, int, int, int], str]:
        """(line, col, end line, end col) of a call in async code → the chain to a blocking call."""
        out: dict[tuple[int, int, int, int], str] = {}
        s = self.summaries.get(relpath)
        if s is None or s.is_test:
            return out
        for q, f in s.functions.items():
            if q not in self.roots:
                continue
            for e in self.out.get(q, ()):
                if not self._live_edge(e) or e.site.kind != "call" or e.callee not in self.blocking_next:
                    continue
                if e.callee in self.roots or not self._runs_body(e):
                    continue
                found = self.blocking_chain(e.callee)
                if found is None:
                    continue
                chain, finding = found
                site = e.site
                out.setdefault((site.line, site.col, site.end_line, site.end_col), self.chain_text([q] + chain, finding))
        return out

    def chain_text(self, chain: list[str], finding) -> str:
        """``create_product → audit.record → time.sleep (shop/services/audit.py:7)``: a call chain from
        its first function to the blocking call ``finding`` in its last."""
        names = [display(chain[0], self.module_of[chain[0]], root=True)]
        names += [display(c, self.module_of[c]) for c in chain[1:]]
        return " → ".join(names + [finding.text]) + f" ({self.file_of[chain[-1]]}:{finding.line})"

    def _app_factory_kind(self, q: str) -> str | None:
        """"engine" or the session factory kind of the app factory ``q``; None for a test module's own
        (tests are never rewritten: it stays sync)."""
        mod, _, name = q.rpartition(".")
        owner = self.resolver.get_summary(mod)
        if owner is None or owner.is_test:
            return None
        return owner.factories[name]

    def afy402(self, relpath: str) -> dict[tuple[int, int], tuple[str, str, str | None, list]]:
        """(line, col) of a def → (name, why, blocked reason, the spans of its calls in this file's
        `if __name__ == "__main__":` block, which the fix runs with asyncio.run())."""
        out = {}
        s = self.summaries.get(relpath)
        if s is None or s.is_test:
            return out
        for q, f in s.functions.items():
            if q in self.must_async:
                entry = [(e.site.line, e.site.col, e.site.end_line, e.site.end_col) for e in self.callers.get(q, ())
                         if e.caller is None and e.relpath == relpath and e.site.flags & MAIN_GUARD
                         and self._live_edge(e)]
                out[(f.line, f.col)] = (display(q, s.module, root=True), self.must_async[q], self.blocked.get(q),
                                        entry)
        return out

    def becomes_async(self, q: str) -> bool:
        """The migration turns ``q`` into a coroutine function (it is sync today): AFY402 converts it, or
        it is an endpoint, dependency or handler that AFY301-303's fix converts (not a generator, and
        nothing that keeps the fix off, such as another decorator: ``@lru_cache``)."""
        f = self.functions[q]
        if f.is_async or self.is_test(q) or f.sync_bound:
            return False
        if q in self.must_async and q not in self.blocked:
            return True
        return bool(self.roles.get(q)) and not f.generator and not f.convert_blocker and not self.kept_sync(q)

    def becomes_async_generator(self, q: str) -> bool:
        """The migration turns the generator ``q`` into an async generator: a generator dependency
        AFY302's fix converts (no ``yield from``, no returned value, nothing else that keeps it off)."""
        f = self.functions[q]
        return (f.generator and not f.is_async and not f.convert_blocker and not self.is_test(q)
                and "dependency" in self.roles.get(q, ()) and not self.kept_sync(q))

    def afy501(self, relpath: str) -> dict[tuple[int, int, int, int], str]:
        out: dict[tuple[int, int, int, int], str] = {}
        s = self.summaries.get(relpath)
        if s is None or not s.is_test:
            return out
        resolve = self.resolver.resolve
        for _f, sites in s.all_calls():
            for site in sites:
                if site.kind not in ("call", "use"):
                    continue
                k, q = resolve(site.target)
                key = (site.line, site.col, site.end_line, site.end_col)
                where = f"{relpath}:{site.line}"
                if k == FUNC:
                    f = self.functions.get(q)  # type: ignore[arg-type]
                    if f is None or self.is_test(q):  # type: ignore[arg-type]
                        continue
                    if self.becomes_async_generator(q):  # type: ignore[arg-type]
                        what = "calls" if site.kind == "call" else "uses"
                        out[key] = (f"{where} {what} {site.text}{'()' if site.kind == 'call' else ''}, a generator "
                                    "dependency; after the migration it is an async generator")
                    elif self.becomes_async(q):  # type: ignore[arg-type]
                        if site.kind == "call" and not site.flags & AWAITED:
                            out[key] = f"{where} calls {site.text}() synchronously; {AFTER_COROUTINE}"
                        elif site.kind == "use":
                            out[key] = (f"{where} uses {site.text}, which becomes a coroutine function after "
                                        "the migration")
                elif k != FACTORY and site.kind == "call" and site.target.startswith("q:") and "." in site.target:
                    # `engine.connect()`, `SessionLocal.begin()`: a method of an engine or session factory
                    fk, fq = resolve(site.target.rsplit(".", 1)[0])
                    kind = self._app_factory_kind(fq) if fk == FACTORY else None
                    if kind is not None:
                        after = ("an AsyncEngine (its connections are awaited, `async with`)" if kind == "engine"
                                 else "an async_sessionmaker")
                        out[key] = f"{where} calls {site.text}() (the {kind}); after the migration it is {after}"
                elif k == FACTORY:
                    kind = self._app_factory_kind(q)  # type: ignore[arg-type]
                    if kind is None:
                        continue
                    after = ("an AsyncEngine" if kind == "engine"
                             else "an async_sessionmaker whose sessions are AsyncSessions (awaited, `async with`)")
                    what = f"calls {site.text}()" if site.kind == "call" else f"uses {site.text}"
                    out[key] = f"{where} {what} (the {kind}); after the migration it is {after}"
        return out


#: how AFY501 ends the finding of a call that returns a coroutine after the migration
AFTER_COROUTINE = "after the migration it returns a coroutine"


def build_graph(project) -> CallGraph:
    from asyncify_lint.project.cache import _no_gc

    with _no_gc():  # summarising parses every file: the collector would rescan every tree held
        summaries = project.summaries
        graph = CallGraph(summaries, project.modules, project.state.is_async, sqla.declined_engine_in(project))
    project.unresolved = graph.unresolved
    return graph


def afy401_target(project, site: CallSite) -> FunctionSummary | None:
    """The project ``async def`` a call site calls (resolved lazily, without the whole graph)."""
    resolver = project.fact("callgraph.resolver", lambda p: Resolver(p.modules, p.store.for_module))
    k, q = resolver.resolve(site.target)
    if k == CLASS:
        return None
    if k != FUNC:
        return None
    split = resolver.split(q)
    s = resolver.get_summary(split[0]) if split else None
    f = s.functions.get(q) if s is not None else None
    if f is None or s.is_test or not f.is_async or f.generator:  # type: ignore[union-attr]
        return None
    return f


def _graph_function(ctx, func) -> tuple["CallGraph", str] | None:
    """(graph, qualified name) of the ``def`` node ``func`` of this context, when the graph has it."""
    found = graph_for(ctx)
    if found is None:
        return None
    rel, graph = found
    f = graph.summaries[rel].function_at(func.lineno, func.col_offset)
    return (graph, f.qualname) if f is not None else None


def loop_safe_function(ctx, func) -> bool:
    """Whether nothing blocking is reachable from the ``def`` node ``func`` of this context."""
    found = _graph_function(ctx, func)
    return found is not None and found[1] in found[0].functions and found[0].loop_safe(found[1])


def unawaited_calls_to(ctx, key: str) -> dict:
    """Un-awaited call sites of this file whose callee ``UNAWAITED_TARGETS[key](project, site)``
    accepts, by position (line, col, end_line, end_col) → (site, callee summary); memoised in the
    context under ``key``."""
    found = ctx.cache.get(key)
    if found is None:
        cur = current(ctx) if not ctx.is_test else None
        found = _unawaited_calls(ctx.project, cur[0], key) if cur is not None else {}
        ctx.cache[key] = found
    return found


@query("unawaited_calls")
def _unawaited_calls(project, relpath: str, key: str) -> dict:
    found = {}
    s = project.summary(relpath)
    target = UNAWAITED_TARGETS[key]
    for _f, sites in s.all_calls():
        for site in sites:
            if site.kind != "call" or site.flags & AWAITED:
                continue
            callee = target(project, site)
            if callee is not None:
                found[(site.line, site.col, site.end_line, site.end_col)] = (site, callee)
    return found


def called_def(ctx, call) -> tuple[object, object] | None:
    """(module context, ``def`` node) of the project function a call of this file calls, as the call
    graph resolves it: methods of local instances (``repo = Repo(db)``, then ``repo.get()``), methods
    named through their class (``Mapper.to_dto()``, ``cls.to_dto()``), re-exports. None when unknown."""
    cur = current(ctx)
    if cur is None:
        return None
    sites = ctx.cache.get("callgraph.sites")
    if sites is None:
        sites = ctx.cache["callgraph.sites"] = {(x.line, x.col, x.end_line, x.end_col): x
                                                for _f, group in cur[1].all_calls() for x in group if x.kind == "call"}
    site = sites.get((call.lineno, call.col_offset, call.end_lineno, call.end_col_offset))
    if site is None:
        return None
    project = ctx.project
    resolver = project.fact("callgraph.resolver", lambda p: Resolver(p.modules, p.store.for_module))
    k, q = resolver.resolve(site.target)
    split = resolver.split(q) if k == FUNC and q else None
    s = resolver.get_summary(split[0]) if split else None
    f = s.functions.get(q) if s is not None else None
    fctx = project.module_context(split[0]) if f is not None else None
    if fctx is None:
        return None
    defs = fctx.cache.get("callgraph.defs")
    if defs is None:
        defs = fctx.cache["callgraph.defs"] = {(n.lineno, n.col_offset): n for n in ast.walk(fctx.tree)
                                               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    node = defs.get((f.line, f.col))
    return (fctx, node) if node is not None else None


def sync_bound_target(project, site: CallSite) -> FunctionSummary | None:
    """The project function a call site calls, when its session work stays sync (run it with run_sync)."""
    resolver = project.fact("callgraph.resolver", lambda p: Resolver(p.modules, p.store.for_module))
    k, q = resolver.resolve(site.target)
    if k != FUNC:
        return None
    split = resolver.split(q)
    s = resolver.get_summary(split[0]) if split else None
    f = s.functions.get(q) if s is not None else None
    if f is None or s.is_test or f.is_async or not f.sync_bound or f.cls is not None:  # type: ignore[union-attr]
        return None
    return f


#: the callees ``unawaited_calls_to`` looks for, by the rule asking
UNAWAITED_TARGETS: dict[str, Callable] = {"afy401": afy401_target, "afy403": sync_bound_target}


def sync_bound_function(ctx, func) -> str:
    """Why the ``def`` node ``func`` of this context stays sync (its session work needs the sync API), or ""."""
    cur = current(ctx)
    if cur is None:
        return ""
    f = cur[1].function_at(func.lineno, func.col_offset)
    return f.sync_bound if f is not None else ""


def current(ctx) -> tuple[str, ModuleSummary] | None:
    """(relpath, summary) of the file a context holds; the summary matches the context's text."""
    if "afy.current" in ctx.cache:
        return ctx.cache["afy.current"]
    ctx.cache["afy.current"] = out = _current(ctx)
    return out


def _current(ctx) -> tuple[str, ModuleSummary] | None:
    project = ctx.project
    if project is None:
        return None
    rel = project.relpath(ctx.source.path)
    s = project.summary(rel)
    if s is None or s.sha != text_sha(ctx.source.text):
        project.set_overlay(rel, ctx.source.text)
        s = project.summary(rel)
    if s is None or s.error:
        return None
    return rel, s


def graph_for(ctx) -> tuple[str, "CallGraph"] | None:
    """(relpath, graph) for a context, when its file is part of the project's graph."""
    cur = current(ctx)
    if cur is None:
        return None
    graph = ctx.project.graph
    if cur[0] not in graph.summaries:
        return None
    return cur[0], graph


def kept_sync_function(ctx, func) -> str | None:
    """``CallGraph.kept_sync`` of the ``def`` node ``func`` of this context."""
    found = _graph_function(ctx, func)
    return found[0].kept_sync(found[1]) if found is not None else None


def becomes_async(ctx, func, generators: bool = False) -> bool:
    """Whether the migration turns the sync ``def`` node ``func`` of this context into a coroutine
    function (it must await something, or it is an endpoint, dependency or handler); with
    ``generators``, into an async generator function too (a generator dependency)."""
    found = _graph_function(ctx, func)
    if found is None:
        return False
    graph, q = found
    return graph.becomes_async(q) or (generators and graph.becomes_async_generator(q))
