"""`--strategy bridge`: after the migration, keep working the names a sync test suite uses.

The migration itself is unchanged: the request path (endpoints, dependencies, services, sessions) is
fully async. The bridge then reads the test files (never writing them) and, for what they use
synchronously:

- an engine or session factory that the migration made async (`engine`, `SessionLocal`): the app's
  own references move to an async twin (`async_engine`, `AsyncSessionLocal`) and the original
  statement comes back under the original name, sync, on the same database, for the tests and their
  DDL. It is marked `# noqa: AFY20x` so later runs keep it;
- a function the migration made a coroutine function that tests call synchronously with a sync
  `Session` (`crud.get_user(db, 1)`): it gets `@sync_bridge`, which runs it to completion on that
  session when called that way and is the coroutine function otherwise;
- an endpoint or dependency that takes its session from a dependency the tests override
  (`app.dependency_overrides[get_db] = ...`): it gets `@sync_bridge_endpoint`, which runs it in a
  worker thread when the override hands it a sync `Session`.

The two decorators live in one module added to the app's package, `_asyncify_bridge.py` (a copy of
`asyncify_lint/bridge_runtime.py`): the app never imports asyncify-lint.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field

from asyncify_lint.diagnostics import Applicability, Edit, Fix
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.fixer import apply_fixes
from asyncify_lint.engine.scope import parameters, resolve_relative
from asyncify_lint.helpers import sqla

HELPER_MODULE = "_asyncify_bridge"
MARK = "asyncify-lint bridge"
NOQA = "  # noqa: {code}  ({mark}: sync twin kept for the tests)"
_RUNTIME = os.path.join(os.path.dirname(__file__), "bridge_runtime.py")
_SYNC_MAKERS = {
    sqla.CREATE_ENGINE: ("AFY201", sqla.CREATE_ASYNC_ENGINE),
    sqla.SESSIONMAKER: ("AFY202", sqla.ASYNC_SESSIONMAKER),
}
_ASYNC_MAKERS = {v[1] for v in _SYNC_MAKERS.values()}
_MEMORY_DB = re.compile(r"^sqlite(\+\w+)?://(/?:memory:|/?$|/?\?)|mode=memory")


@dataclass
class TestUses:
    #: (module, name) -> where the test files use it: (relpath, line, col)
    used: dict[tuple[str, str], list[tuple[str, int, int]]] = field(default_factory=dict)
    #: (module, name) of functions called synchronously (outside `async def`, not awaited)
    called_sync: set[tuple[str, str]] = field(default_factory=set)
    #: (module, name) of dependencies the tests override (`app.dependency_overrides[dep] = ...`)
    overridden: set[tuple[str, str]] = field(default_factory=set)


class Bridge:
    def __init__(self, linter, states) -> None:
        self.linter = linter
        self.project = linter.project
        self.states = {s.relpath: s for s in states if s.source is not None and s.text is not None}
        self.notes: list[str] = []
        self.fixes: dict[str, list[Fix]] = {}
        self.new_files: dict[str, str] = {}
        #: where the tests use what the bridge keeps working: (relpath, line, col)
        self.covered: set[tuple[str, int, int]] = set()
        #: one line per thing kept working, for the report
        self.kept: list[str] = []
        self._ctx: dict[str, FileContext] = {}

    # -- reading -------------------------------------------------------------------------------
    def ctx(self, rel: str, original: bool = False) -> FileContext | None:
        key = ("orig:" if original else "") + rel
        if key not in self._ctx:
            st = self.states.get(rel)
            if st is None:
                return None
            text = st.source.text if original else st.text
            probe = type(st)(st.relpath, st.display, st.source, text, is_test=st.is_test)
            try:
                self._ctx[key] = self.linter.make_context(probe)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self._ctx[key] = None  # type: ignore[assignment]
        return self._ctx[key]

    def app_contexts(self):
        """(relpath, context) of every app (non-test) Python file being fixed, as it is now."""
        for rel, st in self.states.items():
            if st.is_test or not rel.endswith(".py"):
                continue
            ctx = self.ctx(rel)
            if ctx is not None:
                yield rel, ctx

    def split(self, qualname: str | None) -> tuple[str, str] | None:
        """(app module, name) for ``pkg.mod.name`` when ``pkg.mod`` is a non-test module of the project."""
        if not qualname or "." not in qualname:
            return None
        module, name = qualname.rsplit(".", 1)
        found = self.project.modules.get(module)
        if found is None or self.project.is_test_file(found[0]) or found[0] not in self.states:
            return None
        return module, name

    def test_uses(self) -> TestUses:
        uses = TestUses()
        for rel in self.project.files:
            if not rel.endswith(".py") or not self.project.is_test_file(rel):
                continue
            ctx = self.project.context(rel)
            if ctx is None:
                continue
            for node in ctx.nodes:
                if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and \
                        node.value.attr == "dependency_overrides":
                    key = self.split(ctx.qualname(node.slice))
                    if key:
                        uses.overridden.add(key)
                if not isinstance(node, (ast.Name, ast.Attribute)) or not isinstance(node.ctx, ast.Load):
                    continue
                key = self.split(ctx.qualname(node))
                if key is None:
                    continue
                uses.used.setdefault(key, []).append((rel, node.lineno, node.col_offset))
                parent = ctx.parent(node)
                if isinstance(parent, ast.Call) and parent.func is node and not ctx.is_awaited(parent) \
                        and not ctx.in_async_function(parent):
                    uses.called_sync.add(key)
        return uses

    # -- planning ------------------------------------------------------------------------------
    def run(self) -> None:
        uses = self.test_uses()
        twins: dict[tuple[str, str], str] = {}
        for key in sorted(uses.used):
            if self._kept_twin(key):
                self._keep(uses, key, f"`{'.'.join(key)}` is the sync twin kept for the tests")
            else:
                self._plan_twin(key, twins)
        for key, twin in twins.items():
            self._rename_everywhere(key, twin)
            self._keep(uses, key, f"`{'.'.join(key)}` stays sync for the tests; the app uses its async twin "
                                  f"`{twin}`")
        bridged: dict[str, dict] = {}
        for key in sorted(uses.called_sync):
            if self._plan_call_bridge(key, bridged):
                self._keep(uses, key, f"`{'.'.join(key)}()` runs synchronously when called with a sync Session "
                                      "(@sync_bridge)")
        for text, where in self._plan_method_bridges(bridged):
            self.covered.update(where)
            self.kept.append(text)
        for key in sorted(uses.overridden):
            n = self._plan_endpoint_bridges(key, bridged)
            if n:
                self._keep(uses, key, f"overriding `{'.'.join(key)}` with a sync Session keeps working: {n} "
                                      "endpoint(s) and dependencies run in a worker thread then "
                                      "(@sync_bridge_endpoint)")
        if bridged:
            self._plan_helper_module(bridged)

    def _keep(self, uses: TestUses, key: tuple[str, str], text: str) -> None:
        self.covered.update(uses.used.get(key, ()))
        self.kept.append(text)

    def _maker(self, ctx: FileContext, b) -> str | None:
        if b is None or b.kind != "assign" or not isinstance(b.value, ast.Call):
            return None
        func = b.value.func
        if not isinstance(func, (ast.Name, ast.Attribute)):
            return None
        return sqla.normalize(ctx.qualname(func))

    def _kept_twin(self, key: tuple[str, str]) -> bool:
        """Whether ``module.name`` is a sync twin an earlier run of the bridge kept (marked)."""
        rel = self.project.modules[key[0]][0]
        ctx = self.ctx(rel)
        if ctx is None or self._maker(ctx, ctx.module_scope.bindings.get(key[1])) not in _SYNC_MAKERS:
            return False
        stmt = self._statement(ctx, key[1])
        if stmt is None:
            return False
        return any(MARK in ctx.source.line_text(n) for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))

    def _statement(self, ctx: FileContext, name: str) -> ast.stmt | None:
        for stmt in ctx.tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                    and stmt.targets[0].id == name:
                return stmt
        return None

    def _plan_twin(self, key: tuple[str, str], twins: dict[tuple[str, str], str]) -> bool:
        """Plan the sync twin of ``module.name`` (and of the engine a session factory binds); False when
        there is none to keep (not an engine or factory the migration made async) or it cannot be kept."""
        module, name = key
        if key in twins:
            return True
        rel = self.project.modules[module][0]
        now, orig = self.ctx(rel), self.ctx(rel, original=True)
        if now is None or orig is None:
            return False
        kind_now = self._maker(now, now.module_scope.bindings.get(name))
        kind_orig = self._maker(orig, orig.module_scope.bindings.get(name))
        if kind_now not in _ASYNC_MAKERS:
            return False
        if kind_orig not in _SYNC_MAKERS:
            self.notes.append(f"{rel}: `{name}` is used by the tests but was made async by an earlier run; "
                              "the bridge keeps a sync twin only in the run that converts it")
            return False
        stmt_now, stmt_orig = self._statement(now, name), self._statement(orig, name)
        if stmt_now is None or stmt_orig is None:
            self.notes.append(f"{rel}: `{name}` is not a plain module-level assignment; no sync twin")
            return False
        star = self._star_importer(module)
        if star:
            self.notes.append(f"{rel}: no sync twin for `{name}`: {star} imports `*` from `{module}`, so its "
                              "references cannot be moved to the async twin")
            return False
        memory = self._in_memory(orig, stmt_orig)
        if memory:
            self.notes.append(f"{rel}: no sync twin for `{name}`: its database is in memory ({memory}), so a "
                              "second engine would see another, empty database")
            return False
        # a session factory's sync twin binds the sync engine: that engine needs its twin too
        call = stmt_orig.value
        assert isinstance(call, ast.Call)
        binds = [k.value for k in call.keywords if k.arg == "bind"]
        if kind_orig == sqla.SESSIONMAKER:
            binds += call.args[:1]
        for arg in binds:
            local = orig.module_scope.bindings.get(arg.id) if isinstance(arg, ast.Name) else None
            if self._maker(orig, local) != sqla.CREATE_ENGINE:
                self.notes.append(f"{rel}: no sync twin for `{name}`: it binds `{orig.segment(arg)}`, which is not "
                                  "an engine created in this module")
                return False
            if not self._plan_twin((module, arg.id), twins):  # type: ignore[attr-defined]
                self.notes.append(f"{rel}: no sync twin for `{name}`: its engine `{orig.segment(arg)}` has none")
                return False
        twin = self._free_name(name)
        twins[key] = twin
        code = _SYNC_MAKERS[kind_orig][0]
        text = self._sync_statement(orig, stmt_orig, code)
        nl = now.source.newline
        self._add(rel, [Edit(now.end(stmt_now), now.end(stmt_now), nl + text)])
        return True

    def _star_importer(self, module: str) -> str | None:
        for rel, ctx in self.app_contexts():
            if "*" not in ctx.source.text:
                continue
            for node in ctx.nodes:
                if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                    if resolve_relative(ctx.module, ctx.is_package, node.level, node.module) == module:
                        return rel
        return None

    def _in_memory(self, ctx: FileContext, stmt: ast.Assign) -> str | None:
        call = stmt.value
        assert isinstance(call, ast.Call)
        if sqla.normalize(ctx.qualname(call.func)) != sqla.CREATE_ENGINE:
            return None
        url = sqla.engine_url_arg(call)
        if url is None:
            return None
        info = sqla.resolve_url(ctx, url)
        lit = info.literal
        if isinstance(lit, ast.Constant) and isinstance(lit.value, str) and _MEMORY_DB.search(lit.value):
            return lit.value
        return None

    def _sync_statement(self, orig: FileContext, stmt: ast.Assign, code: str) -> str:
        """The original statement's text, with the noqa mark on the line its diagnostic is reported on."""
        text = orig.segment(stmt)
        lines = text.splitlines(keepends=True)
        call = stmt.value
        i = min(max(call.lineno - stmt.lineno, 0), len(lines) - 1)
        line = lines[i]
        stripped = line.rstrip("\r\n")
        mark = NOQA.format(code=code, mark=MARK)
        candidate = lines[:]
        candidate[i] = stripped + mark + line[len(stripped):]
        joined = "".join(candidate)
        if i < len(lines) - 1:  # a comment after the statement's last line is always safe
            try:
                compile(joined, "<bridge>", "exec")
            except SyntaxError:  # the line ends inside a string: mark the last line instead
                return text + mark
        return joined

    def _free_name(self, name: str) -> str:
        if name.startswith("_"):
            base = "_async" + name
        else:
            base = ("Async" if name[:1].isupper() else "async_") + name
        taken: set[str] = set()
        for rel in self.states:
            ctx = self.ctx(rel)
            if ctx is not None:
                taken |= set(ctx.module_scope.bindings)
        twin, i = base, 1
        while twin in taken:
            i += 1
            twin = f"{base}{i}"
        return twin

    def _rename_everywhere(self, key: tuple[str, str], twin: str) -> None:
        """Every app reference to ``module.name`` now names the async twin (tests are never written),
        but for an argument of a sync project function whose parameter is annotated with the sync type
        (`def init(db_engine: Engine)`): that consumer keeps the sync twin."""
        module, name = key
        target = f"{module}.{name}"
        for rel, ctx in self.app_contexts():
            own = self.project.modules.get(module, ("",))[0] == rel
            binding = ctx.module_scope.bindings.get(name) if own else None
            edits, kept, aliases = [], 0, []
            for node in ctx.nodes:
                if isinstance(node, ast.Name) and node.id == name:
                    b = ctx.lookup(name, node)
                    if (own and b is binding) or (not own and b is not None and b.kind == "import"
                                                  and b.qualname == target):
                        if self._sync_consumer(ctx, node):
                            kept += 1
                        else:
                            edits.append(ctx.replace(node, twin))
                elif isinstance(node, ast.Attribute) and node.attr == name and ctx.qualname(node) == target:
                    if self._sync_consumer(ctx, node):
                        continue
                    end = ctx.end(node)
                    edits.append(Edit(end - len(name), end, twin))
                elif isinstance(node, ast.ImportFrom) and not own:
                    for alias in node.names:
                        b = ctx.module_scope.bindings.get(alias.asname or alias.name)
                        if alias.name == name and b is not None and b.qualname == target:
                            aliases.append(alias)
            for alias in aliases:
                start = ctx.start(alias)
                if not kept:
                    edits.append(Edit(start, start + len(name), twin))
                elif edits and alias.asname is None:
                    end = ctx.end(alias)  # both names are used: import the twin too
                    edits.append(Edit(end, end, f", {twin}"))
            if edits:
                self._add(rel, edits)

    def _sync_consumer(self, ctx: FileContext, node: ast.AST) -> bool:
        """``node`` is passed to a sync project function whose parameter is annotated with a sync
        engine or session type, or it is in the ``Meta`` of a factory-boy SQLAlchemy factory
        (``sqlalchemy_session = SessionLocal()``), which persists through a sync session."""
        if _in_factory_meta(ctx, node):
            return True
        call = ctx.parent(node)
        if isinstance(call, ast.keyword):
            call = ctx.parent(call)
        if not isinstance(call, ast.Call) or call.func is node:
            return False
        found = sqla.bound_parameter(ctx, call, node)
        if found is None or not isinstance(found[1], ast.FunctionDef) or found[2].annotation is None:
            return False
        return sqla.annotation_sqla_type(found[0], found[2].annotation) in (sqla.ENGINE, *sqla.SYNC_SESSION_TYPES)

    def _plan_call_bridge(self, key: tuple[str, str], bridged: dict) -> bool:
        module, name = key
        rel = self.project.modules[module][0]
        ctx = self.ctx(rel)
        b = ctx.module_scope.bindings.get(name) if ctx is not None else None
        if b is None or b.kind != "def" or not isinstance(b.node, ast.AsyncFunctionDef):
            return False
        if not self._may_take_session(ctx, b.node):
            self.notes.append(f"{rel}: `{name}` is called synchronously by the tests but takes no session; "
                              "the bridge cannot run it synchronously")
            return False
        bridged.setdefault(rel, {})[b.node] = self._form("sync_bridge", f"{module}.{name}")
        return True

    def _plan_method_bridges(self, bridged: dict) -> list[tuple[str, list[tuple[str, int, int]]]]:
        """``@sync_bridge`` on each method the migration made a coroutine function that the tests call
        synchronously on an object of the app (a repository holding the test's sync Session:
        ``client_repository.get_by_name(...)``). The call is resolved through the call graph (the
        object's type comes from an annotation or a constructor); the decorator finds the session in
        the object's attributes at run time. Returns (what was kept working, where the tests use it)."""
        from asyncify_lint.project.callgraph import FUNC, display
        from asyncify_lint.project.summary import AWAITED

        graph = self.project.graph
        calls: dict[str, list[tuple[str, int, int]]] = {}
        for rel, s in sorted(graph.summaries.items()):
            if not s.is_test:
                continue
            for _f, sites in s.all_calls():
                for site in sites:
                    if site.kind != "call" or site.flags & AWAITED:
                        continue
                    k, q = graph.resolver.resolve(site.target)
                    f = graph.functions.get(q) if k == FUNC else None  # type: ignore[arg-type]
                    if f is None or f.cls is None or not f.is_async or f.generator or graph.is_test(q):  # type: ignore[arg-type]
                        continue
                    calls.setdefault(q, []).append((rel, site.line, site.col))  # type: ignore[arg-type]
        out = []
        for q, where in sorted(calls.items()):
            f = graph.functions[q]
            rel = graph.file_of[q]
            node = self._method(self.ctx(rel), f.cls, f.name, ast.AsyncFunctionDef)
            if node is None or bridged.get(rel, {}).get(node):
                continue
            if self._method(self.ctx(rel, original=True), f.cls, f.name, ast.FunctionDef) is None:
                continue  # a coroutine function already: the tests' sync calls were not working before
            bridged.setdefault(rel, {})[node] = self._form("sync_bridge", q)
            out.append((f"`{display(q, graph.module_of[q])}()` runs synchronously when its object holds a sync "
                        "Session (@sync_bridge)", where))
        return out

    def _form(self, decorator: str, q: str | None) -> str:
        """``decorator``, or its ``_on_loop`` form when the function ``q`` awaits more than its session
        (see ``needs_loop``)."""
        return decorator + "_on_loop" if q is not None and self.needs_loop(q) else decorator

    def needs_loop(self, q: str, seen: set[str] | None = None) -> bool:
        """Whether the coroutine function ``q`` (the migrated code's) awaits something that needs an event
        loop, directly or through the project coroutine functions it awaits: work handed to a thread
        (`asyncio.to_thread`, `run_in_threadpool`) or a method of an async client other than
        SQLAlchemy's (`httpx.AsyncClient`). Its session's methods do not."""
        from asyncify_lint.project.callgraph import FUNC
        from asyncify_lint.project.summary import AWAITED

        graph = self.project.graph
        seen = set() if seen is None else seen
        seen.add(q)
        f = graph.functions.get(q)
        for site in f.calls if f is not None else ():
            if site.kind == "thread":
                return True
            if site.kind != "call" or not site.flags & AWAITED:
                continue
            k, target = graph.resolver.resolve(site.target)
            if k == FUNC and target in graph.functions:
                if target not in seen and self.needs_loop(target, seen):  # type: ignore[arg-type]
                    return True
            elif site.target.startswith("m:") and not site.target.startswith(("m:sqlalchemy.", "m:sqlmodel.")):
                return True
        return False

    @staticmethod
    def _method(ctx: FileContext | None, cls: str, name: str, kind: type) -> ast.AST | None:
        """The ``def`` of method ``name`` of the module-level class ``cls`` (its qualified name) in ``ctx``."""
        if ctx is None or ctx.module is None or not cls.startswith(ctx.module + "."):
            return None
        b = ctx.module_scope.bindings.get(cls[len(ctx.module) + 1:])
        if b is None or b.kind != "class" or not isinstance(b.node, ast.ClassDef):
            return None
        for stmt in b.node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
                return stmt if isinstance(stmt, kind) else None
        return None

    def _plan_endpoint_bridges(self, key: tuple[str, str], bridged: dict) -> int:
        # the file and name the override names: a module may have two names (a namespace package
        # directory is also an import root: `api.db.database` and `db.database`)
        target = (self.project.modules[key[0]][0], key[1])
        count = 0
        for rel, ctx in self.app_contexts():
            for node in ctx.nodes:
                if not isinstance(node, ast.AsyncFunctionDef) or bridged.get(rel, {}).get(node):
                    continue
                for p, d in parameters(node):
                    dep = sqla.dependency_target(ctx, d, p.annotation)
                    if dep is None:
                        continue
                    dctx, dnode = dep
                    if (self.project.relpath(dctx.source.path), dnode.name) == target:
                        if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
                            self.notes.append(f"{rel}:{node.lineno}: `{node.name}` depends on the overridden "
                                              f"`{key[1]}` but is a generator; not bridged")
                        else:
                            f = self.project.graph.summaries[rel].function_at(node.lineno, node.col_offset) \
                                if rel in self.project.graph.summaries else None
                            bridged.setdefault(rel, {})[node] = self._form(
                                "sync_bridge_endpoint", f.qualname if f is not None else None)
                            count += 1
                        break
        return count

    def _may_take_session(self, ctx: FileContext, func: ast.AsyncFunctionDef) -> bool:
        """A parameter is annotated as a session, or not annotated (the decorator checks at run time)."""
        a = func.args
        for p in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x is not None]:
            if p.annotation is None or sqla.annotation_sqla_type(ctx, p.annotation) in sqla.SESSION_TYPES:
                return True
        return False

    def _plan_helper_module(self, bridged: dict) -> None:
        rels = sorted(bridged, key=lambda r: (r.count(os.sep), r))
        first = rels[0]
        module, is_pkg = self.project.module_of(first)
        package = module if is_pkg else (module.rsplit(".", 1)[0] if module and "." in module else "")
        helper_module = f"{package}.{HELPER_MODULE}" if package else HELPER_MODULE
        helper_rel = os.path.join(os.path.dirname(first), HELPER_MODULE + ".py")
        path = os.path.join(self.project.root, helper_rel)
        if not os.path.exists(path):
            with open(_RUNTIME, encoding="utf-8") as f:
                self.new_files[helper_rel] = f.read()
        for rel, funcs in bridged.items():
            ctx = self.ctx(rel)
            assert ctx is not None
            edits, imports = [], []
            for func, decorator in sorted(funcs.items(), key=lambda kv: kv[0].lineno):
                names = {ctx.segment(d) for d in func.decorator_list}
                ref, imp = ctx.import_ref(helper_module, decorator)
                if ref in names:
                    continue
                if imp is not None:
                    imports.append(imp)
                start = ctx.source.line_starts[func.lineno - 1]
                indent = ctx.source.line_text(func.lineno)[: func.col_offset]
                edits.append(Edit(start, start, f"{indent}@{ref}{ctx.source.newline}"))
            if edits:
                self._add(rel, edits, imports)

    def _add(self, rel: str, edits: list[Edit], imports: list | None = None) -> None:
        self.fixes.setdefault(rel, []).append(Fix(edits, Applicability.UNSAFE, imports or []))

    # -- applying ------------------------------------------------------------------------------
    def apply(self) -> None:
        """All the bridge's edits, or none: a twin without its renames (or the reverse) breaks the app."""
        texts = {}
        for rel, fixes in self.fixes.items():
            st = self.states[rel]
            try:
                new = apply_fixes(self.ctx(rel), fixes)  # type: ignore[arg-type]
                compile(new, st.display, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                st.errors.append(f"{st.display}: internal error: the bridge produced code that does not compile "
                                 f"({getattr(exc, 'msg', exc)}); no bridge edit was applied")
                self.new_files.clear()
                self.covered.clear()
                self.kept.clear()
                return
            texts[rel] = new
        for rel, new in texts.items():
            self.states[rel].text = new
            self.project.set_overlay(rel, new)


#: factory-boy's SQLAlchemy factory: its ``Meta.sqlalchemy_session`` (or ``_factory``) must be sync
FACTORY_BOY_SQLALCHEMY = frozenset({"factory.alchemy.SQLAlchemyModelFactory"})


def _in_factory_meta(ctx: FileContext, node: ast.AST) -> bool:
    meta = None
    for a in ctx.ancestors(node):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)) and meta is None:
            return False
        if isinstance(a, ast.ClassDef):
            if meta is None:
                if a.name != "Meta":
                    return False
                meta = a
                continue
            return any(ctx.qualname(base) in FACTORY_BOY_SQLALCHEMY for base in a.bases)
    return False


def bridge(linter, states) -> Bridge:
    b = Bridge(linter, states)
    b.run()
    b.apply()
    return b
