"""On-disk cache of module summaries, shared by the CLI and the flake8 plugin.

Where: ``<root>/.asyncify_cache/`` by default; the ``cache-dir`` setting (relative to the project
root), the ``ASYNCIFY_LINT_CACHE_DIR`` environment variable (relative to the current directory) and the
command line's ``--cache-dir`` choose another, each over the one before. ``ASYNCIFY_LINT_NO_CACHE=1``
and ``--no-cache`` turn it off (nothing read, nothing written). A directory the tool creates, and the
default one, holds a ``.gitignore`` of ``*``; a directory outside the project may be shared by
several projects, so its files are named by the project's root too.

What: one file per tool version, Python version and set of user-declared blocking calls (they are
blocking calls in the summaries), ``summaries-<version>-<python>[-<settings>][-<root>].json``. It is
data only, and is read as data from an untrusted place: a repository may commit one, so loading it
must never run anything, and anything in it may be wrong. Its first line is a JSON header (a magic
string, the summary version, and a table of ``relpath, mtime_ns, size, sha1 of the text``), each
further line the JSON of one summary (``summary.to_json``), decoded with the standard library's JSON
decoder, which only builds plain values; ``summary.from_json`` checks the type of every one. A file
that cannot be read (missing, corrupt, truncated, another version or format, an ill-typed header) is
ignored and rebuilt; an entry that is ill-typed is computed again. The files of the earlier formats
(``summaries-*.pickle``, pickles: loading one could run code) are never read, and are removed when
the cache is next written whole.

When: a file is re-summarised only when its stat changed *and* its content hash changed, when a
module it consulted for the type of a value changed (or one that module's answer was read from), or
when a top-level name it took for a library is a project package now. Each summary is encoded on its
own, by the process that computed it (a worker of a parallel cold run included), so writing the cache
is writing bytes already made: it is saved whenever a summary changed, and a summary is decoded only
when it is used. A run that changed a few entries writes them (with the others changed since the cache
was last written whole) to a changes file beside it, read over it; beyond a tenth of the project the
whole cache is written again and the changes file removed. Writes go to a temporary file and
``os.replace``, so concurrent runs (flake8 ``-jN`` workers, pre-commit, an editor) never see a
half-written file; the last writer wins.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import tempfile

import asyncify_lint.project.parallel as parallel
from asyncify_lint.config import CACHE_DIR, DEFAULT_MAX_FILE_SIZE, max_file_size
from asyncify_lint.engine.source import SourceError, SourceFile, make_dir
from asyncify_lint.project.summary import (
    SUMMARY_VERSION,
    ModuleSummary,
    from_json,
    project_tops,
    summarize_text,
    text_sha,
    to_json,
)

CACHE_DIR_ENV = "ASYNCIFY_LINT_CACHE_DIR"
NO_CACHE_ENV = "ASYNCIFY_LINT_NO_CACHE"
#: the first line's magic string: formats 1 and 2 were pickles (``.pickle`` files, never read now)
_MAGIC = "asyncify-lint-summaries-3"


@contextlib.contextmanager
def _no_gc():
    """Many small objects are created and none is garbage: the cyclic collector would only rescan them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def cache_dir(root: str, settings=None) -> str:
    """The cache directory: ``--cache-dir`` (``settings.cache_dir_option``, made absolute by the command
    line), else ``ASYNCIFY_LINT_CACHE_DIR`` (relative to the current directory), else the ``cache-dir``
    setting (relative to the project root), else ``<root>/.asyncify_cache``."""
    option = getattr(settings, "cache_dir_option", None)
    if option:
        return os.path.abspath(os.path.expanduser(option))
    env = os.environ.get(CACHE_DIR_ENV, "")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    configured = getattr(settings, "cache_dir", None)
    if configured:
        return os.path.normpath(os.path.join(root, os.path.expanduser(configured)))
    return os.path.join(root, CACHE_DIR)


