"""What the plan says, gathered from the engine: the steps (steps.py), the call graph drawn by the plan
(diagram.py), the functions that become async, what is left for a human, and the packages to add."""

from __future__ import annotations

import ast
import dataclasses
import os
from dataclasses import dataclass, field

import asyncify_lint.plan.diagram as diagrams
from asyncify_lint.bridge import bridge
from asyncify_lint.cli import fix_all
from asyncify_lint.config import Settings
from asyncify_lint.diagnostics import Applicability, Diagnostic
from asyncify_lint.engine.runner import Linter, display_path
from asyncify_lint.helpers import fastapi, sqla
from asyncify_lint.helpers.versions import declared, normalize_name, search_dirs
from asyncify_lint.plan.steps import DATABASE, Step, StepPlan, Unit, plan_steps, unit_at
from asyncify_lint.project import Project
from asyncify_lint.project.callgraph import CallGraph, display

ROLE_RULES = {fastapi.ENDPOINT: "AFY301", fastapi.DEPENDENCY: "AFY302", fastapi.EVENT_HANDLER: "AFY303",
              fastapi.EXCEPTION_HANDLER: "AFY303", fastapi.LIFESPAN: "AFY303"}
ROLES = list(ROLE_RULES)  # in the order the plan counts them
OTHER = "other function"


def _rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else len(ROLES)


@dataclass
class Function:
    """A function the migration makes async (or must, and the plan does not)."""

    name: str  # as the diagnostics show it: `get_user`, `ProductRepository.get`
    module: str
    path: str
    line: int
    why: str
    role: str | None  # endpoint, dependency...: its first FastAPI role
    left: str | None = None  # why the plan does not make it async
    layer: int = 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Manual:
    diagnostic: Diagnostic
    step: int | None  # the step whose code it is in


@dataclass
class Package:
    names: list[str]  # the package, or the ones to choose from
    why: str
    declared: str | None = None  # where the project already declares it


@dataclass
class Plan:
    name: str
    root: str
    steps: StepPlan
    diagram: diagrams.Diagram
    functions: list[Function]
    manual: list[Manual]
    packages: list[Package]
    #: unsafe fixes left out (the plan follows --unsafe-fixes, as --fix does)
    hidden_unsafe: int = 0
    #: files outside the ones planned that call a function the plan makes async (left unchanged by it)
    outside: list[str] = field(default_factory=list)
    titles: dict[int, tuple[str, str]] = field(default_factory=dict)  # step number -> (title, why)

    @property
    def added(self) -> int:
        return sum(s.added for s in self.steps.steps)

    @property
    def removed(self) -> int:
        return sum(s.removed for s in self.steps.steps)

    @property
    def files(self) -> list[str]:
        return sorted({f.display for s in self.steps.steps for f in s.files})

    @property
    def tests(self) -> int:
        return len({(t.diagnostic.path, t.diagnostic.line, t.diagnostic.col) for s in self.steps.steps
                    for t in s.tests})


def build(root: str, paths: list[str], settings: Settings) -> Plan:
    steps = plan_steps(root, paths, settings)
    base = Project(root, steps.settings)  # the code as it is
    graph = base.graph
    final = steps.full.linter.project.graph  # the code after the full fix
    made_async = {q for q, f in graph.functions.items() if not f.is_async and not graph.is_test(q)
                  and q in final.functions and final.functions[q].is_async}
    within = {base.relpath(f) for f in steps.files}
    diagram = diagrams.build(graph, made_async, within)
    units = _function_units(base, graph)
    layer_of = {q: diagram.nodes[nid].layer for q, nid in diagram.node_of.items()}
    _review_order(steps, units, layer_of)
    _bridged(steps)
    manual, hidden = _left(steps)
    plan = Plan(
        name=os.path.basename(os.path.abspath(root)),
        root=root,
        steps=steps,
        diagram=diagram,
        functions=_functions(graph, made_async, layer_of, within, steps.full.linter.unsafe_fixes),
        manual=manual,
        packages=_packages(base, steps),
        hidden_unsafe=hidden,
    )
    for step in steps.steps:
        plan.titles[step.number] = _title(step, units, made_async, graph)
    plan.outside = sorted({display_path(os.path.join(base.root, e.relpath))
                           for q in made_async if graph.file_of[q] in within
                           for e in (*graph.callers.get(q, ()), *graph.depends.get(q, ()))
                           if e.relpath not in within and not graph.summaries[e.relpath].is_test})
    return plan


