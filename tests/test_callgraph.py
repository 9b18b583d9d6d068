"""Unit tests of the project summaries, the call graph and the summary cache."""

from __future__ import annotations

import os
import pickle
import textwrap


from asyncify_lint.config import Settings
from asyncify_lint.project import Project
from asyncify_lint.project import cache as cache_mod
from asyncify_lint.engine.runner import Linter
from asyncify_lint.project.callgraph import FUNC, UNKNOWN
from harness import Run


def make(tmp_path, files: dict[str, str]) -> Project:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return Project(str(tmp_path), Settings())


def callees(graph, caller: str) -> set[str]:
    return {e.callee for e in graph.out.get(caller, ())}


# -- resolution --------------------------------------------------------------------------------

def test_aliases_and_import_styles(tmp_path):
    g = make(tmp_path, {
        "app/__init__.py": "",
        "app/util.py": "def f(): pass\ndef g(): pass\n",
        "app/main.py": """
            import app.util
            import app.util as u
            from app.util import f as ff
            from app import util

            h = u.g

            def caller():
                app.util.f()
                u.g()
                ff()
                util.f()
                h()
            """,
    }).graph
    assert callees(g, "app.main.caller") == {"app.util.f", "app.util.g"}
    assert len(g.out["app.main.caller"]) == 5
    assert g.unresolved == 0


def test_relative_imports(tmp_path):
    g = make(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a/__init__.py": "",
        "pkg/a/mod.py": "from .helpers import one\nfrom ..b.other import two\n\ndef run():\n    one()\n    two()\n",
        "pkg/a/helpers.py": "def one(): pass\n",
        "pkg/b/__init__.py": "",
        "pkg/b/other.py": "def two(): pass\n",
    }).graph
    assert callees(g, "pkg.a.mod.run") == {"pkg.a.helpers.one", "pkg.b.other.two"}


def test_reexports_through_packages(tmp_path):
    g = make(tmp_path, {
        "shop/__init__.py": "from .services import record\n",
        "shop/services/__init__.py": "from .audit import record as record\n",
        "shop/services/audit.py": "def record(): pass\n",
        "shop/api.py": "import shop\nfrom shop import record\n\ndef a():\n    record()\n    shop.record()\n",
    }).graph
    assert callees(g, "shop.api.a") == {"shop.services.audit.record"}
    assert len(g.out["shop.api.a"]) == 2


def test_cycles_and_recursion_terminate(tmp_path):
    p = make(tmp_path, {
        "m/__init__.py": "from .a import *\n",
        "m/a.py": "from m import b\n\ndef ping(db: Session, n):\n    if n:\n        b.pong(db, n - 1)\n    db.commit()\n"
                  "from sqlalchemy.orm import Session\n",
        "m/b.py": "from m import a\n\ndef pong(db, n):\n    return a.ping(db, n)\n\ndef fact(n):\n    return n * fact(n - 1)\n",
        "m/api.py": "from m.b import pong, fact\n\nasync def ep(db):\n    pong(db, 3)\n    fact(3)\n",
    })
    g = p.graph
    assert callees(g, "m.a.ping") == {"m.b.pong"}
    assert callees(g, "m.b.pong") == {"m.a.ping"}
    assert callees(g, "m.b.fact") == {"m.b.fact"}
    assert set(g.must_async) == {"m.a.ping", "m.b.pong"}
    assert g.chain_from_root("m.a.ping") == ["m.api.ep", "m.b.pong", "m.a.ping"]


def test_methods_self_cls_super_and_inheritance(tmp_path):
    g = make(tmp_path, {
        "svc/__init__.py": "",
        "svc/base.py": """
            class Base:
                def save(self): pass
                def hook(self): pass
            """,
        "svc/users.py": """
            from svc.base import Base

            class Users(Base):
                def __init__(self):
                    self.ready = True

                def save(self):
                    super().save()
                    self.hook()
                    self.validate()

                def validate(self): pass

                @classmethod
                def build(cls):
                    return cls.make()

                @classmethod
                def make(cls): pass

                @staticmethod
                def pure(x):
                    x.save()
            """,
        "svc/api.py": """
            from svc.users import Users

            def run(u: Users):
                Users.build()
                inst = Users()
                inst.save()
                u.validate()
                Users().hook()
            """,
    }).graph
    assert callees(g, "svc.users.Users.save") == {"svc.base.Base.save", "svc.base.Base.hook", "svc.users.Users.validate"}
    assert callees(g, "svc.users.Users.build") == {"svc.users.Users.make"}
    assert callees(g, "svc.api.run") == {
        "svc.users.Users.build", "svc.users.Users.__init__", "svc.users.Users.save", "svc.users.Users.validate",
        "svc.base.Base.hook",
    }
    # `x` in a staticmethod is an unknown parameter: never guessed to be a Users
    assert callees(g, "svc.users.Users.pure") == set()
    assert g.unresolved == 1


