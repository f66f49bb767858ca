"""Both matching engines give the same findings: the Hyperscan rule database (core match +
confirmation by ``re``) and plain ``re.finditer`` (no hyperscan). Also the pieces each relies
on: the confirmation emulates ``finditer`` exactly, and the keyword-anchored base64 search of
the decoding layer yields exactly the runs the run-by-run test yields."""

from __future__ import annotations

import base64
import codecs
import functools
import itertools
import random
import re
import string
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.keys import secret_key
from support.run import REPO_ROOT
from support.samples import nested_encodings

from scanner.detect import Detector, dbcache
from scanner.detect import corematch as corematch_module
from scanner.detect import decoding as decoding_module
from scanner.detect import engine as engine_module
from scanner.detect.corematch import CoreError, CoreMatcher, as_core_bytes, core_of
from scanner.detect.decoding import (
    _B64_HEAD,
    _B64_SPAN,
    _HEX_SPAN,
    _HTML_CHARS,
    _HTML_SPAN,
    _HTML_TABLE,
    _JSON_CHARS,
    _JSON_SPAN,
    _JSON_TABLE,
    _PERCENT_CHARS,
    _PERCENT_SPAN,
    _PERCENT_TABLE,
    HEX_MARK,
    HTML_MARK,
    JSON_MARK,
    LONG_LINE,
    PERCENT_MARK,
    SpanFinder,
    _after,
    _escape_spans,
    _keyword_before,
    _marked_runs,
    _percent_spans,
    _runs_after_keywords,
    _runs_at,
    any_run_decodes,
    decode_base64,
    decode_hex_escapes,
    decode_html_references,
    decode_json_escapes,
    decode_percent,
)
from scanner.detect.prefilter import Prefilter, base64_forms
from scanner.detect.regions import keyword_positions
from scanner.models import Fragment
from scanner.rules import load_pack, load_rules

pytest.importorskip("hyperscan")

sys.path.insert(0, str(REPO_ROOT / "bench"))
import bench_detection

RULES = load_rules()


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Detector, Detector]]:
    mp = pytest.MonkeyPatch()
    mp.setattr(engine_module, "CORE_DB_AFTER_BYTES", 0)  # the rule database from the start
    fast = Detector(RULES)
    yield fast, Detector(RULES, use_hyperscan=False)
    mp.undo()


def _inputs() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for rule in RULES:
        out += [(ex.text, ex.path) for ex in (*rule.examples, *rule.negative_examples)]
    values = bench_detection.Values(7)
    cases = bench_detection.true_positive_cases(values) + bench_detection.decoy_cases(values)
    out += [(case.text, case.path) for case in cases]
    out += [(text, "nested.yaml") for _, text, _ in nested_encodings(secret_key("equivalence"))]
    return out


INPUTS = _inputs()


# Built-in rules that run in Python ``re`` alone (``keysweep rules check`` names them): none.
BUILTIN_FALLBACKS: set[str] = set()


def test_every_builtin_rule_has_a_core(engines: tuple[Detector, Detector]) -> None:
    fast, pure = engines
    assert set(fast.regex_fallbacks()) == BUILTIN_FALLBACKS
    assert set(pure.regex_fallbacks()) == {r.id for r in RULES}


def test_corpus_and_examples_give_the_same_findings(engines: tuple[Detector, Detector]) -> None:
    fast, pure = engines
    assert len(INPUTS) > 150
    found = 0
    for text, path in INPUTS:
        got = fast.scan(Fragment.from_text(text, path))
        assert got == pure.scan(Fragment.from_text(text, path)), (path, text[:60])
        found += len(got)
    assert found > 60
    assert fast._cores.built  # the Hyperscan path really ran


