"""Rule packs: YAML files of detection rules, validated and compiled once.

A pack is a mapping ``{version: 1, rules: [...]}``; the schema is documented in the README
(section "Rules"). Loading validates everything: unknown keys, wrong types, bad regexes, a
missing ``secret`` group, duplicate or non-kebab-case ids all raise :class:`RuleError` naming
the file, the rule id and the key.

Rule ``examples`` are literal text committed to the repository, so they may use *templates*
(``{{aws_key_id}}``, ``{{aws_secret|base64}}``, ...) that expand at load time into
deterministic, realistic-looking values: no real-looking key ever sits in a YAML file.

This module sits just above models/errors/entropy and imports nothing higher.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import scanner
from scanner.errors import RuleError
from scanner.models import CONFIDENCE_LEVELS, Severity, confidence_at_least
from scanner.templates import expand_template

PACK_VERSION = 1
ALLOW_TARGETS = ("secret", "match", "line")
# Named heuristic checks a rule may ask for; implemented in scanner.detect.heuristics.
KNOWN_CHECKS = frozenset(
    {
        "not-hex",
        "mixed-case",
        "not-repetitive",
        "aws-key-id-shape",
        "crc32-base62-suffix",
        "not-placeholder",
        "generic-secret-value",
        "basic-auth-base64",
    }
)
# Offline enrichments a rule may ask for; implemented in scanner.detect.
KNOWN_ENRICH = frozenset({"aws-account-id"})
PAIR_KINDS = frozenset({"secret_access_key", "session_token"})
DEFAULT_CONFIDENCE = "medium"  # a rule without ``confidence``: keyword plus shape
MAX_CONTEXT_LINES_BEFORE = 3
MAX_WITHIN_LINES = 20

_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){0,20}")
_PACK_KEYS = frozenset({"version", "rules"})
_RULE_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "severity",
        "confidence",
        "keywords",
        "base64_keywords",
        "regex",
        "min_entropy",
        "allowlist",
        "paths",
        "examples",
        "negative_examples",
        "context",
        "pair",
        "checks",
        "enrich",
    }
)
_REQUIRED_RULE_KEYS = ("id", "name", "description", "severity", "keywords", "regex", "examples")
_ALLOWLIST_KEYS = frozenset({"regexes", "stopwords", "paths"})
_ALLOW_REGEX_KEYS = frozenset({"pattern", "target"})
_CONTEXT_KEYS = frozenset({"regexes", "lines_before", "near_rules", "within_lines"})
_PAIR_KEYS = frozenset({"rule", "kind", "within_lines"})
_EXAMPLE_KEYS = frozenset({"text", "path"})


# --------------------------------------------------------------------------- data types


def compile_globs(globs: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for a list of path globs (fnmatch syntax, ``*`` also crosses ``/``).

    A glob without ``/`` matches the file's base name as well as the whole path.
    """
    if not globs:
        return None
    parts: list[str] = []
    for glob in globs:
        body = fnmatch.translate(glob)  # '(?s:...)\\Z'
        parts.append(body if "/" in glob else f"(?:.*/)?{body}")
    return re.compile("|".join(f"(?:{p})" for p in parts))


@dataclass(frozen=True)
class AllowRegex:
    """An allowlist regex and what it is matched against: secret, match or line."""

    pattern: re.Pattern[str]
    target: str = "secret"


