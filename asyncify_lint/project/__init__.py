"""The project model: every Python file of the project, their module names, and lazy per-module facts.

Other modules are parsed only when a name imported from them must be resolved (``from .db import
SessionLocal`` → what is ``SessionLocal``?) or when a project-wide fact is asked for (which functions are
used as FastAPI dependencies anywhere). Nothing is imported or executed.
"""

from __future__ import annotations

import ast
import contextlib
import os
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from asyncify_lint.config import DEFAULT_EXCLUDE, DEFAULT_TEST_PATTERNS, max_file_size, over_limit
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import canonical
from asyncify_lint.engine.source import SourceError, SourceFile
from asyncify_lint.project.deps import Deps, GraphReader, record
from asyncify_lint.project.discover import (
    git_files,
    Layout,
    longest_module,
    matches_any,
    walk_files,
)
from asyncify_lint.project.view import ModuleView

if TYPE_CHECKING:
    from asyncify_lint.config import Settings


class Project:
    def __init__(self, root: str, settings: "Settings | None" = None) -> None:
        self.root = os.path.abspath(root)
        self.settings = settings
        self._files: list[str] | None = None
        self._modules: dict[str, tuple[str, bool]] | None = None  # module name -> (relpath, is_package)
        self._contexts: dict[str, FileContext | None] = {}  # relpath -> context (None: unparsable)
        self._context_lines: dict[str, int] = {}  # relpath -> lines held by its cached tree
        self._held_lines = 0
        #: bumped whenever a file's text changes (an overlay): contexts made before see stale facts
        self.generation = 0
        self._overlay: dict[str, str] = {}  # relpath -> text that replaces the file on disk
        self._facts: dict[str, object] = {}
        self._fact_deps: dict[str, Deps] = {}  # fact -> what computing it read (project/deps.py)
        #: the read-sets being recorded, innermost last: a file's rules, and a memo or fact being computed
        self._tracking: list[Deps] = []
        #: (kind, name, arguments) -> fingerprint of the answer, for the current graph and facts
        self.query_fingerprints: dict[tuple[str, str, str], str] = {}
        self._is_test: dict[str, bool] = {}  # relpath -> matches the test paths
        self._names: dict[str, list[tuple[str, bool]]] = {}  # relpath -> its module names (as `modules`)
        self._packages: dict[str, bool] = {}  # directory -> whether it holds an __init__.py (as `_names`)
        self._layout: Layout | None = None  # import roots and module names, made on first use
        self._prefixes: dict[str, str | None] = {}  # qualname -> the project module it is read from
        #: module -> the other modules its parsed context asked about (for types, aliases, re-exports):
        #: kept for the project's life, as the answers memoised from them are
        self.reads: dict[str, set[str]] = {}
        #: module -> the modules whose tree its context read / the questions about other modules' names
        #: it asked ((method, arguments)): what a file's results depend on through that context
        self.hard_reads: dict[str, set[str]] = {}
        self.soft_reads: dict[str, set[tuple[str, tuple]]] = {}
        #: (method, arguments) -> (answer, what computing it read), for the three questions above
        self.soft_answers: dict[tuple[str, tuple], tuple[object, Deps]] = {}
        self.unresolved = 0
        self._store = None  # asyncify_lint.project.cache.SummaryStore, created on first use
        self._versions = None  # the SQLAlchemy / pydantic versions targeted, found on first use
        self._state = None  # migrating or async already (project/state.py), found on first use

    # -- files -------------------------------------------------------------------------------
    @property
    def exclude(self) -> tuple[str, ...]:
        if self.settings is None:
            return DEFAULT_EXCLUDE
        return tuple(self.settings.exclude) + tuple(self.settings.extend_exclude)

    @property
    def files(self) -> list[str]:
        if self._files is None:
            listed = git_files(self.root)
            if listed is None:
                listed = walk_files(self.root, self.exclude)
            else:
                listed = [f for f in listed if not matches_any(f, self.exclude)]
            self._files = listed
        return self._files

    def relpath(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.root)

    def is_test_file(self, relpath: str) -> bool:
        found = self._is_test.get(relpath)
        if found is None:
            patterns = self.settings.test_paths if self.settings is not None else DEFAULT_TEST_PATTERNS
            found = self._is_test[relpath] = matches_any(relpath, patterns)
        return found

    @property
    def layout(self) -> Layout:
        """Where each file is importable from: import roots, apps, module names (discover.Layout)."""
        if self._layout is None:
            self._layout = Layout(self.root, self.files, self._packages, self.is_test_file)
        return self._layout

    @property
    def modules(self) -> dict[str, tuple[str, bool]]:
        if self._modules is None:
            self._modules = self.layout.modules
        return self._modules

    def _module_names(self, relpath: str) -> list[tuple[str, bool]]:
        """A file's module names, its own first, memoised for the project's life like the module map."""
        names = self._names.get(relpath)
        if names is None:
            names = self._names[relpath] = self.layout.names(relpath)
        return names

    def module_of(self, relpath: str) -> tuple[str | None, bool]:
        names = self._module_names(relpath)
        if not names:
            return None, False
        return names[0]

    # -- per-module contexts -----------------------------------------------------------------
    def set_overlay(self, relpath: str, text: str | None) -> None:
        """Use ``text`` instead of the file on disk (an editor buffer, or a file being fixed)."""
        if text is not None and self._unchanged(relpath, text):
            self._overlay[relpath] = text
            return  # same content: the memoised facts (and the call graph) stay valid
        if text is None:
            self._overlay.pop(relpath, None)
        else:
            self._overlay[relpath] = text
        if self._contexts.pop(relpath, None) is not None or relpath in self._context_lines:
            self._held_lines -= self._context_lines.pop(relpath, 0)
        self._facts.clear()
        self._fact_deps.clear()
        self.soft_answers.clear()
        self.query_fingerprints.clear()
        self.generation += 1
        if self._store is not None:
            self._store.invalidate(relpath)

    def _unchanged(self, relpath: str, text: str) -> bool:
        current = self._overlay.get(relpath)
        if current is not None:
            return current == text
        try:
            return SourceFile.read(os.path.join(self.root, relpath)).text == text
        except SourceError:
            return False

    def context(self, relpath: str) -> FileContext | None:
        if self._tracking:
            self._tracking[-1].modules.add(relpath)
        contexts = self._contexts
        if relpath in contexts:
            ctx = contexts.pop(relpath)  # most recently used last: the budget drops the least recently used
            contexts[relpath] = ctx
            return ctx
        ctx = None
        try:
            if relpath in self._overlay:
                src = SourceFile(os.path.join(self.root, relpath), self._overlay[relpath], "utf-8", b"")
            else:
                src = SourceFile.read(os.path.join(self.root, relpath))
            if over_limit(src.raw or src.text, max_file_size(self.settings)):
                raise ValueError("file too large")  # not analysed (max-file-size), as for the rules
            tree = ast.parse(src.text, filename=relpath)
            module, is_pkg = self.module_of(relpath)
            ctx = FileContext(src, tree, display_path=relpath, module=module, is_package=is_pkg,
                              project=ModuleView(self, module),  # type: ignore[arg-type]
                              settings=self.settings, is_test=self.is_test_file(relpath))
        except (SourceError, SyntaxError, ValueError, RecursionError, MemoryError):
            ctx = None
        self._remember(relpath, ctx)
        return ctx

    #: parsed trees kept at once, in lines of source: each file is parsed once while the project
    #: fits (rules, summaries and other modules' name resolution share it); beyond, the least recently
    #: used trees are dropped and parsed again if asked for, so memory stays bounded on large trees
    CONTEXT_BUDGET_LINES = 150_000

    def _remember(self, relpath: str, ctx: FileContext | None) -> None:
        self._contexts[relpath] = ctx
        lines = ctx.source.text.count("\n") + 1 if ctx is not None else 0
        self._context_lines[relpath] = lines
        total = self._held_lines = self._held_lines + lines
        if total <= self.CONTEXT_BUDGET_LINES:
            return
        for old in list(self._contexts):
            if total <= self.CONTEXT_BUDGET_LINES or old == relpath:
                break
            self._contexts.pop(old)
            total -= self._context_lines.pop(old, 0)
        self._held_lines = total

    def module_context(self, module: str) -> FileContext | None:
        entry = self.modules.get(module)
        if entry is None:
            return None
        return self.context(entry[0])

    def module_prefix(self, qualname: str) -> str | None:
        """The project module ``pkg.mod.name.attr`` is read from: its longest proper prefix that is a
        project module (``pkg.mod``; memoised)."""
        found = self._prefixes.get(qualname, False)
        if found is False:
            found = self._prefixes[qualname] = longest_module(self.modules, qualname, proper=True)
        return found  # type: ignore[return-value]

    def read_closure(self, modules: Iterable[str]) -> set[str]:
        """``modules`` and every module their contexts asked about, transitively."""
        seen = set(modules)
        stack = list(seen)
        reads = self.reads
        while stack:
            for m in reads.get(stack.pop(), ()):
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return seen

    def _split(self, qualname: str) -> tuple[FileContext, str, list[str]] | None:
        """Split ``pkg.mod.name.attr`` into (context of pkg.mod, "name", ["attr"])."""
        mod = self.module_prefix(qualname)
        ctx = self.module_context(mod) if mod is not None else None
        if ctx is None:
            return None
        rest = qualname[len(mod) + 1 :].split(".")  # type: ignore[arg-type]
        return ctx, rest[0], rest[1:]

    def resolve_reexport(self, qualname: str, _depth: int = 0) -> str:
        """Follow ``from .x import y`` re-exports: ``pkg.y`` → ``pkg.x.y`` when pkg imports y."""
        return self._soft_memo("resolve_reexport", (qualname, _depth), self._resolve_reexport)  # type: ignore[return-value]

    def _resolve_reexport(self, qualname: str, _depth: int) -> str:
        if _depth > 10 or not self.modules:
            return qualname
        split = self._split(qualname)
        if split is None:
            return qualname
        ctx, name, rest = split
        b = ctx.module_scope.bindings.get(name)
        if b is not None and b.kind == "import" and b.qualname and b.qualname != qualname:
            target = b.qualname + ("." + ".".join(rest) if rest else "")
            return self.resolve_reexport(target, _depth + 1)
        return qualname

    def type_of_qualname(self, qualname: str, _depth: int = 0) -> str | None:
        """Type of the module-level value ``pkg.mod.name`` (e.g. ``app.db.SessionLocal``)."""
        return self._soft_memo("type_of_qualname", (qualname, _depth), self._type_of_qualname)  # type: ignore[return-value]

    def _type_of_qualname(self, qualname: str, _depth: int) -> str | None:
        if _depth > 10:
            return None
        split = self._split(qualname)
        if split is None:
            return None
        ctx, name, rest = split
        b = ctx.module_scope.bindings.get(name)
        if b is None:
            return None
        if rest:
            return _factory_method_type(ctx, b, rest)
        return ctx.binding_type(b, _depth + 1)

    def class_attribute_type(self, qualname: str, attr: str) -> str | None:
        """The type a project class's body declares for an attribute (``images_dir: Path`` in a settings
        class or a dataclass): what an instance's ``obj.images_dir`` holds."""
        return self._soft_memo("class_attribute_type", (qualname, attr), self._class_attribute_type)  # type: ignore[return-value]

    def _class_attribute_type(self, qualname: str, attr: str) -> str | None:
        split = self._split(qualname)
        if split is None:
            return None
        ctx, name, rest = split
        b = ctx.module_scope.bindings.get(name)
        if rest or b is None or b.kind != "class" or not isinstance(b.node, ast.ClassDef):
            return None
        for n in b.node.body:
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == attr:
                return ctx.annotation_type(n.annotation)
        return None

    def type_alias(self, qualname: str) -> str | None:
        """``SessionDep = Annotated[Session, Depends(get_db)]`` defined in another module → its type."""
        return self._soft_memo("type_alias", (qualname,), self._type_alias)  # type: ignore[return-value]

    def _type_alias(self, qualname: str) -> str | None:
        split = self._split(qualname)
        if split is None:
            return None
        ctx, name, rest = split
        b = ctx.module_scope.bindings.get(name)
        if rest or b is None or b.kind != "assign" or b.value is None:
            return None
        if isinstance(b.value, (ast.Subscript, ast.BinOp)):
            return ctx.annotation_type(b.value)
        return None

    def function_def(self, qualname: str) -> tuple[FileContext, ast.AST] | None:
        """The module-level ``def`` a qualified name refers to."""
        split = self._split(qualname)
        if split is None:
            return None
        ctx, name, rest = split
        b = ctx.module_scope.bindings.get(name)
        if b is None or rest or b.kind != "def":
            return None
        return ctx, b.node  # type: ignore[return-value]

    @property
    def versions(self):
        """The SQLAlchemy and pydantic versions the project targets (helpers/versions.py): read once
        from the configuration, lock files, declared dependencies and code, never from a fix's output."""
        if self._versions is None:
            from asyncify_lint.helpers.versions import detect

            with self.untracked():
                self._versions = detect(self)
        if self._tracking:
            record(self, "project", "versions", (), self._versions.facts())
        return self._versions

    @property
    def state(self):
        """Whether the project is migrating or async already (project/state.py): read once, from the
        configuration or the files on disk, never from a fix's output."""
        if self._state is None:
            from asyncify_lint.project.state import detect

            with self.untracked():
                self._state = detect(self)
        if self._tracking:
            record(self, "project", "state", (), self._state.state)
        return self._state

    def reached(self, ctx: FileContext, code: str, line: int, col: int) -> bool:
        """In a project that is async already, whether the migration reaches a finding of ``code`` at
        (line, col) of ``ctx`` (project/state.py): asked by helpers, which import nothing of the project."""
        from asyncify_lint.project.state import reached

        return reached(ctx, code, line, col)

    # -- what a file's rules read (project/deps.py) --------------------------------------------
    @contextlib.contextmanager
    def tracking(self) -> Iterator[Deps]:
        """Record, in the ``Deps`` yielded, everything read of the project until the block ends."""
        deps = Deps()
        self._tracking.append(deps)
        try:
            yield deps
        finally:
            self._tracking.pop()

    @contextlib.contextmanager
    def untracked(self) -> Iterator[None]:
        """Read without recording (an answer the caller records itself, or the project's own upkeep)."""
        if not self._tracking:
            yield
            return
        self._tracking.append(Deps())
        try:
            yield
        finally:
            self._tracking.pop()

    def tracking_top(self) -> Deps | None:
        return self._tracking[-1] if self._tracking else None

    def note_summary(self, relpath: str, summary) -> None:
        """A module summary was read: the reading file depends on what it is made of."""
        if not self._tracking:
            return
        from asyncify_lint.project.summary import content_fingerprint

        self._tracking[-1].summaries[relpath] = content_fingerprint(summary)  # (memoised in the summary)

    def _soft_memo(self, name: str, args: tuple, compute: Callable):
        """``compute(*args)``, memoised (a project fact: kept until a file changes) with what computing
        it read. A reader records the question itself (``Deps.soft``): it is asked again when one of
        the files its answer was made of changed."""
        key = (name, args)
        found = self.soft_answers.get(key)
        if found is None:
            deps = Deps()
            self._tracking.append(deps)
            try:
                value = compute(*args)
            finally:
                self._tracking.pop()
            found = self.soft_answers[key] = (value, deps)
        if self._tracking:
            self._tracking[-1].soft.add(key)
        return found[0]

    # -- project-wide facts ------------------------------------------------------------------
    #: facts read through recorded questions (project/deps.py), not as a whole
    QUERIED_FACTS = frozenset({"callgraph", "callgraph.resolver"})

    def fact(self, key: str, compute: Callable[["Project"], object]) -> object:
        if key not in self._facts:
            deps = Deps()
            self._tracking.append(deps)
            try:
                self._facts[key] = compute(self)
            finally:
                self._tracking.pop()
            if key not in self.QUERIED_FACTS:
                self._fact_deps[key] = deps
        if self._tracking:
            found = self._fact_deps.get(key)
            if found is not None:
                self._tracking[-1].merge(found)
        return self._facts[key]

    # -- whole-project analysis (summary.py, callgraph.py, cache.py) ---------------------------
    @property
    def store(self):
        if self._store is None:
            from asyncify_lint.project.cache import SummaryStore

            self._store = SummaryStore(self)
        return self._store

    def summary(self, relpath: str):
        """The summary of one module (from the disk cache when still valid)."""
        if not self._tracking:
            return self.store.get(relpath)
        with self.untracked():
            s = self.store.get(relpath)
        if s is not None:
            self.note_summary(relpath, s)
        return s

    @property
    def summaries(self):
        """relpath -> summary of every project file (loads/refreshes the on-disk cache)."""
        return self.store.all()

    @property
    def graph(self):
        """The resolved call graph of the whole project (built once, until a file changes)."""
        from asyncify_lint.project.callgraph import build_graph

        graph = self.fact("callgraph", build_graph)
        return GraphReader(graph, self) if self._tracking else graph

    def contexts_containing(self, needles: Iterable[bytes]) -> Iterable[FileContext]:
        """Contexts of every project file whose text contains one of ``needles`` (a cheap pre-filter)."""
        needles = tuple(needles)
        if self._tracking:
            self._tracking[-1].needles.add(needles)
        for rel in self.files:
            if rel in self._overlay:
                data = self._overlay[rel].encode("utf-8", "surrogatepass")
            else:
                try:
                    with open(os.path.join(self.root, rel), "rb") as f:
                        data = f.read()
                except OSError:
                    continue
            if any(n in data for n in needles):
                ctx = self.context(rel)
                if ctx is not None:
                    yield ctx


__all__ = ["Project", "canonical"]


def _factory_method_type(ctx: FileContext, b, rest: list[str]) -> str | None:
    """``returns:<type>`` for ``Class.make`` naming a class method or static method of a project class
    annotated with its return type (``def init(cls, bucket) -> "S3"``): what ``Class.make(...)`` gives."""
    if len(rest) != 1 or b.kind != "class" or not isinstance(b.node, ast.ClassDef):
        return None
    for stmt in b.node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == rest[0]:
            if stmt.returns is None or isinstance(stmt, ast.AsyncFunctionDef) or not any(
                    ctx.qualname(d) in ("builtins.classmethod", "builtins.staticmethod") for d in stmt.decorator_list):
                return None
            ret = ctx.annotation_type(stmt.returns)
            return f"returns:{ret}" if ret else None
    return None
