"""Meta tests: every rule is documented, tested, registered once, listed in the CHANGELOG and the docs.

Generic over whatever rules exist: nothing here names a rule except the explicit opt-out lists.
"""

from __future__ import annotations

import glob
import importlib
import os
import pkgutil
import re

import pytest

import asyncify_lint.rules as rules_pkg
from asyncify_lint.devtools import generate_docs
from asyncify_lint.registry import REQUIRED_DOC_SECTIONS, _RULES, all_rules, get_rule
from harness import ANNOTATION_START, Run, parse_annotations

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RULE_FIXTURES = os.path.join(HERE, "fixtures", "rules")
PROJECT_FIXTURES = os.path.join(HERE, "fixtures", "projects")

RULES = all_rules()
CODES = [r.code for r in RULES]

# Rules whose `## Example` / `## Use instead` blocks cannot be checked as one standalone module, with the
# reason. Keep this short: prefer examples that stand alone.
EXAMPLE_OPT_OUT: dict[str, str] = {
    "AFY100": "a two-module example that elides its imports (`router`, `audit`): needs a project",
    "AFY119": "needs `blocking-calls` in the configuration and the `legacy` package",
    "AFY203": "the example elides its imports (`AsyncSession`, `Item`, `select`), so the session type is unknown",
    "AFY402": "the example elides its imports (`Session`, `User`), so the session type is unknown",
    "AFY206": "needs the project module `app.models` (a mapped class with a relationship)",
    "AFY501": "needs the project module `crud` whose functions the migration changes",
}

# Rules that need no fixture (the reason is the point of the list).
FIXTURE_OPT_OUT = {
    "AFY001": "a parse error has no rule module logic; covered by tests/test_cli.py",
    "AFY119": "needs `blocking-calls` / `blocking-patterns` settings, which fixtures cannot set; tests/test_blocking.py",
}


def _module_names() -> list[str]:
    return sorted(i.name for i in pkgutil.iter_modules(rules_pkg.__path__) if i.name.startswith("afy"))


def test_rules_exist():
    assert len(RULES) >= 3
    assert len(_module_names()) == len(RULES)


@pytest.mark.parametrize("name", _module_names())
def test_each_rule_module_registers_exactly_one_rule(name):
    qual = f"{rules_pkg.__name__}.{name}"
    mod = importlib.import_module(qual)
    registered = [r for r in _RULES.values() if r.module == qual]
    assert len(registered) == 1, (name, [r.code for r in registered])
    rule = registered[0]
    assert getattr(mod, "RULE", None) is rule, "the module's rule is its `RULE`"
    assert name.startswith(rule.code.lower() + "_"), f"{name} must be named afyNNN_<slug> after {rule.code}"
    assert rule.doc == mod.__doc__, "doc=__doc__"


def test_codes_and_slugs_are_unique_and_well_formed():
    assert len(set(CODES)) == len(CODES)
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)
    for r in RULES:
        assert re.fullmatch(r"AFY\d{3}", r.code), r.code
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", r.name), f"{r.code}: slug {r.name!r} is not kebab-case"


@pytest.mark.parametrize("code", CODES)
def test_rule_docs_have_the_required_sections(code):
    rule = get_rule(code)
    doc = rule.doc
    positions = []
    for section in REQUIRED_DOC_SECTIONS:
        m = re.search(rf"^{re.escape(section)}[ \t]*$", doc, re.M)
        assert m, f"{code}: missing section {section!r}"
        positions.append(m.start())
        body = doc[m.end():].split("\n## ", 1)[0]
        assert body.strip(), f"{code}: section {section!r} is empty"
    assert positions == sorted(positions), f"{code}: sections out of order"
    for section in ("## Example", "## Use instead"):
        assert _blocks(doc, section), f"{code}: {section} has no ```python block"
    assert rule.message, code
    if rule.handlers:
        assert rule.fix_title or rule.fix_availability.value == "none", f"{code}: a fixable rule needs fix_title"


# -- fixtures --------------------------------------------------------------------------------------


def _fixture_inputs() -> list[str]:
    out = glob.glob(os.path.join(RULE_FIXTURES, "afy*.py"))
    out += glob.glob(os.path.join(PROJECT_FIXTURES, "**", "*.py"), recursive=True)
    return sorted(p for p in out if not p.endswith(".fixed.py") and ".fixed" + os.sep not in p)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _annotated_codes(path: str) -> set[str]:
    try:
        return {e.code for e in parse_annotations(_read(path))}
    except (SyntaxError, UnicodeDecodeError, Exception):  # a deliberately broken fixture
        return set(re.findall(r"#\s*(AFY\d{3})\b", _read(path)))


def test_fixture_files_name_existing_codes():
    for path in glob.glob(os.path.join(RULE_FIXTURES, "*.py")):
        name = os.path.basename(path)
        m = re.match(r"(afy\d{3})", name)
        assert m, f"{name}: fixture names start with afyNNN"
        assert m.group(1).upper() in CODES, f"{name}: no rule {m.group(1).upper()}"
        if name.endswith(".fixed.py"):
            base = re.sub(r"(\.unsafe)?\.fixed\.py$", ".py", name)
            assert os.path.exists(os.path.join(RULE_FIXTURES, base)), f"{name}: no input {base}"