def _function_units(project: Project, graph: CallGraph) -> dict[Unit, list[str]]:
    """unit → the project functions (qualnames) in it."""
    out: dict[Unit, list[str]] = {}
    for q, rel in graph.file_of.items():
        ctx = project.context(rel)
        if ctx is not None and not graph.is_test(q):
            out.setdefault((rel, unit_at(ctx.tree, graph.functions[q].line)), []).append(q)
    return out


def _functions(graph: CallGraph, made_async: set[str], layer_of: dict[str, int], within: set[str],
               unsafe: bool) -> list[Function]:
    """The must-become-async set, from the endpoints down to session I/O: what the fixes make async, and
    what the analysis says must become async that they do not (with the reason)."""
    out = []
    for q, f in graph.functions.items():
        if graph.is_test(q) or graph.file_of[q] not in within:
            continue
        if not (q in made_async or graph.becomes_async(q) or q in graph.blocked):
            continue
        roles = sorted(graph.roles.get(q, ()), key=_rank)
        role = roles[0] if roles else None
        if q in graph.must_async:
            why = f"{graph.must_async[q]} (AFY402)"
        else:
            why = f"{role} ({ROLE_RULES.get(role, 'AFY3xx')})" if role else "it awaits session I/O"
        left = None
        if q in graph.blocked:
            left = graph.blocked[q]
        elif q not in made_async:
            left = "no fix of this plan makes it async" + ("" if unsafe else " (its fix may be unsafe: --unsafe-fixes)")
        module = graph.module_of[q] or ""
        out.append(Function(display(q, module, root=True), module, graph.file_of[q], f.line, why, role, left,
                            layer_of.get(q, 0)))
    out.sort(key=lambda fn: (fn.layer, fn.module, fn.path, fn.line))
    return out


def _review_order(steps: StepPlan, units: dict[Unit, list[str]], layer_of: dict[str, int]) -> None:
    """Each step's files bottom-up: the engine and session setup first, then the deepest code (session
    I/O, repositories), then services, dependencies and the endpoints last."""
    depth: dict[str, int] = {}
    for (rel, _name), qs in units.items():
        for q in qs:
            depth[rel] = max(depth.get(rel, 0), layer_of.get(q, 0))
    for step in steps.steps:
        setup = {rel for (rel, name), codes in step.fixed.items() if name == "" and "AFY201" in codes}
        step.files.sort(key=lambda f: (f.relpath not in setup, -depth.get(f.relpath, 0), f.relpath))


def _left(steps: StepPlan) -> tuple[list[Manual], int]:
    """What the full fix leaves in the app's code: the diagnostics with no fix, or one that does not apply
    (each with the step whose code it is in), and the number of unsafe fixes the plan leaves out
    (without --unsafe-fixes). The tests are never rewritten: what they need is in the tests at risk."""
    full = steps.full
    linter = full.linter
    step_of: dict[Unit, int] = {}
    for step in steps.steps:
        for u in step.units:
            step_of.setdefault(u, step.number)
    manual: list[Manual] = []
    hidden = 0
    for st in full.states:
        if st.is_test or st.source is None:
            if st.load_error is not None:
                manual.append(Manual(st.load_error, None))
            continue
        diags = []
        for d in linter.check(st):
            if d.code.startswith("AFY5") or linter.fixable(d, st):
                continue
            if not linter.unsafe_fixes and d.fix is not None and d.fix.applicability is Applicability.UNSAFE:
                hidden += 1
            else:
                diags.append(d)
        if not diags:
            continue
        try:
            tree: ast.Module | None = ast.parse(st.text or "")
        except (SyntaxError, ValueError):
            tree = None
        for d in diags:
            manual.append(Manual(d, step_of.get((st.relpath, unit_at(tree, d.line))) if tree else None))
    manual.sort(key=lambda m: m.diagnostic.sort_key())
    return manual, hidden


