"""asyncify-lint's cold, warm and incremental runs side by side with ruff and flake8-async.

    python benchmarks/bench_incremental.py                          # generated 200k lines + the stdlib, 3 rounds
    python benchmarks/bench_incremental.py --quick                  # generated 20k lines, 1 round
    python benchmarks/bench_incremental.py --corpus stdlib --rounds 1 --json stdlib.json
    python benchmarks/bench_incremental.py --corpus path/to/app     # any directory (repeatable)

Each corpus is copied to a temporary directory first (the edits below never touch the original), and
everything is measured there, in one run and one process tree, one thing at a time:

* **floor**: read + ``ast.parse`` of every ``.py`` file, in this process (``time.perf_counter``): the
  least any checker built on Python's ``ast`` pays for these files;
* **ruff cold**: ``ruff check --select ASYNC --no-cache``; **ruff warm**: the same with its cache
  (``--cache-dir`` in the temporary directory), a next run after a first one that filled it;
* **flake8 cold**: ``flake8 --select ASYNC -j auto`` (the flake8-async plugin; flake8's default jobs,
  one process per CPU; flake8 has no cache, and runs pycodestyle and pyflakes too: it calls every
  installed plugin and filters the findings by code afterwards, which is what a user pays).
  flake8-async parses and walks every file with libcst as well, which costs a few hundred times the
  floor, so by default flake8 checks an evenly spread sample of the files (every k-th in path order, k
  chosen for at most about ``--flake8-lines`` lines: 50,000 by default, 5,000 with ``--quick``; 0: all
  of them): its ratio is to the floor of the same files (timed file by file within the floor pass),
  and its seconds for the whole corpus are estimated as that ratio times the whole floor (its work is
  per file: nothing in it grows with the size of the project);
* **asyncify-lint** (``python -m asyncify_lint DIR`` from this checkout, default rules and jobs, its
  summary cache in the temporary directory through ``ASYNCIFY_LINT_CACHE_DIR``): *cold*, the cache
  empty; *warm*, nothing changed since the run before; *warm after a one-line edit*,
  ``_bench_edit_N = N`` appended to a different module each round; *warm after a colour change*, one
  ``def f(`` turned into ``async def f(``: the first undecorated module-level function (files in path
  order) that another file calls through an import, so that its callers' analysis changes too (the
  file is restored and the cache brought back up to date, untimed, after each round); and *one file*,
  ``python -m asyncify_lint FILE`` on a file of median size, warm.

The floor and the three cold runs are interleaved round by round (floor, ruff, ruff warm, flake8,
asyncify-lint cold), then the asyncify-lint warm runs follow. Every subprocess is timed by the wall
clock around ``subprocess.run`` (interpreter start-up included: what a user waits for), ``--rounds``
times; the median is reported. Its peak RSS is that of its largest process (``/usr/bin/time -f %M``,
else ``os.wait4``; a parallel tool's processes are not added up). Exit codes 0 and 1 (findings) are
normal; any other is an error, reported in the table and by this script's exit code. The
subprocesses keep their bytecode in the temporary directory (``PYTHONPYCACHEPREFIX``, and
``PYTHONDONTWRITEBYTECODE`` lifted for them), and before the first round each tool runs once on a
one-file project, untimed, so no measured run compiles the tools' modules: a user's installed tools
have their bytecode.

Why ratios: on a shared machine the same command can take twice as long from one run to the next,
and on another machine everything scales together. A time divided by the floor of the same run (and
by the other tools' times of the same run) moves much less, and carries over; absolute seconds are
printed beside them to read the ratios, not to be compared across runs.

The copy leaves out the directories the three tools exclude by default (``venv``, ``build``,
``__pycache__``, ...), so every tool checks the same files the floor reads. The stdlib corpus is this
interpreter's ``sysconfig.get_paths()["stdlib"]`` without ``site-packages``, ``test``,
``lib2to3/tests``, ``idlelib/idle_test`` and any file ``ast.parse`` rejects, with an empty
``setup.cfg`` as its project root marker.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import fnmatch
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from gen_project import generate  # noqa: E402  (standard library only)

#: directories one of the tools leaves out by default (asyncify-lint's DEFAULT_EXCLUDE, ruff's and
#: flake8's defaults): not copied, so that all of them and the floor see the same files
TOOL_EXCLUDES = (
    ".git", ".hg", ".svn", ".bzr", "CVS", ".git-rewrite", ".tox", ".nox", ".venv", "venv", ".eggs",
    "*.egg-info", "*.egg", "__pycache__", "build", "dist", "_build", "buck-out", "node_modules",
    "site-packages", "__pypackages__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".asyncify_cache",
    ".direnv", ".pants.d", ".pytype", ".pyenv", ".ipynb_checkpoints", ".vscode",
)
#: stdlib paths left out of the stdlib corpus (relative to the stdlib directory)
STDLIB_SKIP = {"site-packages", "test", os.path.join("lib2to3", "tests"), os.path.join("idlelib", "idle_test")}
ROOT_MARKERS = ("setup.cfg", "pyproject.toml", ".git", "setup.py")

TIME = "/usr/bin/time"
#: one finding per line in the output formats used here: ``path:line:col: CODE message``
FINDING = re.compile(rb"^[^\s:][^:\n]*:\d+:\d+: ", re.M)


# -- corpora -----------------------------------------------------------------------------------------

def excluded(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TOOL_EXCLUDES)


def parses(data: bytes) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(data)
        except (SyntaxError, ValueError):
            return False
    return True


def copy_stdlib(dest: str) -> None:
    """This interpreter's stdlib ``.py`` files, without the skipped paths and the files CPython rejects."""
    src = sysconfig.get_paths()["stdlib"]
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        dirnames[:] = sorted(d for d in dirnames if not excluded(d)
                             and os.path.normpath(os.path.join(rel_dir, d)) not in STDLIB_SKIP)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
            if parses(data):
                out = os.path.join(dest, rel_dir, name)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with open(out, "wb") as f:
                    f.write(data)
    open(os.path.join(dest, "setup.cfg"), "w").close()  # the project root marker


