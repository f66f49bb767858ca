"""Loading rule packs: YAML files of detection rules, validated and compiled once, and the
discovery of the built-in packs.

A pack is a mapping ``{version: 1, rules: [...]}``; the schema is documented in docs/rules.md
(section "Pack schema"). Loading validates everything: unknown keys, wrong types, bad regexes, a
missing ``secret`` group, duplicate or non-kebab-case ids, unregistered checks and enrichments
all raise :class:`RuleError` naming the file, the rule id and the key.

Rule ``examples`` are literal text committed to the repository, so they may use *templates*
(``{{aws_key_id}}``, ``{{aws_secret|base64}}``, ...) that expand at load time into
deterministic, realistic-looking values: no real-looking key ever sits in a YAML file.

``checks:`` and ``enrich:`` names are validated against the one registry that implements them
(:mod:`scanner.rules.checks`). This module sits just above models/errors/entropy/schema and
imports nothing higher.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import scanner
from scanner.allowlist import Allowlist, path_globs
from scanner.allowlist import parse_allowlist as read_allowlist
from scanner.errors import RuleError
from scanner.models import Confidence, PairKind, Severity
from scanner.rules import packcache
from scanner.rules.checks import CHECKS, ENRICHMENTS
from scanner.rules.model import DEFAULT_CONFIDENCE, Context, Example, PairSpec, Rule, RuleSet
from scanner.rules.templates import expand_template
from scanner.schema import Node, Problem

PACK_VERSION = 1
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
        "identifier",
        "binary_regex",
    }
)
_REQUIRED_RULE_KEYS = ("id", "name", "description", "severity", "keywords", "regex", "examples")
_CONTEXT_KEYS = frozenset({"regexes", "lines_before", "near_rules", "within_lines"})
_PAIR_KEYS = frozenset({"rule", "kind", "within_lines"})
_EXAMPLE_KEYS = frozenset({"text", "path"})


# --------------------------------------------------------------------------- loading


class _Where:
    """Builds error messages: file, rule id, key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def err(self, rule_id: str | None, key: str | None, problem: str) -> RuleError:
        parts = [str(self.path)]
        if rule_id is not None:
            parts.append(f"rule {rule_id!r}")
        if key:
            parts.append(f"key {key!r}")
        return RuleError(f"{': '.join(parts)}: {problem}")

    def node(self, value: Any, rule_id: str | None = None, key: str = "") -> Node:
        """``value`` read with errors naming this pack (and ``rule_id``, when given)."""

        def fail(at: str, problem: Problem) -> RuleError:
            return self.err(rule_id, at, str(problem))

        return Node(value, key, fail)


def parse_allowlist(
    data: Any, *, source: str, rule_id: str | None = None, key: str = "allowlist"
) -> Allowlist:
    """Build an :class:`Allowlist` from its mapping, errors naming ``source`` as a rule pack."""
    return read_allowlist(_Where(Path(source)).node(data, rule_id, key))


def _examples(node: Node, rid: str, where: _Where, *, required: bool) -> tuple[Example, ...]:
    out: list[Example] = []
    for i, item in enumerate(node.items(non_empty=required)):
        seed = f"{rid}:{node.key}:{i}"
        context = f"{where.path}: rule {rid!r}: key {item.key!r}"
        if isinstance(item.value, str):
            out.append(Example(expand_template(item.value, seed, context), source=item.value))
            continue
        entry = item.table(_EXAMPLE_KEYS, expected="a string or a table {text, path}")
        text = entry.at("text").string()
        path = entry.at("path").string(default="example.txt")
        out.append(Example(expand_template(text, seed, context), path, source=text))
    return tuple(out)


