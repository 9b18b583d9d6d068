"""Fixture harness: inline expected diagnostics, byte-exact fixed outputs, fix invariants.

Annotation grammar (parsed, never evaluated), in a trailing comment of a code line:
    # AFY301            a diagnostic of AFY301 on this line
    # AFY301:5          ... at 1-based column 5
    # AFY301 "endpoint" ... whose message contains the fragment
several may follow each other: `# AFY301 # AFY302:1`. Full-line comments are never annotations.
Header lines `# ARG --select=AFY301,AFY302` / `# ARG --unsafe-fixes` set the run's options;
`# ARG --target-sqlalchemy=1.4` / `# ARG --target-pydantic=1` / `# ARG --target-fastapi-pagination=0.12`
the versions the fixes target (the configuration keys of the same names); `# ARG --project-state=async` whether the
project is migrating or async already (the key `project-state`; detected when not given).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tokenize
from dataclasses import dataclass

from asyncify_lint.config import Settings
from asyncify_lint.engine.runner import FileState, Linter
from asyncify_lint.project import Project

ANNOTATION = re.compile(r'(AFY\d{3})(?::(\d+))?(?:\s+"([^"]*)")?')
ANNOTATION_START = re.compile(r"#\s*AFY\d{3}")


@dataclass(frozen=True)
class Expected:
    code: str
    line: int
    col: int | None
    fragment: str | None


def parse_annotations(text: str) -> list[Expected]:
    out = []
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    line_has_code: set[int] = set()
    comments = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            comments.append(tok)
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            for ln in range(tok.start[0], tok.end[0] + 1):
                line_has_code.add(ln)
    for tok in comments:
        line = tok.start[0]
        if line not in line_has_code or not ANNOTATION_START.match(tok.string):
            continue
        for m in ANNOTATION.finditer(tok.string):
            out.append(Expected(m.group(1), line, int(m.group(2)) if m.group(2) else None, m.group(3)))
    return out


def parse_args(text: str, default_code: str) -> dict:
    opts = {"select": [default_code], "unsafe": False, "targets": {}}
    for line in text.splitlines():
        if not line.startswith("# ARG "):
            continue
        for arg in line[6:].split():
            if arg.startswith("--select="):
                opts["select"] = arg.split("=", 1)[1].split(",")
            elif arg == "--unsafe-fixes":
                opts["unsafe"] = True
            elif arg.startswith(("--target-sqlalchemy=", "--target-pydantic=", "--target-fastapi-pagination=",
                                 "--project-state=")):
                key, value = arg[2:].split("=", 1)
                opts["targets"][key.replace("-", "_")] = value
    return opts


def noqa_variant(text: str) -> str:
    """Replace each annotation comment with `# noqa: CODES`."""
    lines = text.splitlines(keepends=True)
    for exp_line in sorted({e.line for e in parse_annotations(text)}):
        line = lines[exp_line - 1]
        m = re.search(r"#\s*AFY\d{3}.*$", line.rstrip("\r\n"))
        codes = ",".join(dict.fromkeys(c for c in re.findall(r"AFY\d{3}", m.group(0))))
        ending = line[len(line.rstrip("\r\n")) :]
        lines[exp_line - 1] = line[: m.start()] + f"# noqa: {codes}" + ending
    return "".join(lines)


class Run:
    """A scratch project holding one module, checked and fixed in-process."""

    def __init__(self, tmpdir: str, text: str | bytes, select: list[str], unsafe: bool = False,
                 name: str = "mod.py", extra: dict[str, str] | None = None,
                 targets: dict[str, str] | None = None) -> None:
        self.dir = tmpdir
        os.makedirs(tmpdir, exist_ok=True)
        self.path = os.path.join(tmpdir, name)
        data = text.encode("utf-8") if isinstance(text, str) else text
        with open(self.path, "wb") as f:
            f.write(data)
        for rel, content in (extra or {}).items():
            p = os.path.join(tmpdir, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8") as f:
                f.write(content)
        self.select = select
        self.unsafe = unsafe
        self.targets = dict(targets or {})

    def linter(self) -> Linter:
        settings = Settings(select=list(self.select), unsafe_fixes=self.unsafe, **self.targets)
        return Linter(Project(self.dir, settings), settings)

    def check(self):
        linter = self.linter()
        st = linter.load(self.path, os.path.basename(self.path))
        return linter.check(st), st, linter

    def fix(self) -> tuple[str, FileState]:
        linter = self.linter()
        st = linter.load(self.path, os.path.basename(self.path))
        linter.fix(st)
        return st.text, st


def reset(tmpdir: str) -> None:
    shutil.rmtree(tmpdir, ignore_errors=True)


# -- whole trees and in-process CLI runs (project fixtures, the bridge) ---------------------------
TREE_SKIP_DIRS = {".asyncify_cache", "__pycache__", ".pytest_cache"}


def tree_bytes(root: str) -> dict[str, bytes]:
    """Every file below ``root`` (caches skipped), by its /-separated relative path."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in TREE_SKIP_DIRS)
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = fh.read()
    return out


def run_cli(args: list[str], cwd: str, capsys) -> tuple[int, str, str]:
    """The CLI in-process with ``cwd`` as the current directory: (exit code, stdout, stderr)."""
    from asyncify_lint import cli

    old = os.getcwd()
    os.chdir(cwd)
    try:
        capsys.readouterr()
        code = cli.main(args)
        out, err = capsys.readouterr()
    finally:
        os.chdir(old)
    return code, out, err


def load_oracle():
    """The async-path oracle (tests/e2e/oracle, not a package of the tests), loaded once by path."""
    import importlib.util
    import sys

    name = "asyncify_e2e_oracle"
    if name not in sys.modules:
        path = os.path.join(os.path.dirname(__file__), "e2e", "oracle", "__init__.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]