def test_module_level_instances_across_modules(tmp_path):
    g = make(tmp_path, {
        "a/__init__.py": "",
        "a/service.py": "class Service:\n    def run(self): pass\n    def __call__(self): pass\n\nservice = Service()\n",
        "a/api.py": "from a import service as mod\nfrom a.service import service\n\ndef go():\n    mod.service.run()\n    service()\n",
    }).graph
    assert callees(g, "a.api.go") == {"a.service.Service.run", "a.service.Service.__call__"}


def test_partials(tmp_path):
    g = make(tmp_path, {
        "p.py": """
            import functools
            from functools import partial

            def work(a, b): pass
            later = partial(work, 1)

            def caller():
                p = functools.partial(work, 1)
                p(2)
                partial(work, 1)(2)
                later(2)
            """,
    }).graph
    assert [e.callee for e in g.out["p.caller"]] == ["p.work", "p.work", "p.work"]


def test_depends_edges_and_roles(tmp_path):
    g = make(tmp_path, {
        "app/__init__.py": "",
        "app/deps.py": "def get_db():\n    yield 1\n\ndef current_user(db=None):\n    return 1\n",
        "app/api.py": """
            from typing import Annotated
            from fastapi import APIRouter, Depends
            from app.deps import get_db, current_user

            router = APIRouter()
            User = Annotated[int, Depends(current_user)]

            @router.get("/")
            def index(db=Depends(get_db), user: User = None):
                return db
            """,
    }).graph
    assert [e.caller for e in g.depends["app.deps.get_db"]] == ["app.api.index"]
    assert g.roles["app.deps.get_db"] == {"dependency"}
    assert g.roles["app.deps.current_user"] == {"dependency"}
    assert g.roles["app.api.index"] == {"endpoint"}
    assert {"app.api.index", "app.deps.get_db", "app.deps.current_user"} <= g.roots


def test_unresolvable_calls_are_counted_not_guessed(tmp_path):
    p = make(tmp_path, {
        "u.py": """
            class Repo:
                def save(self): pass

            def handlers():
                return [Repo().save]

            def caller(obj, table):
                obj.save()
                getattr(obj, "save")()
                table["x"]()
                handlers()[0]()
                missing_module_fn()
            """,
    })
    g = p.graph
    assert callees(g, "u.caller") == {"u.handlers"}  # `obj.save()` is not linked to Repo.save
    # obj.save, getattr(...)(), table["x"](), handlers()[0]()
    assert g.unresolved == 4
    assert p.unresolved == 4
    assert g.resolver.resolve("q:u.nope") == (UNKNOWN, None)
    assert g.resolver.resolve("q:u.Repo.save") == (FUNC, "u.Repo.save")
    # counted, not kept: no call site of the summary has the target "?"
    assert p.summaries["u.py"].functions["u.caller"].unknown_calls == 4
    assert all(site.target != "?" for _f, sites in p.summaries["u.py"].all_calls() for site in sites)


def test_loop_safe_needs_every_call_resolved(tmp_path):
    p = make(tmp_path, {
        "s.py": """
            import asyncio

            def pure(x):
                return x + 1

            async def safe(x):
                return pure(x)

            async def opaque(obj):
                return obj.run()

            async def offloaded(obj):
                return await asyncio.to_thread(lambda: obj.run())
            """,
    })
    g = p.graph
    assert g.loop_safe("s.safe")
    assert not g.loop_safe("s.opaque")  # `obj.run()` may block: nothing says it does not
    assert g.loop_safe("s.offloaded")  # the unknown call runs in a worker thread


