"""The project model: every Python file of the project, their module names, and lazy per-module facts.

Other modules are parsed only when a name imported from them must be resolved (``from .db import
SessionLocal`` → what is ``SessionLocal``?) or when a project-wide fact is asked for (which functions are
used as FastAPI dependencies anywhere). Nothing is imported or executed.
"""

from __future__ import annotations

import ast
import os
from typing import TYPE_CHECKING, Callable, Iterable

from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.scope import canonical
from asyncify_lint.engine.source import SourceError, SourceFile
from asyncify_lint.project.discover import (
    DEFAULT_EXCLUDE,
    DEFAULT_TEST_PATTERNS,
    git_files,
    Layout,
    longest_module,
    matches_any,
    walk_files,
)

if TYPE_CHECKING:
    from asyncify_lint.config import Settings


class ModuleView:
    """The project as one module's parsed context sees it: the same answers, and every other module
    that context asks about recorded in the project's read graph (``Project.reads``). A summary that
    consulted this module for a type then depends on every module that answer could have been made of
    (``Project.read_closure``), memoised answers included: the cache re-checks them all."""

    __slots__ = ("_project", "_reads")

    def __init__(self, project: "Project", module: str | None) -> None:
        self._project = project
        self._reads = project.reads.setdefault(module or "", set())

    def _note(self, qualname: str) -> None:
        mod = self._project.module_prefix(qualname)
        if mod is not None:
            self._reads.add(mod)

    def module_context(self, module: str) -> "FileContext | None":
        self._reads.add(module)
        return self._project.module_context(module)

    def resolve_reexport(self, qualname: str, _depth: int = 0) -> str:
        self._note(qualname)
        return self._project.resolve_reexport(qualname, _depth)

    def type_of_qualname(self, qualname: str, _depth: int = 0) -> str | None:
        self._note(qualname)
        return self._project.type_of_qualname(qualname, _depth)

    def type_alias(self, qualname: str) -> str | None:
        self._note(qualname)
        return self._project.type_alias(qualname)

    def function_def(self, qualname: str):
        self._note(qualname)
        return self._project.function_def(qualname)

    def __getattr__(self, name: str):
        return getattr(self._project, name)


def _new_memo(_project: "Project") -> dict:
    """A memo of answers about other modules, a project fact: kept until a file changes (facts are
    then cleared), and kept when a module's parsed tree leaves the budget."""
    return {}


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
        self._is_test: dict[str, bool] = {}  # relpath -> matches the test paths
        self._names: dict[str, list[tuple[str, bool]]] = {}  # relpath -> its module names (as `modules`)
        self._packages: dict[str, bool] = {}  # directory -> whether it holds an __init__.py (as `_names`)
        self._layout: Layout | None = None  # import roots and module names, made on first use
        self._prefixes: dict[str, str | None] = {}  # qualname -> the project module it is read from
        #: module -> the other modules its parsed context asked about (for types, aliases, re-exports):
        #: kept for the project's life, as the answers memoised from them are
        self.reads: dict[str, set[str]] = {}
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
            from asyncify_lint.config import max_file_size, over_limit  # (config imports this package)

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
        memo = self.fact("memo.reexport", _new_memo)
        key = (qualname, _depth)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self._resolve_reexport(qualname, _depth)
        return found

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
        memo = self.fact("memo.type_of", _new_memo)
        key = (qualname, _depth)
        if key not in memo:
            memo[key] = self._type_of_qualname(qualname, _depth)
        return memo[key]

    def _type_of_qualname(self, qualname: str, _depth: int) -> str | None:
        if _depth > 10:
            return None
        split = self._split(qualname)
        if split is None:
            return None
        ctx, name, rest = split
        if rest:
            return None
        b = ctx.module_scope.bindings.get(name)
        if b is None:
            return None
        return ctx.binding_type(b, _depth + 1)

    def type_alias(self, qualname: str) -> str | None:
        """``SessionDep = Annotated[Session, Depends(get_db)]`` defined in another module → its type."""
        memo = self.fact("memo.type_alias", _new_memo)
        if qualname not in memo:
            memo[qualname] = self._type_alias(qualname)
        return memo[qualname]

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
        """The SQLAlchemy and pydantic versions the project targets (project/versions.py): read once
        from the configuration, lock files, declared dependencies and code, never from a fix's output."""
        if self._versions is None:
            from asyncify_lint.project.versions import detect

            self._versions = detect(self)
        return self._versions

    @property
    def state(self):
        """Whether the project is migrating or async already (project/state.py): read once, from the
        configuration or the files on disk, never from a fix's output."""
        if self._state is None:
            from asyncify_lint.project.state import detect

            self._state = detect(self)
        return self._state

    # -- project-wide facts ------------------------------------------------------------------
    def fact(self, key: str, compute: Callable[["Project"], object]) -> object:
        if key not in self._facts:
            self._facts[key] = compute(self)
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
        return self.store.get(relpath)

    @property
    def summaries(self):
        """relpath -> summary of every project file (loads/refreshes the on-disk cache)."""
        return self.store.all()

    @property
    def graph(self):
        """The resolved call graph of the whole project (built once, until a file changes)."""
        from asyncify_lint.project.callgraph import build_graph

        return self.fact("callgraph", build_graph)

    def contexts_containing(self, needles: Iterable[bytes]) -> Iterable[FileContext]:
        """Contexts of every project file whose text contains one of ``needles`` (a cheap pre-filter)."""
        needles = tuple(needles)
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
