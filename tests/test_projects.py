"""Multi-module fixture projects: tests/fixtures/projects/<name>/ (+ the expected fixed tree <name>.fixed/).

Every module carries inline annotations (tests/harness.parse_annotations) for the whole-project rules
AFY100, AFY401, AFY402, AFY501, AFY502 on the original tree. The CLI is run in-process, with the current
directory in a temporary copy: `--fix --unsafe-fixes --select AFY4` (or the arguments in the
project's `fix-args` file) must produce <name>.fixed/ byte-exactly (regenerate with `--update-fixtures`, then review), and a second run changes nothing.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil

import pytest

from harness import TREE_SKIP_DIRS, parse_annotations, run_cli, tree_bytes

HERE = os.path.dirname(__file__)
PROJECTS = os.path.join(HERE, "fixtures", "projects")
CHECK_SELECT = "AFY100,AFY401,AFY402,AFY501,AFY502"
FIX_ARGS = ["--fix", "--unsafe-fixes", "--select", "AFY4", "--exit-zero"]
SKIP_DIRS = TREE_SKIP_DIRS

NAMES = sorted(
    n for n in os.listdir(PROJECTS) if os.path.isdir(os.path.join(PROJECTS, n)) and not n.endswith(".fixed")
)


_tree = tree_bytes
_run = run_cli


def _copy(name: str, tmp_path) -> str:
    dst = str(tmp_path / name)
    shutil.copytree(os.path.join(PROJECTS, name), dst, ignore=shutil.ignore_patterns(*SKIP_DIRS))
    return dst


def _diff_trees(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    lines = []
    for rel in sorted(set(expected) | set(actual)):
        a = expected.get(rel, b"").decode("utf-8", "replace").splitlines(True)
        b = actual.get(rel, b"").decode("utf-8", "replace").splitlines(True)
        if a != b or (rel in expected) != (rel in actual):
            lines.extend(difflib.unified_diff(a, b, f"expected/{rel}", f"actual/{rel}"))
    return "".join(lines)


@pytest.mark.parametrize("name", NAMES)
def test_project_diagnostics(name, tmp_path, capsys):
    root = _copy(name, tmp_path)
    code, out, err = _run(["--select", CHECK_SELECT, "--format", "json"], root, capsys)
    assert code in (0, 1), err
    got = json.loads(out)
    expected = []
    for rel, data in _tree(root).items():
        if rel.endswith(".py"):
            expected.extend((rel, e) for e in parse_annotations(data.decode("utf-8")))
    got_keys = sorted((d["filename"].replace(os.sep, "/"), d["location"]["row"], d["code"]) for d in got)
    exp_keys = sorted((rel, e.line, e.code) for rel, e in expected)
    assert got_keys == exp_keys, "\n".join(
        f"{d['filename']}:{d['location']['row']}: {d['code']} {d['message']}" for d in got
    )
    for rel, e in expected:
        cands = [d for d in got if d["filename"].replace(os.sep, "/") == rel and d["location"]["row"] == e.line
                 and d["code"] == e.code]
        if e.col is not None:
            assert any(d["location"]["column"] == e.col for d in cands), (rel, e)
        if e.fragment is not None:
            assert any(e.fragment in d["message"] for d in cands), (rel, e, [d["message"] for d in cands])


def _fix_args(name: str) -> list[str]:
    """A project's `fix-args` file (one line of CLI arguments) replaces the default FIX_ARGS."""
    path = os.path.join(PROJECTS, name, "fix-args")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().split()
    return FIX_ARGS


@pytest.mark.parametrize("name", NAMES)
def test_project_fix(name, tmp_path, capsys, request):
    root = _copy(name, tmp_path)
    fix_args = _fix_args(name)
    code, out, err = _run(fix_args, root, capsys)
    assert "internal error" not in err, err
    fixed = _tree(root)
    expected_dir = os.path.join(PROJECTS, name + ".fixed")
    if request.config.getoption("--update-fixtures"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(root, expected_dir, ignore=shutil.ignore_patterns(*SKIP_DIRS))
        return
    assert os.path.isdir(expected_dir), f"run with --update-fixtures to create {expected_dir}, then review it"
    expected = _tree(expected_dir)
    assert fixed == expected, _diff_trees(expected, fixed)
    for rel, data in fixed.items():
        if rel.endswith(".py"):
            compile(data, rel, "exec", dont_inherit=True)
    # tests are never rewritten
    original = _tree(os.path.join(PROJECTS, name))
    for rel in original:
        if rel.startswith("tests/"):
            assert fixed[rel] == original[rel], rel
    # a second run changes nothing
    code, out, err = _run(fix_args, root, capsys)
    assert "Rewriting" not in err, err
    assert _tree(root) == fixed


@pytest.mark.parametrize("name", NAMES)
def test_project_impact_report(name, tmp_path, capsys):
    """`--fix` prints the test-impact findings (AFY501 on the code as it was, AFY502 on the migrated code)
    on stderr before it writes anything."""
    root = _copy(name, tmp_path)
    expected = []
    for rel, data in _tree(root).items():
        if rel.endswith(".py"):
            expected.extend((rel, e) for e in parse_annotations(data.decode("utf-8")) if e.code in ("AFY501", "AFY502"))
    if not expected:
        pytest.skip("no AFY501/AFY502 in this project")
    code, out, err = _run(["--fix", "--select", "AFY401,AFY501,AFY502", "--exit-zero"], root, capsys)
    lines = err.splitlines()
    impact = [ln for ln in lines if " AFY501 " in ln or " AFY502 " in ln]
    assert len(impact) == len(expected), err
    first_rewrite = next((i for i, ln in enumerate(lines) if ln.startswith("Rewriting")), len(lines))
    assert all(lines.index(ln) < first_rewrite for ln in impact)
    for rel, e in expected:
        if e.fragment:
            assert any(ln.startswith(f"{rel}:{e.line}:") and e.fragment in ln for ln in impact), (rel, e, impact)
