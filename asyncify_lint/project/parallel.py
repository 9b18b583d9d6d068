"""Summaries of a large, cold project computed in worker processes, and then its rules checked in them.

A module's summary depends only on its text and, for the types of a few values, on the modules it
imports, so the files to summarise can be shared out. On a cold run of a large project the files are
cut into runs of consecutive files (a package's modules together: the modules a summary consults for
types are mostly its neighbours, parsed once per process); the current process takes runs from the
front (its parsed trees then serve the rules too, as in a serial run) and forked workers take them
from the back, each sending a run's summaries back pickled as soon as it is done, until the two ends
meet. (Pickle is for this transfer between the processes of one run only: each summary also comes
with its cache entry, JSON made by the worker, written to the disk cache as it is; nothing read from
a file is ever unpickled.) Taking runs as they go, rather than a fixed half each, keeps the processes
busy to the end when some files cost more per line than others. The results are the same as a serial
run's (the same function on the same text and the same project).

Only where it pays and is safe: at least ``MIN_FILES`` files and ``MIN_BYTES`` of source to summarise,
more than one CPU, the ``fork`` start method (workers inherit the project as it is, no re-import of
anything), no other thread running (forking a threaded process can deadlock), and not inside a
daemonic process (flake8's ``-j`` workers cannot have children; each already has a share of the
files). ``ASYNCIFY_LINT_JOBS=N`` sets the number of processes (``1``: serial). A worker that fails
leaves its files to the serial path, which computes whatever is missing.
"""

from __future__ import annotations

import os
import pickle
import threading

from asyncify_lint.project.summary import summarize_text

MIN_FILES = 32
MIN_BYTES = 1_500_000  # about 40k lines: below, forking and pickling cost about what they save
MAX_JOBS = 8
RUNS_PER_PROCESS = 32  # runs of files per process: the last one taken is what a process may wait for

_STORE = None  # the store being filled (project/cache.py's SummaryStore), inherited by the forked workers
_RUNS: list[list] = []  # the runs of files to do, inherited by the workers
_RUN_ONE = None  # what a worker does with a run (_summarize_run, _check_run), inherited by the workers
_ENDS = None  # (lock, shared [first run not taken, last run not taken]), inherited by the workers


def jobs() -> int:
    """Processes to use: ``ASYNCIFY_LINT_JOBS``, else the CPUs this process may run on (at most 8)."""
    env = os.environ.get("ASYNCIFY_LINT_JOBS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return min(n, MAX_JOBS)


def _can_fork() -> bool:
    import multiprocessing  # here: most runs are too small to fork (about 8 ms with concurrent.futures)

    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:
        return False
    return threading.active_count() == 1


def _summarize_run(rels: list[str]) -> list[tuple[str, tuple | None, bytes]]:
    """In a worker: each file's cache entry (its summary as the disk cache holds it; None when the
    text is not the file's, an overlay), and its summary pickled for this process's parent."""
    store = _STORE
    assert store is not None
    project = store.project
    out: list[tuple[str, tuple | None, bytes]] = []
    for rel in rels:
        store.sha(rel)  # the stat, then the text, as a serial run takes them (for the cache entry)
        text = store._text(rel)
        if text is not None:
            s = summarize_text(project, rel, text)
            entry = store.entry(rel, s)
            out.append((rel, entry, pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)))
    return out


def _take(front: bool) -> int | None:
    """The index of the next run not taken yet, from the front (this process) or the back (workers)."""
    assert _ENDS is not None
    lock, ends = _ENDS
    if not lock.acquire(timeout=60):  # a process died holding it: leave the rest to the serial path
        return None
    try:
        first, last = ends[0], ends[1]
        if first > last:
            return None
        if front:
            ends[0] = first + 1
            return first
        ends[1] = last - 1
        return last
    finally:
        lock.release()


def _work() -> tuple[int, list] | None:
    """In a worker: do the last run not taken yet (None: every run is taken)."""
    i = _take(front=False)
    if i is None:
        return None
    assert _RUN_ONE is not None
    return i, _RUN_ONE(_RUNS[i])


def _share_out(n: int, runs: list, run_one, local, take_in) -> bool:
    """Do ``runs`` in ``n`` processes: this one takes them from the front (``local(run)``), ``n - 1``
    forked workers from the back (``run_one(run)``); each worker's result is taken in
    (``take_in(result)``) as soon as it is done, while the work is still shared. A run whose worker
    failed is left to the caller's serial path. False when this process cannot fork."""
    global _ENDS, _RUNS, _RUN_ONE
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")
    _ENDS = (ctx.Lock(), ctx.RawArray("l", [0, len(runs) - 1]))
    _RUNS, _RUN_ONE = runs, run_one

    def collect(fut) -> None:
        try:
            done = fut.result()
        except Exception:  # a worker died or failed: its run is done serially
            return
        if done is not None:
            take_in(done[1])

    try:
        with ProcessPoolExecutor(max_workers=n - 1, mp_context=ctx) as pool:
            futures = [pool.submit(_work) for _ in runs]
            while True:
                i = _take(front=True)
                if i is None:
                    break
                local(runs[i])
                pending = []
                for fut in futures:
                    if fut.done():
                        collect(fut)
                    else:
                        pending.append(fut)
                futures = pending
            for fut in futures:
                collect(fut)
    except (OSError, RuntimeError):  # cannot fork here: the serial path does it all
        return False
    finally:
        _ENDS, _RUNS, _RUN_ONE = None, [], None
    return True


