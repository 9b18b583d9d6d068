"""The pre-commit hooks, end to end: a real `pre-commit` installs this checkout and runs the hooks.

The hook repository is a copy of this checkout committed in a scratch git repository (try-repo needs a
HEAD); the target is a scratch git repository holding a sync FastAPI app. pip needs PyPI (or the
configured index) for the isolated build. Deselect with `-m "not precommit"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.precommit

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)

APP = textwrap.dedent(
    """\
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/items")
    def list_items(q=""):
        return q.split()  # a call the analysis cannot resolve: the fix stays unsafe


    @app.post("/items")
    def create_item(item: dict, sep=","):  # a comment that stays
        return sep.join(item)
    """
)

JOBS = textwrap.dedent(
    """\
    import time


    async def tick():
        time.sleep(0.1)
    """
)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "scratch",
    "GIT_AUTHOR_EMAIL": "scratch@example.invalid",
    "GIT_COMMITTER_NAME": "scratch",
    "GIT_COMMITTER_EMAIL": "scratch@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _pre_commit() -> str:
    exe = shutil.which("pre-commit", path=os.path.dirname(sys.executable)) or shutil.which("pre-commit")
    if exe is None:
        pytest.skip("pre-commit is not installed")
    return exe


def _git(cwd, *args, env):
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _ignore(_dir, names):
    skip = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".asyncify_cache", "build", "dist",
            ".hypothesis", ".mypy_cache", ".ruff_cache"}
    return [n for n in names if n in skip or n.endswith(".egg-info")]


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = tmp_path_factory.mktemp("precommit")
    env = dict(os.environ, **GIT_ENV, PRE_COMMIT_HOME=str(base / "pc-home"), HOME=str(base / "home"))
    env.pop("PRE_COMMIT", None)
    os.makedirs(env["HOME"])
    hook_repo = base / "hookrepo"
    shutil.copytree(CHECKOUT, hook_repo, ignore=_ignore)
    _git(hook_repo, "init", "-q", "-b", "main", env=env)
    _git(hook_repo, "add", "-A", env=env)
    _git(hook_repo, "commit", "-q", "-m", "scratch copy", env=env)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook_repo, env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    target = base / "target"
    (target / "app").mkdir(parents=True)
    (target / "app" / "__init__.py").write_text("")
    (target / "app" / "api.py").write_text(APP)
    (target / "app" / "jobs.py").write_text(JOBS)
    (target / "pyproject.toml").write_text('[project]\nname = "target"\nversion = "0"\n')
    _git(target, "init", "-q", "-b", "main", env=env)
    _git(target, "add", "-A", env=env)
    return {"env": env, "hook_repo": hook_repo, "sha": sha, "target": target}


def _run(args, cwd, env):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_manifest_is_valid():
    exe = _pre_commit()
    r = subprocess.run([exe, "validate-manifest", os.path.join(CHECKOUT, ".pre-commit-hooks.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_hook_reports_and_fix_hook_rewrites(repos):
    exe = _pre_commit()
    env, target = repos["env"], repos["target"]

    r = _run([exe, "try-repo", str(repos["hook_repo"]), "asyncify-lint", "--all-files", "--verbose"], target, env)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Failed" in out, out
    assert "app/api.py:7:1: AFY301 endpoint `list_items` (@app.get) is a sync `def`" in out, out
    assert "app/api.py:12:1: AFY301 endpoint `create_item` (@app.post)" in out, out
    assert (target / "app" / "api.py").read_text() == APP  # the check hook never writes

    # try-repo cannot pass args: a normal config pinned to the scratch commit, the fix hook twice
    (target / ".pre-commit-config.yaml").write_text(
        textwrap.dedent(
            f"""\
            repos:
              - repo: {repos["hook_repo"]}
                rev: {repos["sha"]}
                hooks:
                  - id: asyncify-lint-project
                  - id: asyncify-lint-fix
                    alias: fix-safe
                  - id: asyncify-lint-fix
                    alias: fix-unsafe
                    args: [--unsafe-fixes]
            """
        )
    )
    _git(target, "add", "-A", env=env)
    # the project hook takes no file names and checks the project containing the cwd
    r = _run([exe, "run", "asyncify-lint-project"], target, env)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "app/api.py:7:1: AFY301 endpoint `list_items`" in out, out

    # safe fixes only: `time.sleep` in an `async def` (AFY110) is fixed, the endpoints (unsafe) are not
    r = _run([exe, "run", "fix-safe", "--all-files"], target, env)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out  # pre-commit fails a hook that modified files
    assert "files were modified by this hook" in out, out
    jobs = (target / "app" / "jobs.py").read_text()
    assert "    await asyncio.sleep(0.1)\n" in jobs and "import asyncio\n" in jobs, jobs
    assert (target / "app" / "api.py").read_text() == APP

    # with `args: [--unsafe-fixes]` the endpoints become `async def`
    _git(target, "add", "-A", env=env)
    r = _run([exe, "run", "fix-unsafe", "--all-files"], target, env)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "files were modified by this hook" in out, out
    assert (target / "app" / "api.py").read_text() == APP.replace("def list_items", "async def list_items").replace(
        "def create_item", "async def create_item"
    )

    # nothing left to fix: both pass
    _git(target, "add", "-A", env=env)
    for alias in ("fix-safe", "fix-unsafe"):
        r = _run([exe, "run", alias, "--all-files"], target, env)
        assert r.returncode == 0, r.stdout + r.stderr
