"""``asyncify-lint``: the command line front end (ruff-like, flake8-compatible output)."""

from __future__ import annotations

import argparse
import ast
import atexit
import errno
import gc
import importlib
import os
import re
import sys
from collections import Counter
from typing import Sequence

from asyncify_lint import __version__, output
from asyncify_lint.cli_common import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, UsageError, _Parser, _write_migration
from asyncify_lint.config import (
    STRATEGIES,
    ConfigError,
    Settings,
    _check_codes,
    load_config,
    load_nearest_config,
    parse_per_file_ignores,
)
from asyncify_lint.diagnostics import Diagnostic
from asyncify_lint.engine.runner import MAX_CYCLES, FileState, Linter, display_path, gc_paused
from asyncify_lint.project import Project
from asyncify_lint.project.approot import RootChoice, choose_root
from asyncify_lint.project.discover import matches_any, walk_files
from asyncify_lint.registry import all_rules, get_rule

# What only --fix / --diff (the bridge, the writing of a migration, difflib), --baseline or a subcommand
# uses is imported in the function that uses it, so that a check imports no more than it needs (and
# `--version` or a subcommand, not the migration's machinery).


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="asyncify-lint",
        description="Find what is still synchronous in a FastAPI + SQLAlchemy app, and fix it mechanically.",
        epilog="`asyncify-lint rule CODE|NAME|--all` prints the documentation of rules.",
    )
    p.add_argument("paths", nargs="*", help="files or directories (default: the project containing the current directory)")
    p.add_argument("--select", help="comma-separated code prefixes to enable (e.g. AFY3,AFY201)")
    p.add_argument("--extend-select", help="code prefixes to enable in addition to the configured ones")
    p.add_argument("--ignore", help="comma-separated code prefixes to disable")
    p.add_argument("--fix", action="store_true", help="apply safe fixes (one rule at a time; see README, Fix order)")
    p.add_argument("--unsafe-fixes", action="store_true", default=None, help="also apply unsafe fixes")
    p.add_argument("--strategy", choices=STRATEGIES, help="with --fix: `bridge` also keeps working the names "
                   "sync tests use (sync twins, @sync_bridge; see README, Tests tied to the sync API)")
    p.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    p.add_argument("--output-format", "--format", dest="output_format", choices=tuple(output.FORMATS),
                   default="text", help="output format")
    p.add_argument("--exclude", metavar="GLOBS", help="comma-separated patterns of files to leave out, "
                   "replacing the configured ones (as the `exclude` setting)")
    p.add_argument("--extend-exclude", metavar="GLOBS", help="patterns to leave out in addition to `exclude`")
    p.add_argument("--per-file-ignores", metavar="PAIRS", action="append", help="`glob:CODE,CODE` pairs: codes "
                   "ignored in the files a pattern matches (flake8's syntax; replaces the setting)")
    p.add_argument("--fixable", metavar="PREFIXES", help="comma-separated code prefixes whose fixes apply "
                   "(default: all)")
    p.add_argument("--unfixable", metavar="PREFIXES", help="code prefixes whose fixes never apply")
    p.add_argument("--add-noqa", action="store_true", help="add a `# noqa: AFYnnn` directive to every line with a "
                   "finding; write the files")
    p.add_argument("--stdin-filename", metavar="NAME", help="read the source from stdin and report it as NAME; "
                   "with --fix, print the fixed source on stdout and write nothing")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when diagnostics remain")
    p.add_argument("--exit-non-zero-on-fix", action="store_true", help="with --fix: exit 1 when files were "
                   "rewritten, even if no diagnostics remain")
    p.add_argument("--show-fixes", action="store_true", help="with --fix: list the fixes applied, per file and code")
    p.add_argument("--baseline", metavar="FILE", help="report only the findings this baseline file does not accept")
    p.add_argument("--update-baseline", action="store_true", help="write the current findings to the --baseline "
                   "file, and exit 0")
    p.add_argument("--statistics", action="store_true", help="print the count of each code")
    p.add_argument("--explain", metavar="CODE", help="print the documentation of a rule")
    p.add_argument("--config", metavar="FILE", help="read settings from this setup.cfg or pyproject.toml")
    p.add_argument("--cache-dir", metavar="DIR", help="keep the summary cache in DIR (default: "
                   "$ASYNCIFY_LINT_CACHE_DIR, else the `cache-dir` setting, else .asyncify_cache at the project root)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the summary cache")
    level = p.add_mutually_exclusive_group()
    level.add_argument("-q", "--quiet", action="store_true", help="print the diagnostics only, no summary")
    level.add_argument("-v", "--verbose", action="store_true", help="also say, on stderr, which project root, "
                       "settings and files the run uses")
    p.add_argument("--version", action="version", version=f"asyncify-lint {__version__}")
    return p