def test_one_merged_scan_gives_the_findings_of_the_keyword_pass_and_the_core_scan(
    engines: tuple[Detector, Detector], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = engines
    fast._cores.build()
    assert fast._cores.merges_literals
    merged = fast._cores.ends_and_literals
    asked: list[int] = []
    monkeypatch.setattr(
        fast._cores, "ends_and_literals", lambda data: asked.append(1) or merged(data)
    )
    secret = secret_key("merged")
    line = f"aws_secret_access_key = {secret}\n"
    raws = [(text.encode(), path) for text, path in INPUTS]
    raws += [
        (f"# café ☕ 𝄞\n{line}".encode(), "settings.py"),  # UTF-8: merged too
        (f"# caf\xe9\n{line}".encode("latin-1"), "settings.py"),  # not UTF-8: apart
        (codecs.BOM_UTF8 + f"# café\n{line}".encode(), "settings.py"),  # a BOM: apart
        (f"note\rAWS secret\r{line}".encode(), "notes.txt"),  # lone CRs
    ]
    together = [fast.scan(Fragment(raw, path)) for raw, path in raws]
    merged_scans = len(asked)
    assert merged_scans == len(raws) - 2  # the ASCII and UTF-8 inputs took the merged scan
    monkeypatch.setattr(fast, "_merging", lambda: False)
    apart = [fast.scan(Fragment(raw, path)) for raw, path in raws]
    assert len(asked) == merged_scans
    assert together == apart
    assert sum(map(len, together)) > 60
    assert all(any(f.secret == secret for f in found) for found in together[-4:])


def test_the_merged_scan_is_left_while_most_bytes_have_no_keywords() -> None:
    rate = engine_module._PassRate()
    assert rate.mostly_passes()  # before any text
    rate.add(10 << 20, True)
    rate.add(5 << 20, False)
    assert rate.mostly_passes()
    rate.add(20 << 20, False)
    assert not rate.mostly_passes()
    for _ in range(20):  # the recent bytes count: far back ones fade
        rate.add(8 << 20, True)
    assert rate.mostly_passes()
    assert rate.seen <= engine_module.PASS_RATE_WINDOW


def test_a_few_run_ends_are_confirmed_without_keyword_windows(
    engines: tuple[Detector, Detector], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, pure = engines
    near, far = secret_key("near"), secret_key("far")
    filler = "".join(f"value_{i} = {i}\n" for i in range(200))
    text = f"aws_secret_access_key = {near}\n{filler}unrelated = {far}\n"
    index = next(i for i, r in enumerate(fast.rules) if r.id == "aws-secret-access-key")
    fast._cores.build()
    assert fast._cores.is_run(index)
    assert pure._cores.re2_answers(index)  # without Hyperscan, RE2 finds its runs
    asked: list[int] = []
    windows = fast._windows
    monkeypatch.setattr(fast, "_windows", lambda t, p, i: asked.append(i) or windows(t, p, i))
    got = fast.scan(Fragment.from_text(text, "settings.py"))
    assert [f.secret for f in got if f.rule_id == "aws-secret-access-key"] == [near]
    assert got == pure.scan(Fragment.from_text(text, "settings.py"))
    assert index not in asked  # two run ends: no keyword search
    # rules of named files scan their core only where they apply
    pgpass = next(i for i, r in enumerate(fast.rules) if r.id == "pgpass-password")
    assert fast._cores.on_demand(pgpass)


def test_a_json_escaped_slash_signals_only_where_a_span_can_hold_it(
    engines: tuple[Detector, Detector],
) -> None:
    fast, pure = engines
    secret = secret_key("escaped")
    secret = secret[:20] + "/" + secret[21:]
    escaped = secret.replace("/", "\\/")
    hs_hits = Prefilter([["aws"]], use_hyperscan=True).hits
    for text, signalled in (
        (f'{{"aws_secret_access_key": "{escaped}"}}', True),
        ('{"path": "a \\/ b", "aws": 1}', False),  # no span can hold it: nothing to decode
        ('{"url": "x\\/y"}', True),
        ('{"url": "\\/\\/"}', True),
    ):
        assert ("json-escape" in (hs_hits(text.encode()).signals or ())) == signalled, text
        got = fast.scan(Fragment.from_text(text, "settings.json"))
        assert got == pure.scan(Fragment.from_text(text, "settings.json"))
        assert [f.secret for f in got] == ([secret] if "aws_secret" in text else [])


def test_same_findings_when_inputs_are_glued_together(engines: tuple[Detector, Detector]) -> None:
    # one large text: windows, merged intervals and keyword windows meet each other
    fast, pure = engines
    rng = random.Random(3)
    texts = [text for text, _ in INPUTS]
    rng.shuffle(texts)
    # "\r" alone reads as a newline (the core databases then scan the decoded text)
    seps = ("\n", "", " x", "\r\n\n", "\r", "\n# café ☕ \u212aey\u00a0é\n", "ſ\u0660")
    for sep in seps:
        big = sep.join(texts)
        got = fast.scan(Fragment.from_text(big, "big.txt"))
        assert got == pure.scan(Fragment.from_text(big, "big.txt"))
        assert len(got) > 50


def test_dense_core_matches_fall_back_to_finditer(engines: tuple[Detector, Detector]) -> None:
    # an inlined image: the 40-character secret core matches at every offset of the blob
    fast, pure = engines
    rng = random.Random(5)
    blob = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for _ in range(400_000)
    )
    text = f'<img src="data:image/png;base64,{blob}"/>\n' + INPUTS[1][0] + "\n"
    # a core without boundaries matches at every offset of the blob: too dense, finditer
    bare = re.compile(r"(?P<secret>[A-Za-z0-9+/]{40})")
    matcher = CoreMatcher([bare], use_hyperscan=True)
    assert matcher.ends(text.encode("ascii")) is None
    on_demand = CoreMatcher([bare], use_hyperscan=True, on_demand=[0])
    assert on_demand.ends(text.encode("ascii")) == {}
    assert on_demand.rule_ends(0, text.encode("ascii")) is None
    # with its boundaries, the secret rule's core matches runs of exactly 40 characters
    secret_rule = next(r for r in RULES if r.id == "aws-secret-access-key")
    bounded = CoreMatcher([secret_rule.regex], use_hyperscan=True)
    secret = secret_key("dense")
    framed = f"{blob}\nkey = {secret}\n".encode("ascii")
    end = framed.index(secret.encode()) + len(secret)
    found = bounded.ends(framed)
    assert found is not None
    assert found.keys() == {0}
    # none in the blob; after the key, "\n" consumed (or ``$`` before a final newline)
    assert set(found[0]) <= {end, end + 1}
    got = fast.scan(Fragment.from_text(text, "page.svg"))
    assert got == pure.scan(Fragment.from_text(text, "page.svg"))
    assert got


# ------------------------------------------------------- confirmation emulates finditer

PATTERNS = [
    r"(?<![A-Za-z0-9])(?P<secret>AK[A-Z2-7]{4})(?![A-Za-z0-9])",
    r"(?:(?<![a-z/+])|(?<=\\[nrt]))(?P<secret>[a-z/+]{6})(?![a-z/+])",
    r"(?i)key\s{0,2}=\s{0,2}(?P<secret>[a-f0-9]{4,8})\b",
    r"(?P<secret>x[ab]{1,5}?y)$",
    r"^(?P<secret>ab|abab|b{2,3})",
    r"(?m)^k(?P<secret>.{2,4})$",
    r"(?s)q(?P<secret>.{1,6})q",
    r"(?P<secret>[^ab\n]{3})(?=a)",
    r"(?i:AbC)(?P<secret>\d{2}|\w{3})",
    r"(?P<d>k\()?(?P<secret>[ab]{2,3})(?(d),|=)q",  # a conditional: its core takes both branches
]


UNICODE_PATTERNS = [
    *PATTERNS,
    r"(?i)(?P<secret>k{2}s)",  # KELVIN SIGN and LONG S fold to k and s
    r"(?P<secret>\w{2}\s\d)",  # \w, \s, \d admit non-ASCII letters, spaces, digits
    r"(?<![^ab])(?P<secret>[^ab\n]{2})(?![^ab])",
    r"(?P<secret>[a-zé]{3})",  # a class that names a non-ASCII character
    r"(?P<secret>\S{2,3})(?!\W)",
]


@pytest.mark.parametrize("pattern", UNICODE_PATTERNS)
@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet="abkskxyq2=/+ \n0éK\u212aſı\u0130\u00a0\u0660☕\u2028", max_size=120),
    cut=st.tuples(st.integers(0, 130), st.integers(0, 130)),
)
# found by this test: a match only where endpos ends the text (the lookahead refuses the "0")
@example(text="000", cut=(0, 2))
def test_confirmation_is_finditer_on_non_ascii_text(
    pattern: str, text: str, cut: tuple[int, int]
) -> None:
    # non-ASCII characters reach the databases as one marker byte each (as_core_bytes)
    regex = re.compile(pattern)
    data = as_core_bytes(text)
    assert len(data) == len(text)
    pos, endpos = min(cut), max(cut)
    for matcher, found in _core_ends(regex, data):
        assert [m.span() for m in matcher.finditer(0, text, found)] == [
            m.span() for m in regex.finditer(text)
        ]
        got = matcher.finditer(0, text, found, pos, endpos)
        assert [m.span() for m in got] == [m.span() for m in regex.finditer(text, pos, endpos)]