def test_summary_pickles_round_trip(tmp_path):
    p = make(tmp_path, {
        "r/__init__.py": "from r.b import helper\n",
        "r/b.py": """
            import time

            def helper(n):
                time.sleep(n)

            class Svc:
                def run(self):
                    helper(1)
                    return self.run

            async def main():
                Svc().run()
                await other()

            async def other():
                pass

            helper(0)
            """,
    })
    for s in p.summaries.values():
        back = pickle.loads(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == s  # call sites (a module level one included) come back as equal CallSites
        assert all(type(site).__name__ == "CallSite" for _f, sites in back.all_calls() for site in sites)
    s = p.summaries["r/b.py"]
    assert len(s.module_calls) == 1 and len(s.functions["r.b.Svc.run"].calls) == 1


# -- roots, reachability, must-become-async ------------------------------------------------------

def test_worker_threads_are_exempt(tmp_path):
    g = make(tmp_path, {
        "w.py": """
            import asyncio, time
            from fastapi import BackgroundTasks
            from starlette.concurrency import run_in_threadpool

            def slow():
                time.sleep(1)

            async def ep(tasks: BackgroundTasks):
                await asyncio.to_thread(slow)
                await asyncio.get_running_loop().run_in_executor(None, slow)
                await run_in_threadpool(lambda: slow())
                tasks.add_task(slow)

            async def bad():
                slow()
            """,
    }).graph
    assert g.reachable == {"w.slow": ("w.bad", g.reachable["w.slow"][1])}
    assert [e.caller for e in g.thread["w.slow"]] == ["w.ep", "w.ep", "w.ep"]
    assert {k[:2]: v for k, v in g.afy100("w.py").items()} == {(16, 4): "bad → w.slow → time.sleep (w.py:7)"}


def test_on_loop_importers_and_requests(tmp_path):
    files = {
        "app/__init__.py": "from .state import current\n",
        "app/state.py": """
            import threading

            current = threading.local()

            def helper():
                pass

            def threaded():
                pass
            """,
        "app/api.py": """
            from fastapi import FastAPI
            from fastapi.concurrency import run_in_threadpool
            from app import current
            from app.state import helper, threaded

            app = FastAPI()

            @app.get("/")
            def index():
                helper()

            @app.get("/a")
            async def other():
                await run_in_threadpool(threaded)
            """,
        "app/cli.py": """
            import app.state

            def main():
                pass
            """,
        "tests/test_api.py": "from app.state import current\n\nasync def test_it():\n    pass\n",
    }
    g = make(tmp_path, files).graph
    # a sync endpoint becomes async in the migration, with what it calls; a worker thread's code does not
    assert g.on_loop() == {"app.api.index", "app.api.other", "app.state.helper"}
    assert g.loop_modules() == {os.path.join("app", "api.py"), os.path.join("app", "state.py")}
    # the package re-exports it, and app/api.py imports it from there; test files and a module object
    # (`import app.state`) are not counted
    assert g.importers("app.state.current") == [os.path.join("app", "__init__.py"), os.path.join("app", "api.py")]
    assert g.serves_requests()
    # in a project that is async already, a sync endpoint stays sync (FastAPI's thread pool)
    files["app/db.py"] = "from sqlalchemy.ext.asyncio import create_async_engine\n"
    g = make(tmp_path, files).graph
    assert g.on_loop() == {"app.api.other"}


def test_shortest_chain_to_blocking_call(tmp_path):
    g = make(tmp_path, {
        "c/__init__.py": "",
        "c/low.py": "import time\n\ndef deep():\n    time.sleep(1)\n",
        "c/mid.py": "from c.low import deep\n\ndef long_way():\n    middle()\n\ndef middle():\n    deep()\n\ndef short_way():\n    deep()\n",
        "c/api.py": "from c import mid\n\nasync def ep():\n    mid.long_way()\n    mid.short_way()\n",
    }).graph
    found = {k[:2]: v for k, v in g.afy100("c/api.py").items()}  # keyed by the call's whole span
    assert found[(4, 4)] == "ep → mid.long_way → mid.middle → low.deep → time.sleep (c/low.py:4)"
    assert found[(5, 4)] == "ep → mid.short_way → low.deep → time.sleep (c/low.py:4)"


def test_a_generator_blocks_where_it_is_iterated_not_where_it_is_called(tmp_path):
    g = make(tmp_path, {
        "s.py": """
            import time
            from contextlib import contextmanager

            def rows():
                time.sleep(1)
                yield 1

            def more_rows():
                yield from rows()

            def handed():
                return more_rows()

            @contextmanager
            def held():
                time.sleep(1)
                yield

            async def stream():
                return handed(), rows()

            async def consume():
                return [r for r in more_rows()]

            async def enter():
                with held():
                    pass
            """,
    }).graph
    assert set(g.blocking_next) == {"s.rows", "s.more_rows", "s.held"}  # `handed` only returns one
    assert {k[:2] for k in g.afy100("s.py")} == {(24, 23), (27, 9)}  # `more_rows()` iterated, `held()` entered
    assert g.loop_blocking_chain("s.stream") is None and g.loop_safe("s.stream")
    assert g.loop_blocking_chain("s.consume")[0] == ["s.consume", "s.more_rows", "s.rows"]
    assert g.loop_blocking_chain("s.enter")[0] == ["s.enter", "s.held"]


def test_blocked_reasons(tmp_path):
    p = make(tmp_path, {
        "b/__init__.py": "",
        "b/m.py": """
            import functools
            from contextlib import contextmanager
            from sqlalchemy.orm import Session

            def io(db: Session):
                db.commit()

            class Thing:
                def __init__(self, db: Session):
                    io(db)

                def __len__(self):
                    io(None)
                    return 0

                @property
                def value(self):
                    return io(None)

            @functools.lru_cache
            def cached():
                io(None)

            @contextmanager
            def tx():
                io(None)
                yield

            def gen():
                io(None)
                yield 1

            def callback(x):
                io(None)

            def uses_callback(items):
                return sorted(items, key=callback)

            def in_lambda(db):
                return lambda: io(db)

            def at_import():
                io(None)

            at_import()

            def only_tests():
                io(None)
            """,
        "tests/test_m.py": "from b.m import only_tests\n\ndef test_it():\n    only_tests()\n",
    })
    g = p.graph
    reasons = g.blocked
    assert "`__init__` cannot be a coroutine" in reasons["b.m.Thing.__init__"]
    assert "data model" in reasons["b.m.Thing.__len__"]
    assert reasons["b.m.Thing.value"] == "it is a property"
    assert "lru_cache" in reasons["b.m.cached"]
    assert "@contextmanager" in reasons["b.m.tx"]
    assert "generator" in reasons["b.m.gen"]
    assert "callback" in reasons["b.m.callback"]
    assert "lambda" in reasons["b.m.in_lambda"]
    assert "module level" in reasons["b.m.at_import"]
    assert "test files only" in reasons["b.m.only_tests"]
    assert "b.m.io" in g.must_async and "b.m.io" not in reasons
    assert "b.m.uses_callback" not in g.must_async


def test_afy401_in_sync_code_and_nested_defs(tmp_path):
    text = textwrap.dedent("""
        import asyncio

        async def fetch():
            return 1

        def sync_caller():
            fetch()  # AFY401
            asyncio.run(fetch())

        async def outer():
            def inner():
                fetch()  # AFY401
            xs = [x async for x in agen()]
            r = fetch()  # AFY401
            return fetch()  # AFY401

        async def agen():
            yield 1
        """)
    diags, _, _ = Run(str(tmp_path), text, ["AFY401", "AFY402"]).check()
    got = {(d.code, d.line, d.fix.applicability.value if d.fix else None) for d in diags}
    assert got == {
        ("AFY401", 8, None), ("AFY402", 7, "unsafe"),
        ("AFY401", 13, None), ("AFY402", 12, "unsafe"),
        ("AFY401", 15, "safe"), ("AFY401", 16, "unsafe"),
    }, diags
    msgs = {d.line: d.message for d in diags if d.code == "AFY401"}
    assert "`sync_caller` must become async (AFY402)" in msgs[8]
    assert "nested sync function `inner`" in msgs[13]


# -- cache -----------------------------------------------------------------------------------

FILES = {
    "k/__init__.py": "",
    "k/a.py": "from k.b import g\n\ndef f():\n    g()\n",
    "k/b.py": "def g():\n    pass\n",
}


def test_cache_warm_changed_and_corrupt(tmp_path, monkeypatch):
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    p = make(tmp_path, FILES)
    p.summaries
    assert p.store.stats == {"loaded": 0, "computed": 3}
    cache_dir = tmp_path / ".asyncify_cache"
    assert (cache_dir / ".gitignore").read_text() == "*\n"
    assert os.path.exists(cache_mod.cache_file(str(tmp_path)))
    # warm: everything from the cache, nothing parsed
    p2 = Project(str(tmp_path), Settings())
    p2.summaries
    assert p2.store.stats == {"loaded": 3, "computed": 0}
    assert callees(p2.graph, "k.a.f") == {"k.b.g"}
    # one file changes: only it is summarised again
    (tmp_path / "k/b.py").write_text("def g():\n    pass\n\n\ndef h():\n    pass\n")
    p3 = Project(str(tmp_path), Settings())
    p3.summaries
    assert p3.store.stats == {"loaded": 2, "computed": 1}
    assert "k.b.h" in p3.graph.functions
    # a corrupt cache is ignored and rebuilt
    with open(cache_mod.cache_file(str(tmp_path)), "wb") as f:
        f.write(b"\x80\x05garbage")
    p4 = Project(str(tmp_path), Settings())
    assert p4.store.stats == {"loaded": 0, "computed": 0}
    p4.summaries
    assert p4.store.stats == {"loaded": 0, "computed": 3}
    assert cache_mod._read(cache_mod.cache_file(str(tmp_path))) is not None  # rewritten whole
    assert not [n for n in os.listdir(cache_dir) if n.endswith(".tmp")]


def test_cache_revalidates_type_dependencies(tmp_path, monkeypatch):
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    files = {
        "d/__init__.py": "",
        "d/db.py": "from sqlalchemy.orm import sessionmaker\nSessionLocal = sessionmaker()\n",
        "d/crud.py": "from d.db import SessionLocal\n\ndef save():\n    db = SessionLocal()\n    db.commit()\n",
    }
    p = make(tmp_path, files)
    assert "d.crud.save" in p.graph.must_async
    (tmp_path / "d/db.py").write_text("SessionLocal = object\n")
    p2 = Project(str(tmp_path), Settings())
    assert "d.crud.save" not in p2.graph.must_async
    assert p2.store.stats["computed"] == 2  # db.py changed, and crud.py consulted it for a type


def test_cache_revalidates_what_a_type_was_read_from(tmp_path, monkeypatch):
    # crud asks db for the type of SessionLocal; db re-exports it from base: a change in base makes
    # crud's summary stale although crud and db did not change
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    files = {
        "d/__init__.py": "",
        "d/base.py": "from sqlalchemy.orm import sessionmaker\nSessionLocal = sessionmaker()\n",
        "d/db.py": "from d.base import SessionLocal\n",
        "d/crud.py": "from d.db import SessionLocal\n\ndef save():\n    db = SessionLocal()\n    db.commit()\n",
        "d/other.py": "import json\n",
    }
    p = make(tmp_path, files)
    assert "d.crud.save" in p.graph.must_async
    assert set(p.summaries["d/crud.py"].deps) == {"d.db", "d.base"}
    (tmp_path / "d/base.py").write_text("SessionLocal = object\n")
    p2 = Project(str(tmp_path), Settings())
    assert "d.crud.save" not in p2.graph.must_async
    assert p2.store.stats == {"loaded": 3, "computed": 2}  # base, and crud that read it through db


def test_user_declared_blocking_calls_reached_through_helpers(tmp_path, monkeypatch):
    # `blocking-calls` / `blocking-patterns` are blocking calls for AFY100's chains too, and the cache
    # of summaries made without them is not reused with them
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    files = {
        "app/__init__.py": "",
        "app/storage.py": (
            "from vendor import sdk\n\n\ndef load(key):\n    return sdk.fetch_sync(key)\n\n\n"
            "def save(client, key):\n    client.put_sync(key)\n"
        ),
        "app/api.py": (
            "from app import storage\n\n\nasync def show(key):\n    return storage.load(key)\n\n\n"
            "async def store(client, key):\n    storage.save(client, key)\n"
        ),
    }
    p = make(tmp_path, files)
    assert p.graph.blocking_next == {}
    declared = Settings(blocking_calls=["vendor.sdk.fetch_sync"], blocking_patterns=["$C.put_sync($$$)"])
    p2 = Project(str(tmp_path), declared)
    g = p2.graph
    assert p2.store.stats == {"loaded": 0, "computed": 3}
    assert g.blocking_chain("app.storage.load") == (["app.storage.load"], g.functions["app.storage.load"].blocking[0])
    assert [(b.text, b.kind) for b in g.functions["app.storage.load"].blocking] == [("vendor.sdk.fetch_sync", "user")]
    assert [b.kind for b in g.functions["app.storage.save"].blocking] == ["user"]
    linter = Linter(p2, declared)
    diags = linter.check(linter.load(str(tmp_path / "app/api.py")))
    assert [(d.code, d.line) for d in diags if d.code == "AFY100"] == [("AFY100", 5), ("AFY100", 9)]
    assert "storage.load → vendor.sdk.fetch_sync (app/storage.py:5)" in next(d.message for d in diags if d.line == 5)
    # each declaration has its own cache: both are reused as they are
    assert Project(str(tmp_path), Settings()).graph.blocking_next == {}
    p3 = Project(str(tmp_path), declared)
    assert set(p3.graph.blocking_next) == {"app.storage.load", "app.storage.save"}
    assert p3.store.stats == {"loaded": 3, "computed": 0}


def test_cache_revalidates_names_taken_for_libraries(tmp_path, monkeypatch):
    # `vendor` was a library when api.py was summarised (its calls not kept); a vendored copy makes it a
    # project package, and api.py's summary stale although api.py did not change
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    files = {
        "app/__init__.py": "",
        "app/api.py": "import vendor.sdk\n\n\nasync def show(key):\n    return vendor.sdk.fetch(key)\n",
    }
    p = make(tmp_path, files)
    assert callees(p.graph, "app.api.show") == set()
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor/__init__.py").write_text("")
    (tmp_path / "vendor/sdk.py").write_text("import time\n\n\ndef fetch(key):\n    time.sleep(1)\n")
    p2 = Project(str(tmp_path), Settings())
    assert callees(p2.graph, "app.api.show") == {"vendor.sdk.fetch"}
    assert "vendor.sdk.fetch" in p2.graph.blocking_next
    assert p2.store.stats == {"loaded": 1, "computed": 3}


def test_flake8_plugin_shares_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    import ast

    from asyncify_lint import flake8_plugin

    files = {
        "s/__init__.py": "",
        "s/crud.py": "from sqlalchemy.orm import Session\n\ndef get(db: Session):\n    return db.get(1, 2)\n",
        "s/api.py": "from s import crud\n\nasync def ep(db):\n    return crud.get(db)\n",
    }
    p = make(tmp_path, files)
    p.summaries  # the CLI (or a pre-commit run) warmed the cache
    monkeypatch.setattr(flake8_plugin, "_PROJECTS", {})
    path = str(tmp_path / "s/crud.py")
    text = (tmp_path / "s/crud.py").read_text()
    plugin = flake8_plugin.Plugin(ast.parse(text), path, text.splitlines(True))
    results = [r[2] for r in plugin.run()]
    assert any(r.startswith("AFY402 `get` must become async") for r in results), results
    project = next(iter(flake8_plugin._PROJECTS.values()))[0]
    assert project.store.stats["computed"] == 0


def test_cache_rewritten_for_one_edit_in_a_large_project(tmp_path, monkeypatch):
    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    files = {f"big/m{i}.py": f"def f{i}():\n    pass\n" for i in range(30)}
    files["big/__init__.py"] = ""
    p = make(tmp_path, files)
    p.summaries
    path = cache_mod.cache_file(str(tmp_path))
    before = cache_mod._read(path)
    (tmp_path / "big/m3.py").write_text("def f3():\n    g()\n\n\ndef g():\n    pass\n")
    p2 = Project(str(tmp_path), Settings())
    assert callees(p2.graph, "big.m3.f3") == {"big.m3.g"}
    assert p2.store.stats == {"loaded": 30, "computed": 1}
    # one edit is saved at once, in the changes file (read over the cache file, which is not rewritten)
    changes = cache_mod.changes_file(str(tmp_path))
    assert cache_mod._read(path) == before
    assert list(cache_mod._read(changes)) == ["big/m3.py"]
    p3 = Project(str(tmp_path), Settings())
    assert callees(p3.graph, "big.m3.f3") == {"big.m3.g"}
    assert p3.store.stats == {"loaded": 31, "computed": 0}
    # a second edit elsewhere: the changes file holds both
    (tmp_path / "big/m4.py").write_text("def f4():\n    f4()\n")
    p4 = Project(str(tmp_path), Settings())
    p4.summaries
    assert p4.store.stats == {"loaded": 30, "computed": 1}
    assert sorted(cache_mod._read(changes)) == ["big/m3.py", "big/m4.py"]
    # more than a tenth of the project changed: the cache file is written whole, the changes file removed
    for i in range(5, 9):
        (tmp_path / f"big/m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    p5 = Project(str(tmp_path), Settings())
    p5.summaries
    assert p5.store.stats == {"loaded": 27, "computed": 4}
    assert not os.path.exists(changes)
    after = cache_mod._read(path)
    assert after.keys() == before.keys()
    assert sorted(k for k in after if after[k] != before[k]) == [f"big/m{i}.py" for i in (3, 4, 5, 6, 7, 8)]
    p6 = Project(str(tmp_path), Settings())
    p6.summaries
    assert p6.store.stats == {"loaded": 31, "computed": 0}
    assert callees(p6.graph, "big.m4.f4") == {"big.m4.f4"}


def test_afy401_coroutines_handed_to_consumers(tmp_path):
    text = textwrap.dedent("""
        import asyncio

        async def fetch(i=0):
            return i

        async def main(xs):
            await asyncio.gather(*[fetch(x) for x in xs], fetch())
            task = asyncio.create_task(fetch())
            await asyncio.wait_for(fetch(), timeout=1)
            print(fetch())  # AFY401
            return await task
        """)
    diags, _, _ = Run(str(tmp_path), text, ["AFY401"]).check()
    assert [(d.line, d.fix.applicability.value) for d in diags] == [(11, "unsafe")]


def test_a_module_name_two_files_share_resolves_to_the_same_file_everywhere(tmp_path):
    """Two apps with a `shop` package in one repository: the graph links calls to the file the
    project's module map chose (the first listed), never to the other one."""
    p = make(tmp_path, {
        "examples/shop/shop/__init__.py": "",
        "examples/shop/shop/crud.py": "import time\n\ndef get():\n    time.sleep(1)\n",
        "examples/shop/shop/main.py": "from shop import crud\n\nasync def ep():\n    crud.get()\n",
        "tests/fixtures/shop/__init__.py": "",
        "tests/fixtures/shop/crud.py": "def get():\n    return 1\n",
    })
    assert p.modules["shop.crud"][0] == os.path.join("examples", "shop", "shop", "crud.py")
    g = p.graph
    assert callees(g, "shop.main.ep") == {"shop.crud.get"}
    assert g.file_of["shop.crud.get"] == os.path.join("examples", "shop", "shop", "crud.py")
    assert list(g.afy100(os.path.join("examples", "shop", "shop", "main.py")).values()) == [
        "ep → crud.get → time.sleep (examples/shop/shop/crud.py:4)"]


def test_retry_decorators_that_await_coroutines_do_not_block_the_conversion(tmp_path):
    p = make(tmp_path, {
        "app/__init__.py": "",
        "app/db.py": "from sqlalchemy import create_engine\nfrom sqlalchemy.orm import Session\n\n"
                     "engine = create_engine('sqlite://')\n",
        "app/work.py": """
            from functools import lru_cache

            from sqlalchemy.orm import Session
            from tenacity import retry, stop_after_attempt


            @retry(stop=stop_after_attempt(3))
            def ping(db: Session) -> None:
                db.commit()


            @lru_cache
            def cached(db: Session) -> None:
                db.commit()
            """,
    })
    g = p.graph
    assert "app.work.ping" in g.must_async and "app.work.ping" not in g.blocked
    assert "lru_cache" in g.blocked["app.work.cached"]


# -- summaries in worker processes -------------------------------------------------------------

def _parallel_project(*roots) -> dict[str, str]:
    """A project of 40 modules that call each other and consult another module for a type."""
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
    files = {"par/__init__.py": "", "par/db.py": "from sqlalchemy.orm import sessionmaker\nSessionLocal = sessionmaker()\n"}
    for i in range(40):
        files[f"par/m{i}.py"] = (
            f"import time\nfrom par.db import SessionLocal\nfrom par import m{(i + 1) % 40} as nxt\n\n\n"
            f"def f{i}(n):\n    db = SessionLocal()\n    db.commit()\n    return nxt.f{(i + 1) % 40}(n - 1) if n else 0\n\n\n"
            f"async def ep{i}():\n    time.sleep(1)\n    return f{i}(3)\n"
        )
    return files


def _all_summaries(project) -> dict:
    return {rel: (s, dict(s.deps)) for rel, s in project.summaries.items()}


def test_parallel_summaries_equal_serial(tmp_path, monkeypatch):
    from asyncify_lint.project import parallel

    monkeypatch.delenv("ASYNCIFY_LINT_NO_CACHE", raising=False)
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    files = _parallel_project(tmp_path / "a", tmp_path / "b")
    used = []
    real = parallel.summarize
    monkeypatch.setattr(parallel, "summarize", lambda store, rels: used.append(real(store, rels)) or used[-1])
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "1")
    serial = make(tmp_path / "a", files)
    expected = _all_summaries(serial)
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "3")
    par = make(tmp_path / "b", files)
    got = _all_summaries(par)
    assert used == [1, 3]
    assert got == expected
    assert par.store.stats == {"loaded": 0, "computed": 42}
    assert par.graph.must_async.keys() == serial.graph.must_async.keys()
    assert "par.m7.f7" in par.graph.must_async
    # the workers' summaries were written to the cache like the others: a warm run loads them all
    again = Project(str(tmp_path / "b"), Settings())
    assert _all_summaries(again) == expected
    assert again.store.stats == {"loaded": 42, "computed": 0}


