"""AFY110-AFY120: the catalogue, precision on de-asynced fixtures, user-declared calls, helper API, and
what the CPU-bound rows (AFY120) change elsewhere (AFY301's safe fix, AFY303's "does I/O")."""

from __future__ import annotations

import csv
import os
import re

import pytest

from asyncify_lint.config import Settings
from asyncify_lint.engine.runner import Linter
from asyncify_lint.helpers import blocking
from asyncify_lint.project import Project
from harness import Run, parse_annotations

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "fixtures", "rules")
REFERENCE = os.path.join(os.path.dirname(HERE), "..", "shared", "reference", "blocking_calls.tsv")
FAMILY = [f"AFY11{i}" for i in range(10)] + ["AFY120"]


class SettingsRun(Run):
    """A Run whose linter uses a full Settings object (blocking-calls / blocking-patterns)."""

    def __init__(self, tmpdir, text, settings: Settings, **kw):
        super().__init__(tmpdir, text, settings.select or ["AFY"], settings.unsafe_fixes, **kw)
        self.settings = settings

    def linter(self) -> Linter:
        return Linter(Project(self.dir, self.settings), self.settings)


def _codes(diags):
    return sorted((d.code, d.line) for d in diags)


# -- the catalogue -----------------------------------------------------------------------------


def _call_for(entry: blocking.Entry) -> str:
    """A module that calls ``entry`` in an async def: functions by qualified name, methods on an
    annotated parameter."""
    name = entry.name
    if entry.kind == "function":
        module = name.split(".")[0]
        return f"import {module}\nimport os.path\n\n\nasync def f(x):\n    {name}(x)\n"
    owner, attr = name.rsplit(".", 1)
    if attr == "*":
        attr = "some_method"
    module = owner.rsplit(".", 1)[0]
    return f"import {module}\n\n\nasync def f(obj: {owner}):\n    obj.{attr}()\n"


ENTRIES = sorted(list(blocking.CATALOGUE.values()) + list(blocking.ANY_METHOD.values()), key=lambda e: e.name)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_catalogue_entry_is_detected_in_async_def(entry, tmp_path):
    text = _call_for(entry)
    diags, _, _ = Run(str(tmp_path), text, FAMILY).check()
    assert [(d.code, d.line) for d in diags] == [(entry.code, text.count("\n"))], (text, diags)
    # and never in a sync def
    diags, _, _ = Run(str(tmp_path / "sync"), text.replace("async def", "def"), FAMILY).check()
    assert diags == []


def test_catalogue_covers_the_reference():
    """Every reference row is in our data, except SQLAlchemy (AFY2xx) and pure path-string functions."""
    if not os.path.exists(REFERENCE):
        pytest.skip("reference TSV not available")
    with open(REFERENCE, encoding="utf-8") as f:
        names = [row["qualified_name"] for row in csv.DictReader(f, delimiter="\t")]
    ours = set(blocking.CATALOGUE) | {t + ".*" for t in blocking.ANY_METHOD}
    missing = [n for n in names if n not in ours and not n.startswith("sqlalchemy") and n not in (
        "os.path.normpath", "os.path._path_normpath", "os.path._get_sep", "os.path.samestat")]
    assert missing == []


def test_catalogue_rows_are_consistent():
    for e in ENTRIES:
        assert e.code in FAMILY and e.code != "AFY119", e
        assert e.fix in ("sleep", "to_thread", "none"), e
        assert e.hint in blocking.HINTS, e
        # the CPU-bound rows are AFY120's, and all of them can be offloaded
        assert (e.category == blocking.CPU) == (e.code == "AFY120"), e
        if e.category == blocking.CPU:
            assert e.fix == "to_thread" and e.hint in blocking.CPU_WORK, e
    # thread-bound sqlite3 objects are never offloaded
    assert all(e.fix == "none" for e in ENTRIES if e.name.startswith("sqlite3."))
    # messages are asyncio-first and never trio-only
    for hint in blocking.HINTS.values():
        assert "trio" not in hint


def test_classify_keeps_working_for_other_rules(tmp_path):
    text = "import time, requests\n\n\ndef f():\n    time.sleep(1)\n    requests.get('u')\n    print(1)\n"
    _, st, linter = Run(str(tmp_path), text, FAMILY).check()
    ctx = linter.make_context(st)
    import ast

    calls = [n for n in ast.walk(ctx.tree) if isinstance(n, ast.Call)]
    assert [blocking.classify(ctx, c) for c in calls] == ["sleep", "http", None]


# -- precision: the fixtures without async produce nothing ------------------------------------


def _deasync(text: str) -> str:
    text = re.sub(r"\basync (def|with|for)\b", r"\1", text)
    return re.sub(r"\bawait ", "", text)


PRECISION_CASES = sorted(
    n for n in os.listdir(FIXTURES) if re.match(r"afy1\d\d.*\.py$", n) and not n.endswith(".fixed.py")
)