def copy_directory(src: str, dest: str) -> None:
    """Any directory, without what the tools exclude; a root marker added to the copy if it has none."""
    shutil.copytree(src, dest, ignore=lambda _dir, names: [n for n in names if excluded(n)], symlinks=True)
    if not any(os.path.exists(os.path.join(dest, m)) for m in ROOT_MARKERS):
        open(os.path.join(dest, "setup.cfg"), "w").close()


def make_corpus(spec: str, dest: str, lines: int) -> str:
    """Build the working copy of ``spec`` (``generated``, ``stdlib`` or a directory) at ``dest``; its label."""
    if spec == "generated":
        generate(dest, lines)
        return f"generated, {lines:,} lines requested"
    if spec == "stdlib":
        copy_stdlib(dest)
        return f"stdlib {platform.python_version()}"
    if not os.path.isdir(spec):
        raise SystemExit(f"--corpus {spec!r}: not 'generated', 'stdlib' or a directory")
    copy_directory(spec, dest)
    return os.path.basename(os.path.abspath(spec))


def py_files(root: str) -> list[str]:
    """The corpus's ``.py`` files, relative to ``root``, in path order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not excluded(d))
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in sorted(filenames) if n.endswith(".py")]
    return out


def floor(root: str, files: list[str], sample: frozenset[str] = frozenset()) -> tuple[float, float]:
    """Seconds to read and ``ast.parse`` every file, in this process; and the part of it spent on the
    files of ``sample``."""
    total = part = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rel in files:
            path = os.path.join(root, rel)
            t0 = time.perf_counter()
            with open(path, "rb") as f:
                ast.parse(f.read(), filename=path)
            took = time.perf_counter() - t0
            total += took
            if rel in sample:
                part += took
    return total, part


def spread_sample(files: list[str], lines: dict[str, int], budget: int) -> list[str]:
    """Every k-th file in path order, k chosen for about ``budget`` lines; all of them with ``budget`` 0."""
    total = sum(lines.values())
    if not budget or total <= budget:
        return files
    return files[:: -(-total // budget)]


# -- edits -------------------------------------------------------------------------------------------

@dataclass
class ColourEdit:
    rel: str
    function: str
    line: int
    callers: int  # other files calling it
    original: bytes
    edited: bytes


def module_names(rel: str) -> list[str]:
    parts = rel[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names = [".".join(parts)]
    if len(parts) > 1 and parts[0] in ("src", "lib"):  # a src layout's packages are imported without it
        names.append(".".join(parts[1:]))
    return names


def absolute_module(module: str | None, level: int, package: str) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` in ``package``."""
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if base and module else base or module or ""


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return head and f"{head}.{node.attr}"
    return None


