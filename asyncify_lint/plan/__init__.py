"""``asyncify-lint plan``: the whole migration, split into reviewable steps, before anything is written.

``asyncify-lint plan [PATHS]`` prints the plan as Markdown (``--html``: one self-contained page; ``-o FILE``
writes it there). ``asyncify-lint plan --apply N`` writes step N of the plan, as ``--fix`` writes (every
file of it or none, through the journal).
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from asyncify_lint.cli import _failed_in, _interrupted_migration, resolve_settings
from asyncify_lint.cli_common import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _Parser, _write_migration
from asyncify_lint.config import Settings
from asyncify_lint.output import format_text_line
from asyncify_lint.engine.runner import Linter
from asyncify_lint.engine.transaction import journal_path
from asyncify_lint.project import Project


def build_parser() -> _Parser:
    p = _Parser(prog="asyncify-lint plan",
                description="Plan the migration: what becomes async, the call graph, and the steps, each one "
                            "reviewable diff; with --apply N, write step N.")
    p.add_argument("paths", nargs="*", help="files or directories (default: the project containing the current "
                                            "directory)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the plan to FILE instead of stdout")
    p.add_argument("--html", action="store_true", help="a self-contained HTML page (default: Markdown)")
    p.add_argument("--apply", type=int, metavar="N", help="write step N of the plan (as --fix writes)")
    p.add_argument("--unsafe-fixes", action="store_true", default=None, help="plan the unsafe fixes too")
    p.add_argument("--select", help="comma-separated code prefixes to enable")
    p.add_argument("--extend-select", help="code prefixes to enable in addition to the configured ones")
    p.add_argument("--ignore", help="comma-separated code prefixes to disable")
    p.add_argument("--config", metavar="FILE", help="read settings from this setup.cfg or pyproject.toml")
    p.add_argument("--cache-dir", metavar="DIR", help="keep the summary cache in DIR")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the summary cache")
    p.set_defaults(strategy=None)  # the plan is the default strategy's; the bridge applies to a whole --fix
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.apply is not None and (args.html or args.output):
        raise UsageError("--apply writes a step; it prints no plan (drop --html / -o)")
    paths, choice, settings = resolve_settings(args)
    root = choice.root
    if settings.project_state == "auto":
        # a plan is a migration, and its later steps meet a project that is async in part already
        settings.project_state = "migrating"
    if not Linter(Project(root, settings), settings).rules:
        raise UsageError("no rule matches the selection")
    if args.apply is not None:
        return apply_step(root, paths, settings, args.apply)
    from asyncify_lint.plan import render, report

    plan = report.build(root, paths, settings)
    text = render.page(plan) if args.html else render.markdown(plan) + "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        except OSError as exc:
            raise UsageError(f"{args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return EXIT_CLEAN


def apply_step(root: str, paths: list[str], settings: Settings, number: int) -> int:
    """Write step ``number`` of the plan of the code as it is now: only the fixes of its units."""
    from asyncify_lint.plan.report import plural
    from asyncify_lint.plan.steps import plan_steps, risks, simulate

    root = os.path.abspath(root)
    journal = journal_path(root)
    stop, _ = _interrupted_migration(journal, root, True)
    if stop is not None:
        return stop
    plan = plan_steps(root, paths, settings)
    steps = plan.steps
    if not steps:
        print("asyncify-lint: nothing to apply: no fix applies", file=sys.stderr)
        return EXIT_CLEAN
    if not 1 <= number <= len(steps):
        raise UsageError(f"--apply {number}: the plan has {plural(len(steps), 'step')}")
    step = steps[number - 1]
    if step.after is not None:
        raise UsageError(f"--apply {number}: step {number} builds on step {step.after.number}; apply that first")
    if number == 1:
        run = plan.runs[0]
    else:  # on the code as it is (the steps before it are independent of it)
        run = simulate(plan.root, plan.settings, plan.files, None, step.allows, {rel for rel, _ in step.units})
    for d in risks(run):  # as --fix prints its test-impact report: first, before anything is written
        print(format_text_line(d, False), file=sys.stderr)
    failed = [_failed_in(st) for st in run.states if st.errors]
    for st in run.states:
        for e in st.errors:
            print(f"asyncify-lint: error: {e}", file=sys.stderr)
    code, written = _write_migration(run.linter.project, run.states, {}, failed, journal)
    if code != EXIT_CLEAN:
        return code
    left = len(steps) - 1
    print(f"asyncify-lint: step {number} of {len(steps)} written ({plural(written, 'file')}); "
          + (f"{plural(left, 'step')} left: `asyncify-lint plan` plans them" if left else "the plan is done"),
          file=sys.stderr)
    return EXIT_FINDINGS if written else EXIT_CLEAN

