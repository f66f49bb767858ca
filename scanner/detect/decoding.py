"""Decoding layers: find secrets written in encoded form (base64, percent-encoding, JSON and hex
escapes, HTML character references).

The detector first scans the text as it is. Then, only when something suggests an encoded
secret, it finds encoded spans, decodes them and scans *views*: the line(s) around the span
with the span replaced by its decoded text. A finding inside a decoded region is reported at the
location of the encoded text, with ``Finding.encoding`` set.

Triggers (each layer costs nothing when its trigger is absent):

- ``percent``: the text contains ``%2F``, ``%2B`` or ``%3D`` (any case).
- ``json-escape``: the text contains ``\\/`` or ``\\u00``.
- ``hex-escape``: the text contains ``\\x`` (``"\\x41\\x4b..."``: C, Python and shell
  strings, and the strings of obfuscated JavaScript, written one escape a character).
- ``html-entity``: the text contains ``&#`` (numeric character references of printable
  ASCII, ``&#x2F;`` or ``&#43;``: what HTML encoders make of a secret's ``/``, ``+`` and
  ``=`` in a rendered page or an exported report).
- ``base64``: the prefilter saw a base64 form of a rule keyword (then every base64 run is a
  candidate), or a base64 run follows a rule keyword within the same line (e.g.
  ``AWS_SECRET_ACCESS_KEY: <base64>`` in a Kubernetes Secret).

Inside decoded base64 (already behind one of those gates) the next level opens by itself:
every base64 run of the decoded text is tried, and so is the payload of a JWT (base64url),
so base64 in base64 in base64, and base64 inside a JWT payload inside base64, are found.

Bounds: runs of 16..8192 characters, at most 256 spans per layer, at most 1 MiB of decoded
text per fragment, and decoding nests at most MAX_DEPTH (three) levels deep. Decoded base64
must be UTF-8 text that is at least 95% printable.
"""

from __future__ import annotations

import base64
import binascii
import functools
import heapq
import re
import string
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, AnyStr

from scanner.detect import re2bytes

MAX_SPANS_PER_LAYER = 256
MAX_DECODED_CHARS = 1 << 20
MAX_DEPTH = 3
VIEW_CONTEXT_CHARS = 1024  # text kept before a decoded line in its view (for context gates)
KEYWORD_LOOKBACK = 80  # chars before a base64 run searched for a rule keyword
REMEMBERED_RUN = 512  # base64 runs up to this long are decoded once per process
LONG_LINE = 4096  # past this, a line ``run_lines`` finds is checked with the gap's bound