def _core_ends(regex: re.Pattern[str], data: bytes) -> list[tuple[CoreMatcher, list[int]]]:
    """The core match ends of ``regex`` in ``data`` from each engine: Hyperscan's database
    (every end) and RE2 (offsets around the matches it reports, ``re2_ends``; RE2 reads a
    boundary's ``$`` as the end of the text, as the lookahead it stands for does, where
    Hyperscan also accepts a final newline)."""
    fast = CoreMatcher([regex], use_hyperscan=True)
    ends = fast.ends(data)
    assert ends is not None
    pure = CoreMatcher([regex], use_hyperscan=False)
    assert pure.re2_answers(0)
    return [(fast, ends.get(0, [])), (pure, pure.re2_ends(0, data))]


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet="abkxyqABKCE2345=/+ \n\\fnr0189(,", max_size=120),
    cut=st.tuples(st.integers(0, 130), st.integers(0, 130)),
)
def test_confirmation_is_finditer(pattern: str, text: str, cut: tuple[int, int]) -> None:
    regex = re.compile(pattern)
    pos, endpos = min(cut), max(cut)
    expected = [m.span() for m in regex.finditer(text)]
    windowed = [m.span() for m in regex.finditer(text, pos, endpos)]
    for matcher, ends in _core_ends(regex, text.encode("ascii")):
        assert [m.span() for m in matcher.finditer(0, text, ends)] == expected
        got = matcher.finditer(0, text, ends, pos, endpos)
        assert [m.span() for m in got] == windowed


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(?P<secret>a{1,3})(?P=secret)", "groupref"),
        (r"(?P<secret>a{1,5})b{0,}", "unbounded"),
        (r"(?P<secret>a?)", "empty"),
        (r"(?P<secret>é{3})", "no ASCII"),
        (r"(?>a{1,3})(?P<secret>d)", "atomic"),
    ],
)
def test_patterns_without_a_core_are_named(pattern: str, reason: str) -> None:
    with pytest.raises(CoreError, match=reason):
        core_of(re.compile(pattern))
    matcher = CoreMatcher([re.compile(pattern)], use_hyperscan=True)
    assert reason in matcher.fallback_reasons[0]


def test_an_on_demand_core_hyperscan_refuses_falls_back_to_its_regex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rule of named files runs its own core database; when Hyperscan cannot compile that
    # core, the rule searches with its regex (no run pattern, no gate: it has no core left).
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: acme-token\n"
        "    name: ACME token\n"
        "    description: An ACME API token in a config file.\n"
        "    severity: high\n"
        "    keywords: [acme_]\n"
        "    paths: ['*.cfg']\n"
        "    regex: '(?<![a-z0-9])(?P<secret>acme_[a-z0-9]{20})(?![a-z0-9])'\n"
        "    examples: ['token = acme_0123456789abcdefghij']\n"
    )
    (rule,) = load_pack(pack)
    refused = core_of(rule.regex).pattern
    compiled = dbcache.compiled

    def refuse(hs: Any, expressions: Any, ids: Any, flags: Any) -> Any:
        if refused in expressions:
            raise hs.error("Pattern is too large.")
        return compiled(hs, expressions, ids, flags)

    monkeypatch.setattr(dbcache, "compiled", refuse)
    monkeypatch.setattr(engine_module, "CORE_DB_AFTER_BYTES", 0)
    detector = Detector([rule], use_hyperscan=True)
    secret = "acme_" + "k3y0" * 5
    text = "# settings\n" + "x = 1\n" * 100 + f"token = {secret}\n"
    found = detector.scan(Fragment.from_text(text, path="app.cfg"))
    assert [f.secret for f in found] == [secret]
    assert "cannot compile its core" in detector.regex_fallbacks()["acme-token"]  # rules check


