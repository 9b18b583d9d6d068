"""The migration split into steps, each one reviewable diff that leaves the app consistent.

The fixes are run in memory, as ``--fix`` runs them, by a Linter that records where each fix it applies
lies: its *unit*, the top-level function or class of its file (or the file's module-level code). Units
that must change together are joined, from the project analysis of the code as it is:

* a call, ``Depends(...)``, thread hand-off or callback from one unit to a function of another (a
  function made a coroutine function needs its callers awaited in the same change; a session handed
  down a call chain changes type for every function on it);
* a name one unit reads that another unit binds (``SessionLocal`` read by ``get_db``, ``engine`` by a
  start-up handler, a type alias built on a dependency).

Each group of joined units is one step. A step with session work (the engine, the session factory and
everything that uses their sessions) is one step, however many files it spans: until all of it is async,
a sync caller would get a coroutine, or a sync function an ``AsyncSession``. Moving blocking calls off
the event loop (AFY1xx) in a group is a step of its own, after it: until then the calls run on the loop
as they did in the threadpool, correct but blocking (the tests a blocking-call detector fails are named
by AFY502).

The steps are checked before they are shown: run one after the other in memory, each from the text the
previous one left (as applying them to the files does), they must produce exactly what one full fix
produces. When they do not (two steps placing imports in another order, say), the steps that differ are
merged and the check runs again.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Callable

from asyncify_lint.cli import _impact_report, _test_states, collect_files, fix_all
from asyncify_lint.config import Settings
from asyncify_lint.diagnostics import Diagnostic
from asyncify_lint.engine.runner import FileState, Linter, display_path
from asyncify_lint.project import Project
from asyncify_lint.registry import get_rule

#: (relpath, name of a top-level def or class; "" for the module-level code)
Unit = tuple[str, str]
#: (unit, rule code) → whether a step fixes it
Allow = Callable[[Unit, str], bool]

#: the rules whose fixes move blocking calls off the event loop: a step after the migration of their code
OFFLOAD = "AFY1"
#: the rules whose fixes change the database layer (engine, sessions, queries, DDL, lazy loads)
DATABASE = "AFY2"


def unit_at(tree: ast.Module, line: int) -> str:
    """The unit holding ``line``: the name of the top-level def or class around it (decorators
    included), or "" for module-level code."""
    starts = [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", ())]) for s in tree.body]
    i = bisect.bisect_right(starts, line) - 1
    if i < 0:
        return ""
    stmt = tree.body[i]
    if line <= (stmt.end_lineno or stmt.lineno) and isinstance(
            stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return stmt.name
    return ""


class UnitLinter(Linter):
    """A Linter that applies only the fixes ``allow`` accepts, by unit and code (all when it is None),
    and records the units and codes of the fixes it applies."""

    def __init__(self, project: Project, settings: Settings, allow: Allow | None = None) -> None:
        super().__init__(project, settings)
        self.allow = allow
        self.fixed: dict[Unit, set[str]] = {}

    def fixable(self, d: Diagnostic, state: FileState) -> bool:
        if not super().fixable(d, state):
            return False
        cached = state.fix_context  # the context the diagnostic was found in, when fixing
        if cached is not None and cached[0] is state.text:
            tree = cached[2].tree
        else:
            tree = ast.parse(state.text or "")
        unit = (state.relpath, unit_at(tree, d.line))
        if self.allow is not None and not self.allow(unit, d.code):
            return False
        self.fixed.setdefault(unit, set()).add(d.code)
        return True


@dataclass
class Run:
    """One in-memory run of the fixes from some texts of the project's files."""

    linter: UnitLinter
    states: list[FileState]
    before: dict[str, str]  # relpath -> the text the run started from
    #: the test-impact reports on the code before and after the run: AFY501 ("before" rules) and AFY502
    impact_before: list[Diagnostic] = field(default_factory=list)
    impact_after: list[Diagnostic] = field(default_factory=list)

    @property
    def texts(self) -> dict[str, str]:
        return {st.relpath: st.text for st in self.states if st.text is not None}


def simulate(root: str, settings: Settings, files: list[str], texts: dict[str, str] | None = None,
             allow: Allow | None = None, only: set[str] | None = None, impact: bool = True) -> Run:
    """Run the fixes ``allow`` accepts on ``files`` (those of them in ``only``, relpaths, when given), in
    memory, starting from ``texts`` (relpath → text; the files on disk for the others), in a project of
    its own."""
    project = Project(root, settings)
    linter = UnitLinter(project, settings, allow)
    states = []
    for f in files:
        st = linter.load(f, display_path(f))
        text = (texts or {}).get(st.relpath)
        if st.source is not None and text is not None and text != st.source.text:
            st.source = st.source.with_text(text)
            st.text = text
            project.set_overlay(st.relpath, text)
        states.append(st)
    run = Run(linter, states, {st.relpath: st.text for st in states if st.text is not None})
    tests = _test_states(linter, states) if impact else []
    if impact:
        run.impact_before = _impact_report(linter, tests, "before") + _impact_report(linter, tests, "after")
    fix_all(linter, [st for st in states if only is None or st.relpath in only])
    if impact:
        run.impact_after = _impact_report(linter, tests, "before") + _impact_report(linter, tests, "after")
    return run


