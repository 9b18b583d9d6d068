"""``asyncify-lint server``: a language server (LSP over stdio) with the CLI's diagnostics, fixes and
rule documentation, on pygls (the optional extra ``server``).

This module imports neither pygls nor the analysis: without pygls the command says how to install it.
"""

from __future__ import annotations

import sys

from asyncify_lint.cli_common import EXIT_ERROR, _Parser

INSTALL_HINT = "pip install 'asyncify-lint[server]'"


def main(argv: list[str]) -> int:
    parser = _Parser(prog="asyncify-lint server", description="Run the language server on stdin and stdout.")
    parser.add_argument("--stdio", action="store_true", help="accepted for LSP clients that pass it (stdio is the "
                        "only transport)")
    parser.parse_args(argv)
    try:
        import pygls.lsp.server  # noqa: F401 - pygls 2: `pygls.lsp.server.LanguageServer`
    except ImportError:
        print(f"asyncify-lint: error: the language server needs pygls 2: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_ERROR
    from asyncify_lint.server.lsp import serve

    return serve()