def test_a_keyword_database_hyperscan_refuses_leaves_the_pass_to_re2(
    engines: tuple[Detector, Detector], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every database falls back when Hyperscan refuses it; the keyword pass's goes to RE2.
    fast, _ = engines
    compiled = dbcache.compiled

    def refuse_literals(hs: Any, expressions: Any, ids: Any, flags: Any) -> Any:
        if len(ids) > 100 and all(flag & hs.HS_FLAG_SINGLEMATCH for flag in flags):
            raise hs.error("Out of memory.")
        return compiled(hs, expressions, ids, flags)

    monkeypatch.setattr(dbcache, "compiled", refuse_literals)
    monkeypatch.setattr(engine_module, "CORE_DB_AFTER_BYTES", 0)
    refused = Detector(RULES, use_hyperscan=True)
    assert refused.prefilter_backend == "re2" and fast.prefilter_backend == "hyperscan"
    for text, path in INPUTS:
        got = refused.scan(Fragment.from_text(text, path))
        assert got == fast.scan(Fragment.from_text(text, path)), (path, text[:60])
    assert refused._cores.built  # the rule databases still ran


# ------------------------------------------------- keyword-anchored base64 runs

KEYWORDS = ("aws", "secret", "token")
B64ISH = "AbcdEfgh12345678/+=" * 2
SPAN = base64.b64encode(b"run of sixteen plus bytes").decode()


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(
            ["aws", "Secret", "TOKEN", " ", "\n", "=", ": ", B64ISH, B64ISH[:15], "x" * 90, "é"]
        ),
        max_size=30,
    )
)
# a run starting 81 characters after "aws": one too far for the keyword to count
@example(parts=["aws", " ", *[B64ISH[:15], " "] * 3, *[": "] * 5, B64ISH])
@example(parts=["aws", *[B64ISH[:15], " "] * 3, *[": "] * 5, B64ISH])  # 80: it counts
@example(parts=["aws", " " * 76, SPAN])  # a span 79 after the shortest keyword: on RE2's lines
def test_keyword_anchored_runs_are_the_tested_runs(parts: list[str]) -> None:
    text = "".join(parts)
    expected = [
        m.span() for m in _B64_SPAN.finditer(text) if _keyword_before(text, m.start(), KEYWORDS)
    ]
    whole = [(0, len(text))]
    assert [m.span() for m in _runs_after_keywords(text, whole, KEYWORDS, None)] == expected
    low = text.lower()
    assert [m.span() for m in _runs_after_keywords(text, whole, KEYWORDS, low)] == expected
    positions = sorted(m.start() for m in re.finditer("aws|secret|token", low))
    windows = _after(text, positions)
    in_windows = [
        m.span()
        for start, end in windows
        for m in _B64_SPAN.finditer(text, start, end)
        if _keyword_before(text, m.start(), KEYWORDS)
    ]
    assert [m.span() for m in _runs_after_keywords(text, windows, KEYWORDS, low)] == in_windows
    # without Hyperscan, RE2's one pattern for every keyword finds the lines of those runs
    # (long_line 0: every line is also checked with the gap's bound)
    for long_line in (LONG_LINE, 0):
        lines = _FINDER.run_lines(as_core_bytes(text), long_line)
        assert lines is not None
        assert [m.span() for m in _runs_after_keywords(text, lines, KEYWORDS, None)] == expected
    if text.isascii():  # the vectorised pass: run starts from Hyperscan, checked exactly
        starts = _starts(text)
        for anchored in (False, True):  # anchored: the keyword test is the pattern's
            found = _runs_at(text, whole, KEYWORDS, starts, anchored=anchored)
            assert [m.span() for m in found] == expected
            found = _runs_at(text, windows, KEYWORDS, starts, anchored=anchored)
            assert [m.span() for m in found] == in_windows


_FINDER = SpanFinder(KEYWORDS, lambda _: False)
_PATTERNS = _FINDER.run_start_patterns()
assert _PATTERNS is not None
_STARTS = CoreMatcher([], use_hyperscan=True, extra=_PATTERNS)


def _starts(text: str) -> list[int]:
    ends = _STARTS.ends(text.encode("ascii"))
    assert ends is not None
    return sorted({e - 16 for found in ends.values() for e in found})


