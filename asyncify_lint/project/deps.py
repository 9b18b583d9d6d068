"""What a file's rules read of the rest of the project: its read-set, recorded while they run.

A file's diagnostics depend on its own text, the settings, and what its rules asked about the other
modules. ``Project`` records every such question in the ``Deps`` on top of its tracking stack (pushed
by the runner around one file's rules, and by each memoised answer or project fact while it is
computed, so that a later reader of the memo inherits what it was made of):

* ``modules``: the files whose parsed tree was read (a ``def`` another module holds, a project fact's
  scan); the results cache adds the trees the contexts read asked about in turn
  (``Project.hard_reads``), as their memoised answers may be reused;
* ``soft``: the questions about another module's names (``type_of_qualname``, ``resolve_reexport``,
  ``type_alias``), asked again only when a file their answer was made of changed;
* ``needles``: the byte strings of a scan over every file (``contexts_containing``): a file that did
  not contain them, and does now, changes the answer;
* ``summaries``: the content fingerprint of each module summary read;
* ``queries``: the call-graph questions asked and a fingerprint of each answer (``graph.drops(q,
  site)``, ``q in graph.must_async``, a file's un-awaited calls of project coroutines), with the
  project's state and target versions. They are checked by asking them again: an edit that changes
  a function's colour changes exactly the answers about it, so only the files that asked are checked
  again.

Anything else read through the graph makes the file ``opaque``: its results are never reused.
Everything recorded is plain data (strings, numbers, tuples), so the results cache stays JSON: a
cache file is read as untrusted data, never unpickled.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Any, Callable

#: the questions about another module's names a context asks the project (``Project._soft_memo``)
SOFT_QUESTIONS = frozenset({"resolve_reexport", "type_of_qualname", "type_alias"})

#: queries answered by module-level functions of the analysis, by name (filled by ``query``)
QUERY_FUNCTIONS: dict[str, Callable[..., Any]] = {}


class Opaque(Exception):
    """A value the recorder cannot encode: the reading file's results are not reused."""


class Deps:
    __slots__ = ("modules", "needles", "summaries", "queries", "soft", "opaque")

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.needles: set[tuple[bytes, ...]] = set()
        self.summaries: dict[str, str] = {}
        #: (kind, name, encoded arguments, fingerprint of the answer)
        self.queries: dict[tuple[str, str, str], str] = {}
        #: questions about another module's names (``Project.soft_answers``): (method, arguments)
        self.soft: set[tuple[str, tuple]] = set()
        self.opaque = False

    def merge(self, other: "Deps") -> None:
        if other.modules:
            self.modules |= other.modules
        if other.needles:
            self.needles |= other.needles
        if other.summaries:
            self.summaries.update(other.summaries)
        if other.queries:
            self.queries.update(other.queries)
        if other.soft:
            self.soft |= other.soft
        if other.opaque:
            self.opaque = True


# -- fingerprints and argument encoding ---------------------------------------------------------
def _canon(value: Any) -> Any:
    """A deterministic, comparable form of an answer (sets sorted, dataclasses by their fields)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_canon(v) for v in value]]
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((_canon(v) for v in value), key=repr)]
    if isinstance(value, dict):
        return ["dict", sorted(([_canon(k), _canon(v)] for k, v in value.items()), key=repr)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, [_canon(getattr(value, f.name)) for f in dataclasses.fields(value)]]
    if hasattr(value, "__slots__") and not isinstance(value, type):
        return [type(value).__name__, [_canon(getattr(value, s, None)) for s in value.__slots__]]
    raise Opaque(type(value).__name__)


def fingerprint(value: Any) -> str:
    """The fingerprint of an answer: equal answers have equal fingerprints in every run."""
    return hashlib.blake2b(repr(_canon(value)).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def encode_args(args: tuple) -> str:
    """The arguments of a query as text that ``decode_args`` turns back into equal values."""
    return repr(tuple(_encode(a) for a in args))


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    named = getattr(type(value), "_fields", None)
    if named is not None and type(value).__name__ in _named():
        return ("T", type(value).__name__, tuple(_encode(v) for v in value))
    if isinstance(value, list):
        return ("L", tuple(_encode(v) for v in value))
    if isinstance(value, tuple):
        return ("U", tuple(_encode(v) for v in value))
    raise Opaque(type(value).__name__)


def decode_args(text: str) -> tuple:
    import ast

    return tuple(_decode(a) for a in ast.literal_eval(text))


def _decode(value: Any) -> Any:
    if isinstance(value, tuple):
        tag = value[0]
        if tag == "T":
            return _named()[value[1]](*(_decode(v) for v in value[2]))
        items = [_decode(v) for v in value[1]]
        return items if tag == "L" else tuple(items)
    return value


@functools.lru_cache(maxsize=None)
def _named() -> dict[str, type]:
    """The named tuples a question may take (``CallSite``, ``Finding``), by class name."""
    from asyncify_lint.project.summary import CallSite, Finding

    return {"CallSite": CallSite, "Finding": Finding}


# -- recording --------------------------------------------------------------------------------
def record(project, kind: str, name: str, args: tuple, answer: Any) -> None:
    """Note in the reading file's deps that ``kind:name(args)`` answered ``answer``."""
    deps = project.tracking_top()
    if deps is None:
        return
    try:
        key = (kind, name, encode_args(args))
        memo = project.query_fingerprints
        fp = memo.get(key)
        if fp is None:
            fp = memo[key] = fingerprint(answer)
        deps.queries[key] = fp
    except Opaque:
        deps.opaque = True


