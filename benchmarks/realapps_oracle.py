"""The async-path oracle (tests/e2e/oracle) on a real app: record the requests of the ORIGINAL app's own
suite, replay them against the original and against a migrated copy, each on a fresh database through
the app's own session dependency (the migrated copy under blockbuster), and compare.

    python benchmarks/realapps_oracle.py ORIGINAL_DIR MIGRATED_DIR --app fast_zero.app:app \\
        --python /path/to/app-venv/bin/python --db-env DATABASE_URL \\
        --metadata fast_zero.models:table_registry.metadata --engine fast_zero.database:engine \\
        --copy-file .env [--config app.json] [-- PYTEST_ARGS...]

ORIGINAL_DIR is the sync project root (where its pytest runs); MIGRATED_DIR the same project after
`asyncify-lint --fix ...`. Neither is written: the suite is recorded in a copy of ORIGINAL_DIR, and
the replays run in fresh working directories. The options build the per-app configuration described
in tests/e2e/oracle/__init__.py (`--config` reads it from a JSON file; options override it). The
interpreter must be the app's environment (with pytest, and blockbuster for the migrated replay).
Exit status: 0 when the two agree, 1 when they differ, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _oracle():
    spec = importlib.util.spec_from_file_location("asyncify_e2e_oracle", ROOT / "tests" / "e2e" / "oracle" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _blockbuster_path(python: str, tmp: Path) -> tuple[str, ...]:
    """Where the app's interpreter finds blockbuster: its own, else this interpreter's (same Python)."""
    if subprocess.run([python, "-c", "import blockbuster"], capture_output=True).returncode == 0:
        return ()
    same = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    if same.stdout.strip() != str(sys.version_info[:2]):
        raise RuntimeError(f"{python} has no blockbuster: install it there (pip install blockbuster)")
    import blockbuster
    import forbiddenfruit

    extra = tmp / "blockbuster-path"
    extra.mkdir()
    for module in (blockbuster, forbiddenfruit):
        package = Path(module.__file__).parent
        (extra / package.name).symlink_to(package, target_is_directory=True)
    print(f"note: {python} has no blockbuster; using this interpreter's")
    return (str(extra),)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original", type=Path)
    parser.add_argument("migrated", type=Path)
    parser.add_argument("--config", type=Path, help="a JSON configuration (see tests/e2e/oracle/__init__.py)")
    parser.add_argument("--app", help="module:attribute of the FastAPI app")
    parser.add_argument("--python", default=sys.executable, help="the app's interpreter")
    parser.add_argument("--db-env", help="the environment variable holding the app's database URL")
    parser.add_argument("--db-file", help="the SQLite file the app hard-codes, relative to its working directory")
    parser.add_argument("--metadata", help="module:attr of the MetaData to create the schema with")
    parser.add_argument("--engine", help="module:attr of the app's engine (sync or async)")
    parser.add_argument("--import", dest="imports", action="append", default=[], help="modules to import first")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE ({cwd} is the working directory)")
    parser.add_argument("--copy-file", action="append", default=[], help="a file the app reads from its cwd")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (printed)")
    args = parser.parse_args(argv)

    oracle = _oracle()
    config = json.loads(args.config.read_text(encoding="utf-8")) if args.config else {}
    if args.app:
        config["app"] = args.app
    if args.db_env:
        config["database"] = {"env": args.db_env}
    if args.db_file:
        config["database"] = {"file": args.db_file}
    for key, value in (("metadata", args.metadata), ("engine", args.engine)):
        if value:
            config[key] = value
    if args.imports:
        config["import"] = args.imports
    if args.env:
        config.setdefault("env", {}).update(dict(item.split("=", 1) for item in args.env))
    if args.copy_file:
        config["copy_files"] = args.copy_file
    if "app" not in config:
        parser.error("--app (or a --config with \"app\") is required")

    tmp = Path(tempfile.mkdtemp(prefix="realapps-oracle-"))
    try:
        original = tmp / "original"
        shutil.copytree(args.original, original, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
        trace = tmp / "trace"
        proc = oracle.record(original, config, trace, python=args.python, pytest_args=tuple(pytest_args))
        if not (trace / "requests.jsonl").exists():
            print(f"the suite made no request through TestClient/ASGITransport:\n{proc.stdout[-3000:]}\n"
                  f"{proc.stderr[-2000:]}", file=sys.stderr)
            return 2
        print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no pytest output)")
        recorded = oracle.read_trace(trace)
        base = oracle.replay(original, config, trace, tmp / "run-original", python=args.python)
        result = oracle.replay(args.migrated.resolve(), config, trace, tmp / "run-migrated", python=args.python,
                               blockbuster=True, extra_path=_blockbuster_path(args.python, tmp))
        report = oracle.compare(args.original.name, "migrated", recorded, base, result,
                                config.get("expected_blocking", []))
        print(report.summary())
        if base["startup_error"] or result["startup_error"]:
            print(f"original startup: {base['startup_error']}\nmigrated startup: {result['startup_error']}")
        return 0 if report.agrees else 1
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"work directory: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
