"""What the language server knows, without the protocol: the open documents, one warm project per
root, their diagnostics, and the edits of their fixes.

Each open document's text is an overlay of its project (``Project.set_overlay``), so the unsaved
buffer is what every module's analysis reads, and a change in one document can change the findings of
another (a function that became async, or that does session I/O now). After each change, every open
document whose text or project changed since it was last checked is checked again; the others keep
their results. Positions stay the tool's here (1-based lines, 0-based character columns, character
offsets); ``Positions`` turns them into LSP positions.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable

from asyncify_lint.config import ConfigError, Settings, load_config, over_limit, too_large_message
from asyncify_lint.diagnostics import Diagnostic, Edit
from asyncify_lint.engine.fixer import import_edits
from asyncify_lint.engine.noqa import noqa_edit
from asyncify_lint.engine.runner import PARSE_ERROR, FileState, Linter
from asyncify_lint.engine.source import SourceFile
from asyncify_lint.project import Project
from asyncify_lint.project.discover import find_root, matches_any

CONFIG_FILES = ("pyproject.toml", "setup.cfg")


class Root:
    """One project: its settings, its warm index, and the linters the server uses on it."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.settings: Settings = load_config(root)
        self.project = Project(root, self.settings)
        #: diagnostics and quick fixes: unsafe fixes are offered too, marked as such
        self.linter = Linter(self.project, self.settings, unsafe_fixes=True)
        #: "fix all": the safe fixes only (editors run it on save)
        self.safe = Linter(self.project, self.settings, unsafe_fixes=False)

    def excludes(self, relpath: str) -> bool:
        return matches_any(relpath, tuple(self.settings.exclude) + tuple(self.settings.extend_exclude))


@dataclass
class Document:
    uri: str
    path: str
    text: str
    version: int | None
    root: str
    #: the text and project generation the diagnostics were computed for
    checked: tuple[str, int] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: the text is not yet the project's overlay (a change waiting for the debounce)
    pending: bool = True


