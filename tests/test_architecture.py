"""The layers of ARCHITECTURE.md, read from the source with ``ast``: the package has no import cycle, and
no module imports one of a higher layer.

Every ``import`` and ``from ... import`` of a module counts, wherever it is: at the top, inside a
function (an import made lazy for start-up time is still a dependency) and under ``if TYPE_CHECKING:``.
``from package import name`` imports ``package``, and ``package.name`` too when that is a module.
"""

from __future__ import annotations

import ast
import os
import textwrap

import pytest

import asyncify_lint

PACKAGE_DIR = os.path.dirname(os.path.abspath(asyncify_lint.__file__))
PACKAGE = "asyncify_lint"

#: the layers, lowest first ("The layers" in ARCHITECTURE.md): a module imports its own layer and lower ones
ENGINE, HELPERS, PROJECT, RULES, FRONT_ENDS = range(5)
LAYER_NAMES = ("engine", "helpers", "project", "rules", "runner and front ends")
#: the engine's modules outside engine/ (engine/runner is not the engine's: it runs the rules)
ENGINE_MODULES = frozenset({PACKAGE, f"{PACKAGE}.diagnostics", f"{PACKAGE}.registry", f"{PACKAGE}.config"})
#: (importer, imported) against the layers, each for a reason
ALLOWED = {
    # the registry loads the rules that register in it: it imports the rules package (empty) to list
    # them, then each rule module by its name
    (f"{PACKAGE}.registry", f"{PACKAGE}.rules"),
    # owed (ARCHITECTURE.md, "Known debts"): the project layer reaches the runner for `display_path`,
    # and for the types of the files the results cache keeps (`Linter`, `FileState`)
    (f"{PACKAGE}.project.approot", f"{PACKAGE}.engine.runner"),
    (f"{PACKAGE}.project.results", f"{PACKAGE}.engine.runner"),
}


def modules(package_dir: str) -> dict[str, str]:
    """Every module of the package in ``package_dir``: dotted name -> path."""
    top = os.path.dirname(package_dir)
    found = {}
    for directory, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        parts = os.path.relpath(directory, top).split(os.sep)
        for f in sorted(files):
            if f.endswith(".py"):
                found[".".join(parts + ([] if f == "__init__.py" else [f[:-3]]))] = os.path.join(directory, f)
    return found


def import_graph(package_dir: str) -> dict[str, set[str]]:
    """module -> the modules of the package it imports, anywhere in its text."""
    mods = modules(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        package = name if os.path.basename(path) == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                deps.update(m for m in [target, *(f"{target}.{a.name}" for a in node.names)] if m in mods)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """An import cycle in each strongly connected component of more than one module (a shortest one
    through its first module: ``[a, b, a]``)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found = []
    for component in components:
        start = min(component)
        came_from: dict[str, str] = {}
        queue = [start]
        while queue:  # breadth first, within the component, back to the start
            v = queue.pop(0)
            if start in graph[v]:
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                found.append([*reversed(path), start])
                break
            for w in sorted(graph[v] & component):
                if w not in came_from and w != start:
                    came_from[w] = v
                    queue.append(w)
    return sorted(found)


def layer(module: str) -> int:
    short = module[len(PACKAGE) + 1:]
    if module in ENGINE_MODULES or short == "engine" or (short.startswith("engine.") and short != "engine.runner"):
        return ENGINE
    for prefix, number in (("helpers", HELPERS), ("project", PROJECT), ("rules", RULES)):
        if short == prefix or short.startswith(prefix + "."):
            return number
    return FRONT_ENDS


def _arrows(cycle: list[str]) -> str:
    return " -> ".join(m.removeprefix(PACKAGE + ".") for m in cycle)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE_DIR)


def test_the_package_has_no_import_cycle(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(map(_arrows, found))


def test_no_module_imports_a_higher_layer(graph):
    wrong = [f"{m} ({LAYER_NAMES[layer(m)]}) imports {d} ({LAYER_NAMES[layer(d)]})"
             for m, deps in sorted(graph.items()) for d in sorted(deps)
             if layer(d) > layer(m) and (m, d) not in ALLOWED]
    assert not wrong, "\n".join(wrong)
    # an exception the code no longer needs is dropped from the list
    assert {(m, d) for m, d in ALLOWED if d in graph.get(m, ())} == ALLOWED


def test_the_layers_are_the_documented_ones(graph):
    expect = {
        "engine.context": ENGINE, "engine.checker": ENGINE, "engine.transaction": ENGINE, "config": ENGINE,
        "registry": ENGINE, "diagnostics": ENGINE, "helpers.sqla": HELPERS, "helpers.versions": HELPERS,
        "project": PROJECT, "project.view": PROJECT, "project.state": PROJECT, "rules.afy301_sync_endpoint": RULES,
        "engine.runner": FRONT_ENDS, "cli": FRONT_ENDS, "cli_common": FRONT_ENDS, "plan.render": FRONT_ENDS,
    }
    for short, number in expect.items():
        assert f"{PACKAGE}.{short}" in graph, short
        assert layer(f"{PACKAGE}.{short}") == number, short


def test_lazy_and_type_checking_imports_count(tmp_path):
    """The checks see the imports a module makes in a function and for type checking only."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "low.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from pkg.sub.high import High
            """,
        "sub/__init__.py": "",
        "sub/high.py": """
            def make():
                from ..low import helper
            """,
        "sub/mid.py": "from pkg.sub import high\n",
        "other.py": "import pkg.low\n",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(textwrap.dedent(text))
    graph = import_graph(str(pkg))
    assert graph == {
        "pkg": set(),
        "pkg.low": {"pkg.sub.high"},
        "pkg.sub": set(),
        "pkg.sub.high": {"pkg.low"},
        "pkg.sub.mid": {"pkg.sub", "pkg.sub.high"},
        "pkg.other": {"pkg.low"},
    }
    assert cycles(graph) == [["pkg.low", "pkg.sub.high", "pkg.low"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"d2"}, "d2": {"d"}}) == [
        ["a", "b", "c", "a"], ["d", "d2", "d"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
