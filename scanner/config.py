"""Project configuration: ``.keysweep.toml`` or ``[tool.keysweep]`` in ``pyproject.toml``.

Discovered at the root of the scanned repository (``.keysweep.toml`` wins over
``pyproject.toml``) or named with ``--config FILE``. Every key is checked: an unknown key or a
bad value raises :class:`ConfigError` naming the file and the dotted key. Paths in the file are
relative (never absolute) so a config works the same on every machine: rule packs and the
baseline are resolved against the directory holding the config file; path globs are matched
against repository-relative paths with ``/`` separators.

    [rules]
    packs = ["rules/internal.yaml"]       # extra rule packs
    disable = ["generic-password"]        # rule ids to switch off

    [scan]
    max_file_size = 2_000_000             # bytes; larger files are skipped and counted
    skip_paths = ["vendor/**"]            # never read
    min_confidence = "medium"             # high | medium | low (default: medium)

    [allowlist]                           # global: applies to every rule
    paths = ["docs/examples/**"]
    stopwords = ["dummy"]
    regexes = [{ regex = "^AKIA.*FAKE$", target = "secret" }]   # target: secret|match|line

    [baseline]
    path = ".keysweep-baseline.jsonl"     # used automatically by scan, history and staged

    [verify]
    canary_accounts = ["111122223333"]    # accounts whose keys are canaries (never call AWS)
    allow_accounts = ["444455556666"]     # only these accounts may be verified / deactivated
    deny_accounts = ["777788889999"]      # never verify / deactivate keys of these accounts

This module sits beside ``scanner.ignore``: it imports the bottom layer and, for the allowlist
regex type it shares with rule packs, ``scanner.rulepack``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from scanner.errors import ConfigError
from scanner.models import CONFIDENCE_LEVELS
from scanner.rulepack import ALLOW_TARGETS, AllowRegex

CONFIG_FILENAME = ".keysweep.toml"
PYPROJECT_FILENAME = "pyproject.toml"
_ACCOUNT_RE = re.compile(r"\d{12}")


@dataclass(frozen=True)
class AllowlistConfig:
    paths: tuple[str, ...] = ()  # globs, repository-relative
    regexes: tuple[AllowRegex, ...] = ()
    stopwords: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.paths or self.regexes or self.stopwords)


@dataclass(frozen=True)
class VerifyConfig:
    canary_accounts: tuple[str, ...] = ()
    allow_accounts: tuple[str, ...] = ()
    deny_accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """The project configuration, validated. ``source`` is None when no file was found."""

    source: Path | None = None
    rule_packs: tuple[Path, ...] = ()  # resolved against the config file's directory
    disabled_rules: tuple[str, ...] = ()
    max_file_size: int | None = None
    skip_paths: tuple[str, ...] = ()
    min_confidence: str | None = None  # scan.min_confidence; None: the built-in default
    allowlist: AllowlistConfig = field(default_factory=AllowlistConfig)
    baseline: Path | None = None  # resolved against the config file's directory
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    def skips(self, path: str) -> bool:
        """True when ``path`` (repository-relative) matches a ``scan.skip_paths`` glob."""
        return any(path_matches(path, glob) for glob in self.skip_paths)

    def allows_path(self, path: str) -> bool:
        """True when ``path`` matches an ``allowlist.paths`` glob."""
        return any(path_matches(path, glob) for glob in self.allowlist.paths)


# --------------------------------------------------------------------------- discovery


def find_config(root: Path) -> tuple[Path, bool] | None:
    """The config file for a repository root: (path, is_pyproject), or None.

    ``.keysweep.toml`` wins; ``pyproject.toml`` counts only when it has ``[tool.keysweep]``.
    """
    dedicated = root / CONFIG_FILENAME
    if dedicated.is_file():
        return dedicated, False
    pyproject = root / PYPROJECT_FILENAME
    if pyproject.is_file():
        data = _read_toml(pyproject)
        tool = data.get("tool")
        if isinstance(tool, dict) and "keysweep" in tool:
            return pyproject, True
    return None


def load_config(path: Path | None, root: Path) -> Config:
    """Load ``path`` (from ``--config``) or discover the config at ``root``.

    With no file found, returns the default ``Config()``.
    """
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path}: not found")
        is_pyproject = path.name == PYPROJECT_FILENAME
    else:
        found = find_config(root)
        if found is None:
            return Config()
        path, is_pyproject = found
    data = _read_toml(path)
    if is_pyproject:
        tool = data.get("tool", {})
        table = tool.get("keysweep") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(f"config file {path}: no [tool.keysweep] table")
        prefix = "tool.keysweep"
    else:
        table = data
        prefix = ""
    return parse_config(table, path, prefix=prefix)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- validation


class _Reader:
    """Checks one table of the config, naming file and dotted key in every error."""

    def __init__(self, source: Path, prefix: str) -> None:
        self.source = source
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return ".".join(p for p in (self.prefix, *parts) if p)

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"config file {self.source}: key '{key}': {problem}")

    def table(self, data: Any, key: str, allowed: Mapping[str, str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"expected a table, got {_kind(data)}")
        for name in data:
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(_join(key, name), f"unknown key (known: {known})")
        return data

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.fail(
                    f"{key}[{index}]", f"expected a non-empty string, got {_kind(item)}"
                )
        return tuple(value)

    def relative_path(self, value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty relative path, got {_kind(value)}")
        if _is_absolute(value):
            raise self.fail(
                key, "absolute paths are not allowed; use a path relative to the config file"
            )
        return self.source.parent / value

    def globs(self, value: Any, key: str) -> tuple[str, ...]:
        patterns = self.strings(value, key)
        for index, pattern in enumerate(patterns):
            if _is_absolute(pattern):
                raise self.fail(
                    f"{key}[{index}]",
                    "absolute paths are not allowed; use a glob relative to the repository root",
                )
        return patterns

    def accounts(self, value: Any, key: str) -> tuple[str, ...]:
        items = self.strings(value, key)
        for index, item in enumerate(items):
            if not _ACCOUNT_RE.fullmatch(item):
                raise self.fail(f"{key}[{index}]", "expected a 12-digit AWS account id")
        return items


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _is_absolute(value: str) -> bool:
    return (
        value.startswith(("/", "\\", "~"))
        or PurePosixPath(value).is_absolute()
        or PureWindowsPath(value).is_absolute()
        or bool(PureWindowsPath(value).drive)
    )


_TOP = {
    "rules": "extra rule packs and disabled rules",
    "scan": "file size limit and skipped paths",
    "allowlist": "global allowlist",
    "baseline": "baseline file",
    "verify": "verification settings",
}
_RULES = {"packs": "", "disable": ""}
_SCAN = {"max_file_size": "", "skip_paths": "", "min_confidence": ""}
_ALLOWLIST = {"paths": "", "regexes": "", "stopwords": ""}
_ALLOW_REGEX = {"regex": "", "target": ""}
_BASELINE = {"path": ""}
_VERIFY = {"canary_accounts": "", "allow_accounts": "", "deny_accounts": ""}


def parse_config(data: Mapping[str, Any], source: Path, *, prefix: str = "") -> Config:
    """Validate a parsed TOML table (the file, or ``[tool.keysweep]``) into a :class:`Config`."""
    r = _Reader(source, prefix)
    top = r.table(dict(data), r.key(), _TOP)

    packs: tuple[Path, ...] = ()
    disabled: tuple[str, ...] = ()
    if "rules" in top:
        rules = r.table(top["rules"], r.key("rules"), _RULES)
        if "packs" in rules:
            key = r.key("rules", "packs")
            names = r.strings(rules["packs"], key)
            packs = tuple(r.relative_path(n, f"{key}[{i}]") for i, n in enumerate(names))
        if "disable" in rules:
            disabled = r.strings(rules["disable"], r.key("rules", "disable"))

    max_file_size: int | None = None
    skip_paths: tuple[str, ...] = ()
    min_confidence: str | None = None
    if "scan" in top:
        scan = r.table(top["scan"], r.key("scan"), _SCAN)
        if "max_file_size" in scan:
            value = scan["max_file_size"]
            if type(value) is not int or value <= 0:
                raise r.fail(
                    r.key("scan", "max_file_size"),
                    f"expected a positive integer (bytes), got {_kind(value)}",
                )
            max_file_size = value
        if "skip_paths" in scan:
            skip_paths = r.globs(scan["skip_paths"], r.key("scan", "skip_paths"))
        if "min_confidence" in scan:
            value = scan["min_confidence"]
            if value not in CONFIDENCE_LEVELS:
                raise r.fail(
                    r.key("scan", "min_confidence"),
                    f"expected one of {', '.join(CONFIDENCE_LEVELS)}, got {value!r}",
                )
            min_confidence = str(value)

    allowlist = AllowlistConfig()
    if "allowlist" in top:
        allowlist = _parse_allowlist(r, top["allowlist"])

    baseline: Path | None = None
    if "baseline" in top:
        table = r.table(top["baseline"], r.key("baseline"), _BASELINE)
        if "path" in table:
            baseline = r.relative_path(table["path"], r.key("baseline", "path"))

    verify = VerifyConfig()
    if "verify" in top:
        table = r.table(top["verify"], r.key("verify"), _VERIFY)
        values = {
            name: r.accounts(table[name], r.key("verify", name))
            for name in _VERIFY
            if name in table
        }
        verify = VerifyConfig(**values)
        both = set(verify.allow_accounts) & set(verify.deny_accounts)
        if both:
            raise r.fail(
                r.key("verify", "deny_accounts"),
                f"account {min(both)} is also in allow_accounts",
            )

    return Config(
        source=source,
        rule_packs=packs,
        disabled_rules=disabled,
        max_file_size=max_file_size,
        skip_paths=skip_paths,
        min_confidence=min_confidence,
        allowlist=allowlist,
        baseline=baseline,
        verify=verify,
    )


def _parse_allowlist(r: _Reader, value: Any) -> AllowlistConfig:
    table = r.table(value, r.key("allowlist"), _ALLOWLIST)
    paths: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()
    regexes: list[AllowRegex] = []
    if "paths" in table:
        paths = r.globs(table["paths"], r.key("allowlist", "paths"))
    if "stopwords" in table:
        stopwords = r.strings(table["stopwords"], r.key("allowlist", "stopwords"))
    if "regexes" in table:
        key = r.key("allowlist", "regexes")
        items = table["regexes"]
        if not isinstance(items, list):
            raise r.fail(key, f"expected a list of tables, got {_kind(items)}")
        for index, item in enumerate(items):
            item_key = f"{key}[{index}]"
            if isinstance(item, str):  # shorthand: a bare regex targets the secret
                item = {"regex": item}
            entry = r.table(item, item_key, _ALLOW_REGEX)
            if "regex" not in entry:
                raise r.fail(_join(item_key, "regex"), "missing")
            pattern = entry["regex"]
            if not isinstance(pattern, str) or not pattern:
                raise r.fail(_join(item_key, "regex"), f"expected a string, got {_kind(pattern)}")
            target = entry.get("target", "secret")
            if target not in ALLOW_TARGETS:
                raise r.fail(_join(item_key, "target"), "expected one of secret, match, line")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise r.fail(
                    _join(item_key, "regex"), f"invalid regular expression: {exc}"
                ) from None
            regexes.append(AllowRegex(compiled, target))
    return AllowlistConfig(paths=paths, regexes=tuple(regexes), stopwords=stopwords)


# --------------------------------------------------------------------------- path globs

_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def glob_to_regex(glob: str) -> str:
    """Translate a path glob into a regex matching repository-relative ``/`` paths.

    ``**`` spans directories, ``*`` and ``?`` stay within one path segment, ``[abc]`` is a
    character class. A glob without ``/`` matches a file or directory name at any depth (as in
    ``.gitignore``); a match on a directory covers everything under it.
    """
    pattern = glob.strip().removeprefix("./")
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.rstrip("/")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    body = "".join(out)
    lead = "" if anchored else "(?:[^/]+/)*"
    return f"{lead}{body}(?:/.*)?"


def path_matches(path: str, glob: str) -> bool:
    """True when a repository-relative path matches a config glob."""
    compiled = _GLOB_CACHE.get(glob)
    if compiled is None:
        compiled = re.compile(glob_to_regex(glob), re.DOTALL)
        _GLOB_CACHE[glob] = compiled
    normal = path.replace("\\", "/").removeprefix("./")
    return compiled.fullmatch(normal) is not None
