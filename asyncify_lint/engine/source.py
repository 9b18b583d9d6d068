"""Reading, decoding, position mapping and writing of source files, byte-faithfully.

A file is decoded with the encoding Python itself would use (BOM, then PEP 263 cookie, else UTF-8),
without newline translation, so that encoding the text again gives back the same bytes.
"""

from __future__ import annotations

import functools
import io
import os
import re
import tempfile
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


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, keeping the file's mode (a new
    file gets the mode the umask gives)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=".asyncify-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