PREFILTER_KEYWORDS = [["aws", "aws_secret"], ["secret", "secretaccess"], ["token", "ken"], ["cret"]]


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="awsAWS_ecrtok n", max_size=200))
@example(text="aws_secretaccess")  # a literal that starts inside a match and runs past it
@example(text="aws_secret tokn")  # literals inside a longer match
@example(text="AWS_SECRET")
def test_the_re2_prefilter_sees_exactly_the_keywords_present(text: str) -> None:
    # one RE2 Set pass finds which literals occur, overlapping ones included
    raw = text.encode("ascii")
    pure = Prefilter(PREFILTER_KEYWORDS, use_hyperscan=False).hits(raw)
    low = raw.lower()
    expected = {
        i for i, kws in enumerate(PREFILTER_KEYWORDS) if any(k.encode() in low for k in kws)
    }
    assert pure.rules == expected
    assert pure.present == {k for kws in PREFILTER_KEYWORDS for k in kws if k.encode() in low}
    fast = Prefilter(PREFILTER_KEYWORDS, use_hyperscan=True).hits(raw)
    assert (fast.rules, fast.present) == (pure.rules, pure.present)


ENCODED_KEYWORDS = [["AKIA"], [], ["ghp_"]]  # forms QUtJQ FLSU BS0lB, Z2hwX docF naHBf
ENCODED_PLAIN = [["qutj"], ["flsu", "docf"], ["xyzzy"]]  # two are lower-cased forms


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="QUtJqutjFLSUflsudocFDOCfnaHBfZ2hwX ", max_size=120))
@example(text="qutjq flsu DOCF")  # lower-cased forms only: keywords, no encoded form
@example(text="QUtJQ docF")
def test_the_re2_prefilter_sees_exactly_the_encoded_forms_present(text: str) -> None:
    # base64 forms are case-exact in the same Set as the caseless keywords
    raw = text.encode("ascii")
    pure = Prefilter(ENCODED_PLAIN, ENCODED_KEYWORDS, use_hyperscan=False).hits(raw)
    forms = {i: base64_forms(k[0]) for i, k in enumerate(ENCODED_KEYWORDS) if k}
    encoded = {i for i, fs in forms.items() if any(f.encode() in raw for f in fs)}
    low = raw.lower()
    plain = {i for i, kws in enumerate(ENCODED_PLAIN) if any(k.encode() in low for k in kws)}
    assert pure.rules == encoded | plain
    assert pure.encoded == bool(encoded)
    assert pure.present == {k for kws in ENCODED_PLAIN for k in kws if k.encode() in low}
    fast = Prefilter(ENCODED_PLAIN, ENCODED_KEYWORDS, use_hyperscan=True).hits(raw)
    assert (fast.rules, fast.encoded, fast.present) == (pure.rules, pure.encoded, pure.present)


def _confirmed(cores: CoreMatcher, index: int, text: str, ends: list[int] | None) -> list:
    regex = cores._regexes[index]
    found = regex.finditer(text) if ends is None else cores.finditer(index, text, ends)
    return [m.span() for m in found]


def test_on_demand_cores_scanned_together_confirm_what_each_confirms_alone(
    engines: tuple[Detector, Detector],
) -> None:
    fast, _ = engines
    cores = fast._cores
    on_demand = [i for i in sorted(cores.cores) if cores.on_demand(i)]
    assert len(on_demand) >= 3
    rng = random.Random(11)
    texts = [text for text, _ in INPUTS if text.isascii()]
    gated = [i for i in on_demand if i in cores._gate_dbs]
    runs = [i for i in on_demand if i in cores._run_dbs]
    assert {fast.rules[i].id for i in gated} >= {"aws-session-token"}
    assert {fast.rules[i].id for i in runs} >= {"aws-secret-access-key", "cohere-api-key"}
    closed = 0
    for round_ in range(6 + len(texts)):
        if round_ < 6:  # glued: every gate opens
            rng.shuffle(texts)
            text = "\n".join(texts)
        else:  # one input: most gates stay closed
            text = texts[round_ - 6]
        data = text.encode("ascii")
        group = rng.sample(on_demand, rng.randint(2, len(on_demand)))
        # the gates, the run patterns and the shared database change nothing: each core
        # alone and ungated finds the same places
        together = cores.group_ends(group, data)
        for i in group:
            alone = _confirmed(cores, i, text, cores._alone(i, data))
            assert _confirmed(cores, i, text, together[i]) == alone
            if i not in runs:
                assert together[i] == cores._alone(i, data)
        closed += sum(not cores._opens(i, data) for i in gated)
    assert closed > len(texts)


@functools.cache
def _run_matcher() -> tuple[CoreMatcher, list[re.Pattern[str]]]:
    ids = ["aws-secret-access-key", "cohere-api-key", "alibaba-access-key-secret"]
    ids.append("ibm-cloud-api-key")
    regexes = [next(r for r in RULES if r.id == rule_id).regex for rule_id in ids]
    matcher = CoreMatcher(regexes, use_hyperscan=True, on_demand=range(len(ids)))
    matcher.build()
    return matcher, regexes


@functools.cache
def _re2_run_matcher() -> CoreMatcher:
    return CoreMatcher(_run_matcher()[1], use_hyperscan=False, on_demand=range(4))


