"""A context-gated rule is skipped where its context cannot match (``Detector._audible``): the
literals its context regexes need (``factors``) are necessary, and skipping never changes a
finding."""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.keys import key_id, secret_key

from scanner.detect import Detector
from scanner.detect import engine as engine_module
from scanner.detect.corematch import CoreMatcher
from scanner.detect.factors import context_keywords, literal_factors
from scanner.models import Fragment
from scanner.rules import load_rules

RULES = load_rules()
CONTEXT_REGEXES = [p for r in RULES if r.context is not None for p in r.context.regexes]


@pytest.mark.parametrize(
    ("pattern", "factors"),
    [
        (r"(?i)secret[ _.\-]?access", [{"secret"}, {"access"}]),
        (r"a(?:bc|de)?f", [{"a"}, {"f"}]),  # an optional group needs nothing
        (r"(?:xy|zw)+q", [{"xy", "zw"}, {"q"}]),  # a repeat of at least one: its branches
        (r"(?:xy|z*)q", [{"q"}]),  # a branch that needs nothing: the alternation neither
        (r"(?<![a-z])key(?=\d)", [{"key"}]),  # lookarounds consume nothing
        (r"[ab]{3}c{0,2}", []),
        (r'"secretKey"', [{'"secretkey"'}]),  # case-exact literals, compared caselessly
    ],
)
def test_literal_factors(pattern: str, factors: list[set[str]]) -> None:
    assert [set(f) for f in literal_factors(re.compile(pattern))] == factors


def test_context_keywords_need_a_keyword_in_every_regex() -> None:
    regexes = [re.compile(r"(?i)aws.{0,9}secret"), re.compile(r'"key": "secretKey"')]
    assert context_keywords(regexes, ["secret", "secretkey"]) == {"secret", "secretkey"}
    assert context_keywords([*regexes, re.compile(r"\d{4}")], ["secret"]) is None


_WORDS = sorted(
    {s for p in CONTEXT_REGEXES for f in literal_factors(p) for s in f}
    | {"aws", "secret", "token", "key", '"key"', ":", "=", "\n", " ", "_", "-", "."}
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(_WORDS) | st.text(string.printable, max_size=4)))
def test_every_context_match_holds_a_literal_of_each_factor(parts: list[str]) -> None:
    text = "".join(parts)
    for regex in CONTEXT_REGEXES:
        factors = literal_factors(regex)
        for m in regex.finditer(text):
            found = m.group(0).lower()
            assert all(any(s in found for s in f) for f in factors), (regex.pattern, found)


@pytest.fixture(scope="module", params=[None, False], ids=["default", "without-hyperscan"])
def detectors(request: pytest.FixtureRequest) -> Iterator[tuple[Detector, Detector]]:
    mp = pytest.MonkeyPatch()
    mp.setattr(engine_module, "CORE_DB_AFTER_BYTES", 0)  # the rule database from the start
    gated = Detector(RULES, use_hyperscan=request.param)
    ungated = Detector(RULES, use_hyperscan=request.param)
    ungated._context_gates.clear()
    yield gated, ungated
    mp.undo()


def _scan(detector: Detector, text: str, path: str = "notes.txt") -> list[Any]:
    return detector.scan(Fragment(text.encode(), path))


_KEY_ID = key_id("gates")
_SECRET = secret_key("gates")
# a secret whose keywords are only inside base64: its rule is active through the encoded form
_ENCODED = base64.b64encode(f'{{"aws_secret_access_key": "{_SECRET}"}}'.encode()).decode()
_TOKENS = [
    "aws",
    "AWS_",
    "secret",
    "Secret",
    "access",
    "_key",
    "token",
    "password",
    '"key": "secretKey", "value": ',
    _KEY_ID,
    _SECRET,
    _ENCODED,
    " = ",
    ": ",
    '"',
    "\n",
    "\n\n\n\n",
    " ",
]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(_TOKENS), max_size=24))
@example(parts=["aws", " = ", _SECRET])  # no "secret", no key ID: skipped, nothing lost
@example(parts=["aws", "secret", " = ", _SECRET])
@example(parts=[_KEY_ID, "\n", "aws", " = ", _SECRET])  # its near rule is active
@example(parts=["creds", ": ", _ENCODED])  # the decoding layer runs even when no rule is left
def test_skipping_changes_no_finding(
    detectors: tuple[Detector, Detector], parts: list[str]
) -> None:
    gated, ungated = detectors
    text = "".join(parts)
    for path in ("notes.txt", ".env", "config.json"):
        assert _scan(gated, text, path) == _scan(ungated, text, path)


def test_a_rule_whose_context_cannot_match_is_not_scanned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("hyperscan")
    monkeypatch.setattr(engine_module, "CORE_DB_AFTER_BYTES", 0)
    gated = Detector(RULES)
    secret_rule = next(i for i, r in enumerate(gated.rules) if r.id == "aws-secret-access-key")
    asked: list[int] = []
    group_ends = CoreMatcher.group_ends

    def spy(self: CoreMatcher, indices: Any, data: bytes, **kwargs: Any) -> Any:
        asked.extend(indices)
        return group_ends(self, indices, data, **kwargs)

    monkeypatch.setattr(CoreMatcher, "group_ends", spy)
    _scan(gated, f"aws_region = {_SECRET}\n")  # "aws", no "secret", no key ID
    assert secret_rule not in asked
    found = _scan(gated, f"aws_secret_access_key = {_SECRET}\n")
    assert secret_rule in asked
    assert [f.rule_id for f in found] == ["aws-secret-access-key"]
    asked.clear()
    _scan(gated, f"aws_region = {_SECRET}  # caf\u00e9\n")  # not ASCII: scanned
    assert secret_rule in asked
