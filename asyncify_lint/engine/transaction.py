"""Writing a migration as one transaction: every file of it, or none, through a journal.

A half-written migration is a broken app (an ``await`` on a function that is not async yet), so the
``--fix`` of a run is written whole or not at all:

* before anything is written, every file is checked: it must still hold the bytes that were analysed
  (an editor may have saved it meanwhile), and it must be writable; one problem and nothing is written;
* the journal (``journal_path``) is written, then each file (``source.write_atomic``, which checks the
  file once more just before it replaces it), then the journal is removed. A write that fails, or a
  file that changed in between, puts back the files already written, and nothing is left written;
* a run that was killed on the way leaves the journal: the next run says so, and with ``--fix``
  finishes the migration (``Journal``) before anything else.

The journal is JSON, data only: per file, its path relative to the project root, the SHA-256 of the
bytes it held before, and its new bytes (base64). SIGINT and SIGTERM are turned into an exception
while the files are written, so that a temporary file is removed, not left beside the file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import signal
import threading
from dataclasses import dataclass
from typing import Iterator

from asyncify_lint.config import CACHE_DIR
from asyncify_lint.engine.source import (
    ChangedOnDisk,
    make_dir,
    read_current,
    remove_stray_temps,
    sync_directory,
    write_atomic,
    write_refusal,
    write_target,
)

JOURNAL_NAME = "migration.journal"
_FORMAT = "asyncify-lint migration journal"
_VERSION = 1


def journal_path(root: str, cache_dir: str | None = None) -> str:
    """Where the journal of a migration of the project at ``root`` is kept: in its cache directory."""
    return os.path.join(cache_dir if cache_dir is not None else os.path.join(root, CACHE_DIR), JOURNAL_NAME)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Change:
    """One file of a migration."""

    rel: str  # relative to the project root: the journal's name of it
    path: str  # as the project names it (a symbolic link's own name)
    display: str  # as the user is told
    original: bytes | None  # the bytes that were analysed (None: a new file)
    new: bytes


class WriteFailed(Exception):
    """The migration could not be written; the message is for the user. ``undone``: nothing is left
    written (else the journal is kept, for the next run to finish)."""

    def __init__(self, message: str, undone: bool) -> None:
        super().__init__(message)
        self.undone = undone


class Interrupted(BaseException):
    """SIGINT or SIGTERM while the files were written (``written`` of them are)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.written = 0


def _names(displays: list[str]) -> str:
    return ", ".join(displays)


# -- before anything is written ----------------------------------------------------------------------


def problems(changes: list[Change]) -> list[str]:
    """Why the migration must not be written, one line each (nothing when it may be)."""
    out = []
    by_target: dict[str, Change] = {}
    linked = []
    for c in changes:
        other = by_target.setdefault(write_target(c.path), c)
        if other is not c and other.new != c.new:
            linked.append(f"{other.display} and {c.display} are the same file (a link), and the migration "
                          "gives them different texts; nothing was written")
    out += linked
    changed = [c.display for c in changes if read_current(c.path) != c.original]
    if changed:
        what = "has changed on disk since it was read" if len(changed) == 1 else \
            "have changed on disk since they were read"
        out.append(f"{_names(changed)} {what}; nothing was written; run again")
    for c in changes:
        if c.display in changed:
            continue
        reason = write_refusal(c.path)
        if reason is not None:
            out.append(f"cannot write {c.display}: {reason}; nothing was written")
    return out


def unique_targets(changes: list[Change]) -> list[Change]:
    """One change per file written: two names of one file (links) with the same new text are one write."""
    seen: set[str] = set()
    out = []
    for c in changes:
        target = write_target(c.path)
        if target not in seen:
            seen.add(target)
            out.append(c)
    return out