@dataclass(frozen=True)
class Allowlist:
    """Things that are never findings: regexes (with a target), stopwords, path globs.

    Stopwords are compared case-insensitively as substrings of the secret.
    """

    regexes: tuple[AllowRegex, ...] = ()
    stopwords: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    _path_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stopwords", tuple(w.lower() for w in self.stopwords))
        object.__setattr__(self, "_path_re", compile_globs(self.paths))

    @property
    def empty(self) -> bool:
        return not (self.regexes or self.stopwords or self.paths)

    def path_allowed(self, path: str) -> bool:
        """True when ``path`` matches one of the allowlisted globs."""
        return self._path_re is not None and self._path_re.match(path) is not None

    def allows(self, secret: str, match: str, line: str) -> bool:
        """True when the allowlist says this candidate is not a finding."""
        if self.stopwords:
            low = secret.lower()
            if any(word in low for word in self.stopwords):
                return True
        for allow in self.regexes:
            target = (
                secret if allow.target == "secret" else match if allow.target == "match" else line
            )
            if allow.pattern.search(target):
                return True
        return False

    def merged(self, other: Allowlist) -> Allowlist:
        return Allowlist(
            regexes=self.regexes + other.regexes,
            stopwords=self.stopwords + other.stopwords,
            paths=self.paths + other.paths,
        )


@dataclass(frozen=True)
class Context:
    """A gate: the candidate counts only with keyword context or a nearby finding.

    A candidate passes when one of ``regexes`` matches in the window before it (the text
    from ``lines_before`` lines above up to the candidate, at most CONTEXT_WINDOW chars), or
    when a finding of one of ``near_rules`` stands within ``within_lines`` lines.
    """

    regexes: tuple[re.Pattern[str], ...] = ()
    lines_before: int = 1
    near_rules: tuple[str, ...] = ()
    within_lines: int = 0


@dataclass(frozen=True)
class PairSpec:
    """Findings of ``rule`` within ``within_lines`` lines are attached as ``paired``."""

    rule: str
    kind: str
    within_lines: int


@dataclass(frozen=True)
class Example:
    text: str  # expanded (templates replaced)
    path: str = "example.txt"
    source: str = ""  # as written in the pack (templates not expanded), for messages


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    description: str
    severity: Severity
    keywords: tuple[str, ...]  # lower case, ASCII
    regex: re.Pattern[str]
    base64_keywords: tuple[str, ...] = ()  # case-exact; their base64 forms join the prefilter
    min_entropy: float = 0.0
    allowlist: Allowlist = field(default_factory=Allowlist)
    paths: tuple[str, ...] = ()
    examples: tuple[Example, ...] = ()
    negative_examples: tuple[Example, ...] = ()
    context: Context | None = None
    pair: tuple[PairSpec, ...] = ()
    checks: tuple[str, ...] = ()
    enrich: tuple[str, ...] = ()
    confidence: str = DEFAULT_CONFIDENCE
    pack: str = ""
    _path_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_path_re", compile_globs(self.paths))

    def applies_to(self, path: str) -> bool:
        """True when the rule's path scope (if any) includes ``path`` and it is not allowlisted.

        An empty path means "not known yet" (history scans blob contents before it knows
        their paths, then rescans the blobs with findings under each real path): in scope.
        """
        if not path:
            return True
        if self._path_re is not None and self._path_re.match(path) is None:
            return False
        return not self.allowlist.path_allowed(path)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    packs: tuple[Path, ...] = ()

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    def at_least(self, minimum: str) -> RuleSet:
        """The rules of confidence ``minimum`` or surer, plus the rules they name in
        ``context.near_rules`` and ``pair`` (a key ID still pairs with its secret when the
        secret's own rule reports below ``minimum``; the detector drops those findings)."""
        by_id = {rule.id: rule for rule in self.rules}
        todo = [r.id for r in self.rules if confidence_at_least(r.confidence, minimum)]
        needed: set[str] = set()
        while todo:
            rule = by_id.get(todo.pop())
            if rule is None or rule.id in needed:
                continue
            needed.add(rule.id)
            todo += [spec.rule for spec in rule.pair]
            if rule.context is not None:
                todo += rule.context.near_rules
        if len(needed) == len(self.rules):
            return self
        return RuleSet(tuple(r for r in self.rules if r.id in needed), self.packs)


# --------------------------------------------------------------------------- regex lint