_PERCENT_TRIGGER = re.compile(r"%(?:2[bBfF]|3[dD])")
_PERCENT_SPAN = re.compile(
    r"(?<![A-Za-z0-9._~+/%-])[A-Za-z0-9._~+/%-]{16,8192}(?![A-Za-z0-9._~+/%-])"
)
_JSON_SPAN = re.compile(r"(?:[A-Za-z0-9+/=]|\\/|\\u00[2-7][0-9a-fA-F]){16,8192}")
# Runs of the characters spans are made of: a span lies inside one, and finditer over one run
# gives the spans finditer over the whole text gives there. A run without the layer's marker
# character needs no span search (moto's history: the JSON-escape layer took 2.8 s of 41 when
# it searched the spans' alternation everywhere). The runs are found by ``_marked_runs``.
_PERCENT_CHARS = string.ascii_letters + string.digits + "._~+/%-"
_JSON_CHARS = string.ascii_letters + string.digits + "+/=\\"
_HTML_CHARS = string.ascii_letters + string.digits + "+/=&#;"
_PERCENT_RUN = re.compile(rf"[{re.escape(_PERCENT_CHARS)}]{{16,}}")
_MAX_SPAN = 8192
_JSON_UNICODE = re.compile(r"\\u00(?P<hex>[2-7][0-9a-fA-F])")
_HEX_SPAN = re.compile(r"(?:[A-Za-z0-9+/=]|\\x[2-7][0-9a-fA-F]){16,8192}")
_HEX_ESCAPE = re.compile(r"\\x(?P<hex>[2-7][0-9a-fA-F])")
# A numeric character reference of a printable ASCII character (hex 20-7F, decimal 32-126), as
# HTML and XML encoders write them: ``&#x2F;``, ``&#X2f;``, ``&#43;``, ``&#x002F;``.
_HTML_ESCAPE = re.compile(
    r"&#(?:[xX]0{0,4}(?P<hex>[2-7][0-9a-fA-F])|0{0,4}(?P<dec>3[2-9]|[4-9][0-9]|1[01][0-9]|12[0-6]));"
)
HTML_MARK = re.compile(re.sub(r"\(\?P<\w+>", "(?:", _HTML_ESCAPE.pattern))  # the same, no groups
_HTML_SPAN = re.compile(rf"(?:[A-Za-z0-9+/=]|{HTML_MARK.pattern}){{16,8192}}")
# The first two characters of a base64 run that ``decode_base64`` can accept: it decodes to
# UTF-8 text, so its first byte is ASCII (first character A-f) or a lead byte (w-z, 0-9), never
# 0x80-0xBF or 0xF8-0xFF (g-v, +, /); after an ASCII byte, the second byte is ASCII or a lead
# byte too, never a continuation byte (second character I-L, Y-b, o-r, 4-7). Runs that start
# otherwise are never spans: in getmoto/moto's history the first character alone ruled out a
# third of the runs tried after keywords ("com/cloudsearch/"), and 48 of 61,772 decoded.
_B64_HEAD = r"(?:[A-Za-f][A-HM-Xc-ns-z0-38-9+/]|[w-z0-9][A-Za-z0-9+/])"
# (The run-start patterns for Hyperscan test the first character only: the alternation cost
# its scan half as much again. ``_runs_at`` still matches each start with ``_B64_SPAN``.)
_B64_SPAN = re.compile(
    rf"(?<![A-Za-z0-9+/]){_B64_HEAD}[A-Za-z0-9+/]{{14,8190}}={{0,2}}(?![A-Za-z0-9+/=])"
)
_B64_SPAN_BYTES = re.compile(_B64_SPAN.pattern.encode("ascii"))
_NEVER = 1 << 62  # an offset past any text
_B64_RUN = re.compile(rf"(?<![A-Za-z0-9+/]){_B64_HEAD}[A-Za-z0-9+/]{{14}}")  # a span's start
# The header and payload of a JWT (header.payload.signature, base64url, both JSON objects so
# "eyJ"): decoded together, the signature stays as it is.
_JWT_SPAN = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,2048}\.eyJ[A-Za-z0-9_-]{12,8192}(?![A-Za-z0-9_-])"
)


@dataclass(frozen=True)
class DecodedSpan:
    """``text[start:end]`` decodes to ``decoded`` (``encoding`` names the layers, outer first).

    ``token_reading``: the same span with the encoded values inside its decoded text kept as
    they are, or read so themselves where they have a reading of their own (None when
    nothing was decoded inside it). Some credentials are encoded by their format: a JWT (a
    Supabase service_role key, a JWT-shaped session token), a Docker config's base64
    ``auth``. ``decoded`` shows what they hold; a rule matching the credential itself reads
    it here, even two levels down (a JWT in base64 in base64)."""

    start: int
    end: int
    decoded: str
    encoding: str
    token_reading: DecodedSpan | None = None


@dataclass(frozen=True)
class Region:
    view_start: int
    view_end: int
    span: DecodedSpan


@dataclass(frozen=True)
class View:
    """Text to scan again: context before, then a line with decoded spans substituted."""

    text: str
    regions: tuple[Region, ...]

    def region_of(self, start: int, end: int) -> Region | None:
        for region in self.regions:
            if region.view_start <= start and end <= region.view_end:
                return region
        return None


class _Budget:
    def __init__(self) -> None:
        self.chars = MAX_DECODED_CHARS

    def take(self, n: int) -> bool:
        if n > self.chars:
            return False
        self.chars -= n
        return True


def _printable(text: str) -> bool:
    if len(text) < 8:
        return False
    bad = sum(1 for c in text if not (c.isprintable() or c in "\r\n\t"))
    return bad * 20 <= len(text)


def decode_base64(span: str) -> str | None:
    """Decoded UTF-8 text of a base64 run, or None if it is not base64 of mostly-printable text.

    Runs up to REMEMBERED_RUN characters are remembered: the versions of a file in a history
    repeat them (localstack's history tried 264,946 runs after keywords, 3,066 distinct)."""
    if len(span) <= REMEMBERED_RUN:
        return _remembered_base64(span)
    return _decode_base64(span)