# -- writing -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the files are written, SIGINT and SIGTERM (and SIGHUP) raise ``Interrupted`` (once), so
    that the write in progress removes its temporary file; the handlers before are put back after. A
    signal ignored before stays ignored; outside the main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum, _frame):
        if fired:  # a second signal while the first one's cleanup runs
            return
        fired.append(signum)
        raise Interrupted(signum)

    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                continue
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            continue
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _journal_bytes(changes: list[Change]) -> bytes:
    files = [
        {
            "path": c.rel,
            "original_sha256": None if c.original is None else sha256(c.original),
            "new_sha256": sha256(c.new),
            "new": base64.b64encode(c.new).decode("ascii"),
        }
        for c in changes
    ]
    return json.dumps({"format": _FORMAT, "version": _VERSION, "files": files}, indent=1).encode("utf-8") + b"\n"


def _drop_cache_dir(directory: str) -> None:
    """Remove the directory ``make_dir`` made for the journal, if nothing else came into it:
    a migration leaves no more than its files."""
    with contextlib.suppress(OSError):
        if os.listdir(directory) == [".gitignore"]:
            os.unlink(os.path.join(directory, ".gitignore"))
            os.rmdir(directory)


def commit(changes: list[Change], journal: str) -> None:
    """Write every change, or none (``WriteFailed``). ``problems`` was checked before.

    ``Interrupted`` (a signal) and any other exception leave the journal, and the files written so
    far, for the next run to finish."""
    changes = unique_targets(changes)
    for directory in sorted({os.path.dirname(write_target(c.path)) for c in changes}):
        remove_stray_temps(directory)
    journal_dir = os.path.dirname(journal)
    made = False
    try:
        made = make_dir(journal_dir, ignored=True)
        remove_stray_temps(journal_dir)
        write_atomic(journal, _journal_bytes(changes))
        sync_directory(journal_dir)
    except OSError as exc:
        if made:
            _drop_cache_dir(journal_dir)
        raise WriteFailed(f"cannot write the migration journal {journal}: {exc.strerror or exc}; "
                          "nothing was written", undone=True) from None
    written: list[Change] = []
    try:
        for c in changes:
            write_atomic(c.path, c.new, expected=c.original)
            written.append(c)
    except (ChangedOnDisk, OSError) as exc:
        c = changes[len(written)]
        if isinstance(exc, ChangedOnDisk):
            why = f"{c.display} changed on disk since it was read"
            tail = "run again"
        else:
            why = f"cannot write {c.display}: {exc.strerror or exc}"
            tail = ""
        if _undo(written):
            _remove(journal)
            if made:
                _drop_cache_dir(journal_dir)
            raise WriteFailed(f"{why}; nothing was written" + (f"; {tail}" if tail else ""), undone=True) from None
        raise WriteFailed(f"{why}, and the files written before it could not all be put back; run "
                          "`asyncify-lint --fix` again to finish the migration", undone=False) from None
    except Interrupted as exc:
        exc.written = _count_written(changes)
        raise
    _settle(changes, journal)
    if made:
        _drop_cache_dir(journal_dir)


def _count_written(changes: list[Change]) -> int:
    """How many of ``changes`` are on disk (a signal may come between a write and its bookkeeping)."""
    n = 0
    for c in changes:
        with contextlib.suppress(OSError):
            n += read_current(c.path) == c.new
    return n


def _undo(written: list[Change]) -> bool:
    """Put back the files ``written`` (those still holding what the migration wrote); True if all were."""
    ok = True
    for c in reversed(written):
        try:
            if c.original is None:
                if read_current(c.path) == c.new:
                    os.unlink(write_target(c.path))
            else:
                write_atomic(c.path, c.original, expected=c.new)
        except (ChangedOnDisk, OSError):
            ok = False
    return ok


def _settle(changes: list[Change], journal: str) -> None:
    """Every file is written: sync the directories the renames changed, then remove the journal."""
    for directory in sorted({os.path.dirname(write_target(c.path)) for c in changes}):
        sync_directory(directory)
    _remove(journal)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sync_directory(os.path.dirname(path))


# -- the journal a killed run left -------------------------------------------------------------------


class JournalError(Exception):
    """The journal is ill-formed; the message says how."""


@dataclass
class Entry:
    rel: str
    original_sha256: str | None
    new: bytes


