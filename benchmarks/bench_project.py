"""Whole-project analysis benchmark.

Generates a FastAPI + SQLAlchemy style project (default ≥ 200k lines: packages of modules whose
endpoints, services and repositories call each other across modules), then measures, in one run:

* floor: read every file + ``ast.parse`` (what any Python-side analysis pays);
* cold: full-project analysis with an empty cache (summaries + call graph + reachability + must-async,
  cache written), as the CLI runs it (the cyclic collector paused for the run, and the clock stopped
  before it is back on: the command never turns it back on, it ends with ``os._exit``; summaries shared
  out among worker processes, ``asyncify_lint/project/parallel.py``); CPU time counts the workers too.
  Floor and cold runs alternate over ``ROUNDS`` rounds (floor, cold, floor, cold, ..., floor): each
  cold run is compared with the faster floor either side of it, and the median ratio is the result
  (the load of a shared machine moves within a run). Then cold in one process
  (``ASYNCIFY_LINT_JOBS=1``) and as a library call (``Project(root).graph``, collector on at the
  end), each with a floor right after;
* warm: the same after one file changed (cache loaded, one module re-summarised, graph re-linked),
  plus checking that file with AFY100/AFY401/AFY402, in a new process as a developer's next run is
  (imports not counted, as for the cold run), ``ROUNDS`` times with a new edit each time: the median;
* peak memory (``ru_maxrss``), this process's and its largest worker's, and the ratios to the targets
  (cold ≤ 2× floor, warm ≤ 10 % of cold).

It then does the same, in a fresh process (for its own peak RSS), on a copy of this interpreter's
stdlib + site-packages of ``--corpus-lines`` lines (default 1M; the robustness benchmark's corpus).

    python benchmarks/bench_project.py [--lines 200000] [--corpus-lines 1000000] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from asyncify_lint.config import Settings  # noqa: E402
from asyncify_lint.engine.runner import Linter, gc_paused  # noqa: E402
from asyncify_lint.project import parallel  # noqa: E402
from asyncify_lint.project import Project  # noqa: E402

sys.path.insert(0, HERE)
import robustness  # noqa: E402

MODULES_PER_PACKAGE = 25
HELPERS = 12


def module_text(p: int, m: int, npkg: int, rng: random.Random) -> str:
    out = []
    w = out.append
    w(f'"""Generated module bench.pkg{p}.mod{m}: endpoints, services and a repository."""\n')
    w("import json\nimport time\nfrom typing import Any\n\n")
    w("from fastapi import APIRouter, Depends, HTTPException\nfrom sqlalchemy import select\n")
    w("from sqlalchemy.orm import Session\n\n")
    w("from bench.db import get_db\n")
    others = []
    for k in range(3):
        op, om = rng.randrange(npkg), rng.randrange(MODULES_PER_PACKAGE)
        if (op, om) == (p, m):
            continue
        w(f"from bench.pkg{op} import mod{om} as dep{k}\n")
        others.append(f"dep{k}")
    if m > 0:
        w(f"from .mod{m - 1} import helper_0 as previous_helper\n")
    w("\nrouter = APIRouter()\n\n\n")
    w(f"class Repo{m}:\n")
    w("    def __init__(self, db: Session) -> None:\n        self.db = db\n        self.hits = 0\n\n")
    w("    def load(self, db: Session, key: int) -> Any:\n")
    w("        self.hits += 1\n        return db.get(dict, key)\n\n")
    w("    def find(self, db: Session, name: str) -> list:\n")
    w("        stmt = select(dict).where(dict.name == name)\n        return list(db.scalars(stmt))\n\n")
    w("    def score(self, values: list[int]) -> int:\n")
    w("        total = 0\n        for i, v in enumerate(values):\n            if v % 3 == 0:\n")
    w("                total += v * i\n            elif v % 5 == 0:\n                total -= v\n")
    w("            else:\n                total += 1\n        return total\n\n\n")
    for h in range(HELPERS):
        w(f"def helper_{h}(value: int, *, scale: int = {h + 1}) -> int:\n")
        w(f'    """Helper {h} of module {m}."""\n')
        w("    data = {\"value\": value, \"scale\": scale, \"items\": [value * i for i in range(scale)]}\n")
        w("    if value < 0:\n        raise ValueError(\"negative\")\n")
        w("    result = 0\n    for item in data[\"items\"]:\n        result += item % 7\n")
        kind = (p * 31 + m * 7 + h) % 6
        if kind == 0 and others:
            w(f"    result += {rng.choice(others)}.helper_{rng.randrange(HELPERS)}(result)\n")
        elif kind == 1:
            w(f"    result += helper_{(h + 1) % HELPERS}(result, scale=1) if value > 10 else 0\n")
        elif kind == 2 and m > 0:
            w("    result += previous_helper(result)\n")
        elif kind == 3 and h == 3:
            w("    time.sleep(0.001)\n")
        w("    text = json.dumps(data)\n    return result + len(text)\n\n\n")
    for e in range(4):
        dec = f'@router.get("/p{p}/m{m}/e{e}/{{key}}")'
        asyn = "async " if e % 2 else ""
        w(f"{dec}\n{asyn}def endpoint_{e}(key: int, db: Session = Depends(get_db)) -> dict:\n")
        w(f"    repo = Repo{m}(db)\n    row = repo.load(db, key)\n")
        w("    if row is None:\n        raise HTTPException(status_code=404, detail=\"not found\")\n")
        w(f"    score = repo.score([key, key + 1, key + 2])\n    extra = helper_{e}(score)\n")
        if others:
            w(f"    extra += {rng.choice(others)}.helper_{rng.randrange(HELPERS)}(extra)\n")
        w("    payload = {\n        \"key\": key,\n        \"score\": score,\n        \"extra\": extra,\n")
        w("        \"rows\": repo.find(db, str(key)),\n    }\n    return payload\n\n\n")
    w("def summarize(db: Session, keys: list[int]) -> dict:\n")
    w(f"    repo = Repo{m}(db)\n    out = {{}}\n    for k in keys:\n        out[k] = repo.load(db, k)\n")
    w("    db.commit()\n    return out\n")
    return "".join(out)


DB = '''from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
'''


def generate(root: str, lines: int) -> tuple[int, int]:
    rng = random.Random(0)
    sample = module_text(0, 1, 10, random.Random(0)).count("\n")
    nmod = max(1, -(-lines // sample))
    npkg = max(1, -(-nmod // MODULES_PER_PACKAGE))
    os.makedirs(os.path.join(root, "bench"), exist_ok=True)
    with open(os.path.join(root, "pyproject.toml"), "w") as f:
        f.write("[project]\nname = \"bench\"\n")
    with open(os.path.join(root, "bench", "__init__.py"), "w") as f:
        f.write("")
    with open(os.path.join(root, "bench", "db.py"), "w") as f:
        f.write(DB)
    total = DB.count("\n")
    files = 2
    for p in range(npkg):
        d = os.path.join(root, "bench", f"pkg{p}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "__init__.py"), "w") as f:
            f.write("from .mod0 import helper_0\n")
        total += 1
        files += 1
        for m in range(MODULES_PER_PACKAGE):
            text = module_text(p, m, npkg, rng)
            with open(os.path.join(d, f"mod{m}.py"), "w") as f:
                f.write(text)
            total += text.count("\n")
            files += 1
    return files, total


def maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / (1024 * 1024)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(fn, paused: bool = False):
    """(result, wall, cpu of this process and its children) of ``fn()``; with ``paused``, the cyclic
    collector is off for the call and the clock stops before it is back on: the command never turns it
    back on (it ends with ``os._exit`` once its output is out), so the first collection over everything
    the run made is not part of what it costs."""
    gc.collect()
    with gc_paused() if paused else contextlib.nullcontext():
        t0 = time.perf_counter()
        c0 = time.process_time()
        k0 = children_cpu()
        result = fn()
        return result, time.perf_counter() - t0, time.process_time() - c0 + children_cpu() - k0


ROUNDS = 3  # interleaved floor / cold rounds (and warm runs): on a shared machine the load moves


def run_phases(label: str, root: str, nlines: int, changed: str, rounds: int = ROUNDS) -> dict:
    """floor and cold (as the CLI runs it) interleaved over ``rounds`` rounds, cold in one process and as a
    library call, warm (``changed`` edited) in ``rounds`` new processes, peak RSS, on the project at
    ``root``; prints and returns them."""
    settings = Settings(select=["AFY100", "AFY401", "AFY402"])
    files = Project(root, settings).files
    print(f"\n== {label}: {root}: {len(files)} files, {nlines:,} lines; {parallel.jobs()} processes available")

    def floor():
        n = 0
        for rel in files:
            with open(os.path.join(root, rel), "rb") as f:
                data = f.read()
            try:
                n += len(ast.parse(data).body)
            except (SyntaxError, ValueError):
                pass
        return n

    def cold(jobs: str, paused: bool):
        """A cold analysis (no cache): ``paused`` as the CLI runs it, with the cyclic collector paused
        for the whole run; else as a library call (``Project(...).graph``), which re-enables it at the end."""
        shutil.rmtree(os.path.join(root, ".asyncify_cache"), ignore_errors=True)
        os.environ["ASYNCIFY_LINT_JOBS"] = jobs
        project = Project(root, settings)

        try:
            graph, wall, cpu = timed(lambda: project.graph, paused)
        finally:
            os.environ.pop("ASYNCIFY_LINT_JOBS", None)
        return project, graph, wall, cpu

    # floor, cold, floor, cold, ..., floor: each cold run against the faster of the floors either side
    # of it (the stricter comparison), the median over the rounds
    floors: list[tuple[float, float]] = []
    colds: list[tuple[float, float]] = []
    rss_cold = rss_worker = 0.0
    for r in range(rounds):
        _, fw, fc = timed(floor)
        floors.append((fw, fc))
        project, graph, cw, cc = cold("", True)
        colds.append((cw, cc))
        if r == 0:
            rss_cold, rss_worker = maxrss_mb(), maxrss_mb(resource.RUSAGE_CHILDREN)
            print(f"        {len(graph.functions):,} functions, {graph.calls:,} calls, {graph.unresolved:,} unresolved, "
                  f"{len(graph.reachable):,} sync reachable, {len(graph.must_async):,} must-async, "
                  f"{len(graph.blocking_next):,} reach a blocking call; cache {os.path.getsize(_cache(root)) / 1e6:.1f} MB")
        del project, graph
        print(f"round {r + 1}: floor {fw:6.2f} s   cold {cw:6.2f} s wall {cc:6.2f} s cpu, all processes")
    _, fw, fc = timed(floor)
    floors.append((fw, fc))
    print(f"         floor {fw:6.2f} s")
    ratios = [cw / min(floors[i][0], floors[i + 1][0]) for i, (cw, _) in enumerate(colds)]
    cpu_ratios = [cc / min(floors[i][1], floors[i + 1][1]) for i, (_, cc) in enumerate(colds)]
    cold_wall = median([cw for cw, _ in colds])
    floor_wall = min(fw for fw, _ in floors)
    print(f"cold    summaries + graph:     median {cold_wall:.2f} s ({nlines / cold_wall / 1000:.0f} k lines/s); "
          f"peak rss {rss_cold:.0f} MB, largest worker {rss_worker:.0f} MB")
    _, _, serial_wall, _ = cold("1", True)
    _, fw, _ = timed(floor)
    print(f"cold    one process:           {serial_wall:7.2f} s wall (floor just after {fw:.2f} s: {serial_wall / fw:.2f})")
    serial_ratio = serial_wall / fw
    _, _, lib_wall, _ = cold("", False)
    _, fw, _ = timed(floor)
    print(f"cold    as a library call:     {lib_wall:7.2f} s wall (floor just after {fw:.2f} s: {lib_wall / fw:.2f}; "
          "the collector re-enabled at the end: its first pass over the new objects included)")
    lib_ratio = lib_wall / fw

    # warm: one file changes before each run; as a developer's next run, in a new process (imports not
    # counted, as for the cold run); the first runs after a cold one, then each after the one before
    cold("", True)
    warms = []
    for r in range(rounds):
        with open(changed, "a") as f:
            f.write(f"\n\ndef added_later_{r}(db) -> None:\n    db.commit()\n")
        out = subprocess.run([sys.executable, __file__, "--warm-only", root, changed], capture_output=True,
                             text=True, check=True).stdout
        fresh = json.loads(out.strip().splitlines()[-1])
        warms.append(fresh["wall"])
        print(f"warm    1 file changed:        {fresh['wall']:7.2f} s wall {fresh['cpu']:7.2f} s cpu, a new process  "
              f"(summaries loaded {fresh['loaded']}, computed {fresh['computed']}); "
              f"check of that file {fresh['check'] * 1000:.0f} ms, {fresh['diagnostics']} diagnostics")
    warm_wall = median(warms)
    rss = maxrss_mb()
    print(f"ratios  cold / floor = {median(ratios):.2f} median (rounds {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"target ≤ 2.0; cpu {median(cpu_ratios):.2f}); one process {serial_ratio:.2f}; library call {lib_ratio:.2f}; "
          f"warm / cold = {warm_wall / cold_wall:.1%} median / median (target ≤ 10%; "
          f"one process {warm_wall / serial_wall:.1%}); peak rss {rss:.0f} MB")
    return {"floor": floor_wall, "cold": cold_wall, "ratios": ratios, "serial": serial_wall, "library": lib_wall,
            "warm": warm_wall, "rss": rss, "rss_worker": rss_worker}


def median(xs: list[float]) -> float:
    ys = sorted(xs)
    n = len(ys)
    return ys[n // 2] if n % 2 else (ys[n // 2 - 1] + ys[n // 2]) / 2


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000, help="size of the generated project")
    ap.add_argument("--corpus-lines", type=int, default=1_000_000,
                    help="size of the stdlib + site-packages copy (0: skip that corpus)")
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.environ.pop("ASYNCIFY_LINT_NO_CACHE", None)
    root = args.dir or tempfile.mkdtemp(prefix="afy-bench-")
    nfiles, nlines = generate(root, args.lines)
    print(f"rss after generation: {maxrss_mb():.0f} MB")
    run_phases("generated FastAPI project", root, nlines, os.path.join(root, "bench", "pkg0", "mod3.py"))
    if not args.keep and not args.dir:
        shutil.rmtree(root, ignore_errors=True)

    if args.corpus_lines:
        # the copy the robustness benchmark uses: the stdlib and site-packages of this interpreter, the
        # largest packages first until the budget is reached (memory is measured in a fresh process)
        corpus = tempfile.mkdtemp(prefix="afy-corpus-")
        try:
            stats = robustness.build_corpus(corpus, args.corpus_lines)
            listed = robustness.py_files(corpus)
            changed = os.path.join(corpus, listed[len(listed) // 2])
            code = subprocess.call([sys.executable, __file__, "--phases-only", corpus, str(stats.lines), changed])
            if code:
                return code
        finally:
            shutil.rmtree(corpus, ignore_errors=True)
    return 0


def _cache(root: str) -> str:
    from asyncify_lint.project.cache import cache_file

    return cache_file(root)


def warm_only(root: str, changed: str) -> None:
    """The warm run in a new process, as a developer's next run is: prints one JSON line."""
    import asyncify_lint.project.cache  # noqa: F401  (imports are not part of the measure)
    import asyncify_lint.project.callgraph  # noqa: F401

    settings = Settings(select=["AFY100", "AFY401", "AFY402"])

    def run():
        p = Project(root, settings)
        return p, p.graph

    (project, _graph), wall, cpu = timed(run, paused=True)
    linter = Linter(project, settings)
    diags, check, _ = timed(lambda: linter.check(linter.load(changed, changed)))
    print(json.dumps({"wall": wall, "cpu": cpu, "check": check, "diagnostics": len(diags), **project.store.stats}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--warm-only"]:
        warm_only(sys.argv[2], sys.argv[3])
        sys.exit(0)
    if sys.argv[1:2] == ["--phases-only"]:  # one corpus in a fresh process, for its own peak RSS
        run_phases("stdlib + site-packages", sys.argv[2], int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    sys.exit(main())
