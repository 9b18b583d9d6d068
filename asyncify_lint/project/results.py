"""On-disk cache of each file's diagnostics: a warm check re-checks only what an edit can change.

A file's entry holds its diagnostics (fixes included) and its read-set (``project/deps.py``): the
texts of the modules its rules read, the scans over every file it relied on, the module summaries it
read, and the call-graph questions it asked with a fingerprint of each answer. A later run reuses the
entry when the file's text is the same and every one of those is still true:

* each module read has the same text (its content hash);
* each scan (``contexts_containing``) matches the same files;
* each summary read has the same fingerprint;
* each question about the call graph, asked again, has the same answer. The graph is only built
  again when some file changed since the entry was recorded (the entry's ``epoch``); then an edit
  that changes a function's colour re-checks exactly the files that asked about it.

The whole file is keyed by the tool (version and the bytes of its own code, so an edited checkout
never reuses results of other code), the settings and the module map: a file added, removed or
moved, or any setting changed, starts afresh. It is JSON, read as untrusted data like the summary
cache (``project/cache.py``): anything ill-typed is ignored and computed again; writes go to a
temporary file and ``os.replace``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING

from asyncify_lint.config import CACHE_DIR
from asyncify_lint.diagnostics import Applicability, Diagnostic, Edit, Fix, ImportRequest
from asyncify_lint.engine.source import make_dir
from asyncify_lint.project import cache
from asyncify_lint.project.deps import SOFT_QUESTIONS, Deps, Opaque, answer, decode_args, encode_args, fingerprint
from asyncify_lint.project.summary import content_fingerprint, text_sha

if TYPE_CHECKING:
    from asyncify_lint.engine.runner import FileState, Linter

_MAGIC = "asyncify-lint-results-1"


def _blake(data: str) -> str:
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@functools.lru_cache(maxsize=None)
def code_key() -> str:
    """The tool's own code: its version and the size and mtime of each of its modules."""
    from asyncify_lint import __version__

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [__version__, sys.version]
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.endswith((".py", ".tsv")):
                st = os.stat(os.path.join(directory, name))
                parts.append(f"{os.path.relpath(os.path.join(directory, name), root)}:{st.st_mtime_ns}:{st.st_size}")
    return _blake("\n".join(parts))


def settings_key(settings) -> str:
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    return _blake(json.dumps(fields, sort_keys=True, default=repr))


def results_file(root: str, settings, flavour: str) -> str:
    """The results of one set of settings (``flavour``: rules, options): two selections run in turn
    (a pre-commit hook and an editor) keep a file each."""
    base = cache.cache_file(root, settings)
    directory, name = os.path.split(base)
    return os.path.join(directory, f"results-{name[len('summaries-'):-len('.json')]}-{flavour}.json")


# -- diagnostics as data ----------------------------------------------------------------------------
def _encode_diag(d: Diagnostic) -> list:
    fix = None
    if d.fix is not None:
        fix = [d.fix.applicability.value, [[e.start, e.end, e.content] for e in d.fix.edits],
               [[i.module, i.name] for i in d.fix.imports]]
    return [d.code, d.message, d.line, d.col, d.end_line, d.end_col, d.fix_title, fix]


def _decode_diag(item: list, path: str) -> Diagnostic:
    code, message, line, col, end_line, end_col, title, fix = item
    if not (isinstance(code, str) and isinstance(message, str) and all(
            type(v) is int for v in (line, col, end_line, end_col)) and (title is None or isinstance(title, str))):
        raise ValueError("ill-typed diagnostic")
    made = None
    if fix is not None:
        applicability, edits, imports = fix
        made = Fix([Edit(int(s), int(e), str(c)) for s, e, c in edits], Applicability(applicability),
                   [ImportRequest(str(m), None if n is None else str(n)) for m, n in imports])
    return Diagnostic(code, message, path, line, col, end_line, end_col, title, made)


