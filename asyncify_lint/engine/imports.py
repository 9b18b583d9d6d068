"""Where new import lines go, and removing the imports a migration left unused.

Placement (``insertion_edits``): new lines join the module's import block, the top-level imports
before the first ``def``/``class``, and never split a statement or enter a ``try:``/``if`` block.

* When the block is sorted as isort and ruff sort it (sections future, standard library, third-party,
  first-party, relative; in each section either every ``import x`` before the ``from x import y``
  lines, or both kinds mixed by module name; module names compared case-insensitively), a new line
  goes to its sorted place: next to its section's imports, or as a section of its own, set apart by
  a blank line, when the block has no import of its section yet.
* Otherwise an ``import x`` goes after the last ``import ...`` line and a ``from x import y`` after
  the last ``from ... import`` line (after the last import when the block has none of that kind).
* Without an import block, after the module docstring and the ``from __future__`` imports, else
  before the first statement.

Unused imports (``prune_unused_imports``): after the fixes to a file, an import that was used in the
file as it was and has no use left in the fixed text is removed (just the name from a
``from a import b, c``, or the whole statement's lines). Conservative on purpose: a name still
written anywhere, in any scope, counts as used, and so does a name that appears in a string (a
string annotation, an ``__all__`` entry), a type comment, a ``global``/``nonlocal`` or a ``del``,
or that another module of the project imports from this one. Nothing is removed from an
``__init__.py`` (its imports are re-exports), from a module with a ``from x import *`` or that calls
``globals()``/``locals()``/``vars()``/``eval``/``exec``, in a ``try:`` block, or on a line with a
``# noqa`` comment.
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
import sys
import warnings
from collections import Counter
from typing import TYPE_CHECKING, Iterable, Protocol

from asyncify_lint.diagnostics import Edit

if TYPE_CHECKING:
    from asyncify_lint.engine.context import FileContext


class ProjectFiles(Protocol):
    """The project as pruning imports asks it (a ``Project``, project/): the parsed modules whose text
    holds one of ``needles``."""

    def contexts_containing(self, needles: Iterable[bytes]) -> Iterable[FileContext]: ...


FUTURE, STDLIB, THIRD_PARTY, FIRST_PARTY, LOCAL = range(5)
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)

# -- statements and lines -----------------------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer(r"\r\n|\r|\n", text):
        starts.append(m.end())
    return starts


class _Lines:
    """Offsets of a text's lines (1-based line numbers, as ``ast``)."""

    def __init__(self, text: str, starts: list[int] | None = None) -> None:
        self.text = text
        self.starts = starts if starts is not None else _line_starts(text)

    def start(self, line: int) -> int:
        """Offset where ``line`` starts (the text's length past the last line)."""
        return self.starts[line - 1] if line - 1 < len(self.starts) else len(self.text)

    def after(self, line: int) -> int:
        """Offset where the line after ``line`` starts."""
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def line(self, line: int) -> str:
        return self.text[self.start(line) : self.after(line)]

    def offset(self, line: int, col: int) -> int:
        """Offset of a ``ast`` position (``col`` in UTF-8 bytes)."""
        start = self.start(line)
        row = self.text[start : self.after(line)]
        return start + len(row.encode("utf-8", "surrogatepass")[:col].decode("utf-8", "surrogatepass"))


def _first_line(stmt: ast.stmt) -> int:
    return min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])


def _own_lines(body: list[ast.stmt], i: int, lines: _Lines) -> bool:
    """Whether ``body[i]`` is alone on its lines: no other statement shares them (``;``), and after
    its end there is at most a comment."""
    stmt = body[i]
    if i > 0 and (body[i - 1].end_lineno or body[i - 1].lineno) >= _first_line(stmt):
        return False
    if i + 1 < len(body) and _first_line(body[i + 1]) <= (stmt.end_lineno or stmt.lineno):
        return False
    end_line = stmt.end_lineno or stmt.lineno
    row = lines.line(end_line)
    rest = row[lines.offset(end_line, stmt.end_col_offset or 0) - lines.start(end_line) :]
    return re.match(r"[ \t]*(#.*)?[\r\n]*$", rest) is not None and not lines.line(_first_line(stmt))[
        : stmt.col_offset
    ].strip()


# -- placement ----------------------------------------------------------------------------------


