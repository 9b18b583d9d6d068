"""`asyncify-lint plan`: the migration plan (Markdown, self-contained HTML) and `plan --apply N`, on copies of
the end-to-end apps and of tests/fixtures/plan/two_databases (two databases, and an endpoint without
session work that calls blocking code)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest

from asyncify_lint import cli
from asyncify_lint.helpers import sqla

HERE = Path(__file__).parent
APP_PATHS = {p.name: p for p in (HERE / "e2e" / "apps").iterdir() if (p / "pytest.ini").exists()}
APP_PATHS["shop"] = HERE.parent / "examples" / "shop"
TWO_DATABASES = HERE / "fixtures" / "plan" / "two_databases"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", ".pytest_cache", ".asyncify_cache")
CHROMIUM = "/usr/bin/chromium"


def copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=IGNORE)
    return dest


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".asyncify_cache" not in p.parts}


def run(capsys, root: Path, *argv: str) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = cli.main(list(argv))
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    return code, out, err


def steps_of(markdown: str) -> list[tuple[int, str, list[str]]]:
    """(number, title, files) of each step of a Markdown plan."""
    out = []
    for m in re.finditer(r"^### Step (\d+): (.*?)\n(.*?)(?=^### |^## |\Z)", markdown, re.M | re.S):
        files = re.findall(r"^\| `([^`]+)` \| \+\d+ −\d+ \|$", m.group(3), re.M)
        out.append((int(m.group(1)), m.group(2), files))
    return out


def assert_consistent(capsys, root: Path) -> None:
    """Every file compiles, and no sync code calls a coroutine function of the app without awaiting it."""
    for path in root.rglob("*.py"):
        if "__pycache__" not in path.parts:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    code, out, _ = run(capsys, root, "--select", "AFY401,AFY402", "--format", "json", "--exit-zero", ".")
    assert code == 0
    wrong = [d for d in json.loads(out) if d["code"] == "AFY401" or "the coroutine function" in d["message"]]
    assert not wrong, wrong


# -- the report ---------------------------------------------------------------------------------------
def test_markdown_plan(tmp_path, capsys):
    root = copy(APP_PATHS["layered"], tmp_path / "layered")
    before = snapshot(root)
    code, out, err = run(capsys, root, "plan", "--unsafe-fixes")
    assert code == 0, err
    assert snapshot(root) == before  # a plan writes nothing
    assert out.startswith("# Migration plan: layered\n\n1 step, 11 files, ")
    # the call graph: a Mermaid flowchart whose links join declared nodes, coloured by class
    block = re.search(r"```mermaid\n(.*?)\n```", out, re.S).group(1)
    assert block.startswith("flowchart LR\n")
    nodes = dict(re.findall(r'^  (n\d+)[\[({]+"(.*?)"', block, re.M))
    links = re.findall(r"^  (n\d+) (?:-->|-\. \w+ \.->) (n\d+)$", block, re.M)
    assert links and all(a in nodes and b in nodes for a, b in links)
    by_label = {label.split("<br>")[0] + (label.split("<small>")[1][:-len("</small>")] if "<small>" in label
                                          else ""): n for n, label in nodes.items()}
    place = by_label["place_orderapp.api.routes.orders"]
    service = by_label["place_orderapp.services.orders"]
    io = by_label["session I/O"]
    assert (place, service) in links and (by_label["addapp.repositories.orders"], io) in links
    classes = {c: m.split(",") for m, c in re.findall(r"^  class (\S+) (\S+)$", block, re.M)}
    assert service in classes["is_becomes_async"] and io in classes["is_io"]
    assert by_label["send_receiptapp.utils.notify"] in classes["is_blocking"]
    # one step (everything shares the sessions of app/db/session.py), its files bottom-up
    (number, title, files), = steps_of(out)
    assert number == 1 and title.startswith("Async database access: the engine in `app/db/session.py`")
    assert files[0] == "app/db/session.py" and len(files) == 11
    assert files.index("app/repositories/orders.py") < files.index("app/services/orders.py") < files.index(
        "app/api/routes/orders.py")
    assert "`AFY201 sync-engine`" in out and "Apply: `asyncify-lint plan --apply 1`." in out
    # tests at risk: the requests that block the loop once the step is applied (left for a human)
    assert out.count("| `tests/test_orders.py:") == 6
    assert "AFY502: POST /orders/ reaches `place_order`" in out and "blocks the event loop: left for a human" in out
    left = out.split("## Left for a human")[1].split("## ")[0]
    assert "| `app/api/routes/orders.py:39` | AFY100 | 1 |" in left and "| `app/services/orders.py:40` | AFY100 |" in left
    packages = out.split("## Packages to add")[1]
    assert "| `sqlalchemy[asyncio]` |" in packages
    # the URL comes from the settings at run time: the driver is one of those the tool maps to
    assert "| `aiosqlite` or `psycopg` or `aiomysql` | the engine in `app/db/session.py`" in packages
    whole = out.split("## What becomes async")[1].split("## Steps")[0]
    assert "| `get` (app.repositories.orders) | `app/repositories/orders.py:10` | it calls `db.get()`" in whole


def test_html_is_self_contained(tmp_path, capsys):
    root = copy(APP_PATHS["shop"], tmp_path / "shop")
    code, out, err = run(capsys, root, "plan", "--unsafe-fixes", "--html", "-o", "plan.html")
    assert code == 0 and out == "", err
    page = (root / "plan.html").read_text(encoding="utf-8")
    check_well_formed(page)
    lowered = page.lower()
    assert "<script" not in lowered and "@import" not in lowered
    assert not re.search(r"url\((?!#)", lowered)  # only the page's own fragments (the SVG arrow marker)
    assert not re.search(r"""\b(?:src|href|xlink:href)\s*=\s*["']?(?:https?:)?//""", lowered)
    assert "http://" not in lowered and "https://" not in lowered
    # the call graph, laid out in layers: an endpoint left of the crud it calls, session I/O last
    svg = ElementTree.fromstring(re.search(r"<svg .*?</svg>", page, re.S).group(0))
    x = {g.find("title").text.split(":")[0]: float(g.find("text").get("x")) for g in svg.iter("g")}  # centres
    assert x["shop.main.place_order"] < x["shop.crud.create_order"] < x["session I/O"]
    assert "shop.services.audit.record_event" in x and "time.sleep()" in x
    # two steps: the migration, then the blocking call moved off the loop
    assert re.findall(r"<h3>Step \d+: (.*?)</h3>", page) == [
        "Async database access: the engine in <code>shop/database.py</code>, and 7 endpoints, 1 dependency and "
        "8 other functions that use it", "Move blocking calls off the event loop (AFY100)"]
    assert "blocks the event loop until step 2" in page
    assert "<code>aiosqlite</code>" in page and "<code>sqlalchemy[asyncio]</code>" in page