def test_parallel_summaries_survive_a_failing_worker(tmp_path, monkeypatch):
    from asyncify_lint.project import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    files = _parallel_project(tmp_path / "a", tmp_path / "b")
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "1")
    expected = _all_summaries(make(tmp_path / "a", files))

    parent, real = os.getpid(), parallel.summarize_text

    def fails_in_a_worker(*args):
        if os.getpid() != parent:
            raise RuntimeError("worker failed")
        return real(*args)

    monkeypatch.setattr(parallel, "summarize_text", fails_in_a_worker)
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "2")
    par = make(tmp_path / "b", files)
    assert _all_summaries(par) == expected  # the failed share is summarised serially


def test_parallel_not_used_where_it_cannot_pay_or_fork(tmp_path, monkeypatch):
    import multiprocessing

    from asyncify_lint.project import parallel

    files = _parallel_project()
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "4")
    p = make(tmp_path, files)
    assert parallel.summarize(p.store, p.files) == 1  # 42 small files: below MIN_BYTES
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    monkeypatch.setattr(multiprocessing, "current_process", lambda: type("P", (), {"daemon": True})())
    assert parallel.summarize(p.store, p.files) == 1  # a flake8 -j worker: no children
    monkeypatch.undo()
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "x")
    assert parallel.jobs() == 1
    monkeypatch.setenv("ASYNCIFY_LINT_JOBS", "3")
    assert parallel.jobs() == 3


