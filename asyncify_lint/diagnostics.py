"""Diagnostics, fixes and edits: the data every rule produces and every front end consumes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Applicability(enum.Enum):
    """How a fix may be applied (ruff's model)."""

    SAFE = "safe"  # applied by --fix
    UNSAFE = "unsafe"  # applied by --fix --unsafe-fixes
    DISPLAY_ONLY = "display-only"  # shown in --diff / JSON, never applied


class FixAvailability(enum.Enum):
    ALWAYS = "always"
    SOMETIMES = "sometimes"
    NONE = "none"


@dataclass(frozen=True)
class Edit:
    """Replace the characters ``[start, end)`` of the file's text with ``content``."""

    start: int
    end: int
    content: str


@dataclass(frozen=True)
class ImportRequest:
    """An import a fix needs: ``import module`` (name is None) or ``from module import name``."""

    module: str
    name: str | None = None


@dataclass
class Fix:
    edits: list[Edit]
    applicability: Applicability
    imports: list[ImportRequest] = field(default_factory=list)

    @property
    def start(self) -> int:
        return min(e.start for e in self.edits)

    @property
    def end(self) -> int:
        return max(e.end for e in self.edits)


@dataclass
class Diagnostic:
    code: str
    message: str
    path: str
    line: int  # 1-based
    col: int  # 0-based, in characters
    end_line: int
    end_col: int
    fix_title: str | None = None
    fix: Fix | None = None

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.col, self.code, self.message)

    def fix_applies(self, unsafe: bool) -> bool:
        if self.fix is None:
            return False
        if self.fix.applicability is Applicability.SAFE:
            return True
        return unsafe and self.fix.applicability is Applicability.UNSAFE
