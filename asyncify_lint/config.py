"""Settings: defaults, ``[asyncify_lint]`` in setup.cfg, ``[tool.asyncify-lint]`` in pyproject.toml, CLI."""

from __future__ import annotations

import configparser
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".eggs",
    "*.egg-info",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".asyncify_cache",
    "__pypackages__",
)

# Read for analysis, never written: tests, and the database migration environments (Alembic's
# `env.py` and revisions run synchronously by the `alembic` command, outside the app).
DEFAULT_TEST_PATTERNS = ("tests/", "test/", "test_*.py", "*_test.py", "conftest.py", "alembic/", "migrations/")

#: the project's cache directory (the summaries, the results, a migration's journal), at its root unless
#: `cache-dir`, ASYNCIFY_LINT_CACHE_DIR or --cache-dir say otherwise (project/cache.py)
CACHE_DIR = ".asyncify_cache"


class ConfigError(Exception):
    """A bad configuration value; the message names the file and the key."""


_CODE_PREFIX = re.compile(r"^AFY[0-9]{0,3}$")

LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude", "test-paths",
             "extend-test-paths", "blocking-calls", "blocking-patterns", "fixable", "unfixable")
CODE_LIST_KEYS = ("select", "ignore", "extend-select", "fixable", "unfixable")
BOOL_KEYS = ("unsafe-fixes",)
STRATEGIES = ("migrate", "bridge")
#: whether the project is being migrated or is async already (project/state.py); "auto": detected
PROJECT_STATES = ("auto", "migrating", "async")
KNOWN_KEYS = set(LIST_KEYS) | set(BOOL_KEYS) | {"per-rule", "per-file-ignores", "strategy", "max-file-size"}
#: the versions fixes target, over what the project's files say (helpers/versions.py)
TARGET_KEYS = {"target-sqlalchemy": re.compile(r"^[12]\.[0-9]+$"), "target-pydantic": re.compile(r"^[12]$"),
               "target-fastapi-pagination": re.compile(r"^0\.[0-9]+$")}
KNOWN_KEYS |= set(TARGET_KEYS)
KNOWN_KEYS.add("cache-dir")
KNOWN_KEYS.add("project-state")


_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]?B?)\s*$", re.IGNORECASE)
DEFAULT_MAX_FILE_SIZE = 10 * 1024 ** 2  # 10 MB


