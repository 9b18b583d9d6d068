"""What ``--fix`` writes: a migration is one transaction (every file or none), it loses nothing a user
wrote meanwhile, it keeps links, modes and owners, and a run that was interrupted is finished by the next."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from asyncify_lint import cli
from asyncify_lint.diagnostics import Applicability, Edit, Fix
from asyncify_lint.engine import transaction
from asyncify_lint.engine.runner import Linter
from asyncify_lint.registry import get_rule

ENDPOINT = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/")\ndef index(q=""):\n    return q.strip()\n'
FIXED = ENDPOINT.replace("def index", "async def index")
BROKEN = ENDPOINT.replace("def index", "def broken")
FIX = ("--fix", "--unsafe-fixes", "--select", "AFY301")


@pytest.fixture
def proj(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "setup.cfg").write_text("[metadata]\nname = demo\n")
    monkeypatch.chdir(root)
    return root


def write(root, rel: str, text: str | bytes):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def run(*argv: str) -> tuple[int, str, str]:
    """The CLI in-process, in a scratch project (never in this repository: these runs write)."""
    assert not os.path.exists("asyncify_lint"), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def journal(root):
    return root / ".asyncify_cache" / "migration.journal"


def temporaries(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".asyncify-*.tmp"))


# -- a file edited while --fix runs --------------------------------------------------------------


def test_a_file_edited_during_the_analysis_stops_the_whole_migration(proj, monkeypatch):
    a = write(proj, "a.py", ENDPOINT)
    b = write(proj, "b.py", ENDPOINT)
    users = b"# the user's edit, saved by an editor while --fix ran\n" + ENDPOINT.encode()
    real_fix = Linter.fix

    def fix_then_edit(self, state):  # between the analysis of b.py and the writing
        changed = real_fix(self, state)
        b.write_bytes(users)
        return changed

    monkeypatch.setattr(Linter, "fix", fix_then_edit)
    rc, _, err = run(".", *FIX)
    assert rc == 2
    assert "asyncify-lint: error: b.py has changed on disk since it was read; nothing was written; run again\n" in err
    assert "Rewriting" not in err
    assert a.read_text() == ENDPOINT
    assert b.read_bytes() == users
    assert not journal(proj).exists() and temporaries(proj) == []


def test_a_file_edited_just_before_its_replace_puts_back_the_files_written_before(proj, monkeypatch):
    a = write(proj, "a.py", ENDPOINT)
    b = write(proj, "b.py", ENDPOINT)
    users = b"# saved meanwhile\n" + ENDPOINT.encode()
    real = transaction.write_atomic
    seen = []

    def write_then_edit(path, data, expected=None, **kw):
        real(path, data, expected, **kw)
        if path.endswith(".py"):
            seen.append(os.path.basename(path))
            if len(seen) == 1:  # after the first file is written, the user saves the other one
                (proj / ({"a.py": "b.py", "b.py": "a.py"}[seen[0]])).write_bytes(users)

    monkeypatch.setattr(transaction, "write_atomic", write_then_edit)
    rc, _, err = run(".", *FIX)
    assert rc == 2
    other = {"a.py": "b.py", "b.py": "a.py"}[seen[0]]
    assert f"asyncify-lint: error: {other} changed on disk since it was read; nothing was written; run again\n" in err
    assert (proj / seen[0]).read_text() == ENDPOINT  # put back
    assert (proj / other).read_bytes() == users
    assert {a.name, b.name} == {seen[0], other}
    assert not journal(proj).exists() and temporaries(proj) == []


# -- a fix that fails: nothing is written --------------------------------------------------------


@pytest.mark.parametrize("how", ["does-not-compile", "crashes"])
def test_a_fix_that_fails_in_one_file_writes_no_file(proj, monkeypatch, how):
    rule = get_rule("AFY301")
    handlers = list(rule.handlers[ast.FunctionDef])

    def broken(ctx, node):
        if node.name != "broken":
            for h in handlers:
                yield from h(ctx, node)
            return
        if how == "crashes":
            raise RuntimeError("a bug in the rule")
        start = ctx.start(node)
        yield rule.at(ctx, node, Fix([Edit(start, start, "def def ")], Applicability.SAFE),
                      name=node.name, how="@broken", why="")

    monkeypatch.setitem(rule.handlers, ast.FunctionDef, [broken])
    a = write(proj, "a.py", ENDPOINT)
    b = write(proj, "b.py", BROKEN)
    rc, _, err = run(".", *FIX)
    assert rc == 2, err
    assert "asyncify-lint: error: the migration failed in b.py (AFY301); nothing was written\n" in err
    assert "Rewriting" not in err
    assert a.read_text() == ENDPOINT and b.read_text() == BROKEN
    assert not journal(proj).exists()


def test_a_bridge_failure_writes_nothing(proj, monkeypatch):
    def bridge(linter, states):
        raise RuntimeError("a bug in the bridge")

    monkeypatch.setattr("asyncify_lint.bridge.bridge", bridge)  # (the CLI imports it when used)
    a = write(proj, "a.py", ENDPOINT)
    rc, _, err = run("a.py", "--fix", "--unsafe-fixes", "--strategy", "bridge")
    assert rc == 2
    assert "asyncify-lint: error: internal error in the bridge: RuntimeError: a bug in the bridge\n" in err
    assert "asyncify-lint: error: the migration failed in the bridge; nothing was written\n" in err
    assert a.read_text() == ENDPOINT


KEPT_SYNC_DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite:///./app.db")
SessionLocal = sessionmaker(bind=engine)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""
KEPT_SYNC_MAIN = """\
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import get_db

