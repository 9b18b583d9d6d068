"""Start every run from an empty database.

The app uses the file ./sql_app.db and creates its tables when `sql_app.main` is imported, so removing the file here,
before any test module imports the app, is enough to get a clean schema.
"""
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True

DB_FILE = Path(__file__).resolve().parent / "sql_app.db"  # the app uses ./sql_app.db; run from this dir
DB_FILE.unlink(missing_ok=True)


def pytest_sessionfinish(session, exitstatus):
    DB_FILE.unlink(missing_ok=True)
    for cache_dir in Path(__file__).parent.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    # This suite belongs to the app in this directory and runs from here (`cd <app dir> && pytest`).
    # A pytest session rooted in an enclosing project (whose rootdir is elsewhere) skips it.
    if config.rootpath.resolve() != Path(__file__).resolve().parent:
        return True
    return None