def _from_worker(pickled: bytes):
    """What a worker of this run sent: our own process's bytes, never a file's (the one unpickling)."""
    return pickle.loads(pickled)


def share(sizes: dict, n: int) -> list[list]:
    """``n`` runs of consecutive files (in the given order, a package's modules together: the modules
    a summary consults for types are mostly its neighbours, parsed once per process) of about equal
    size."""
    total = sum(sizes.values()) + len(sizes)
    chunks: list[list[str]] = [[] for _ in range(n)]
    done = 0
    for rel, size in sizes.items():
        i = min(n - 1, done * n // total) if total else 0
        chunks[i].append(rel)
        done += size + 1
    return chunks


def summarize(store, rels: list[str]) -> int:
    """Summarise in parallel the files of ``rels`` the cache (``store``, a ``SummaryStore``) does not
    hold, when it pays; returns the number of processes used (1: nothing was done here, the caller
    summarises serially)."""
    global _STORE
    n = jobs()
    if n < 2 or len(rels) < MIN_FILES:
        return 1
    sizes: dict[str, int] = {}
    root = store.project.root
    for rel in rels:
        if not store.load_cached(rel):
            try:
                sizes[rel] = os.stat(os.path.join(root, rel)).st_size  # each process reads its own files
            except OSError:
                sizes[rel] = 0
    total = sum(sizes.values())
    if len(sizes) < MIN_FILES or total < MIN_BYTES or not _can_fork():
        return 1
    n = min(n, max(2, total // MIN_BYTES))
    runs = share(sizes, min(len(sizes), n * RUNS_PER_PROCESS))

    def local(run: list[str]) -> None:
        for rel in run:
            store.get(rel)

    def take_in(done: list[tuple[str, tuple | None, bytes]]) -> None:
        for rel, entry, pickled in done:
            if rel not in store._summaries:
                store.add(rel, _from_worker(pickled), entry)

    _STORE = store
    try:
        forked = _share_out(n, runs, _summarize_run, local, take_in)
    finally:
        _STORE = None
    return n if forked else 1


# -- checking ---------------------------------------------------------------------------------------
# The rules of a large cold project run in worker processes too, once the call graph is built: the
# workers are forked after it, so each inherits the project, the graph and the facts made so far, and
# checks runs of files taken from the back, while this process takes them from the front, as for the
# summaries. Each file's diagnostics come back pickled (between the processes of this run only), with
# its results-cache entry (plain data) and its errors.

_LINTER = None  # the linter checking, inherited by the workers
_STATES: list = []  # the files of the run, inherited by the workers (runs hold indices into it)


def _check_run(indices: list[int]) -> list[tuple[int, bytes, dict | None, list[str]]]:
    linter = _LINTER
    assert linter is not None
    out = []
    for i in indices:
        st = _STATES[i]
        diags = linter.check_again(st)
        entry = linter.results.entries.get(st.relpath) if linter.results is not None else None
        out.append((i, pickle.dumps(diags, protocol=pickle.HIGHEST_PROTOCOL), entry, list(st.errors)))
    return out



def check(linter, states: list, todo: list[int]) -> dict[int, list]:
    """Check the files ``states[i]`` for ``i`` in ``todo`` in worker processes as well as this one, when
    it pays (the same conditions as for the summaries); returns the diagnostics of the files done
    (the caller checks whatever is missing serially)."""
    global _LINTER, _STATES
    n = jobs()
    if n < 2 or len(todo) < MIN_FILES:
        return {}
    sizes: dict[int, int] = {}
    for i in todo:
        src = states[i].source
        sizes[i] = len(src.raw) if src is not None and src.raw else len(states[i].text or "")
    total = sum(sizes.values())
    if total < MIN_BYTES or not _can_fork():
        return {}
    project = linter.project
    project.graph  # noqa: B018 - built once, before the workers are forked: they inherit it
    project.state  # noqa: B018
    project.versions  # noqa: B018
    if linter.results is not None:
        linter.results.epoch()
    n = min(n, max(2, total // MIN_BYTES))
    runs = [run for run in share(sizes, min(len(sizes), n * RUNS_PER_PROCESS)) if run]
    done: dict[int, list] = {}

    def local(run: list[int]) -> None:
        for j in run:
            done[j] = linter.check_again(states[j])

    def take_in(finished: list[tuple[int, bytes, dict | None, list[str]]]) -> None:
        for i, pickled, entry, errors in finished:
            st = states[i]
            done[i] = _from_worker(pickled)
            st.errors.extend(errors)
            if linter.results is not None:
                linter.results.adopt(st.relpath, entry)

    _LINTER, _STATES = linter, states
    try:
        _share_out(n, runs, _check_run, local, take_in)
    finally:
        _LINTER, _STATES = None, []
    return done
