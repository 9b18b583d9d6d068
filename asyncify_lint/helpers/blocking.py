"""Known blocking calls. The catalogue is the shared source for the AFY1xx rules and for the
"does this function do I/O" questions other rules ask."""

from __future__ import annotations

import ast

from asyncify_lint.engine.context import FileContext

# A small core; the AFY1xx family extends it with the full catalogue.
_CORE = {
    "time.sleep": "sleep",
    "builtins.open": "file-io",
    "builtins.input": "other",
    "subprocess.run": "subprocess",
    "subprocess.call": "subprocess",
    "subprocess.check_call": "subprocess",
    "subprocess.check_output": "subprocess",
    "os.system": "subprocess",
}
_HTTP_PREFIXES = ("requests.", "urllib.request.urlopen", "httpx.get", "httpx.post", "httpx.put", "httpx.delete",
                  "httpx.patch", "httpx.request", "httpx.stream", "httpx.head", "httpx.options")


def classify(ctx: FileContext, call: ast.Call) -> str | None:
    """The category of a blocking call (``sleep``, ``http``, ``file-io``...), or None."""
    qn = ctx.qualname(call.func)
    if qn is None:
        return None
    if qn in _CORE:
        return _CORE[qn]
    if qn.startswith(_HTTP_PREFIXES):
        return "http"
    return None