def _inside(path: str, root: str) -> bool:
    root = os.path.abspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def cache_file(root: str, settings=None) -> str:
    directory = cache_dir(root, settings)
    py = f"py{sys.version_info[0]}{sys.version_info[1]}"
    # a directory outside the project may serve several: each project has its own file there
    where = "" if _inside(directory, root) else "-" + text_sha(os.path.abspath(root))[:12]
    return os.path.join(directory, f"summaries-{SUMMARY_VERSION}-{py}{config_key(settings)}{where}.json")


def config_key(settings) -> str:
    """The settings summaries depend on besides the files (the test paths are checked per summary):
    the user-declared blocking calls, which are blocking calls in the summaries like the catalogue's.
    A project that declares none has no key; each declaration has a cache of its own. So has each
    ``max-file-size`` but the default (the summary of a file over it is empty)."""
    limit = max_file_size(settings)
    if settings is None or not (settings.blocking_calls or settings.blocking_patterns
                                or limit != DEFAULT_MAX_FILE_SIZE):
        return ""
    key = repr((sorted(settings.blocking_calls), list(settings.blocking_patterns)))
    if limit != DEFAULT_MAX_FILE_SIZE:
        key += f" max-file-size={limit}"
    return "-" + text_sha(key)[:12]


def enabled(settings=None) -> bool:
    """Whether the cache is read and written: not with ``ASYNCIFY_LINT_NO_CACHE=1`` or ``--no-cache``."""
    return os.environ.get(NO_CACHE_ENV, "") in ("", "0") and not getattr(settings, "no_cache", False)


def changes_file(root: str, settings=None) -> str:
    """The entries changed since the cache file was last written whole (see ``save``)."""
    return cache_file(root, settings)[: -len(".json")] + "-changes.json"