def _decode_base64(span: str) -> str | None:
    body = span.rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return text if _printable(text) else None


_remembered_base64 = functools.lru_cache(maxsize=4096)(_decode_base64)


def decode_jwt(span: str) -> str | None:
    """``header.payload`` of a JWT, each part decoded from base64url, or None."""
    header, _, payload = span.partition(".")
    parts = [decode_base64(p.replace("-", "+").replace("_", "/")) for p in (header, payload)]
    return None if parts[0] is None or parts[1] is None else f"{parts[0]}.{parts[1]}"


def decode_percent(span: str) -> str | None:
    if "%" not in span:
        return None
    try:
        decoded = urllib.parse.unquote(span, errors="strict")
    except UnicodeDecodeError:
        return None
    return decoded if decoded != span else None


def decode_json_escapes(span: str) -> str | None:
    if "\\" not in span:
        return None
    return _unescaped(_JSON_UNICODE, span.replace("\\/", "/"), span)


def decode_hex_escapes(span: str) -> str | None:
    if "\\x" not in span:
        return None
    return _unescaped(_HEX_ESCAPE, span, span)


def decode_html_references(span: str) -> str | None:
    if "&#" not in span:
        return None
    return _unescaped(_HTML_ESCAPE, span, span)


def _unescaped(escape: re.Pattern[str], text: str, span: str) -> str | None:
    """``text`` with each ``escape`` made its character (the group that matched: ``hex``, two
    hex digits, or ``dec``, a decimal number); None when that leaves ``span`` as it was."""
    decoded = escape.sub(
        lambda m: chr(int(m["hex"], 16)) if m["hex"] is not None else chr(int(m["dec"])), text
    )
    return decoded if decoded != span else None


