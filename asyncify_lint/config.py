"""Settings: defaults, ``[asyncify_lint]`` in setup.cfg, ``[tool.asyncify-lint]`` in pyproject.toml, CLI."""

from __future__ import annotations

import configparser
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from asyncify_lint.project.discover import DEFAULT_EXCLUDE, DEFAULT_TEST_PATTERNS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A bad configuration value; the message names the file and the key."""


_CODE_PREFIX = re.compile(r"^AFY[0-9]{0,3}$")

LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude", "test-paths",
             "extend-test-paths", "blocking-calls", "blocking-patterns", "unfixable")
BOOL_KEYS = ("unsafe-fixes",)
STRATEGIES = ("migrate", "bridge")
KNOWN_KEYS = set(LIST_KEYS) | set(BOOL_KEYS) | {"per-rule", "strategy"}


@dataclass
class Settings:
    select: list[str] | None = None  # None: every rule that is on by default
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    test_paths: list[str] = field(default_factory=lambda: list(DEFAULT_TEST_PATTERNS))
    unsafe_fixes: bool = False
    unfixable: list[str] = field(default_factory=list)
    #: extra blocking calls by qualified name (AFY119)
    blocking_calls: list[str] = field(default_factory=list)
    #: extra blocking calls by ast-grep pattern (AFY119)
    blocking_patterns: list[str] = field(default_factory=list)
    #: options for one rule: {"AFY201": {"key": value}}
    per_rule: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "migrate" (default) or "bridge": keep the names sync tests use working (asyncify_lint/bridge.py)
    strategy: str = "migrate"
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
            if key in ("select", "ignore", "extend-select", "unfixable"):
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
        elif key == "strategy":
            if value not in STRATEGIES:
                raise ConfigError(f"{where}: strategy must be one of {', '.join(STRATEGIES)}, not {value!r}")
            settings.strategy = value
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
