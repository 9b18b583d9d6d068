"""Peer recall: what flake8-async and ruff's ASYNC rules find on our AFY110-AFY118 fixtures.

Runs asyncify-lint (AFY110-AFY118, in-process), ``flake8 --select ASYNC`` (flake8-async) and
``ruff check --select ASYNC --isolated`` on tests/fixtures/rules/afy11*.py (inputs, not the fixed
outputs). Findings are matched by (file, line); only the peers' blocking-call rules count (ASYNC2xx,
their other rules are about cancellation and checkpoints). For each peer it prints a Markdown table
of the lines it shares with us, the lines it misses (ours only) and the lines it adds (its only),
followed by the added findings themselves.

    /work/venv/bin/python benchmarks/peer_recall.py [--venv /work/venv]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from asyncify_lint.config import Settings  # noqa: E402
from asyncify_lint.engine.runner import Linter  # noqa: E402
from asyncify_lint.project import Project  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "rules")
FAMILY = [f"AFY11{i}" for i in range(9)]
PEER_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>ASYNC\d+) (?P<msg>.*)$")
BLOCKING = re.compile(r"^ASYNC2\d\d$")


def fixtures() -> list[str]:
    return sorted(p for p in glob.glob(os.path.join(FIXTURES, "afy11*.py")) if not p.endswith(".fixed.py"))


def ours(paths: list[str]) -> dict[tuple[str, int], list[str]]:
    settings = Settings(select=FAMILY)
    linter = Linter(Project(FIXTURES, settings), settings)
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for p in paths:
        st = linter.load(p, os.path.basename(p))
        for d in linter.check(st):
            out[(os.path.basename(p), d.line)].append(f"{d.code} {d.message}")
    return out


def peer(cmd: list[str], paths: list[str]) -> dict[tuple[str, int], list[str]]:
    proc = subprocess.run(cmd + paths, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for line in proc.stdout.splitlines():
        m = PEER_LINE.match(line.strip())
        if m and BLOCKING.match(m["code"]):
            out[(os.path.basename(m["path"]), int(m["line"]))].append(f"{m['code']} {m['msg']}")
    return out


def table(name: str, mine: dict, theirs: dict, paths: list[str]) -> str:
    rows = [f"### {name}", "", "| fixture | ours | shared | missed by peer | added by peer |", "|---|---:|---:|---:|---:|"]
    tot = [0, 0, 0, 0]
    for p in paths:
        f = os.path.basename(p)
        a = {ln for (ff, ln) in mine if ff == f}
        b = {ln for (ff, ln) in theirs if ff == f}
        counts = [len(a), len(a & b), len(a - b), len(b - a)]
        tot = [x + y for x, y in zip(tot, counts)]
        rows.append(f"| {f} | " + " | ".join(str(c) for c in counts) + " |")
    rows.append("| **total** | " + " | ".join(f"**{c}**" for c in tot) + " |")
    recall = tot[1] / tot[0] if tot[0] else 0.0
    rows.append("")
    rows.append(f"{name} reports {tot[1]} of our {tot[0]} finding lines ({recall:.0%}); it adds {tot[3]}.")
    added = sorted(k for k in theirs if k not in mine)
    if added:
        rows.append("")
        rows.append(f"Added by {name} (not reported by AFY110-AFY118):")
        rows.append("")
        for f, ln in added:
            rows.append(f"- `{f}:{ln}` {theirs[(f, ln)][0]}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", default=os.environ.get("VIRTUAL_ENV", "/work/venv"))
    args = ap.parse_args(argv)
    paths = fixtures()
    rel = [os.path.relpath(p, ROOT) for p in paths]
    mine = ours(paths)
    bin_ = os.path.join(args.venv, "bin")
    tools = [
        ("flake8-async", [os.path.join(bin_, "flake8"), "--select", "ASYNC"]),
        ("ruff", [os.path.join(bin_, "ruff"), "check", "--select", "ASYNC", "--isolated", "--output-format", "concise"]),
    ]
    print(f"## Peer recall on the AFY110-AFY118 fixtures ({len(paths)} files, matched by line)\n")
    for name, cmd in tools:
        print(table(name, mine, peer(cmd, rel), paths))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