def _list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _codes(value: str | None, flag: str) -> list[str] | None:
    items = _list(value)
    if items is None:
        return None
    try:
        return _check_codes(items, flag)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def explain(code: str) -> int:
    from asyncify_lint import rule_command

    return rule_command.show([rule_command.lookup(code)], "text", many=False)


def _apply_options(settings: Settings, args: argparse.Namespace) -> None:
    """The command line's settings, over the configuration's (an option a command does not have is
    left as configured)."""
    def opt(name: str):
        return getattr(args, name, None)

    select = _codes(opt("select"), "--select")
    if select is not None:
        settings.select = select
        settings.extend_select = []
    extend = _codes(opt("extend_select"), "--extend-select")
    if extend:
        settings.extend_select = list(settings.extend_select) + extend
    for flag in ("ignore", "fixable", "unfixable"):
        codes = _codes(opt(flag), f"--{flag}")
        if codes is not None:
            setattr(settings, flag, codes)
    if opt("exclude") is not None:
        settings.exclude = _list(opt("exclude"))
    if opt("extend_exclude") is not None:
        settings.extend_exclude = list(settings.extend_exclude) + _list(opt("extend_exclude"))
    if opt("per_file_ignores") is not None:
        settings.per_file_ignores = parse_per_file_ignores(opt("per_file_ignores"), "--per-file-ignores")
    if opt("unsafe_fixes") is not None:
        settings.unsafe_fixes = opt("unsafe_fixes")
    if opt("strategy") is not None:
        settings.strategy = opt("strategy")
    if opt("cache_dir"):
        settings.cache_dir_option = os.path.abspath(os.path.expanduser(opt("cache_dir")))
    if opt("no_cache"):
        settings.no_cache = True


