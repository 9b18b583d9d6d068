"""Configure the app for tests before it is imported.

Settings are read from the environment when `app.core.config` is first imported, so the database and the receipts
directory are pointed at a fresh temporary directory here, at conftest import time. Every test run therefore starts
from an empty database; tests create their own uniquely named data and never share rows.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True

_TMP = Path(tempfile.mkdtemp(prefix="layered-tests-"))
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'layered.db'}"
os.environ["RECEIPTS_DIR"] = str(_TMP / "receipts")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)
    for cache_dir in Path(__file__).parent.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    # This suite belongs to the app in this directory and runs from here (`cd <app dir> && pytest`).
    # A pytest session rooted in an enclosing project (whose rootdir is elsewhere) skips it.
    if config.rootpath.resolve() != Path(__file__).resolve().parent:
        return True
    return None
