"""The results cache (project/results.py): a warm check reports exactly what a cold one does.

Each app is copied, then edited at random, step by step (a line appended, a ``def`` turned into an
``async def`` and back, an ``await`` removed, lines shifted, a statement replaced, the declared
SQLAlchemy version changed); after each step the warm run's JSON report (fixes included) must equal a
cold run's, with no cache at all.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from asyncify_lint import cli
from asyncify_lint.project import deps

HERE = Path(__file__).parent
REPO = HERE.parent
APPS = {
    "shop": REPO / "examples" / "shop",
    "layered": HERE / "e2e" / "apps" / "layered",
    "fullstack": HERE / "e2e" / "apps" / "fullstack",
    "sqlmodel_app": HERE / "e2e" / "apps" / "sqlmodel_app",
    "shop_layered": HERE / "fixtures" / "projects" / "shop_layered",
    "two_apps": HERE / "fixtures" / "projects" / "two_apps",
}


def run(root: Path, cache: Path | None, *extra: str) -> tuple[str, str]:
    """(stdout, stderr) of a check of ``root``: with the cache in ``cache``, or with none."""
    saved = {k: os.environ.get(k) for k in ("ASYNCIFY_LINT_CACHE_DIR", "ASYNCIFY_LINT_NO_CACHE")}
    if cache is None:
        os.environ["ASYNCIFY_LINT_NO_CACHE"] = "1"
        os.environ.pop("ASYNCIFY_LINT_CACHE_DIR", None)
    else:
        os.environ["ASYNCIFY_LINT_CACHE_DIR"] = str(cache)
        os.environ.pop("ASYNCIFY_LINT_NO_CACHE", None)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(root)
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main([".", "--output-format", "json", *extra])
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code in (0, 1), err.getvalue()
    return out.getvalue(), err.getvalue()


_DEF = re.compile(r"^(\s*)(async\s+)?def\s", re.MULTILINE)


def edit(root: Path, rng: random.Random, step: int) -> str:
    """One random edit of a file of the app (never of its tests); what it did."""
    files = sorted(p for p in root.rglob("*.py") if "tests" not in p.parts and ".asyncify" not in str(p))
    path = rng.choice(files)
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    kind = rng.choice(["append", "colour", "colour", "await", "shift", "statement", "requirements"])
    if kind == "colour" and _DEF.search(text):
        m = rng.choice(list(_DEF.finditer(text)))
        new = f"{m.group(1)}def " if m.group(2) else f"{m.group(1)}async def "
        text = text[: m.start()] + new + text[m.end():]
    elif kind == "await" and "await " in text:
        at = rng.choice([m.start() for m in re.finditer(r"await ", text)])
        text = text[:at] + text[at + len("await "):]
    elif kind == "shift" and lines:
        i = rng.randrange(len(lines) + 1)
        text = "".join(lines[:i] + ["\n"] + lines[i:])
    elif kind == "statement":
        simple = [i for i, ln in enumerate(lines) if ln.strip() and not ln.rstrip().endswith((":", ",", "(", "[", "{", "\\"))
                  and not ln.lstrip().startswith(("@", "#", ")", "]", "}", "else", "elif", "except", "finally"))]
        if simple:
            i = rng.choice(simple)
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i] = f"{indent}pass\n"
            text = "".join(lines)
    elif kind == "requirements":
        req = root / "requirements.txt"
        version = rng.choice(["sqlalchemy==1.4.52\n", "sqlalchemy==2.0.30\n", ""])
        req.write_text(version)
        return f"requirements.txt: {version.strip() or 'empty'}"
    else:
        kind = "append"
        text += f"_afy_edit_{step} = {step}\n"
    path.write_text(text)
    return f"{kind} {path.relative_to(root)}"


@pytest.mark.parametrize("name", sorted(APPS))
def test_warm_equals_cold_after_random_edits(tmp_path: Path, name: str):
    root = tmp_path / name
    shutil.copytree(APPS[name], root, ignore=shutil.ignore_patterns(".asyncify_cache", "__pycache__"))
    cache = tmp_path / "cache"
    rng = random.Random(f"results-{name}")
    done = []
    assert run(root, cache)[0] == run(root, None)[0]
    for step in range(8):
        done.append(edit(root, rng, step))
        warm, _ = run(root, cache)
        cold, _ = run(root, None)
        assert json.loads(warm) == json.loads(cold), f"after: {done}"
    _out, err = run(root, cache, "--verbose")
    assert re.search(r"results: \d+ reused from the cache, 0 checked", err), err


def test_colour_change_rechecks_exactly_the_callers(tmp_path: Path):
    root = tmp_path / "app"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "helpers.py").write_text("def helper():\n    return 1\n\n\ndef other():\n    return 2\n")
    (root / "app" / "caller.py").write_text(
        "from app.helpers import helper\n\n\nasync def endpoint():\n    return helper()\n")
    (root / "app" / "bystander.py").write_text(
        "from app.helpers import other\n\n\nasync def job():\n    return other()\n")
    (root / "app" / "unrelated.py").write_text("import time\n\n\ndef tick():\n    time.sleep(1)\n")
    cache = tmp_path / "cache"
    run(root, cache)
    assert "0 checked" in run(root, cache, "--verbose")[1]
    helpers = root / "app" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("def helper", "async def helper"))
    warm, err = run(root, cache, "--verbose")
    assert warm == run(root, None)[0]
    assert "AFY401" in warm  # helper() in caller.py is now a coroutine that is never awaited
    checked = re.search(r"(\d+) checked \(([^)]*)\)", err)
    assert checked is not None, err
    assert checked.group(2).split(", ") == ["app/caller.py", "app/helpers.py"]


def test_cache_file_is_data_and_damage_is_ignored(tmp_path: Path):
    root = tmp_path / "app"
    shutil.copytree(APPS["layered"], root, ignore=shutil.ignore_patterns(".asyncify_cache", "__pycache__"))
    cache = tmp_path / "cache"
    expected = run(root, None)[0]
    run(root, cache)
    [results] = cache.glob("results-*.json")
    data = json.loads(results.read_text())
    assert data["magic"].startswith("asyncify-lint-results-")
    entry = next(iter(data["entries"].values()))
    entry["diags"] = [["AFY999", 1, "x", None]]  # ill-typed: the file is checked again
    results.write_text(json.dumps(data))
    assert run(root, cache)[0] == expected
    results.write_bytes(b"\x80not json")
    assert run(root, cache)[0] == expected


def test_arguments_round_trip():
    from asyncify_lint.project.summary import CallSite

    site = CallSite(3, 4, 3, 9, "app.f", "f", 1, "call", "")
    args = ("q", site, [1, (2, "x")], None)
    assert deps.decode_args(deps.encode_args(args)) == args
    assert type(deps.decode_args(deps.encode_args(args))[1]) is CallSite
    with pytest.raises(deps.Opaque):
        deps.encode_args((object(),))
    assert deps.fingerprint({"b", "a"}) == deps.fingerprint({"a", "b"})
    assert deps.fingerprint([1]) != deps.fingerprint((1,))


def test_a_name_whose_type_changes_elsewhere_rechecks_its_readers(tmp_path: Path):
    root = tmp_path / "app"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    db = root / "app" / "db.py"
    db.write_text("from sqlalchemy import create_engine\nfrom sqlalchemy.orm import sessionmaker\n\n"
                  "engine = create_engine('sqlite://')\nSessionLocal = sessionmaker(bind=engine)\n")
    (root / "app" / "jobs.py").write_text(
        "from app.db import SessionLocal\n\n\nasync def job():\n    db = SessionLocal()\n    db.commit()\n")
    cache = tmp_path / "cache"
    before = run(root, cache)[0]
    assert "app/jobs.py" in before
    db.write_text(db.read_text().replace("SessionLocal = sessionmaker(bind=engine)", "SessionLocal = dict"))
    warm = run(root, cache)[0]
    assert warm == run(root, None)[0]
    assert warm != before


def test_two_selections_keep_a_results_file_each(tmp_path: Path):
    root = tmp_path / "app"
    shutil.copytree(APPS["layered"], root, ignore=shutil.ignore_patterns(".asyncify_cache", "__pycache__"))
    cache = tmp_path / "cache"
    run(root, cache, "--select", "AFY2")
    run(root, cache, "--select", "AFY3")
    assert len(list(cache.glob("results-*.json"))) == 2
    assert "0 checked" in run(root, cache, "--select", "AFY2", "--verbose")[1]


def test_rules_in_worker_processes_report_what_one_process_does(tmp_path: Path, monkeypatch):
    from asyncify_lint.project import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    root = tmp_path / "app"
    shutil.copytree(APPS["layered"], root, ignore=shutil.ignore_patterns(".asyncify_cache", "__pycache__"))
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "1")
    serial = run(root, None)[0]
    parent, real, workers = os.getpid(), parallel._check_run, tmp_path / "workers"
    workers.mkdir()

    def noting(indices):
        if os.getpid() != parent:
            (workers / str(os.getpid())).write_text(str(len(indices)))
        return real(indices)

    monkeypatch.setattr(parallel, "_check_run", noting)
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "3")
    cache = tmp_path / "cache"
    assert run(root, cache)[0] == serial
    assert list(workers.iterdir()), "no file was checked in a worker"
    # the workers' results went to the cache like the others: a warm run reuses them all
    assert run(root, cache)[0] == serial
    assert "0 checked" in run(root, cache, "--verbose")[1]


def test_a_requirements_edit_rechecks_only_when_the_versions_the_rules_ask_change(tmp_path: Path):
    root = tmp_path / "app"
    shutil.copytree(APPS["layered"], root, ignore=shutil.ignore_patterns(".asyncify_cache", "__pycache__"))
    cache = tmp_path / "cache"
    (root / "requirements.txt").write_text("sqlalchemy==2.0.30\n")
    run(root, cache)
    (root / "requirements.txt").write_text("sqlalchemy==2.0.31\n")
    assert "0 checked" in run(root, cache, "--verbose")[1]
    (root / "requirements.txt").write_text("sqlalchemy==1.4.52\n")
    warm, err = run(root, cache, "--verbose")
    assert "0 checked" not in err
    assert warm == run(root, None)[0]