def _packages(project: Project, steps: StepPlan) -> list[Package]:
    """``sqlalchemy[asyncio]`` and the async driver of each engine's URL, when the plan migrates one."""
    if not any(c.startswith(DATABASE) for s in steps.steps for c in s.codes):
        return []
    known: dict[str, str] = {}  # normalised name -> the file declaring it
    for directory in search_dirs(project.root):
        for name, specs in declared(directory).items():
            known.setdefault(normalize_name(name), specs[0][1])
    out = [Package(["sqlalchemy[asyncio]"], "`AsyncEngine` and `AsyncSession` run on greenlet, which SQLAlchemy "
                   "2.1 no longer installs by itself", known.get("greenlet"))]
    ctx = next((c for c in (project.context(rel) for rel in project.files if rel.endswith(".py")) if c), None)
    engines = sqla.project_engine_urls(ctx) if ctx is not None else []
    drivers: dict[tuple[str, ...], list[str]] = {}
    for _key, where, info in engines:
        target = info.target
        if target is not None and target in sqla.DRIVER_PACKAGES:
            drivers.setdefault((sqla.DRIVER_PACKAGES[target],), []).append(f"`{target}`, the engine in `{where}`")
        else:
            options = tuple(dict.fromkeys(sqla.DRIVER_PACKAGES[t] for t in sqla.driver_map(ctx).values()))  # type: ignore[arg-type]
            given = info.problem or "its URL is given at run time"
            drivers.setdefault(options, []).append(
                f"the engine in `{where}`: the driver of the database its URL names ({given})")
    for names, why in drivers.items():
        found = [known[normalize_name(n)] for n in names if normalize_name(n) in known]
        out.append(Package(list(names), "; ".join(why), found[0] if found else None))
    return out


def _bridged(steps: StepPlan) -> None:
    """Mark the AFY501 tests at risk that ``--fix --strategy bridge`` keeps working."""
    risks = [t for s in steps.steps for t in s.tests if t.diagnostic.code == "AFY501"]
    if not risks:
        return
    settings = dataclasses.replace(steps.settings, strategy="bridge")
    project = Project(steps.root, settings)
    linter = Linter(project, settings)
    states = [linter.load(f, display_path(f)) for f in steps.files]
    fix_all(linter, states)
    try:
        covered = bridge(linter, states).covered
    except Exception:  # the bridge's own failures are --fix's to report; here nothing is covered
        covered = set()
    relpaths = {st.display: st.relpath for st in states}
    for t in risks:
        d = t.diagnostic
        t.bridged = (relpaths.get(d.path, d.path), d.line, d.col) in covered


def _title(step: Step, units: dict[Unit, list[str]], made_async: set[str], graph: CallGraph) -> tuple[str, str]:
    """A step's title and why its changes go together."""
    title, why = _title_of(step, units, made_async, graph)
    if step.joined:
        why += (f" It also holds {plural(step.joined, 'independent change')} in the same files, so that each "
                "file is reviewed once.")
    return title, why


def _title_of(step: Step, units: dict[Unit, list[str]], made_async: set[str], graph: CallGraph) -> tuple[str, str]:
    if step.offload:
        made = f"Step {step.after.number} makes" if step.after else "The migration made"
        return (f"Move blocking calls off the event loop ({', '.join(step.codes)})",
                f"{made} async the code that calls them: each call moves to a worker thread. Until this step "
                "they run on the event loop, as correct as before but blocking every other request while they "
                "run (the tests a blocking-call detector fails are named as AFY502 in the tests at risk).")
    functions = [q for u in sorted(step.units) for q in units.get(u, ()) if q in made_async]
    roles: dict[str, int] = {}
    for q in functions:
        role = min(graph.roles.get(q, ()), key=_rank, default=OTHER)
        roles[role] = roles.get(role, 0) + 1
    kinds = count_roles(roles)
    if step.database:
        engines = sorted({rel for (rel, name), codes in step.fixed.items() if name == "" and "AFY201" in codes})
        where = f"the engine in {', '.join(f'`{e}`' for e in engines)}" if engines else "session work"
        return (f"Async database access: {where}" + (f", and {kinds} that use it" if kinds else ""),
                "One step: these functions share sessions, or call one another. Once the engine is async, every "
                "function that uses one of its sessions awaits it, and every caller of a function made async "
                "awaits it, in the same change; a part of it alone would hand a coroutine to sync code, or an "
                "`AsyncSession` to a sync function.")
    names = [f"`{display(q, graph.module_of[q], root=True)}`" for q in functions]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (f"Without session work: {shown or ', '.join(sorted({f'`{f.display}`' for f in step.files}))}",
            "Independent of the other steps: nothing in it calls, or reads a name of, code another step changes.")


def plural(n: int, word: str) -> str:
    """``1 dependency``, ``3 dependencies``, ``2 fixes``, ``4 steps``."""
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}es" if word.endswith(("s", "x", "ch", "sh")) else f"{n} {word}s"


def count_roles(roles: dict[str, int]) -> str:
    """``12 endpoints, 3 dependencies and 14 other functions``."""
    parts = [plural(n, r) for r, n in sorted(roles.items(), key=lambda rn: (rn[0] == OTHER, _rank(rn[0])))]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else "".join(parts)