def regex_problems(pattern: str) -> list[str]:
    """Unbounded (``*``, ``+``, ``{n,}``) and nested quantifiers: backtracking risks."""
    parser: Any = importlib.import_module("re._parser")
    constants: Any = importlib.import_module("re._constants")
    try:
        parsed = parser.parse(pattern)
    except re.error as exc:
        return [f"does not compile: {exc}"]
    repeat_ops = {constants.MAX_REPEAT, constants.MIN_REPEAT}
    possessive = getattr(constants, "POSSESSIVE_REPEAT", None)
    if possessive is not None:
        repeat_ops.add(possessive)
    problems: list[str] = []

    def walk(items: Any, inside_repeat: bool) -> None:
        for op, av in items:
            if op in repeat_ops:
                lo, hi, sub = av
                if hi == constants.MAXREPEAT:
                    problems.append(f"unbounded quantifier {{{lo},}} (use an upper bound)")
                if inside_repeat and hi != 1:
                    problems.append("nested quantifier (a repeat inside a repeat)")
                walk(sub, inside_repeat or hi > 1)
            elif op == constants.SUBPATTERN:
                walk(av[3], inside_repeat)
            elif op == constants.BRANCH:
                for branch in av[1]:
                    walk(branch, inside_repeat)
            elif op in (constants.ASSERT, constants.ASSERT_NOT):
                walk(av[1], inside_repeat)
            elif op == getattr(constants, "ATOMIC_GROUP", None):
                walk(av, inside_repeat)
            elif op == constants.GROUPREF_EXISTS:
                walk(av[1], inside_repeat)
                if av[2] is not None:
                    walk(av[2], inside_repeat)

    walk(parsed, False)
    return sorted(set(problems))


# --------------------------------------------------------------------------- loading