@pytest.mark.parametrize("name", PRECISION_CASES)
def test_no_findings_without_async(name, tmp_path):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        text = _deasync(f.read())
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError:
        pytest.skip("does not compile once de-asynced")
    diags, _, _ = Run(str(tmp_path), text, FAMILY).check()
    assert [d for d in diags if d.code in FAMILY] == []


def test_precision_cases_exist():
    assert any(n.startswith("afy110") for n in PRECISION_CASES)
    assert any(n.startswith("afy118") for n in PRECISION_CASES)


# -- AFY119: user-declared blocking calls -----------------------------------------------------

AFY119_TEXT = '''\
import legacy.storage
from legacy.storage import load_blob as lb
from vendor import sdk


class Repo:
    def __init__(self):
        self.client = sdk.Client()

    async def get(self, key):
        return self.client.fetch_sync(key)  # AFY119 "pattern `$CLIENT.fetch_sync($$$)`"


async def handler(key, client):
    legacy.storage.load_blob(key)  # AFY119 "`legacy.storage.load_blob()` in `async def handler`"
    lb(key).decode()  # AFY119 "`lb()` (`legacy.storage.load_blob`)"
    sdk.Client().download(key)  # AFY119 "(`vendor.sdk.Client.download`)"
    sdk.admin.purge()  # AFY119 "(`vendor.sdk.admin.purge`)"
    x = [client.fetch_sync(k) for k in key]  # AFY119
    print(client.fetch_sync(key).body)  # AFY119
    client.fetch_async(key)  # OK: not declared
    import time
    time.sleep(1)  # OK: in the catalogue, reported by AFY110 (not selected)
    await asyncio.to_thread(lambda: client.fetch_sync(key))  # OK: runs in a worker thread
    return x


def sync_handler(key, client):
    legacy.storage.load_blob(key)  # OK: sync function
    client.fetch_sync(key)  # OK: sync function
'''


def _afy119_settings(**kw) -> Settings:
    base = dict(
        select=["AFY119"],
        blocking_calls=["legacy.storage.load_blob", "vendor.sdk.Client.download", "vendor.sdk.admin.*"],
        blocking_patterns=["$CLIENT.fetch_sync($$$)"],
    )
    base.update(kw)
    return Settings(**base)


def test_afy119_user_declared_calls(tmp_path):
    diags, _, _ = SettingsRun(str(tmp_path), AFY119_TEXT, _afy119_settings()).check()
    expected = parse_annotations(AFY119_TEXT)
    assert _codes(diags) == sorted((e.code, e.line) for e in expected), [
        f"{d.line}: {d.code} {d.message}" for d in diags
    ]
    by_line = {d.line: d for d in diags}
    for e in expected:
        if e.fragment:
            assert e.fragment in by_line[e.line].message, (e, by_line[e.line].message)
    assert all(d.fix is None for d in diags)


def test_afy119_nothing_without_settings(tmp_path):
    diags, _, _ = SettingsRun(str(tmp_path), AFY119_TEXT, Settings(select=["AFY119"])).check()
    assert diags == []


def test_afy119_pattern_positions_are_characters(tmp_path):
    # a non-ASCII identifier before the call on the same line: ast-grep columns are characters
    text = "async def f(c):\n    é = c.fetch_sync(1); ü = c.fetch_sync(2)\n"
    diags, _, _ = SettingsRun(str(tmp_path), text, _afy119_settings(blocking_calls=[])).check()
    assert [(d.line, d.col) for d in diags] == [(2, 8), (2, 29)]


def test_afy119_invalid_pattern_is_ignored(tmp_path):
    text = "async def f(c):\n    c.fetch_sync(1)\n"
    settings = _afy119_settings(blocking_calls=[], blocking_patterns=["((((", "$C.fetch_sync($$$)"])
    diags, _, _ = SettingsRun(str(tmp_path), text, settings).check()
    assert [d.line for d in diags] == [2]


# -- fixes in context ------------------------------------------------------------------------


def test_sleep_fix_reuses_import_asyncio_and_adds_it_once(tmp_path):
    text = "import time\n\n\nasync def a():\n    time.sleep(1)\n    time.sleep(2)\n"
    fixed, _ = Run(str(tmp_path), text, ["AFY110"]).fix()
    # `import asyncio` in sorted place; `import time`, left unused, goes
    assert fixed == "import asyncio\n\n\nasync def a():\n    await asyncio.sleep(1)\n    await asyncio.sleep(2)\n"
    text2 = "import asyncio\nimport time\n\n\nasync def a():\n    time.sleep(1)\n"
    fixed2, _ = Run(str(tmp_path / "b"), text2, ["AFY110"]).fix()
    assert fixed2 == "import asyncio\n\n\nasync def a():\n    await asyncio.sleep(1)\n"


def test_no_fix_when_asyncio_is_shadowed(tmp_path):
    text = "import time\n\n\nasync def a(asyncio):\n    time.sleep(1)\n"
    diags, _, _ = Run(str(tmp_path), text, ["AFY110"]).check()
    assert len(diags) == 1 and diags[0].fix is None


