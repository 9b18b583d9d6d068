"""`asyncify-lint server`: a real LSP client speaking JSON-RPC over the server's stdin and stdout."""

from __future__ import annotations

import io
import itertools
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from asyncify_lint.cli import main
from asyncify_lint.engine.noqa import noqa_edit

pytest.importorskip("pygls.lsp.server")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 60  # seconds for any one answer: a loaded machine builds the project index on the first check
PUBLISH = "textDocument/publishDiagnostics"

HELPERS = "def load():\n    return 1\n"
HELPERS_ASYNC = "async def load():\n    return 1\n"
MAIN = (
    "import time\n"
    "\n"
    "from app.helpers import load\n"
    "\n"
    "\n"
    "async def handler():\n"
    '    s = "é😀"; time.sleep(1)\n'
    "    return load()\n"
)


class Client:
    """An LSP client on a server subprocess; every wait has a deadline."""

    def __init__(self, cwd: Path, capabilities: dict | None = None) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "asyncify_lint", "server"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.messages: queue.Queue = queue.Queue()
        self.backlog: list[dict] = []  # messages read but not yet asked for
        self.ids = itertools.count(1)
        threading.Thread(target=self._read, daemon=True).start()
        self.capabilities = capabilities if capabilities is not None else {
            "workspace": {"workspaceEdit": {"documentChanges": True}},
            "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}}},
        }
        self.init = self.request("initialize", {"processId": os.getpid(), "rootUri": cwd.as_uri(),
                                                "capabilities": self.capabilities})
        self.notify("initialized", {})

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = {}
            line = out.readline()
            while line.strip():
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
                line = out.readline()
            if not line:
                self.messages.put(None)
                return
            self.messages.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.proc.stdin.flush()

    def server_stderr(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def take(self, match) -> dict:
        for i, message in enumerate(self.backlog):
            if match(message):
                return self.backlog.pop(i)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no answer within {TIMEOUT}s; the server said:\n{self.server_stderr()}") from None
            if message is None:
                raise AssertionError(f"the server closed its output; it said:\n{self.server_stderr()}")
            if message.get("method") == "window/showMessage" and "Error in server" in message["params"]["message"]:
                raise AssertionError(message["params"]["message"])  # a handler raised: pygls says so, and goes on
            if "method" in message and "id" in message:  # a request of the server's (registrations)
                self.send({"id": message["id"], "result": None})
            if match(message):
                return message
            self.backlog.append(message)

    def request(self, method: str, params) -> object:
        rid = next(self.ids)
        self.send({"id": rid, "method": method, "params": params})
        answer = self.take(lambda m: m.get("id") == rid and "method" not in m)
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str, where=lambda diags: True) -> list[dict]:
        message = self.take(lambda m: m.get("method") == PUBLISH and m["params"]["uri"] == uri
                            and where(m["params"]["diagnostics"]))
        return message["params"]["diagnostics"]

    def settle(self) -> None:
        """Wait until the server has published everything due, then forget what it published: a request
        is answered after every message before it was handled."""
        self.request("textDocument/hover", {"textDocument": {"uri": "file:///nowhere.py"},
                                            "position": {"line": 0, "character": 0}})
        self.backlog = [m for m in self.backlog if m.get("method") != PUBLISH]

    def open(self, path: Path) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                              "text": path.read_text(encoding="utf-8")}})
        return uri

    def change(self, uri: str, version: int, text: str) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})

    def stop(self) -> int:
        self.request("shutdown", None)
        self.notify("exit", None)
        return self.wait()

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            for stream in (self.proc.stdin, self.proc.stdout):
                stream.close()  # type: ignore[union-attr]
            self.stderr.close()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "helpers.py").write_text(HELPERS, encoding="utf-8")
    (tmp_path / "app" / "main.py").write_text(MAIN, encoding="utf-8")
    return tmp_path


@pytest.fixture
def client(project):
    c = Client(project)
    yield c
    if c.proc.poll() is None:
        c.proc.kill()
        c.wait()


def offset(text: str, position: dict) -> int:
    """A position (UTF-16 code units, LSP's default) as an offset in ``text``."""
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    line = text[starts[position["line"]]:]
    units = 0
    for i, ch in enumerate(line):
        if units >= position["character"]:
            return starts[position["line"]] + i
        units += len(ch.encode("utf-16-le")) // 2
    return len(text)