class SpanFinder:
    """Finds encoded spans in a text, bounded, nested up to MAX_DEPTH levels.

    ``keywords`` are the (lower-case) rule keywords used for the base64 keyword trigger;
    ``encoded_keyword_in(text)`` tells whether a base64 keyword form occurs in ``text``.
    """

    def __init__(self, keywords: Sequence[str], encoded_keyword_in: Callable[[str], bool]) -> None:
        self._keywords = tuple(sorted(set(keywords)))
        # A keyword that contains another adds nothing: where it stands, the shorter one
        # stands too, and allows every run start the longer one allows.
        self._anchors = tuple(
            k for k in self._keywords if not any(o != k and o in k for o in self._keywords)
        )
        self._encoded_keyword_in = encoded_keyword_in
        # ``run_lines``' two RE2 patterns (any gap, bounded gap), once made
        self._line_pattern: list[tuple[Any, Any] | None] = []

    def run_start_patterns(self) -> list[bytes] | None:
        """Hyperscan patterns whose match ends, minus 16, include every start of a base64 run
        that has a keyword in the KEYWORD_LOOKBACK characters before it on its line (an anchor
        keyword, then a non-newline gap, then a run of 16 that does not continue one). None
        when some keyword cannot be written so (non-ASCII, or too long). Anchors of one
        length share a gap, and a pattern (on an eighth of localstack's history the rule
        database took 0.31 s with 9 such patterns, 0.33 s with one per anchor, 36)."""
        by_length: dict[int, list[str]] = {}
        for anchor in self._anchors:
            by_length.setdefault(len(anchor), []).append(anchor)
        patterns = [_run_start_pattern(anchors) for anchors in by_length.values()]
        return None if None in patterns else [p for p in patterns if p is not None]

    def run_lines(
        self, data: bytes, long_line: int = LONG_LINE
    ) -> Iterator[tuple[int, int]] | None:
        """The lines of ``data`` (core bytes) where one RE2 pattern wider than every pattern
        of ``run_start_patterns`` matches (the anchors in one alternation, with the longest
        gap): every base64 run the keyword trigger lets the layer try is on one of them.
        (RE2 finds the leftmost match from each line end on; an anchor with such a run is a
        match start, or lies inside a match, on its line.) None: no such pattern. Without
        Hyperscan it stands in for those patterns: on moto's history the layer's search after
        keywords went from half of the scan time to an eighth. Their exact alternation cost
        RE2 nine times as much on localstack's history (gaps of different lengths make a
        large automaton).

        The gap's bound is what makes that automaton large: RE2 first finds the lines with
        an anchor and such a run anywhere after it (any gap), and asks the bounded pattern
        only about those longer than ``long_line``. On a twentieth of aws/aws-cli's history
        (4,700 blobs) finding the lines took 11.9 of 23.3 s with the bounded pattern alone."""
        if not self._line_pattern:
            bounded = _run_start_pattern(self._anchors)
            any_gap = _run_start_pattern(self._anchors, any_gap=True)
            if bounded is None or any_gap is None:
                self._line_pattern.append(None)
            else:
                compiled = re2bytes.compile_bytes(any_gap), re2bytes.compile_bytes(bounded)
                self._line_pattern.append(compiled)
        patterns = self._line_pattern[0]
        if patterns is None:
            return None
        wide, exact = patterns
        return _lines_matching(wide, exact, data, long_line)

    def __getstate__(self) -> dict[str, object]:
        return dict(self.__dict__, _line_pattern=[])  # compiled again where it is used

    def find(
        self,
        text: str,
        *,
        encoded_keyword: bool,
        keyword_positions: Sequence[int] | None = None,
        lowered: str | None = None,
        present: Collection[str] | None = None,
        run_starts: Sequence[int] | None = None,
        run_lines: Iterable[tuple[int, int]] | None = None,
        budget: _Budget | None = None,
        depth: int = 1,
        inside_base64: bool = False,
        signals: Collection[str] | None = None,
    ) -> list[DecodedSpan]:
        """Encoded spans of ``text``. ``keyword_positions`` (offsets of the rule keywords, if
        known) limit the keyword-triggered base64 search to the text right after them.
        ``inside_base64``: ``text`` is decoded base64, so every base64 run and JWT payload in
        it is tried (the gate was passed one level up). ``signals``: which of the prefilter's
        SIGNALS occur in ``text`` (None: look). ``run_starts`` (from Hyperscan) or
        ``run_lines`` (from RE2, ``run_lines``) say where the keyword-triggered runs are."""
        budget = budget or _Budget()
        spans: list[DecodedSpan] = []
        if inside_base64 and "eyJ" in text:
            spans += self._layer(_JWT_SPAN.finditer(text), decode_jwt, "jwt", budget, depth)
        if _PERCENT_TRIGGER.search(text) if signals is None else "percent" in signals:
            spans += self._layer(_percent_spans(text), decode_percent, "percent", budget, depth)
        for layer in _ESCAPE_LAYERS:
            if (
                any(literal in text for literal in layer.literals)
                if signals is None
                else layer.name in signals
            ):
                spans += self._layer(
                    _escape_spans(text, layer.marker, layer.span, layer.table),
                    layer.decode,
                    layer.name,
                    budget,
                    depth,
                )
        anchors = self._anchors
        if present is not None:  # ASCII keywords the prefilter did not see are absent
            anchors = tuple(k for k in anchors if k in present or not k.isascii())
        spans += self._base64(
            text,
            encoded_keyword or inside_base64,
            keyword_positions,
            lowered,
            anchors,
            run_starts,
            run_lines,
            budget,
            depth,
        )
        spans.sort(key=lambda s: (s.start, -s.end))
        kept: list[DecodedSpan] = []
        for span in spans:
            if kept and span.start < kept[-1].end:
                continue
            kept.append(span)
        return kept

    def _layer(
        self,
        matches: Iterable[re.Match[str]],
        decode: Callable[[str], str | None],
        name: str,
        budget: _Budget,
        depth: int,
    ) -> list[DecodedSpan]:
        """Decode the spans ``matches`` gives, the first MAX_SPANS_PER_LAYER of them."""
        out: list[DecodedSpan] = []
        for tried, m in enumerate(matches):
            if tried >= MAX_SPANS_PER_LAYER:
                break
            decoded = decode(m.group(0))
            if decoded is None or not budget.take(len(decoded)):
                continue
            span = DecodedSpan(m.start(), m.end(), decoded, name)
            if depth < MAX_DEPTH:
                inner = self.find(
                    decoded,
                    encoded_keyword=self._encoded_keyword_in(decoded),
                    budget=budget,
                    depth=depth + 1,
                    inside_base64=name in ("base64", "jwt"),
                )
                if inner:
                    span = DecodedSpan(
                        span.start,
                        span.end,
                        substitute(decoded, inner),
                        _encoding(name, inner),
                        _token_reading(span, inner),
                    )
            out.append(span)
        return out

    def _base64(
        self,
        text: str,
        encoded_keyword: bool,
        positions: Sequence[int] | None,
        lowered: str | None,
        anchors: Sequence[str],
        run_starts: Sequence[int] | None,
        run_lines: Iterable[tuple[int, int]] | None,
        budget: _Budget,
        depth: int,
    ) -> list[DecodedSpan]:
        if encoded_keyword:
            return self._layer(_B64_SPAN.finditer(text), decode_base64, "base64", budget, depth)
        keywords = self._keywords
        if not keywords:
            return []
        runs: Iterable[re.Match[str]]
        if run_starts is not None:  # from the vectorised pass (run_start_patterns)
            whole = [(0, len(text))] if positions is None else _after(text, positions)
            runs = _runs_at(text, whole, keywords, run_starts, anchored=True)
        elif run_lines is not None:  # from RE2 (run_lines): whole lines, so exact
            runs = _runs_after_keywords(text, run_lines, anchors, None)
        elif positions is not None:
            runs = _runs_after_keywords(text, _after(text, positions), anchors, lowered)
        elif lowered is not None:
            runs = _runs_after_keywords(text, [(0, len(text))], anchors, lowered)
        else:  # lower-casing changes offsets: test every run
            runs = (
                m for m in _B64_SPAN.finditer(text) if _keyword_before(text, m.start(), keywords)
            )
        return self._layer(runs, decode_base64, "base64", budget, depth)