def _context(node: Node) -> Context:
    table = node.table(_CONTEXT_KEYS)
    regexes = tuple(item.regex() for item in table.at("regexes").items())
    near = table.at("near_rules").strings()
    within = table.at("within_lines").integer(
        lo=0, hi=MAX_WITHIN_LINES, default=0, expected=f"an integer from 0 to {MAX_WITHIN_LINES}"
    )
    before = table.at("lines_before").integer(
        lo=0,
        hi=MAX_CONTEXT_LINES_BEFORE,
        default=1,
        expected=f"an integer from 0 to {MAX_CONTEXT_LINES_BEFORE}",
    )
    if not regexes and not near:
        raise table.fail("needs regexes or near_rules")
    return Context(regexes=regexes, lines_before=before, near_rules=near, within_lines=within)


def _pairs(node: Node) -> tuple[PairSpec, ...]:
    out: list[PairSpec] = []
    for item in node.items(expected="a list of {rule, kind, within_lines}"):
        entry = item.table(_PAIR_KEYS, expected="a table {rule, kind, within_lines}")
        within = entry.at("within_lines").integer(
            lo=0,
            hi=MAX_WITHIN_LINES,
            default=5,
            expected=f"an integer from 0 to {MAX_WITHIN_LINES}",
        )
        rule = entry.at("rule").string()
        out.append(PairSpec(rule=rule, kind=entry.at("kind").choice(PairKind), within_lines=within))
    return tuple(out)


def _names(node: Node, known: Collection[str], what: str) -> tuple[str, ...]:
    names = node.strings()
    for name in names:
        if name not in known:
            raise node.fail(f"unknown {what} {name!r} (known: {', '.join(sorted(known))})")
    return names


def _keywords(node: Node, *, min_length: int = 1) -> tuple[str, ...]:
    keywords = node.strings()
    for kw in keywords:
        if not kw.isascii() or not kw.isprintable() or len(kw) < min_length:
            raise node.fail(f"keyword {kw!r}: needs {min_length}+ printable ASCII characters")
    return keywords


def _rule(where: _Where, index: int, data: Any) -> Rule:
    item = where.node(data, key=f"rules[{index}]").table(expected="a mapping")
    rid = item.at("id").string()
    if not _KEBAB.fullmatch(rid):
        raise where.err(rid, "id", "must be kebab-case (a-z, 0-9, single dashes)")
    r = where.node(data, rid).table(_RULE_KEYS)
    for key in _REQUIRED_RULE_KEYS:
        if key not in r:
            raise r.at(key).fail(Problem("missing"))
    regex = r.at("regex").regex()
    if "secret" not in regex.groupindex:
        raise r.at("regex").fail("needs a named group (?P<secret>...)")
    keywords = _keywords(r.at("keywords"))
    allowlist = read_allowlist(r.at("allowlist")) if "allowlist" in r else Allowlist()
    binary_pattern = ""
    if "binary_regex" in r:
        binary_pattern = r.at("binary_regex").regex().pattern
        if not binary_pattern.isascii():
            raise r.at("binary_regex").fail("must be ASCII (it is searched in bytes)")
    return Rule(
        id=rid,
        name=r.at("name").string(),
        description=r.at("description").string().strip(),
        severity=r.at("severity").choice(Severity),
        keywords=tuple(dict.fromkeys(kw.lower() for kw in keywords)),
        pattern=regex.pattern,
        base64_keywords=tuple(dict.fromkeys(_keywords(r.at("base64_keywords"), min_length=3))),
        min_entropy=r.at("min_entropy").number(
            lo=0, hi=8, default=0.0, expected="a number from 0 to 8 (bits per character)"
        ),
        allowlist=allowlist,
        paths=path_globs(r.at("paths")),
        examples=_examples(r.at("examples"), rid, where, required=True),
        negative_examples=_examples(r.at("negative_examples"), rid, where, required=False),
        context=_context(r.at("context")) if "context" in r else None,
        pair=_pairs(r.at("pair")) if "pair" in r else (),
        checks=_names(r.at("checks"), CHECKS, "check"),
        enrich=_names(r.at("enrich"), ENRICHMENTS, "enrichment"),
        identifier=r.at("identifier").boolean(default=False),
        binary_pattern=binary_pattern,
        confidence=r.at("confidence").choice(Confidence, default=DEFAULT_CONFIDENCE),
        pack=str(where.path),
    )


