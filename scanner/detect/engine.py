"""The detector: runs a RuleSet over Fragments, cheapest check first.

    keyword prefilter (raw bytes) -> regex -> entropy of the secret -> allowlists (rule, then
    global) -> heuristic checks -> context gate -> inline allow markers -> de-duplication
    -> pairing and offline enrichment -> Finding

Line and column numbers are 1-based; columns count characters. ``end_column`` is the column
just after the last character (SARIF convention).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from scanner import archives
from scanner.allowlist import Allowlist
from scanner.detect import binary
from scanner.detect.blocks import Blocks
from scanner.detect.corematch import CoreMatcher, as_core_bytes, is_utf8, utf8_core_bytes
from scanner.detect.decoding import SpanFinder, View, any_run_decodes, build_views
from scanner.detect.factors import context_keywords
from scanner.detect.prefilter import KeywordHits, Prefilter
from scanner.detect.regions import MAX_OCCURRENCES, keyword_positions, line_windows
from scanner.entropy import shannon_entropy
from scanner.errors import DetectionError
from scanner.models import (
    CONFIDENCE_LEVELS,
    Confidence,
    Finding,
    Fragment,
    PairedSecret,
    Severity,
    bom_of,
    confidence_at_least,
    is_binary,
    lone_crs_to_lf,
)
from scanner.rules import Rule, RuleSet
from scanner.rules.checks import CHECKS, ENRICHMENTS
from scanner.rules.model import Regexes

INLINE_ALLOW_MARKERS = ("keysweep:allow", "gitleaks:allow", "pragma: allowlist secret")
CONTEXT_WINDOW = 320  # chars before a candidate searched by context regexes
LINE_CAP = 4096  # chars either side of a finding looked at for line allowlists and markers
MAX_PAIR_SIDE = 3  # paired candidates taken from each side of a key ID, per pair rule
UNSAFE_LINE_CAP = 16384  # rules with unbounded/nested quantifiers only see lines up to this
# Scanned bytes after which the Hyperscan rule databases are compiled when the disk cache
# does not hold them (half a second): a pre-commit hook over a few small files never pays.
CORE_DB_AFTER_BYTES = 1 << 20
# Scanned bytes after which they are loaded from the disk cache. Loading is quick, but each
# rule's core must be derived from its regex first (75 ms for 93 rules, more than half of what
# a hook over a few small files took in all); ``re`` takes 0.05-0.2 ms per KiB of AWS-heavy text
# where the cores take a tenth of that (localstack files of 9-560 KB), so loading pays past
# some 500 KiB.
CORE_CACHE_AFTER_BYTES = 256 << 10
# Run ends of a context-gated rule confirmed without keyword windows: localstack's history spent
# 2 s lower-casing and searching large JSON texts for the keywords around a handful of runs.
FEW_RUN_ENDS = 64
MAX_PATHS_KEPT = 1 << 14  # paths whose rule scope the detector remembers (_scope)
_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


@dataclass
class _Candidate:
    order: int  # index of the rule
    rule: Rule
    secret: str
    start: int  # offsets in the fragment text (the encoded span for decoded findings)
    end: int
    entropy: float
    encoding: str | None
    needs_near: bool
    line: int = 0
    line_start: int = 0
    # decoded, and its rule matched the plain text of its span too: that text only wraps it
    wrapper: bool = False


def _core_data(fragment: Fragment, ascii: bool | None = None, utf8: bool | None = None) -> bytes:
    """What the core databases scan for ``fragment``: one byte per character of its text
    (``as_core_bytes``), from the raw bytes wherever they give exactly that: ASCII, or valid
    UTF-8 without a byte-order mark; a lone CR reads as LF, as in the text (decode_bytes).
    ASCII is never decoded. ``ascii``: ``fragment.raw.isascii()``, and ``utf8``:
    ``_valid_utf8(fragment)``, when already known."""
    raw = fragment.raw
    if raw.isascii() if ascii is None else ascii:
        data = raw
    elif _valid_utf8(fragment) if utf8 is None else utf8:
        data = utf8_core_bytes(raw)
    else:
        return as_core_bytes(fragment.text)
    return lone_crs_to_lf(data)


def _binary_as_ascii(fragment: Fragment) -> Fragment:
    """``fragment`` read as ``binary.as_ascii`` reads its bytes (itself when they stay)."""
    data = binary.as_ascii(fragment.raw)
    if data is fragment.raw:
        return fragment
    return Fragment(data, fragment.path, fragment.source, fragment.blob_id)


def _valid_utf8(fragment: Fragment) -> bool:
    """Whether the raw bytes are UTF-8 without a byte-order mark (decoding replaced nothing).
    Then every ASCII literal occurs in ``_core_data`` where it occurs in the raw bytes: each
    character of more than one byte is one byte there, never an ASCII one."""
    return bom_of(fragment.raw) is None and is_utf8(fragment.raw)


# The merged scan (``Detector._merging``) costs about the keyword pass plus 0.6 of the main
# core scan (localstack's history), so it pays where more than that share of bytes has keywords.
MERGE_AT_PASS_RATE = 0.6
PASS_RATE_WINDOW = 64 << 20
LOWER_PIECE = 1 << 16  # characters lower-cased at a time (see _Positions.lowered)


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    lo = max(0, start - LINE_CAP)
    line_start = text.rfind("\n", lo, start) + 1 or lo
    hi = min(len(text), end + LINE_CAP)
    line_end = text.find("\n", end, hi)
    return line_start, (hi if line_end < 0 else line_end)


def _window(text: str, start: int, lines_before: int) -> str:
    lo = max(0, start - CONTEXT_WINDOW)
    pos = start
    for _ in range(lines_before + 1):
        newline = text.rfind("\n", lo, pos)
        if newline < 0:
            return text[lo:start]
        pos = newline
    return text[pos + 1 : start]


# Core match ends of the main database (None: too dense), of the active on-demand rules, and
# the base64 run starts after keywords (``Detector._run_starts``; None: not computed).
_Ends = tuple[dict[int, list[int]] | None, dict[int, list[int] | None], list[int] | None]
_NOTHING: _Ends = ({}, {}, [])  # the vectorised pass found nothing (compared by identity)
_NO_CORES: _Ends = (None, {}, None)  # no core databases (yet): every rule uses ``finditer``


class _PassRate:
    """Of the recent bytes scanned (about the last PASS_RATE_WINDOW), how many had keywords of
    an active rule (and so went on to the core scan)."""

    def __init__(self) -> None:
        self.seen = self.passed = 0

    def add(self, nbytes: int, passed: bool) -> None:
        self.seen += nbytes
        if passed:
            self.passed += nbytes
        if self.seen > PASS_RATE_WINDOW:
            self.seen //= 2
            self.passed //= 2

    def mostly_passes(self) -> bool:
        """At least MERGE_AT_PASS_RATE of them (True before any)."""
        return self.passed >= self.seen * MERGE_AT_PASS_RATE


class Detector:
    """Finds secrets in fragments with a RuleSet. Build once, call ``scan`` many times.

    ``allowlist`` is the global allowlist (project configuration). ``inline_allow=False``
    ignores inline allow markers. ``use_hyperscan`` forces (True) or forbids (False) the
    Hyperscan prefilter; by default it is used when importable. ``min_confidence`` drops
    findings of rules less sure than that (pass ``RuleSet.at_least(...)`` so those rules
    only run when a surer rule pairs with them).
    """

    def __init__(
        self,
        ruleset: RuleSet | Sequence[Rule],
        *,
        allowlist: Allowlist | None = None,
        inline_allow: bool = True,
        use_hyperscan: bool | None = None,
        min_confidence: str = Confidence.LOW,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(ruleset)
        self.min_confidence = min_confidence
        self.allowlist = allowlist or Allowlist()
        self.inline_allow = inline_allow
        # Rules with paths but no keywords (a file that is nothing but a key, such as Rails'
        # config/master.key) run on the files they name, whatever their bytes hold.
        self._path_gated = tuple(i for i, r in enumerate(self.rules) if not r.keywords and r.paths)
        self._path_scoped = tuple(
            i for i, r in enumerate(self.rules) if r.paths or r.allowlist.paths
        )
        self._scope_of: dict[str, tuple[frozenset[int], tuple[int, ...]]] = {}
        self._prefilter = Prefilter(
            [r.keywords for r in self.rules],
            [r.base64_keywords for r in self.rules],
            use_hyperscan=use_hyperscan,
            path_gated=self._path_gated,
        )
        self._checks: list[tuple[Callable[[str], bool], ...]] = [
            tuple(CHECKS[name] for name in rule.checks) for rule in self.rules
        ]
        gated = sorted({k for r in self.rules if r.context is not None for k in r.keywords})
        self._gated_keywords = tuple(gated)
        # every keyword searched in a lower-cased text is ASCII (see _Positions.lowered)
        self._ascii_keywords = all(k.isascii() for r in self.rules for k in r.keywords)
        self._spans = SpanFinder(gated, self._encoded_keyword_in)
        run_start_patterns = self._spans.run_start_patterns()
        self._cores = CoreMatcher(
            Regexes(self.rules),  # each compiled when first used
            use_hyperscan=use_hyperscan,
            extra=run_start_patterns or (),
            # context-gated rules (searched near their keywords) and rules of named files run
            # their own core database, only on texts where they are active (see _scan): the
            # .pgpass core matched 250,000 times in 335 files of moto's history, none a .pgpass
            on_demand=[
                i for i, r in enumerate(self.rules) if (r.context and r.keywords) or r.paths
            ],
            # core bytes read a lone CR as LF (``_core_data``): they hold the keywords the raw
            # bytes hold unless a literal holds a CR (escaped: \x0d)
            literals=()
            if any(b"\\x0d" in pattern for pattern, _ in self._prefilter.hs_patterns)
            else self._prefilter.hs_patterns,
        )
        # the rules' values alone, searched in binaries (``binary.packed_tokens``), one pattern
        # at a time: each starts with a literal that re jumps to, which their alternation did
        # not (10x slower on /usr/bin)
        self._packed = tuple(
            re.compile(r.binary_pattern.encode()) for r in self.rules if r.binary_pattern
        )
        self._pass_rate = _PassRate()
        self._run_starts_id = len(self.rules) if run_start_patterns else None
        self._core_bytes = 0  # bytes scanned (the rule databases are compiled after a few)
        self._cache_tried = False  # whether the databases were looked for in the disk cache
        global_line = any(a.target == "line" for a in self.allowlist.regexes)
        self._needs_line = [
            global_line or any(a.target == "line" for a in rule.allowlist.regexes)
            for rule in self.rules
        ]
        self._lines_before = max(
            (r.context.lines_before for r in self.rules if r.context is not None), default=0
        )
        # context-gated rule -> (keywords one of which its context needs, its near rules)
        self._context_gates: dict[int, tuple[frozenset[str], frozenset[int]]] = {}
        index_of = {rule.id: i for i, rule in enumerate(self.rules)}
        keywords = [k for rule in self.rules for k in rule.keywords]
        for i, rule in enumerate(self.rules):
            if rule.context is None:
                continue
            needed = context_keywords(rule.context.regexes, keywords)
            if needed is not None:
                near = frozenset(index_of[n] for n in rule.context.near_rules if n in index_of)
                self._context_gates[i] = (needed, near)

    @property
    def prefilter_backend(self) -> str:
        return self._prefilter.backend

    def regex_fallbacks(self) -> dict[str, str]:
        """Rule id -> why its regex is matched by Python ``re`` alone rather than through the
        Hyperscan rule database (empty when every rule compiled)."""
        self._cores.build()
        return {self.rules[i].id: why for i, why in sorted(self._cores.fallback_reasons.items())}

    def _cores_ready(self, nbytes: int) -> bool:
        """Whether the core databases scan a text of ``nbytes``: once built, which happens
        after CORE_CACHE_AFTER_BYTES have been scanned when the disk cache holds them, or else
        after CORE_DB_AFTER_BYTES (compiling takes half a second, more than a pre-commit hook's
        few small files take to scan with ``re``)."""
        cores = self._cores
        if cores.uses_re2:  # no Hyperscan
            return False
        self._core_bytes += nbytes
        # loaded from the cache no later than they would be compiled
        if not cores.built and self._core_bytes >= min(CORE_CACHE_AFTER_BYTES, CORE_DB_AFTER_BYTES):
            if not self._cache_tried:
                self._cache_tried = True
                cores.build_if_cached()
            if not cores.built and self._core_bytes >= CORE_DB_AFTER_BYTES:
                cores.build()
        return cores.built and cores.available

    def _scope(self, path: str) -> tuple[frozenset[int], tuple[int, ...]]:
        """The rules that do not apply at ``path`` (``Rule.applies_to``), and the keyword-less
        rules that do (all of them when the path is unknown), decided once per path: only
        rules with a path scope or path allowlist can say no (history asks again for every
        version of a file: 0.9 s of localstack's 14 s)."""
        found = self._scope_of.get(path)
        if found is None:
            if len(self._scope_of) >= MAX_PATHS_KEPT:
                self._scope_of.clear()
            outside = frozenset(i for i in self._path_scoped if not self.rules[i].applies_to(path))
            found = (outside, tuple(i for i in self._path_gated if i not in outside))
            self._scope_of[path] = found
        return found

    def _encoded_keyword_in(self, text: str) -> bool:
        return self._prefilter.hits(text.encode("utf-8", "replace")).encoded

    # ------------------------------------------------------------------ public API

    def wants(self, raw: bytes, path: str | None = None) -> bool:
        """Cheap keyword prefilter: False means ``scan`` would surely return nothing for
        ``raw`` at ``path`` (None: at a path no keyword-less rule names; "": not known)."""
        if path is not None and self._scope(path)[1]:
            return True
        if archives.kind(raw) is not None:  # compressed: no keyword shows until it is read
            return True
        if is_binary(raw):  # its UTF-16 text and packed tokens are read by ``scan`` alone
            return True
        try:
            return self._prefilter.wants(raw)
        except Exception:
            return True

    def scan(self, fragment: Fragment) -> list[Finding]:
        """Findings in ``fragment``, in text order.

        Raises only :class:`DetectionError`, and only on a bug in keysweep: losing the
        findings of one input silently would be a false "clean". The message names the
        input and the exception type, never its text (which could quote a secret).
        """
        try:
            kind = archives.kind(fragment.raw)
            if kind is None:
                found = self._scan_text(fragment)
            else:
                found = self._scan_archive(fragment, kind)
        except Exception as exc:
            where = fragment.path or fragment.blob_id or "<input>"
            raise DetectionError(
                f"{where}: the detector failed on this input ({type(exc).__name__}); "
                "this is a keysweep bug, please report it"
            ) from None
        return _confident(found, self.min_confidence)

    # ------------------------------------------------------------------ pipeline

    def _scan_archive(self, fragment: Fragment, kind: str) -> list[Finding]:
        """Each file inside, as ARCHIVE!MEMBER (the finding's ``member``); then, for a kind
        whose bytes are plain (a database), what its own bytes hold that no member showed (a
        deleted row)."""
        found: list[Finding] = []
        for name, raw in archives.members(fragment.raw, fragment.path):
            path = f"{fragment.path}!{name}"
            if self.wants(raw, path):
                member = Fragment(raw, path, fragment.source, fragment.blob_id)
                found += [replace(f, member=name) for f in self._scan_text(member)]
        if archives.holds_plain_bytes(kind):  # (its keyword pass comes first in _scan)
            shown = {f.secret for f in found}
            shown.update(p.secret for f in found for p in f.paired)
            found += [f for f in self._scan_text(fragment) if f.secret not in shown]
        return found

    def _scan_text(self, fragment: Fragment) -> list[Finding]:
        """``fragment`` as ``binary.as_ascii`` reads it, then what that reading hides, each
        view at the offsets of the bytes: a finding two views show at one place, once."""
        read = _binary_as_ascii(fragment)
        found = self._scan(read)
        for body in binary.beside(fragment.raw, read.raw, self._packed):
            if not self.wants(body, fragment.path):
                continue  # (a view is mostly DEL: most hold no keyword)
            seen = {(f.rule_id, f.line, f.column) for f in found}
            hidden = Fragment(body, fragment.path, fragment.source, fragment.blob_id)
            more = [f for f in self._scan(hidden) if (f.rule_id, f.line, f.column) not in seen]
            if more:
                found = sorted([*found, *more], key=lambda f: (f.line, f.column))
        return found

    def _scan(self, fragment: Fragment) -> list[Finding]:
        if not self.rules or self.allowlist.path_allowed(fragment.path):
            return []
        ascii = fragment.raw.isascii()  # asked once: the gates and the core bytes need it
        data: bytes | None = None
        merged = None
        if self._merging() and (ascii or _valid_utf8(fragment)):
            data = _core_data(fragment, ascii, utf8=True)  # (ASCII is UTF-8)
            merged = self._cores.ends_and_literals(data)
        if merged is None:
            hits: KeywordHits = self._prefilter.hits(fragment.raw)
        else:
            hits = self._prefilter.hits_of(merged[1])
        outside, by_path = self._scope(fragment.path)
        active = sorted((hits.rules - outside).union(by_path))
        self._pass_rate.add(len(fragment.raw), bool(active))
        if not active:
            return []
        if self._context_gates and hits.present is not None and ascii:
            # (the decoding layer below still runs: a decoded span has its own keywords)
            active = self._audible(active, hits.present)

        def core_data() -> bytes:
            """``_core_data(fragment)``, made once, when first needed."""
            nonlocal data
            if data is None:
                data = _core_data(fragment, ascii)
            return data

        ready = self._cores_ready(len(fragment.raw))
        known = None if merged is None else merged[0]
        vector = self._vector_pass(core_data(), hits, active, known) if ready else _NO_CORES
        if vector is _NOTHING:
            return []
        ends, own, run_starts = vector
        run_lines = None
        if self._cores.uses_re2 and self._gated_keywords and not hits.encoded:
            # no Hyperscan: RE2 says on which lines a base64 run may follow a keyword
            run_lines = self._spans.run_lines(core_data())
        text = fragment.text
        positions = _Positions(text, hits.present, core_data if self._ascii_keywords else None)
        candidates: list[_Candidate] = []
        self._collect_active(text, None, active, (ends, own), core_data, positions, candidates)
        # run starts from the vectorised pass already require a keyword before the run
        searched = run_starts is None and run_lines is None
        spans = self._spans.find(
            text,
            encoded_keyword=hits.encoded,
            keyword_positions=positions.of(self._gated_keywords) if searched else None,
            lowered=positions.low if searched else None,
            present=hits.present,
            run_starts=run_starts,
            run_lines=run_lines,
            signals=hits.signals,
        )
        if spans:
            for view in build_views(text, spans, self._lines_before):
                self._collect_view(view, outside, candidates)
        if not candidates:
            return []
        markers = self.inline_allow and positions.holds_any(INLINE_ALLOW_MARKERS)
        return self._finish(text, fragment, candidates, markers)

    def _collect_active(
        self,
        text: str,
        view: View | None,
        active: Sequence[int],
        found: tuple[dict[int, list[int]] | None, dict[int, list[int] | None]],
        core_data: Callable[[], bytes],
        positions: _Positions | None,
        out: list[_Candidate],
    ) -> None:
        """The candidates of the ``active`` rules in ``text`` (of ``view``, if one), from the
        core ends of the vectorised pass (``found``: main ends, None for none, and the
        on-demand rules' own), searched near their keywords (``positions``) or everywhere
        (None)."""
        ends, own = found
        for index in active:
            rule_ends = ends
            few_runs = False
            if ends is not None and self._cores.on_demand(index):
                # a context-gated rule's own core database first: where its core matches
                # nowhere (most texts), no keyword windows are built and nothing is confirmed
                rule_found = own[index]
                if rule_found is not None and not rule_found:
                    continue
                rule_ends = None if rule_found is None else {index: rule_found}
                # confirming a few run ends costs less than finding the keywords (a run never
                # crosses a line, so the keyword windows could not change a match)
                few_runs = rule_found is not None and len(rule_found) <= FEW_RUN_ENDS
                few_runs = few_runs and self._cores.is_run(index)
            elif ends is None and self._cores.re2_answers(index):
                # no Hyperscan: RE2 says where the core's matches end (a run core's run ends)
                rule_found = self._cores.re2_ends(index, core_data())
                if not rule_found:
                    continue
                rule_ends = {index: rule_found}
                few_runs = len(rule_found) <= FEW_RUN_ENDS and self._cores.is_run(index)
            windows = None
            if positions is not None and not few_runs:
                windows = self._windows(text, positions, index)
            self._collect(text, index, view, out, windows, rule_ends)

    def _collect_view(self, view: View, outside: frozenset[int], out: list[_Candidate]) -> None:
        """The candidates of a decoded view: every rule its keywords wake (but those that do
        not apply at the path), searched through the whole view, as a text is (the view's
        own keyword pass and core scans). A view is a decoded line and the lines before it;
        ``re`` over every such view of a snapshot file with presigned URLs (session tokens
        percent-encoded) took 0.65 s of attribution in localstack's history."""
        text = view.text
        data = as_core_bytes(text)
        hits = self._prefilter.hits(text.encode("utf-8", "replace"))
        active = sorted(hits.rules - outside)
        if not active:
            return
        ready = self._cores_ready(len(data))
        vector = self._vector_pass(data, hits, active, decoded=True) if ready else _NO_CORES
        if vector is _NOTHING:
            return
        self._collect_active(text, view, active, vector[:2], lambda: data, None, out)

    def _audible(self, active: list[int], present: frozenset[str]) -> list[int]:
        """``active`` without the context-gated rules that cannot pass their gate anywhere in
        an ASCII text: every match of their context regexes holds one of some keywords
        (``factors.context_keywords``), the keyword pass saw none of them, and none of their
        near rules is active. A candidate of such a rule is dropped in ``_collect`` whatever
        it is, so its core is not even scanned for (getmoto/moto's history: the AWS secret's
        rule is active in 276 MB of a tenth, and 110 MB of it say neither "secret" nor a key
        ID's prefix). Only for ASCII text: there the keyword pass and ``re``'s caseless
        matching agree on every letter."""
        gates = self._context_gates
        if not any(i in gates for i in active):
            return active
        on = set(active)
        return [
            i
            for i in active
            if i not in gates
            or not gates[i][0].isdisjoint(present)
            or not gates[i][1].isdisjoint(on)
        ]

    def _own_ends(self, active: Sequence[int], data: bytes) -> dict[int, list[int] | None]:
        """Core match ends of the active on-demand rules (one scan for all of them)."""
        return self._cores.group_ends(
            [i for i in active if self._cores.on_demand(i)],
            data,
            compile_new=self._core_bytes >= CORE_DB_AFTER_BYTES,
        )

    def _vector_pass(
        self,
        data: bytes,
        hits: KeywordHits,
        active: Sequence[int],
        known: dict[int, list[int]] | None = None,
        *,
        decoded: bool = False,
    ) -> _Ends:
        """The core scans of a fragment's ``_core_data`` (an ASCII text is not decoded for
        them). ``_NOTHING`` when they say the text holds nothing: no active rule's core
        matched, no base64 run after a keyword decodes (``any_run_decodes``, on the same
        bytes), no encoded keyword or decoding trigger; then the text is never decoded,
        lowered or searched in Python (on moto's history, half of the bytes that pass the
        keyword prefilter; on localstack's, runs after keywords that do not decode sent 0.9 GB
        down the whole path). Main ends None: matches too dense, every rule uses
        ``finditer``. ``known``: the main ends, from the merged scan. ``decoded``: a decoded
        view, which the decoding layer does not read again (only its rules' cores count)."""
        cores = self._cores
        ends = cores.ends(data) if known is None else known
        if ends is None:
            return _NO_CORES
        own = self._own_ends(active, data)
        starts = self._run_starts(ends)
        vector: _Ends = (ends, own, starts)
        if not decoded and (hits.encoded or hits.signals is None or hits.signals):
            return vector
        for index in active:
            if index not in cores.cores:
                return vector  # matched by ``re`` alone
            found = own[index] if index in own else ends.get(index, [])
            if found is None or found:
                return vector
        if decoded:
            return _NOTHING
        if self._gated_keywords and (starts is None or any_run_decodes(data, starts)):
            return vector
        return _NOTHING

    def _merging(self) -> bool:
        """Whether the keyword pass and the main core scan of a text are one scan of
        the merged database (``CoreMatcher.ends_and_literals``): once it is built, while most
        recent bytes have had keywords (``_PassRate``), for texts whose core bytes hold the
        keywords where the raw bytes do (ASCII, or UTF-8 without a byte-order mark). On an
        eighth of localstack's history, where all bytes have keywords, the two passes took
        0.49 s apart and 0.26 s together; a text without keywords costs the merged scan about
        twice the keyword pass."""
        return self._cores.merges_literals and self._pass_rate.mostly_passes()

    def _run_starts(self, ends: dict[int, list[int]] | None) -> list[int] | None:
        """Candidate base64 run starts from the vectorised pass (None: not computed)."""
        first = self._run_starts_id
        if ends is None or first is None or not self._cores.extra_compiled:
            return None
        starts = {e - 16 for index, found in ends.items() if index >= first for e in found}
        return sorted(starts)

    def _windows(
        self, text: str, keyword_positions: _Positions, index: int
    ) -> list[tuple[int, int]] | None:
        """Line windows around the keywords of a context-gated rule (None: whole text)."""
        rule = self.rules[index]
        context = rule.context
        if context is None or not rule.keywords:
            return None
        positions = keyword_positions.of(rule.keywords)
        if positions is None:
            return None
        before = context.within_lines if context.near_rules else 0
        return line_windows(
            text, positions, before, max(context.within_lines, context.lines_before)
        )

    def _matches(
        self,
        text: str,
        index: int,
        windows: list[tuple[int, int]] | None = None,
        ends: dict[int, list[int]] | None = None,
    ) -> Iterator[re.Match[str]]:
        """Matches of rule ``index`` in ``text`` (or only inside ``windows``). With ``ends``
        (core match ends from a Hyperscan rule database, holding this rule's) ``re`` only runs
        around them. A rule with unbounded or nested quantifiers runs line by line, skipping
        very long lines."""
        regex = self.rules[index].regex
        if ends is not None and index in self._cores.cores:
            rule_ends = ends.get(index, [])
            if windows is None:
                yield from self._cores.finditer(index, text, rule_ends)
            else:
                for start, end in windows:
                    yield from self._cores.finditer(index, text, rule_ends, start, end)
            return
        if not self._cores.line_by_line(index):
            if windows is None:
                yield from regex.finditer(text)
            else:
                for start, end in windows:
                    yield from regex.finditer(text, start, end)
            return
        pos = 0
        while pos <= len(text):
            newline = text.find("\n", pos)
            end = len(text) if newline < 0 else newline
            if end - pos <= UNSAFE_LINE_CAP:
                yield from regex.finditer(text, pos, end)
            pos = end + 1

    def _collect(
        self,
        text: str,
        index: int,
        view: View | None,
        out: list[_Candidate],
        windows: list[tuple[int, int]] | None = None,
        ends: dict[int, list[int]] | None = None,
    ) -> None:
        rule = self.rules[index]
        checks = self._checks[index]
        for m in self._matches(text, index, windows, ends):
            start, end = m.span("secret")
            if start < 0 or start == end:
                continue
            encoding: str | None = None
            orig_start, orig_end = start, end
            if view is not None:
                region = view.region_of(start, end)
                if region is None:
                    continue
                orig_start, orig_end = region.span.start, region.span.end
                encoding = region.span.encoding
            secret = m.group("secret")
            entropy = shannon_entropy(secret)
            if entropy < rule.min_entropy:
                continue
            if not (rule.allowlist.empty and self.allowlist.empty):
                line = ""
                if self._needs_line[index]:
                    lo, hi = _line_bounds(text, start, end)
                    line = text[lo:hi]
                if rule.allowlist.allows(secret, m.group(0), line):
                    continue
                if self.allowlist.allows(secret, m.group(0), line):
                    continue
            if not all(check(secret) for check in checks):
                continue
            needs_near = False
            context = rule.context
            if context is not None:
                window = _window(text, start, context.lines_before) if context.regexes else ""
                if not any(p.search(window) for p in context.regexes):
                    if not context.near_rules:
                        continue
                    needs_near = True
            out.append(
                _Candidate(index, rule, secret, orig_start, orig_end, entropy, encoding, needs_near)
            )

    def _finish(
        self, text: str, fragment: Fragment, candidates: list[_Candidate], markers: bool
    ) -> list[Finding]:
        candidates.sort(key=lambda c: c.start)
        line, pos, line_start = 1, 0, 0
        for cand in candidates:
            newlines = text.count("\n", pos, cand.start)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", pos, cand.start) + 1
            pos = cand.start
            cand.line = line
            cand.line_start = line_start
        if markers:
            candidates = [c for c in candidates if not self._inline_allowed(text, c)]
        anchors = _Index([c for c in candidates if not c.needs_near], text)
        kept: list[_Candidate] = list(anchors.all)
        for cand in candidates:
            if cand.needs_near and self._near(cand, anchors):
                kept.append(cand)
        kept = _dedupe(kept)
        index = _Index(kept, text)
        return [self._finding(text, fragment, cand, index) for cand in kept]

    def _inline_allowed(self, text: str, cand: _Candidate) -> bool:
        lo, hi = _line_bounds(text, cand.start, cand.end)
        line = text[lo:hi].lower()
        return any(marker in line for marker in INLINE_ALLOW_MARKERS)

    @staticmethod
    def _near(cand: _Candidate, anchors: _Index) -> bool:
        context = cand.rule.context
        assert context is not None
        return any(
            anchors.around(rule_id, cand, context.within_lines, 1) for rule_id in context.near_rules
        )

    def _finding(
        self, text: str, fragment: Fragment, cand: _Candidate, everything: _Index
    ) -> Finding:
        rule = cand.rule
        end_line = cand.line + text.count("\n", cand.start, cand.end)
        end_line_start = (
            text.rfind("\n", 0, cand.end) + 1 if end_line != cand.line else cand.line_start
        )
        paired: list[tuple[tuple[int, int, int], PairedSecret]] = []
        for spec in rule.pair:
            # nearest first; when nothing stands within reach but the input holds exactly one
            # candidate of each rule (one key ID, one secret), they belong together at any
            # distance; else a secret belongs to the nearest key ID of its enclosing block
            near = everything.around(spec.rule, cand, spec.within_lines, MAX_PAIR_SIDE)
            near = everything.not_owned_elsewhere(spec.rule, cand, near)
            partners = (
                near
                or everything.lone_partner(spec.rule, cand)
                or everything.owned_by(spec.rule, cand)
            )
            for other in partners:
                distance = abs(other.line - cand.line)
                key = (
                    distance,
                    0 if other.start >= cand.start else 1,
                    abs(other.start - cand.start),
                )
                paired.append(
                    (
                        key,
                        PairedSecret(spec.kind, other.rule.id, other.secret, other.line, distance),
                    )
                )
        paired.sort(key=lambda item: item[0])
        finding = Finding(
            rule_id=rule.id,
            rule_name=rule.name,
            severity=rule.severity,
            description=rule.description,
            path=fragment.path,
            line=cand.line,
            column=cand.start - cand.line_start + 1,
            secret=cand.secret,
            entropy=round(cand.entropy, 3),
            end_line=end_line,
            end_column=cand.end - end_line_start + 1,
            source=fragment.source,
            blob_id=fragment.blob_id,
            encoding=cand.encoding,
            paired=tuple(p for _, p in paired),
            identifier=rule.identifier,
            confidence=rule.confidence,
        )
        for name in rule.enrich:  # offline enrichments (scanner.rules.checks.ENRICHMENTS)
            finding = ENRICHMENTS[name](finding)
        return finding


class _Index:
    """Candidates by rule id, in text order, to find the ones near a given candidate."""

    def __init__(self, candidates: list[_Candidate], text: str) -> None:
        self.all = candidates
        self._text = text
        self._groups: dict[str, list[_Candidate]] = {}
        for cand in sorted(candidates, key=lambda c: c.start):
            self._groups.setdefault(cand.rule.id, []).append(cand)
        self._starts = {rid: [c.start for c in group] for rid, group in self._groups.items()}
        self._blocks: Blocks | None = None  # built on first use: most inputs never need it
        self._owned: dict[
            tuple[str, str], tuple[dict[int, _Candidate], dict[int, list[_Candidate]]]
        ] = {}

    def lone_partner(self, rule_id: str, cand: _Candidate) -> list[_Candidate]:
        """The one candidate of ``rule_id`` when ``cand`` is also alone of its rule."""
        group = self._groups.get(rule_id)
        mine = self._groups.get(cand.rule.id)
        if group is None or mine is None or len(group) != 1 or len(mine) != 1:
            return []
        return [] if group[0] is cand else list(group)

    def owned_by(self, rule_id: str, cand: _Candidate) -> list[_Candidate]:
        """The candidates of ``rule_id`` whose owner is ``cand`` (nearest first, at most
        MAX_PAIR_SIDE): each belongs to the nearest candidate of ``cand``'s rule inside the
        smallest structured block around it that holds one (see scanner.detect.blocks), so
        two key IDs of one block never share a secret and each block pairs on its own; outside
        any such block, to the one key ID of the text if there is only one."""
        mine = self._ownership(cand.rule.id, rule_id)[1].get(id(cand), [])
        return sorted(mine, key=lambda c: abs(c.line - cand.line))[:MAX_PAIR_SIDE]

    def not_owned_elsewhere(
        self, rule_id: str, cand: _Candidate, near: list[_Candidate]
    ) -> list[_Candidate]:
        """``near`` without the candidates that a block gives to another candidate of
        ``cand``'s rule (a secret just past the end of one JSON object is not the secret of
        the key ID that opens the next). Free when ``cand`` is the only one of its rule."""
        if not near or len(self._groups.get(cand.rule.id, ())) < 2:
            return near
        owner_of = self._ownership(cand.rule.id, rule_id)[0]
        return [o for o in near if owner_of.get(id(o), cand) is cand]

    def _ownership(
        self, owner_rule: str, rule_id: str
    ) -> tuple[dict[int, _Candidate], dict[int, list[_Candidate]]]:
        """(owner of each candidate of ``rule_id`` that has one, the candidates each owner
        owns), by ``id()``; computed once per pair of rules."""
        key = (owner_rule, rule_id)
        done = self._owned.get(key)
        if done is not None:
            return done
        owner_of: dict[int, _Candidate] = {}
        owned: dict[int, list[_Candidate]] = {}
        self._owned[key] = (owner_of, owned)
        owners = self._groups.get(owner_rule)
        group = self._groups.get(rule_id)
        if not owners or not group or owner_rule == rule_id:
            return owner_of, owned
        if self._blocks is None:
            self._blocks = Blocks(self._text)
        starts = self._starts[owner_rule]
        lines = [c.line for c in owners]
        for cand in group:
            i = self._blocks.owner(cand.start, starts, lines, cand.line)
            if i < 0 and len(owners) == 1:
                i = 0  # the whole text is the block of its one key ID (an environment dump)
            if i >= 0:
                owner_of[id(cand)] = owners[i]
                owned.setdefault(id(owners[i]), []).append(cand)
        return owner_of, owned

    def around(self, rule_id: str, cand: _Candidate, within: int, limit: int) -> list[_Candidate]:
        """Up to ``limit`` candidates of ``rule_id`` on each side of ``cand`` (nearest first in
        text order) that stand within ``within`` lines of it."""
        group = self._groups.get(rule_id)
        if not group:
            return []
        i = bisect.bisect_left(self._starts[rule_id], cand.start)
        out: list[_Candidate] = []
        j, taken = i, 0
        while j < len(group) and taken < limit and group[j].line - cand.line <= within:
            if group[j] is not cand:
                out.append(group[j])
                taken += 1
            j += 1
        j, taken = i - 1, 0
        while j >= 0 and taken < limit and cand.line - group[j].line <= within:
            out.append(group[j])
            taken += 1
            j -= 1
        return out


class _Positions:
    """Keyword offsets in one text, computed once per keyword (see scanner.detect.regions),
    and the text lower-cased, once and only when something asks for it."""

    def __init__(
        self,
        text: str,
        present: frozenset[str] | None = None,
        core_data: Callable[[], bytes] | None = None,
    ) -> None:
        self._text = text
        self._present = present  # keywords the prefilter saw; others need no search
        self._core_data = core_data  # given when every keyword searched for is ASCII
        self._cache: dict[str, list[int] | None] = {}

    @cached_property
    def lowered(self) -> str:
        text = self._text
        if text.isascii():
            return text.lower()
        if self._core_data is not None and "\u0130" not in text and "\u212a" not in text:
            # Only ASCII is searched for, and only U+0130 and U+212A lower to ASCII (or to
            # two characters): the text's core bytes lower-cased (every other character one
            # marker byte), one byte a character where the text takes two or four (15 MB for
            # a 4 MB file of aws/aws-cli: a history worker's peak).
            return self._core_data().lower().decode("latin-1")
        # str.lower() of a non-ASCII text first fills a buffer of three UCS-4 characters per
        # character (one may lower to three): 48 MB for a 4 MB changelog. In pieces, the same
        # text (a final sigma right at a piece's end may read as a plain sigma).
        step = LOWER_PIECE
        return "".join(text[i : i + step].lower() for i in range(0, len(text), step))

    def holds_any(self, needles: Sequence[str]) -> bool:
        """Whether one of ``needles`` (lower-case ASCII) is in ``lowered``, found without
        making ``lowered`` when nothing else has (a full copy of the text: a worker's peak on
        aws/aws-cli's largest files). Pieces overlap by a needle's length, enough for any
        occurrence: a character never lowers to nothing."""
        if "lowered" in self.__dict__:
            return any(needle in self.lowered for needle in needles)
        text, step = self._text, LOWER_PIECE
        overlap = max(map(len, needles), default=1) - 1
        for i in range(0, len(text), step):
            piece = text[i : i + step + overlap].lower()
            if any(needle in piece for needle in needles):
                return True
        return False

    @cached_property
    def low(self) -> str | None:
        """``lowered`` when its offsets are the text's, else None (then no keyword windows).
        Only U+0130 lowers to two characters: a text holding it is not lower-cased for
        nothing (one of aws/aws-cli's 4 MB files, 15 MB as text)."""
        if "\u0130" in self._text:
            return None
        lowered = self.lowered
        return lowered if len(lowered) == len(self._text) else None

    def _absent(self, keyword: str) -> bool:
        # Only ASCII keywords: the prefilter drops non-ASCII characters from its literals.
        present = self._present
        return present is not None and keyword.isascii() and keyword.lower() not in present

    def of(self, keywords: Sequence[str]) -> list[int] | None:
        if self.low is None:
            return None
        merged: list[int] = []
        for keyword in keywords:
            if keyword not in self._cache:
                self._cache[keyword] = (
                    [] if self._absent(keyword) else keyword_positions(self.low, (keyword,))
                )
            found = self._cache[keyword]
            if found is None:
                return None
            merged += found
        if len(merged) > MAX_OCCURRENCES:
            return None
        merged.sort()
        return merged


def _priority(cand: _Candidate) -> tuple[int, int, int]:
    return (0 if cand.encoding is None else 1, _SEVERITY_RANK[cand.rule.severity], cand.order)


def _confident(found: list[Finding], minimum: str) -> list[Finding]:
    """The findings of confidence ``minimum`` or surer."""
    if minimum == Confidence.LOW:
        return found
    return [f for f in found if confidence_at_least(f.confidence, minimum)]


def _layers(cand: _Candidate) -> int:
    """How many encodings were decoded to read ``cand`` (0: plain text)."""
    return 0 if cand.encoding is None else cand.encoding.count("+") + 1


def _two_readings(cand: _Candidate, other: _Candidate) -> bool:
    """One span read twice: plain and decoded, or decoded to two depths (a token reading
    keeps what the other decodes further: ``decoding.DecodedSpan.token_reading``)."""
    same_span = (cand.start, cand.end) == (other.start, other.end)
    return same_span and _layers(cand) != _layers(other)


def _unwrapped(cand: _Candidate, other: _Candidate) -> bool:
    """``cand`` reads ``other``'s span decoded further, by the same rule."""
    return cand.rule is other.rule and _layers(cand) > _layers(other)


def _piece_of_encoded(cand: _Candidate, other: _Candidate) -> bool:
    """``cand`` is plain text inside the encoded span of ``other``, a decoded finding: of the
    same rule, a run between two escapes of a percent-encoded session token
    (``...%2F<run>%2B``) is part of that token, not a token of its own; of a rule no surer, or
    of any rule when the span is a wrapper (``_unwrapped``), it reads the encoding (a
    Kubernetes Secret's base64 value, which a generic rule takes for a password) where the
    decoded text holds the secret. (Text that decodes to text is no random secret.)"""
    return (
        cand.encoding is None
        and other.encoding is not None
        and (cand.rule is other.rule or other.wrapper or _surer(other) < _surer(cand))
        and other.start <= cand.start
        and cand.end <= other.end
    )


def _part_of_token(cand: _Candidate, other: _Candidate) -> bool:
    """``cand`` is decoded from inside ``other``, a plain finding of a self-identifying rule:
    what a short-term Bedrock API key encodes (the key ID that signed it, its session token)
    is part of that key, not a secret of its own."""
    return (
        cand.encoding is not None
        and other.encoding is None
        and other.rule.confidence == Confidence.HIGH
        and other.start <= cand.start
        and cand.end <= other.end
    )


def _surer(cand: _Candidate) -> tuple[int, int, int]:
    return (
        CONFIDENCE_LEVELS.index(cand.rule.confidence),
        _SEVERITY_RANK[cand.rule.severity],
        cand.order,
    )


def _dedupe(candidates: list[_Candidate]) -> list[_Candidate]:
    """Overlapping candidates for the same secret (one contains the other) become one:
    plain text before decoded, then higher severity, then the rule listed first."""
    candidates = sorted(candidates, key=lambda c: (c.start, -c.end, _priority(c)))
    kept: list[_Candidate] = []
    active: list[int] = []  # indexes into kept of candidates that may still overlap
    for cand in candidates:
        active = [i for i in active if kept[i].end > cand.start]
        for i in active:
            other = kept[i]
            if _two_readings(cand, other):
                # one span, two readings (a base64 value and what it decodes to): the surer
                # rule wins, so a generic rule never doubles a provider rule's finding; one
                # rule matching both reads the decoded secret (the plain text only wraps it:
                # a random secret never decodes to text), which is what AWS verifies
                if _unwrapped(cand, other):
                    cand.wrapper = True
                    kept[i] = cand
                elif _unwrapped(other, cand):
                    other.wrapper = True
                elif _surer(cand) < _surer(other):
                    kept[i] = cand
                break
            if cand.secret in other.secret or other.secret in cand.secret:
                if _priority(cand) < _priority(other):
                    kept[i] = cand
                break
            if _piece_of_encoded(cand, other) or _part_of_token(cand, other):
                break
        else:
            active.append(len(kept))
            kept.append(cand)
    kept.sort(key=lambda c: (c.start, c.order))
    return kept