def query(name: str) -> Callable:
    """A module-level question about the project (``f(project, *args)``), recorded by the reading
    file with its answer and asked again to check it."""

    def wrap(fn: Callable) -> Callable:
        QUERY_FUNCTIONS[name] = fn

        @functools.wraps(fn)
        def recorded(project, *args):
            if project is None or not hasattr(project, "tracking_top") or project.tracking_top() is None:
                return fn(project, *args)
            with project.untracked():
                answer = fn(project, *args)
            record(project, "fn", name, args, answer)
            return answer

        return recorded

    return wrap


class GraphReader:
    """The call graph as one file's rules see it: every answer recorded in the file's deps."""

    __slots__ = ("_graph", "_project")

    def __init__(self, graph, project) -> None:
        self._graph = graph
        self._project = project

    def __getattr__(self, name: str):
        value = getattr(self._graph, name)
        if name == "summaries":
            return _Summaries(value, self._project)
        if callable(value):
            return _Method(value, name, self._project)
        if isinstance(value, (set, frozenset, dict)):
            return _Container(value, "attr", name, (), self._project)
        deps = self._project.tracking_top()
        if deps is not None:
            deps.opaque = True
        return value


class _Method:
    __slots__ = ("_fn", "_name", "_project")

    def __init__(self, fn, name: str, project) -> None:
        self._fn, self._name, self._project = fn, name, project

    def __call__(self, *args):
        project = self._project
        with project.untracked():
            answer = self._fn(*args)
        if isinstance(answer, (set, frozenset)):
            return _Container(answer, "call", self._name, args, project)
        record(project, "call", self._name, args, answer)
        return answer


class _Container:
    """A set or mapping of the graph (an attribute, or what a method returned): membership and
    lookups are recorded item by item, anything else as the whole value."""

    __slots__ = ("_value", "_source", "_name", "_args", "_project")

    def __init__(self, value, source: str, name: str, args: tuple, project) -> None:
        self._value, self._source, self._name, self._args, self._project = value, source, name, args, project

    def _note(self, op: str, extra: tuple, answer):
        record(self._project, f"{self._source}-{op}", self._name, (*self._args, *extra), answer)
        return answer

    def __contains__(self, item) -> bool:
        return self._note("in", (item,), item in self._value)

    def get(self, item, default=None):
        return self._note("get", (item, default), self._value.get(item, default))

    def __getitem__(self, item):
        return self._note("item", (item,), self._value[item])

    def __iter__(self):
        return iter(self._note("whole", (), self._value))

    def __len__(self) -> int:
        return len(self._note("whole", (), self._value))

    def __bool__(self) -> bool:
        return bool(self._note("whole", (), self._value))


class _Summaries:
    """``graph.summaries``: each module summary read is a dependency on its fingerprint."""

    __slots__ = ("_value", "_project")

    def __init__(self, value, project) -> None:
        self._value, self._project = value, project

    def __getitem__(self, rel: str):
        s = self._value[rel]
        self._project.note_summary(rel, s)
        return s

    def get(self, rel: str, default=None):
        s = self._value.get(rel)
        if s is None:
            return default
        self._project.note_summary(rel, s)
        return s

    def __contains__(self, rel: str) -> bool:
        found = rel in self._value
        record(self._project, "attr-in", "summaries", (rel,), found)
        return found


def project_answer(project, name: str) -> Any:
    """What a file reads of the project as a whole: its state (migrating or async), or of its target
    versions what the rules ask (``TargetVersions.facts``): an edit of the requirements that changes
    none of them changes no result. (``Project.state`` and ``Project.versions``
    record the same values.)"""
    if name == "state":
        return project.state.state
    return project.versions.facts()


def answer(project, graph, kind: str, name: str, args: tuple) -> Any:
    """Ask a recorded question again, of the current project and graph."""
    if name.startswith("_"):  # (read from a cache file: only the graph's public questions are asked)
        raise KeyError(name)
    if kind == "fn":
        return QUERY_FUNCTIONS[name](project, *args)
    if kind == "project":
        return project_answer(project, name)
    if kind == "call":
        return getattr(graph, name)(*args)
    source, op = kind.split("-", 1)
    if op == "whole":
        extra: tuple = ()
    elif op == "get":
        args, extra = args[:-2], args[-2:]
    else:
        args, extra = args[:-1], args[-1:]
    value = getattr(graph, name)
    if source == "call":
        value = value(*args)
    if op == "in":
        return extra[0] in value
    if op == "get":
        return value.get(*extra)
    if op == "item":
        return value[extra[0]]
    return value