def _lines_matching(
    wide: Any, exact: Any, data: bytes, long_line: int
) -> Iterator[tuple[int, int]]:
    """The lines of ``data`` where ``exact`` (RE2) matches, in order, found as they are asked
    for (the base64 layer stops after MAX_SPANS_PER_LAYER runs, and a large JSON text has
    thousands of such lines), and the lines up to ``long_line`` characters where ``wide``
    (which matches wherever ``exact`` does) matches."""
    pos = 0
    while (m := wide.search(data, pos)) is not None:
        start = data.rfind(b"\n", 0, m.start()) + 1
        end = data.find(b"\n", m.end())
        end = len(data) if end < 0 else end
        if end - start <= long_line or exact.search(data, start, end) is not None:
            yield start, end
        pos = end + 1


def _run_start_pattern(anchors: Sequence[str], *, any_gap: bool = False) -> bytes | None:
    """``anchors`` (caseless), a gap on the line that keeps the run within KEYWORD_LOOKBACK of
    the shortest anchor's start (``any_gap``: a gap of any length on the line), a run of 16
    that does not continue one (None: a non-ASCII or too long anchor, or none)."""
    if not anchors or not all(a.isascii() for a in anchors):
        return None
    gap = KEYWORD_LOOKBACK - 1 - min(len(a) for a in anchors)
    if gap < 0:
        return None
    literals = b"|".join(b"".join(b"\\x%02x" % c for c in a.encode("ascii")) for a in anchors)
    repeat = b"*" if any_gap else b"{0,%d}" % gap
    tail = b"(?:[^\\n]" + repeat + b"[^A-Za-z0-9+/\\n])?[A-Za-fw-z0-9][A-Za-z0-9+/]{15}"
    return b"(?i:" + literals + b")" + tail


def _percent_spans(text: str) -> Iterator[re.Match[str]]:
    """The spans of ``_PERCENT_SPAN.finditer(text)`` that hold a ``PERCENT_MARK``
    (``decode_percent`` gives the others back unchanged: refused), in order. The span's
    lookarounds make it a whole run of at most _MAX_SPAN characters."""
    for start, end in _marked_runs(text, PERCENT_MARK, _PERCENT_TABLE):
        if end - start <= _MAX_SPAN:
            m = _PERCENT_RUN.match(text, start, end)
            if m is not None:
                yield m


