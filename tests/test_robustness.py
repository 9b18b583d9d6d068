"""Property tests: on any syntactically valid module, checking and fixing (every rule, unsafe fixes) never
crash, and the fixed output always parses. Sources come from hypothesmith's grammar strategy.

The default run keeps the example count small; `--runslow` runs the `slow` variant (2000 examples).
"""

from __future__ import annotations

import ast
import os
import tempfile
import warnings

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from asyncify_lint.config import Settings  # noqa: E402
from asyncify_lint.engine.runner import Linter  # noqa: E402
from asyncify_lint.project import Project  # noqa: E402

SOURCES = hypothesmith.from_grammar()
COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


def _parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<fuzz>", "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def check_and_fix(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mod.py")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        open(os.path.join(d, "setup.cfg"), "w").close()
        settings = Settings(select=["AFY"], unsafe_fixes=True)
        linter = Linter(Project(d, settings), settings)
        state = linter.load(path, "mod.py")
        assert not state.errors, state.errors
        diags = linter.check(state)  # must not raise
        assert not state.errors, state.errors  # an InternalError (a rule crashed) lands here
        for dg in diags:
            assert dg.line >= 1 and dg.col >= 0, dg
        original = state.source.text  # as decoded (a UTF-8 BOM is not part of the text)
        parsed = _parses(original)
        linter.fix(state)
        assert not state.errors, state.errors  # includes "the fix produced code that does not compile"
        if parsed:
            assert _parses(state.text), state.text
            ast.parse(state.text)
        else:
            assert state.text == original  # a file that does not parse is never changed


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # generated code calls literals: `1()`
@settings(max_examples=50, **COMMON)
@given(SOURCES)
def test_never_crashes_and_fixes_parse(source):
    check_and_fix(source)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=2000, **COMMON)
@given(SOURCES)
def test_never_crashes_and_fixes_parse_slow(source):
    check_and_fix(source)


@pytest.mark.parametrize(
    "source",
    [
        "",
        "\n",
        "\ufeff",
        "#",
        "async def f():\n    pass",  # no final newline
        "def f(\n",  # syntax error
        "x = (\n" * 50 + ")\n" * 50,
        "async def f():\n    " + "[" * 90 + "]" * 90 + "\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef f(): return 1",
        "from fastapi import FastAPI\r\napp = FastAPI()\r\n@app.get('/')\r\ndef f():\r\n\treturn 1\r\n",
        "import time\nasync def f():\n    time.sleep(1); time.sleep(2)\n",
        "import time\nasync def f(): time.sleep(1)\n",
        "import time\nasync def f():\n    lambda: time.sleep(1)\n",
    ],
)
def test_edge_cases(source):
    check_and_fix(source)