def test_fixture_annotations_name_existing_codes():
    for path in _fixture_inputs():
        for code in _annotated_codes(path):
            assert code in CODES, f"{os.path.relpath(path, HERE)}: annotation of unknown code {code}"
        for line in _read(path).splitlines():
            if line.startswith("# ARG "):
                for code in re.findall(r"AFY\d*", line):
                    assert any(c.startswith(code) for c in CODES), f"{path}: --select of unknown {code}"


@pytest.mark.parametrize("code", CODES)
def test_every_rule_has_a_fixture(code):
    if code in FIXTURE_OPT_OUT:
        pytest.skip(FIXTURE_OPT_OUT[code])
    named = glob.glob(os.path.join(RULE_FIXTURES, code.lower() + "*.py"))
    annotated = [p for p in _fixture_inputs() if code in _annotated_codes(p)]
    assert named or annotated, f"{code}: no fixture in tests/fixtures/rules or tests/fixtures/projects"


# -- generated docs and changelog ----------------------------------------------------------------


def test_generated_docs_are_up_to_date(capsys):
    rc = generate_docs.main(["--check", "--root", ROOT])
    assert rc == 0, capsys.readouterr().out


def test_generate_docs_check_detects_staleness(tmp_path, capsys):
    (tmp_path / "README.md").write_text("# x\n\n<!-- rules-table-start -->\nold\n<!-- rules-table-end -->\n")
    assert generate_docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert "README.md" in capsys.readouterr().out
    assert generate_docs.main(["--root", str(tmp_path)]) == 0
    assert generate_docs.main(["--check", "--root", str(tmp_path)]) == 0
    readme = (tmp_path / "README.md").read_text()
    for r in RULES:
        assert f"[{r.code}](docs/rules/{generate_docs.page_name(r)})" in readme
        page = (tmp_path / "docs" / "rules" / generate_docs.page_name(r)).read_text()
        assert page.startswith(f"# {r.code}: {r.name}\n") and r.doc.strip() in page
    # a page of a rule that no longer exists is stale, and removed
    (tmp_path / "docs" / "rules" / "AFY999-gone.md").write_text("x")
    assert generate_docs.main(["--check", "--root", str(tmp_path)]) == 1
    generate_docs.main(["--root", str(tmp_path)])
    assert not (tmp_path / "docs" / "rules" / "AFY999-gone.md").exists()
    # a README without markers is left alone
    (tmp_path / "README.md").write_text("# no table\n")
    assert generate_docs.main(["--check", "--root", str(tmp_path)]) == 0


def test_changelog_mentions_every_code():
    text = _read(os.path.join(ROOT, "CHANGELOG.md"))
    missing = [c for c in CODES if not re.search(rf"\b{c}\b", text)]
    assert not missing, f"CHANGELOG.md does not mention {missing}"


# -- the docs' examples --------------------------------------------------------------------------


def _blocks(doc: str, section: str) -> list[str]:
    m = re.search(rf"^{re.escape(section)}[ \t]*\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    if not m:
        return []
    return re.findall(r"^```python\n(.*?)^```", m.group(1), re.S | re.M)


FILE_HEADER = re.compile(r"^# ([\w./-]+\.py)[ \t]*$", re.M)


def _split_files(block: str) -> dict[str, str]:
    """A block that starts with `# path/to/mod.py` holds several modules, each after its own header line."""
    if not FILE_HEADER.match(block):
        return {}
    parts = FILE_HEADER.split(block)[1:]
    return {parts[i]: parts[i + 1].lstrip("\n") for i in range(0, len(parts), 2)}


def _codes_found(tmp_path, block: str, code: str) -> set[str]:
    """Codes reported in ``block``: one module checked as an app module and as a test module (some rules
    only look at tests), or the modules of a multi-file block, each checked."""
    files = _split_files(block)
    variants = [files] if files else [{"example.py": block}, {"test_example.py": block}]
    found = set()
    for i, modules in enumerate(variants):
        (first, text), *rest = modules.items()
        run = Run(str(tmp_path / f"{code}-{i}"), text, [code], unsafe=True, name=first, extra=dict(rest))
        linter = run.linter()
        for rel in modules:
            found |= {d.code for d in linter.check(linter.load(os.path.join(run.dir, rel), rel))}
    return found


@pytest.mark.parametrize("code", CODES)
def test_example_triggers_the_rule_and_use_instead_does_not(code, tmp_path):
    if code in EXAMPLE_OPT_OUT:
        pytest.skip(EXAMPLE_OPT_OUT[code])
    doc = get_rule(code).doc
    examples, fixed = _blocks(doc, "## Example"), _blocks(doc, "## Use instead")
    assert any(code in _codes_found(tmp_path / "ex", b, code) for b in examples), (
        f"{code}: no `## Example` block triggers the rule"
    )
    for i, block in enumerate(fixed):
        assert code not in _codes_found(tmp_path / f"ok{i}", block, code), (
            f"{code}: the `## Use instead` block still triggers the rule:\n{block}"
        )


def test_annotation_regex_sees_codes():
    # guard for _annotated_codes: the harness's annotation syntax is what the fixtures use
    assert ANNOTATION_START.match("# AFY301")


def test_the_package_source_is_clean_under_its_own_rules(capsys):
    """The tool's own code passes its own rules (bugbear's self-clean test)."""
    import asyncify_lint
    from asyncify_lint.cli import main

    package = os.path.dirname(asyncify_lint.__file__)
    assert main([package]) == 0, capsys.readouterr().out