def called_functions(tree: ast.Module, rel: str, modules: dict[str, str]):
    """``(file, function name)`` of each call of this file that reaches another module's function through
    an import (``from m import f; f()``, ``import m; m.f()``, ``from pkg import m; m.f()``)."""
    own = module_names(rel)[0]
    package = own if rel.endswith("__init__.py") else own.rpartition(".")[0]
    module_alias: dict[str, str] = {}
    function_alias: dict[str, tuple[str, str]] = {}
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    module_alias[a.asname] = a.name
                else:
                    top = a.name.partition(".")[0]
                    module_alias[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = absolute_module(node.module, node.level, package)
            if base is None:
                continue
            for a in node.names:
                full = f"{base}.{a.name}" if base else a.name
                if full in modules:
                    module_alias[a.asname or a.name] = full
                else:
                    function_alias[a.asname or a.name] = (base, a.name)
        elif isinstance(node, ast.Call):
            calls.append(node.func)
    for func in calls:
        if isinstance(func, ast.Name) and func.id in function_alias:
            module, name = function_alias[func.id]
        elif isinstance(func, ast.Attribute) and (path := dotted(func.value)):
            head, _, rest = path.partition(".")
            if head not in module_alias:
                continue
            module, name = module_alias[head] + (f".{rest}" if rest else ""), func.attr
        else:
            continue
        if module in modules:
            yield modules[module], name


def make_async(data: bytes, line: int, col: int) -> bytes | None:
    """``data`` with the ``def`` at ``line``/``col`` made ``async def``; None if that does not parse
    (a generator with ``yield from``, ...)."""
    lines = data.split(b"\n")
    text = lines[line - 1]
    if not (text[col:col + 3] == b"def" and text[col + 3:col + 4].isspace()):
        return None
    lines[line - 1] = text[:col] + b"async " + text[col:]
    edited = b"\n".join(lines)
    return edited if parses(edited) else None


def colour_edit(root: str, files: list[str]) -> ColourEdit | None:
    """The colour-changing edit: the first undecorated module-level ``def`` (files in path order, then
    source order) that another file calls through an import, made ``async def``; None if none is."""
    modules: dict[str, str] = {}
    for rel in files:
        for name in module_names(rel):
            modules.setdefault(name, rel)
    defs: dict[str, list[tuple[str, int, int]]] = {}
    callers: dict[tuple[str, str], set[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rel in files:
            with open(os.path.join(root, rel), "rb") as f:
                tree = ast.parse(f.read())
            defs[rel] = [(n.name, n.lineno, n.col_offset) for n in tree.body
                         if type(n) is ast.FunctionDef and not n.decorator_list]
            for target in called_functions(tree, rel, modules):
                if target[0] != rel:
                    callers.setdefault(target, set()).add(rel)
    for rel in files:
        for name, line, col in defs[rel]:
            if (rel, name) in callers:
                with open(os.path.join(root, rel), "rb") as f:
                    original = f.read()
                edited = make_async(original, line, col)
                if edited is not None:
                    return ColourEdit(rel, name, line, len(callers[rel, name]), original, edited)
    return None


def edit_modules(root: str, files: list[str], rounds: int) -> list[str]:
    """One non-empty module per round, spread over the corpus in path order."""
    candidates = [rel for rel in files if not rel.endswith("__init__.py") and os.path.getsize(os.path.join(root, rel))]
    return [candidates[(2 * r + 1) * len(candidates) // (2 * rounds) % len(candidates)] for r in range(rounds)]


def median_file(root: str, files: list[str]) -> str:
    sized = sorted((os.path.getsize(os.path.join(root, rel)), rel) for rel in files)
    return sized[len(sized) // 2][1]


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# -- running the tools -------------------------------------------------------------------------------

@dataclass
class Run:
    wall: float
    rss_mb: float | None = None
    code: int = 0
    findings: int | None = None


@dataclass
class Measure:
    key: str
    label: str
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str = ""  # why it was not measured

    @property
    def median(self) -> float | None:
        walls = [r.wall for r in self.runs if r.code in (0, 1)]
        return statistics.median(walls) if walls else None

    @property
    def rss(self) -> float | None:
        peaks = [r.rss_mb for r in self.runs if r.rss_mb is not None]
        return statistics.median(peaks) if peaks else None


class Tools:
    """The command lines, their environment, and a scratch directory for their outputs."""

    def __init__(self, scratch: str, flake8_jobs: str) -> None:
        self.scratch = scratch
        self.env = {k: v for k, v in os.environ.items() if k not in (
            "ASYNCIFY_LINT_NO_CACHE", "ASYNCIFY_LINT_JOBS", "ASYNCIFY_LINT_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")}
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
        self.env["PYTHONPYCACHEPREFIX"] = os.path.join(scratch, "pycache")  # compiled once, in the warm-up
        beside = os.path.join(os.path.dirname(sys.executable), "ruff")
        self.ruff = beside if os.access(beside, os.X_OK) else shutil.which("ruff")
        self.flake8 = all(importlib.util.find_spec(m) for m in ("flake8", "flake8_async"))
        self.flake8_jobs = flake8_jobs
        self.use_time = os.access(TIME, os.X_OK)

    def ruff_cmd(self, cache: str | None) -> list[str]:
        cache_opts = ["--cache-dir", cache] if cache else ["--no-cache"]
        return [self.ruff, "check", "--select", "ASYNC", "--output-format", "concise", *cache_opts, "."]

    def flake8_cmd(self, paths: list[str] = (".",)) -> list[str]:
        return [sys.executable, "-m", "flake8", "--select", "ASYNC", "-j", self.flake8_jobs, *paths]

    @staticmethod
    def afy_cmd(path: str) -> list[str]:
        return [sys.executable, "-m", "asyncify_lint", path]

    def version(self, cmd: list[str]) -> str:
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        return " ".join(out.stdout.split()) or out.stderr.strip()

    def run(self, cmd: list[str], cwd: str, env: dict[str, str] | None = None) -> tuple[Run, str]:
        """One timed run of ``cmd``: its wall time, peak RSS, exit code and findings; and its stderr."""
        env = env or self.env
        out_path, err_path, rss_path = (os.path.join(self.scratch, n) for n in ("stdout", "stderr", "maxrss"))
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            if self.use_time:
                t0 = time.perf_counter()
                code = subprocess.run([TIME, "-f", "%M", "-o", rss_path, *cmd], cwd=cwd, env=env,
                                      stdout=out, stderr=err).returncode
                wall = time.perf_counter() - t0
                with open(rss_path) as f:  # "Command exited with non-zero status 1" may come first
                    last = f.read().split()[-1:]
                kb = int(last[0]) if last and last[0].isdigit() else None
            else:
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t0
                code = proc.returncode = os.waitstatus_to_exitcode(status)
                kb = usage.ru_maxrss
        return (Run(wall, kb / 1024 if kb is not None else None, code, len(FINDING.findall(read(out_path)))),
                read(err_path).decode(errors="replace"))


def measure(tools: Tools, m: Measure, cmd: list[str], cwd: str, env: dict[str, str] | None = None) -> None:
    run, stderr = tools.run(cmd, cwd, env)
    m.runs.append(run)
    note = ""
    if run.code not in (0, 1):
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        m.errors.append(f"exit {run.code}: {tail}")
        note = f"  ERROR: exit {run.code}: {tail}"
    rss = f"{run.rss_mb:.0f} MB" if run.rss_mb is not None else "?"
    progress(f"  {m.label}: {run.wall:.2f} s, {rss}, exit {run.code}, {run.findings} findings{note}")


def untimed(tools: Tools, cmd: list[str], cwd: str, env: dict[str, str] | None = None) -> None:
    run, stderr = tools.run(cmd, cwd, env)
    if run.code not in (0, 1):
        progress(f"  (untimed run failed, exit {run.code}: {stderr.strip()[-300:]})")


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def warm_up(tools: Tools, tmp: str) -> None:
    """Each tool once on a one-file project, untimed: bytecode compiled and files in the OS cache."""
    root = os.path.join(tmp, "warm-up")
    os.makedirs(root)
    open(os.path.join(root, "setup.cfg"), "w").close()
    write(os.path.join(root, "app.py"), b"import time\n\n\nasync def handler():\n    time.sleep(1)\n")
    env = dict(tools.env, ASYNCIFY_LINT_CACHE_DIR=os.path.join(tmp, "warm-up-cache"))
    if tools.ruff:
        untimed(tools, tools.ruff_cmd(os.path.join(tmp, "warm-up-ruff")), root)
    if tools.flake8:
        untimed(tools, tools.flake8_cmd(), root)
    untimed(tools, tools.afy_cmd(root), root, env)


# -- one corpus --------------------------------------------------------------------------------------

MEASURES = (
    ("floor", "floor: read + ast.parse (in process)"),
    ("ruff_cold", "ruff cold (`--no-cache`)"),
    ("ruff_warm", "ruff warm (its cache, nothing changed)"),
    ("flake8_cold", "flake8-async cold (`-j auto`)"),
    ("afy_cold", "asyncify-lint cold (empty cache)"),
    ("afy_warm", "asyncify-lint warm, nothing changed"),
    ("afy_edit", "asyncify-lint warm, one-line edit"),
    ("afy_colour", "asyncify-lint warm, colour change (`def` → `async def`)"),
    ("afy_file", "asyncify-lint warm, one file"),
)

WARM_RUNS = {"afy_warm": "warm, nothing changed", "afy_edit": "warm, one-line edit",
             "afy_colour": "warm, colour change", "afy_file": "warm, one file"}


def bench_corpus(n: int, spec: str, tools: Tools, tmp: str, lines: int, rounds: int, flake8_lines: int) -> dict:
    """Build the working copy of corpus number ``n``, measure everything on it, return the raw numbers."""
    slug = f"{n}-" + re.sub(r"\W+", "-", os.path.basename(spec.rstrip(os.sep)) or "corpus")
    root = os.path.join(tmp, f"corpus-{slug}")
    progress(f"== {spec}: building the working copy")
    label = make_corpus(spec, root, lines)
    files = py_files(root)
    file_lines = {rel: read(os.path.join(root, rel)).count(b"\n") for rel in files}
    nlines = sum(file_lines.values())
    sample = spread_sample(files, file_lines, flake8_lines)
    sample_lines = sum(file_lines[rel] for rel in sample)
    whole = len(sample) == len(files)
    progress(f"== {label}: {len(files):,} files, {nlines:,} lines, in {root}")
    m = {key: Measure(key, text) for key, text in MEASURES}
    afy_env = dict(tools.env, ASYNCIFY_LINT_CACHE_DIR=os.path.join(tmp, f"afy-cache-{slug}"))
    ruff_cache = os.path.join(tmp, f"ruff-cache-{slug}")

    edits = edit_modules(root, files, rounds)
    colour = colour_edit(root, files)
    one_file = median_file(root, files)
    if colour is None:
        m["afy_colour"].skipped = "no module-level function of this corpus is called from another file"
    else:
        m["afy_colour"].label += f": `{colour.function}` in `{colour.rel}` ({colour.callers} calling files)"
    m["afy_file"].label += f": `{one_file}`"
    if not tools.ruff:
        m["ruff_cold"].skipped = m["ruff_warm"].skipped = "ruff not found"
    if not tools.flake8:
        m["flake8_cold"].skipped = "flake8 or flake8-async not installed"
    elif not whole:
        m["flake8_cold"].label += (f", on {len(sample):,} of the files ({sample_lines:,} lines; "
                                   "× floor of those files, seconds scaled to the whole corpus)")
    sample_floors = []

    floor(root, files)  # untimed: the files in the OS cache
    for r in range(rounds):
        progress(f"-- round {r + 1}/{rounds}")
        total, part = floor(root, files, frozenset(sample))
        m["floor"].runs.append(Run(total))
        sample_floors.append(part)
        progress(f"  floor: {total:.2f} s (flake8's files: {part:.2f} s)")
        if tools.ruff:
            measure(tools, m["ruff_cold"], tools.ruff_cmd(None), root)
            if r == 0:
                untimed(tools, tools.ruff_cmd(ruff_cache), root)  # fills ruff's cache
            measure(tools, m["ruff_warm"], tools.ruff_cmd(ruff_cache), root)
        if tools.flake8:
            measure(tools, m["flake8_cold"], tools.flake8_cmd(["."] if whole else sample), root)
        shutil.rmtree(afy_env["ASYNCIFY_LINT_CACHE_DIR"], ignore_errors=True)
        measure(tools, m["afy_cold"], tools.afy_cmd(root), root, afy_env)

    progress("-- asyncify-lint, warm (the cache of the last cold run)")
    for _ in range(rounds):
        measure(tools, m["afy_warm"], tools.afy_cmd(root), root, afy_env)
    originals = {rel: read(os.path.join(root, rel)) for rel in set(edits)}
    for r, rel in enumerate(edits):  # each run sees one more module changed since the run before
        path = os.path.join(root, rel)
        data = read(path)
        write(path, data + (b"" if data.endswith(b"\n") else b"\n") + f"_bench_edit_{r + 1} = {r + 1}\n".encode())
        progress(f"  (appended `_bench_edit_{r + 1} = {r + 1}` to {rel})")
        measure(tools, m["afy_edit"], tools.afy_cmd(root), root, afy_env)
    for rel, data in originals.items():
        write(os.path.join(root, rel), data)
    untimed(tools, tools.afy_cmd(root), root, afy_env)  # the cache up to date with the restored files
    if colour:
        path = os.path.join(root, colour.rel)
        for _ in range(rounds):
            write(path, colour.edited)
            progress(f"  (made `{colour.function}` async in {colour.rel}:{colour.line})")
            measure(tools, m["afy_colour"], tools.afy_cmd(root), root, afy_env)
            write(path, colour.original)
            untimed(tools, tools.afy_cmd(root), root, afy_env)
    for _ in range(rounds):
        measure(tools, m["afy_file"], tools.afy_cmd(os.path.join(root, one_file)), root, afy_env)
    shutil.rmtree(root, ignore_errors=True)

    floor_s = m["floor"].median
    flake8_ratio = ratio(m["flake8_cold"].median, statistics.median(sample_floors))
    return {
        "corpus": spec, "label": label, "files": len(files), "lines": nlines, "rounds": rounds,
        "edited_modules": edits, "one_file": one_file,
        "flake8_sample": {"files": len(sample), "lines": sample_lines, "whole_corpus": whole,
                          "floor_s": sample_floors, "ratio_to_floor": flake8_ratio,
                          "whole_corpus_s": flake8_ratio and flake8_ratio * floor_s},
        "colour_edit": colour and {"file": colour.rel, "function": colour.function, "line": colour.line,
                                   "calling_files": colour.callers},
        "measures": {key: {"label": x.label, "median_s": x.median, "wall_s": [r.wall for r in x.runs],
                           "peak_rss_mb": [r.rss_mb for r in x.runs], "exit_codes": [r.code for r in x.runs],
                           "findings": [r.findings for r in x.runs], "errors": x.errors, "skipped": x.skipped}
                     for key, x in m.items()},
    }


# -- output ------------------------------------------------------------------------------------------

def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def median_s(res: dict, key: str) -> float | None:
    """The median seconds of a measurement; flake8's on a sample: scaled to the whole corpus by the floor."""
    if key == "flake8_cold" and not res["flake8_sample"]["whole_corpus"]:
        return res["flake8_sample"]["whole_corpus_s"]
    return res["measures"][key]["median_s"]


def tables(results: list[dict]) -> str:
    out = ["| corpus | measurement | × floor | median s | each round, s | peak RSS | exit | findings |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for res in results:
        ms = res["measures"]
        floor_s = ms["floor"]["median_s"]
        for i, (key, _) in enumerate(MEASURES):
            x = ms[key]
            corpus = f"{res['label']}: {res['files']:,} files, {res['lines']:,} lines" if i == 0 else ""
            if x["skipped"]:
                out.append(f"| {corpus} | {x['label']} | skipped: {x['skipped']} | | | | | |")
                continue
            rss = [p for p in x["peak_rss_mb"] if p is not None]
            codes = ", ".join(str(c) for c in sorted(set(x["exit_codes"])))
            if x["errors"]:
                codes = f"**error** ({codes})"
            findings = x["findings"][0] if x["findings"] and x["findings"][0] is not None else None
            seconds, times = median_s(res, key), ", ".join(f"{w:.2f}" for w in x["wall_s"])
            if key == "flake8_cold" and not res["flake8_sample"]["whole_corpus"]:
                seconds, times = f"≈ {fmt(seconds, '.1f')}", f"{times} (the sample)"
            else:
                seconds = fmt(seconds, ".2f")
            out.append(
                f"| {corpus} | {x['label']} | {fmt(ratio(median_s(res, key), floor_s), '.2f')} | "
                f"{seconds} | {times} | "
                f"{fmt(statistics.median(rss) if rss else None, '.0f', ' MB')} | {codes if key != 'floor' else '-'} | "
                f"{fmt(findings, ',')} |")
    out += ["", "| corpus | asyncify-lint run | % of asyncify-lint cold | × ruff cold | × ruff warm "
            "| × flake8-async cold |",
            "| --- | --- | ---: | ---: | ---: | ---: |"]
    for res in results:
        ms = res["measures"]
        for i, (key, what) in enumerate(WARM_RUNS.items()):
            t = median_s(res, key)
            corpus = res["label"] if i == 0 else ""
            if ms[key]["skipped"]:
                out.append(f"| {corpus} | {what} | skipped: {ms[key]['skipped']} | | | |")
                continue
            pct = ratio(t, ms["afy_cold"]["median_s"])
            out.append(f"| {corpus} | {what} | {fmt(pct and 100 * pct, '.1f', ' %')} | "
                       f"{fmt(ratio(t, ms['ruff_cold']['median_s']), '.2f')} | "
                       f"{fmt(ratio(t, ms['ruff_warm']['median_s']), '.2f')} | "
                       f"{fmt(ratio(t, median_s(res, 'flake8_cold')), '.2f')} |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", action="append", metavar="generated|stdlib|DIR",
                   help="a corpus to measure (repeatable; default: generated and stdlib, with --quick generated)")
    p.add_argument("--lines", type=int, help="size of the generated project (default 200000, with --quick 20000)")
    p.add_argument("--rounds", type=int, help="runs of each measurement, the median reported (default 3, "
                   "with --quick 1)")
    p.add_argument("--quick", action="store_true", help="a small run: generated 20k lines, 1 round")
    p.add_argument("--flake8-jobs", default="auto", help="flake8's -j (default: auto, its own default)")
    p.add_argument("--flake8-lines", type=int, help="lines of the sample flake8 checks (default 50000, with "
                   "--quick 5000; 0: the whole corpus)")
    p.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    args = p.parse_args()
    corpora = args.corpus or (["generated"] if args.quick else ["generated", "stdlib"])
    lines = args.lines or (20_000 if args.quick else 200_000)
    rounds = args.rounds or (1 if args.quick else 3)
    flake8_lines = args.flake8_lines if args.flake8_lines is not None else (5_000 if args.quick else 50_000)

    results = []
    with tempfile.TemporaryDirectory(prefix="afy-bench-incremental-") as tmp:
        tools = Tools(tmp, args.flake8_jobs)
        versions = {
            "python": platform.python_version(),
            "ruff": tools.version([tools.ruff, "--version"]) if tools.ruff else None,
            "flake8": tools.version([sys.executable, "-m", "flake8", "--version"]) if tools.flake8 else None,
            "asyncify-lint": tools.version(Tools.afy_cmd("--version")),
        }
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        progress(f"{versions}; {cpus} CPUs; peak RSS by {'/usr/bin/time' if tools.use_time else 'os.wait4'}")
        warm_up(tools, tmp)
        for n, spec in enumerate(corpora):
            results.append(bench_corpus(n, spec, tools, tmp, lines, rounds, flake8_lines))

    print(f"{datetime.date.today()}, CPython {versions['python']}, {cpus} CPUs, {rounds} round(s), "
          f"median of the rounds; {versions['ruff']}; flake8 {versions['flake8']}; {versions['asyncify-lint']}\n")
    print(tables(results))
    errors = [f"{r['corpus']}: {x['label']}: {e}" for r in results for x in r["measures"].values() for e in x["errors"]]
    if errors:
        print("\nErrors:\n" + "\n".join(f"* {e}" for e in errors))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": str(datetime.date.today()), "cpus": cpus, "versions": versions,
                       "flake8_jobs": args.flake8_jobs, "flake8_lines": flake8_lines, "rounds": rounds,
                       "corpora": results}, f, indent=2)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