_RUN_PIECES = ["A", "b", "7", "+", "/", "=", "-", "_", " ", "\\", "n", "\\n", '"', "\n", "é"]


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(st.sampled_from(_RUN_PIECES), st.integers(1, 46)), min_size=1, max_size=12
    )
)
@example(pieces=[("\\n", 1), ("A", 40)])  # an escape before the secret: a run of 41
@example(pieces=[(" ", 1), ("A", 40), ("=", 1)])
@example(pieces=[("A", 41)])  # one too long: no match
@example(pieces=[("A", 30), ("-", 1), ("b", 14)])
def test_run_ends_confirm_exactly_what_the_cores_confirm(pieces: list[tuple[str, int]]) -> None:
    text = "".join(piece * count for piece, count in pieces)
    matcher, regexes = _run_matcher()
    data = as_core_bytes(text)
    for index in range(len(regexes)):
        assert matcher.cores[index].run is not None
        # without Hyperscan, RE2 finds the same run ends (Hyperscan's reports of a long run
        # past 256 are too dense to use: None, and the core scans as any other)
        assert _re2_run_matcher().re2_answers(index)
        ends = _re2_run_matcher().re2_ends(index, data)
        assert matcher._run_ends(index, data) in (ends, None)
        expected = [m.span() for m in regexes[index].finditer(text)]
        assert _confirmed(matcher, index, text, ends) == expected
        # a run end is only kept when a full match could end there
        assert len(ends) <= len(data) // matcher.cores[index].run.shortest


def test_run_shape_is_only_taken_where_the_run_ends_every_match() -> None:
    shaped = {
        r"(?<![a-z])[a-z]{8}(?![a-z])": (8, 8),
        r"(?<![a-z0-9])[a-z]{8}(?![a-z])": (8, 8),
        r"(?:(?<![a-z])|(?<=\\[nrt]))[a-z]{8}(?![a-z])": (8, 9),
        r"[a-z]{8}(?:[a-z]{4})?(?![a-z0-9])": (8, 1 << 62),
    }
    for pattern, (shortest, longest) in shaped.items():
        run = core_of(re.compile(pattern)).run
        assert run is not None and (run.shortest, run.longest) == (shortest, longest), pattern
    for pattern in (
        r"(?<![a-z])[a-z]{8}(?![a-y])",  # the lookahead lets a run go on past the match
        r"(?<![a-z])[a-z]{8}[0-9](?![a-z0-9])",  # two classes
        r"(?<![a-z])[a-z]{8}",  # no lookahead
        r"(?<![a-zé])[a-zé]{8}(?![a-zé])",  # non-ASCII characters all read as one byte
    ):
        assert core_of(re.compile(pattern)).run is None, pattern


def test_a_dense_group_gives_up_only_for_its_dense_cores() -> None:
    rng = random.Random(5)
    blob = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for _ in range(400_000)
    )
    secret = secret_key("dense")
    data = f"{blob}\nkey = {secret}\n".encode("ascii")
    bare = re.compile(r"(?P<secret>[A-Za-z0-9+/]{40})")
    secret_rule = next(r for r in RULES if r.id == "aws-secret-access-key")
    matcher = CoreMatcher([bare, secret_rule.regex], use_hyperscan=True, on_demand=[0, 1])
    found = matcher.group_ends([0, 1], data)
    assert found[0] is None  # too dense: finditer
    end = data.index(secret.encode()) + len(secret)
    assert found[1] and set(found[1]) <= {end, end + 1}


_SPAN_PIECES = ["a", "Z", "9", "+", "/", "=", "%", "%2F", "%3d", "-", ".", "~", "_", " ", "\n"]
_SPAN_PIECES += ["\\/", "\\u0041", "\\u00", "\\n", "\\", '"', "é"]
_SPAN_PIECES += ["\\x2f", "&#x2F;", "&#43;", "&#", ";", "&#x002b;", "&#10;", "&amp;"]


def _marked(text: str, chars: str, marker: re.Pattern[str]) -> list[tuple[int, int]]:
    """The runs ``re`` finds of 16 or more ``chars`` that hold a match of ``marker``."""
    regex = re.compile(f"[{re.escape(chars)}]{{16,}}")
    return [m.span() for m in regex.finditer(text) if marker.search(m.group())]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_SPAN_PIECES), max_size=80),
    long_runs=st.lists(
        st.tuples(
            st.integers(0, 80),
            st.one_of(
                st.sampled_from([8191, 8192, 8193, 8207, 8208, 16399]), st.integers(8170, 16500)
            ),
        ),
        max_size=2,
    ),
)
@example(pieces=[" "], long_runs=[(0, 8207)])  # a last piece of 15: no span
@example(pieces=[" "], long_runs=[(0, 8193)])  # one character too long for a percent span
@example(pieces=["a"] * 40 + ["\\/"] + ["b"] * 20, long_runs=[(0, 8192 + 15)])
@example(pieces=["%2F"] * 10, long_runs=[(3, 8200)])
def test_escape_and_percent_spans_are_finditer_in_the_runs_with_a_marker(
    pieces: list[str], long_runs: list[tuple[int, int]]
) -> None:
    # only the runs of a layer's characters that hold its marker (which every span that
    # decodes holds) are searched: the spans finditer finds in them, in the same order
    for at, length in long_runs:
        pieces = [*pieces[:at], "x" * length, *pieces[at:]]
    text = "".join(pieces)
    for found, span, chars, marker in (
        (
            _escape_spans(text, JSON_MARK, _JSON_SPAN, _JSON_TABLE),
            _JSON_SPAN,
            _JSON_CHARS,
            JSON_MARK,
        ),
        (_escape_spans(text, HEX_MARK, _HEX_SPAN, _JSON_TABLE), _HEX_SPAN, _JSON_CHARS, HEX_MARK),
        (
            _escape_spans(text, HTML_MARK, _HTML_SPAN, _HTML_TABLE),
            _HTML_SPAN,
            _HTML_CHARS,
            HTML_MARK,
        ),
        (_percent_spans(text), _PERCENT_SPAN, _PERCENT_CHARS, PERCENT_MARK),
    ):
        runs = _marked(text, chars, marker)
        expected = [
            m.span()
            for m in span.finditer(text)
            if any(start <= m.start() < end for start, end in runs)
        ]
        assert [m.span() for m in found] == expected
        every = [m for m in span.finditer(text) if marker.search(m.group())]
        assert {m.span() for m in every} <= set(expected)
        # a span without a marker decodes to itself: refused
        decode = {
            JSON_MARK: decode_json_escapes,
            HEX_MARK: decode_hex_escapes,
            HTML_MARK: decode_html_references,
        }.get(marker, decode_percent)
        assert all(
            decode(m.group()) is None for m in span.finditer(text) if not marker.search(m.group())
        )


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            ["a", "Z9", "%2F", "\\/", "&#43;", "-.~_", "+=", " ", "\n", "é", "ÿ", "☕", "\udcff"]
        ),
        max_size=60,
    ),
    run=st.integers(0, 300),
    step=st.integers(1, 40),
)
def test_marked_runs_are_those_re_finds(pieces: list[str], run: int, step: int) -> None:
    # mapped a piece at a time from each marker (pieces of ``step`` characters, doubling):
    # runs across piece ends; a character past Latin-1 or a lone surrogate
    # (surrogateescape) is mapped to one "?"
    text = "".join(pieces[:3]) + "x" * run + "".join(pieces[3:])
    with mock.patch.object(decoding_module, "_FIRST_STEP", step):
        for chars, table, marker in (
            (_PERCENT_CHARS, _PERCENT_TABLE, PERCENT_MARK),
            (_JSON_CHARS, _JSON_TABLE, JSON_MARK),
            (_HTML_CHARS, _HTML_TABLE, HTML_MARK),
        ):
            assert list(_marked_runs(text, marker, table)) == _marked(text, chars, marker)