class _Checker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()


def check_well_formed(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.open == []


def test_large_call_graph_is_drawn_by_module(tmp_path, capsys, monkeypatch):
    from asyncify_lint.plan import diagram

    monkeypatch.setattr(diagram, "MAX_FUNCTIONS", 10)  # layered has 40 functions on the request path
    root = copy(APP_PATHS["layered"], tmp_path / "layered")
    code, out, _ = run(capsys, root, "plan", "--unsafe-fixes")
    assert code == 0 and "one node per module" in out
    block = re.search(r"```mermaid\n(.*?)\n```", out, re.S).group(1)
    nodes = {label: n for n, label in re.findall(r'^  (n\d+)[\[({]+"(.*?)"', block, re.M)}
    assert "app.services.orders" in nodes and "place_order" not in nodes
    assert f"  {nodes['app.api.routes.orders']} --> {nodes['app.services.orders']}" in block
    assert f"  {nodes['app.services.orders']} --> {nodes['app.utils.notify']}" in block
    classes = {c: m.split(",") for m, c in re.findall(r"^  class (\S+) (\S+)$", block, re.M)}
    assert nodes["app.utils.notify"] in classes["is_blocking"]


def test_unsafe_fixes_left_out_are_counted(tmp_path, capsys):
    root = copy(TWO_DATABASES, tmp_path / "two_databases")
    code, out, _ = run(capsys, root, "plan")
    assert code == 0
    assert "No step: no fix applies with these options." in out
    assert "23 more fixes are unsafe" in out
    left = out.split("## Left for a human")[1]
    assert "(some wait for the unsafe fixes left out)" in left and "| AFY201 |" not in left


def test_packages_and_independent_steps(tmp_path, capsys):
    root = copy(TWO_DATABASES, tmp_path / "two_databases")
    code, out, _ = run(capsys, root, "plan", "--unsafe-fixes")
    assert code == 0
    assert steps_of(out) == [
        (1, "Async database access: the engine in `app/analytics.py`, and 1 endpoint, 1 dependency and 1 other "
            "function that use it", ["app/analytics.py", "app/routers/stats.py"]),
        (2, "Async database access: the engine in `app/db.py`, and 3 endpoints, 1 dependency and 3 other functions "
            "that use it", ["app/db.py", "app/crud.py", "app/routers/items.py"]),
        (3, "Without session work: `health`", ["app/routers/health.py"]),
        (4, "Move blocking calls off the event loop (AFY100)", ["app/routers/health.py"]),
    ]
    packages = out.split("## Packages to add")[1]
    assert "| `psycopg` | `postgresql+psycopg`, the engine in `app/analytics.py` | no |" in packages
    assert "| `aiosqlite` | `sqlite+aiosqlite`, the engine in `app/db.py` | pyproject.toml |" in packages
    # the tests that call crud with a sync session: named in the step that changes crud, and the bridge
    # keeps them working
    step2 = out.split("### Step 2")[1].split("### Step 3")[0]
    assert step2.count("kept working by `--strategy bridge`") == 3
    assert "| `tests/test_items.py:7` | AFY501: calls crud.create_item() synchronously;" in step2

    # a step that builds on another waits for it; an independent one applies on its own
    code, _, err = run(capsys, root, "plan", "--unsafe-fixes", "--apply", "4")
    assert code == 2 and "step 4 builds on step 3; apply that first" in err
    code, _, err = run(capsys, root, "plan", "--unsafe-fixes", "--apply", "9")
    assert code == 2 and "the plan has 4 steps" in err
    before = snapshot(root)
    code, _, err = run(capsys, root, "plan", "--unsafe-fixes", "--apply", "3")
    assert code == 1 and "Rewriting app/routers/health.py" in err
    after = snapshot(root)
    assert [k for k in after if after[k] != before[k]] == ["app/routers/health.py"]
    assert after["app/routers/health.py"] == before["app/routers/health.py"].replace(b"def health", b"async def health")
    assert_consistent(capsys, root)
    code, out, _ = run(capsys, root, "plan", "--unsafe-fixes")
    assert [(n, t.split(":")[0], f) for n, t, f in steps_of(out)] == [
        (1, "Async database access", ["app/analytics.py", "app/routers/stats.py"]),
        (2, "Async database access", ["app/db.py", "app/crud.py", "app/routers/items.py"]),
        (3, "Move blocking calls off the event loop (AFY100)", ["app/routers/health.py"]),
    ]


def test_plan_of_paths_says_what_it_leaves_out(tmp_path, capsys):
    root = copy(TWO_DATABASES, tmp_path / "two_databases")
    code, out, _ = run(capsys, root, "plan", "--unsafe-fixes", "app/crud.py")
    assert code == 0
    assert "1 file outside them (app/routers/items.py) call functions the plan makes async" in out


@pytest.mark.parametrize("name", ["two_databases", "shop"])
def test_steps_applied_in_order_make_the_full_fix(tmp_path, capsys, name):
    source = TWO_DATABASES if name == "two_databases" else APP_PATHS[name]
    check_steps_compose(tmp_path, capsys, source)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(APP_PATHS))