def apply(text: str, uri: str, edit: dict) -> str:
    """Apply a WorkspaceEdit's edits of ``uri`` to ``text``, as an editor does."""
    if "documentChanges" in edit:
        edits = [e for change in edit["documentChanges"] if change["textDocument"]["uri"] == uri
                 for e in change["edits"]]
    else:
        edits = edit["changes"][uri]
    spans = sorted(((offset(text, e["range"]["start"]), offset(text, e["range"]["end"]), i, e["newText"])
                    for i, e in enumerate(edits)))
    out, pos = [], 0
    for start, end, _, new in spans:
        assert start >= pos, "overlapping edits"
        out += [text[pos:start], new]
        pos = end
    return "".join(out) + text[pos:]


def codes(diags: list[dict]) -> list[str]:
    return [d["code"] for d in diags]


def test_without_pygls_says_how_to_install_it():
    code = "import sys; sys.modules['pygls'] = None; from asyncify_lint.cli import main; sys.exit(main(['server']))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == "asyncify-lint: error: the language server needs pygls 2: pip install 'asyncify-lint[server]'\n"


def test_initialize_and_exit(project):
    client = Client(project)
    caps = client.init["capabilities"]
    assert client.init["serverInfo"]["name"] == "asyncify-lint"
    assert caps["textDocumentSync"]["change"] == 1  # whole documents
    assert caps["textDocumentSync"]["openClose"] and caps["textDocumentSync"]["save"]
    assert caps["hoverProvider"]
    assert caps["codeActionProvider"] == {"codeActionKinds": ["quickfix", "source.fixAll.asyncify-lint"],
                                          "resolveProvider": True}
    assert client.stop() == 0


def test_exit_without_shutdown_is_exit_code_1(project):
    client = Client(project)
    client.notify("exit", None)
    assert client.wait() == 1


def test_diagnostics_of_the_buffer_and_across_modules(project, client):
    main_uri = client.open(project / "app" / "main.py")
    diags = client.diagnostics(main_uri)
    assert codes(diags) == ["AFY110"]
    [d] = diags
    line = MAIN.splitlines()[6]
    start = len(line[: line.index("time.sleep")].encode("utf-16-le")) // 2  # "😀" is two UTF-16 units
    assert d["range"] == {"start": {"line": 6, "character": start},
                          "end": {"line": 6, "character": start + len("time.sleep(1)")}}
    assert d["source"] == "asyncify-lint"
    assert d["severity"] == 2
    assert d["message"].startswith("blocking call `time.sleep()` in `async def handler`")
    href = d["codeDescription"]["href"]
    assert href.endswith("/docs/rules/AFY110-blocking-sleep-in-async.md") and href.startswith("file://")
    assert os.path.isfile(href[len("file://"):])

    helpers_uri = client.open(project / "app" / "helpers.py")
    assert client.diagnostics(helpers_uri) == []

    # the unsaved buffer of another module makes `load` a coroutine function: main.py is checked again
    client.settle()
    client.change(helpers_uri, 2, HELPERS_ASYNC)
    diags = client.diagnostics(main_uri)
    assert codes(diags) == ["AFY110", "AFY401"]
    assert diags[1]["range"]["start"] == {"line": 7, "character": 11}
    assert (project / "app" / "helpers.py").read_text() == HELPERS  # nothing written

    # the buffer's own findings follow its text
    client.change(main_uri, 2, MAIN.replace("time.sleep(1)", "pass"))
    assert codes(client.diagnostics(main_uri, lambda ds: "AFY110" not in codes(ds))) == ["AFY401"]

    # saved, then closed: main.py reads the file on disk, which now holds what the buffer held
    (project / "app" / "helpers.py").write_text(HELPERS_ASYNC)
    client.settle()
    client.notify("textDocument/didSave", {"textDocument": {"uri": helpers_uri}})
    client.notify("textDocument/didClose", {"textDocument": {"uri": helpers_uri}})
    assert client.diagnostics(helpers_uri) == []
    assert codes(client.diagnostics(main_uri)) == ["AFY401"]
    assert client.stop() == 0