class _Placed:
    __slots__ = ("kind", "module", "section", "before", "after")

    def __init__(self, kind: int, module: str, section: int, before: int | None, after: int | None) -> None:
        self.kind = kind  # 0: import x, 1: from x import y
        self.module = module
        self.section = section
        self.before = before  # offset of its first line, None when it shares that line
        self.after = after  # offset of the line after it, None when it shares its last line


def _first_party(ctx: FileContext) -> frozenset[str]:
    tops = set()
    if ctx.module:
        tops.add(ctx.module.split(".")[0])
    project = getattr(ctx, "project", None)
    if project is not None:
        try:
            tops.update(m.split(".")[0] for m in project.modules)
        except Exception:  # pragma: no cover - an unreadable tree only loses the first-party section
            pass
    return frozenset(tops)


def _section(module: str, level: int, first_party: frozenset[str]) -> int:
    if level:
        return LOCAL
    top = module.split(".")[0]
    if top == "__future__":
        return FUTURE
    if top in first_party:
        return FIRST_PARTY
    if top in _STDLIB:
        return STDLIB
    return THIRD_PARTY


def _key_by_type(p) -> tuple:  # isort's default: `import x` lines first in each section
    return (p.section, p.kind, p.module.lower())


def _key_by_module(p) -> tuple:  # isort's force_sort_within_sections
    return (p.section, p.module.lower(), p.kind)