app = FastAPI()


def save(db: Session, n: int):
    db.execute(text("insert into t values (:n)"), {"n": n})
    db.commit()


@app.post("/n")
def add(n: int, db: Session = Depends(get_db)):  # noqa: AFY301
    save(db, n)
    return {"n": n}
"""


def test_a_noqa_that_keeps_a_caller_sync_writes_nothing(proj):
    """`# noqa: AFY301` keeps `add` sync while the session fixes make `save` a coroutine function: the
    call would do nothing (its commit never runs), so the migration is refused, naming the call."""
    write(proj, "app/__init__.py", "")
    db = write(proj, "app/db.py", KEPT_SYNC_DB)
    main = write(proj, "app/main.py", KEPT_SYNC_MAIN)
    rc, _, err = run(".", "--fix", "--unsafe-fixes", "--no-cache")
    assert rc == 2, err
    assert ("asyncify-lint: error: app/main.py:17: `save()` would return a coroutine that nothing awaits in "
            "`add`, which `# noqa: AFY301` keeps sync; remove the `# noqa`, or accept the call with "
            "`# noqa: AFY401`\n") in err
    assert ("asyncify-lint: error: the migration failed in app/main.py (a `# noqa` keeps a caller sync); "
            "nothing was written\n") in err
    assert (db.read_text(), main.read_text()) == (KEPT_SYNC_DB, KEPT_SYNC_MAIN)
    # accepted on the call: the migration is written, the endpoint kept sync
    main.write_text(KEPT_SYNC_MAIN.replace("    save(db, n)\n", "    save(db, n)  # noqa: AFY401\n"))
    rc, _, err = run(".", "--fix", "--unsafe-fixes", "--no-cache")
    assert "nothing was written" not in err, err
    assert "async def save(db: AsyncSession, n: int):" in main.read_text()
    assert "def add(n: int, db: AsyncSession = Depends(get_db)):  # noqa: AFY301" in main.read_text()


# -- links, mode, owner, read-only files ---------------------------------------------------------


def test_a_symlink_stays_a_symlink_and_its_target_gets_the_text(proj, tmp_path):
    target = write(tmp_path, "elsewhere/impl.py", ENDPOINT)
    link = proj / "app.py"
    os.symlink(target, link)
    rc, _, err = run("app.py", *FIX)
    assert rc == 0 and err == "Rewriting app.py\n"
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert target.read_text() == FIXED
    assert temporaries(tmp_path) == []


def test_a_symlink_and_its_target_both_in_the_run_are_written_once(proj):
    target = write(proj, "impl.py", ENDPOINT)
    os.symlink("impl.py", proj / "app.py")
    rc, _, err = run(".", *FIX)
    assert rc == 0, err
    assert os.path.islink(proj / "app.py")
    assert target.read_text() == FIXED


def test_a_hard_link_stays_shared(proj, tmp_path):
    p = write(proj, "app.py", ENDPOINT)
    other = tmp_path / "elsewhere" / "app.py"
    other.parent.mkdir()
    os.link(p, other)
    inode = p.stat().st_ino
    rc, _, err = run("app.py", *FIX)
    assert rc == 0 and err == "Rewriting app.py\n"
    assert p.stat().st_ino == inode == other.stat().st_ino and p.stat().st_nlink == 2
    assert p.read_text() == FIXED and other.read_text() == FIXED


def test_the_mode_is_kept(proj):
    p = write(proj, "app.py", ENDPOINT)
    os.chmod(p, 0o640)
    run("app.py", *FIX)
    assert p.read_text() == FIXED
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root gives a file away")
def test_the_owner_is_kept_when_root_writes(proj):
    p = write(proj, "app.py", ENDPOINT)
    os.chown(p, 12345, 12346)
    os.chmod(p, 0o2644)  # and the set-group-id bit, which a chown would clear
    run("app.py", *FIX)
    assert p.read_text() == FIXED
    st = p.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 12346, 0o2644)


def test_a_read_only_file_is_refused_and_nothing_is_written(proj):
    a = write(proj, "a.py", ENDPOINT)
    b = write(proj, "b.py", ENDPOINT)
    os.chmod(b, 0o444)
    rc, _, err = run(".", *FIX)
    assert rc == 2
    assert err == "asyncify-lint: error: cannot write b.py: it is read-only; nothing was written\n"
    assert a.read_text() == ENDPOINT and b.read_text() == ENDPOINT
    assert stat.S_IMODE(b.stat().st_mode) == 0o444
    assert not journal(proj).exists()


def test_diff_writes_nothing(proj):
    p = write(proj, "app.py", ENDPOINT)
    rc, out, err = run("app.py", "--diff", *FIX[1:])
    assert rc == 1 and err == "" and "+async def index" in out
    assert p.read_text() == ENDPOINT
    assert sorted(os.listdir(proj)) == ["app.py", "setup.cfg"]


# -- an interrupted migration ---------------------------------------------------------------------


class Crash(Exception):
    """Stands for the process being killed: nothing after it runs."""


def crash_at_the_second_file(monkeypatch):
    real = transaction.write_atomic
    written = []

    def write_or_crash(path, data, expected=None, **kw):
        if path.endswith(".py"):
            if written:
                raise Crash(path)
            written.append(path)
        return real(path, data, expected, **kw)

    monkeypatch.setattr(transaction, "write_atomic", write_or_crash)
    return written


def test_an_interrupted_migration_is_finished_by_the_next_fix_run(proj, monkeypatch):
    a = write(proj, "a.py", ENDPOINT)
    b = write(proj, "b.py", ENDPOINT)
    with monkeypatch.context() as m:
        written = crash_at_the_second_file(m)
        with pytest.raises(Crash):
            run(".", *FIX)
    assert journal(proj).exists()
    assert sorted([a.read_text(), b.read_text()]) == sorted([FIXED, ENDPOINT])  # half-migrated
    assert os.path.basename(written[0]) in ("a.py", "b.py")
    assert temporaries(proj) == []
    data = json.loads(journal(proj).read_text())
    assert sorted(f["path"] for f in data["files"]) == ["a.py", "b.py"]

    # a check run says so, and writes nothing
    rc, _, err = run(".", "--select", "AFY301")
    assert rc == 1
    assert ("asyncify-lint: warning: a migration was interrupted (1 of its 2 files left to write); run "
            "`asyncify-lint --fix` to finish it\n") in err
    assert sorted([a.read_text(), b.read_text()]) == sorted([FIXED, ENDPOINT]) and journal(proj).exists()
    # so does --diff
    rc, _, err = run(".", "--diff", *FIX[1:])
    assert "a migration was interrupted" in err and journal(proj).exists()

    # --fix finishes it: the same bytes as a migration that was not interrupted
    rc, out, err = run(".", *FIX)
    assert rc == 0, err
    assert err.startswith("asyncify-lint: finishing a migration that was interrupted (1 of its 2 files left to write)\n")
    assert a.read_text() == FIXED and b.read_text() == FIXED
    assert not journal(proj).exists() and not (proj / ".asyncify_cache").exists() or \
        os.listdir(proj / ".asyncify_cache") != ["migration.journal"]
    assert run(".", *FIX) == (0, "", "")


def test_an_edited_file_stops_the_finishing_of_an_interrupted_migration(proj, monkeypatch):
    write(proj, "a.py", ENDPOINT)
    write(proj, "b.py", ENDPOINT)
    with monkeypatch.context() as m:
        written = crash_at_the_second_file(m)
        with pytest.raises(Crash):
            run(".", *FIX)
    first = os.path.basename(written[0])
    other = proj / {"a.py": "b.py", "b.py": "a.py"}[first]
    users = b"# edited after the interruption\n" + ENDPOINT.encode()
    other.write_bytes(users)
    rc, _, err = run(".", *FIX)
    assert rc == 2
    line = err.splitlines()[-1]
    assert line.startswith("asyncify-lint: error: a migration was interrupted (0 of its 2 files left to write), and "
                           f"it cannot be finished: {other.name} changed since")
    assert "nothing was written" in line and os.path.join(".asyncify_cache", "migration.journal") in line
    assert other.read_bytes() == users and (proj / first).read_text() == FIXED
    assert journal(proj).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"format": "asyncify-lint migration journal", "version": 99, "files": []}',
        b'{"format": "asyncify-lint migration journal", "version": 1, "files": [{"path": "/etc/passwd", '
        b'"original_sha256": null, "new_sha256": "' + b"0" * 64 + b'", "new": ""}]}',
        b'{"format": "asyncify-lint migration journal", "version": 1, "files": [{"path": "a.py", '
        b'"original_sha256": null, "new_sha256": "' + b"0" * 64 + b'", "new": "!!"}]}',
        b'{"format": "asyncify-lint migration journal", "version": 1, "files": [{"path": "a.py", '
        b'"original_sha256": null, "new_sha256": "' + b"0" * 64 + b'", "new": "YQ=="}]}',
    ],
    ids=["text", "bytes", "list", "version", "absolute", "base64", "hash"],
)
def test_an_ill_formed_journal_is_reported_and_ignored(proj, content):
    a = write(proj, "a.py", ENDPOINT)
    write(proj, ".asyncify_cache/migration.journal", content)
    rc, _, err = run("a.py", *FIX)
    assert rc == 0, err
    assert err.startswith(f"asyncify-lint: warning: {os.path.join('.asyncify_cache', 'migration.journal')} is "
                          "not a migration journal this version can read (")
    assert err.endswith("); ignored\nRewriting a.py\n")
    assert a.read_text() == FIXED


def test_a_journal_entry_outside_the_project_is_never_written(proj, tmp_path):
    outside = write(tmp_path, "outside.py", "x = 1\n")
    entry = {"path": os.path.join("..", "outside.py"), "original_sha256": transaction.sha256(b"x = 1\n"),
             "new_sha256": transaction.sha256(b"x = 2\n"), "new": "eCA9IDIK"}
    write(proj, ".asyncify_cache/migration.journal",
          json.dumps({"format": "asyncify-lint migration journal", "version": 1, "files": [entry]}))
    rc, _, err = run(".", *FIX)
    assert rc == 2 and "outside.py is outside the project" in err
    assert outside.read_text() == "x = 1\n"


def _journal(proj, entry) -> None:
    write(proj, ".asyncify_cache/migration.journal",
          json.dumps({"format": "asyncify-lint migration journal", "version": 1, "files": [entry]}))


def test_a_journal_never_writes_through_a_link_to_outside_the_project(proj, tmp_path):
    # a journal committed to a repository, with a link in the repository to a file of the user's
    outside = write(tmp_path, "outside.py", "x = 1\n")
    os.symlink(outside, proj / "inside.py")
    _journal(proj, {"path": "inside.py", "original_sha256": transaction.sha256(b"x = 1\n"),
                    "new_sha256": transaction.sha256(b"x = 2\n"), "new": "eCA9IDIK"})
    rc, _, err = run(".", *FIX)
    assert rc == 2 and "inside.py is outside the project" in err, err
    assert outside.read_text() == "x = 1\n"


def test_a_journal_never_makes_a_new_file_through_a_dangling_link(proj, tmp_path):
    os.symlink(proj / "missing.py", proj / "new.py")  # inside the project, but a link
    _journal(proj, {"path": "new.py", "original_sha256": None, "new_sha256": transaction.sha256(b"x = 2\n"),
                    "new": "eCA9IDIK"})
    rc, _, err = run(".", *FIX)
    assert rc == 2 and "new.py is a symbolic link" in err, err
    assert not (proj / "missing.py").exists()


def test_stray_temporary_files_of_a_killed_run_are_removed(proj):
    p = write(proj, "app.py", ENDPOINT)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stray = write(proj, f".asyncify-{dead.pid}-k3j_x9.tmp", "half")
    alive = write(proj, f".asyncify-{os.getppid()}-abc.tmp", "another run's, writing now")
    fresh_legacy = write(proj, ".asyncify-abc123.tmp", "an earlier version's, maybe writing now")
    others = [write(proj, name, "not ours") for name in (".asyncify-notes.txt", "x.tmp", ".asyncify-1-a.tmp.bak")]
    rc, _, err = run("app.py", *FIX)
    assert rc == 0 and p.read_text() == FIXED
    assert not stray.exists()
    assert alive.exists() and fresh_legacy.exists() and all(o.exists() for o in others)
    old = write(proj, ".asyncify-def456.tmp", "an earlier version's, from long ago")
    os.utime(old, (0, 0))
    write(proj, "app.py", ENDPOINT)
    run("app.py", *FIX)
    assert not old.exists() and fresh_legacy.exists()


def test_ctrl_c_while_writing_keeps_the_journal_and_restores_the_handlers(proj, monkeypatch):
    write(proj, "a.py", ENDPOINT)
    write(proj, "b.py", ENDPOINT)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    real = transaction.write_atomic
    calls = []

    def write_then_interrupt(path, data, expected=None, **kw):
        real(path, data, expected, **kw)
        if path.endswith(".py"):
            calls.append(path)
            os.kill(os.getpid(), signal.SIGINT)
            _tick()

    monkeypatch.setattr(transaction, "write_atomic", write_then_interrupt)
    rc, _, err = run(".", *FIX)
    assert rc == 130
    assert len(calls) == 1
    assert err.endswith("asyncify-lint: error: interrupted while the migration was written (1 of 2 files written); "
                        "run `asyncify-lint --fix` again to finish it\n")
    assert journal(proj).exists()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    monkeypatch.setattr(transaction, "write_atomic", real)
    assert run(".", *FIX)[0] == 0
    assert (proj / "a.py").read_text() == FIXED == (proj / "b.py").read_text()
    assert not journal(proj).exists()


def _tick():
    """A Python-level call: the interpreter runs a pending signal's handler when it starts one."""


