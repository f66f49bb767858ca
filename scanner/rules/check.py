"""``keysweep rules check``: every example and negative example through the full pipeline.

An example must produce exactly one finding of its rule; a negative example none. The whole
detector runs (keyword prefilter, regex, entropy, allowlists, heuristics, context gates,
decoding, inline allow markers), with every loaded rule present so that context gates naming
other rules (``near_rules``) work as they do in a scan.

Regexes of the checked packs are also linted: unbounded or nested quantifiers are warnings
(built-in packs must have none; a test enforces it).

This is the one module of ``scanner.rules`` that runs the detector, so it sits above
``scanner.detect``; ``scanner.rules`` itself (``__init__``) does not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules.lint import lint_rule
from scanner.rules.load import builtin_pack_paths, load_rules
from scanner.rules.model import Example, Rule

PREVIEW_CHARS = 80


@dataclass(frozen=True)
class Mismatch:
    pack: str
    rule_id: str
    key: str  # examples[3] | negative_examples[0]
    expected: int
    got: int
    others: tuple[str, ...]  # ids of other rules that fired
    preview: str  # the example as written in the pack (templates unexpanded)

    def message(self) -> str:
        want = "1 finding" if self.expected else "no finding"
        also = f" (other rules: {', '.join(self.others)})" if self.others else ""
        return (
            f"{self.pack}: rule {self.rule_id!r}: {self.key}: expected {want} of this rule, "
            f"got {self.got}{also}: {self.preview}"
        )


@dataclass(frozen=True)
class CheckReport:
    packs: tuple[str, ...]
    rules_checked: int
    examples_checked: int
    mismatches: tuple[Mismatch, ...]
    warnings: tuple[str, ...]
    # rules whose regex Python ``re`` matches alone (no Hyperscan core), and why
    fallbacks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _preview(example: Example) -> str:
    text = (example.source or "").replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def check_rule(detector: Detector, rule: Rule) -> list[Mismatch]:
    mismatches: list[Mismatch] = []
    cases = [("examples", 1, ex) for ex in rule.examples]
    cases += [("negative_examples", 0, ex) for ex in rule.negative_examples]
    counters = {"examples": 0, "negative_examples": 0}
    for key, expected, example in cases:
        index = counters[key]
        counters[key] += 1
        findings = detector.scan(Fragment.from_text(example.text, example.path))
        got = sum(1 for f in findings if f.rule_id == rule.id)
        if got != expected:
            others = tuple(sorted({f.rule_id for f in findings if f.rule_id != rule.id}))
            mismatches.append(
                Mismatch(
                    rule.pack, rule.id, f"{key}[{index}]", expected, got, others, _preview(example)
                )
            )
    return mismatches


def check_packs(packs: Sequence[Path] = ()) -> CheckReport:
    """Check the given packs (loaded on top of the built-in ones), or the built-in packs.

    Raises RuleError for a malformed pack.
    """
    if packs:
        ruleset = load_rules([Path(p) for p in packs])
        wanted = {Path(p).resolve() for p in packs}
        targets = [rule for rule in ruleset if Path(rule.pack).resolve() in wanted]
        names = tuple(str(p) for p in packs)
    else:
        ruleset = load_rules()
        targets = list(ruleset)
        names = tuple(str(p) for p in builtin_pack_paths())
    detector = Detector(ruleset)
    mismatches: list[Mismatch] = []
    warnings: list[str] = []
    examples = 0
    for rule in targets:
        warnings += lint_rule(rule)
        mismatches += check_rule(detector, rule)
        examples += len(rule.examples) + len(rule.negative_examples)
    fallbacks = _fallbacks(detector, targets)
    return CheckReport(names, len(targets), examples, tuple(mismatches), tuple(warnings), fallbacks)


def _fallbacks(detector: Detector, targets: Sequence[Rule]) -> tuple[str, ...]:
    if detector.prefilter_backend != "hyperscan":
        return ("hyperscan is not installed: every rule regex runs in Python re (slower)",)
    why = detector.regex_fallbacks()
    return tuple(
        f"{rule.pack}: rule {rule.id!r}: regex runs in Python re, not the Hyperscan rule "
        f"database: {why[rule.id]}"
        for rule in targets
        if rule.id in why
    )
