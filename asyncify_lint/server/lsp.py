"""The language server proper: LSP messages in, ``Analysis`` results out (pygls 2, over stdio).

Documents are synchronised whole (``TextDocumentSyncKind.Full``): pygls splits lines with
``str.splitlines``, which also breaks at form feeds and other characters that end no line in Python
or in LSP, so incremental edits could land in the wrong place. Every analysis runs on the event
loop's thread, one at a time: the project is not shared between threads.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import sys
from pathlib import Path

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path, uri_scheme

from asyncify_lint import __version__
from asyncify_lint.rule_command import format_text
from asyncify_lint.devtools.generate_docs import ROOT, page_name
from asyncify_lint.diagnostics import Applicability, Diagnostic, Edit
from asyncify_lint.engine.runner import PARSE_ERROR, gc_paused
from asyncify_lint.registry import get_rule
from asyncify_lint.server.analysis import Analysis, Document, Positions

SOURCE = "asyncify-lint"
FIX_ALL = f"source.fixAll.{SOURCE}"  # a source.fixAll action: editors run these on save when asked to
DEBOUNCE = 0.2  # seconds of quiet after a change before the buffer is checked again
WATCHED = ("**/*.py", "**/pyproject.toml", "**/setup.cfg")


class Server(LanguageServer):
    def __init__(self) -> None:
        super().__init__(SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.analysis = Analysis()
        #: uri -> its diagnostics as last published, each with the LSP diagnostic it was sent as
        self.published: dict[str, list[tuple[Diagnostic, types.Diagnostic]]] = {}
        self.shutdown_requested = False
        self._timer: asyncio.TimerHandle | None = None

    def shutdown(self) -> None:
        """End of the connection (not the LSP ``shutdown`` request). pygls waits for its thread pool
        there, whose reader may be blocked on a stdin the client keeps open after ``exit``: this process
        ends anyway, so nothing waits for it."""
        if self._stop_event is not None:
            self._stop_event.set()
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)

    # -- checking and publishing -------------------------------------------------------------
    def refresh(self) -> None:
        """Check what changed (the debounced change now, if one waits) and publish the results."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with gc_paused():
            checked = self.analysis.check()
        for doc in checked:
            positions = self.positions(doc)
            pairs = [(d, _diagnostic(d, positions)) for d in doc.diagnostics]
            self.published[doc.uri] = pairs
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=doc.uri, version=doc.version, diagnostics=[lsp for _, lsp in pairs]))
        self.report()

    def refresh_soon(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(DEBOUNCE, self.refresh)

    def report(self) -> None:
        """Tell the user what went wrong: a bad configuration as a message, a rule's crash in the log."""
        error = types.MessageType.Error
        for message in self.analysis.messages:
            self.window_show_message(types.ShowMessageParams(type=error, message=f"{SOURCE}: {message}"))
        for message in self.analysis.log:
            self.window_log_message(types.LogMessageParams(type=error, message=f"{SOURCE}: {message}"))
        self.analysis.messages.clear()
        self.analysis.log.clear()

    def positions(self, doc: Document) -> Positions:
        return Positions(doc.text, self.workspace.position_codec.client_num_units)

    def workspace_edit(self, doc: Document, edits: list[Edit]) -> types.WorkspaceEdit:
        positions = self.positions(doc)
        text_edits = [types.TextEdit(range=_range(positions.offset(e.start), positions.offset(e.end)),
                                     new_text=e.content) for e in edits]
        if get_capability(self.client_capabilities, "workspace.workspace_edit.document_changes", False):
            identifier = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
            change = types.TextDocumentEdit(text_document=identifier, edits=text_edits)
            return types.WorkspaceEdit(document_changes=[change])
        return types.WorkspaceEdit(changes={doc.uri: text_edits})


def _range(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(start=types.Position(*start), end=types.Position(*end))


@functools.cache
def docs_uri(code: str) -> str | None:
    """The rule's page in ``docs/rules/`` when it is there (a source checkout, an editable install)."""
    rule = get_rule(code)
    if rule is None:
        return None
    path = os.path.join(ROOT, "docs", "rules", page_name(rule))
    return Path(path).as_uri() if os.path.isfile(path) else None


def _diagnostic(d: Diagnostic, positions: Positions) -> types.Diagnostic:
    href = docs_uri(d.code)
    return types.Diagnostic(
        range=_range(positions.at(d.line, d.col), positions.at(d.end_line, d.end_col)),
        message=d.message,
        severity=types.DiagnosticSeverity.Error if d.code == PARSE_ERROR else types.DiagnosticSeverity.Warning,
        code=d.code,
        code_description=types.CodeDescription(href=href) if href else None,
        source=SOURCE,
    )


def _before(a: types.Position, b: types.Position) -> bool:
    return (a.line, a.character) <= (b.line, b.character)


def _touches(a: types.Range, b: types.Range) -> bool:
    return _before(a.start, b.end) and _before(b.start, a.end)


def _wanted(kind: str, only: list[str] | None) -> bool:
    """Whether a code action of ``kind`` is asked for (kinds are hierarchical: ``source`` asks for
    ``source.fixAll.asyncify-lint`` too)."""
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


server = Server()


@server.feature(types.INITIALIZED)
def initialized(ls: Server, params: types.InitializedParams) -> None:
    """Ask to hear of the files changed on disk (other modules, the configuration), if the client can."""
    if get_capability(ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration", False):
        watchers = [types.FileSystemWatcher(glob_pattern=g) for g in WATCHED]
        ls.client_register_capability(types.RegistrationParams(registrations=[types.Registration(
            id=f"{SOURCE}-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))]))


@server.feature(types.SHUTDOWN)
def shutdown(ls: Server, params: None) -> None:
    ls.shutdown_requested = True


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: Server, params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    if uri_scheme(doc.uri) != "file":
        return  # an unsaved new buffer, a diff view: no file, no project
    ls.analysis.open(doc.uri, to_fs_path(doc.uri), doc.text, doc.version)  # type: ignore[arg-type]
    ls.refresh()


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: Server, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    if uri in ls.analysis.documents:
        ls.analysis.change(uri, ls.workspace.get_text_document(uri).source, params.text_document.version)
        ls.refresh_soon()


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: Server, params: types.DidSaveTextDocumentParams) -> None:
    ls.refresh()


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: Server, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    if uri not in ls.analysis.documents:
        return
    ls.analysis.close(uri)
    ls.published.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
    ls.refresh()  # the others now read the file on disk, which may differ from the buffer


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: Server, params: types.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        path = to_fs_path(change.uri)
        if path is not None:
            ls.analysis.file_changed(path, change.type != types.FileChangeType.Changed)
    ls.refresh()


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=True))
def code_action(ls: Server, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    ls.refresh()
    doc = ls.analysis.documents.get(params.text_document.uri)
    if doc is None:
        return None
    only = params.context.only
    actions: list[types.CodeAction] = []
    if _wanted(types.CodeActionKind.QuickFix, only):
        asked = [c for c in params.context.diagnostics if c.source == SOURCE]
        hits = [(d, lsp) for d, lsp in ls.published.get(doc.uri, [])
                if _touches(lsp.range, params.range) or lsp in asked]
        lsp_of = {id(d): lsp for d, lsp in hits}
        for d, edits in ls.analysis.fixes(doc, [d for d, _ in hits]):
            unsafe = d.fix.applicability is Applicability.UNSAFE  # type: ignore[union-attr]
            title = f"{SOURCE} ({d.code}): {d.fix_title or d.message}{' (unsafe)' if unsafe else ''}"
            actions.append(types.CodeAction(title=title, kind=types.CodeActionKind.QuickFix,
                                            diagnostics=[lsp_of[id(d)]], edit=ls.workspace_edit(doc, edits),
                                            is_preferred=not unsafe))
        disabled = set()
        for d, lsp in hits:
            if (d.code, d.line) in disabled:
                continue
            disabled.add((d.code, d.line))
            actions.append(types.CodeAction(title=f"{SOURCE}: Disable {d.code} for this line",
                                            kind=types.CodeActionKind.QuickFix, diagnostics=[lsp],
                                            edit=ls.workspace_edit(doc, [ls.analysis.noqa(doc, d)])))
    if _wanted(FIX_ALL, only) and ls.analysis.has_safe_fixes(doc):
        action = types.CodeAction(title=f"{SOURCE}: Fix all safe fixes in this file", kind=FIX_ALL,
                                  data={"uri": doc.uri, "version": doc.version})
        resolvable = get_capability(ls.client_capabilities, "text_document.code_action.resolve_support.properties", [])
        actions.append(action if "edit" in resolvable else code_action_resolve(ls, action))
    return actions


@server.feature(types.CODE_ACTION_RESOLVE)
def code_action_resolve(ls: Server, action: types.CodeAction) -> types.CodeAction:
    """The "fix all" edit, computed when the action is chosen (it runs every rule's fixes)."""
    data = action.data if isinstance(action.data, dict) else {}
    doc = ls.analysis.documents.get(data.get("uri", ""))
    if action.kind != FIX_ALL or doc is None or doc.version != data.get("version"):
        return action  # a document changed since: no edit rather than a stale one
    ls.refresh()
    with gc_paused():
        edit = ls.analysis.fix_all(doc)
    ls.report()
    if edit is not None:
        action.edit = ls.workspace_edit(doc, [edit])
    return action


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: Server, params: types.HoverParams) -> types.Hover | None:
    ls.refresh()
    where = types.Range(start=params.position, end=params.position)
    hits = [lsp for _, lsp in ls.published.get(params.text_document.uri, []) if _touches(lsp.range, where)]
    parts = []
    for code in dict.fromkeys(str(lsp.code) for lsp in hits):
        rule = get_rule(code)
        if rule is None:
            continue
        href = docs_uri(code)
        parts.append(format_text(rule).rstrip("\n") + (f"\n\n[{code} documentation]({href})" if href else ""))
    if not parts:
        return None
    contents = types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts))
    return types.Hover(contents=contents, range=hits[0].range)


def serve() -> int:
    """Serve on stdin and stdout until the client says ``exit``; the exit code the protocol asks for."""
    gc.enable()  # a long-lived process: the collector runs between analyses, paused during them as in the CLI
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the protocol: a stray print must not break it
    server.start_io(sys.stdin.buffer, stdout)
    return 0 if server.shutdown_requested else 1  # LSP: 1 when `exit` came without `shutdown`