DRIVER = textwrap.dedent(
    """\
    import os, signal, sys
    from asyncify_lint import cli

    real_replace = os.replace
    calls = []

    def tick():
        pass

    def replace(src, dst):
        if dst.endswith(".py"):
            calls.append(dst)
            if len(calls) == 2:  # the second file's temporary file is written: the run is told to stop
                os.kill(os.getpid(), signal.SIGTERM)
                tick()
        return real_replace(src, dst)

    os.replace = replace
    sys.exit(cli.main(sys.argv[1:]))
    """
)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_while_writing_removes_the_temporary_file_and_keeps_the_journal(proj, tmp_path):
    write(proj, "a.py", ENDPOINT)
    write(proj, "b.py", ENDPOINT)
    driver = write(tmp_path, "driver.py", DRIVER)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__))))
    r = subprocess.run([sys.executable, str(driver), ".", *FIX], cwd=proj, capture_output=True, text=True, env=env)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert "interrupted while the migration was written (1 of 2 files written)" in r.stderr
    assert temporaries(proj) == []
    assert journal(proj).exists()
    assert sorted([(proj / "a.py").read_text(), (proj / "b.py").read_text()]) == sorted([FIXED, ENDPOINT])
    rc, _, err = run(".", *FIX)
    assert rc == 0, err
    assert (proj / "a.py").read_text() == FIXED == (proj / "b.py").read_text()
    assert not journal(proj).exists()
