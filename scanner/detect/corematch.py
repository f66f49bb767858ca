"""Rule regexes matched in one vectorised pass: Hyperscan finds, Python ``re`` confirms.

Every rule's regex is parsed (Python's own parser) and rewritten into a *core*: the same
pattern without its zero-width parts (lookarounds, ``^``/``$``/``\\b``) and without group
names, every single-character item spelt as an explicit ASCII byte class (so ``\\s``, ``\\w``,
``.``, ``[^...]`` and case-insensitivity mean exactly what Python means on ASCII text). Dropping
zero-width assertions only widens a pattern, so every match of the full regex at ``[a, b)`` is
also a match of the core ending at ``b``. All cores go into one Hyperscan database per rule
set; one scan of a fragment reports, per rule, the end offsets of core matches.

Confirmation reproduces ``regex.finditer(text, pos, endpos)`` exactly while only searching
around those ends: a full match ending at ``b`` starts at or after ``b - max_width``, and
deciding a match at ``a`` reads at most ``max_width + lookahead + 2`` characters from ``a``
(lookbehinds read text before the search start, which ``re`` allows). So ``re`` runs on the
merged intervals ``[b - max_width, b]`` with a bounded margin after them, and nowhere else.
Those searches are remembered from one text to the next (``searchmemo``): a history's versions
of a file bring the same windows back.

The databases scan ``as_core_bytes(text)``: one byte per character (so offsets are character
offsets), every non-ASCII character written as one byte that each class admits when it may
match some non-ASCII character (decided by Python's own matcher). Rules whose core cannot be
built or compiled (back references, atomic groups, unbounded or empty-matching patterns,
patterns with no ASCII character, a pattern too large for Hyperscan) use plain ``finditer``.
A conditional ``(?(g)yes|no)`` becomes ``(?:yes|no)`` (wider, so still a superset).
``fallback_reasons`` says which rules and why (``keysweep rules check`` prints it). Without
the ``hyperscan`` package RE2 reads the same core bytes (``re2_ends``): it finds the runs of a
run-shaped core, and around the matches of any other core the offsets where its matches can
end; both paths give the same matches (tests compare them).
"""

from __future__ import annotations

import bisect
import codecs
import heapq
import importlib
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.detect import dbcache, re2bytes
from scanner.detect.searchmemo import SearchMemo
from scanner.schema import regex_problems

# Python's own regex parser and compiler (private modules without type stubs).
sre_p: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")
sre_compiler: Any = importlib.import_module("re._compiler")

_ASCII = [chr(c) for c in range(128)]
_MAXREPEAT = sre_c.MAXREPEAT
_SINGLE = {sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN}
_ZERO_WIDTH = {sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT}
# Hyperscan refuses some very large bounded repeats; {lo,hi} larger than this become {lo,}
# (wider, so still a superset). Confirmation never depends on the core's exact shape.
_HS_REPEAT_CAP = 1024


class CoreError(ValueError):
    """The regex has no Hyperscan core (the reason is the message)."""


@dataclass(frozen=True)
class Core:
    """A rule's Hyperscan core and what confirmation needs to know about its full regex."""

    pattern: bytes
    max_width: int  # longest match of the full regex, plus the boundary a core end may pass
    reach: int  # characters after a match start that deciding the match may read
    # ``pattern`` without the boundaries it consumes: every core match holds a match of it
    body: bytes = b""
    run: Run | None = None


@dataclass(frozen=True)
class Run:
    """A core that is one run of a character class (``(?<![C])[C]{40}(?![C])``): every full
    match ends where a maximal run of the class ends, and that run is ``shortest`` to
    ``longest`` characters long. ``pattern`` (the class repeated ``shortest`` times) reports
    each run of at least that length at every offset past its first ``shortest`` characters;
    ``run_ends`` turns those reports into the run ends worth confirming. ``char_class`` is
    the class alone (RE2 finds each maximal run of it once, ``CoreMatcher.re2_ends``)."""

    pattern: bytes
    shortest: int
    longest: int  # _UNBOUNDED when no lookbehind ends the run before a match
    char_class: bytes


# Texts with non-ASCII characters are scanned as ASCII bytes of the same length, each such
# character written as NON_ASCII (``as_core_bytes``): a class takes that byte when it may match
# some non-ASCII character. Which ones may is decided exactly from Python's own matcher on
# these probes: every non-ASCII character that matches an ASCII one case-insensitively (all
# four of them), and one of each Unicode category a class escape (\\d \\s \\w and their
# negations) or a negated class admits; classes that name non-ASCII characters take it too.
NON_ASCII = 0x80
_PROBES = "\u0130\u0131\u017f\u212a\u00e9\u00b2\u0660\u00a0\u0085\u2028\u3000\u4e00\U0001f600"


def _non_ascii_named(item: tuple[Any, Any]) -> bool:
    op, av = item
    if op in (sre_c.LITERAL, sre_c.NOT_LITERAL):
        return bool(av >= 128)
    if op is sre_c.IN:
        for kind, value in av:
            if kind is sre_c.LITERAL and value >= 128:
                return True
            if kind is sre_c.RANGE and value[1] >= 128:
                return True
    return False


def _byte_class(chars: Sequence[int], non_ascii: bool = True) -> bytes:
    if not chars:
        raise CoreError("a character class that matches no ASCII character")
    codes = [*chars, NON_ASCII] if non_ascii else chars
    return b"[" + b"".join(b"\\x%02x" % c for c in codes) + b"]"