def test_share_cuts_consecutive_runs_of_about_equal_size():
    from asyncify_lint.project.parallel import share

    sizes = {f"pkg{i // 10}/m{i}.py": (i * 37) % 11 + 1 for i in range(60)}
    for n in (2, 3, 4):
        chunks = share(sizes, n)
        assert len(chunks) == n and sum(chunks, []) == list(sizes)  # consecutive runs, in order
        loads = [sum(sizes[r] + 1 for r in c) for c in chunks]
        total = sum(loads)
        assert all(abs(load - total / n) <= max(sizes.values()) + 1 for load in loads), loads
    assert share({"a.py": 5}, 2) == [["a.py"], []]


def test_runs_taken_from_both_ends_once_each(monkeypatch):
    import multiprocessing

    from asyncify_lint.project import parallel

    ctx = multiprocessing.get_context()
    monkeypatch.setattr(parallel, "_ENDS", (ctx.Lock(), ctx.RawArray("l", [0, 6])))
    taken = [parallel._take(front=k % 3 == 0) for k in range(9)]
    assert taken == [0, 6, 5, 1, 4, 3, 2, None, None]  # the ends meet; nothing twice, nothing left


def test_longest_module_prefix():
    from asyncify_lint.project.discover import longest_module

    modules = {"pkg", "pkg.mod", "x.y"}
    assert longest_module(modules, "pkg.mod.Class.meth") == "pkg.mod"
    assert longest_module(modules, "pkg.mod") == "pkg.mod"
    assert longest_module(modules, "pkg.mod", proper=True) == "pkg"  # the module a name is read from
    assert longest_module(modules, "pkg", proper=True) is None
    assert longest_module(modules, "pkg.other.f") == "pkg"
    assert longest_module(modules, "x.y.z") == "x.y"
    assert longest_module(modules, "x.z") is None  # `x` itself is not a module
    assert longest_module(modules, "os.path.join") is None