_PACK_CACHE: dict[tuple[str, int, int], list[Rule]] = {}


def load_pack(path: Path) -> list[Rule]:
    """Load and validate one pack file; raises RuleError naming file, rule id and key.

    A pack loaded before (by this process, or by any keysweep of this source with the disk
    cache, :mod:`scanner.rules.packcache`) is not parsed again."""
    path = Path(path)
    where = _Where(path)
    try:
        stat = path.stat()
        cache_key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        cached = _PACK_CACHE.get(cache_key)
        if cached is not None:
            return list(cached)
        data = path.read_bytes()
    except OSError as exc:
        raise where.err(None, None, f"cannot read rule pack: {exc.strerror or exc}") from None
    name = packcache.key(path, data)
    rules = packcache.load(name)
    if rules is None:
        rules = _parse_pack(where, data)
        packcache.store(name, rules)
    _PACK_CACHE[cache_key] = list(rules)
    return rules


def _parse_pack(where: _Where, data: bytes) -> list[Rule]:
    import yaml  # only when the pack is not in the cache: a pre-commit hook skips its import

    try:
        # as ``Path.read_text`` reads it: UTF-8, universal newlines
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()
    except UnicodeDecodeError as exc:
        raise where.err(None, None, f"cannot read rule pack: {exc}") from None
    loader = _loader()
    try:
        _check_nesting(yaml.parse(text, Loader=loader))
        parsed = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise where.err(None, None, f"not valid YAML{at}") from None
    except _Unreadable as exc:
        raise where.err(None, None, f"not valid YAML at line {exc.line}: {exc}") from None
    if not isinstance(parsed, Mapping):
        raise where.err(None, None, "a rule pack must be a mapping with a 'rules' list")
    pack = where.node(parsed).table(_PACK_KEYS)
    if "version" in pack and pack.at("version").value != PACK_VERSION:
        raise pack.at("version").fail(
            f"unsupported pack version (this keysweep reads {PACK_VERSION})"
        )
    if not pack.at("rules").value:
        raise pack.at("rules").fail("must be a non-empty list of rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(pack.at("rules").items(expected="a list of rules")):
        rule = _rule(where, index, item.value)
        if rule.id in seen:
            raise where.err(rule.id, "id", "duplicate rule id")
        seen.add(rule.id)
        rules.append(rule)
    return rules


# A pack nests 5 deep. libyaml's composer recurses in C: a pack nested ~30,000 deep
# (``rules: [[[[...``) crashed the interpreter (SIGSEGV: no message, exit code -11).
MAX_NESTING = 64


class _Unreadable(Exception):
    """A pack that parses but cannot be loaded: ``str()`` says why, ``line`` where."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.line = line


def _check_nesting(events: Iterable[Any]) -> None:
    """Raise _Unreadable past MAX_NESTING, counting on the parser's events (which never
    recurse) before anything is composed."""
    import yaml

    depth = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                raise _Unreadable(f"nested more than {MAX_NESTING} deep", line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


@functools.cache
def _loader() -> Any:
    """The safe loader (libyaml's when installed), whose constructors' own errors on a scalar
    its tag cannot hold (``2001-13-14``, ``!!int x``, a 5,000-digit integer: ValueError,
    AttributeError, ...) become :class:`_Unreadable` at the scalar's line, never a traceback.
    The value itself is not shown: it may be a secret."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except (ValueError, TypeError, AttributeError, OverflowError):
                kind = str(node.tag).rsplit(":", 1)[-1]
                raise _Unreadable(f"not a valid {kind}", node.start_mark.line + 1) from None

    return Loader


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
