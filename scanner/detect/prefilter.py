"""The keyword prefilter: one cheap pass over raw bytes that says which rules could match.

Two kinds of literals go into one set:

- rule ``keywords``, matched case-insensitively;
- the base64 forms of rule ``base64_keywords`` (case-exact, e.g. ``AKIA``, ``ghp_``) at each of
  the three byte alignments, matched case-sensitively, so that a base64-encoded key ID or
  token (a Kubernetes Secret, an encoded credentials file) still wakes the detector, which
  then runs its base64 decoding layer.

With the optional ``hyperscan`` package the set is one compiled Hyperscan literal database (a
single pass at memory speed). Otherwise RE2 (``google-re2``) matches it: a ``Set`` of every
literal (keywords caseless, base64 forms case-exact, the decoding signals) says in one DFA pass
which occur, and ``wants`` searches one alternation that stops at the first. On a twentieth of
moto's history (110 MB of candidate texts), finding which literals occur took 0.19 s of CPU with
the ``Set`` against 6.2 s with the trie-shaped ``re`` regex it replaces (bench/README.md).
RE2 reads the bytes as Latin-1 (``re2bytes``): a caseless literal folds ASCII letters only, as
Hyperscan's does.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.detect import dbcache, re2bytes
from scanner.models import bom_of, decode_bytes, eight_bit_body

MIN_ENCODED_FORM = 4  # shorter base64 forms are dropped (they would match almost anything)
# Distinct keyword sets remembered (``Prefilter.hits``): localstack's history shows 1,553 in
# 64,037 blobs, 1.6 KB each
KNOWN_HITS = 2048


def base64_forms(keyword: str) -> list[str]:
    """The parts of base64 text that are fully determined by ``keyword`` at each of the three
    byte alignments in which it can appear inside base64-encoded data."""
    raw = keyword.encode("ascii", "ignore")
    forms: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\x00" * offset + raw).decode()
        start = (offset * 8 + 5) // 6
        end = ((offset + len(raw)) * 8) // 6
        form = encoded[start:end]
        if len(form) >= MIN_ENCODED_FORM:
            forms.append(form)
    return forms


def escaped_forms(keyword: str) -> list[str]:
    """``keyword`` written one escape a character, as the decoding layer's ``hex-escape``
    reads it (``\\xNN`` in lower- and upper-case hex: obfuscated JavaScript writes its strings
    so) and as its ``html-entity`` does (``&#NN;`` in decimal, ``&#xNN;`` in either case of
    hex: an HTML page that hides an address or a key from scrapers)."""
    raw = keyword.encode("ascii", "ignore")
    if not raw:
        return []
    hex_lower = "".join(f"\\x{b:02x}" for b in raw)
    html_lower = "".join(f"&#x{b:02x};" for b in raw)
    return [
        hex_lower,
        hex_lower.upper().replace("\\X", "\\x"),
        "".join(f"&#{b};" for b in raw),
        html_lower,
        html_lower.upper().replace("&#X", "&#x"),
    ]


@dataclass(frozen=True)
class KeywordHits:
    """Which rules had a keyword in the bytes, and whether an encoded keyword form was seen."""

    rules: frozenset[int]
    encoded: bool
    # Lower-case plain keywords seen (None: not known). A keyword missing here is absent from
    # the text, so the detector skips searching for its positions (bench/: half the CPU time
    # of scanning candidates went to such searches of every gated keyword over every text).
    present: frozenset[str] | None = None
    # Which SIGNALS occur (None: not known): the decoding layer's triggers, found in the same
    # pass instead of by scanning every candidate text again.
    signals: frozenset[str] | None = None


# Literals that are no keyword but tell the decoding layer where to look (scanner.detect.
# decoding): (name, literal, case-insensitive). They never make ``wants`` answer True.
SIGNALS: tuple[tuple[str, bytes, bool], ...] = (
    ("percent", b"%2b", True),
    ("percent", b"%2f", True),
    ("percent", b"%3d", True),
    ("json-escape", b"\\/", False),
    ("json-escape", b"\\u00", False),
    ("hex-escape", b"\\x", False),
    ("html-entity", b"&#", False),
)
# What the Hyperscan database looks for instead of the two-character ``\/``: the same with a
# neighbour a JSON-escape span allows (a span has at least 16 units, so each ``\/`` in one
# has a unit before or after it). A ``\/`` without one is in no span, and a layer that finds
# no span with its marker decodes nothing: the signal is only missing where it changes
# nothing. One two-character literal slowed the keyword pass of every byte by a sixth (moto's
# HEAD files: 0.043 s per 100 MB, 0.039 s with these 131 literals of three).
_SPAN_UNIT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_HS_SIGNALS: tuple[tuple[str, bytes, bool], ...] = (
    *(signal for signal in SIGNALS if signal[1] != b"\\/"),
    *(("json-escape", bytes([c]) + b"\\/", False) for c in _SPAN_UNIT),
    *(("json-escape", b"\\/" + bytes([c]), False) for c in _SPAN_UNIT + b"\\"),
)


@dataclass
class _Literal:
    text: bytes  # lower case for keywords, case-exact for base64 forms
    rules: set[int]
    encoded: bool


def _hyperscan() -> Any | None:
    try:
        import hyperscan
    except ImportError:
        return None
    return hyperscan


def _escape(literal: bytes) -> bytes:
    return b"".join(bytes([b]) if chr(b).isalnum() and b < 128 else b"\\x%02x" % b for b in literal)


def _pattern(literal: bytes, caseless: bool) -> bytes:
    escaped = _escape(literal)
    return b"(?i:" + escaped + b")" if caseless else escaped


class Prefilter:
    """Keyword literals of all rules in one structure; see the module docstring.

    ``keywords[i]`` and ``base64_keywords[i]`` belong to rule ``i``. A rule without keywords is
    always active, unless it is in ``path_gated`` (the detector activates those by path).
    ``backend`` is ``"hyperscan"`` or ``"re2"``; ``use_hyperscan=False`` forces the
    RE2 path (tests do, to keep both paths covered), ``True`` requires Hyperscan.
    Instances pickle (the database is rebuilt on unpickling). ``hs_patterns`` are the
    Hyperscan expressions and flags of the pass, in id order (empty without Hyperscan): the
    rule database also holds them (``CoreMatcher``), so that one scan of a text that has
    keywords does both passes (``hits_of`` reads its answer).
    """

    def __init__(
        self,
        keywords: Sequence[Sequence[str]],
        base64_keywords: Sequence[Sequence[str]] = (),
        *,
        use_hyperscan: bool | None = None,
        path_gated: Collection[int] = (),
    ) -> None:
        self._args = (
            tuple(tuple(k) for k in keywords),
            tuple(tuple(k) for k in base64_keywords),
            use_hyperscan,
            tuple(path_gated),
        )
        plain: dict[bytes, _Literal] = {}
        encoded: dict[bytes, _Literal] = {}
        always: set[int] = set()
        for index, rule_keywords in enumerate(keywords):
            if not rule_keywords and index not in path_gated:
                always.add(index)
            for keyword in rule_keywords:
                key = keyword.lower().encode("ascii", "ignore")
                if key:
                    plain.setdefault(key, _Literal(key, set(), False)).rules.add(index)
        for index, rule_b64 in enumerate(base64_keywords):
            for keyword in rule_b64:
                for form in (*base64_forms(keyword), *escaped_forms(keyword)):
                    key = form.encode("ascii")
                    encoded.setdefault(key, _Literal(key, set(), True)).rules.add(index)
        self._plain = list(plain.values())
        self._encoded = list(encoded.values())
        self._literals = self._plain + self._encoded
        self._always = frozenset(always)
        self._re2_any: Any | None = None
        self._re2_set: Any | None = None
        self._hs: Any | None = None
        self._db: Any | None = None
        self._local = threading.local()
        # KeywordHits per sorted tuple of the ids a pass found: the versions of one file
        # in a history mostly hold the same keywords
        self._known: dict[tuple[int, ...], KeywordHits] = {}
        hs = _hyperscan() if use_hyperscan is not False else None
        if use_hyperscan and hs is None:
            raise ImportError("hyperscan is not installed (pip install 'keysweep[fast]')")
        self.hs_patterns: tuple[tuple[bytes, int], ...] = ()
        if hs is not None and self._literals:
            single = hs.HS_FLAG_SINGLEMATCH
            caseless = hs.HS_FLAG_CASELESS
            expressions = [_escape(lit.text) for lit in self._literals]
            expressions += [_escape(text) for _, text, _ in _HS_SIGNALS]
            flags = [single | (0 if lit.encoded else caseless) for lit in self._literals]
            flags += [single | (caseless if nocase else 0) for _, _, nocase in _HS_SIGNALS]
            ids = list(range(len(expressions)))
            try:
                self._db = dbcache.compiled(hs, expressions, ids, flags)
                self._hs = hs
                self.hs_patterns = tuple(zip(expressions, flags, strict=True))
            except hs.error:  # a limit of Hyperscan's that a custom pack hits: RE2 does the pass
                self._db = None
        if self._db is None and self._literals:
            literals = [_pattern(lit.text, not lit.encoded) for lit in self._literals]
            self._re2_any = re2bytes.compile_bytes(b"|".join(literals))  # `wants`: the first
            signals = [_pattern(text, nocase) for _, text, nocase in SIGNALS]
            self._re2_set = re2bytes.literal_set(literals + signals)
        self.backend = "hyperscan" if self._db is not None else "re2"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, self._args)

    @staticmethod
    def _normalise(raw: bytes) -> bytes:
        found = bom_of(raw)
        if found is not None and found[1] != "utf-8":
            return decode_bytes(raw).encode("utf-8", "replace")
        return raw

    def _scratch(self) -> Any:
        # Hyperscan scratch space is per thread.
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            assert self._hs is not None
            scratch = self._hs.Scratch(self._db)
            self._local.scratch = scratch
        return scratch

    def wants(self, raw: bytes) -> bool:
        """False means no rule keyword (plain or base64 form) occurs in ``raw``."""
        if self._always:
            return True
        body = eight_bit_body(raw)
        return self._wants(self._normalise(raw)) or (body is not None and self._wants(body))

    def _wants(self, raw: bytes) -> bool:
        if self._db is not None:
            assert self._hs is not None
            try:
                self._db.scan(
                    raw,
                    match_event_handler=_stop_below,
                    context=len(self._literals),
                    scratch=self._scratch(),
                )
            except self._hs.ScanTerminated:
                return True
            return False
        return self._re2_any is not None and self._re2_any.search(raw) is not None

    def hits(self, raw: bytes) -> KeywordHits:
        """Rules whose keywords occur in ``raw`` (plus keyword-less rules)."""
        raw = self._normalise(raw)
        if self._db is not None:
            found: list[int] = []
            self._db.scan(raw, match_event_handler=_collect, context=found, scratch=self._scratch())
        elif self._re2_set is not None:
            found = self._re2_set.Match(raw) or []
        else:
            found = []
        return self.hits_of(found)

    def hits_of(self, found: Sequence[int]) -> KeywordHits:
        """``hits`` from the ids of ``hs_patterns`` that a scan of the bytes reported (a
        database holding them among other patterns: ``CoreMatcher.ends_and_literals``)."""
        key = tuple(sorted(found))
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= KNOWN_HITS:
                self._known.clear()
            known = self._known[key] = self._hits_of(key)
        return known

    def _hits_of(self, found: Sequence[int]) -> KeywordHits:
        """``KeywordHits`` of the literal and signal ids a pass found."""
        n = len(self._literals)
        literals = [self._literals[i] for i in found if i < n]
        table = _HS_SIGNALS if self._db is not None else SIGNALS
        signals = frozenset(table[i - n][0] for i in found if i >= n)
        rules = set(self._always)
        encoded = False
        for lit in literals:
            rules.update(lit.rules)
            encoded = encoded or lit.encoded
        present = frozenset(lit.text.decode("ascii") for lit in literals if not lit.encoded)
        return KeywordHits(frozenset(rules), encoded, present, signals)


def _stop_below(expr_id: int, _start: int, _end: int, _flags: int, limit: int) -> bool:
    return expr_id < limit  # a keyword literal (not a signal): stop, the answer is known


def _collect(expr_id: int, _start: int, _end: int, _flags: int, ctx: list[int]) -> None:
    ctx.append(expr_id)


def _rebuild(
    keywords: tuple[tuple[str, ...], ...],
    base64_keywords: tuple[tuple[str, ...], ...],
    use_hyperscan: bool | None,
    path_gated: tuple[int, ...],
) -> Prefilter:
    return Prefilter(keywords, base64_keywords, use_hyperscan=use_hyperscan, path_gated=path_gated)