def _escape_spans(
    text: str, marker: re.Pattern[str], span: re.Pattern[str], table: bytes
) -> Iterator[re.Match[str]]:
    """The spans of ``span.finditer(text)`` (``_JSON_SPAN``, ``_HEX_SPAN``, ``_HTML_SPAN``)
    in the runs of their characters (``table``) that hold a ``marker`` (``JSON_MARK``,
    ``HEX_MARK``, ``HTML_MARK``): their decoding changes nothing else, so it refuses a span
    without one, and every span lies in one run. In order."""
    for start, end in _marked_runs(text, marker, table):
        yield from span.finditer(text, start, end)


def _table(chars: str) -> bytes:
    """A ``bytes.translate`` table: "a" for the (ASCII) bytes of ``chars``, " " for the rest."""
    return bytes(0x61 if chr(b) in chars else 0x20 for b in range(256))


# What a span must hold for its layer's decoding to change it: a percent escape, a JSON escape
# of "/" or of a printable ASCII character (``decode_percent``, ``decode_json_escapes``).
PERCENT_MARK = re.compile(r"%[0-9A-Fa-f]{2}")
JSON_MARK = re.compile(r"\\/|\\u00[2-7][0-9a-fA-F]")
HEX_MARK = re.compile(r"\\x[2-7][0-9a-fA-F]")
_PERCENT_TABLE = _table(_PERCENT_CHARS)
_JSON_TABLE = _table(_JSON_CHARS)
_HTML_TABLE = _table(_HTML_CHARS)


@dataclass(frozen=True)
class _EscapeLayer:
    """A layer that reads escapes one character each: its name (the prefilter's signal),
    the literals that tell it may have work when the signals are not known, what a span
    must hold (``marker``), the span, the characters of its runs, and its decoding."""

    name: str
    literals: tuple[str, ...]
    marker: re.Pattern[str]
    span: re.Pattern[str]
    table: bytes
    decode: Callable[[str], str | None]


_ESCAPE_LAYERS = (
    _EscapeLayer(
        "json-escape", ("\\/", "\\u00"), JSON_MARK, _JSON_SPAN, _JSON_TABLE, decode_json_escapes
    ),
    _EscapeLayer("hex-escape", ("\\x",), HEX_MARK, _HEX_SPAN, _JSON_TABLE, decode_hex_escapes),
    _EscapeLayer(
        "html-entity", ("&#",), HTML_MARK, _HTML_SPAN, _HTML_TABLE, decode_html_references
    ),
)
_FIRST_STEP = 64  # characters mapped at a time by ``_run_around``, doubling up to MAX_STEP
MAX_STEP = 1 << 20


def _marked_runs(text: str, marker: re.Pattern[str], table: bytes) -> Iterator[tuple[int, int]]:
    """The spans of ``re.finditer("[chars]{16,}", text)`` for the characters ``table`` marks
    (``_table``; every match of ``marker`` is made of them) that hold a match of ``marker``,
    found from those matches: only the runs around them are mapped. The runs without one
    were walked too, and counted towards MAX_SPANS_PER_LAYER: in localstack's history the
    percent layer went through two hundred runs of a snapshot file (identifiers) for each
    run with a "%", and a text with more than 256 such runs before its first "%" had no span
    decoded at all."""
    found = marker.search(text)
    while found is not None:
        start, end = _run_around(text, found.start(), table)
        if end - start >= 16:
            yield start, end
        found = marker.search(text, max(end, found.end()))


def _run_around(text: str, pos: int, table: bytes) -> tuple[int, int]:
    """The maximal run of the characters ``table`` marks around ``text[pos]`` (one of them),
    mapped to one byte per character a piece at a time (a character past Latin-1 maps to one
    "?", which no table marks)."""
    start, step = pos, _FIRST_STEP
    while start > 0:
        lo = max(0, start - step)
        gap = text[lo:start].encode("latin-1", "replace").translate(table).rfind(b" ")
        if gap >= 0:
            start = lo + gap + 1
            break
        start, step = lo, min(step * 2, MAX_STEP)
    end, step, n = pos + 1, _FIRST_STEP, len(text)
    while end < n:
        piece = text[end : end + step].encode("latin-1", "replace").translate(table)
        gap = piece.find(b" ")
        if gap >= 0:
            return start, end + gap
        end, step = end + len(piece), min(step * 2, MAX_STEP)
    return start, n


