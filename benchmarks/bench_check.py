"""Check-mode throughput of the in-process Linter next to the parsing floor measured in the same run.

    python benchmarks/bench_check.py [--lines 200000] [--no-stdlib] [--project DIR] [--profile N]

For each corpus (a generated FastAPI + SQLAlchemy project, and a copy of the installed stdlib without
the files CPython itself cannot parse):
  floor  = read + ast.parse of every file, one process;
  check  = what the CLI does in check mode: Project + Linter, load + check every file (default rules).
Prints lines/s of both and the ratio check/floor (target: >= 1/3), for a cold run (no summary cache)
and for the next run (per-module summaries cached on disk, as a developer's second run).
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import os
import pstats
import shutil
import sys
import sysconfig
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen_project import generate  # noqa: E402

from asyncify_lint.config import Settings  # noqa: E402
from asyncify_lint.engine.runner import Linter, gc_paused  # noqa: E402
from asyncify_lint.project import Project  # noqa: E402
from asyncify_lint.project.discover import walk_files  # noqa: E402


def copy_stdlib(dest: str) -> None:
    """The installed stdlib's .py files (no site-packages), minus those CPython cannot parse."""
    src = sysconfig.get_paths()["stdlib"]
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "dist-packages", "__pycache__"))
        for name in filenames:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    raw = f.read()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ast.parse(raw)
            except (SyntaxError, ValueError, OSError):
                continue
            out = os.path.join(dest, os.path.relpath(path, src))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(raw)
    open(os.path.join(dest, "setup.cfg"), "w").close()  # the project root marker


def files_of(root: str) -> list[str]:
    return [os.path.join(root, rel) for rel in walk_files(root, Settings().exclude)]


def count_lines(files: list[str]) -> int:
    n = 0
    for p in files:
        with open(p, "rb") as f:
            n += f.read().count(b"\n")
    return n


def floor(files: list[str]) -> float:
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in files:
            with open(p, "rb") as f:
                ast.parse(f.read(), filename=p)
    return time.perf_counter() - t


def check(root: str, files: list[str], cold: bool = True) -> tuple[float, int]:
    """A check run, as the CLI does it (collector paused); cold: without the summary cache."""
    if cold:
        shutil.rmtree(os.path.join(root, ".asyncify_cache"), ignore_errors=True)
    t = time.perf_counter()
    with gc_paused():
        settings = Settings()
        linter = Linter(Project(root, settings), settings)
        n = 0
        for p in files:
            n += len(linter.check(linter.load(p, os.path.relpath(p, root))))
    return time.perf_counter() - t, n


def bench(label: str, root: str, profile: int) -> tuple[str, int, int, float, float, int]:
    files = files_of(root)
    lines = count_lines(files)
    floor(files[:50])  # warm the OS cache and the interpreter
    t_floor = floor(files)
    cpu = time.process_time()
    if profile:
        prof = cProfile.Profile()
        prof.enable()
    t_check, ndiag = check(root, files)
    if profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(profile)
        pstats.Stats(prof).sort_stats("tottime").print_stats(profile)
    cpu = time.process_time() - cpu
    t_warm, _ = check(root, files, cold=False)  # the next run: the per-module summaries are cached
    return label, len(files), lines, t_floor, t_check, ndiag, cpu, t_warm


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lines", type=int, default=200_000, help="size of the generated project")
    p.add_argument("--project", help="benchmark this directory instead of generating one")
    p.add_argument("--no-stdlib", action="store_true")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions (cProfile)")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.project:
            results.append(bench(args.project, os.path.abspath(args.project), args.profile))
        else:
            gen = os.path.join(tmp, "generated")
            generate(gen, args.lines)
            results.append(bench(f"generated ({args.lines} lines requested)", gen, args.profile))
        if not args.no_stdlib:
            std = os.path.join(tmp, "stdlib")
            copy_stdlib(std)
            results.append(bench(f"stdlib {sys.version.split()[0]}", std, args.profile))
    print(f"{'corpus':<34} {'files':>6} {'lines':>9} {'floor l/s':>10} {'cold l/s':>10} {'ratio':>6} "
          f"{'warm l/s':>10} {'ratio':>6} {'cold s':>7} {'cpu s':>7} {'diags':>6}")
    for label, nfiles, lines, t_floor, t_check, ndiag, cpu, t_warm in results:
        print(f"{label:<34} {nfiles:>6} {lines:>9} {lines / t_floor:>10.0f} {lines / t_check:>10.0f} "
              f"{t_floor / t_check:>6.2f} {lines / t_warm:>10.0f} {t_floor / t_warm:>6.2f} {t_check:>7.1f} "
              f"{cpu:>7.1f} {ndiag:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