class _Where:
    """Builds error messages: file, rule id, key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def err(self, rule_id: str | None, key: str | None, problem: str) -> RuleError:
        parts = [str(self.path)]
        if rule_id is not None:
            parts.append(f"rule {rule_id!r}")
        if key is not None:
            parts.append(f"key {key!r}")
        return RuleError(f"{': '.join(parts)}: {problem}")


def _check_keys(
    where: _Where,
    rule_id: str | None,
    key: str | None,
    data: Mapping[Any, Any],
    allowed: frozenset[str],
) -> None:
    for k in data:
        if k not in allowed:
            prefix = f"{key}." if key else ""
            raise where.err(
                rule_id, f"{prefix}{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )


def _str(where: _Where, rid: str | None, key: str, value: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise where.err(rid, key, "must be a non-empty string")
    return value


def _str_list(where: _Where, rid: str | None, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise where.err(rid, key, "must be a list of non-empty strings")
    return tuple(value)


def _int(where: _Where, rid: str | None, key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise where.err(rid, key, f"must be an integer from {lo} to {hi}")
    return value


def _compile(where: _Where, rid: str | None, key: str, pattern: Any) -> re.Pattern[str]:
    text = _str(where, rid, key, pattern)
    try:
        return re.compile(text)
    except re.error as exc:
        raise where.err(rid, key, f"bad regex: {exc}") from None


def parse_allowlist(
    data: Any, *, source: str, rule_id: str | None = None, key: str = "allowlist"
) -> Allowlist:
    """Build an :class:`Allowlist` from its YAML/TOML mapping (also used for global config)."""
    where = _Where(Path(source))
    if not isinstance(data, Mapping):
        raise where.err(rule_id, key, "must be a mapping with regexes, stopwords, paths")
    _check_keys(where, rule_id, key, data, _ALLOWLIST_KEYS)
    regexes: list[AllowRegex] = []
    raw_regexes = data.get("regexes", [])
    if not isinstance(raw_regexes, list):
        raise where.err(rule_id, f"{key}.regexes", "must be a list")
    for i, item in enumerate(raw_regexes):
        ikey = f"{key}.regexes[{i}]"
        if isinstance(item, str):
            regexes.append(AllowRegex(_compile(where, rule_id, ikey, item), "secret"))
            continue
        if not isinstance(item, Mapping):
            raise where.err(rule_id, ikey, "must be a string or {pattern, target}")
        _check_keys(where, rule_id, ikey, item, _ALLOW_REGEX_KEYS)
        if "pattern" not in item:
            raise where.err(rule_id, f"{ikey}.pattern", "is required")
        target = item.get("target", "secret")
        if target not in ALLOW_TARGETS:
            raise where.err(rule_id, f"{ikey}.target", f"must be one of {', '.join(ALLOW_TARGETS)}")
        regexes.append(
            AllowRegex(_compile(where, rule_id, f"{ikey}.pattern", item["pattern"]), target)
        )
    stopwords = _str_list(where, rule_id, f"{key}.stopwords", data.get("stopwords", []))
    paths = _str_list(where, rule_id, f"{key}.paths", data.get("paths", []))
    return Allowlist(regexes=tuple(regexes), stopwords=stopwords, paths=paths)


def _examples(
    where: _Where, rid: str, key: str, value: Any, *, required: bool
) -> tuple[Example, ...]:
    if not isinstance(value, list) or (required and not value):
        raise where.err(rid, key, "must be a non-empty list" if required else "must be a list")
    out: list[Example] = []
    for i, item in enumerate(value):
        ikey = f"{key}[{i}]"
        seed = f"{rid}:{key}:{i}"
        if isinstance(item, str):
            text = expand_template(item, seed, f"{where.path}: rule {rid!r}: key {ikey!r}")
            out.append(Example(text, source=item))
            continue
        if not isinstance(item, Mapping):
            raise where.err(rid, ikey, "must be a string or {text, path}")
        _check_keys(where, rid, ikey, item, _EXAMPLE_KEYS)
        text = _str(where, rid, f"{ikey}.text", item.get("text"))
        path = _str(where, rid, f"{ikey}.path", item.get("path", "example.txt"))
        expanded = expand_template(text, seed, f"{where.path}: rule {rid!r}: key {ikey!r}")
        out.append(Example(expanded, path, source=text))
    return tuple(out)


def _context(where: _Where, rid: str, value: Any) -> Context:
    if not isinstance(value, Mapping):
        raise where.err(rid, "context", "must be a mapping")
    _check_keys(where, rid, "context", value, _CONTEXT_KEYS)
    raw = value.get("regexes", [])
    if not isinstance(raw, list):
        raise where.err(rid, "context.regexes", "must be a list of regexes")
    regexes = tuple(_compile(where, rid, f"context.regexes[{i}]", p) for i, p in enumerate(raw))
    near = _str_list(where, rid, "context.near_rules", value.get("near_rules", []))
    within = _int(
        where, rid, "context.within_lines", value.get("within_lines", 0), 0, MAX_WITHIN_LINES
    )
    before = _int(
        where,
        rid,
        "context.lines_before",
        value.get("lines_before", 1),
        0,
        MAX_CONTEXT_LINES_BEFORE,
    )
    if not regexes and not near:
        raise where.err(rid, "context", "needs regexes or near_rules")
    return Context(regexes=regexes, lines_before=before, near_rules=near, within_lines=within)


def _pairs(where: _Where, rid: str, value: Any) -> tuple[PairSpec, ...]:
    if not isinstance(value, list):
        raise where.err(rid, "pair", "must be a list of {rule, kind, within_lines}")
    out: list[PairSpec] = []
    for i, item in enumerate(value):
        ikey = f"pair[{i}]"
        if not isinstance(item, Mapping):
            raise where.err(rid, ikey, "must be a mapping {rule, kind, within_lines}")
        _check_keys(where, rid, ikey, item, _PAIR_KEYS)
        rule = _str(where, rid, f"{ikey}.rule", item.get("rule"))
        kind = item.get("kind")
        if kind not in PAIR_KINDS:
            raise where.err(rid, f"{ikey}.kind", f"must be one of {', '.join(sorted(PAIR_KINDS))}")
        within = _int(
            where, rid, f"{ikey}.within_lines", item.get("within_lines", 5), 0, MAX_WITHIN_LINES
        )
        out.append(PairSpec(rule=rule, kind=str(kind), within_lines=within))
    return tuple(out)


def _rule(where: _Where, index: int, data: Any) -> Rule:
    if not isinstance(data, Mapping):
        raise where.err(None, f"rules[{index}]", "must be a mapping")
    rid_value = data.get("id")
    if not isinstance(rid_value, str) or not rid_value:
        raise where.err(None, f"rules[{index}].id", "is required and must be a string")
    rid = rid_value
    if not _KEBAB.fullmatch(rid):
        raise where.err(rid, "id", "must be kebab-case (a-z, 0-9, single dashes)")
    _check_keys(where, rid, None, data, _RULE_KEYS)
    for key in _REQUIRED_RULE_KEYS:
        if key not in data:
            raise where.err(rid, key, "is required")
    severity = data["severity"]
    if severity not in {s.value for s in Severity}:
        raise where.err(rid, "severity", "must be one of critical, high, medium, low")
    keywords = _str_list(where, rid, "keywords", data["keywords"])
    for kw in keywords:
        if not kw.isascii() or not kw.isprintable():
            raise where.err(rid, "keywords", f"keyword {kw!r} must be printable ASCII")
    b64_keywords = _str_list(where, rid, "base64_keywords", data.get("base64_keywords", []))
    for kw in b64_keywords:
        if not kw.isascii() or not kw.isprintable() or len(kw) < 3:
            raise where.err(rid, "base64_keywords", f"{kw!r}: needs 3+ printable ASCII characters")
    regex = _compile(where, rid, "regex", data["regex"])
    if "secret" not in regex.groupindex:
        raise where.err(rid, "regex", "needs a named group (?P<secret>...)")
    entropy = data.get("min_entropy", 0.0)
    if isinstance(entropy, bool) or not isinstance(entropy, int | float) or not 0 <= entropy <= 8:
        raise where.err(rid, "min_entropy", "must be a number from 0 to 8 (bits per character)")
    allowlist = (
        parse_allowlist(data["allowlist"], source=str(where.path), rule_id=rid)
        if "allowlist" in data
        else Allowlist()
    )
    checks = _str_list(where, rid, "checks", data.get("checks", []))
    for check in checks:
        if check not in KNOWN_CHECKS:
            raise where.err(
                rid, "checks", f"unknown check {check!r} (known: {', '.join(sorted(KNOWN_CHECKS))})"
            )
    confidence = data.get("confidence", DEFAULT_CONFIDENCE)
    if confidence not in CONFIDENCE_LEVELS:
        raise where.err(rid, "confidence", f"must be one of {', '.join(CONFIDENCE_LEVELS)}")
    enrich = _str_list(where, rid, "enrich", data.get("enrich", []))
    for item in enrich:
        if item not in KNOWN_ENRICH:
            raise where.err(
                rid,
                "enrich",
                f"unknown enrichment {item!r} (known: {', '.join(sorted(KNOWN_ENRICH))})",
            )
    return Rule(
        id=rid,
        name=_str(where, rid, "name", data["name"]),
        description=_str(where, rid, "description", data["description"]).strip(),
        severity=Severity(severity),
        keywords=tuple(dict.fromkeys(kw.lower() for kw in keywords)),
        regex=regex,
        base64_keywords=tuple(dict.fromkeys(b64_keywords)),
        min_entropy=float(entropy),
        allowlist=allowlist,
        paths=_str_list(where, rid, "paths", data.get("paths", [])),
        examples=_examples(where, rid, "examples", data["examples"], required=True),
        negative_examples=_examples(
            where, rid, "negative_examples", data.get("negative_examples", []), required=False
        ),
        context=_context(where, rid, data["context"]) if "context" in data else None,
        pair=_pairs(where, rid, data["pair"]) if "pair" in data else (),
        checks=checks,
        enrich=enrich,
        confidence=str(confidence),
        pack=str(where.path),
    )


_PACK_CACHE: dict[tuple[str, int, int], list[Rule]] = {}


def load_pack(path: Path) -> list[Rule]:
    """Load and validate one pack file; raises RuleError naming file, rule id and key."""
    path = Path(path)
    where = _Where(path)
    try:
        stat = path.stat()
        cache_key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError as exc:
        raise where.err(None, None, f"cannot read rule pack: {exc.strerror or exc}") from None
    cached = _PACK_CACHE.get(cache_key)
    if cached is not None:
        return list(cached)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise where.err(None, None, f"cannot read rule pack: {exc}") from None
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise where.err(None, None, f"not valid YAML{at}") from None
    if not isinstance(data, Mapping):
        raise where.err(None, None, "a rule pack must be a mapping with a 'rules' list")
    _check_keys(where, None, None, data, _PACK_KEYS)
    if "version" in data and data["version"] != PACK_VERSION:
        raise where.err(
            None, "version", f"unsupported pack version (this keysweep reads {PACK_VERSION})"
        )
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise where.err(None, "rules", "must be a non-empty list of rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(rules_data):
        rule = _rule(where, index, item)
        if rule.id in seen:
            raise where.err(rule.id, "id", "duplicate rule id")
        seen.add(rule.id)
        rules.append(rule)
    _PACK_CACHE[cache_key] = list(rules)
    return rules


def builtin_pack_paths() -> list[Path]:
    """Packs shipped with keysweep: ``scanner/packs`` in a wheel, else ``<repo>/rules``.

    ``aws.yaml`` comes first (its rules win ties when two rules report one secret), then the
    other family packs by name.
    """
    here = Path(scanner.__file__).resolve().parent
    for folder in (here / "packs", here.parent / "rules"):
        if folder.is_dir():
            return sorted(folder.glob("*.yaml"), key=lambda p: (p.name != "aws.yaml", p.name))
    return []


def check_references(rules: Sequence[Rule]) -> None:
    """near_rules and pair entries must name rules that exist (in any loaded pack)."""
    ids = {rule.id for rule in rules}
    for rule in rules:
        where = _Where(Path(rule.pack))
        if rule.context is not None:
            for ref in rule.context.near_rules:
                if ref not in ids:
                    raise where.err(rule.id, "context.near_rules", f"names unknown rule {ref!r}")
        for i, spec in enumerate(rule.pair):
            if spec.rule not in ids:
                raise where.err(rule.id, f"pair[{i}].rule", f"names unknown rule {spec.rule!r}")


def load_rules(
    extra_packs: Sequence[Path] = (),
    *,
    builtin: bool = True,
    disabled: Collection[str] = (),
) -> RuleSet:
    """Built-in packs (unless ``builtin=False``) plus ``extra_packs``, minus ``disabled`` ids."""
    paths: list[Path] = []
    seen: set[Path] = set()
    for candidate in [*(builtin_pack_paths() if builtin else []), *(Path(p) for p in extra_packs)]:
        resolved = candidate.resolve()
        if resolved not in seen:  # a built-in pack named again on the command line loads once
            seen.add(resolved)
            paths.append(candidate)
    rules: list[Rule] = []
    owner: dict[str, str] = {}
    for path in paths:
        for rule in load_pack(path):
            if rule.id in owner:
                raise RuleError(
                    f"{path}: rule {rule.id!r}: key 'id': already defined in {owner[rule.id]}"
                )
            owner[rule.id] = str(path)
            rules.append(rule)
    check_references(rules)
    unknown = sorted(set(disabled) - set(owner))
    if unknown:
        raise RuleError(f"cannot disable unknown rule id(s): {', '.join(unknown)}")
    kept = tuple(rule for rule in rules if rule.id not in set(disabled))
    return RuleSet(rules=kept, packs=tuple(paths))