def test_files_changed_on_disk(project):
    client = Client(project, capabilities={"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}}})
    main_uri = client.open(project / "app" / "main.py")
    assert codes(client.diagnostics(main_uri)) == ["AFY110"]
    [registration] = client.take(lambda m: m.get("method") == "client/registerCapability")["params"]["registrations"]
    assert registration["method"] == "workspace/didChangeWatchedFiles"
    assert [w["globPattern"] for w in registration["registerOptions"]["watchers"]] == [
        "**/*.py", "**/pyproject.toml", "**/setup.cfg"]
    (project / "app" / "helpers.py").write_text(HELPERS_ASYNC)
    client.notify("workspace/didChangeWatchedFiles",
                  {"changes": [{"uri": (project / "app" / "helpers.py").as_uri(), "type": 2}]})
    assert codes(client.diagnostics(main_uri)) == ["AFY110", "AFY401"]

    # the configuration changed: the project is read again with it
    (project / "pyproject.toml").write_text("[project]\nname = 'shop'\n[tool.asyncify-lint]\nignore = ['AFY110']\n")
    client.notify("workspace/didChangeWatchedFiles",
                  {"changes": [{"uri": (project / "pyproject.toml").as_uri(), "type": 2}]})
    assert codes(client.diagnostics(main_uri)) == ["AFY401"]
    assert client.stop() == 0


def test_a_bad_configuration_is_shown(project):
    (project / "pyproject.toml").write_text("[tool.asyncify-lint]\nselekt = ['AFY']\n")
    client = Client(project)
    uri = client.open(project / "app" / "main.py")
    message = client.take(lambda m: m.get("method") == "window/showMessage")
    assert message["params"]["type"] == 1
    assert "asyncify-lint:" in message["params"]["message"] and "selekt" in message["params"]["message"]
    assert client.diagnostics(uri) == []
    assert client.stop() == 0


def quick_fixes(client: Client, uri: str, line: int, character: int) -> list[dict]:
    """The quick fixes at a cursor (a client that names no diagnostics: the server finds them)."""
    cursor = {"line": line, "character": character}
    return client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": cursor, "end": cursor},
        "context": {"diagnostics": [], "only": ["quickfix"]},
    })


def test_quick_fixes(project, client):
    (project / "app" / "helpers.py").write_text(HELPERS_ASYNC)
    uri = client.open(project / "app" / "main.py")
    diags = client.diagnostics(uri)
    assert codes(diags) == ["AFY110", "AFY401"]

    assert quick_fixes(client, uri, 6, 0) == []  # the cursor is not on it
    actions = quick_fixes(client, uri, 6, 20)
    assert [a["title"] for a in actions] == [
        "asyncify-lint (AFY110): Replace with `await asyncio.sleep(...)`",
        "asyncify-lint: Disable AFY110 for this line",
    ]
    assert all(a["kind"] == "quickfix" for a in actions)
    assert actions[0]["diagnostics"] == [diags[0]] and actions[0]["isPreferred"]
    fixed = apply(MAIN, uri, actions[0]["edit"])
    assert fixed == MAIN.replace("import time\n", "import asyncio\nimport time\n").replace(
        "time.sleep(1)", "await asyncio.sleep(1)")
    assert actions[0]["edit"]["documentChanges"][0]["textDocument"] == {"uri": uri, "version": 1}
    disabled = apply(MAIN, uri, actions[1]["edit"])
    assert disabled == MAIN.replace("time.sleep(1)\n", "time.sleep(1)  # noqa: AFY110\n")

    # an unsafe fix is offered, and says so
    [unsafe, disable] = quick_fixes(client, uri, 7, 11)
    assert unsafe["title"] == "asyncify-lint (AFY401): Await `load()` (unsafe)"
    assert not unsafe["isPreferred"]
    assert apply(MAIN, uri, unsafe["edit"]) == MAIN.replace("return load()", "return await load()")

    # the buffer with the noqa comment: AFY110 is gone; a second code joins the comment
    client.change(uri, 2, disabled)
    assert codes(client.diagnostics(uri, lambda ds: len(ds) == 1)) == ["AFY401"]
    client.change(uri, 3, disabled.replace("return load()", "return load()  # noqa: AFY100 - reviewed"))
    client.settle()
    [_, disable] = quick_fixes(client, uri, 7, 11)
    assert disable["title"] == "asyncify-lint: Disable AFY401 for this line"
    text = disabled.replace("return load()", "return load()  # noqa: AFY100 - reviewed")
    assert apply(text, uri, disable["edit"]).splitlines()[7] == "    return load()  # noqa: AFY100, AFY401 - reviewed"
    assert client.stop() == 0


