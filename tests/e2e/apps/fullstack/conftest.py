"""Point the app at a throw-away SQLite file before `app.core.config` is imported (the settings read
SQLALCHEMY_DATABASE_URI from the environment, as in the full-stack FastAPI template)."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True

_DB_DIR = tempfile.mkdtemp(prefix="fullstack-tests-")
os.environ["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{_DB_DIR}/app.db"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_DB_DIR, ignore_errors=True)
    for cache_dir in Path(__file__).parent.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    # This suite belongs to the app in this directory and runs from here (`cd <app dir> && pytest`).
    # A pytest session rooted in an enclosing project (whose rootdir is elsewhere) skips it.
    if config.rootpath.resolve() != Path(__file__).resolve().parent:
        return True
    return None
