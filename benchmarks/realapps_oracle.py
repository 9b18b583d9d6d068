"""The async-path oracle (tests/e2e/oracle) on a real app: record the requests of the ORIGINAL app's own
suite, replay them against the original and against a migrated copy, each on a fresh database through
the app's own session dependency (the migrated copy under blockbuster), and compare.

    python benchmarks/realapps_oracle.py --corpus open-prices WORK_TREE [-- PYTEST_ARGS...]
    python benchmarks/realapps_oracle.py ORIGINAL_DIR MIGRATED_DIR --app fast_zero.app:app \\
        --python /path/to/app-venv/bin/python --db-env DATABASE_URL \\
        --metadata fast_zero.models:table_registry.metadata --engine fast_zero.database:engine \\
        --copy-file .env [--config app.json] [-- PYTEST_ARGS...]

With `--corpus NAME`, WORK_TREE is the clone a corpus script (`realapps/NAME.sh`, run with a MIGRATE)
left behind, migrated in place: the migrated project is its project directory, the original is that
directory as committed (`git archive HEAD`), and the configuration, the interpreter (the script's venv,
under `--venvs`) and the pytest arguments come from benchmarks/realapps_oracle/NAME.json (the oracle's
configuration, plus "corpus": {"project", "venv", "pytest_args"}).

Otherwise ORIGINAL_DIR is the sync project root (where its pytest runs) and MIGRATED_DIR the same
project after `asyncify-lint --fix ...`. Neither is written: the suite is recorded in a copy of the
original, and the replays run in fresh working directories. The options build the per-app
configuration described in tests/e2e/oracle/__init__.py (`--config` reads it from a JSON file;
options override it). The interpreter must be the app's environment (with pytest, and blockbuster for
the migrated replay, else this interpreter's is used). An app on PostgreSQL ("database": {"postgresql":
...}) gets a private server for the run (initdb/pg_ctl: PG_BIN, or pg_ctl on PATH).
Exit status: 0 when the two agree, 1 when they differ, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS_CONFIGS = Path(__file__).resolve().parent / "realapps_oracle"


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


def _committed(work_tree: Path, project: str, dst: Path) -> None:
    """The project directory of a git work tree as committed (HEAD), extracted to `dst`."""
    tree = f"HEAD:{project}" if project not in ("", ".") else "HEAD"
    proc = subprocess.run(["git", "-C", str(work_tree), "archive", "--format=tar", tree], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git archive {tree} in {work_tree}: {proc.stderr.decode(errors='replace')}")
    dst.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dst, filter="data")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original", type=Path, help="the original project, or with --corpus the script's work tree")
    parser.add_argument("migrated", type=Path, nargs="?", help="the migrated project (not with --corpus)")
    parser.add_argument("--corpus", help="a corpus app with a configuration in benchmarks/realapps_oracle/")
    parser.add_argument("--venvs", type=Path, default=Path("/tmp/realapps-venvs"),
                        help="where the corpus scripts keep their venvs (with --corpus)")
    parser.add_argument("--config", type=Path, help="a JSON configuration (see tests/e2e/oracle/__init__.py)")
    parser.add_argument("--app", help="module:attribute of the FastAPI app")
    parser.add_argument("--python", help="the app's interpreter (default: this one, or the corpus venv's)")
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
    corpus: dict = {}
    if args.corpus:
        if args.migrated is not None:
            parser.error("--corpus takes one directory: the corpus script's work tree")
        corpus_config = CORPUS_CONFIGS / f"{args.corpus}.json"
        if not corpus_config.exists():
            parser.error(f"no configuration for {args.corpus!r}: known: "
                         f"{', '.join(sorted(p.stem for p in CORPUS_CONFIGS.glob('*.json')))}")
        config = {**json.loads(corpus_config.read_text(encoding="utf-8")), **config}
        corpus = config.pop("corpus")
        work_tree = args.original / "app" if (args.original / "app" / ".git").exists() else args.original
        args.migrated = work_tree / corpus.get("project", ".")
        pytest_args = pytest_args or list(corpus.get("pytest_args", []))
        args.python = args.python or str(args.venvs / corpus.get("venv", args.corpus) / "bin" / "python")
    elif args.migrated is None:
        parser.error("give ORIGINAL_DIR and MIGRATED_DIR, or --corpus NAME WORK_TREE")
    args.python = args.python or sys.executable
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
        oracle.postgres_config(config)  # a configuration error is reported before anything runs
        original = tmp / "original"
        if args.corpus:
            _committed(work_tree, corpus.get("project", "."), original)
        else:
            shutil.copytree(args.original, original,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
        trace = tmp / "trace"
        with oracle.database_server(config) as server:
            proc = oracle.record(original, config, trace, python=args.python, pytest_args=tuple(pytest_args),
                                 server=server)
            if not (trace / "requests.jsonl").exists():
                print(f"the suite made no request through TestClient/ASGITransport:\n{proc.stdout[-3000:]}\n"
                      f"{proc.stderr[-2000:]}", file=sys.stderr)
                return 2
            print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no pytest output)")
            recorded = oracle.read_trace(trace)
            base = oracle.replay(original, config, trace, tmp / "run-original", python=args.python, server=server)
            result = oracle.replay(args.migrated.resolve(), config, trace, tmp / "run-migrated",
                                   python=args.python, blockbuster=True,
                                   extra_path=_blockbuster_path(args.python, tmp), server=server)
        report = oracle.compare(args.corpus or args.original.name, "migrated", recorded, base, result,
                                config.get("expected_blocking", []), config.get("random_values", []))
        print(report.summary())
        if base["startup_error"] or result["startup_error"]:
            print(f"original startup: {base['startup_error']}\nmigrated startup: {result['startup_error']}")
        return 0 if report.agrees else 1
    except (RuntimeError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"work directory: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
