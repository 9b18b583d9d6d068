"""The engine's shortcuts against the slow forms they replace: line starts, statement walks, callee
comparison. Each must give the same answer on any input."""

from __future__ import annotations

import ast
import re
import warnings

import pytest

from asyncify_lint.engine.scope import _same_callee, statements
from asyncify_lint.engine.source import SourceFile

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck)}
_LINE_END = re.compile(r"\r\n|\r|\n")


def _starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _LINE_END.finditer(text)]


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@pytest.mark.parametrize(
    "text", ["", "x", "x\n", "\n\n", "a\nbb\n\nccc", "a\r\nb\rc\n", "\r", "é\nß\n", "a\x0cb\u2028c\nd"]
)
def test_line_starts_examples(text):
    assert SourceFile(path="m.py", text=text, encoding="utf-8", raw=b"").line_starts == _starts(text)


@settings(max_examples=200, **COMMON)
@given(st.text(alphabet=st.sampled_from(["a", "é", " ", "\n", "\r", "\x0c", "\u2028", "\x85"])))
def test_line_starts_as_python_counts_lines(text):
    assert SourceFile(path="m.py", text=text, encoding="utf-8", raw=b"").line_starts == _starts(text)


def _walked_statements(node: ast.AST) -> list[int]:
    return sorted(id(n) for n in ast.walk(node) if isinstance(n, ast.stmt) and n is not node)


STATEMENTS = '''
def f(self):
    self.a = 1
    if x:
        self.b: int = 2
    else:
        for i in y:
            while z:
                self.c = 3
            else:
                pass
    try:
        self.d = 4
    except E as e:
        self.e = 5
    else:
        with m() as n:
            self.f = 6
    finally:
        async def g():
            self.g = 7
    match v:
        case 1:
            class C:
                h = 8
        case _:
            pass
'''


def test_statements_examples():
    tree = ast.parse(STATEMENTS)
    func = tree.body[0]
    assert sorted(id(n) for n in statements(func)) == _walked_statements(func)
    assert sorted(id(n) for n in statements(tree)) == _walked_statements(tree)
    assert not list(statements(ast.parse("x + 1", mode="eval").body))


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # generated code calls literals: `1()`
@settings(max_examples=50, **COMMON)
@given(hypothesmith.from_grammar())
def test_statements_finds_what_ast_walk_finds(source):
    tree = _parse(source)
    hypothesis.assume(tree is not None)
    assert sorted(id(n) for n in statements(tree)) == _walked_statements(tree)


@pytest.mark.parametrize("a, b", [
    ("f(1)", "f(2)"), ("f(1)", "g(1)"), ("a.b.f()", "a.b.f(x)"), ("a.b.f()", "a.c.f()"), ("f()", "f"),
    ("x[0]()", "x[0]()"), ("x[0]()", "x[1]()"), ("x[0]()", "f()"), ("f()", "x[0]()"), ("1", "1"), ("1", "2"),
    ("(lambda: 1)()", "(lambda: 1)()"), ("a.f()", "b.f()"),
])
def test_same_callee_as_ast_dump(a, b):
    va, vb = ast.parse(a, mode="eval").body, ast.parse(b, mode="eval").body
    dumped = ast.dump(getattr(va, "func", va)) == ast.dump(getattr(vb, "func", vb))
    assert _same_callee(va, vb) == dumped


SELF_ATTRIBUTES = '''
import httpx
from repo import Repo, Other


class Service:
    cache: dict
    unknown: "Missing"

    def __init__(self, repo: Repo, flag):
        self.repo = repo
        self.client = httpx.Client()
        self.mixed = Repo()
        if flag:
            self.mixed = Other()
        self.later: Repo
        self.unknown = flag

    def run(self, other):
        return (self.repo, self.client, self.mixed, self.cache, self.later, self.unknown, self.nothing,
                other.repo)
'''


def test_type_of_self_attributes():
    """``self.x`` has a type when every declaration of ``x`` the class makes (body annotations,
    ``__init__`` assignments) names the same class."""
    from asyncify_lint.engine.context import FileContext

    tree = ast.parse(SELF_ATTRIBUTES)
    ctx = FileContext(SourceFile.from_bytes("svc.py", SELF_ATTRIBUTES.encode()), tree, display_path="svc.py",
                      module="svc")
    ret = next(n for n in ast.walk(tree) if isinstance(n, ast.Return))
    types = [ctx.type_of(e) for e in ret.value.elts]  # type: ignore[union-attr]
    assert types == ["repo.Repo", "httpx.Client", None, "builtins.dict", "repo.Repo", None, None, None]