def test_steps_compose_on_every_app(tmp_path, capsys, name):
    check_steps_compose(tmp_path, capsys, APP_PATHS[name])


def check_steps_compose(tmp_path: Path, capsys, source: Path) -> None:
    """Apply the plan one step at a time (each time the first step of the plan of what is left): each
    step rewrites the files the first plan listed for it, leaves code that compiles and awaits every
    coroutine function it calls, and at the end the files are byte-identical to one `--fix`."""
    full = copy(source, tmp_path / "full")
    code, _, err = run(capsys, full, "--fix", "--unsafe-fixes", "--exit-zero", ".")
    assert code == 0, err
    staged = copy(source, tmp_path / "staged")
    code, out, _ = run(capsys, staged, "plan", "--unsafe-fixes")
    assert code == 0
    planned = steps_of(out)
    assert planned
    for number, _title, files in planned:
        code, _, err = run(capsys, staged, "plan", "--unsafe-fixes", "--apply", "1")
        assert code == 1, err
        assert sorted(re.findall(r"^Rewriting (\S+)$", err, re.M)) == sorted(files), (number, err)
        assert_consistent(capsys, staged)
    code, _, err = run(capsys, staged, "plan", "--unsafe-fixes", "--apply", "1")
    assert code == 0 and "nothing to apply" in err
    assert snapshot(staged) == snapshot(full)


def test_driver_packages_cover_every_async_driver():
    schemes = set(sqla.ASYNC_SCHEMES) | set(sqla.DRIVER_MAP.values()) | set(sqla.DRIVER_MAP_1_4.values())
    assert schemes <= set(sqla.DRIVER_PACKAGES)


# -- the page in a browser --------------------------------------------------------------------------------
def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + left) & 255
            elif f == 2:
                line[i] = (line[i] + up) & 255
            elif f == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif f == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, rows


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs chromium")
def test_html_renders_offline_in_chromium(tmp_path, capsys):
    root = copy(APP_PATHS["layered"], tmp_path / "layered")
    code, _, err = run(capsys, root, "plan", "--unsafe-fixes", "--html", "-o", str(tmp_path / "plan.html"))
    assert code == 0, err
    png = tmp_path / "plan.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1400,1800",
                    (tmp_path / "plan.html").as_uri()], capture_output=True, timeout=120, check=True)
    width, height, rows = png_pixels(png.read_bytes())
    assert (width, height) == (1400, 1800)
    # not blank: the diagram's fills are there (the green of a function made async, the red of a blocking
    # call) and the page is not one colour
    channels = len(rows[0]) // width
    colours = {row[i:i + 3] for row in rows[::8] for i in range(0, len(row), channels * 8)}
    assert len(colours) > 50
    assert bytes.fromhex("d7f0dc") in colours and bytes.fromhex("fbdcdc") in colours
