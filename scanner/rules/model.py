"""The data types of a rule pack: Rule, RuleSet and their parts (Context, PairSpec, Example).

Values only: :mod:`scanner.rules.load` builds them from YAML (validating every key), the
detector reads them. A rule's allowlist is the one :class:`scanner.allowlist.Allowlist` the
project configuration uses too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from scanner.allowlist import Allowlist, compile_globs, globs_match
from scanner.models import Confidence, PairKind, Severity, confidence_at_least

DEFAULT_CONFIDENCE = Confidence.MEDIUM  # a rule without ``confidence``: keyword plus shape


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
    kind: PairKind
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
    pattern: str  # the regex as written (validated by the loader); compiled by ``regex``
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
    identifier: bool = False  # the value names a credential, grants nothing: shown in full
    # the value alone, for binaries whose strings stand side by side (binary.packed_tokens)
    binary_pattern: str = ""
    confidence: str = DEFAULT_CONFIDENCE  # high | medium | low (Confidence)
    pack: str = ""
    _path_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_path_re", compile_globs(self.paths))

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """``pattern`` compiled, on first use: a pre-commit hook meets few of the rules, and
        compiling them all took longer than its scan."""
        return re.compile(self.pattern)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("regex", None)  # compiled again where it is used
        return state

    def applies_to(self, path: str) -> bool:
        """True when the rule's path scope (if any) includes ``path`` and it is not allowlisted.

        An empty path means "not known yet" (history scans blob contents before it knows
        their paths, then rescans the blobs with findings under each real path): in scope.
        """
        if not path:
            return True
        if self._path_re is not None and not globs_match(self._path_re, path):
            return False
        return not self.allowlist.path_allowed(path)


class Regexes(Sequence[re.Pattern[str]]):
    """The regexes of ``rules``, each compiled when first asked for (``Rule.regex``)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = rules

    def __len__(self) -> int:
        return len(self._rules)

    @overload
    def __getitem__(self, index: int) -> re.Pattern[str]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[re.Pattern[str]]: ...

    def __getitem__(self, index: int | slice) -> re.Pattern[str] | Sequence[re.Pattern[str]]:
        if isinstance(index, slice):
            return [rule.regex for rule in self._rules[index]]
        return self._rules[index].regex


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