def _is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


def load_journal(path: str) -> list[Entry] | None:
    """The entries of the journal at ``path``; None when there is none. ``JournalError`` when it is not
    one this version wrote (it is data only: JSON, validated field by field)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalError(f"cannot read it: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise JournalError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise JournalError("not a migration journal")
    if data.get("version") != _VERSION:
        raise JournalError(f"version {data.get('version')!r}, not {_VERSION}")
    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise JournalError("no list of files")
    entries = []
    seen = set()
    for i, item in enumerate(files):
        if not isinstance(item, dict):
            raise JournalError(f"file {i} is not an object")
        rel = item.get("path")
        if not isinstance(rel, str) or not rel or "\0" in rel or os.path.isabs(rel) or rel in seen:
            raise JournalError(f"file {i}: bad or repeated path {rel!r}")
        seen.add(rel)
        original = item.get("original_sha256")
        if original is not None and not _is_sha256(original):
            raise JournalError(f"{rel}: bad original_sha256")
        if not _is_sha256(item.get("new_sha256")) or not isinstance(item.get("new"), str):
            raise JournalError(f"{rel}: bad new bytes")
        try:
            new = base64.b64decode(item["new"], validate=True)
        except (binascii.Error, ValueError):
            raise JournalError(f"{rel}: the new bytes are not base64") from None
        if sha256(new) != item["new_sha256"]:
            raise JournalError(f"{rel}: the new bytes do not match their hash")
        entries.append(Entry(rel, original, new))
    return entries


@dataclass
class Recovery:
    """What finishing an interrupted migration takes: the files to write, those already written, and
    why it cannot be finished (one line each)."""

    pending: list[Change]
    done: list[str]
    conflicts: list[str]


def recovery(entries: list[Entry], root: str, display) -> Recovery:
    """Compare each file of the journal with the disk. ``display`` names a path for the user."""
    pending, done, conflicts = [], [], []
    real_root = os.path.realpath(root)
    for e in entries:
        path = os.path.normpath(os.path.join(root, e.rel))
        shown = display(path)
        # a journal is a file in the checked repository, which may have been committed there: it never
        # writes outside the project, also not through a symbolic link, and never makes a file at a link
        target = os.path.realpath(path)
        if os.path.normpath(e.rel).split(os.sep)[0] == os.pardir or \
                os.path.commonpath([real_root, target]) != real_root:
            conflicts.append(f"{shown} is outside the project; the journal does not write there")
            continue
        if e.original_sha256 is None and os.path.islink(path):
            conflicts.append(f"{shown} is a symbolic link; the journal does not make a new file through it")
            continue
        try:
            current = read_current(path)
        except OSError as exc:
            conflicts.append(f"cannot read {shown}: {exc.strerror or exc}")
            continue
        if current is not None and sha256(current) == sha256(e.new):
            done.append(shown)
        elif (current is None and e.original_sha256 is None) or (
            current is not None and sha256(current) == e.original_sha256
        ):
            pending.append(Change(e.rel, path, shown, current, e.new))
        else:
            conflicts.append(f"{shown} changed since (it is neither as it was nor as the migration writes it)")
    return Recovery(pending, done, conflicts)


def finish(pending: list[Change], journal: str) -> None:
    """Write the files an interrupted migration had left, then remove its journal. A failure keeps the
    journal (``WriteFailed``, not undone): the files already written are as the migration wants them."""
    pending = unique_targets(pending)
    written = 0
    try:
        for c in pending:
            remove_stray_temps(os.path.dirname(write_target(c.path)))
            write_atomic(c.path, c.new, expected=c.original)
            written += 1
    except ChangedOnDisk:
        raise WriteFailed(f"{pending[written].display} changed on disk while the interrupted migration was "
                          "finished; run again", undone=False) from None
    except OSError as exc:
        raise WriteFailed(f"cannot write {pending[written].display}: {exc.strerror or exc}", undone=False) from None
    except Interrupted as exc:
        exc.written = _count_written(pending)
        raise
    _settle(pending, journal)