def parse_size(value: Any, where: str) -> int:
    """``max-file-size``: a number of bytes, or a number with a ``KB``, ``MB`` or ``GB`` suffix
    (1 KB = 1024 bytes; ``K``/``M``/``G`` alone too); 0 means no limit."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _SIZE.match(value) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(f"{where}: max-file-size must be a size such as 10MB, 512KB or 1048576 (bytes), "
                          f"or 0 for no limit, not {value!r}")
    unit = m.group(2).upper()
    return int(float(m.group(1)) * _SIZE_UNITS[unit if unit.endswith("B") or not unit else unit + "B"])


def format_size(size: int) -> str:
    """``52.4 MB``, ``640 KB``, ``900 bytes`` (1 KB = 1024 bytes)."""
    for unit in ("GB", "MB", "KB"):
        if size >= _SIZE_UNITS[unit]:
            return f"{size / _SIZE_UNITS[unit]:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def max_file_size(settings: "Settings | None") -> int:
    """The size limit of the analysed files in bytes (0: none); the default without settings."""
    return DEFAULT_MAX_FILE_SIZE if settings is None else settings.max_file_size


def over_limit(data: bytes | str, limit: int) -> bool:
    """Whether a file's bytes, or its text counted as UTF-8, are over ``limit`` bytes (0: no limit)."""
    if not limit or len(data) <= (limit if isinstance(data, bytes) else limit // 4):
        return False
    return isinstance(data, bytes) or len(data) > limit or len(data.encode("utf-8", "surrogatepass")) > limit


def too_large_message(size: int, limit: int) -> str:
    """The AFY001 message of a file over ``max-file-size``."""
    shown, shown_limit = format_size(size), format_size(limit)
    if shown == shown_limit:  # `10 MB > 10 MB`: say it in bytes
        shown, shown_limit = f"{size:,} bytes", f"{limit:,} bytes"
    return f"file too large: {shown} > max-file-size {shown_limit}; not analysed"


@dataclass
class Settings:
    select: list[str] | None = None  # None: every rule that is on by default
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    test_paths: list[str] = field(default_factory=lambda: list(DEFAULT_TEST_PATTERNS))
    unsafe_fixes: bool = False
    #: code prefixes whose fixes apply (None: every code's) and whose fixes never apply; the longest
    #: matching prefix wins, as for select / ignore
    fixable: list[str] | None = None
    unfixable: list[str] = field(default_factory=list)
    #: code prefixes ignored in the files a pattern matches (patterns as `exclude`): {"tests/": ["AFY3"]}
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    #: extra blocking calls by qualified name (AFY119)
    blocking_calls: list[str] = field(default_factory=list)
    #: extra blocking calls by ast-grep pattern (AFY119)
    blocking_patterns: list[str] = field(default_factory=list)
    #: options for one rule: {"AFY201": {"key": value}}
    per_rule: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "migrate" (default) or "bridge": keep the names sync tests use working (asyncify_lint/bridge.py)
    strategy: str = "migrate"
    #: "auto" (detected), "migrating" or "async": where the migration rules report (project/state.py)
    project_state: str = "auto"
    #: files larger than this many bytes are not analysed (one AFY001 each instead); 0: no limit
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    #: the SQLAlchemy ("1.4", "2.0") and pydantic ("1", "2") versions fixes target; None: detected
    target_sqlalchemy: str | None = None
    target_pydantic: str | None = None
    target_fastapi_pagination: str | None = None  # "0.12", "0.13": which async paginate to await
    #: the summary cache's directory (`cache-dir`), relative to the project root; the environment's
    #: ASYNCIFY_LINT_CACHE_DIR and the command line's --cache-dir win over it (project/cache.py)
    cache_dir: str | None = None
    #: from the command line only: --cache-dir (an absolute path), --no-cache
    cache_dir_option: str | None = None
    no_cache: bool = False
    source: str | None = None  # the config file the settings came from

    def effective_select(self) -> list[str] | None:
        if self.select is None and not self.extend_select:
            return None
        base = self.select if self.select is not None else ["AFY"]
        return list(base) + list(self.extend_select)

    def rule_option(self, code: str, key: str, default: Any = None) -> Any:
        return self.per_rule.get(code, {}).get(key, default)


def _split_list(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,\n]", value) if v.strip()]


# flake8's per-file-ignores syntax (flake8/utils.py parse_files_to_codes_mapping): `glob:CODE,CODE`
# pairs separated by commas or white space; a pair's codes run until the next file pattern
_PFI_TOKEN = re.compile(r"(?P<colon>\s*:\s*)|(?P<sep>[\s,]+)|(?P<code>[A-Z]+[0-9]*(?=$|[\s,]))|(?P<file>[^\s:,]+)")


def parse_per_file_ignores(value: Any, where: str) -> dict[str, list[str]]:
    """``per-file-ignores``: a table of pattern -> codes (pyproject.toml), or flake8's syntax, a string of
    ``glob:CODE,CODE`` pairs (setup.cfg, the command line), or a list of such strings."""
    if isinstance(value, dict):
        out: dict[str, list[str]] = {}
        for pattern, codes in value.items():
            items = _split_list(codes) if isinstance(codes, str) else codes
            if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
                raise ConfigError(f"{where}: {pattern!r} must map to a list of codes")
            out.setdefault(pattern, []).extend(_check_codes(items, where))
        return out
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "\n".join(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a table of pattern = [codes], or `glob:CODE,CODE` pairs")
    pairs: dict[str, list[str]] = {}
    files: list[str] = []
    codes: list[str] = []
    colon, sep = False, True

    def flush() -> None:
        for f in files:
            pairs.setdefault(f, []).extend(_check_codes(codes, where))

    for m in _PFI_TOKEN.finditer(value):
        kind, text = m.lastgroup, m.group()
        if kind == "sep":
            sep = True
        elif not colon and kind == "colon" and files:
            colon = sep = True
        elif not colon and kind == "file" and sep:
            files.append(text)
            sep = False
        elif colon and kind == "code" and sep:
            codes.append(text)
            sep = False
        elif colon and kind == "file" and sep and codes:
            flush()
            files, codes, colon, sep = [text], [], False, False
        else:
            raise ConfigError(f"{where}: expected `glob:CODE,CODE` pairs (flake8's per-file-ignores syntax), "
                              f"not {value.strip()!r}")
    if files and not (colon and codes):
        raise ConfigError(f"{where}: {files[-1]!r} has no codes (expected `glob:CODE,CODE`)")
    flush()
    return pairs


def _check_codes(values: list[str], where: str) -> list[str]:
    out = []
    for v in values:
        u = v.upper()
        if not _CODE_PREFIX.match(u):
            raise ConfigError(f"{where}: {v!r} is not an asyncify-lint code or prefix (expected AFY, AFY1, AFY301, ...)")
        out.append(u)
    return out


#: the options each rule reads through ``Settings.rule_option`` (``per-rule``); a key no rule reads is
#: a configuration error, not a silent no-op. No rule has options yet.
RULE_OPTIONS: dict[str, frozenset[str]] = {}

_BLOCKING_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\.\*)?")
_METAVARIABLE = re.compile(r"\$\$\$[A-Z_][A-Z0-9_]*|\$\$\$|\$[A-Z_][A-Z0-9_]*")


def _check_blocking_calls(names: list[str], where: str) -> list[str]:
    for name in names:
        if not _BLOCKING_NAME.fullmatch(name):
            what = "an empty name" if not name.strip() else repr(name)
            raise ConfigError(f"{where}: {what} is not a qualified name (expected `module.function`, "
                              "`module.Class.method` or `module.*`)")
    return names


def _check_patterns(patterns: list[str], where: str) -> list[str]:
    """Each ast-grep pattern must parse as Python once its metavariables are names: ast-grep itself
    accepts `$$$(` and then matches nothing, which would leave the rule silently off."""
    if not patterns:
        return patterns
    from ast_grep_py import SgRoot  # only when patterns are configured

    for pattern in patterns:
        plain = _METAVARIABLE.sub("_afy_metavariable", pattern)
        error = None
        if not pattern.strip():
            error = "an empty pattern"
        elif SgRoot(plain, "python").root().find(kind="ERROR") is not None:
            error = "not valid Python syntax"
        else:
            try:
                SgRoot("", "python").root().find(pattern=pattern)
            except Exception as exc:  # ast-grep's own refusal (several statements, ...)
                error = str(exc).split("Stack backtrace")[0].strip().splitlines()[-1].strip()
        if error is not None:
            raise ConfigError(f"{where}: invalid ast-grep pattern {pattern!r}: {error}")
    return patterns


def _apply(settings: Settings, data: dict[str, Any], where: str) -> None:
    for raw_key, value in data.items():
        key = raw_key.replace("_", "-")
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{where}: unknown option {raw_key!r}")
        if key in LIST_KEYS:
            if isinstance(value, str):
                items = _split_list(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                items = list(value)
            else:
                raise ConfigError(f"{where}: {raw_key} must be a list of strings")
            if key in CODE_LIST_KEYS:
                items = _check_codes(items, f"{where}: {raw_key}")
            elif key == "blocking-calls":
                items = _check_blocking_calls(items, f"{where}: {raw_key}")
            elif key == "blocking-patterns":
                items = _check_patterns(items, f"{where}: {raw_key}")
            attr = key.replace("-", "_")
            if key == "extend-test-paths":
                settings.test_paths = settings.test_paths + items
            else:
                setattr(settings, attr, items)
        elif key in BOOL_KEYS:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ConfigError(f"{where}: {raw_key} must be true or false, not {value!r}")
                value = low in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: {raw_key} must be true or false")
            settings.unsafe_fixes = value
        elif key == "per-file-ignores":
            settings.per_file_ignores = parse_per_file_ignores(value, f"{where}: {raw_key}")
        elif key == "max-file-size":
            settings.max_file_size = parse_size(value, f"{where}: {raw_key}")
        elif key == "cache-dir":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: {raw_key} must be a directory (relative to the project root)")
            settings.cache_dir = value.strip()
        elif key == "strategy":
            if value not in STRATEGIES:
                raise ConfigError(f"{where}: strategy must be one of {', '.join(STRATEGIES)}, not {value!r}")
            settings.strategy = value
        elif key == "project-state":
            if value not in PROJECT_STATES:
                raise ConfigError(f"{where}: project-state must be one of {', '.join(PROJECT_STATES)}, not {value!r}")
            settings.project_state = value
        elif key in TARGET_KEYS:
            text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
            if not TARGET_KEYS[key].match(text):
                want = {"target-sqlalchemy": '"1.4", "2.0", "2.1"', "target-pydantic": '"1" or "2"'}.get(
                    key, '"0.12", "0.13"')
                raise ConfigError(f"{where}: {raw_key} must be a version such as {want}, not {value!r}")
            setattr(settings, key.replace("-", "_"), text)
        elif key == "per-rule":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"{where}: per-rule must be a table of tables, e.g. [tool.asyncify-lint.per-rule.AFY201]")
            for code, opts in value.items():
                _check_codes([code], f"{where}: per-rule")
                known = RULE_OPTIONS.get(code.upper(), frozenset())
                for opt in opts:
                    if opt not in known:
                        has = f"its options are {', '.join(sorted(known))}" if known else f"{code.upper()} has none"
                        raise ConfigError(f"{where}: per-rule option {code.upper()}.{opt} is read by no rule ({has})")
                settings.per_rule.setdefault(code.upper(), {}).update(opts)


def load_config(root: str) -> Settings:
    """Read the project's configuration (pyproject.toml wins over setup.cfg when both have a section)."""
    settings = Settings()
    pyproject = os.path.join(root, "pyproject.toml")
    setup_cfg = os.path.join(root, "setup.cfg")
    if os.path.isfile(pyproject):
        try:
            with open(pyproject, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{pyproject}: cannot read: {exc}") from None
        section = data.get("tool", {}).get("asyncify-lint")
        if section is not None:
            if not isinstance(section, dict):
                raise ConfigError(f"{pyproject}: [tool.asyncify-lint] must be a table")
            _apply(settings, section, f"{pyproject} [tool.asyncify-lint]")
            settings.source = pyproject
            return settings
    if os.path.isfile(setup_cfg):
        parser = configparser.RawConfigParser()
        try:
            parser.read(setup_cfg, encoding="utf-8")
        except (OSError, configparser.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{setup_cfg}: cannot read: {exc}") from None
        for name in ("asyncify_lint", "asyncify-lint"):
            if parser.has_section(name):
                data: dict[str, Any] = {}
                per_rule: dict[str, dict[str, Any]] = {}
                for k, v in parser.items(name):
                    if k.upper().startswith("AFY") and "." in k:  # AFY201.option = value
                        code, opt = k.split(".", 1)
                        per_rule.setdefault(code.upper(), {})[opt] = v
                    else:
                        data[k] = v
                if per_rule:
                    data["per-rule"] = per_rule
                _apply(settings, data, f"{setup_cfg} [{name}]")
                settings.source = setup_cfg
                break
    return settings


def load_nearest_config(root: str, top: str) -> Settings:
    """The settings of the nearest directory from ``root`` up to ``top`` (its parent or itself) that has a
    configuration section, as ruff finds the closest one; the defaults when none has."""
    d, top = os.path.abspath(root), os.path.abspath(top)
    while True:
        settings = load_config(d)
        up = os.path.dirname(d)
        if settings.source is not None or d == top or up == d or not d.startswith(top):
            return settings
        d = up
