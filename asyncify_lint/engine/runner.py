"""The Linter: checks and fixes files of one project with one set of settings."""

from __future__ import annotations

import ast
import contextlib
import gc
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field

from asyncify_lint.config import Settings, too_large_message
from asyncify_lint.diagnostics import Diagnostic, Edit, Fix
from asyncify_lint.engine.checker import InternalError, run_rules
from asyncify_lint.engine.context import FileContext
from asyncify_lint.engine.fixer import apply_fixes, choose, import_edits
from asyncify_lint.engine.imports import prune_unused_imports
from asyncify_lint.engine.noqa import filter_noqa, physical_lines, suppressed_codes
from asyncify_lint.engine.source import DecodeError, SourceError, SourceFile
from asyncify_lint.project import Project
from asyncify_lint.project.discover import matches_any
from asyncify_lint.project.state import migration_gate
from asyncify_lint.registry import Rule, get_rule, is_selected, selected_rules

MAX_ITERATIONS = 10  # per rule and file, as ruff
MAX_CYCLES = 5  # passes over every rule when no single rule is selected
PARSE_ERROR = "AFY001"


#: the rules whose fix turns a function into a coroutine function: a ``# noqa`` on one keeps it sync
_CONVERSIONS = ("AFY301", "AFY302", "AFY303", "AFY402")


@dataclass
class FileState:
    relpath: str
    display: str
    source: SourceFile | None  # None when unreadable
    text: str | None = None  # current text (after fixes)
    is_test: bool = False
    errors: list[str] = field(default_factory=list)
    #: AFY001 for a file that was read but cannot be decoded (``source`` is then None)
    load_error: Diagnostic | None = None
    #: the fixes applied to ``text``, per rule code
    fixed: Counter[str] = field(default_factory=Counter)
    #: (text, project generation, context) of the last parse in --fix
    fix_context: tuple | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        return self.source is not None and self.text is not None and self.text != self.source.text


def parse_error_diagnostic(path: str, src: SourceFile | None, exc: BaseException) -> Diagnostic:
    if isinstance(exc, SyntaxError):
        line = exc.lineno or 1
        col = max((exc.offset or 1) - 1, 0)
        reason = f"{exc.msg} (line {line})"
    elif isinstance(exc, MemoryError):
        line, col = 1, 0
        size = len(src.raw) if src is not None else 0
        reason = f"out of memory while parsing ({size:,} bytes)" if size else "out of memory while parsing"
    else:
        line, col, reason = 1, 0, str(exc) or type(exc).__name__
    return Diagnostic(PARSE_ERROR, f"cannot parse: {reason}", path, line, col, line, col)


def fix_sort_key(rule: Rule) -> tuple[int, str]:
    return (rule.fix_order, rule.code)