def _block(ctx: FileContext, lines: _Lines, first_party: frozenset[str]) -> list[_Placed]:
    out = []
    body = ctx.tree.body
    for i, stmt in enumerate(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        if isinstance(stmt, ast.Import):
            module, kind, level = stmt.names[0].name, 0, 0
        elif isinstance(stmt, ast.ImportFrom):
            module, kind, level = "." * stmt.level + (stmt.module or ""), 1, stmt.level
            if stmt.module == "__future__" and not level:
                continue
        else:
            continue
        own = _own_lines(body, i, lines)
        before = lines.start(stmt.lineno) if own else None
        after = lines.after(stmt.end_lineno or stmt.lineno) if own else None
        out.append(_Placed(kind, module, _section(module, level, first_party), before, after))
    return out


def _fallback(ctx: FileContext, lines: _Lines) -> int:
    """After the docstring and ``from __future__`` imports, else before the first statement."""
    body = ctx.tree.body
    i = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(
        body[0].value.value, str
    ):
        i = 1
    while i < len(body) and isinstance(body[i], ast.ImportFrom) and body[i].module == "__future__":
        i += 1
    if i and _own_lines(body, i - 1, lines):
        return lines.after(body[i - 1].end_lineno or body[i - 1].lineno)
    for j in range(i, len(body)):
        if j == 0 or (body[j - 1].end_lineno or body[j - 1].lineno) < _first_line(body[j]):
            return lines.start(_first_line(body[j]))
    return len(lines.text)


def is_sorted(block: list[_Placed]):
    """The sort key the block follows (isort's default or force_sort_within_sections), or None."""
    for key in (_key_by_type, _key_by_module):
        keys = [key(p) for p in block]
        if all(a <= b for a, b in zip(keys, keys[1:])):
            return key
    return None


def insertion_edits(ctx: FileContext, new_lines: list[str]) -> list[Edit]:
    """Edits inserting ``new_lines`` (``import x`` / ``from x import y``) into the import block."""
    if not new_lines:
        return []
    text = ctx.source.text
    nl = ctx.source.newline
    lines = _Lines(text, ctx.source.line_starts)
    first_party = _first_party(ctx)
    block = [p for p in _block(ctx, lines, first_party) if p.before is not None]
    key = is_sorted(block) if block else None
    # offset -> [(sort key, section, line, blank line before, blank line after)]
    at: dict[int, list[tuple]] = {}
    for line in new_lines:
        m = re.match(r"(import|from)\s+(\S+)", line)
        assert m is not None
        kind = 0 if m.group(1) == "import" else 1
        new = _Placed(kind, m.group(2), _section(m.group(2), 0, first_party), None, None)
        blank_before = blank_after = False
        if not block:
            pos = _fallback(ctx, lines)
        elif key is not None:
            k = key(new)
            prev = next((p for p in reversed(block) if key(p) <= k), None)
            nxt = next((p for p in block if key(p) > k), None)
            if prev is not None and prev.section == new.section:
                pos = prev.after
            elif nxt is not None and nxt.section == new.section:
                pos = nxt.before
            elif prev is not None:
                pos, blank_before = prev.after, True
            else:
                pos, blank_after = nxt.before, True  # type: ignore[union-attr]
        else:
            same = [p for p in block if p.kind == kind]
            pos = (same or block)[-1].after
        sort_key = (key or _key_by_type)(new)
        at.setdefault(pos, []).append((sort_key, new.section, line, blank_before, blank_after))  # type: ignore[arg-type]
    edits = []
    for pos, items in at.items():
        items.sort(key=lambda it: it[0])
        parts = []
        for j, (_k, section, line, blank_before, blank_after) in enumerate(items):
            if blank_before and (j == 0 or items[j - 1][1] != section):
                parts.append(nl)
            parts.append(line + nl)
            if blank_after and (j == len(items) - 1 or items[j + 1][1] != section):
                parts.append(nl)
        prefix = "" if pos == 0 or text[pos - 1] in "\r\n" else nl
        edits.append(Edit(pos, pos, prefix + "".join(parts)))
    return edits


# -- unused imports ------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPAQUE_CALLS = frozenset({"globals", "locals", "vars", "eval", "exec", "__import__"})
_NOQA = re.compile(r"#\s*noqa\b", re.IGNORECASE)


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, type_comments=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


_EXPRESSION_LIKE = re.compile(r"\s*[A-Za-z_][\w.\[\], |'\"()]*$")


@functools.lru_cache(maxsize=4096)
def _string_names(value: str) -> tuple[str, ...]:
    """The names in a string that reads as an expression (a string annotation, an ``__all__`` entry,
    ``cast("T", x)``); prose such as a docstring names nothing."""
    value = value.strip()
    if len(value) > 500 or not _EXPRESSION_LIKE.match(value):
        return ()
    if value.isidentifier():
        return (value,)
    try:
        expr = ast.parse(value, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    return tuple(n.id for n in ast.walk(expr) if isinstance(n, ast.Name))


class _Uses:
    """The names a module mentions outside its imports: where it reads them, and the mentions that
    have no place (strings, type comments, ``global``)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.mentions: Counter = Counter()
        self.reads: dict[str, list[tuple[int, int]]] = {}
        self.opaque = False  # a star import, globals()/eval..., a module __getattr__: cannot tell
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                if not isinstance(node.ctx, ast.Store):  # a read, or a `del`
                    self.reads.setdefault(node.id, []).append((node.lineno, node.col_offset))
                    if node.id in _OPAQUE_CALLS:
                        self.opaque = True
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                self.mentions.update(node.names)
            elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                self.opaque = True
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.mentions.update(_string_names(node.value))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "__getattr__":
                if any(n is node for n in tree.body):
                    self.opaque = True
            comment = getattr(node, "type_comment", None)
            if comment:
                self.mentions.update(_IDENT.findall(comment))

    def used(self, name: str, top: int) -> bool:
        """Whether the import of ``name`` by the module-level statement ``tree.body[top]`` is used.

        When a later module-level statement rebinds the name (``Session = Annotated[Session, ...]``),
        only the reads up to the end of that statement can be the import's.
        """
        if self.mentions[name]:
            return True
        reads = self.reads.get(name)
        if not reads:
            return False
        for stmt in self.tree.body[top + 1 :]:
            if _rebinds(stmt, name):
                limit = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
                return any(pos < limit for pos in reads)
        return True


def _rebinds(stmt: ast.stmt, name: str) -> bool:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return stmt.name == name
    if isinstance(stmt, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
    if isinstance(stmt, ast.AnnAssign):
        return stmt.value is not None and isinstance(stmt.target, ast.Name) and stmt.target.id == name
    return False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _bound(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def _alias_key(stmt: ast.stmt, alias: ast.alias) -> tuple:
    if isinstance(stmt, ast.ImportFrom):
        return ("from", stmt.level, stmt.module, alias.name, alias.asname)
    return ("import", alias.name, alias.asname)


def _candidates(tree: ast.Module) -> list[tuple[list[ast.stmt], int, ast.If | None, int]]:
    """(body, index, enclosing ``if TYPE_CHECKING``, index of the module-level statement) of the
    module-level imports and those of its ``if TYPE_CHECKING:`` blocks."""
    out = []
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out.append((tree.body, i, None, i))
        elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            out.extend((stmt.body, j, stmt, i) for j, s in enumerate(stmt.body)
                       if isinstance(s, (ast.Import, ast.ImportFrom)))
    return out


def _imported_elsewhere(project: ProjectFiles | None, relpath: str, module: str | None, names: set[str]) -> set[str]:
    """The names another module of the project imports from ``module`` (or reads as ``module.name``)."""
    if project is None or not module or not names:
        return set()
    from asyncify_lint.engine.scope import resolve_relative

    last = module.split(".")[-1]
    kept: set[str] = set()
    needles = [n.encode() for n in names] + [b"import *"]
    for ctx in project.contexts_containing(needles):
        if ctx.module == module:
            continue
        for node in ast.walk(ctx.tree):
            if isinstance(node, ast.ImportFrom):
                base = resolve_relative(ctx.module, ctx.is_package, node.level, node.module)
                for a in node.names:
                    if base == module and (a.name in names or a.name == "*"):
                        kept.update(names if a.name == "*" else {a.name})
                    elif base and f"{base}.{a.name}" == module and a.name == "*":
                        kept.update(names)
            elif isinstance(node, ast.Attribute) and node.attr in names:
                v = node.value
                tail = v.id if isinstance(v, ast.Name) else v.attr if isinstance(v, ast.Attribute) else None
                if tail == last:
                    kept.add(node.attr)
        if kept >= names:
            break
    return kept


def _alias_span(lines: _Lines, alias: ast.alias) -> tuple[int, int]:
    return (lines.offset(alias.lineno, alias.col_offset),
            lines.offset(alias.end_lineno or alias.lineno, alias.end_col_offset or 0))


def _removal_edits(stmt: ast.stmt, removed: set[int], lines: _Lines) -> list[tuple[int, int]] | None:
    """Spans to delete to drop the aliases at the indexes ``removed`` (some stay) from ``stmt``."""
    aliases = stmt.names  # type: ignore[attr-defined]
    spans = [_alias_span(lines, a) for a in aliases]
    text = lines.text
    stmt_start = lines.offset(stmt.lineno, stmt.col_offset)
    stmt_end = lines.offset(stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
    parenthesised = "(" in text[stmt_start : spans[0][0]]
    out: list[tuple[int, int]] = []
    kept = [i for i in range(len(aliases)) if i not in removed]
    for i in sorted(removed):
        a = aliases[i]
        first, last = lines.start(a.lineno), lines.after(a.end_lineno or a.lineno)
        own_line = (
            parenthesised
            and not text[first : spans[i][0]].strip()
            and re.match(r"[ \t]*,?[ \t]*(#[^\r\n]*)?(\r\n|\r|\n)", text[spans[i][1] : last + 1]) is not None
            and last <= stmt_end
        )
        if own_line:
            out.append((first, last))
        elif any(k > i for k in kept):
            out.append((spans[i][0], spans[i + 1][0]))
        else:
            k = max(k for k in kept if k < i)
            out.append((spans[k][1], spans[i][1]))
    out.sort()
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    # the statement must still parse, with exactly the names kept
    seg = text[stmt_start:stmt_end]
    pieces, pos = [], stmt_start
    for s, e in merged:
        pieces.append(text[pos:s])
        pos = e
    pieces.append(text[pos:stmt_end])
    try:
        new = ast.parse("".join(pieces).strip() if "\n" not in seg else "".join(pieces))
    except SyntaxError:
        return None
    if len(new.body) != 1 or [a.name for a in new.body[0].names] != [aliases[k].name for k in kept]:  # type: ignore[attr-defined]
        return None
    return merged


def _statement_span(body: list[ast.stmt], i: int, lines: _Lines) -> tuple[int, int] | None:
    """The whole lines of ``body[i]``, when nothing else shares them."""
    if not _own_lines(body, i, lines):
        return None
    stmt = body[i]
    return lines.start(_first_line(stmt)), lines.after(stmt.end_lineno or stmt.lineno)


def _blank(lines: _Lines, start: int, end: int) -> bool:
    return not lines.text[start:end].strip()


def _removals(tree: ast.Module, lines: _Lines, doomed: dict[int, set[int]]) -> list[tuple[int, int]]:
    """Spans deleting the aliases ``doomed`` (id of statement -> alias indexes)."""
    spans: list[tuple[int, int]] = []
    whole: list[tuple[int, int]] = []
    tc_blocks: dict[int, tuple[ast.If, list[int]]] = {}
    for body, i, tc, _top in _candidates(tree):
        stmt = body[i]
        gone = doomed.get(id(stmt))
        if not gone:
            continue
        if len(gone) == len(stmt.names):  # type: ignore[attr-defined]
            if tc is not None:
                tc_blocks.setdefault(id(tc), (tc, []))[1].append(i)
                continue
            span = _statement_span(body, i, lines)
            if span is not None:
                whole.append(span)
        else:
            part = _removal_edits(stmt, gone, lines)
            if part:
                spans.extend(part)
    for tc, idxs in tc_blocks.values():
        if len(idxs) == len(tc.body) and not tc.orelse:
            tc_index = tree.body.index(tc)
            span = _statement_span(tree.body, tc_index, lines)
            if span is not None:
                whole.append(span)
            continue
        for i in idxs:
            if len(idxs) < len(tc.body):
                span = _statement_span(tc.body, i, lines)
                if span is not None:
                    whole.append(span)
    # whole lines: adjacent ones merge; a run between two blank lines takes one of them along
    whole.sort()
    merged: list[tuple[int, int]] = []
    for s, e in whole:
        if merged and s == merged[-1][1]:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    starts = lines.starts
    for s, e in merged:
        k = bisect.bisect_left(starts, s)  # index of the line starting at s
        prev_blank = k == 0 or _blank(lines, starts[k - 1], s)
        j = bisect.bisect_left(starts, e)
        if prev_blank and j < len(starts) and e < len(lines.text):
            nxt_end = starts[j + 1] if j + 1 < len(starts) else len(lines.text)
            if _blank(lines, e, nxt_end) and (k > 0 or nxt_end < len(lines.text)):
                e = nxt_end
        spans.append((s, e))
    return spans


def prune_unused_imports(original: str, current: str, *, project: ProjectFiles | None = None, relpath: str = "",
                         module: str | None = None) -> str:
    """``current`` without the imports that were used in ``original`` and are unused in ``current``."""
    if relpath.replace("\\", "/").rsplit("/", 1)[-1] == "__init__.py":
        return current  # a package's imports are its re-exports
    text = current
    used_before: _Uses | None = None
    originally: dict[tuple, int] = {}  # alias -> index of its module-level statement in ``original``
    for _round in range(3):  # dropping a TYPE_CHECKING block can leave its TYPE_CHECKING import unused
        tree = _parse(text)
        if tree is None:
            return current
        used_now = _Uses(tree)
        if used_now.opaque:
            return current
        if not any(not used_now.used(_bound(a), top) for body, i, _tc, top in _candidates(tree)
                   for a in body[i].names):  # type: ignore[attr-defined]
            break  # the common case: every import is used; the original is not even parsed
        if used_before is None:
            before = _parse(original)
            if before is None:
                return current
            used_before = _Uses(before)
            if used_before.opaque:
                return current
            for body, i, _tc, top in _candidates(before):
                for a in body[i].names:  # type: ignore[attr-defined]
                    originally.setdefault(_alias_key(body[i], a), top)
        lines = _Lines(text)
        doomed: dict[int, set[int]] = {}
        names: set[str] = set()
        for body, i, _tc, top in _candidates(tree):
            stmt = body[i]
            if _NOQA.search("".join(lines.line(n) for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))):
                continue
            for j, a in enumerate(stmt.names):  # type: ignore[attr-defined]
                name = _bound(a)
                key = _alias_key(stmt, a)
                if (a.name != "*" and key in originally and used_before.used(name, originally[key])
                        and not used_now.used(name, top)):
                    doomed.setdefault(id(stmt), set()).add(j)
                    if not any(_rebinds(later, name) for later in tree.body[top + 1 :]):
                        names.add(name)  # else another module importing the name gets the rebinding
        if not doomed:
            break
        kept = _imported_elsewhere(project, relpath, module, names)
        if kept:
            for body, i, _tc, _top in _candidates(tree):
                stmt = body[i]
                if id(stmt) in doomed:
                    doomed[id(stmt)] = {j for j in doomed[id(stmt)] if _bound(stmt.names[j]) not in kept}  # type: ignore[attr-defined]
        spans = _removals(tree, lines, doomed)
        if not spans:
            break
        spans.sort()
        out, pos = [], 0
        for s, e in spans:
            if s < pos:
                return current
            out.append(text[pos:s])
            pos = e
        out.append(text[pos:])
        text = "".join(out)
    return text