def _read(path: str) -> dict[str, tuple] | None:
    """The entries of a cache file, ``relpath -> (mtime_ns, size, sha, summary JSON)``; None when the
    file is missing or is not one this version wrote whole (each summary is checked when used)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        header = json.loads(lines[0])
        if not (header.__class__ is dict and header.get("magic") == _MAGIC
                and header.get("version") == SUMMARY_VERSION):
            return None
        table = header.get("entries")
        if not (table.__class__ is list and len(table) == 4 and set(map(type, table)) <= {list}):
            return None
        rels, mtimes, sizes, shas = table
        n = len(lines) - 2  # a line per summary, and the empty one after the last newline
        if not (len(rels) == len(mtimes) == len(sizes) == len(shas) == n and lines[-1] == b""):
            return None
        if not (set(map(type, rels)) <= {str} and set(map(type, shas)) <= {str}
                and set(map(type, mtimes)) <= {int} and set(map(type, sizes)) <= {int}):
            return None
        return dict(zip(rels, zip(mtimes, sizes, shas, lines[1:-1])))
    except Exception:  # missing, corrupt, truncated, too deep, written by another version: rebuild
        return None


def load_with_changes(root: str, settings=None) -> tuple[dict[str, tuple], set[str]]:
    """The cached entries (the changes file's over the cache file's), and the keys of the changes file."""
    if not enabled(settings):
        return {}, set()
    entries = _read(cache_file(root, settings))
    if entries is None:
        return {}, set()
    changes = _read(changes_file(root, settings)) or {}
    entries.update(changes)
    return entries, set(changes)


#: a run that changed a few entries writes them, with those changed since the cache file was written
#: whole, to the changes file, while they are at most this share of the project (rewriting the whole
#: cache for one edit was 10 ms at 200k lines, 25 ms at 1M); beyond, the cache file is written whole
CHANGES_SHARE = 0.1


def _encode(entries: dict[str, tuple]) -> bytes:
    """A cache file's bytes: the header line, then each entry's summary JSON on a line of its own (JSON
    written with ``ensure_ascii`` holds no newline)."""
    values = list(entries.values())
    header = {"magic": _MAGIC, "version": SUMMARY_VERSION,
              "entries": [list(entries), [v[0] for v in values], [v[1] for v in values], [v[2] for v in values]]}
    return b"\n".join([json.dumps(header, separators=(",", ":")).encode("ascii"), *(v[3] for v in values), b""])


def _remove_old_formats(directory: str) -> None:
    """The files of the pickled formats this tool wrote there before: never read, so only in the way."""
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if name.startswith("summaries-") and name.endswith(".pickle"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


def write_atomic(target: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, then put it in place: a concurrent reader
    sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=".cache-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(root: str, entries: dict[str, tuple], settings=None, changes: bool = False) -> bool:
    """Write ``entries`` as the cache file (the changes file is then removed), or with ``changes`` as
    the changes file, read over the cache file. Each entry is checked against its file when used, so
    a changes file left over a newer cache file by a concurrent run only holds entries still checked."""
    if not enabled(settings):
        return False
    directory = cache_dir(root, settings)
    target = changes_file(root, settings) if changes else cache_file(root, settings)
    try:
        make_dir(directory, directory == os.path.join(root, CACHE_DIR))
        write_atomic(target, _encode(entries))
        if not changes:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(changes_file(root, settings))
            _remove_old_formats(directory)
        return True
    except OSError:
        return False


class SummaryStore:
    """The summaries of one project: from overlays, the disk cache, or computed; memoised per process."""

    def __init__(self, project) -> None:  # the Project
        self.project = project
        self._entries: dict[str, tuple] | None = None
        self._summaries: dict[str, ModuleSummary] = {}
        self._sha: dict[str, str] = {}  # relpath -> current content hash
        self._texts: dict[str, str] = {}  # texts read while validating (dropped after use)
        self._stat: dict[str, tuple[int, int]] = {}  # relpath -> (mtime_ns, size) taken before reading
        self._complete = False
        self._dirty = False
        self._changed: set[str] = set()  # entries made by this run
        self._saved_changes: set[str] = set()  # entries the changes file holds
        self.stats = {"loaded": 0, "computed": 0}

    @property
    def entries(self) -> dict[str, tuple]:
        if self._entries is None:
            with _no_gc():
                self._entries, self._saved_changes = load_with_changes(self.project.root, self.project.settings)
        return self._entries

    def invalidate(self, relpath: str) -> None:
        self._summaries.pop(relpath, None)
        self._sha.pop(relpath, None)
        self._complete = False
        module = self.project.module_of(relpath)[0]
        if module:
            for rel, s in list(self._summaries.items()):
                if module in s.deps:
                    del self._summaries[rel]

    # -- one file ----------------------------------------------------------------------------
    def _text(self, relpath: str) -> str | None:
        overlay = self.project._overlay.get(relpath)
        if overlay is not None:
            return overlay
        if relpath in self._texts:
            return self._texts.pop(relpath)
        try:
            return SourceFile.read(os.path.join(self.project.root, relpath)).text
        except SourceError:
            return None

    def sha(self, relpath: str) -> str:
        """Current content hash of a file ("" when unreadable); stat first, hash only when it changed."""
        cur = self._sha.get(relpath)
        if cur is not None:
            return cur
        overlay = self.project._overlay.get(relpath)
        if overlay is not None:
            cur = text_sha(overlay)
        else:
            entry = self.entries.get(relpath)
            try:
                st = os.stat(os.path.join(self.project.root, relpath))
            except OSError:
                st = None
            if st is not None:
                self._stat[relpath] = (st.st_mtime_ns, st.st_size)
            if st is not None and entry is not None and entry[0] == st.st_mtime_ns and entry[1] == st.st_size:
                cur = entry[2]
            else:
                text = self._text(relpath)
                cur = "" if text is None else text_sha(text)
                if text is not None:
                    self._texts[relpath] = text
        self._sha[relpath] = cur
        return cur

    def _valid(self, s: ModuleSummary, relpath: str) -> bool:
        project = self.project
        if s.version != SUMMARY_VERSION or s.sha != self.sha(relpath):
            return False
        if (s.module, s.is_package) != project.module_of(relpath) or s.is_test != project.is_test_file(relpath):
            return False
        if not s.outside.isdisjoint(project_tops(project)):
            return False  # it took a name for a library that is a project package now
        for mod, dep_sha in s.deps.items():
            entry = project.modules.get(mod)
            if entry is None or self.sha(entry[0]) != dep_sha:
                return False
        return True

    def load_cached(self, relpath: str) -> bool:
        """Take a file's summary from the disk cache, when it is still valid."""
        entry = None if relpath in self.project._overlay else self.entries.get(relpath)
        if entry is None or entry[2] != self.sha(relpath):
            return False
        try:
            with _no_gc():
                s = from_json(entry[3])
        except Exception:  # a damaged or ill-typed entry (ValueError, RecursionError...): computed again
            return False
        if not self._valid(s, relpath):
            return False
        self.stats["loaded"] += 1
        self._summaries[relpath] = s
        self._texts.pop(relpath, None)
        return True

    def get(self, relpath: str) -> ModuleSummary | None:
        s = self._summaries.get(relpath)
        if s is not None:
            return s
        if self.load_cached(relpath):
            return self._summaries[relpath]
        self.sha(relpath)  # takes the stat before the text is read
        text = self._text(relpath)
        if text is None:
            return None
        s = summarize_text(self.project, relpath, text)
        self.add(relpath, s, self.entry(relpath, s))
        self._texts.pop(relpath, None)
        return s

    def entry(self, relpath: str, s: ModuleSummary) -> tuple | None:
        """A summary just computed (here or in a worker): its dependencies' hashes filled in, and its
        cache entry, the summary as JSON (None for a text that is not the file's: an overlay, or a file
        that could not be read)."""
        self._sha[relpath] = s.sha
        for mod in s.deps:
            e = self.project.modules.get(mod)
            s.deps[mod] = self.sha(e[0]) if e is not None else ""
        stat = self._stat.get(relpath)
        if relpath in self.project._overlay or stat is None:
            return None
        return (stat[0], stat[1], s.sha, to_json(s))

    def add(self, relpath: str, s: ModuleSummary, entry: tuple | None) -> None:
        """Record a summary computed here or in a worker, and its cache entry."""
        self._sha[relpath] = s.sha
        self._summaries[relpath] = s
        self.stats["computed"] += 1
        if entry is not None:
            self.entries[relpath] = entry
            self._changed.add(relpath)
            self._dirty = True

    def for_module(self, module: str) -> ModuleSummary | None:
        entry = self.project.modules.get(module)
        if entry is None:
            return None
        return self.get(entry[0])

    # -- the whole project -------------------------------------------------------------------
    def all(self) -> dict[str, ModuleSummary]:
        if not self._complete:
            files = self.project.files
            parallel.summarize(self, [rel for rel in files if rel not in self._summaries])
            for rel in files:
                self.get(rel)
            self._complete = True
            self._texts.clear()
            if self._dirty:
                keep = set(files)
                root, settings = self.project.root, self.project.settings
                changed = (self._saved_changes | self._changed) & keep
                if len(self.entries) > len(changed) and len(changed) <= CHANGES_SHARE * len(keep) \
                        and os.path.exists(cache_file(root, settings)):
                    save(root, {k: self.entries[k] for k in changed}, settings, changes=True)
                    self._saved_changes = changed
                else:
                    save(root, {k: v for k, v in self.entries.items() if k in keep}, settings)
                    self._saved_changes = set()
                self._changed.clear()
                self._dirty = False
        return {rel: self._summaries[rel] for rel in self.project.files if rel in self._summaries}