def test_quick_fixes_of_the_diagnostics_the_client_names(project):
    """A client that sends the diagnostics it shows (and a range elsewhere on the line), and that takes
    a WorkspaceEdit's `changes` only."""
    client = Client(project, capabilities={})
    uri = client.open(project / "app" / "main.py")
    [diag] = client.diagnostics(uri)
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [diag]},
    })
    titles = [a["title"] for a in actions]
    assert titles == ["asyncify-lint (AFY110): Replace with `await asyncio.sleep(...)`",
                      "asyncify-lint: Disable AFY110 for this line",
                      "asyncify-lint: Fix all safe fixes in this file"]
    assert "await asyncio.sleep(1)" in apply(MAIN, uri, actions[0]["edit"])
    assert "changes" in actions[2]["edit"] and "data" in actions[2]  # no resolve support: the edit comes along
    assert client.stop() == 0


def test_fix_all_is_what_fix_writes(project, client, monkeypatch):
    (project / "app" / "helpers.py").write_text(HELPERS_ASYNC)
    uri = client.open(project / "app" / "main.py")
    assert codes(client.diagnostics(uri)) == ["AFY110", "AFY401"]
    [action] = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 8, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"], "triggerKind": 2},
    })
    assert action["title"] == "asyncify-lint: Fix all safe fixes in this file"
    assert action["kind"] == "source.fixAll.asyncify-lint"
    assert "edit" not in action  # computed when chosen
    resolved = client.request("codeAction/resolve", action)
    fixed = apply(MAIN, uri, resolved["edit"])
    assert client.stop() == 0

    monkeypatch.chdir(project)
    with redirect_stdout(io.StringIO()):
        assert main(["--fix", "--no-cache", "app/main.py"]) == 1
    assert fixed == (project / "app" / "main.py").read_text(encoding="utf-8")
    assert "await asyncio.sleep(1)" in fixed and "return load()" in fixed  # the unsafe AFY401 fix is not


def test_no_fix_all_when_nothing_is_safely_fixable(project, client):
    uri = client.open(project / "app" / "main.py")
    client.diagnostics(uri)
    client.change(uri, 2, MAIN.replace("time.sleep(1)", "pass"))
    assert client.diagnostics(uri) == []
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source"]},
    })
    assert actions == []
    assert client.stop() == 0


def test_hover_shows_the_rules_documentation(project, client, capsys):
    uri = client.open(project / "app" / "main.py")
    [diag] = client.diagnostics(uri)
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": diag["range"]["end"]})
    assert hover["range"] == diag["range"]
    assert hover["contents"]["kind"] == "markdown"
    assert main(["--explain", "AFY110"]) == 0
    explained = capsys.readouterr().out
    assert hover["contents"]["value"] == (explained.rstrip("\n") + "\n\n[AFY110 documentation]("
                                          + diag["codeDescription"]["href"] + ")")
    nothing = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                    "position": {"line": 7, "character": 4}})
    assert nothing is None
    assert client.stop() == 0


@pytest.mark.parametrize(("text", "line", "expected"), [
    pytest.param("x = f()\n", 1, "x = f()  # noqa: AFY401\n", id="appended"),
    pytest.param("x = f()   \r\n", 1, "x = f()  # noqa: AFY401   \r\n", id="before-trailing-space-and-crlf"),
    pytest.param("x = f()  # why\n", 1, "x = f()  # why  # noqa: AFY401\n", id="after-a-comment"),
    pytest.param("x = f()  # NOQA:AFY100\n", 1, "x = f()  # NOQA:AFY100, AFY401\n", id="merged"),
    pytest.param("x = f('''a\nb''')\n", 1, "x = f('''a\nb''')  # noqa: AFY401\n", id="after-a-multi-line-string"),
    pytest.param("x = f() + \\\n    g()\n", 1, "x = f() + \\\n    g()  # noqa: AFY401\n", id="after-a-backslash"),
    pytest.param("x = f(\n    1,\n)\n", 1, "x = f(  # noqa: AFY401\n    1,\n)\n", id="bracketed-lines-are-their-own"),
    pytest.param("x = f(", 1, "x = f(  # noqa: AFY401", id="does-not-tokenize"),
])
def test_noqa_edit(text, line, expected):
    edit = noqa_edit(text, line, "AFY401")
    assert text[: edit.start] + edit.content + text[edit.end :] == expected
