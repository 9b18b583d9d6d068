"""Generic fixture tests: every tests/fixtures/rules/afyNNN*.py (see tests/harness.py)."""

from __future__ import annotations

import difflib
import os
import re

import pytest

from asyncify_lint.diagnostics import FixAvailability
from asyncify_lint.registry import get_rule
from harness import Run, parse_annotations, parse_args, noqa_variant

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "fixtures", "rules")


def _inputs():
    for name in sorted(os.listdir(FIXTURES)):
        if re.match(r"afy\d{3}.*\.py$", name) and not name.endswith(".fixed.py"):
            yield name


CASES = list(_inputs())


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def _diff(expected: str, actual: str, name: str) -> str:
    return "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), f"expected/{name}", f"actual/{name}"))


def _code(name: str) -> str:
    return name[:6].upper()


@pytest.mark.parametrize("name", CASES)
def test_diagnostics(name, tmp_path):
    text = _read(os.path.join(FIXTURES, name))
    opts = parse_args(text, _code(name))
    diags, _, _ = Run(str(tmp_path), text, opts["select"], opts["unsafe"], targets=opts["targets"]).check()
    expected = parse_annotations(text)
    got = sorted((d.code, d.line) for d in diags)
    assert got == sorted((e.code, e.line) for e in expected), "\n".join(
        f"{d.path}:{d.line}:{d.col + 1}: {d.code} {d.message}" for d in diags
    )
    by_line = {}
    for d in diags:
        by_line.setdefault((d.code, d.line), []).append(d)
    for e in expected:
        cands = by_line[(e.code, e.line)]
        if e.col is not None:
            assert any(d.col + 1 == e.col for d in cands), (e, [(d.col + 1) for d in cands])
        if e.fragment is not None:
            assert any(e.fragment in d.message for d in cands), (e, [d.message for d in cands])


@pytest.mark.parametrize("name", CASES)
def test_noqa_variant(name, tmp_path):
    text = _read(os.path.join(FIXTURES, name))
    opts = parse_args(text, _code(name))
    if not parse_annotations(text):
        pytest.skip("no diagnostics expected")
    diags, _, _ = Run(str(tmp_path), noqa_variant(text), opts["select"], opts["unsafe"], targets=opts["targets"]).check()
    assert diags == []


def _check_fixed(name: str, tmp_path, unsafe: bool, request) -> None:
    text = _read(os.path.join(FIXTURES, name))
    opts = parse_args(text, _code(name))
    suffix = ".unsafe.fixed.py" if unsafe else ".fixed.py"
    expected_path = os.path.join(FIXTURES, name[:-3] + suffix)
    run = Run(str(tmp_path / "a"), text, opts["select"], unsafe or opts["unsafe"], targets=opts["targets"])
    fixed, state = run.fix()
    assert not state.errors, state.errors
    if request.config.getoption("--update-fixtures"):
        if fixed != text:
            with open(expected_path, "w", encoding="utf-8", newline="") as f:
                f.write(fixed)
        elif os.path.exists(expected_path):
            os.remove(expected_path)
        return
    if os.path.exists(expected_path):
        expected = _read(expected_path)
    elif unsafe and os.path.exists(os.path.join(FIXTURES, name[:-3] + ".fixed.py")):
        expected = _read(os.path.join(FIXTURES, name[:-3] + ".fixed.py"))
    else:
        expected = text
    assert fixed == expected, _diff(expected, fixed, name)
    if fixed != text:
        compile(fixed, name, "exec", dont_inherit=True)
        # idempotence: fixing the fixed output changes nothing
        again, _ = Run(str(tmp_path / "b"), fixed, opts["select"], unsafe or opts["unsafe"], targets=opts["targets"]).fix()
        assert again == fixed, _diff(fixed, again, name + " (second run)")


@pytest.mark.parametrize("name", CASES)
def test_safe_fix(name, tmp_path, request):
    _check_fixed(name, tmp_path, False, request)


@pytest.mark.parametrize("name", CASES)
def test_unsafe_fix(name, tmp_path, request):
    _check_fixed(name, tmp_path, True, request)


@pytest.mark.parametrize("name", CASES)
def test_fix_metadata(name, tmp_path):
    """Every fix has a title; fix presence matches the rule's declared availability."""
    text = _read(os.path.join(FIXTURES, name))
    opts = parse_args(text, _code(name))
    diags, _, _ = Run(str(tmp_path), text, opts["select"], True, targets=opts["targets"]).check()
    for d in diags:
        rule = get_rule(d.code)
        if d.fix is not None:
            assert d.fix_title, d
            assert rule.fix_availability is not FixAvailability.NONE, d
        elif rule.fix_availability is FixAvailability.ALWAYS:
            pytest.fail(f"{d.code} declares ALWAYS but gave no fix: {d}")
