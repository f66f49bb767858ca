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

The ``[allowlist]`` table has the schema, type and glob dialect of a rule's ``allowlist``
(:mod:`scanner.allowlist`). This module sits beside ``scanner.ignore`` and imports only the
bottom layer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.allowlist import Allowlist, is_absolute, parse_allowlist, path_globs
from scanner.allowlist import path_matches as path_matches
from scanner.errors import ConfigError
from scanner.models import Confidence
from scanner.schema import Node, Problem, kind_of

CONFIG_FILENAME = ".keysweep.toml"
PYPROJECT_FILENAME = "pyproject.toml"
_ACCOUNT_RE = re.compile(r"\d{12}")


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
    allowlist: Allowlist = field(default_factory=Allowlist)
    baseline: Path | None = None  # resolved against the config file's directory
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    def skips(self, path: str) -> bool:
        """True when ``path`` (repository-relative) matches a ``scan.skip_paths`` glob."""
        return any(path_matches(path, glob) for glob in self.skip_paths)

    def allows_path(self, path: str) -> bool:
        """True when ``path`` matches an ``allowlist.paths`` glob."""
        return self.allowlist.path_allowed(path)

    def where(self, table: str) -> tuple[str, str]:
        """Where a table's settings go, for a message: ``("[scan]", ".keysweep.toml")``, or
        the table and file in use (``[tool.keysweep.scan]`` in ``pyproject.toml``); the file
        relative to the working directory when it lies below it."""
        if self.source is None:
            return f"[{table}]", CONFIG_FILENAME
        prefix = "tool.keysweep." if self.source.name == PYPROJECT_FILENAME else ""
        shown = os.path.relpath(self.source)
        return f"[{prefix}{table}]", str(self.source) if shown.startswith("..") else shown


# --------------------------------------------------------------------------- discovery


def find_config(root: Path) -> tuple[Path, bool] | None:
    """The config file for a repository root: (path, is_pyproject), or None.

    ``.keysweep.toml`` wins; ``pyproject.toml`` counts only when it has ``[tool.keysweep]``.
    """
    dedicated = root / CONFIG_FILENAME
    # os.path.isfile: an unreadable directory means "no config here", not a PermissionError
    # (the scan then reports the directory as unreadable).
    if os.path.isfile(dedicated):
        return dedicated, False
    pyproject = root / PYPROJECT_FILENAME
    if os.path.isfile(pyproject):
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
        # Not is_file(): a directory said "not found", and `<(...)` or /dev/null was refused.
        if not path.exists():
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
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # TOML is UTF-8; an editor's BOM is harmless
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path}: not UTF-8 ({_encoding_hint(raw)}invalid byte at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    import tomllib  # only with a config file: a pre-commit hook in a project without one skips it

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    except RecursionError:  # `a = [[[[...` thousands deep: it was "internal error"
        raise ConfigError(f"config file {path}: invalid TOML: nested too deeply") from None
    except ValueError:  # an integer of 4,301+ digits (Python's int limit)
        raise ConfigError(f"config file {path}: invalid TOML: an integer too long") from None


def _encoding_hint(raw: bytes) -> str:
    """What a non-UTF-8 config most likely is (PowerShell and some editors write UTF-16)."""
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "looks like UTF-32; "
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:64]:
        return "looks like UTF-16; "
    return ""


# --------------------------------------------------------------------------- validation

_TOP = frozenset({"rules", "scan", "allowlist", "baseline", "verify"})
_RULES = frozenset({"packs", "disable"})
_SCAN = frozenset({"max_file_size", "skip_paths", "min_confidence"})
_BASELINE = frozenset({"path"})
_VERIFY = ("canary_accounts", "allow_accounts", "deny_accounts")


def parse_config(data: Mapping[str, Any], source: Path, *, prefix: str = "") -> Config:
    """Validate a parsed TOML table (the file, or ``[tool.keysweep]``) into a :class:`Config`."""

    def fail(key: str, problem: Problem) -> ConfigError:
        return ConfigError(f"config file {source}: key '{key}': {problem}")

    top = Node(dict(data), prefix, fail).table(_TOP)
    rules = top.at("rules").optional_table(_RULES)
    scan = top.at("scan").optional_table(_SCAN)
    baseline = top.at("baseline").optional_table(_BASELINE)
    verify = VerifyConfig()
    if (table := top.at("verify").optional_table(_VERIFY)) is not None:
        verify = VerifyConfig(**{name: _accounts(table.at(name)) for name in _VERIFY})
        both = set(verify.allow_accounts) & set(verify.deny_accounts)
        if both:
            raise table.at("deny_accounts").fail(f"account {min(both)} is also in allow_accounts")
    return Config(
        source=source,
        rule_packs=tuple(_relative_path(n, source) for n in rules.at("packs").items())
        if rules
        else (),
        disabled_rules=rules.at("disable").strings() if rules else (),
        max_file_size=scan.at("max_file_size").integer(
            lo=1, default=None, expected="a positive integer (bytes)"
        )
        if scan
        else None,
        skip_paths=path_globs(scan.at("skip_paths")) if scan else (),
        min_confidence=scan.at("min_confidence").choice(Confidence, default=None) if scan else None,
        allowlist=parse_allowlist(top.at("allowlist")) if "allowlist" in top else Allowlist(),
        baseline=_relative_path(baseline.at("path"), source)
        if baseline and "path" in baseline
        else None,
        verify=verify,
    )


def _relative_path(node: Node, source: Path) -> Path:
    """A path relative to the config file's directory."""
    if not isinstance(node.value, str) or not node.value:
        raise node.fail(Problem("type", "a non-empty relative path", kind_of(node.value)))
    if is_absolute(node.value):
        raise node.fail("absolute paths are not allowed; use a path relative to the config file")
    return source.parent / node.value


def _accounts(node: Node) -> tuple[str, ...]:
    items = node.strings()
    for index, item in enumerate(items):
        if not _ACCOUNT_RE.fullmatch(item):
            raise node.items()[index].fail("expected a 12-digit AWS account id")
    return items