class Linter:
    def __init__(self, project: Project, settings: Settings, *, unsafe_fixes: bool | None = None) -> None:
        self.project = project
        self.settings = settings
        self.rules = selected_rules(settings.effective_select(), settings.ignore)
        self.unsafe_fixes = settings.unsafe_fixes if unsafe_fixes is None else unsafe_fixes
        self._fix_enabled: dict[str, bool] = {}
        #: the results cache (project/results.py), set by a check run that may reuse earlier results
        self.results = None
        self._ignored_in: dict[str, tuple[str, ...]] = {}

    # -- contexts ----------------------------------------------------------------------------
    def make_context(self, state: FileState) -> FileContext:
        """Parse the current text of ``state``; raises SyntaxError/ValueError on bad input."""
        assert state.source is not None and state.text is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes in checked code
            tree = ast.parse(state.text, filename=state.display)
        module, is_pkg = self.project.module_of(state.relpath)
        src = state.source if state.text == state.source.text else state.source.with_text(state.text)
        return FileContext(
            src,
            tree,
            display_path=state.display,
            module=module,
            is_package=is_pkg,
            project=self.project,
            settings=self.settings,
            is_test=state.is_test,
        )

    def load(self, path: str, display: str | None = None, data: bytes | None = None) -> FileState:
        """The file at ``path``; with ``data``, those bytes as its content (an editor's buffer, stdin),
        which the project analysis then reads instead of the file on disk."""
        relpath = self.project.relpath(path)
        display = display or path
        is_test = self.project.is_test_file(relpath)
        limit = self.settings.max_file_size
        if limit:  # a file over max-file-size is not read: one AFY001 instead of a long analysis
            try:
                size = len(data) if data is not None else os.path.getsize(path)
            except OSError:
                size = 0
            if size > limit:
                diag = Diagnostic(PARSE_ERROR, too_large_message(size, limit), display, 1, 0, 1, 0)
                return FileState(relpath, display, None, load_error=diag, is_test=is_test)
        try:
            src = SourceFile.read(path) if data is None else SourceFile.from_bytes(path, data)
        except DecodeError as exc:  # reported as AFY001 for this file; the other files go on
            diag = Diagnostic(PARSE_ERROR, f"cannot parse: {exc}", display, 1, 0, 1, 0)
            return FileState(relpath, display, None, load_error=diag, is_test=is_test)
        except SourceError as exc:
            return FileState(relpath, display, None, errors=[f"{display}: {exc}"], is_test=is_test)
        if data is not None:
            self.project.set_overlay(relpath, src.text)
        return FileState(relpath, display, src, src.text, is_test=is_test)

    # -- checking ----------------------------------------------------------------------------
    def diagnostics(self, ctx: FileContext, rules: list[Rule] | None = None, noqa: bool = True) -> list[Diagnostic]:
        diags = run_rules(ctx, self.rules if rules is None else rules, migration_gate)
        if diags and self.settings.per_file_ignores:
            ignored = self.ignored_in(self.project.relpath(ctx.source.path))
            if ignored:
                diags = [d for d in diags if not d.code.startswith(ignored)]
        if noqa and diags:
            text = ctx.source.text
            diags = filter_noqa(text, physical_lines(text), diags)
        return diags

    def check(self, state: FileState) -> list[Diagnostic]:
        if state.source is None:
            return [state.load_error] if state.load_error is not None else []
        results = self.results
        if results is None:
            return self._check(state)
        found = results.lookup(state)
        if found is not None:
            return found
        return self.check_again(state)

    def check_again(self, state: FileState) -> list[Diagnostic]:
        """Check a file whose earlier results (if any) no longer hold, recording what its rules read."""
        results = self.results
        if results is None or state.source is None:
            return self.check(state)
        with self.project.tracking() as deps:
            diags = self._check(state)
        results.record(state, diags, deps)
        return diags

    def check_all(self, states: list[FileState]) -> list[list[Diagnostic]]:
        """The diagnostics of each file: earlier results that still hold, the others checked, in worker
        processes too on a large cold project (``project/parallel.py``)."""
        from asyncify_lint.project import parallel

        out: list[list[Diagnostic] | None] = [None] * len(states)
        todo = []
        for i, st in enumerate(states):
            found = self.results.lookup(st) if self.results is not None and st.source is not None else None
            if found is not None:
                out[i] = found
            else:
                todo.append(i)
        for i, diags in parallel.check(self, states, todo).items():
            out[i] = diags
        for i in todo:
            if out[i] is None:
                out[i] = self.check_again(states[i])
        return out  # type: ignore[return-value]

    def _check(self, state: FileState) -> list[Diagnostic]:
        ctx = self._shared_context(state)
        if ctx is None:
            try:
                ctx = self.make_context(state)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                return [parse_error_diagnostic(state.display, state.source, exc)]
        try:
            diags = self.diagnostics(ctx)
        except InternalError as exc:
            state.errors.append(str(exc))
            return []
        for d in diags:
            d.path = state.display
        return diags

    def _shared_context(self, state: FileState) -> FileContext | None:
        """The project's context of this file, parsed once for the rules and for every other module's
        analysis that consults it (None when the text differs from the file's, or it does not parse)."""
        if state.text != state.source.text or state.relpath.startswith(".."):  # type: ignore[union-attr]
            return None
        if state.relpath in self.project._overlay:
            return None
        ctx = self.project.context(state.relpath)
        if ctx is None or ctx.source.text != state.text:
            return None
        ctx.display_path = state.display
        return ctx

    def ignored_in(self, relpath: str) -> tuple[str, ...]:
        """The code prefixes ``per-file-ignores`` ignores in the file at ``relpath``."""
        found = self._ignored_in.get(relpath)
        if found is None:
            found = self._ignored_in[relpath] = tuple(
                code for pattern, codes in self.settings.per_file_ignores.items()
                if matches_any(relpath, (pattern,)) for code in codes)
        return found

    def fix_enabled(self, code: str) -> bool:
        """``fixable`` / ``unfixable`` allow fixes of ``code`` (the longest matching prefix wins)."""
        found = self._fix_enabled.get(code)
        if found is None:
            fixable = ["AFY"] if self.settings.fixable is None else self.settings.fixable
            found = self._fix_enabled[code] = is_selected(code, fixable, self.settings.unfixable)
        return found

    def fixable(self, d: Diagnostic, state: FileState, unsafe: bool | None = None) -> bool:
        """Whether ``--fix`` applies the fix of ``d``; ``unsafe`` stands for the run's ``--unsafe-fixes``."""
        return (
            not state.is_test
            and state.relpath.endswith(".py")
            and self.fix_enabled(d.code)
            and d.fix_applies(self.unsafe_fixes if unsafe is None else unsafe)
        )

    def fix_edits(self, state: FileState, fix: Fix) -> list[Edit]:
        """The edits of one fix of a diagnostic of ``state``'s current text, with the import lines it
        needs, in text order (an import line first where both insert at one offset)."""
        ctx = self._shared_context(state) or self._fix_context(state)
        return sorted(import_edits(ctx, fix.imports) + fix.edits, key=lambda e: (e.start, e.end))

    # -- fixing ------------------------------------------------------------------------------
    def fix_rules(self) -> list[Rule]:
        return sorted((r for r in self.rules if r.handlers), key=fix_sort_key)

    def fix(self, state: FileState) -> bool:
        """Apply the selected rules' fixes to ``state.text``, one rule at a time; True if it changed."""
        if state.source is None or state.is_test or not state.relpath.endswith(".py"):
            return False
        before = state.text
        rules = self.fix_rules()
        for _cycle in range(MAX_CYCLES if len(rules) > 1 else 1):
            changed = False
            for rule in rules:
                changed |= self._fix_rule(state, rule)
            if not changed:
                break
        state.fix_context = None  # reused across this file's rules only: a run keeps no tree per file
        if state.text != before:
            if self.settings.strategy != "bridge":  # the bridge's twins may use them again: after it
                self.drop_unused_imports(state)
            self.project.set_overlay(state.relpath, state.text)
            return True
        return False

    def kept_sync_conflicts(self, states: list[FileState]) -> list[tuple[FileState, str]]:
        """Where the fixes disagree with a suppression: a function the user keeps sync with a ``# noqa``
        on a conversion rule (AFY301-303, AFY402) calls, after the fixes, a coroutine function without
        awaiting it, so the call would do nothing. One line each; ``# noqa: AFY401`` on the call accepts
        it."""
        rule = get_rule("AFY401")
        out: list[tuple[FileState, str]] = []
        if rule is None:
            return out
        for st in states:
            if not st.changed or st.is_test or st.source is None:
                continue
            self.project.set_overlay(st.relpath, st.text)
            try:
                ctx = self._fix_context(st)
                diags = self.diagnostics(ctx, [rule])
            except (SyntaxError, ValueError, RecursionError, MemoryError, InternalError):
                continue
            calls = {(n.lineno, n.col_offset): n for n in ctx.nodes_of(ast.Call)}
            for d in diags:
                call = calls.get((d.line, d.col))
                func = ctx.enclosing_function(call) if call is not None else None
                if not isinstance(func, ast.FunctionDef):
                    continue
                kept = suppressed_codes(st.text, func.lineno, _CONVERSIONS)  # type: ignore[arg-type]
                if kept:
                    out.append((st, f"{st.display}:{d.line}: `{ctx.segment(call.func)}()` would return a coroutine "  # type: ignore[union-attr]
                                    f"that nothing awaits in `{func.name}`, which `# noqa: {kept[0]}` keeps sync"))
        return out

    def drop_unused_imports(self, state: FileState) -> None:
        """Remove the imports the fixes left unused (used in the file as read, unused now)."""
        if not state.changed or state.is_test:
            return
        assert state.source is not None and state.text is not None
        module, _ = self.project.module_of(state.relpath)
        new = prune_unused_imports(state.source.text, state.text, project=self.project, relpath=state.relpath,
                                   module=module)
        if new == state.text:
            return
        error = _compile_error(new, state.display)
        if error is not None:
            state.errors.append(f"{state.display}: internal error: removing the imports the fixes left unused "
                                f"produced code that does not compile ({error}); they were kept")
            return
        state.text = new

    def _fix_context(self, state: FileState) -> FileContext:
        """A context of the file's current text; reused from the previous rule while neither this
        file nor any other file of the project changed (its memoised facts are then still true)."""
        cached = state.fix_context
        if cached is not None and cached[0] is state.text and cached[1] == self.project.generation:
            return cached[2]
        ctx = self.make_context(state)
        state.fix_context = (state.text, self.project.generation, ctx)
        return ctx

    def _fix_rule(self, state: FileState, rule: Rule) -> bool:
        changed = False
        for _ in range(MAX_ITERATIONS):
            self.project.set_overlay(state.relpath, state.text)  # before parsing: it may bump the generation
            try:
                ctx = self._fix_context(state)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return changed
            try:
                diags = self.diagnostics(ctx, [rule])
            except InternalError as exc:
                state.errors.append(str(exc))
                return changed
            fixes = [d.fix for d in diags if d.fix is not None and self.fixable(d, state)]
            if not fixes:
                return changed
            chosen = choose(fixes)
            new = apply_fixes(ctx, chosen)
            if new == state.text:
                return changed
            error = _compile_error(new, state.display)
            if error is not None:
                state.errors.append(f"{state.display}: internal error: the fix of {rule.code} produced code that "
                                    f"does not compile ({error}); that fix was not applied")
                return changed
            state.text = new
            state.fixed[rule.code] += len(chosen)
            changed = True
        return changed


def _compile_error(text: str, display: str) -> str | None:
    """Why ``text`` does not compile (``invalid syntax, line 3``), or None when it does."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, display, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return f"{getattr(exc, 'msg', exc)}, line {getattr(exc, 'lineno', '?')}"
    return None


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for a whole run (the CLI is short-lived).

    A run keeps every parsed tree alive (each file is parsed once and consulted by the other modules'
    analysis); with the collector on, each generation-2 pass walks all of them again, which costs
    more than the analysis itself. Reference counting still frees everything that is not a cycle.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
