"""What installing asyncify-lint costs a flake8 run, with and without AFY selected.

    python benchmarks/bench_flake8_plugin.py [--lines 50000] [--no-stdlib] [--project DIR] [--runs 3]

flake8 loads every installed plugin and calls it on every file whatever ``--select`` says, so the
plugin must cost nothing when no AFY code is selected. For each corpus (a generated FastAPI project,
a copy of the installed stdlib) this runs, in the same run and interleaved:

  without   flake8 with the AFY plugin left out of its plugin list (the package is not installed);
  with      the same flake8 command with the plugin installed (as users have it);

for ``--select E9`` (a run that selects no AFY code: target <= 1.02x) and ``--select E9,AFY`` (the
plugin at work: issue 18's target is <= 1.3x flake8's own cost). Each is the median CPU time (user +
sys of flake8 and its workers) of ``--runs`` runs, ``-j1``, and the minimum (the least noisy estimate
of the intrinsic cost on a shared machine); CPU time moves much less than wall time. Peak RSS is the maximum over the runs. Every run starts with no summary
cache: a ``with`` run that writes one is counted as the cold run a fresh checkout gets.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_check import copy_stdlib, count_lines, files_of  # noqa: E402
from gen_project import generate  # noqa: E402

#: flake8 without the AFY entry point: its plugin finder, filtered, then flake8's own main
MAIN = """\
import resource, sys
from flake8.main.cli import main
rc = main(sys.argv[1:])
sys.stderr.write(f"\\nMAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
sys.exit(rc)
"""
WITHOUT = """\
import flake8.plugins.finder as finder
_find = finder._find_importlib_plugins
finder._find_importlib_plugins = lambda: (p for p in _find() if p.entry_point.name != "AFY")
""" + MAIN
WITH = MAIN


def _run(root: str, script: str, select: str) -> tuple[float, int, bool]:
    """(CPU seconds of the flake8 process tree, its peak RSS in KiB, whether a cache was written)."""
    cache = os.path.join(root, ".asyncify_cache")
    shutil.rmtree(cache, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-c", script, "--isolated", "-j1", f"--select={select}", "."],
                          cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1) or "MAXRSS " not in proc.stderr:
        raise SystemExit(f"flake8 failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = int(proc.stderr.rsplit("MAXRSS ", 1)[1].split()[0])
    wrote = os.path.isdir(cache)
    shutil.rmtree(cache, ignore_errors=True)
    return cpu, rss, wrote


def measure(name: str, root: str, runs: int) -> None:
    files = files_of(root)
    print(f"\n{name}: {len(files):,} files, {count_lines(files):,} lines")
    print(f"{'select':<8} {'CPU without':>12} {'CPU with':>9} {'ratio':>7} {'RSS without':>12} {'RSS with':>9} "
          f"{'ratio':>7} {'cache written':>14}")
    for select in ("E9", "E9,AFY"):
        cpu: dict[str, list[float]] = {"without": [], "with": []}
        rss = {"without": 0, "with": 0}
        wrote = False
        for _ in range(runs):  # interleaved, so a slow spell of the machine hits both
            for label, script in (("without", WITHOUT), ("with", WITH)):
                seconds, kib, w = _run(root, script, select)
                cpu[label].append(seconds)
                rss[label] = max(rss[label], kib)
                wrote |= w and label == "with"
        a, b = statistics.median(cpu["without"]), statistics.median(cpu["with"])
        ma, mb = min(cpu["without"]), min(cpu["with"])
        ra, rb = rss["without"] / 1024, rss["with"] / 1024
        print(f"{select:<8} {a:>11.2f}s {b:>8.2f}s {b / a:>6.3f}x {ra:>9.0f} MB {rb:>6.0f} MB {rb / ra:>6.2f}x "
              f"{'yes' if wrote else 'no':>14}   min: {ma:.2f}s / {mb:.2f}s = {mb / ma:.3f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=50000, help="size of the generated project")
    ap.add_argument("--no-stdlib", action="store_true", help="skip the stdlib copy")
    ap.add_argument("--project", help="measure this directory instead of the generated corpora")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.project:
        measure(args.project, os.path.abspath(args.project), args.runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(tmp, "generated")
        generate(gen, args.lines)
        measure(f"generated FastAPI project ({args.lines:,} lines asked)", gen, args.runs)
        if not args.no_stdlib:
            std = os.path.join(tmp, "stdlib")
            copy_stdlib(std)
            measure("stdlib copy", std, args.runs)


if __name__ == "__main__":
    main()
