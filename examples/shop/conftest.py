"""Test setup: point the app at a throw-away SQLite file before it is imported.

`shop.main` creates its tables at import time, so the URL must be set here, before any test module imports the app.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True

_DB_DIR = tempfile.mkdtemp(prefix="shop-tests-")
os.environ["SHOP_DATABASE_URL"] = f"sqlite:///{_DB_DIR}/shop.db"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_DB_DIR, ignore_errors=True)
    for cache_dir in Path(__file__).parent.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)