def test_decoded_views_are_confirmed_around_core_ends(
    engines: tuple[Detector, Detector], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a decoded line is a text of its own: its keywords and core scans, then ``re`` only
    # around the core ends (``re`` over whole views of long lines was most of a rescan)
    fast, pure = engines
    fast._cores.build()
    secret = secret_key("view", slash=True)
    encoded = secret.replace("/", "%2F").replace("+", "%2B")
    filler = " ".join(f"word{i}" for i in range(3000))
    text = f"{filler}\naws_secret_access_key = {encoded} {filler}\n"
    searched: list[bool] = []
    collect = fast._collect

    def spy(
        text: str, index: int, view: Any, out: Any, windows: Any = None, ends: Any = None
    ) -> None:
        if view is not None:
            searched.append(ends is not None)
        collect(text, index, view, out, windows, ends)

    monkeypatch.setattr(fast, "_collect", spy)
    found = fast.scan(Fragment.from_text(text, "settings.py"))
    assert [f.secret for f in found if f.rule_id == "aws-secret-access-key"] == [secret]
    assert searched and all(searched)
    assert found == pure.scan(Fragment.from_text(text, "settings.py"))


def test_runs_around_markers_keep_no_copy_of_a_large_text() -> None:
    # 16 MiB of JSON characters in one run with one escape in its middle, and short words
    run = "Zm9vYmFy" * (1 << 20)
    text = f"word {run[: 8 << 20]}\\/{run[8 << 20 :]} word"
    tracemalloc.start()
    try:
        found = list(_marked_runs(text, JSON_MARK, _JSON_TABLE))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == [(5, len(text) - 5)]
    assert peak < 4 << 20


def test_a_percent_encoded_secret_past_hundreds_of_long_identifiers_is_decoded() -> None:
    # a run without a "%" cannot decode; the layer used to count them towards its cap of
    # MAX_SPANS_PER_LAYER spans, so a large file's later percent-encoded values went unread
    secret = secret_key("percent", slash=True)
    encoded = secret.replace("/", "%2F").replace("+", "%2B")
    names = "\n".join(f"resource_identifier_{i:05d} = {i}" for i in range(400))
    text = f"{names}\naws_secret_access_key = {encoded}\n"
    for engine in (Detector(RULES), Detector(RULES, use_hyperscan=False)):
        found = engine.scan(Fragment.from_text(text, "settings.py"))
        assert [f.secret for f in found if f.rule_id == "aws-secret-access-key"] == [secret]


_DECODABLE = base64.b64encode(b"aws_secret_access_key=not-a-real-one").decode()
_RUN_TEXT_PIECES = [_DECODABLE, _DECODABLE[:20], "QUJDRA", "+/+/", "==", "=", " ", "é", "\n"]
_RUN_TEXT_PIECES += ["Zm9vYmFyYmF6cXV4cXV1eA", "////////////////////", "aGVsbG8gd29ybGQgaGVsbG8"]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(_RUN_TEXT_PIECES), max_size=10), data=st.data())
@example(pieces=["é", _DECODABLE], data=None)  # a non-ASCII character just before the run
@example(pieces=[_DECODABLE, "é"], data=None)
def test_runs_decode_on_the_core_bytes_as_in_the_text(
    pieces: list[str], data: st.DataObject | None
) -> None:
    text = "".join(pieces)
    if data is None:
        starts = list(range(len(text)))
    else:
        starts = sorted(set(data.draw(st.lists(st.integers(0, max(0, len(text) - 1))))))
    in_text = any(
        decode_base64(m.group()) is not None
        for m in _runs_at(text, [(0, len(text))], (), starts, anchored=True)
    )
    assert any_run_decodes(as_core_bytes(text), starts) == in_text