def _missing_reason(path: str) -> str:
    """Why ``os.path.exists`` said no: a symlink loop, a dangling symlink, no permission, or nothing."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (too many levels of symbolic links)"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
        if exc.errno != errno.ENOENT and exc.strerror:
            return exc.strerror[:1].lower() + exc.strerror[1:]
    return "no such file or directory"


def collect_files(paths: list[str], project: Project, settings: Settings) -> list[str]:
    exclude = tuple(settings.exclude) + tuple(settings.extend_exclude)
    out: list[str] = []
    for path in paths:
        if not os.path.exists(path):
            raise UsageError(f"{path}: {_missing_reason(path)}")
        if os.path.isdir(path):
            for rel in walk_files(path, exclude):
                out.append(os.path.normpath(os.path.join(path, rel)))
        else:
            rel = project.relpath(path)
            if not matches_any(rel, exclude):
                out.append(path)
    seen = set()
    unique = []
    for f in out:
        key = os.path.abspath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def entry() -> None:
    """The ``asyncify-lint`` command and ``python -m asyncify_lint``: ``main()``, then a fast exit.

    A run holds every summary, call graph edge and parsed tree it made; at exit the interpreter would
    collect and free them one by one (with the collector back on, first a pass over all of them), which
    takes longer than a warm run's analysis (at 1M lines: 0.5-1.4 s after a 1 s run). Once the output
    is flushed and the exit handlers have run, there is nothing left to clean: every file this run
    wrote was written and closed through a rename. So the process ends there, as mypy's does."""
    gc.disable()  # and left off: main() puts back what it found, so no collection runs before the exit
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said there
            pass
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()  # coverage's, multiprocessing's: whatever a normal exit would have run
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with gc_paused():
            return _main(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"asyncify-lint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (ConfigError, *_baseline_errors()) as exc:
        print(f"asyncify-lint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `asyncify-lint ... | head`: the reader left; say nothing more
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - flushing at exit must not fail again
        except OSError:
            pass
        return EXIT_FINDINGS


def _baseline_errors() -> tuple[type[Exception], ...]:
    """``baseline.BaselineError`` once the baseline module is imported (only a run with --baseline
    imports it, and nothing else raises it); before that, nothing."""
    module = sys.modules.get("asyncify_lint.baseline")
    return (module.BaselineError,) if module is not None else ()


# `asyncify-lint NAME ...`: a command of its own, in its own module (imported only when used), whose
# `main(argv)` returns the exit code. Anything else is a check of the paths given.
SUBCOMMANDS: dict[str, str] = {
    "rule": "asyncify_lint.rule_command",
    "server": "asyncify_lint.server",  # the language server (needs the `server` extra: pygls)
    "plan": "asyncify_lint.plan",
}


def _main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[argv[0]])
        return module.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.explain:
        return explain(args.explain)
    stdin = args.stdin_filename
    if stdin is not None and args.paths not in ([], ["-"]):
        raise UsageError("--stdin-filename reads the source from stdin: give no paths")
    if args.add_noqa and (args.fix or args.diff or stdin is not None):
        raise UsageError("--add-noqa cannot be used with --fix, --diff or --stdin-filename")
    if args.update_baseline and (not args.baseline or args.diff):
        raise UsageError("--update-baseline needs --baseline FILE, and no --diff")
    if args.baseline:
        from asyncify_lint import baseline
    accepted = baseline.load(args.baseline) if args.baseline and not args.update_baseline else None

    paths, choice, settings = resolve_settings(args, stdin)
    root = choice.root
    if stdin is not None and settings.strategy == "bridge" and (args.fix or args.diff):
        raise UsageError("--strategy bridge writes new files: it cannot fix the source read from stdin")

    project = Project(root, settings)
    linter = Linter(project, settings)
    if not linter.rules:
        raise UsageError("no rule matches the selection")
    from asyncify_lint.engine.transaction import journal_path  # the journal an interrupted --fix left

    journal = journal_path(project.root)
    stop, rewritten = _interrupted_migration(journal, project.root, args.fix and not args.diff and stdin is None)
    if stop is not None:
        return stop
    if stdin is not None:
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        states = [linter.load(stdin, display_path(os.path.abspath(stdin)), data=data)]
    else:
        states = [linter.load(f, display_path(f)) for f in collect_files(paths, project, settings)]
    if args.verbose:
        where = f"{display_path(settings.source)}" if settings.source else "defaults (no configuration section)"
        print(f"asyncify-lint: project root: {display_path(root)}: {choice.why}\n"
              f"asyncify-lint: settings: {where}\n"
              f"asyncify-lint: {project.state.describe()}\n"
              f"asyncify-lint: files: {len(states)} checked, {len(project.files)} in the project", file=sys.stderr)
    exit_code = EXIT_CLEAN
    for st in states:
        for e in st.errors:
            print(f"asyncify-lint: error: {e}", file=sys.stderr)
            exit_code = EXIT_ERROR
        st.errors.clear()  # each error is said once; later phases print only what they add

    fixing = args.fix or args.diff
    new_files: dict[str, str] = {}
    failed: list[str] = []  # where the fixes failed: then no file of the migration is written
    if fixing:
        tests = _test_states(linter, states) if args.fix and not args.diff else []
        owners: dict[int, str] = {}  # id(finding) -> the test it is in (see _impact_report)
        report = _impact_report(linter, tests, "before", owners) if args.fix and not args.diff else []
        fix_all(linter, states)
        done = None
        if settings.strategy == "bridge":
            from asyncify_lint.bridge import bridge

            try:
                done = bridge(linter, states)
            except Exception as exc:  # a bug in the bridge: said in one line, and nothing is written
                print(f"asyncify-lint: error: internal error in the bridge: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
                failed.append("the bridge")
                exit_code = EXIT_ERROR
        if settings.strategy == "bridge":  # what the migration left unused, once the bridge's twins are in
            for st in states:
                before = st.text
                linter.drop_unused_imports(st)
                if st.text != before:
                    project.set_overlay(st.relpath, st.text)
        if done is not None:
            relpaths = {st.display: st.relpath for st in [*states, *tests]}
            report = [d for d in report if (relpaths.get(d.path, d.path), d.line, d.col) not in done.covered]
            new_files = done.new_files
        if args.fix and not args.diff:
            report += _impact_report(linter, tests, "after", owners)
        # the test-impact report comes first, before anything is written
        for d in report:
            print(output.format_text_line(d, False), file=sys.stderr)
        named = list(dict.fromkeys(owners[id(d)] for d in report if id(d) in owners))
        if named:
            shown = ", ".join(named[:8]) + (f", and {len(named) - 8} more" if len(named) > 8 else "")
            if settings.strategy == "bridge":
                print(f"asyncify-lint: {len(named)} test{'s' if len(named) != 1 else ''} the bridge does not "
                      f"keep working, to port: {shown}", file=sys.stderr)
            else:
                print(f"asyncify-lint: {len(named)} test{'s' if len(named) != 1 else ''} use{'' if len(named) != 1 else 's'} "
                      f"what the migration changes and will fail, or pass by accident, until ported: {shown}; "
                      "`--strategy bridge` keeps the sync names tests use working (README, \"Tests tied to "
                      "the sync API\")", file=sys.stderr)
        if done is not None:
            for line in done.kept:
                print(f"asyncify-lint: bridge: {line}", file=sys.stderr)
            for note in done.notes:
                print(f"asyncify-lint: bridge: {note}", file=sys.stderr)
        for st in states:
            if st.errors:
                failed.append(_failed_in(st))
            for e in st.errors:
                print(f"asyncify-lint: error: {e}", file=sys.stderr)
                exit_code = EXIT_ERROR
            st.errors.clear()
        if not failed:  # a suppression the fixes disagree with: the migration would drop coroutines
            conflicts = linter.kept_sync_conflicts(states)
            for st, line in conflicts:
                print(f"asyncify-lint: error: {line}; remove the `# noqa`, or accept the call with "
                      "`# noqa: AFY401`", file=sys.stderr)
            for display in dict.fromkeys(st.display for st, _ in conflicts):
                failed.append(f"{display} (a `# noqa` keeps a caller sync)")
                exit_code = EXIT_ERROR

    if args.fix and not args.diff and stdin is not None:  # the fixed source on stdout; nothing is written
        st = states[0]
        fixed = st.source.encode(st.text) if st.source is not None and not failed else data
        sys.stdout.flush()
        if hasattr(sys.stdout, "buffer"):
            sys.stdout.buffer.write(fixed)
        else:  # a text stream (tests): the fixed text
            sys.stdout.write(fixed.decode(st.source.encoding if st.source else "utf-8", "surrogateescape"))
    elif args.fix and not args.diff:
        code, written = _write_migration(project, states, new_files, failed, journal, args.quiet)
        if code > EXIT_ERROR:  # interrupted by a signal
            return code
        exit_code = max(exit_code, code)
        rewritten += written
    if args.diff:  # the fixes as a unified diff; nothing is written
        import difflib

        for st in states:
            if not st.changed:
                continue
            rewritten += 1
            assert st.source is not None and st.text is not None
            sys.stdout.writelines(
                difflib.unified_diff(
                    st.source.text.splitlines(keepends=True),
                    st.text.splitlines(keepends=True),
                    fromfile=f"a/{st.display}",
                    tofile=f"b/{st.display}",
                )
            )
            if not st.text.endswith(("\n", "\r")):
                sys.stdout.write("\n")
        for rel, text in sorted(new_files.items()):
            rewritten += 1
            display = display_path(os.path.join(project.root, rel))
            sys.stdout.writelines(difflib.unified_diff([], text.splitlines(keepends=True), fromfile="/dev/null",
                                                       tofile=f"b/{display}"))
    if args.diff:
        if rewritten:
            exit_code = max(exit_code, EXIT_FINDINGS)
        if not linter.unsafe_fixes:  # what the diff leaves out
            diags, failed_check = _check(linter, states)
            hidden = _hidden(linter, states, diags)
            if hidden:
                print(output.hidden_fixes(hidden), file=sys.stderr)
            if failed_check:
                exit_code = EXIT_ERROR
        return exit_code if not args.exit_zero else (EXIT_ERROR if exit_code == EXIT_ERROR else EXIT_CLEAN)

    if stdin is None and not fixing:  # a check of the files on disk: earlier results still true are reused
        from asyncify_lint.project.results import ResultCache

        linter.results = ResultCache(linter)
        for st in states:
            linter.results.seen(st)
    diags, failed_check = _check(linter, states)
    if linter.results is not None:
        linter.results.save()
        if args.verbose:
            print(f"asyncify-lint: {linter.results.describe()}", file=sys.stderr)
    if failed_check:
        exit_code = EXIT_ERROR
    if args.add_noqa:
        from asyncify_lint.add_noqa import write_noqa

        return max(exit_code, write_noqa(project, states, [d for d, _ in diags], journal, args.quiet))

    out = sys.stderr if stdin is not None and args.fix else sys.stdout  # (stdout holds the fixed source)
    by_display = {st.display: st for st in states}
    report = output.Report(
        diags,
        project.root,
        linter.rules,
        {st.display: _report_file(project, st) for st in states},
        lambda d: linter.fix_edits(by_display[d.path], d.fix) if d.fix is not None else [],
    )
    if args.update_baseline:
        n = baseline.write(args.baseline, report)
        print(f"asyncify-lint: wrote {n} finding{'s' if n != 1 else ''} to {args.baseline}", file=sys.stderr)
        return exit_code if exit_code == EXIT_ERROR else EXIT_CLEAN
    if accepted is not None:
        report = baseline.new_findings(report, accepted)
    all_diags = report.diagnostics
    out.write(output.FORMATS[args.output_format](report))
    if args.statistics:
        counts = Counter(d.code for d, _ in all_diags)
        fixable = Counter(d.code for d, f in all_diags if f)
        for code, n in sorted(counts.items()):
            rule = get_rule(code)
            name = rule.name if rule else ""
            print(f"{n:>5}\t{code}\t{'[*] ' if fixable[code] else ''}{name}", file=out)
        print(f"{project.unresolved:>5}\tunresolved calls", file=out)
    if args.output_format == "text" and not args.quiet:
        fixed = {st.display: st.fixed for st in states if st.fixed}
        if args.show_fixes and fixed:
            print(f"\n{output.fix_summary(fixed)}", file=out)
        nfix = sum(1 for _, f in all_diags if f)
        out.write(output.summary(len(all_diags), nfix, _hidden(linter, states, all_diags),
                                 sum(sum(c.values()) for c in fixed.values())))
    if all_diags or (rewritten and args.exit_non_zero_on_fix):
        exit_code = max(exit_code, EXIT_FINDINGS)
    if args.exit_zero and exit_code == EXIT_FINDINGS:
        return EXIT_CLEAN
    return exit_code


def _check(linter: Linter, states: list[FileState]) -> tuple[list[tuple[Diagnostic, bool]], bool]:
    """The diagnostics of the files' current text, sorted, each with whether its fix applies; and whether
    a rule failed (said on stderr)."""
    diags: list[tuple[Diagnostic, bool]] = []
    failed = False
    for st, found in zip(states, linter.check_all(states)):
        for d in found:
            diags.append((d, linter.fixable(d, st)))
        for e in st.errors:
            print(f"asyncify-lint: error: {e}", file=sys.stderr)
            failed = True
    diags.sort(key=lambda df: df[0].sort_key())
    return diags, failed


def _hidden(linter: Linter, states: list[FileState], diags: list[tuple[Diagnostic, bool]]) -> int:
    """How many of ``diags`` have a fix that only ``--unsafe-fixes`` would apply."""
    if linter.unsafe_fixes:
        return 0
    by_display = {st.display: st for st in states}
    return sum(1 for d, f in diags if not f and linter.fixable(d, by_display[d.path], unsafe=True))


def _report_file(project: Project, st: FileState) -> output.ReportFile:
    source = st.source
    if source is not None and st.text is not None and st.text != source.text:
        source = source.with_text(st.text)
    return output.ReportFile(st.relpath.replace(os.sep, "/"), os.path.normpath(os.path.join(project.root, st.relpath)),
                             source)


def resolve_settings(args: argparse.Namespace, stdin: str | None = None) -> tuple[list[str], RootChoice, Settings]:
    """The paths, the project root (and why it was chosen) and the settings of a run: the nearest
    configuration, then the options given (a command without one of the options leaves it as it is)."""
    cwd = os.getcwd()
    choice = choose_root([stdin] if stdin is not None else args.paths or [cwd], cwd)
    paths = args.paths or [choice.root]
    if args.config:
        if not os.path.isfile(args.config):
            raise UsageError(f"{args.config}: no such file")
        settings = load_config(os.path.dirname(os.path.abspath(args.config)))
    else:
        settings = load_nearest_config(choice.root, choice.outer)
    _apply_options(settings, args)
    return paths, choice, settings


def fix_all(linter: Linter, states: list[FileState]) -> None:
    """Apply the fixes to every file, in memory: one rule at a time, and again over the files while a fix
    in one file creates findings in another."""
    for _round in range(MAX_CYCLES):
        changed = False
        for st in states:
            if linter.fix(st):
                changed = True
        if not changed:
            break


def _impact_report(linter: Linter, tests: list[FileState], when: str,
                   owners: dict[int, str] | None = None) -> list[Diagnostic]:
    """Test-impact findings (AFY5xx) of the rules run ``when`` ("before": on the code as it was; "after":
    on the migrated code) in the project's test files ``tests``; ``--fix`` prints them before anything
    is written. ``owners``, when given, gets for each AFY501 finding (by id) the test it is in:
    ``tests/test_a.py::test_b``, or the whole file for a finding in a fixture, a helper or at module
    level (every test of the file may depend on it)."""
    impact = [r for r in all_rules() if r.report == when and r in linter.rules]
    out: list[Diagnostic] = []
    if not impact:
        return out
    for st in tests:
        if st.source is None:
            continue
        try:
            ctx = linter.make_context(st)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        defs = None
        for d in linter.diagnostics(ctx, impact):
            d.path = st.display
            out.append(d)
            if owners is None or d.code != "AFY501":
                continue
            if defs is None:
                defs = [n for n in ctx.nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            inner = max((n for n in defs if n.lineno <= d.line <= (n.end_lineno or n.lineno)),
                        key=lambda n: n.lineno, default=None)
            test = inner.name if inner is not None and inner.name.startswith("test") else None
            owners[id(d)] = f"{d.path}::{test}" if test else f"{d.path} (every test)"
    return out


def _test_states(linter: Linter, states: list[FileState]) -> list[FileState]:
    """Every test file of the project, whatever paths were given (the same set the bridge reads): the
    ones of ``states``, and the others read now (never written). The report's findings are in tests."""
    project = linter.project
    out = [st for st in states if st.is_test]
    given = {st.relpath for st in states}
    for rel in project.files:
        if rel not in given and rel.endswith(".py") and project.is_test_file(rel):
            out.append(linter.load(os.path.join(project.root, rel), display_path(os.path.join(project.root, rel))))
    return out


_RULE_CODE = re.compile(r"\bAFY\d{3}\b")


def _failed_in(st: FileState) -> str:
    """``app.py (AFY203, the bridge)``: the file whose fixes failed, and what failed, from its errors."""
    what: list[str] = []
    for e in st.errors:
        for code in _RULE_CODE.findall(e):
            if code not in what:
                what.append(code)
        if "the bridge" in e and "the bridge" not in what:
            what.append("the bridge")
    return f"{st.display} ({', '.join(what)})" if what else st.display


def _interrupted_migration(journal: str, root: str, fix: bool) -> tuple[int | None, int]:
    """What a run does first when an earlier ``--fix`` was interrupted and left its journal: say so, and
    with ``fix`` finish that migration. Returns (the exit code when the run ends here, files written)."""
    from asyncify_lint.engine.transaction import (
        Interrupted,
        JournalError,
        WriteFailed,
        finish,
        load_journal,
        problems,
        recovery,
        signals_interrupt,
    )

    shown = display_path(journal)
    try:
        entries = load_journal(journal)
    except JournalError as exc:
        print(f"asyncify-lint: warning: {shown} is not a migration journal this version can read ({exc}); "
              "ignored", file=sys.stderr)
        return None, 0
    if entries is None:
        return None, 0
    rec = recovery(entries, root, display_path)
    left = f"{len(rec.pending)} of its {len(entries)} files left to write"
    if rec.conflicts:
        why = "; ".join(rec.conflicts)
        if not fix:
            print(f"asyncify-lint: warning: a migration was interrupted ({left}), and it cannot be finished: "
                  f"{why}; see the files, then remove {shown}", file=sys.stderr)
            return None, 0
        print(f"asyncify-lint: error: a migration was interrupted ({left}), and it cannot be finished: {why}; "
              f"nothing was written; see the files, then remove {shown} to give up the rest of it",
              file=sys.stderr)
        return EXIT_ERROR, 0
    if not fix:
        print(f"asyncify-lint: warning: a migration was interrupted ({left}); run `asyncify-lint --fix` "
              "to finish it", file=sys.stderr)
        return None, 0
    print(f"asyncify-lint: finishing a migration that was interrupted ({left})", file=sys.stderr)
    refusal = problems(rec.pending)
    if not refusal:
        try:
            with signals_interrupt():
                finish(rec.pending, journal)
        except WriteFailed as exc:
            refusal = [str(exc)]
        except Interrupted as exc:
            print("asyncify-lint: error: interrupted while the interrupted migration was finished; run "
                  "`asyncify-lint --fix` again to finish it", file=sys.stderr)
            return 128 + exc.signum, 0
    if refusal:
        for line in refusal:
            print(f"asyncify-lint: error: {line}", file=sys.stderr)
        return EXIT_ERROR, 0
    for c in rec.pending:
        print(f"Rewriting {c.display}", file=sys.stderr)
    return None, len(rec.pending)