def _keyword_before(text: str, start: int, keywords: Sequence[str]) -> bool:
    """A keyword stands in the KEYWORD_LOOKBACK characters before ``start``, on its line."""
    line_start = text.rfind("\n", max(0, start - KEYWORD_LOOKBACK), start) + 1
    before = text[max(line_start, start - KEYWORD_LOOKBACK) : start].lower()
    return any(k in before for k in keywords)


def _runs_at(
    text: str,
    windows: Sequence[tuple[int, int]],
    keywords: Sequence[str],
    starts: Sequence[int],
    *,
    anchored: bool = False,
) -> Iterator[re.Match[str]]:
    """Like ``_runs_after_keywords``, given sorted candidate run starts (a superset of the
    qualifying ones): each is checked exactly as the run-by-run test does. ``anchored``:
    the starts come from ``run_start_patterns``, whose every match puts an anchor keyword in
    the KEYWORD_LOOKBACK characters before the start on its line, so ``_keyword_before``
    holds already and only the run is checked (tests compare both)."""
    keep = None if anchored else lambda start: _keyword_before(text, start, keywords)
    return _spans_at(_B64_SPAN, text, windows, starts, keep)


def any_run_decodes(data: bytes, starts: Sequence[int]) -> bool:
    """Whether a base64 run the vectorised pass reported (``starts``, as for ``_runs_at``
    anchored) decodes (``decode_base64``). ``data`` holds one byte per character of the text,
    every non-ASCII character a byte outside the base64 alphabet (the core databases' bytes),
    so a run matches there exactly where it matches in the text. When none decodes, the
    keyword-triggered base64 layer finds nothing: the text need not be decoded to know it."""
    runs = _spans_at(_B64_SPAN_BYTES, data, [(0, len(data))], starts, None)
    return any(decode_base64(m.group(0).decode("ascii")) is not None for m in runs)


def _spans_at(
    span: re.Pattern[AnyStr],
    text: AnyStr,
    windows: Sequence[tuple[int, int]],
    starts: Sequence[int],
    keep: Callable[[int], bool] | None,
) -> Iterator[re.Match[AnyStr]]:
    """The matches of ``span`` at the sorted ``starts`` inside ``windows`` (and that ``keep``
    accepts), none starting inside the previous one."""
    i, n = 0, len(starts)
    for win_start, win_end in windows:
        while i < n and starts[i] < win_start:
            i += 1
        last = win_start
        while i < n and starts[i] < win_end:
            s = starts[i]
            i += 1
            if s < last:
                continue
            m = span.match(text, s, win_end)
            if m is not None and (keep is None or keep(s)):
                yield m
                last = m.end()


def _runs_after_keywords(
    text: str,
    windows: Iterable[tuple[int, int]],
    keywords: Sequence[str],
    lowered: str | None,
) -> Iterator[re.Match[str]]:
    """The base64 runs of ``windows`` (``_B64_SPAN.finditer`` over each window, in order)
    that pass ``_keyword_before``, found from the keyword occurrences instead of by testing
    every run: a run qualifies when it starts at most KEYWORD_LOOKBACK characters after the
    start of a keyword occurrence that ends before it, with no newline between them.
    (Profiled on a real AWS-heavy tree, testing every run was ~40 % of the scan.)
    ``lowered`` is ``text.lower()`` when that keeps every offset (else None)."""
    for win_start, win_end in windows:
        here = keywords
        if lowered is None:
            low, base, lo, hi = text[win_start:win_end].lower(), win_start, 0, win_end - win_start
            here = [keyword for keyword in keywords if keyword in low]  # a window: a line, say
        else:
            low, base, lo, hi = lowered, 0, win_start, win_end
        # Where a qualifying run may start: after a keyword occurrence, up to KEYWORD_LOOKBACK
        # characters from its start, and not past the end of its line. Merged lazily in text
        # order: the layer stops after MAX_SPANS_PER_LAYER runs, so a text with thousands of
        # keyword occurrences (multi-megabyte JSON) is not walked to its end.
        regions = heapq.merge(*(_regions(text, low, keyword, base, lo, hi) for keyword in here))
        last = win_start  # end of the last run yielded
        first, final = -1, -2
        for region in chain(regions, [(_NEVER, _NEVER)]):
            if region[0] <= final + 1:
                final = max(final, region[1])
                continue
            pos = max(first, last)
            while pos <= final:
                run = _B64_RUN.search(text, pos, min(final + 16, win_end))
                if run is None or run.start() > final:
                    break
                m = _B64_SPAN.match(text, run.start(), win_end)
                if m is None:
                    pos = run.start() + 1
                    continue
                yield m
                last = pos = m.end()
            first, final = region