# -- which units change together ---------------------------------------------------------------------
def couplings(project: Project, units: set[Unit]) -> list[tuple[Unit, Unit]]:
    """Pairs of changed units that must change in the same step (see the module's docstring)."""
    trees: dict[str, ast.Module | None] = {}

    def tree(rel: str) -> ast.Module | None:
        if rel not in trees:
            ctx = project.context(rel)
            trees[rel] = ctx.tree if ctx is not None else None
        return trees[rel]

    def unit(rel: str, line: int) -> Unit | None:
        t = tree(rel)
        return (rel, unit_at(t, line)) if t is not None else None

    pairs: list[tuple[Unit, Unit]] = []
    graph = project.graph
    files = sorted({rel for rel, _ in units})
    for edges in (*graph.callers.values(), *graph.depends.values(), *graph.thread.values(),
                  *graph.callbacks.values()):
        for e in edges:
            if e.relpath not in files or graph.file_of[e.callee] not in files:
                continue
            a = unit(e.relpath, e.site.line)
            b = unit(graph.file_of[e.callee], graph.functions[e.callee].line)
            if a in units and b in units and a != b:
                pairs.append((a, b))  # type: ignore[arg-type]
    # names: what each changed unit binds, and where changed units read it
    bound: dict[str, Unit] = {}
    for rel in files:
        ctx = project.context(rel)
        if ctx is None or ctx.module is None:
            continue
        for name, b in ctx.module_scope.bindings.items():
            if b.kind != "import" and b.node is not None and (rel, unit_at(ctx.tree, b.node.lineno)) in units:
                bound[f"{ctx.module}.{name}"] = (rel, unit_at(ctx.tree, b.node.lineno))
    for rel in files:
        ctx = project.context(rel)
        if ctx is None:
            continue
        own = ctx.module_scope.bindings
        for stmt in ctx.tree.body:
            here = (rel, unit_at(ctx.tree, stmt.lineno))
            if here not in units:
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.Attribute):
                    qn = ctx.qualname(node)
                elif isinstance(node, ast.Name):
                    qn = ctx.qualname(node)
                    if qn is None and ctx.module and ctx.lookup(node.id, node) is own.get(node.id):
                        qn = f"{ctx.module}.{node.id}"  # a module-level name of this file
                else:
                    continue
                other = bound.get(qn) if qn else None
                if other is not None and other != here:
                    pairs.append((here, other))
    return pairs


def components(units: set[Unit], pairs: list[tuple[Unit, Unit]]) -> list[set[Unit]]:
    """The groups of units joined by ``pairs`` (union-find), in no particular order."""
    parent = {u: u for u in units}

    def find(u: Unit) -> Unit:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[Unit, set[Unit]] = {}
    for u in units:
        groups.setdefault(find(u), set()).add(u)
    return list(groups.values())


# -- the steps --------------------------------------------------------------------------------------
@dataclass
class FileChange:
    relpath: str
    display: str
    added: int
    removed: int


@dataclass
class TestRisk:
    diagnostic: Diagnostic
    #: AFY501: whether `--fix --strategy bridge` keeps the use working; AFY502: the step that moves the
    #: blocking call off the loop (None: none does, it is left for a human)
    bridged: bool = False
    until: int | None = None


@dataclass
class Step:
    units: set[Unit]
    offload: bool | None  # True: only the AFY1xx fixes; False: all others; None: every fix
    number: int = 0
    codes: list[str] = field(default_factory=list)  # the rules whose fixes it applies
    fixed: dict[Unit, set[str]] = field(default_factory=dict)  # unit -> the rules whose fixes it applies there
    files: list[FileChange] = field(default_factory=list)
    tests: list[TestRisk] = field(default_factory=list)
    #: the step whose fixes this one builds on (an offload step: the migration of its code)
    after: Step | None = None
    #: independent groups of changes it holds besides its own, because they are in its files
    joined: int = 0

    def allows(self, unit: Unit, code: str) -> bool:
        if unit not in self.units:
            return False
        return self.offload is None or self.offload == code.startswith(OFFLOAD)

    @property
    def database(self) -> bool:
        return any(c.startswith(DATABASE) for c in self.codes)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)


def diff_counts(old: str, new: str) -> tuple[int, int]:
    """Lines added and removed by the change from ``old`` to ``new``, as a unified diff counts them."""
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
            None, old.splitlines(), new.splitlines(), autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def rule_label(code: str) -> str:
    rule = get_rule(code)
    return f"{code} {rule.name}" if rule is not None else code


@dataclass
class StepPlan:
    """The steps, each with the in-memory run that applies it to what the previous ones left."""

    root: str
    settings: Settings
    files: list[str]
    full: Run  # one --fix of everything
    steps: list[Step]
    runs: list[Run]  # runs[i] applies steps[i]
    merged: int = 0  # steps merged because applying them one by one differed from the full fix


