from asyncify_lint.cli import entry

entry()
