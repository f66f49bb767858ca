"""Literals a regex cannot match without: what lets the detector skip a context-gated rule.

``literal_factors(regex)`` gives sets of lower-case ASCII strings such that every match of the
regex in an ASCII text contains, case-insensitively, one string of each set. They are read off
Python's own parse of the regex: a run of literal characters that every match consumes (a
literal, or a group or repeat of at least one that holds one), or an alternation whose every
branch has such a set (the union of the branches' sets). Lookarounds, classes and optional
parts contribute nothing, so the sets are necessary conditions, never more.

``context_keywords`` turns them into the prefilter's keywords: a rule whose context regexes all
need a keyword the keyword pass did not see cannot pass its context gate anywhere in the text
(see ``Detector._audible``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from scanner.detect.corematch import sre_c, sre_p

Factors = list[frozenset[str]]


def literal_factors(regex: re.Pattern[str]) -> Factors:
    """Sets of strings, one of each must occur (case-insensitively) in every match."""
    parsed = sre_p.parse(regex.pattern, regex.flags)
    return _sequence(list(parsed.data))


def _sequence(items: Sequence[Any]) -> Factors:
    out: Factors = []
    run: list[str] = []

    def close() -> None:
        if run:
            out.append(frozenset(["".join(run).lower()]))
            run.clear()

    for op, av in items:
        if op is sre_c.LITERAL and av < 128:
            run.append(chr(av))
            continue
        close()
        if op is sre_c.SUBPATTERN:
            out += _sequence(list(av[-1]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT) and av[0] >= 1:
            out += _sequence(list(av[2]))
        elif op is sre_c.ATOMIC_GROUP:
            out += _sequence(list(av))
        elif op is sre_c.BRANCH:
            branches = [_sequence(list(branch)) for branch in av[1]]
            if all(branches):
                out += _either(branches)
    close()
    return out


def _either(branches: list[Factors]) -> Factors:
    """A set valid for an alternation: one set of each branch, united (the longest strings
    each branch offers, so the union stays selective)."""
    chosen = [max(sets, key=lambda s: min(len(x) for x in s)) for sets in branches]
    return [frozenset().union(*chosen)]


def context_keywords(
    regexes: Iterable[re.Pattern[str]], keywords: Iterable[str]
) -> frozenset[str] | None:
    """Keywords (lower case, from ``keywords``) of which one occurs in any text where one of
    ``regexes`` matches; None when some regex needs no literal that holds a keyword."""
    known = sorted({k.lower() for k in keywords if k.isascii() and k}, key=len, reverse=True)

    def keyword_in(literal: str) -> str | None:
        return next((k for k in known if k in literal), None)

    needed: set[str] = set()
    for regex in regexes:
        found = _usable(literal_factors(regex), keyword_in)
        if found is None:
            return None
        needed |= found
    return frozenset(needed)


def _usable(factors: Factors, keyword_in: Callable[[str], str | None]) -> set[str] | None:
    """The keywords of the factor set whose every string holds one (fewest keywords)."""
    best: set[str] | None = None
    for strings in factors:
        held = {keyword_in(s) for s in strings}
        if None in held:
            continue
        usable = {k for k in held if k is not None}
        if best is None or len(usable) < len(best):
            best = usable
    return best
