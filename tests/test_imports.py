"""Imports: removing those the fixes left unused, and where new import lines go."""

from __future__ import annotations

import pytest

from asyncify_lint.engine.imports import prune_unused_imports
from harness import Run


def prune(before: str, after: str, relpath: str = "mod.py") -> str:
    return prune_unused_imports(before, after, relpath=relpath)


def test_partial_from_import_in_parentheses_keeps_layout_and_comments():
    before = "from a import (\n    b,  # the b\n    c,  # the c\n    d,\n)\n\nb(); c(); d()\n"
    after = "from a import (\n    b,  # the b\n    c,  # the c\n    d,\n)\n\nb(); d()\n"
    assert prune(before, after) == "from a import (\n    b,  # the b\n    d,\n)\n\nb(); d()\n"


@pytest.mark.parametrize("gone, expected", [
    ("b", "from a import c, d\n"),
    ("c", "from a import b, d\n"),
    ("d", "from a import b, c\n"),
    ("c d", "from a import b\n"),
    ("b c", "from a import d\n"),
])
def test_partial_from_import_on_one_line(gone, expected):
    before = "from a import b, c, d\nb(); c(); d()\n"
    after = "from a import b, c, d\n" + "; ".join(f"{n}()" for n in "bcd" if n not in gone.split()) + "\n"
    assert prune(before, after) == expected + after.split("\n", 1)[1]


def test_aliases_and_backslash_continuation():
    before = "from a import b as bb, \\\n    c as cc\nbb(); cc()\n"
    after = "from a import b as bb, \\\n    c as cc\nbb()\n"
    assert prune(before, after) == "from a import b as bb\nbb()\n"


def test_whole_statement_and_the_blank_line_of_its_group():
    before = '"""Doc."""\n\nimport time\n\nfrom fastapi import FastAPI\n\nFastAPI(); time.sleep(1)\n'
    after = '"""Doc."""\n\nimport time\n\nfrom fastapi import FastAPI\n\nFastAPI()\n'
    assert prune(before, after) == '"""Doc."""\n\nfrom fastapi import FastAPI\n\nFastAPI()\n'


def test_crlf():
    before = "import os\r\nimport time\r\n\r\nos.getcwd(); time.time()\r\n"
    after = "import os\r\nimport time\r\n\r\nos.getcwd()\r\n"
    assert prune(before, after) == "import os\r\n\r\nos.getcwd()\r\n"


@pytest.mark.parametrize("after", [
    "import time\n\nx: 'time.struct_time'\n",  # a string annotation
    "import time\n\n__all__ = ['time']\n",  # __all__
    "import time\n\ndef f():\n    global time\n",  # global
    "import time\n\ndel time\n",  # del
    "import time\nfrom os import *\n",  # a star import: cannot tell
    "import time\nx = globals()\n",  # globals(): cannot tell
    "import time  # noqa: F401\n",  # the user keeps it
    "import time; x = 1\n",  # shares its line
    "import os.path\nos.getcwd()\n",  # `import x.y` with x still used (kept: `os` is used)
])
def test_kept(after):
    before = "import time\nimport os.path\nos.getcwd(); time.time()\n"
    assert prune(before, after) == after


def test_kept_when_unused_before_and_in_init():
    before = "import json\nimport time\ntime.time()\n"
    after = "import json\nimport time\n"
    assert prune(before, after) == "import json\n"
    assert prune(before, after, relpath="pkg/__init__.py") == after


def test_type_checking_block_emptied_goes_with_its_import():
    before = ("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from sqlalchemy.orm import Session\n\n\n"
              "def f(db: 'Session'): ...\n")
    after = ("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from sqlalchemy.orm import Session\n\n\n"
             "def f(db: 'AsyncSession'): ...\n")
    assert prune(before, after) == "\ndef f(db: 'AsyncSession'): ...\n"


def test_type_checking_block_partly_used():
    before = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n    import b\nx: 'a.A | b.B'\n"
    after = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n    import b\nx: 'a.A'\n"
    assert prune(before, after) == "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nx: 'a.A'\n"


def test_an_import_shadowed_by_an_alias_of_the_same_name():
    before = "from sqlalchemy.orm import Session\nSession = Annotated[Session, Depends(get_db)]\n"
    after = "from sqlalchemy.orm import Session\nSession = Annotated[AsyncSession, Depends(get_db)]\n"
    assert prune(before, after) == "Session = Annotated[AsyncSession, Depends(get_db)]\n"


def test_not_touched_outside_the_module_level():
    before = "def f():\n    import time\n    time.sleep(1)\n"
    after = "async def f():\n    import time\n    await asyncio.sleep(1)\n"
    assert prune(before, after) == after


# -- placement, through AFY110's `import asyncio` -------------------------------------------------
ASYNC = "\n\nasync def f():\n    time.sleep(1)\n"


@pytest.mark.parametrize("head, expected", [
    # no import block: after the docstring and the __future__ imports
    ('"""Doc."""\nfrom __future__ import annotations\nimport time\n',
     '"""Doc."""\nfrom __future__ import annotations\nimport asyncio\n'),
    # a sorted block: in its section, in sorted place
    ("import os\nimport time\n\nimport httpx\n", "import asyncio\nimport os\n\nimport httpx\n"),
    # a sorted block without a standard-library section: a section of its own
    ("import time\n\nimport httpx\nfrom fastapi import FastAPI\n",
     "import asyncio\n\nimport httpx\nfrom fastapi import FastAPI\n"),
    # not sorted: after the last `import` line, not inside the try: block
    ("import time\nimport sys\nfrom os import path\ntry:\n    import ujson\nexcept ImportError:\n    ujson = None\n",
     "import sys\nimport asyncio\nfrom os import path\ntry:\n    import ujson\nexcept ImportError:\n    ujson = None\n"),
    # a statement sharing the last import's line is never split
    ("import time\nimport sys; x = (\n    1)\n", "import asyncio\nimport sys; x = (\n    1)\n"),
])
def test_new_import_placement(head, expected, tmp_path):
    fixed, state = Run(str(tmp_path), head + ASYNC, ["AFY110"]).fix()
    assert not state.errors
    assert fixed == expected + ASYNC.replace("time.sleep", "await asyncio.sleep")
