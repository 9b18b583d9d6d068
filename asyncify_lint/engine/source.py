"""Reading, decoding, position mapping and writing of source files, byte-faithfully.

A file is decoded with the encoding Python itself would use (BOM, then PEP 263 cookie, else UTF-8),
without newline translation, so that encoding the text again gives back the same bytes.
"""

from __future__ import annotations

import functools
import io
import os
import re
import stat
import tempfile
import time
import tokenize
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add

_LINE_END = re.compile(r"\r\n|\r|\n")


class SourceError(Exception):
    """The file cannot be read or decoded; the message is meant for the user."""


class DecodeError(SourceError):
    """The file was read but its bytes are not text in its encoding: the file is reported (AFY001),
    not the run."""


@dataclass
class SourceFile:
    path: str
    text: str
    encoding: str  # as given by tokenize.detect_encoding ("utf-8-sig" when there is a BOM)
    raw: bytes
    _line_starts: list[int] | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(cls, path: str, raw: bytes) -> "SourceFile":
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        except SyntaxError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:  # the usual case: Latin-1 or cp1252 bytes, no cookie
                raise DecodeError(f"cannot decode: {_where(raw, bad)} is not UTF-8, and the file declares "
                                  "no other encoding (PEP 263)") from None
            raise DecodeError(f"cannot decode: {exc}") from None
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DecodeError(f"cannot decode as {encoding}: {exc}") from None
        return cls(path=path, text=text, encoding=encoding, raw=raw)

    @classmethod
    def read(cls, path: str) -> "SourceFile":
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise SourceError(f"cannot read: {exc.strerror or exc}") from None
        return cls.from_bytes(path, raw)

    def with_text(self, text: str) -> "SourceFile":
        return SourceFile(path=self.path, text=text, encoding=self.encoding, raw=self.encode(text))

    def encode(self, text: str | None = None) -> bytes:
        return (self.text if text is None else text).encode(self.encoding)

    # -- positions ---------------------------------------------------------------------------
    @property
    def line_starts(self) -> list[int]:
        """Character offset at which each line starts (index 0 is line 1), as Python counts lines."""
        if self._line_starts is None:
            text = self.text
            if "\r" in text:
                starts = [0]
                starts.extend(m.end() for m in _LINE_END.finditer(text))
            else:  # "\n" only: the lines' lengths, each plus its newline, summed (no Python-level loop)
                lines = text.split("\n")
                lines.pop()
                starts = [0, *accumulate(map(add, map(len, lines), repeat(1)))]
            self._line_starts = starts
        return self._line_starts

    def line_text(self, lineno: int) -> str:
        starts = self.line_starts
        if lineno - 1 >= len(starts):
            return ""
        begin = starts[lineno - 1]
        end = starts[lineno] if lineno < len(starts) else len(self.text)
        return self.text[begin:end]

    @functools.cached_property
    def is_ascii(self) -> bool:
        """All-ASCII text: ``ast`` byte columns are character columns."""
        return self.text.isascii()

    def char_col(self, lineno: int, byte_col: int) -> int:
        """Convert an ``ast`` column (UTF-8 bytes) into a character column."""
        if self.is_ascii:
            return byte_col
        line = self.line_text(lineno)
        if line.isascii():
            return byte_col
        return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def offset(self, lineno: int, byte_col: int) -> int:
        """Character offset in ``text`` of an ``ast`` position."""
        starts = self.line_starts
        if lineno - 1 >= len(starts):
            return len(self.text)
        if self.is_ascii:
            return starts[lineno - 1] + byte_col
        return starts[lineno - 1] + self.char_col(lineno, byte_col)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and 0-based character column of a character offset."""
        i = bisect_right(self.line_starts, offset) - 1
        return i + 1, offset - self.line_starts[i]

    @property
    def newline(self) -> str:
        m = _LINE_END.search(self.text)
        return m.group(0) if m else "\n"


def _where(raw: bytes, exc: UnicodeDecodeError) -> str:
    """``byte 0xe9 at line 3, column 7`` for a decoding error (1-based, as an editor shows it)."""
    line = raw.count(b"\n", 0, exc.start) + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    return f"byte 0x{raw[exc.start]:02x} at line {line}, column {col}"


# -- writing -------------------------------------------------------------------------------------
#: a temporary file of a write is named ``.asyncify-<pid>-<random>.tmp``, beside the file it replaces
TEMP_PREFIX, TEMP_SUFFIX = ".asyncify-", ".tmp"
_TEMP_NAME = re.compile(r"\.asyncify-(?:(\d+)-)?[A-Za-z0-9_]+\.tmp")
#: a temporary file without a process id (as earlier versions named them) is stray after this long
_LEGACY_TEMP_AGE = 3600.0


class ChangedOnDisk(Exception):
    """The file no longer holds the bytes it was expected to hold: someone else wrote it."""


_ANY = object()  # write_atomic without a check of what the file holds


def write_target(path: str) -> str:
    """The file a write of ``path`` replaces: a symbolic link is written through, to its target."""
    return os.path.realpath(path)


def read_current(path: str) -> bytes | None:
    """The bytes ``path`` holds now (through a symbolic link), or None when there is no such file."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_refusal(path: str) -> str | None:
    """Why ``path`` must not be written, for the user (e.g. ``it is read-only``), or None.

    A file without any write bit is refused even where its owner (or root) could write it, as ruff
    does: the mode says the file is not to be changed. A new file needs a directory it can be made in."""
    target = write_target(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            return "its directory does not exist"
        if not os.access(directory, os.W_OK | os.X_OK):
            return "its directory is not writable"
        return None
    except OSError as exc:
        return f"cannot stat it: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
        return "it is read-only"
    return None


def write_atomic(path: str, data: bytes, expected=_ANY) -> None:
    """Replace the contents of ``path`` with ``data``; with ``expected`` (bytes, or None for no file),
    only if the file still holds that, checked just before it is replaced (else ``ChangedOnDisk``).

    A symbolic link is written through, to its target, and stays a link. A file with other hard links
    (or in a directory this process cannot write) is written in place, so that it keeps its inode and
    every name of it sees the new text. Any other file is written to a temporary file beside it, synced
    and renamed over it, so that a reader never sees half of it; the new file keeps the old one's mode
    and, where this process may set them, owner and group (a new file gets the mode the umask gives)."""
    target = write_target(path)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    directory = os.path.dirname(target)
    if st is not None and (st.st_nlink > 1 or not os.access(directory, os.W_OK | os.X_OK)):
        _write_in_place(target, data, expected)
        return
    if st is not None:
        mode = st.st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if st is not None:
                _keep_owner(f.fileno(), st)
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)  # after the owner: a chown clears the set-id bits
            os.fsync(f.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, mode)
        if expected is not _ANY and read_current(target) != expected:
            raise ChangedOnDisk(path)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_in_place(target: str, data: bytes, expected) -> None:
    with open(target, "r+b") as f:
        if expected is not _ANY and f.read() != expected:
            raise ChangedOnDisk(target)
        f.seek(0)
        f.write(data)
        f.truncate()
        f.flush()
        os.fsync(f.fileno())


