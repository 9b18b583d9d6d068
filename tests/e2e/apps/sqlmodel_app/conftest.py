"""The app uses an in-memory SQLite database, so every test run starts empty; nothing to configure here
except keeping the source tree free of bytecode caches."""
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True


def pytest_sessionfinish(session, exitstatus):
    for cache_dir in Path(__file__).parent.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    # This suite belongs to the app in this directory and runs from here (`cd <app dir> && pytest`).
    # A pytest session rooted in an enclosing project (whose rootdir is elsewhere) skips it.
    if config.rootpath.resolve() != Path(__file__).resolve().parent:
        return True
    return None