def _order(groups: list[set[Unit]], fixed: dict[Unit, set[str]]) -> list[Step]:
    """One step per group (two when it has blocking calls to move off the loop, the offload after);
    the groups with database work first, then by their first file and unit. A group whose files an
    earlier group changes too joins it, so that a file is reviewed in one step (joining independent
    groups keeps a step consistent)."""
    def codes(group: set[Unit]) -> set[str]:
        return {c for u in group for c in fixed.get(u, ())}

    def key(group: set[Unit]) -> tuple:
        return (not any(c.startswith(DATABASE) for c in codes(group)), min(group))

    kept: list[tuple[set[Unit], list[int]]] = []  # a group, and how many others joined it
    for group in sorted(groups, key=key):
        files = {rel for rel, _ in group}
        into = next((k for k in kept if files <= {rel for rel, _ in k[0]}), None)
        if into is not None:  # its files are another step's: reviewed once, in that step
            into[0].update(group)
            into[1][0] += 1
        else:
            kept.append((group, [0]))
    steps: list[Step] = []
    for group, (joined,) in kept:
        cs = codes(group)
        offload = {c for c in cs if c.startswith(OFFLOAD)}
        if offload and offload != cs:
            main = Step(set(group), False, joined=joined)
            steps += [main, Step(set(group), True, after=main)]
        else:
            steps.append(Step(set(group), True if offload else None, joined=joined))
    return steps


def plan_steps(root: str, paths: list[str], settings: Settings) -> StepPlan:
    settings = dataclasses.replace(settings, strategy="migrate")  # the bridge applies to a whole --fix
    base = Project(root, settings)
    files = collect_files(paths, base, settings)
    full = simulate(root, settings, files, impact=False)
    changed = set(full.linter.fixed)
    steps = _order(components(changed, couplings(base, changed)), full.linter.fixed)
    merged = 0
    while True:
        runs: list[Run] = []
        texts = full.before
        for step in steps:
            run = simulate(root, settings, files, texts, step.allows, {rel for rel, _ in step.units})
            runs.append(run)
            texts = run.texts
        final = full.texts
        differs = sorted(rel for rel in final if texts.get(rel) != final[rel])
        if not differs or len(steps) <= 1:
            break
        # merge every step that changed the first file that differs into the first of them (all of
        # them when one step alone makes the difference: one step of every unit is the full fix)
        rel = differs[0]
        touching = [i for i, run in enumerate(runs) if any(st.relpath == rel and st.changed for st in run.states)]
        if len(touching) < 2:
            touching = list(range(len(steps)))
        first = steps[touching[0]]
        for i in touching[1:]:
            first.units |= steps[i].units
        first.offload = None
        first.after = None
        steps = [s for i, s in enumerate(steps) if i not in touching[1:]]
        for s in steps:
            if s.after is not None and s.after not in steps:
                s.after = first
        merged += len(touching) - 1
    steps, runs = _describe(steps, runs)
    return StepPlan(root, settings, files, full, steps, runs, merged)


def _describe(steps: list[Step], runs: list[Run]) -> tuple[list[Step], list[Run]]:
    """Number the steps that change something, with their rules, files and tests at risk."""
    kept: list[tuple[Step, Run]] = []
    for step, run in zip(steps, runs):
        files = []
        for st in run.states:
            if st.text is not None and st.text != run.before.get(st.relpath):
                added, removed = diff_counts(run.before[st.relpath], st.text)
                files.append(FileChange(st.relpath, st.display, added, removed))
        if not files:
            continue
        step.number = len(kept) + 1
        step.fixed = run.linter.fixed
        step.codes = sorted({c for cs in run.linter.fixed.values() for c in cs})
        step.files = files
        kept.append((step, run))
    for step, _run in kept:
        if step.after is not None and not step.after.number:
            step.after = None
    for i, (step, run) in enumerate(kept):
        for d in risks(run):
            until = None
            if d.code == "AFY502":  # the later step that moves the blocking call off the loop, if any
                until = next((later.number for later, lrun in kept[i + 1:]
                              if _key(d) in _keys(lrun.impact_before) - _keys(lrun.impact_after)), None)
            step.tests.append(TestRisk(d, until=until))
    return [s for s, _ in kept], [r for _, r in kept]


def risks(run: Run) -> list[Diagnostic]:
    """The tests a run puts at risk: the uses of what it changes (AFY501 findings it resolves) and the
    requests that block the event loop once it is applied (AFY502 findings it adds)."""
    gone = _keys(run.impact_before) - _keys(run.impact_after)
    new = _keys(run.impact_after) - _keys(run.impact_before)
    return [d for d in run.impact_before if d.code == "AFY501" and _key(d) in gone] + [
        d for d in run.impact_after if d.code == "AFY502" and _key(d) in new]


def _key(d: Diagnostic) -> tuple:
    return (d.path, d.line, d.col, d.code)


def _keys(diags: list[Diagnostic]) -> set[tuple]:
    return {_key(d) for d in diags}