# UTF-8 to one byte per character in one C pass: a lead byte becomes NON_ASCII, continuation
# bytes vanish. (A codec error handler writing the markers was called once per run of
# non-ASCII characters: 3.4 million calls, 1.6 s, on localstack's history.)
_UTF8_LEADS = bytes(range(128)) + bytes([NON_ASCII]) * 128
_UTF8_CONTINUATIONS = bytes(range(0x80, 0xC0))


# Bytes translated at a time. The translation works byte by byte, so pieces join exactly, and
# an ASCII piece is kept as it is: a text with a few non-ASCII characters is mostly ASCII
# pieces (aws/aws-cli's models: 7 % of their 16 KiB pieces hold one; per twentieth of its
# history, 0.21 s to translate whole, 0.07 s piece by piece; localstack's 0.36 s, 0.19 s).
_PIECE = 1 << 14


def utf8_core_bytes(raw: bytes) -> bytes:
    """``as_core_bytes(raw.decode("utf-8"))`` for ``raw`` that is valid UTF-8."""
    if len(raw) <= _PIECE:
        return raw.translate(_UTF8_LEADS, _UTF8_CONTINUATIONS)
    view = memoryview(raw)
    parts: list[bytes | memoryview] = []
    for start in range(0, len(raw), _PIECE):
        piece = raw[start : start + _PIECE]
        if piece.isascii():
            parts.append(view[start : start + _PIECE])  # no second copy of the piece
        else:
            parts.append(piece.translate(_UTF8_LEADS, _UTF8_CONTINUATIONS))
    return b"".join(parts)