def _keep_owner(fd: int, st: os.stat_result) -> None:
    """Give the new file the old one's owner (root only) and group (its owner may, to a group of theirs)."""
    if not hasattr(os, "fchown"):
        return
    mine = os.fstat(fd)
    uid = st.st_uid if os.geteuid() == 0 and mine.st_uid != st.st_uid else -1
    gid = st.st_gid if mine.st_gid != st.st_gid else -1
    if uid == -1 and gid == -1:
        return
    try:
        os.fchown(fd, uid, gid)
    except PermissionError:
        pass


def sync_directory(directory: str) -> None:
    """Make the renames in ``directory`` durable (where the platform allows it)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dir(directory: str, ignored: bool) -> bool:
    """Create a directory of the tool's if need be (True if this made it). One the tool creates, and
    one that is ``ignored`` (the project's ``.asyncify_cache``), ignores itself in git (a ``.gitignore``
    of ``*``); a directory that was there already (the user's) is otherwise left as it is."""
    created = not os.path.isdir(directory)
    os.makedirs(directory, exist_ok=True)
    ignore = os.path.join(directory, ".gitignore")
    if (created or ignored) and not os.path.exists(ignore):
        fd, tmp = tempfile.mkstemp(prefix=".gitignore-", dir=directory)
        with os.fdopen(fd, "w") as f:
            f.write("*\n")
        os.replace(tmp, ignore)
    return created


def remove_stray_temps(directory: str) -> list[str]:
    """Remove the temporary files a write left in ``directory`` when its process was killed: those of
    a process that no longer runs (or of this one: it is not writing while it cleans), and unnamed ones
    (earlier versions) older than an hour. Only names this module makes are considered. The removed
    names are returned."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        m = _TEMP_NAME.fullmatch(name)
        if m is None:
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            if m.group(1) is not None:
                pid = int(m.group(1))
                if pid != os.getpid() and _process_alive(pid):
                    continue
            elif time.time() - st.st_mtime < _LEGACY_TEMP_AGE:
                continue
            os.unlink(path)
        except OSError:
            continue
        removed.append(name)
    return removed


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill there would end the process: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM): it runs
        return True
    return True
