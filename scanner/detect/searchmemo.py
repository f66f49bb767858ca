"""Confirmation searches remembered from one text to the next.

The versions of a file in a history mostly hold the same lines, so around a core match the
same window of text comes back again and again, and with it the same confirmation search
(``CoreMatcher.finditer``). On localstack's history the generic assignment rule searched
22,207 windows, 4,173 of them distinct, at about 45 microseconds each (its name pattern is
tried at every offset of a 300-character window): a second of the scan's eleven.

``SearchMemo`` remembers, for a window's text, where the regex's search found its match, or
that it found none. What a search from ``start`` to ``stop`` finds depends on the text from
``start`` to ``stop`` (``stop`` acts as the end of the text) and on the few characters before
``start`` that ``^``, ``\\b`` and lookbehinds read (``look_back``); the memo's key holds just
those. A window it knows either has no match (no search at all) or has its match at a known
offset, where a search from that offset tries one position and finds the same match, groups
and all. Only windows up to ``MAX_WINDOW`` characters are remembered (a dense stretch of
matches is one long window, searched again from each match's end), and the memo is bounded
by the characters it holds (``MAX_KNOWN_CHARS``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

sre_p: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")

MAX_WINDOW = 2048  # characters searched, plus the look-back, for a window to be remembered
# The memo starts afresh when its windows hold this many characters (at most 4 bytes each:
# 16 MiB; localstack's windows average about 600 characters, so some 7,000 of them)
MAX_KNOWN_CHARS = 1 << 22
_NONE = -1  # the window has no match


def look_back(regex: re.Pattern[str]) -> int:
    """How many characters before a search's start ``regex`` may read: one for ``^``,
    ``\\b`` and ``\\B``, plus the width of every lookbehind (nested or after consumed
    characters, a lookbehind reaches no further back than that sum)."""
    return 1 + _behind(sre_p.parse(regex.pattern, regex.flags))


def _behind(parsed: Any) -> int:
    total = 0
    for op, av in parsed:
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            direction, sub = av
            if direction < 0:
                total += sub.getwidth()[1]
            total += _behind(sub)
        elif op == sre_c.SUBPATTERN:
            total += _behind(av[3])
        elif op == sre_c.BRANCH:
            total += max((_behind(b) for b in av[1]), default=0)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            total += _behind(av[2])
        elif op == sre_c.GROUPREF_EXISTS:
            total += max(_behind(av[1]), _behind(av[2]) if av[2] is not None else 0)
        elif op == sre_c.ATOMIC_GROUP:
            total += _behind(av)
    return total


class SearchMemo:
    """``regexes[index].search(text, start, stop)``, remembered by the window's text."""

    def __init__(self, regexes: Sequence[re.Pattern[str]]) -> None:
        self._regexes = regexes
        self._back: dict[int, int] = {}  # index -> look_back, found on first use
        self._known: dict[tuple[int, int, str], int] = {}
        self._chars = 0  # characters of the remembered windows
        self.limit = MAX_KNOWN_CHARS

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__, _known={}, _chars=0)  # a pickled copy starts empty

    def search(self, index: int, text: str, start: int, stop: int) -> re.Match[str] | None:
        regex = self._regexes[index]
        back = self._back.get(index)
        if back is None:
            back = self._back[index] = look_back(regex)
        lead = max(0, start - back)
        if stop - lead > MAX_WINDOW:
            return regex.search(text, start, stop)
        # start - lead < back only at the start of the text, where ``^`` and ``\A`` differ
        key = (index, start - lead, text[lead:stop])
        at = self._known.get(key)
        if at is None:
            found = regex.search(text, start, stop)
            self._chars += stop - lead
            if self._chars > self.limit:
                self._known.clear()
                self._chars = stop - lead
            self._known[key] = _NONE if found is None else found.start() - start
            return found
        if at == _NONE:
            return None
        return regex.search(text, start + at, stop)