class ResultCache:
    """The results of one project's files under one set of settings, for one run of the checker."""

    def __init__(self, linter: "Linter") -> None:
        self.linter = linter
        self.project = project = linter.project
        flavour = _blake(repr((settings_key(linter.settings), sorted(r.code for r in linter.rules),
                               linter.unsafe_fixes)))[:12]
        self.path = results_file(project.root, project.settings, flavour)
        modules = sorted((m, rel, pkg) for m, (rel, pkg) in project.modules.items())
        self.key = _blake(repr((_MAGIC, code_key(), flavour, modules)))
        self._entries: dict | None = None
        self._raw: dict[str, bytes] = {}  # relpath -> the file's bytes, as this run read them
        self._shas: dict[str, str] = {}
        self._answers: dict[tuple, str | None] = {}  # (kind, name, args) -> fingerprint now (None: fails)
        self._soft_rels: dict[tuple[str, tuple], set[str]] = {}  # question -> the files its answer is made of
        self._needles: dict[tuple[bytes, ...], str] = {}
        self._epoch: str | None = None
        self._table: dict[str, list] | None = None
        self._old_table: dict[str, list] = {}
        self._unchanged = False  # no file changed since the last run's table
        self._old_state = ""  # the project's state then (project/state.py)
        self._state = ""
        self._changed = False
        self.reused = 0
        self.checked: list[str] = []  # the files checked (again) by this run

    # -- what the files hold now ------------------------------------------------------------------
    def seen(self, state: "FileState") -> None:
        """A file this run read: its text and bytes are the ones the checks see."""
        if state.source is not None and state.text is not None:
            self._shas[state.relpath] = text_sha(state.text)
            self._raw[state.relpath] = state.source.raw

    def sha(self, relpath: str) -> str:
        found = self._shas.get(relpath)
        if found is None:
            found = self._shas[relpath] = self.project.store.sha(relpath)
        return found

    def _bytes(self, relpath: str) -> bytes:
        data = self._raw.get(relpath)
        if data is None:
            try:
                with open(os.path.join(self.project.root, relpath), "rb") as f:
                    data = f.read()
            except OSError:
                data = b""
            self._raw[relpath] = data
        return data

    def needle_hits(self, needles: tuple[bytes, ...]) -> str:
        """Which files contain one of ``needles`` now (a fingerprint of their names)."""
        found = self._needles.get(needles)
        if found is None:
            hits = [rel for rel in self.project.files if any(n in self._bytes(rel) for n in needles)]
            found = self._needles[needles] = _blake("\n".join(hits))
        return found

    def epoch(self) -> str:
        """The call graph now: what it is built of (every module summary's content, and the project's
        state). Its answers can only differ when this does."""
        if self._epoch is None:
            table = self.table()
            if self._unchanged and self._old_state:  # read from the same files as then
                self._state = self._old_state
            else:
                self._state = self.project.state.state
            self._epoch = _blake("\n".join([self._state, *(f"{rel}:{table[rel][1]}" for rel in sorted(table))]))
        return self._epoch

    def table(self) -> dict[str, list]:
        """Each file's ``[text hash, summary content fingerprint, files its summary consulted]`` now:
        the last run's, but for the files changed since and those whose summary consulted them."""
        if self._table is None:
            project, old = self.project, self._old_table
            changed = {rel for rel in project.files if rel not in old or old[rel][0] != self.sha(rel)}
            self._unchanged = not changed and len(old) == len(project.files)
            if len(changed) > 0.1 * len(project.files):
                project.summaries  # summarised in worker processes, as a cold run does
            table: dict[str, list] = {}
            for rel in project.files:
                entry = old.get(rel)
                if entry is None or rel in changed or not changed.isdisjoint(entry[2]):
                    s = project.store.get(rel)
                    consulted = sorted(project.modules[m][0] for m in (s.deps if s else ()) if m in project.modules)
                    entry = [self.sha(rel), content_fingerprint(s) if s is not None else "", consulted]
                table[rel] = entry
            self._table = table
        return self._table

    # -- the cache file -----------------------------------------------------------------------------
    @property
    def entries(self) -> dict:
        if self._entries is None:
            self._entries = self._load()
        return self._entries

    def _load(self) -> dict:
        if not cache.enabled(self.project.settings):
            return {}
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read())
        except Exception:  # missing, corrupt, another version: start afresh
            return {}
        if not (isinstance(data, dict) and data.get("magic") == _MAGIC and data.get("key") == self.key
                and isinstance(data.get("entries"), dict) and isinstance(data.get("table"), dict)):
            return {}
        table = data["table"]
        if all(isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[1], str)
               and isinstance(v[2], list) and all(isinstance(c, str) for c in v[2]) for v in table.values()):
            self._old_table = table
            if isinstance(data.get("state"), str):
                self._old_state = data["state"]
        return data["entries"]

    def save(self) -> None:
        if not self._changed or not cache.enabled(self.project.settings):
            return
        files = set(self.project.files)
        entries = {rel: e for rel, e in self.entries.items() if rel in files}
        table = self._table if self._table is not None else self._old_table
        state = self._state or self._old_state
        blob = json.dumps({"magic": _MAGIC, "key": self.key, "state": state, "table": table, "entries": entries},
                          separators=(",", ":"))
        directory = os.path.dirname(self.path)
        try:
            make_dir(directory, directory == os.path.join(self.project.root, CACHE_DIR))
            cache.write_atomic(self.path, blob.encode("utf-8", "surrogatepass"))
        except OSError:
            pass
        self._changed = False

    def _soft_files(self, key: tuple[str, tuple]) -> set[str]:
        """The files the answer to a question about a module's name was made of: the module, the trees
        computing it read, and everything those trees' contexts asked about."""
        found = self._soft_rels.get(key)
        if found is None:
            project = self.project
            self._soft_rels[key] = found = set()  # (a question asked while answering itself)
            deps = project.soft_answers[key][1]
            names = {m for m in (project.module_of(rel)[0] for rel in deps.modules) if m}
            prefix = project.module_prefix(key[1][0])
            if prefix:
                names.add(prefix)
            found |= {project.modules[m][0] for m in project.read_closure(names) if m in project.modules}
            found |= deps.modules
            for inner in deps.soft:
                if inner in project.soft_answers:
                    found |= self._soft_files(inner)
        return found

    def adopt(self, relpath: str, entry: dict | None) -> None:
        """The entry a worker process recorded for a file it checked (None: none could be)."""
        self.checked.append(relpath)
        if entry is None:
            self.entries.pop(relpath, None)
        else:
            self.entries[relpath] = entry
        self._changed = True

    def describe(self) -> str:
        """For ``--verbose``: how many files were reused, and which were checked."""
        names = ", ".join(sorted(self.checked)[:10]) + (", ..." if len(self.checked) > 10 else "")
        return (f"results: {self.reused} reused from the cache, {len(self.checked)} checked"
                + (f" ({names})" if names else ""))

    # -- one file -----------------------------------------------------------------------------------
    def lookup(self, state: "FileState") -> list[Diagnostic] | None:
        """The file's diagnostics from the cache, when its entry is still true (None: check it)."""
        entry = self.entries.get(state.relpath)
        if entry is None or state.source is None or state.text is None:
            return None
        try:
            if entry["sha"] != self.sha(state.relpath) or not self._still_true(entry):
                return None
            if entry["epoch"] != self.epoch():  # true of the files as they are now
                entry["epoch"] = self.epoch()
                self._changed = True
            diags = [_decode_diag(item, state.display) for item in entry["diags"]]
        except Exception:  # an ill-typed entry: checked again
            return None
        self.reused += 1
        return diags

    def _still_true(self, entry: dict) -> bool:
        for rel, sha in entry["modules"].items():
            if self.sha(rel) != sha:
                return False
        if any(self.sha(rel) != sha for rel, sha in entry["soft_files"].items()):
            for name, args, fp in entry["soft"]:
                key = ("soft", name, args)
                if key not in self._answers:
                    if name not in SOFT_QUESTIONS:
                        return False
                    try:
                        self._answers[key] = fingerprint(getattr(self.project, name)(*decode_args(args)))
                    except Exception:
                        self._answers[key] = None
                if self._answers[key] != fp:
                    return False
        for needles, hits in entry["needles"]:
            if self.needle_hits(tuple(n.encode("latin-1") for n in needles)) != hits:
                return False
        project = self.project
        queries = entry["queries"]
        if entry["epoch"] == self.epoch():  # the graph is as it was: only what is read off the code may differ
            queries = [q for q in queries if q[0] == "project" and q[1] == "versions"]
        else:
            table = self.table()
            for rel, fp in entry["summaries"].items():
                if rel not in table or table[rel][1] != fp:
                    return False
        graph = None
        for kind, name, args, fp in queries:
            key = (kind, name, args)
            if key not in self._answers:
                if graph is None and kind not in ("fn", "project"):
                    graph = project.graph
                try:
                    self._answers[key] = fingerprint(answer(project, graph, kind, name, decode_args(args)))
                except Exception:
                    self._answers[key] = None
            if self._answers[key] != fp:
                return False
        return True

    def record(self, state: "FileState", diags: list[Diagnostic], deps: Deps) -> None:
        """The diagnostics just computed for a file, with what its rules read."""
        self.checked.append(state.relpath)
        if deps.opaque or state.errors or state.source is None or state.text is None:
            self.entries.pop(state.relpath, None)
            return
        project = self.project
        own = project.module_of(state.relpath)[0] or ""
        # the trees read: directly, and by the contexts read (whose memoised answers the rules reuse)
        hard = {own} | {m for m in (project.module_of(rel)[0] for rel in deps.modules) if m}
        stack = list(hard)
        while stack:
            for m in project.hard_reads.get(stack.pop(), ()):
                if m not in hard:
                    hard.add(m)
                    stack.append(m)
        rels = set(deps.modules) | {project.modules[m][0] for m in hard if m in project.modules}
        rels.discard(state.relpath)
        soft = set(deps.soft)
        for m in hard:
            soft |= project.soft_reads.get(m, set())
        soft_files: set[str] = set()
        soft_entries = []
        for key in sorted(soft, key=repr):
            found = project.soft_answers.get(key)
            if found is None:  # (answers are dropped when a file's text is replaced)
                getattr(project, key[0])(*key[1])
                found = project.soft_answers[key]
            soft_files |= self._soft_files(key)
            try:
                soft_entries.append([key[0], encode_args(key[1]), fingerprint(found[0])])
            except Opaque:
                self.entries.pop(state.relpath, None)
                return
        self.entries[state.relpath] = {
            "sha": self.sha(state.relpath),
            "diags": [_encode_diag(d) for d in diags],
            "modules": {rel: self.sha(rel) for rel in sorted(rels)},
            "soft": soft_entries,
            "soft_files": {rel: self.sha(rel) for rel in sorted(soft_files - {state.relpath})},
            "needles": [[[n.decode("latin-1") for n in needles], self.needle_hits(needles)]
                        for needles in sorted(deps.needles)],
            "summaries": dict(sorted(deps.summaries.items())),
            "queries": [[k, n, a, fp] for (k, n, a), fp in sorted(deps.queries.items())],
            "epoch": self.epoch(),
        }
        self._changed = True