def is_utf8(raw: bytes) -> bool:
    """Whether ``raw`` is valid UTF-8, decoded only where a piece is not ASCII (what
    ``utf8_core_bytes`` may be given). Decoding whole each non-ASCII text of localstack's
    history only to ask this took 0.25 s a quarter; two thirds of those texts, by count,
    never reach Python. Pieces: 0.07 s."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(raw), _PIECE):
            piece = raw[start : start + _PIECE]
            # an ASCII piece is valid on its own, unless a character began before it
            if not piece.isascii() or decoder.getstate()[0]:
                decoder.decode(piece)
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True


def as_core_bytes(text: str) -> bytes:
    """``text`` as bytes for the core databases: one byte per character, every non-ASCII
    character written as NON_ASCII, so offsets are character offsets. (Surrogates, which
    ``Fragment.from_text`` may carry, encode as three bytes like any other character.)"""
    return utf8_core_bytes(text.encode("utf-8", "surrogatepass"))


_CHARS: dict[tuple[str, int], tuple[list[int], bool]] = {}


class _Builder:
    def __init__(self, parsed: Any) -> None:
        self._state = parsed.state
        self.lookahead = 0

    def _chars(self, item: tuple[Any, Any], flags: int) -> tuple[list[int], bool]:
        # Exact by construction: compile the single item with the flags in force there and
        # ask Python which ASCII characters it matches, and whether it may match non-ASCII.
        # The same items recur across rules ([A-Za-z0-9], \s...): each is decided once.
        key = (repr(item), flags)
        known = _CHARS.get(key)
        if known is None:
            sub = sre_p.SubPattern(self._state, [item])
            probe = sre_compiler.compile(sub, flags)
            ascii_chars = [c for c, ch in enumerate(_ASCII) if probe.fullmatch(ch)]
            non_ascii = _non_ascii_named(item) or any(probe.fullmatch(ch) for ch in _PROBES)
            known = _CHARS[key] = (ascii_chars, non_ascii)
        return known

    def build(self, items: Any, flags: int) -> bytes:
        out: list[bytes] = []
        for op, av in items:
            if op in _SINGLE:
                out.append(_byte_class(*self._chars((op, av), flags)))
            elif op in _ZERO_WIDTH:
                if op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
                    direction, sub = av
                    lo, hi = sub.getwidth()
                    if hi >= _MAXREPEAT:
                        raise CoreError("a lookaround of unbounded length")
                    if direction == 1:
                        self.lookahead = max(self.lookahead, hi)
            elif op is sre_c.SUBPATTERN:
                _group, add, delete, sub = av
                out.append(b"(?:" + self.build(sub, (flags | add) & ~delete) + b")")
            elif op is sre_c.BRANCH:
                _, branches = av
                out.append(b"(?:" + b"|".join(self.build(b, flags) for b in branches) + b")")
            elif op is sre_c.GROUPREF_EXISTS:
                # (?(g)yes|no) widens to (?:yes|no): either branch may match, whatever g did
                _group, yes, no = av
                branches = [self.build(yes, flags), self.build(no, flags) if no else b""]
                out.append(b"(?:" + b"|".join(branches) + b")")
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
                lo, hi, sub = av
                body = self.build(sub, flags)
                if not body:
                    continue
                if hi >= _MAXREPEAT or hi > _HS_REPEAT_CAP:
                    bound = b"{%d,}" % min(lo, _HS_REPEAT_CAP)
                else:
                    bound = b"{%d,%d}" % (lo, hi)
                out.append(b"(?:" + body + b")" + bound)
            else:
                raise CoreError(f"{str(op).lower()} has no Hyperscan equivalent")
        return b"".join(out)


def _lookbehind(builder: _Builder, item: tuple[Any, Any], flags: int) -> bytes | None:
    """A leading lookbehind as text the core consumes: ``(?<![X])`` -> ``(?:^|[^X])``,
    ``(?<=abc)`` -> ``abc``, a branch of those -> their alternation; None for anything else."""
    op, av = item
    if op is sre_c.BRANCH:
        parts = _one_item_branches(av)
        if parts is None:
            return None
        built = [_lookbehind(builder, part, flags) for part in parts]
        if any(b is None for b in built):
            return None
        return b"(?:" + b"|".join(b for b in built if b is not None) + b")"
    if op not in (sre_c.ASSERT, sre_c.ASSERT_NOT) or av[0] != -1:
        return None
    sub = av[1]
    if op is sre_c.ASSERT:
        lo, hi = sub.getwidth()
        return builder.build(sub.data, flags) if lo == hi and lo > 0 else None
    return _not_class(builder, sub, flags, b"(?:^|%s)")


def _one_item_branches(av: Any) -> list[Any] | None:
    """The items of an alternation whose every branch is one item (``(?<!x)|(?<=y)``), else
    None."""
    parts = [b[0] for b in av[1] if len(b.data) == 1]
    return parts if len(parts) == len(av[1]) else None


def _not_class(builder: _Builder, sub: Any, flags: int, shape: bytes) -> bytes | None:
    """``shape`` around the complement of a one-character lookaround body: the ASCII
    characters it does not match, and NON_ASCII (some non-ASCII character may not match)."""
    if len(sub.data) != 1 or sub.data[0][0] not in _SINGLE:
        return None
    matched = set(builder._chars(sub.data[0], flags)[0])
    others = [c for c in range(128) if c not in matched]
    return shape % (_byte_class(others) if others else b"[\\x%02x]" % NON_ASCII)


def _boundaries(builder: _Builder, items: list[Any], flags: int) -> tuple[bytes, list[Any], bytes]:
    """A leading lookbehind and a trailing one-character negative lookahead, turned into
    consumed text: a 40-character class core then matches once per run of exactly that
    length instead of at every offset of a long run (a megabyte of base64)."""
    head = tail = b""
    if items:
        built = _lookbehind(builder, items[0], flags)
        if built is not None:
            head, items = built, items[1:]
    if items and items[-1][0] is sre_c.ASSERT_NOT and items[-1][1][0] == 1:
        built = _not_class(builder, items[-1][1][1], flags, b"(?:%s|$)")
        if built is not None:
            tail, items = built, items[:-1]
    return head, items, tail


def _shortest_tail(items: list[Any]) -> list[Any]:
    """``items`` with a trailing repeat cut to its fewest repetitions (recursively into a last
    group or every branch of a last alternation): ``name=[^\\s]{8,200}`` then ends once, 8
    characters after ``=``, instead of at each of 193 offsets. The cut core matches a prefix
    ``[a, e)`` of every full match ``[a, b)``: its end still bounds the start from above."""
    if not items:
        return items
    op, av = items[-1]
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, _hi, sub = av
        if lo == 0:
            return _shortest_tail(items[:-1])
        return [*items[:-1], (sre_c.MAX_REPEAT, (lo, lo, sub))]
    if op is sre_c.SUBPATTERN:
        group, add, delete, sub = av
        inner = sre_p.SubPattern(sub.state, _shortest_tail(list(sub.data)))
        return [*items[:-1], (op, (group, add, delete, inner))]
    if op is sre_c.BRANCH:
        branches = [sre_p.SubPattern(b.state, _shortest_tail(list(b.data))) for b in av[1]]
        return [*items[:-1], (op, (av[0], branches))]
    return items


_UNBOUNDED = 1 << 62


def _single_class(builder: _Builder, items: Any, flags: int) -> tuple[int, ...] | None:
    """The ASCII characters of the one class every character of ``items`` is (repeats and
    groups of it only), or None; never a class that may match a non-ASCII character (in core
    bytes those are all NON_ASCII, which would join runs the text does not have)."""
    found: set[tuple[int, ...]] = set()

    def walk(sub: Any, flags: int) -> bool:
        for op, av in sub:
            if op in _SINGLE:
                chars, non_ascii = builder._chars((op, av), flags)
                if non_ascii:
                    return False
                found.add(tuple(chars))
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
                if not walk(av[2], flags):
                    return False
            elif op is sre_c.SUBPATTERN:
                _group, add, delete, inner = av
                if not walk(inner, (flags | add) & ~delete):
                    return False
            else:
                return False
        return True

    return found.pop() if walk(items, flags) and len(found) == 1 else None


def _run_slack(builder: _Builder, item: Any, flags: int, chars: set[int]) -> int:
    """How many characters of the class may precede a match inside its run, given the leading
    lookbehind ``item`` (``_UNBOUNDED``: nothing stops the run before the match)."""
    op, av = item
    if op is sre_c.BRANCH:
        parts = _one_item_branches(av)
        if parts is None:
            return _UNBOUNDED
        return max(_run_slack(builder, part, flags, chars) for part in parts)
    if op not in (sre_c.ASSERT, sre_c.ASSERT_NOT) or av[0] != -1:
        return _UNBOUNDED
    sub = av[1]
    if op is sre_c.ASSERT_NOT:  # (?<![X]): the character before is outside X
        if len(sub.data) != 1 or sub.data[0][0] not in _SINGLE:
            return _UNBOUNDED
        return 0 if chars <= set(builder._chars(sub.data[0], flags)[0]) else _UNBOUNDED
    # (?<=xyz): the run starts after its last character that cannot be in the class
    for slack, part in enumerate(reversed(list(sub.data))):
        if part[0] not in _SINGLE:
            return _UNBOUNDED
        part_chars, non_ascii = builder._chars(part, flags)
        if not non_ascii and not chars & set(part_chars):
            return slack
    return _UNBOUNDED


def _run_of(
    builder: _Builder, parsed: Any, items: list[Any], flags: int, lookbehind: bool
) -> Run | None:
    """The run shape of a core (see ``Run``): a leading lookbehind, then only characters of
    one class, then ``(?![X])`` with X holding the whole class; None for any other core."""
    data = list(parsed.data)
    last = data[-1]
    if last[0] is not sre_c.ASSERT_NOT or last[1][0] != 1:
        return None
    chars = _single_class(builder, items, flags)
    if chars is None:
        return None
    after = last[1][1].data
    if len(after) != 1 or after[0][0] not in _SINGLE:
        return None
    if not set(chars) <= set(builder._chars(after[0], flags)[0]):
        return None
    shortest, longest = sre_p.SubPattern(parsed.state, items).getwidth()
    slack = _run_slack(builder, data[0], flags, set(chars)) if lookbehind else _UNBOUNDED
    longest = _UNBOUNDED if slack == _UNBOUNDED else longest + slack
    char_class = _byte_class(chars, False)
    return Run(char_class + b"{%d}" % shortest, shortest, longest, char_class)


def run_ends(found: Sequence[tuple[int, int]], run: Run) -> list[int]:
    """The ends of the runs ``run.pattern`` reported (a run of length L at ``L - shortest + 1``
    consecutive offsets) whose length a full match allows, in order."""
    out: list[int] = []
    extra = run.longest - run.shortest  # a run reports at most this many offsets past its first
    first = previous = -2
    for _, end in found:
        if end != previous + 1:
            if previous >= 0 and previous - first <= extra:
                out.append(previous)
            first = end
        previous = end
    if previous >= 0 and previous - first <= extra:
        out.append(previous)
    return out


_BOUNDED_REPEAT = re.compile(rb"\{(\d+),(\d+)\}")


def _widened(pattern: bytes) -> bytes:
    """``pattern`` (a core) for RE2, its repeats of up to 8 or more made unbounded. A bounded
    repeat makes RE2's automaton count: the generic assignment rule's core (a name of up to
    40 characters before its keyword) cost 2.1 s of a tenth of aws/aws-cli's history, and 6.1 s
    with 2 MiB for its automaton instead of 8; widened, 1.2 s either way. Wider is safe where
    only the start of each match counts (``_covering_ends`` bounds a match by the core's own
    longest match)."""
    return _BOUNDED_REPEAT.sub(lambda m: b"{%s,}" % m[1] if int(m[2]) >= 8 else m[0], pattern)


def _covering_ends(matches: Iterator[Any], longest: int, step: int) -> list[int]:
    """Sorted offsets that ``CoreMatcher.finditer`` merges into windows holding every end of
    every core match, given the matches RE2 reports one after another (leftmost, not
    overlapping). A core match starting at ``s`` starts inside a reported match (had ``s`` lain
    between two of them, the search from the first one's end would have reported one starting
    at ``s`` or before), so it ends between that match's start + 1 and its end - 1 +
    ``longest``. Each such interval is given as offsets ``step`` (the core's ``max_width``)
    apart, which ``finditer`` merges into one window."""
    intervals: list[list[int]] = []
    for m in matches:
        lo, hi = m.start() + 1, m.end() - 1 + longest
        if intervals and lo <= intervals[-1][1]:
            intervals[-1][1] = max(intervals[-1][1], hi)
        else:
            intervals.append([lo, hi])
    ends: list[int] = []
    for lo, hi in intervals:
        ends.extend(range(lo, hi, step))
        ends.append(hi)
    return ends


def core_of(regex: re.Pattern[str]) -> Core:
    """The Hyperscan core of ``regex``; raises :class:`CoreError` when it has none."""
    try:
        parsed = sre_p.parse(regex.pattern, regex.flags)
    except re.error as exc:  # pragma: no cover - the regex compiled already
        raise CoreError(str(exc)) from None
    lo, hi = parsed.getwidth()
    if hi >= _MAXREPEAT:
        raise CoreError("matches of unbounded length")
    if lo == 0:
        raise CoreError("can match the empty string")
    builder = _Builder(parsed)
    flags = parsed.state.flags
    head, items, tail = _boundaries(builder, list(parsed.data), flags)
    run = _run_of(builder, parsed, items, flags, bool(head)) if tail else None
    if not tail:
        cut = _shortest_tail(items)
        if sre_p.SubPattern(parsed.state, cut).getwidth()[0] > 0:
            items = cut
    body = builder.build(items, flags)
    pattern = head + body + tail
    builder.build(parsed.data, flags)  # the lookahead the full regex reads
    # +2: ``$`` and ``\b`` look one character past the match (``$`` also accepts "\n" + end);
    # a core end may lie one character past the full match (the consumed lookahead)
    return Core(pattern, hi + (1 if tail else 0), hi + builder.lookahead + 2, body, run)


def _hyperscan() -> Any | None:
    try:
        import hyperscan
    except ImportError:
        return None
    return hyperscan


class _Hits(list[tuple[int, int]]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit


def _stop(_id: int, _start: int, _end: int, _flags: int, _ctx: Any) -> bool:
    return True  # the first match answers the question: stop the scan


def _collect(expr_id: int, _start: int, end: int, _flags: int, ctx: _Hits) -> bool:
    ctx.append((expr_id, end))
    return len(ctx) > ctx.limit  # True stops the scan


# Core matches per fragment before giving up on the database for it: a megabyte of base64 (an
# inlined image) matches a 40-character class core at every offset, and a Python callback per
# match would cost more than ``finditer`` (and a list of millions of tuples).
MIN_HIT_LIMIT = 4096
BYTES_PER_HIT = 64
# A run pattern reports every offset of a long run: past 256 reports, or one per KiB in a larger
# text (base64 blobs), the core scans instead (localstack's history: with the limits above, 2.5
# million reports cost a second of Python).
RUN_HIT_LIMITS = (256, 1024)
# Sets of on-demand cores given a database of their own (each compile costs milliseconds to a
# tenth of a second; a repository shows a handful of sets, and beyond this each core scans alone).
MAX_GROUPS = 32


# ``_compile`` arguments: expressions, ids, flags.
_Spec = tuple[list[bytes], list[int], list[int]]


class CoreMatcher:
    """Hyperscan databases for the cores of ``regexes`` (built on first use).

    ``ends(data)`` scans ASCII bytes once with the main database and returns, per regex
    index, the sorted end offsets of core matches; ``finditer`` then confirms them. The cores
    of ``on_demand`` regexes stay out of the main database, each in a database of its own
    that ``rule_ends``/``group_ends`` run only when asked: a context-gated rule is searched
    near its keywords, and most texts have none of them (a bare 30-character class core in
    the main database cost every byte of every text its scan time). A core of ``Run`` shape
    is answered by its bare run pattern (``_run_ends``); each other core with consumed
    boundaries sits behind a gate (``_gate_of``), and the cores of one text whose gates open
    scan together. ``available`` is False without
    Hyperscan (or when no core compiled). A built database pickles serialized (``hs.dumpb``).

    ``literals`` (Hyperscan expressions and flags: the keyword pass's, ``Prefilter.
    hs_patterns``) make a second main database, the main patterns and those together:
    ``ends_and_literals`` answers both passes in one scan (see ``Detector._merging``).
    """

    def __init__(
        self,
        regexes: Sequence[re.Pattern[str]],
        *,
        use_hyperscan: bool | None,
        extra: Sequence[bytes] = (),
        on_demand: Collection[int] = (),
        literals: Sequence[tuple[bytes, int]] = (),
    ) -> None:
        self._regexes = regexes  # compiled on first use when lazy (``rules.Regexes``)
        self._literals = tuple(literals)
        self._merged: tuple[Any, Any] | None = None  # the main database with the literals
        self._searches = SearchMemo(self._regexes)  # confirmation searches, remembered
        self._line_by_line: dict[int, bool] = {}
        # Extra Hyperscan patterns (ids after the regexes), all or none compiled.
        self._extra = tuple(extra)
        self.extra_compiled = False
        self._use = use_hyperscan
        # index -> its core, and index -> why it has none; with Hyperscan both are derived on
        # first use (``cores``): parsing every rule's regex into its core takes longer than a
        # pre-commit hook's few small files take to scan with ``re`` (93 rules: 75 ms)
        self._core_map: dict[int, Core] | None = None
        self._fallback: dict[int, str] = {}
        self._on_demand = frozenset(on_demand)
        self._db: Any | None = None
        self._scratch: Any | None = None
        self._rule_dbs: dict[int, tuple[Any, Any]] = {}  # on-demand index -> (db, scratch)
        # on-demand index -> its gate: the core's body without the boundaries it consumes,
        # reported once (SINGLEMATCH); where it matches nowhere, the core cannot match either
        self._gate_dbs: dict[int, tuple[Any, Any]] = {}
        # on-demand index -> the database of its run pattern (a core of ``Run`` shape): its
        # reports give the run ends, and neither the gate nor the core scans the text
        self._run_dbs: dict[int, tuple[Any, Any]] = {}
        # sets of on-demand cores active together -> one database (None: did not compile)
        self._group_dbs: dict[tuple[int, ...], tuple[Any, Any] | None] = {}
        self._built = False
        # without Hyperscan: index -> the RE2 pattern answering for its core and the longest
        # match of that core (None: none), made on first use (``re2_answers``)
        self._re2: dict[int, tuple[Any, int] | None] = {}
        hs = _hyperscan() if use_hyperscan is not False else None
        self._hs = hs
        if hs is None:
            reason = "hyperscan is not installed" if use_hyperscan is not False else "disabled"
            self._core_map = {}  # filled one core at a time (``re2_answers``)
            self._fallback = dict.fromkeys(range(len(self._regexes)), reason)

    @property
    def cores(self) -> dict[int, Core]:
        """The core of each regex index that has one (with Hyperscan: derived now if not yet;
        asked per rule per text in a history, so the derived map is returned at once)."""
        derived = self._core_map
        return derived if derived is not None else self._derive()

    @property
    def fallback_reasons(self) -> dict[int, str]:
        """Why each regex index without a core has none."""
        if self._core_map is None:
            self._derive()
        return self._fallback

    def line_by_line(self, index: int) -> bool:
        """Whether regex ``index`` has unbounded or nested quantifiers (``regex_problems``):
        ``re`` runs it line by line, and no core answers for it. Worked out on first use."""
        known = self._line_by_line.get(index)
        if known is None:
            known = self._line_by_line[index] = bool(regex_problems(self._regexes[index].pattern))
        return known

    def _derive(self) -> dict[int, Core]:
        derived: dict[int, Core] = {}
        for index, regex in enumerate(self._regexes):
            if self.line_by_line(index):
                self._fallback[index] = "unbounded or nested quantifiers (line by line)"
                continue
            try:
                derived[index] = core_of(regex)
            except CoreError as exc:
                self._fallback[index] = str(exc)
        self._core_map = derived
        return derived

    def __getstate__(self) -> dict[str, Any]:
        # A built database travels serialized (a worker process loads it in microseconds
        # instead of compiling it again); an unbuilt one is built where it is first used.
        state = dict(self.__dict__)
        hs = self._hs
        serialized = hs.dumpb(self._db) if self._db is not None and hs else None
        merged = hs.dumpb(self._merged[0]) if self._merged is not None and hs else None
        rules = {i: hs.dumpb(db) for i, (db, _) in self._rule_dbs.items()} if hs else {}
        gates = {i: hs.dumpb(db) for i, (db, _) in self._gate_dbs.items()} if hs else {}
        runs = {i: hs.dumpb(db) for i, (db, _) in self._run_dbs.items()} if hs else {}
        state.update(
            _db=None,
            _scratch=None,
            _merged=None,
            _hs=None,
            _rule_dbs={},
            _gate_dbs={},
            _run_dbs={},
            _group_dbs={},
            _re2={},
            _serialized=serialized,
            _serialized_merged=merged,
            _serialized_rules=rules,
            _serialized_gates=gates,
            _serialized_runs=runs,
        )
        if serialized is None and not rules:
            state["_built"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        serialized = state.pop("_serialized", None)
        merged = state.pop("_serialized_merged", None)
        rules = state.pop("_serialized_rules", {})
        gates = state.pop("_serialized_gates", {})
        runs = state.pop("_serialized_runs", {})
        self.__dict__.update(state)
        self._hs = _hyperscan() if self._use is not False else None
        hs = self._hs
        if hs is None:
            self._built = False
            return

        def loaded(blob: bytes) -> tuple[Any, Any]:
            db = hs.loadb(blob, hs.HS_MODE_BLOCK)
            return db, hs.Scratch(db)

        if serialized is not None:
            self._db, self._scratch = loaded(serialized)
        if merged is not None:
            self._merged = loaded(merged)
        self._rule_dbs = {index: loaded(blob) for index, blob in rules.items()}
        self._gate_dbs = {index: loaded(blob) for index, blob in gates.items()}
        self._run_dbs = {index: loaded(blob) for index, blob in runs.items()}

    @property
    def available(self) -> bool:
        return bool(self.cores or self._extra) and self._hs is not None

    @property
    def built(self) -> bool:
        return self._built

    def is_run(self, index: int) -> bool:
        """True when ``rule_ends(index)`` gives run ends (``Run``) from its run database."""
        return index in self._run_dbs

    def on_demand(self, index: int) -> bool:
        """True when ``index`` has a core of its own (``rule_ends``), not in ``ends``."""
        return index in self._rule_dbs

    def build(self) -> None:
        """Compile the databases now. The main cores and the extra patterns go into one
        compile; only when that fails is each core tried alone, so the rules that fail fall
        back and the rest keep their database (see module doc)."""
        if self._built or self._hs is None:
            return
        self._built = True
        self._build_main()
        merged = self._merged_spec()
        if merged is not None:
            self._merged = self._compile(*merged)

    def _build_main(self) -> None:
        for index in sorted(self._on_demand & self.cores.keys()):
            compiled = self._compile(*self._alone_spec(index))
            if compiled is None:  # the rule uses finditer; no run pattern, no gate
                del self.cores[index]
                self.fallback_reasons[index] = "Hyperscan cannot compile its core"
                continue
            self._rule_dbs[index] = compiled
            run = self._run_spec(index)
            if run is not None:
                compiled = self._compile(*run)
                if compiled is not None:
                    self._run_dbs[index] = compiled
                    continue
            gate = self._gate_of(index)
            if gate is not None:
                compiled = self._compile(*gate)
                if compiled is not None:
                    self._gate_dbs[index] = compiled
        spec = self._main_spec()
        if spec[0] and self._keep(self._compile(*spec)):
            self.extra_compiled = bool(self._extra)
            return
        main = {i: core for i, core in self.cores.items() if i not in self._rule_dbs}
        for index in sorted(main):
            if self._compile(*self._alone_spec(index)) is None:
                del self.cores[index], main[index]
                self.fallback_reasons[index] = "Hyperscan cannot compile its core"
        ids = sorted(main)
        expressions = [main[i].pattern for i in ids]
        first = len(self._regexes)
        extra_ids = list(range(first, first + len(self._extra)))
        if self._extra and self._compile(self._extra, extra_ids, [0] * len(extra_ids)):
            expressions += self._extra
            ids += extra_ids
            self.extra_compiled = True
        if expressions and not self._keep(self._compile(expressions, ids, [0] * len(ids))):
            # Each compiles alone but not together (a size limit): these rules use finditer.
            for index in main:
                self.fallback_reasons[index] = "the Hyperscan rule database did not compile"
                del self.cores[index]
            self.extra_compiled = False

    def build_if_cached(self) -> bool:
        """Build now if the disk cache holds every database of a build (then it takes
        milliseconds); True when built."""
        if self._built:
            return True
        hs = self._hs
        if hs is None:
            return False
        on_demand = sorted(self._on_demand & self.cores.keys())
        wanted = [self._alone_spec(i) for i in on_demand]
        for index in on_demand:
            extra = self._run_spec(index) or self._gate_of(index)
            if extra is not None:
                wanted.append(extra)
        main = self._main_spec()
        if main[0]:
            wanted.append(main)
        merged = self._merged_spec()
        if merged is not None:
            wanted.append(merged)
        if not all(dbcache.holds_compiled(hs, *spec) for spec in wanted):
            return False
        self.build()
        return True

    def _alone_spec(self, index: int) -> _Spec:
        """``_compile`` arguments for the core of ``index`` alone."""
        return [self.cores[index].pattern], [index], [0]

    def _main_spec(self) -> _Spec:
        """``_compile`` arguments for the main database: every core not on demand, then the
        extra patterns."""
        ids = [i for i in sorted(self.cores) if i not in self._on_demand]
        first = len(self._regexes)
        ids += range(first, first + len(self._extra))
        expressions = [self.cores[i].pattern for i in ids if i < first] + list(self._extra)
        return expressions, ids, [0] * len(ids)

    def _merged_spec(self) -> _Spec | None:
        """``_compile`` arguments for the main database with the literals (ids after the
        extra patterns'); None without literals or a main database."""
        if not self._literals or (self._built and self._db is None):
            return None
        expressions, ids, flags = self._main_spec()
        if self._built and not self.extra_compiled and self._extra:
            keep = len(ids) - len(self._extra)
            expressions, ids, flags = expressions[:keep], ids[:keep], flags[:keep]
        first = self._literal_base
        expressions += [pattern for pattern, _ in self._literals]
        ids += range(first, first + len(self._literals))
        flags += [flag for _, flag in self._literals]
        return expressions, ids, flags

    @property
    def _literal_base(self) -> int:
        return len(self._regexes) + len(self._extra)

    def _gate_of(self, index: int) -> _Spec | None:
        """The gate of an on-demand core, as ``_compile`` arguments: only a core whose
        boundaries are consumed has one. Measured per file of moto's HEAD (105 MB): the AWS
        secret core scans in 0.149 s, its gate (a bare 40-character class) in 0.019 s, and it
        fires in a third of the bytes."""
        core = self.cores[index]
        if not core.body or core.body == core.pattern:
            return None
        assert self._hs is not None
        return [core.body], [index], [self._hs.HS_FLAG_SINGLEMATCH]

    def _run_spec(self, index: int) -> _Spec | None:
        """The run pattern of an on-demand core of ``Run`` shape, as ``_compile`` arguments.
        Measured on moto's HEAD files (100 MB): the AWS secret's run pattern scans in 0.018 s
        with 22,000 reports, its core in 0.126 s."""
        core = self.cores.get(index)
        if core is None or core.run is None:
            return None
        return [core.run.pattern], [index], [0]

    def _run_ends(self, index: int, data: bytes) -> list[int] | None:
        """The run ends of an on-demand core of ``Run`` shape (None: no run database, or
        reports too dense). Each full match ends at one of them (a core end may lie one
        character further, past the boundary the core consumes: ``finditer`` allows both)."""
        compiled = self._run_dbs.get(index)
        run = self.cores[index].run
        if compiled is None or run is None:
            return None
        found = self._scan(compiled[0], compiled[1], data, RUN_HIT_LIMITS)
        return None if found is None else run_ends(found, run)

    @property
    def uses_re2(self) -> bool:
        """True without Hyperscan: RE2 answers for the cores (``re2_ends``) and the decoding
        layer's run-start patterns (``SpanFinder.run_lines``)."""
        return self._hs is None

    def re2_answers(self, index: int) -> bool:
        """Without Hyperscan, whether RE2 answers for the core of rule ``index`` (``re2_ends``).
        Decided on first use: ``keysweep staged`` parses only the cores of the rules it meets."""
        if not self.uses_re2 or self.line_by_line(index):
            return False
        if index not in self._re2:
            self._re2[index] = self._re2_pattern(index)
        return self._re2[index] is not None

    def _re2_pattern(self, index: int) -> tuple[Any, int] | None:
        try:
            core = core_of(self._regexes[index])
            run = core.run
            pattern = run.char_class + b"{%d,}" % run.shortest if run else _widened(core.pattern)
            compiled = re2bytes.compile_bytes(pattern)
            longest = sre_p.parse(core.pattern).getwidth()[1]
        except (CoreError, re2bytes.Error, re.error):
            return None
        if longest >= _MAXREPEAT:  # a repeat past _HS_REPEAT_CAP: no bound on a match's end
            return None
        self.cores[index] = core
        return compiled, longest

    def re2_ends(self, index: int, data: bytes) -> list[int]:
        """Where the matches of rule ``index``'s core may end in ``data`` (``re2_answers``), in
        one linear RE2 pass (empty: the regex matches nowhere):

        - a core of ``Run`` shape: its run ends. RE2 reports each maximal run of at least
          ``shortest`` characters once; the ends of those no longer than ``longest`` are kept,
          as ``run_ends`` keeps them (on a twentieth of moto's history the AWS secret's regex
          took 12.7 s of 22 s, searched by ``re`` over whole texts; 0.01 s this way);
        - any other core: ends around each match RE2 reports (``_covering_ends``), a sorted
          superset of the core's match ends, so ``finditer`` confirms exactly what it would
          with Hyperscan's. The regex searched whole texts wherever the core matched once: on
          aws/aws-cli's 20 largest models (79 MB) the generic assignment rule took 16 s; its
          core matches there 54 times.
        """
        found = self._re2[index]
        assert found is not None
        pattern, longest = found
        run = self.cores[index].run
        if run is None:
            return _covering_ends(pattern.finditer(data), longest, self.cores[index].max_width)
        return [m.end() for m in pattern.finditer(data) if m.end() - m.start() <= run.longest]

    def _opens(self, index: int, data: bytes) -> bool:
        """False when the gate of on-demand core ``index`` says it matches nowhere in data."""
        gate = self._gate_dbs.get(index)
        if gate is None:
            return True
        assert self._hs is not None
        try:
            gate[0].scan(data, match_event_handler=_stop, scratch=gate[1])
        except self._hs.ScanTerminated:
            return True
        return False

    def _compile(
        self, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int]
    ) -> tuple[Any, Any] | None:
        """One database (``dbcache.compiled``) and its scratch; None if it does not compile."""
        hs = self._hs
        assert hs is not None
        try:
            db = dbcache.compiled(hs, expressions, ids, flags)
        except hs.error:
            return None
        return db, hs.Scratch(db)

    def _keep(self, compiled: tuple[Any, Any] | None) -> bool:
        if compiled is None:
            return False
        self._db, self._scratch = compiled
        return True

    def _scan(
        self,
        db: Any,
        scratch: Any,
        data: bytes,
        limits: tuple[int, int] = (MIN_HIT_LIMIT, BYTES_PER_HIT),
    ) -> _Hits | None:
        least, per_hit = limits
        found = _Hits(max(least, len(data) // per_hit))
        assert self._hs is not None
        try:
            db.scan(data, match_event_handler=_collect, context=found, scratch=scratch)
        except self._hs.ScanTerminated:
            return None
        return found

    def ends(self, data: bytes) -> dict[int, list[int]] | None:
        """Sorted core match ends per index of the main database; None when matches are too
        dense to be worth it (then use ``finditer``)."""
        self.build()
        if self._db is None:
            return {}
        found = self._scan(self._db, self._scratch, data)
        if found is None:
            return None
        out: dict[int, list[int]] = {}
        for index, end in found:
            out.setdefault(index, []).append(end)
        for ends in out.values():
            ends.sort()
        return out

    @property
    def merges_literals(self) -> bool:
        """Whether ``ends_and_literals`` answers (built, and the merged database compiled)."""
        return self._merged is not None

    def ends_and_literals(self, data: bytes) -> tuple[dict[int, list[int]], list[int]] | None:
        """``ends(data)`` and the ids of the ``literals`` that occur in ``data`` (0 for the
        first), from one scan of the merged database; None when matches are too dense."""
        assert self._merged is not None
        found = self._scan(self._merged[0], self._merged[1], data)
        if found is None:
            return None
        first = self._literal_base
        out: dict[int, list[int]] = {}
        literals: list[int] = []
        for index, end in found:
            if index >= first:
                literals.append(index - first)
            else:
                out.setdefault(index, []).append(end)
        for ends in out.values():
            ends.sort()
        return out, literals

    def rule_ends(self, index: int, data: bytes) -> list[int] | None:
        """Sorted core match ends of one on-demand core (None: too dense, use ``finditer``)."""
        return self.group_ends([index], data)[index]

    def _alone(self, index: int, data: bytes) -> list[int] | None:
        db, scratch = self._rule_dbs[index]
        found = self._scan(db, scratch, data)
        return None if found is None else sorted(end for _, end in found)

    def group_ends(
        self, indices: Sequence[int], data: bytes, *, compile_new: bool = True
    ) -> dict[int, list[int] | None]:
        """``rule_ends`` of several on-demand cores. A core of ``Run`` shape is answered by
        its run pattern (``_run_ends``). Of the others each gate first (``_gate_of``); the
        cores whose gate opened then scan together, in one database holding them all (built
        on first use for that set, at most MAX_GROUPS sets; with ``compile_new=False`` each
        scans alone until then). Measured on moto: the two AWS secret cores took 0.163 s per
        60 MB in two scans, 0.089 s in one."""
        self.build()
        out: dict[int, list[int] | None] = {}
        rest: list[int] = []
        for index in indices:
            ends = self._run_ends(index, data)
            if ends is None:  # no run pattern, or its reports too dense: the core scans
                rest.append(index)
            else:
                out[index] = ends
        out.update((i, []) for i in rest if not self._opens(i, data))
        key = tuple(sorted(i for i in rest if i not in out))
        compiled = None
        if len(key) > 1:
            compiled = self._group_dbs.get(key)
            known = key in self._group_dbs or len(self._group_dbs) >= MAX_GROUPS
            if compiled is None and not known and compile_new:
                patterns = [self.cores[i].pattern for i in key]
                self._group_dbs[key] = compiled = self._compile(patterns, key, [0] * len(key))
        found = None if compiled is None else self._scan(compiled[0], compiled[1], data)
        if found is None:  # one core, no database, or too dense together: each alone
            out.update((index, self._alone(index, data)) for index in key)
            return out
        together: dict[int, list[int]] = {index: [] for index in key}
        for index, end in found:
            together[index].append(end)
        for index, ends in together.items():
            ends.sort()
            out[index] = ends
        return out

    def finditer(
        self, index: int, text: str, ends: Sequence[int], pos: int = 0, endpos: int | None = None
    ) -> Iterator[re.Match[str]]:
        """Exactly ``regexes[index].finditer(text, pos, endpos)`` given the core match ends
        (sorted; any sorted superset of them gives the same matches)."""
        search = self._searches.search
        core = self.cores[index]
        limit = len(text) if endpos is None else min(endpos, len(text))
        # a match starting at ``pos`` or later has its core end there or later; past
        # ``limit + max_width`` a core end searches from ``limit`` on
        i, n = bisect.bisect_left(ends, pos), len(ends)
        if limit < len(text):
            n = bisect.bisect_right(ends, limit + core.max_width, i)
            ends, i = _with_tail(ends[i:n], pos, limit, core), 0
            n = len(ends)
        last = pos
        while i < n:
            lo = ends[i] - core.max_width
            hi = ends[i]
            i += 1
            while i < n and ends[i] - core.max_width <= hi:
                hi = ends[i]
                i += 1
            start = max(lo, last)
            if hi < start:
                continue
            if start >= limit:
                break
            stop = min(limit, hi + core.reach)
            while start <= hi:
                m = search(index, text, start, stop)
                if m is None or m.start() > hi:
                    break
                yield m
                last = m.end()
                start = last


def _with_tail(ends: Sequence[int], pos: int, limit: int, core: Core) -> list[int]:
    """``ends`` (sorted) with ends that make ``finditer`` search every start in the last
    ``core.reach`` characters before ``limit``. ``finditer(text, pos, endpos)`` reads
    ``endpos`` as the text's end: a match deciding at a character there can hold where the
    core, matched on the whole text, saw none (``(?![^ab])`` before the "\n" a line window
    ends at, ``$``). Every start whose match could read that far is searched."""
    first = max(pos, limit - core.reach) + core.max_width  # searched from ``first - max_width``
    tail = [*range(first, limit, core.max_width), limit]  # one group: each within max_width
    return list(heapq.merge(ends, tail))