class Analysis:
    def __init__(self) -> None:
        self.roots: dict[str, Root | ConfigError] = {}
        self.documents: dict[str, Document] = {}
        #: for the user, taken by the server: what stops the analysis of a project (a bad configuration)
        self.messages: list[str] = []
        #: for the log, taken by the server: a rule's internal error, a fix that would not compile
        self.log: list[str] = []

    # -- roots -------------------------------------------------------------------------------
    def root_of(self, doc: Document) -> Root | None:
        entry = self.roots.get(doc.root)
        if entry is None:
            try:
                entry = Root(doc.root)
            except ConfigError as exc:
                entry = exc
                self.messages.append(str(exc))
            self.roots[doc.root] = entry
        return entry if isinstance(entry, Root) else None

    def _relpath(self, doc: Document) -> str:
        return os.path.relpath(doc.path, doc.root)

    # -- documents ---------------------------------------------------------------------------
    def open(self, uri: str, path: str, text: str, version: int | None) -> None:
        self.documents[uri] = Document(uri, os.path.abspath(path), text, version, find_root(path))

    def change(self, uri: str, text: str, version: int | None) -> None:
        doc = self.documents.get(uri)
        if doc is not None:
            doc.text, doc.version, doc.pending = text, version, True

    def close(self, uri: str) -> None:
        """The file on disk is what the project reads again."""
        doc = self.documents.pop(uri, None)
        if doc is None:
            return
        root = self.roots.get(doc.root)
        if isinstance(root, Root):
            root.project.set_overlay(self._relpath(doc), None)

    def file_changed(self, path: str, created_or_deleted: bool) -> None:
        """A file changed on disk (a checkout, another tool): a project whose configuration or list of
        files changed is made again; a changed module of it is read again, unless it is open."""
        path = os.path.abspath(path)
        for key, root in list(self.roots.items()):
            if not path.startswith(key + os.sep):
                continue
            if created_or_deleted or os.path.basename(path) in CONFIG_FILES or not isinstance(root, Root):
                del self.roots[key]
                for doc in self.documents.values():
                    if doc.root == key:
                        doc.pending, doc.checked = True, None
            elif all(doc.path != path for doc in self.documents.values()):
                root.project.set_overlay(os.path.relpath(path, key), None)

    def check(self) -> list[Document]:
        """Check the open documents whose text or project changed since their last check; returns them."""
        for doc in self.documents.values():
            if doc.pending:
                root = self.root_of(doc)
                if root is not None:
                    root.project.set_overlay(self._relpath(doc), doc.text)
                doc.pending = False
        out = []
        for doc in self.documents.values():
            root = self.root_of(doc)
            key = (doc.text, root.project.generation if root is not None else -1)
            if doc.checked == key:
                continue
            doc.checked = key
            doc.diagnostics = self._diagnostics(doc, root) if root is not None else []
            out.append(doc)
        return out

    def _state(self, doc: Document, root: Root) -> FileState:
        relpath = self._relpath(doc)
        src = SourceFile(doc.path, doc.text, "utf-8", b"")  # a buffer: no bytes of its own
        return FileState(relpath, relpath, src, doc.text, is_test=root.project.is_test_file(relpath))

    def _diagnostics(self, doc: Document, root: Root) -> list[Diagnostic]:
        state = self._state(doc, root)
        if not doc.path.endswith(".py") or root.excludes(state.relpath):
            return []
        limit = root.settings.max_file_size
        if over_limit(doc.text, limit):  # as the CLI: one AFY001, and the file is not analysed
            size = len(doc.text.encode("utf-8", "surrogatepass"))
            return [Diagnostic(PARSE_ERROR, too_large_message(size, limit), state.display, 1, 0, 1, 0)]
        diags = root.linter.check(state)
        self.log.extend(state.errors)
        return sorted(diags, key=Diagnostic.sort_key)

    # -- fixes -------------------------------------------------------------------------------
    def fixes(self, doc: Document, diags: list[Diagnostic]) -> list[tuple[Diagnostic, list[Edit]]]:
        """Each diagnostic of ``diags`` (of the document's current text) that has a fix the server
        offers (safe or unsafe, in a file ``--fix`` writes), with the fix's edits, imports included."""
        root = self.root_of(doc)
        if root is None:
            return []
        state = self._state(doc, root)
        fixable = [d for d in diags if d.fix is not None and root.linter.fixable(d, state)]
        if not fixable:
            return []
        try:
            ctx = root.linter.make_context(state)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
        return [(d, import_edits(ctx, d.fix.imports) + list(d.fix.edits)) for d in fixable]  # type: ignore[union-attr]

    def has_safe_fixes(self, doc: Document) -> bool:
        root = self.root_of(doc)
        if root is None:
            return False
        state = self._state(doc, root)
        return any(root.safe.fixable(d, state) for d in doc.diagnostics)

    def fix_all(self, doc: Document) -> Edit | None:
        """The document with every safe fix applied, as ``--fix`` does to one file (one rule at a time,
        imports the fixes left unused removed), as one edit of the text; None when nothing changes."""
        root = self.root_of(doc)
        if root is None:
            return None
        state = self._state(doc, root)
        try:
            root.safe.fix(state)
        finally:  # the fixes ran on the overlay: the buffer is the project's text again
            root.project.set_overlay(state.relpath, doc.text)
        self.log.extend(state.errors)
        if not state.changed:
            return None
        return replacement(doc.text, state.text)  # type: ignore[arg-type]

    @staticmethod
    def noqa(doc: Document, d: Diagnostic) -> Edit:
        return noqa_edit(doc.text, d.line, d.code)


def replacement(old: str, new: str) -> Edit:
    """One edit that turns ``old`` into ``new``: the span between their common prefix and suffix."""
    n = min(len(old), len(new))
    start = 0
    while start < n and old[start] == new[start]:
        start += 1
    end = 0
    while end < n - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    return Edit(start, len(old) - end, new[start : len(new) - end])


class Positions:
    """The tool's positions in one text as LSP positions: (0-based line, column in the client's units,
    UTF-16 code units unless another encoding was agreed), with the lines as Python and LSP both count
    them (``\\n``, ``\\r\\n``, ``\\r``)."""

    def __init__(self, text: str, units: Callable[[str], int]) -> None:
        self.text = text
        self.starts = SourceFile("", text, "utf-8", b"").line_starts
        self.units = units

    def _line_end(self, index: int) -> int:
        """Where line ``index`` (0-based) ends, before its line break."""
        if index + 1 >= len(self.starts):
            return len(self.text)
        end = self.starts[index + 1]
        while end > self.starts[index] and self.text[end - 1] in "\r\n":
            end -= 1
        return end

    def at(self, line: int, col: int) -> tuple[int, int]:
        """A diagnostic's (1-based line, character column), clamped to the text."""
        index = min(max(line, 1), len(self.starts)) - 1
        start = self.starts[index]
        return index, self.units(self.text[start : min(start + col, self._line_end(index))])

    def offset(self, offset: int) -> tuple[int, int]:
        """An edit's character offset."""
        index = bisect_right(self.starts, offset) - 1
        return index, self.units(self.text[self.starts[index] : offset])
