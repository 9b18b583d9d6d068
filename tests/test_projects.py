"""Multi-module fixture projects: tests/fixtures/projects/<name>/ (+ the expected fixed tree <name>.fixed/).

Every module carries inline annotations (tests/harness.parse_annotations) for the whole-project rules
AFY100, AFY401, AFY402, AFY405, AFY501, AFY502 on the original tree. The CLI is run in-process, with the
current directory in a temporary copy: `--fix --unsafe-fixes --select AFY4` (or the arguments in the
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
CHECK_SELECT = "AFY100,AFY401,AFY402,AFY405,AFY501,AFY502"
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


# -- import roots and module names (project/discover.py Layout) --------------------------------

def _project(tmp_path, files: dict[str, str]):
    import textwrap

    from asyncify_lint.config import Settings
    from asyncify_lint.project import Project

    for rel, text in {"pyproject.toml": "[project]\nname = 'x'\n", **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return Project(str(tmp_path), Settings())


def _callees(project, caller: str) -> set[str]:
    return {e.callee for e in project.graph.out.get(caller, ())}


def test_namespace_packages_are_named_from_their_import_root(tmp_path):
    p = _project(tmp_path, {
        "app/__init__.py": "",
        "app/services/users.py": "from ..db import fetch\n\nasync def get(i):\n    return await fetch(i)\n",
        "app/db.py": "async def fetch(i):\n    return i\n",
        "core/audit.py": "def record():\n    pass\n",
        "tests/helpers.py": "def make():\n    pass\n",
        "tests/test_users.py": "import helpers\nfrom tests.helpers import make\n\n"
                               "def test_it():\n    helpers.make()\n    make()\n",
    })
    assert p.module_of("app/services/users.py") == ("app.services.users", False)
    assert p.module_of("core/audit.py") == ("core.audit", False)
    assert p.module_of("tests/test_users.py") == ("tests.test_users", False)
    # pytest puts tests/ on the path: `import helpers` is the same file as `tests.helpers`
    assert p.modules["helpers"][0] == p.modules["tests.helpers"][0] == os.path.join("tests", "helpers.py")
    assert _callees(p, "app.services.users.get") == {"app.db.fetch"}  # a relative import in a namespace package
    assert _callees(p, "tests.test_users.test_it") == {"tests.helpers.make"}


def test_import_roots_src_pytest_pythonpath_and_conftest(tmp_path):
    p = _project(tmp_path, {
        "pyproject.toml": "[project]\nname = 'x'\n[tool.pytest.ini_options]\npythonpath = ['backend']\n",
        "src/pkg/mod.py": "",
        "backend/api/routes.py": "",
        "tests/conftest.py": "import sys\nfrom pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n"
                             "sys.path.insert(0, str(ROOT / 'lib'))\n",
        "lib/util/text.py": "",
        "legacy/__init__.py": "",
        "legacy/src/__init__.py": "",
        "legacy/src/old.py": "",
        "tools/pytest.ini": "[pytest]\npythonpath = .\n",
        "tools/gen/run.py": "",
    })
    assert p.module_of("src/pkg/mod.py")[0] == "pkg.mod"
    assert p.modules["src.pkg.mod"][0] == os.path.join("src", "pkg", "mod.py")
    assert p.module_of("backend/api/routes.py")[0] == "api.routes"
    assert p.module_of("lib/util/text.py")[0] == "util.text"
    assert p.module_of("legacy/src/old.py")[0] == "legacy.src.old"  # a package named src is no import root
    assert p.module_of("tools/gen/run.py")[0] == "gen.run"


def test_conftest_sys_path_forms(tmp_path):
    from asyncify_lint.project.discover import conftest_sys_path

    path = str(tmp_path / "tests" / "conftest.py")
    text = (
        "import os, sys\nfrom pathlib import Path\n"
        "sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', 'src')))\n"
        "sys.path.append(str(Path(__file__).parent.parent / 'app'))\n"
        "HERE = os.path.dirname(os.path.realpath(__file__))\n"
        "sys.path.insert(0, HERE)\n"
        "sys.path.insert(0, os.environ['SOMEWHERE'])\n"
    )
    assert conftest_sys_path(path, text) == [str(tmp_path / "src"), str(tmp_path / "app"), str(tmp_path / "tests")]


def test_a_namespace_directory_never_shadows_an_installed_module(tmp_path):
    p = _project(tmp_path, {
        # an installed `alembic` (the project's virtual environment, never listed as project files)
        ".venv/lib/python3.11/site-packages/alembic/__init__.py": "",
        "alembic/env.py": "from alembic import context\n\ndef run():\n    context.configure()\n",
        "scripts/json.py": "",
        "queue/worker.py": "",
        "app/__init__.py": "",
        "app/main.py": "import json\n\nasync def ep():\n    return json.dumps({})\n",
    })
    assert p.module_of("alembic/env.py")[0] == "env"
    assert "alembic.env" not in p.modules
    assert "json" not in p.modules and "scripts.json" in p.modules
    assert p.module_of("queue/worker.py")[0] == "worker"  # `queue` is the standard library's
    assert not any(m == "queue" or m.startswith("queue.") for m in p.modules)
    g = p.graph
    assert _callees(p, "app.main.ep") == set() and g.unresolved == 0


def test_sibling_apps_resolve_imports_within_their_own_root(tmp_path):
    p = _project(tmp_path, {
        "service_a/pyproject.toml": "",
        "service_a/app/__init__.py": "",
        "service_a/app/db.py": "def load():\n    pass\n",
        "service_a/app/main.py": "from app.db import load\n\nasync def ep():\n    load()\n",
        "service_b/pyproject.toml": "",
        "service_b/app/__init__.py": "",
        "service_b/app/db.py": "def load():\n    pass\n\ndef warm():\n    pass\n",
        "service_b/app/main.py": "import app.db\nfrom app import db\nfrom .db import load\n\n"
                                 "async def ep():\n    load()\n    db.warm()\n    app.db.warm()\n",
        "service_b/tests/test_db.py": "from app.db import warm\n\ndef test_warm():\n    warm()\n",
    })
    assert p.module_of("service_a/app/db.py")[0] == "app.db"
    assert p.module_of("service_b/app/db.py")[0] == "service_b/app.db"
    assert p.modules["app.db"][0] == os.path.join("service_a", "app", "db.py")
    assert _callees(p, "app.main.ep") == {"app.db.load"}
    assert _callees(p, "service_b/app.main.ep") == {"service_b/app.db.load", "service_b/app.db.warm"}
    test_module = p.module_of(os.path.join("service_b", "tests", "test_db.py"))[0]
    assert _callees(p, f"{test_module}.test_warm") == {"service_b/app.db.warm"}
    assert p.graph.file_of["service_b/app.db.warm"] == os.path.join("service_b", "app", "db.py")