def test_base64_runs_skipped_by_their_head_could_never_decode() -> None:
    # every two-character head _B64_HEAD refuses starts bytes no UTF-8 text starts with,
    # whatever follows (so decode_base64 would refuse the run); the rest are all kept
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    refused = 0
    for first, second in itertools.product(alphabet, repeat=2):
        prefix = base64.b64decode(first + second + "AA")[:2]
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            decoder.decode(prefix[:1], final=False)
            decoder.decode(prefix[1:], final=False)
            valid = True
        except UnicodeDecodeError:
            valid = False
        kept = re.fullmatch(_B64_HEAD, first + second) is not None
        if not kept:
            refused += 1
        # the second byte's low nibble and the next bytes are free: only its high half counts
        assert kept or not valid, first + second
    assert refused == 1664


@settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(
        st.binary(max_size=60),
        st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from(["a", "\r", "\n", "\r\n", "é", "\ufffd", "中"]), max_size=30).map(
            lambda parts: "".join(parts).encode("utf-8")
        ),
    ),
    bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]),
)
@example(raw=b"a\rb\r\nc\r", bom=b"")
@example(raw=b"caf\xe9 \xc3\xa9\r", bom=b"")  # invalid UTF-8 beside valid
def test_the_bytes_the_cores_scan_are_one_per_character_of_the_text(raw: bytes, bom: bytes) -> None:
    # however the raw bytes are spelt, the databases see one byte per character of the text
    fragment = Fragment(bom + raw, "f.txt")
    text = fragment.text
    expected = bytes(ord(c) if ord(c) < 128 else 0x80 for c in text)
    assert as_core_bytes(text) == expected
    assert engine_module._core_data(Fragment(bom + raw, "f.txt")) == expected


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(["ab", "\n", "é", "—", "中", "😀"]), max_size=40).map("".join),
    piece=st.integers(min_value=1, max_value=9),
)
def test_core_bytes_made_piece_by_piece_are_those_of_the_whole(text: str, piece: int) -> None:
    # a text longer than a piece is translated piece by piece, ASCII pieces kept as they
    # are; a character split between two pieces still becomes one marker byte
    raw = text.encode("utf-8")
    expected = bytes(ord(c) if ord(c) < 128 else 0x80 for c in text)
    with mock.patch.object(corematch_module, "_PIECE", piece):
        assert corematch_module.utf8_core_bytes(raw) == expected


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(
            [
                b"ab",
                b"\n",
                "é".encode(),
                "中".encode(),
                "😀".encode(),
                b"\xe4",
                b"\x80",
                b"\xed\xa0\x80",
                b"\xf0\x9f",
                b"\xef\xbf\xbd",
                b"\xc0\xaf",
            ]
        ),
        max_size=40,
    ),
    piece=st.integers(min_value=1, max_value=9),
)
def test_utf8_is_told_piece_by_piece_as_a_whole_decoding_tells_it(
    parts: list[bytes], piece: int
) -> None:
    # only the pieces that are not ASCII are decoded: a character split between two pieces,
    # a sequence cut off by the end, a lone continuation byte, an encoded surrogate and an
    # overlong form are told exactly as decoding the whole text tells them
    raw = b"".join(parts)
    try:
        raw.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    with mock.patch.object(corematch_module, "_PIECE", piece):
        assert corematch_module.is_utf8(raw) is expected


def test_utf8_cut_before_an_ascii_piece_is_not_utf8() -> None:
    # the piece after an unfinished character is ASCII: it is decoded, not skipped
    piece = corematch_module._PIECE
    assert corematch_module.is_utf8(b"x" * (piece - 1) + "é".encode() + b"y" * piece)
    assert not corematch_module.is_utf8(b"x" * (piece - 1) + b"\xc3" + b"y" * piece)
    assert not corematch_module.is_utf8(b"x" * (piece - 2) + "中".encode()[:2] + b"y" * piece)
    # skipped, the ASCII piece would let the next piece's continuation byte finish the "é"
    assert not corematch_module.is_utf8(b"x" * (piece - 1) + b"\xc3" + b"y" * piece + b"\xa9")


def test_core_bytes_of_a_long_text_with_characters_across_piece_ends() -> None:
    piece = corematch_module._PIECE
    text = "".join(
        "x" * (piece - offset) + "—" + "y" * (3 * piece) + "中😀" for offset in range(1, 5)
    )
    expected = bytes(ord(c) if ord(c) < 128 else 0x80 for c in text)
    assert corematch_module.utf8_core_bytes(text.encode("utf-8")) == expected


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="akeyKEYé\u212a\u0130😀\n =:", max_size=80))
@example(text="\u212aey: é")  # KELVIN SIGN lowers to "k"
@example(text="\u0130 key é")  # U+0130 lowers to two characters: no offsets
def test_keyword_offsets_in_a_non_ascii_text_are_those_of_its_lower_case(text: str) -> None:
    # a non-ASCII text is lower-cased from its core bytes (one byte a character) when every
    # keyword is ASCII; the offsets and markers found must be those of ``text.lower()``
    fragment = Fragment.from_text(text)
    positions = engine_module._Positions(text, None, lambda: engine_module._core_data(fragment))
    whole = text.lower()
    expected = keyword_positions(whole, ("key",)) if len(whole) == len(text) else None
    assert positions.of(("key",)) == expected
    assert positions.holds_any(("key:",)) == ("key:" in whole)