def _regions(
    text: str, low: str, keyword: str, base: int, lo: int, hi: int
) -> Iterator[tuple[int, int]]:
    i = low.find(keyword, lo, hi)
    while i >= 0:
        k = base + i
        newline = text.find("\n", k, k + KEYWORD_LOOKBACK)
        yield (k + len(keyword), k + KEYWORD_LOOKBACK if newline < 0 else newline)
        i = low.find(keyword, i + 1, hi)


def _after(text: str, positions: Sequence[int]) -> list[tuple[int, int]]:
    """Windows from each keyword to the end of its line, at most KEYWORD_LOOKBACK + a longest
    base64 run further (a run cut by that cap is longer than a run may be, so it never
    matches)."""
    windows: list[tuple[int, int]] = []
    reach = KEYWORD_LOOKBACK + 8300
    for pos in positions:
        end = text.find("\n", pos, pos + reach)
        end = min(len(text), pos + reach) if end < 0 else end
        if windows and pos <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((pos, end))
    return windows


def _encoding(name: str, inner: Sequence[DecodedSpan]) -> str:
    """The encoding of a span of layer ``name`` whose decoded text had ``inner`` decoded."""
    return "+".join([name, *sorted({s.encoding for s in inner})])


def _token_reading(span: DecodedSpan, inner: Sequence[DecodedSpan]) -> DecodedSpan:
    """``span`` (decoded by its own layer only) with the ``inner`` spans of its decoded text
    kept as they are, or replaced by their own ``token_reading`` where they have one."""
    kept = [s.token_reading for s in inner if s.token_reading is not None]
    decoded = substitute(span.decoded, kept)
    return DecodedSpan(span.start, span.end, decoded, _encoding(span.encoding, kept))


def substitute(text: str, spans: Sequence[DecodedSpan]) -> str:
    """``text`` with every (non-overlapping, sorted) span replaced by its decoded text."""
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(span.decoded)
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def build_views(text: str, spans: Sequence[DecodedSpan], lines_before: int) -> list[View]:
    """One view per line holding decoded spans: up to ``lines_before`` lines (and at most
    VIEW_CONTEXT_CHARS characters) of preceding text, then the line with spans substituted.
    A line with a span that has a ``token_reading`` gets a second view with those readings."""
    views: list[View] = []
    i = 0
    while i < len(spans):
        first = spans[i]
        line_start = text.rfind("\n", 0, first.start) + 1
        line_end = text.find("\n", first.start)
        if line_end < 0:
            line_end = len(text)
        group = [first]
        i += 1
        while i < len(spans) and spans[i].start < line_end:
            group.append(spans[i])  # spans never contain a newline
            i += 1
        ctx_start = line_start
        for _ in range(lines_before):
            if ctx_start == 0:
                break
            ctx_start = text.rfind("\n", 0, ctx_start - 1) + 1
        ctx_start = max(ctx_start, line_start - VIEW_CONTEXT_CHARS)
        views.append(_view(text, ctx_start, line_start, line_end, group))
        if any(span.token_reading is not None for span in group):
            readings = [span.token_reading or span for span in group]
            views.append(_view(text, ctx_start, line_start, line_end, readings))
    return views


def _view(
    text: str, ctx_start: int, line_start: int, line_end: int, group: Sequence[DecodedSpan]
) -> View:
    """The view of one line: its context, then the line with ``group`` substituted."""
    parts = [text[ctx_start:line_start]]
    offset = line_start - ctx_start
    regions: list[Region] = []
    pos = line_start
    for span in group:
        chunk = text[pos : span.start]
        parts.append(chunk)
        offset += len(chunk)
        parts.append(span.decoded)
        regions.append(Region(offset, offset + len(span.decoded), span))
        offset += len(span.decoded)
        pos = span.end
    parts.append(text[pos:line_end])
    return View("".join(parts), tuple(regions))
