"""Robustness at 1M lines: check, fix, fix again on real Python (the stdlib + site-packages).

    python benchmarks/robustness.py                      # build a fresh corpus in a temp dir, run, delete it
    python benchmarks/robustness.py --limit-lines 50000  # quick run on a small corpus
    python benchmarks/robustness.py --corpus /tmp/afy-corpus --keep   # build (or reuse) a pristine corpus

The corpus is a copy of the running interpreter's stdlib (``sysconfig.get_paths()["stdlib"]``, without
site-packages and __pycache__) and of its site-packages, under the neutral folder names
``corpus/stdlib`` and ``corpus/sitepkgs`` (so the default excludes, e.g. ``site-packages``, do not
hide them), with an empty ``setup.cfg`` as the project root marker. Files CPython itself cannot
compile are skipped and counted. ``--corpus DIR`` keeps that pristine corpus in DIR (built there when
DIR does not exist, reused when it does); the runs always work on a temporary copy of it.

Then, in one run, with ``sys.executable -m asyncify_lint`` in a subprocess:

1. check: ``--exit-zero --statistics <corpus>``: wall time, exit code, ``internal error`` lines,
   tracebacks (crash);
2. fix: ``--fix --unsafe-fixes --exit-zero <corpus>``: rewritten files (``Rewriting`` lines, and files
   whose bytes changed), internal errors, crashes (traceback, or exit code not 0/1); every changed file
   must compile;
3. fix again, the same command: no file may change (the offenders are listed with a short diff).

Prints a summary table; exits 1 if there was a crash, a changed file that does not compile, or a
rewrite in the second fix run (internal errors are reported, and counted, but are not by themselves
a failure: the engine refuses such fixes and says so).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field

TARGET_LINES = 1_000_000
MANIFEST = "robustness-corpus.json"
SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages"}
TRACEBACK = "Traceback (most recent call last):"
REWRITING = re.compile(r"^Rewriting (.+)$")
STAT_LINE = re.compile(r"^\s*(\d+)\t(AFY\d+)\t")


# --------------------------------------------------------------------------------------- corpus


def compiles(raw: bytes, path: str) -> str | None:
    """None if CPython compiles ``raw`` (a module's bytes), else why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(raw, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, UnicodeError, MemoryError, RecursionError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'msg', None) or exc}"
    return None


def site_packages() -> list[str]:
    """The running interpreter's site-packages directories (a venv's own first)."""
    out: list[str] = []
    candidates = [sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib")]
    try:
        candidates += site.getsitepackages()
    except AttributeError:  # pragma: no cover - old virtualenv's site module
        pass
    for c in candidates:
        if c and os.path.isdir(c) and os.path.realpath(c) not in {os.path.realpath(o) for o in out}:
            out.append(c)
    return out


@dataclass
class CorpusStats:
    files: int = 0
    lines: int = 0
    skipped: list[str] = field(default_factory=list)  # "path: why" of the files CPython cannot compile
    sources: dict[str, str] = field(default_factory=dict)  # folder in the corpus -> where it came from


def copy_tree(src: str, dest: str, stats: CorpusStats, budget: int | None) -> None:
    """The compilable .py files of ``src`` into ``dest``, until ``budget`` lines (None: all)."""
    copied = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            if budget is not None and copied >= budget:
                return
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except OSError as exc:
                stats.skipped.append(f"{path}: {exc}")
                continue
            why = compiles(raw, path)
            if why is not None:
                stats.skipped.append(f"{path}: {why}")
                continue
            out = os.path.join(dest, os.path.relpath(path, src))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(raw)
            n = raw.count(b"\n")
            copied += n
            stats.lines += n
            stats.files += 1


def build_corpus(dest: str, limit_lines: int | None) -> CorpusStats:
    stats = CorpusStats()
    os.makedirs(dest, exist_ok=True)
    sources = [("stdlib", sysconfig.get_paths()["stdlib"])]
    pkgs = site_packages()
    sources += [("sitepkgs" if i == 0 else f"sitepkgs{i + 1}", p) for i, p in enumerate(pkgs)]
    for i, (folder, src) in enumerate(sources):
        budget = None
        if limit_lines is not None:  # share the budget: a quick run still sees both kinds of code
            budget = max(0, (limit_lines - stats.lines) // (len(sources) - i))
        print(f"copying {src} -> {folder}/", file=sys.stderr, flush=True)
        copy_tree(src, os.path.join(dest, folder), stats, budget)
        stats.sources[folder] = src
    open(os.path.join(dest, "setup.cfg"), "w").close()  # the project root marker
    with open(os.path.join(dest, MANIFEST), "w") as f:
        json.dump({"files": stats.files, "lines": stats.lines, "skipped": stats.skipped,
                   "sources": stats.sources, "python": sys.version}, f, indent=1)
    return stats


def py_files(root: str) -> list[str]:
    """Relative paths of every .py file under root (the tool's own cache excluded)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".asyncify_cache")
        for name in sorted(filenames):
            if name.endswith(".py"):
                out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def snapshot(root: str) -> dict[str, bytes]:
    out = {}
    for rel in py_files(root):
        with open(os.path.join(root, rel), "rb") as f:
            out[rel] = f.read()
    return out


def load_stats(corpus: str, snap: dict[str, bytes]) -> CorpusStats:
    stats = CorpusStats(files=len(snap), lines=sum(b.count(b"\n") for b in snap.values()))
    try:
        with open(os.path.join(corpus, MANIFEST)) as f:
            m = json.load(f)
        stats.skipped, stats.sources = m.get("skipped", []), m.get("sources", {})
    except (OSError, ValueError):
        pass
    return stats


def linted_files(corpus: str) -> tuple[int, int] | None:
    """(files, lines) the tool itself lists under the corpus with its default excludes, when importable."""
    try:
        from asyncify_lint.config import Settings
        from asyncify_lint.project.discover import walk_files
    except ImportError:
        return None
    files = walk_files(corpus, Settings().exclude)
    lines = 0
    for rel in files:
        with open(os.path.join(corpus, rel), "rb") as f:
            lines += f.read().count(b"\n")
    return len(files), lines


# ------------------------------------------------------------------------------------------ runs


@dataclass
class RunResult:
    label: str
    argv: list[str]
    seconds: float = 0.0
    returncode: int | None = None
    timed_out: bool = False
    max_rss_mb: float | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    @property
    def internal_errors(self) -> list[str]:
        return [ln for ln in self.stderr_lines if "internal error" in ln]

    @property
    def other_errors(self) -> list[str]:
        return [ln for ln in self.stderr_lines if ln.startswith("asyncify-lint: error:") and "internal error" not in ln]

    @property
    def tracebacks(self) -> int:
        return self.stderr.count(TRACEBACK) + self.stdout.count(TRACEBACK)

    @property
    def rewriting(self) -> list[str]:
        return [m.group(1) for m in map(REWRITING.match, self.stderr_lines) if m]

    @property
    def crashed(self) -> bool:
        return self.timed_out or self.tracebacks > 0 or self.returncode not in (0, 1)


def run_tool(label: str, corpus: str, extra: list[str], timeout: float, logdir: str) -> RunResult:
    argv = [sys.executable, "-m", "asyncify_lint", *extra, corpus]
    res = RunResult(label, argv)
    out_path, err_path = os.path.join(logdir, f"{label}.stdout"), os.path.join(logdir, f"{label}.stderr")
    env = dict(os.environ, PYTHONSAFEPATH="1")  # the corpus root (cwd) must not shadow imports
    print(f"[{label}] {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=corpus, stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, _expire, (proc, res))
        timer.start()
        try:
            if hasattr(os, "wait4"):
                _pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                res.max_rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
            else:  # pragma: no cover
                proc.wait()
        finally:
            timer.cancel()
        res.seconds = time.perf_counter() - t
        res.returncode = proc.returncode
    with open(out_path, encoding="utf-8", errors="replace") as f:
        res.stdout = f.read()
    with open(err_path, encoding="utf-8", errors="replace") as f:
        res.stderr = f.read()
    print(f"[{label}] exit {res.returncode} in {res.seconds:.1f} s; logs {out_path}, {err_path}",
          file=sys.stderr, flush=True)
    return res


def _expire(proc: subprocess.Popen, res: RunResult) -> None:
    res.timed_out = True
    proc.kill()


def changed_files(corpus: str, before: dict[str, bytes]) -> dict[str, bytes]:
    """The files whose bytes differ from ``before`` (and the new ones), with their new bytes."""
    now = snapshot(corpus)
    out = {rel: b for rel, b in now.items() if before.get(rel) != b}
    for rel in before.keys() - now.keys():
        out[rel] = b""  # deleted: reported as changed
    return out


def short_diff(rel: str, a: bytes, b: bytes, limit: int = 24) -> str:
    lines = list(difflib.unified_diff(
        a.decode("utf-8", "replace").splitlines(keepends=True),
        b.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"a/{rel}", tofile=f"b/{rel}", n=1,
    ))
    more = len(lines) - limit
    text = "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines[:limit])
    return text + (f"... ({more} more diff lines)\n" if more > 0 else "")


# ------------------------------------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", metavar="DIR", help="the pristine corpus: built in DIR if missing, reused if present")
    p.add_argument("--keep", action="store_true", help="keep the temporary working copy (the fixed files, logs)")
    p.add_argument("--limit-lines", type=int, metavar="N", help="build a corpus of about N lines (quick run)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per tool run before it counts as a crash")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="afy-robustness-")
    corpus = os.path.join(work, "corpus")
    logdir = os.path.join(work, "logs")
    os.makedirs(logdir)
    t0 = time.perf_counter()
    if args.corpus and os.path.isdir(args.corpus) and os.listdir(args.corpus):
        print(f"reusing the corpus {args.corpus}", file=sys.stderr, flush=True)
        shutil.copytree(args.corpus, corpus, ignore=shutil.ignore_patterns(".asyncify_cache", "__pycache__"))
        if not os.path.exists(os.path.join(corpus, "setup.cfg")):
            open(os.path.join(corpus, "setup.cfg"), "w").close()
    elif args.corpus:
        build_corpus(args.corpus, args.limit_lines)
        shutil.copytree(args.corpus, corpus)
    else:
        build_corpus(corpus, args.limit_lines)
    pristine = snapshot(corpus)
    stats = load_stats(corpus, pristine)
    linted = linted_files(corpus)
    print(f"corpus: {stats.files} files, {stats.lines} lines, {len(stats.skipped)} skipped (do not compile); "
          f"built in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    if stats.lines < TARGET_LINES and not args.limit_lines:
        print(f"warning: the corpus has fewer than {TARGET_LINES:,} lines", file=sys.stderr)

    # 1. check
    check = run_tool("check", corpus, ["--exit-zero", "--statistics"], args.timeout, logdir)
    by_code = {m.group(2): int(m.group(1)) for m in map(STAT_LINE.match, check.stdout.splitlines()) if m}

    # 2. fix
    fix_argv = ["--fix", "--unsafe-fixes", "--exit-zero"]
    fix1 = run_tool("fix", corpus, fix_argv, args.timeout, logdir)
    changed1 = changed_files(corpus, pristine)
    not_compiling = {}
    for rel, raw in sorted(changed1.items()):
        why = compiles(raw, rel)
        if why is not None:
            not_compiling[rel] = why
    after1 = {**pristine, **changed1}

    # 3. fix again
    fix2 = run_tool("fix-again", corpus, fix_argv, args.timeout, logdir)
    changed2 = changed_files(corpus, after1)

    runs = (check, fix1, fix2)
    crashes = sum(r.crashed for r in runs)
    internal = sum(len(r.internal_errors) for r in runs)
    rows = [
        ("python", sys.version.split()[0]),
        ("corpus lines", f"{stats.lines:,}"),
        ("corpus files", f"{stats.files:,}"),
        ("files skipped (CPython cannot compile)", f"{len(stats.skipped):,}"),
    ]
    if linted is not None:
        rows.append(("files / lines the tool lists (default excludes)", f"{linted[0]:,} / {linted[1]:,}"))
    rows += [
        ("check seconds", f"{check.seconds:.1f}"),
        ("check exit code", str(check.returncode)),
        ("check diagnostics", f"{sum(by_code.values()):,}"),
        ("fix seconds", f"{fix1.seconds:.1f}"),
        ("fix exit code", str(fix1.returncode)),
        ("second fix seconds", f"{fix2.seconds:.1f}"),
        ("peak RSS check / fix / fix again (MB)",
         " / ".join("?" if r.max_rss_mb is None else f"{r.max_rss_mb:.0f}" for r in runs)),
        ("crashes (traceback, timeout, exit code not 0/1)", str(crashes)),
        ("internal errors (check / fix / fix again)", f"{internal} ({' / '.join(str(len(r.internal_errors)) for r in runs)})"),
        ("other errors", str(sum(len(r.other_errors) for r in runs))),
        ("rewritten files ('Rewriting' lines / bytes changed)", f"{len(fix1.rewriting):,} / {len(changed1):,}"),
        ("compile failures", str(len(not_compiling))),
        ("second-run rewrites ('Rewriting' lines / bytes changed)", f"{len(fix2.rewriting)} / {len(changed2)}"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    print(f"| {'measure':<{width}} | value |")
    print(f"| {'-' * width} | ---: |")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")
    print()
    if by_code:
        print("diagnostics by code (check): " + ", ".join(f"{c} {n}" for c, n in sorted(by_code.items())))
    for r in runs:
        if r.crashed:
            why = "timed out" if r.timed_out else f"exit code {r.returncode}, {r.tracebacks} traceback(s)"
            print(f"\nCRASH in {r.label}: {why}; end of stderr:")
            print("\n".join(r.stderr_lines[-30:]))
        for ln in r.internal_errors[:20]:
            print(f"internal error ({r.label}): {ln}")
        for ln in r.other_errors[:10]:
            print(f"error ({r.label}): {ln}")
    for rel, why in list(not_compiling.items())[:20]:
        print(f"\nDOES NOT COMPILE after the fix: {rel}: {why}")
        print(short_diff(rel, pristine.get(rel, b""), changed1[rel]), end="")
    if changed2:
        print(f"\nNOT IDEMPOTENT: {len(changed2)} file(s) rewritten again by the second fix run:")
        for rel in sorted(changed2)[:10]:
            print(short_diff(rel, after1.get(rel, b""), changed2[rel]), end="")
    if stats.skipped:
        print(f"\n{len(stats.skipped)} file(s) skipped from the corpus (CPython cannot compile them), e.g.:")
        for s in stats.skipped[:5]:
            print(f"  {s}")

    if args.keep:
        print(f"\nkept the working copy (fixed files, logs): {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.corpus:
        print(f"pristine corpus: {args.corpus}")
    failed = crashes or not_compiling or changed2
    print("\nRESULT: " + ("FAIL" if failed else "OK"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