def test_to_thread_refused_where_unsafe(tmp_path):
    text = (
        "import requests, sqlite3\n\n\n"
        "async def a(u):\n"
        "    with requests.get(u) as r:\n"  # context manager
        "        pass\n"
        "    for chunk in requests.get(u):\n"  # iterated
        "        pass\n"
        "    g = (requests.get(x) for x in u)\n"  # generator expression
        "    requests.get(u, stream=True)\n"  # body read later, outside the thread
        "    c = sqlite3.connect(u)\n"  # thread-bound
        "    c.execute('x')\n"
        "    await requests.get(u)\n"  # awaited: not the sync API (its result cannot be awaited), not reported
        "    requests.get(u, stream=False)\n"  # fine
    )
    diags, _, _ = Run(str(tmp_path), text, ["AFY111", "AFY117"], unsafe=True).check()
    fixed_lines = [d.line for d in diags if d.fix is not None]
    assert fixed_lines == [14]
    assert [d.line for d in diags] == [5, 7, 9, 10, 11, 12, 14]


def test_prefilter_skips_files_without_async(tmp_path):
    from asyncify_lint.registry import get_rule

    text = "import time\n\n\ndef f():\n    time.sleep(1)\n"
    _, st, linter = Run(str(tmp_path), text, FAMILY).check()
    ctx = linter.make_context(st)
    assert get_rule("AFY110").prefilter(ctx) is False


def test_implicit_modules_are_the_catalogues_modules():
    """A catalogue module used with no import (`subprocess.run()`) is still that module: the engine's
    list of such modules must hold every top-level module of the catalogue's function rows."""
    from asyncify_lint.engine.scope import IMPLICIT_MODULES
    from asyncify_lint.helpers.blocking import CATALOGUE

    tops = {name.split(".")[0] for name, e in CATALOGUE.items() if e.kind == "function"} - {"builtins"}
    assert tops <= IMPLICIT_MODULES, sorted(tops - IMPLICIT_MODULES)


# -- CPU-bound calls (AFY120) elsewhere ----------------------------------------------------------


def test_classify_reports_cpu_bound_calls_and_not_cheap_digests(tmp_path):
    text = ("import hashlib\nfrom passlib.context import CryptContext\n\npwd = CryptContext()\n\n\n"
            "def f(p):\n    pwd.hash(p)\n    hashlib.sha256(p)\n    hashlib.pbkdf2_hmac('sha256', p, b's', 1)\n")
    _, st, linter = Run(str(tmp_path), text, FAMILY).check()
    ctx = linter.make_context(st)
    import ast

    calls = [n for n in ast.walk(ctx.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    assert [blocking.classify(ctx, c) for c in calls] == ["cpu", None, "cpu"]


def test_afy301_fix_is_unsafe_and_says_why_when_the_endpoint_hashes_a_password(tmp_path):
    with open(os.path.join(FIXTURES, "afy301_cpu_bound.py"), encoding="utf-8") as f:
        text = f.read()
    diags, _, _ = Run(str(tmp_path), text, ["AFY301"]).check()
    by_name = {d.message.split("`")[1]: d for d in diags}
    login, register, etag = by_name["login"], by_name["register"], by_name["etag"]
    assert login.fix.applicability.name == "UNSAFE"
    assert login.fix_title == ("Make `login` an `async def`; its body hashes a password (`pwd_context.verify()`): "
                               "offload it (AFY120)")
    # through a sync helper: unsafe, as for any blocking call reached (AFY100 names the chain)
    assert register.fix.applicability.name == "UNSAFE"
    assert register.fix_title == "Make `register` an `async def`"
    assert etag.fix.applicability.name == "SAFE"


def test_afy303_does_not_count_a_cpu_bound_call_as_io(tmp_path):
    text = ("from fastapi import FastAPI\nfrom passlib.context import CryptContext\n\napp = FastAPI()\n"
            "pwd = CryptContext()\n\n\n@app.on_event('startup')\ndef seed():\n    pwd.hash('admin')\n")
    diags, _, _ = Run(str(tmp_path), text, ["AFY303"]).check()
    assert diags == []


def test_a_hasher_imported_from_another_module_is_tracked(tmp_path):
    """`pwd_context = CryptContext(...)` in one module, `pwd_context.hash(p)` in another."""
    text = "from app.security import pwd_context\n\n\nasync def register(p):\n    return pwd_context.hash(p)\n"
    extra = {"app/__init__.py": "", "app/security.py": "from passlib.context import CryptContext\n\n"
             "pwd_context = CryptContext(schemes=['bcrypt'])\n"}
    diags, _, _ = Run(str(tmp_path), text, ["AFY120"], extra=extra).check()
    assert [(d.code, d.line) for d in diags] == [("AFY120", 5)], diags
    assert "(`passlib.context.CryptContext.hash`)" in diags[0].message
