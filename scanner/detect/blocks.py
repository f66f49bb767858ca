"""Structured blocks of a text, to pair a secret with the key ID of its block at any distance.

A *block* is a span of text that holds one record: a bracketed literal that spans lines (a
multi-line dict literal, a JSON object or array, an HCL block, a call's arguments), an
indented YAML mapping with its header line (``prod:`` and the lines indented under it), or an
INI section (``[profile x]`` up to the next section header). Each kind forms a laminar family
(two blocks of one kind are nested or disjoint), so the innermost block of a kind around an
offset is found by bisection and a walk up its parents.

Everything here is linear in the text: one pass per kind, built only when a pairing needs it,
and a query walks at most MAX_WALK parents.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

MAX_WALK = 64  # enclosing blocks looked at around one offset, per kind
_BRACKETS = re.compile(r"[{}\[\]()]")
_CLOSES = {"}": "{", "]": "[", ")": "("}
_LINE = re.compile(r"[ \t]*([^ \t\r\n])?[^\n]*", re.MULTILINE)
_SECTION = re.compile(r"^[ \t]*\[[^\]\n]{1,200}\][ \t]*\r?$", re.MULTILINE)


class _Laminar:
    """Nested-or-disjoint intervals ``[start, end)`` with each one's innermost parent."""

    def __init__(self, intervals: list[tuple[int, int]]) -> None:
        intervals.sort(key=lambda iv: (iv[0], -iv[1]))
        self.starts = [s for s, _ in intervals]
        self.ends = [e for _, e in intervals]
        self.parent: list[int] = []
        stack: list[int] = []
        for i, (start, _) in enumerate(intervals):
            while stack and self.ends[stack[-1]] <= start:
                stack.pop()
            self.parent.append(stack[-1] if stack else -1)
            stack.append(i)

    def around(self, pos: int) -> list[tuple[int, int]]:
        """The intervals holding ``pos``, innermost first (at most MAX_WALK looked at)."""
        out: list[tuple[int, int]] = []
        i = bisect.bisect_right(self.starts, pos) - 1
        steps = 0
        while i >= 0 and steps < MAX_WALK:
            if pos < self.ends[i]:
                out.append((self.starts[i], self.ends[i]))
            i = self.parent[i]
            steps += 1
        return out


def _bracket_blocks(text: str) -> list[tuple[int, int]]:
    """Matched bracket pairs that span more than one line. A closer that does not match the
    innermost open bracket is ignored (a stray bracket in a string breaks nothing else)."""
    out: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    for m in _BRACKETS.finditer(text):
        char, pos = m.group(), m.start()
        opener = _CLOSES.get(char)
        if opener is None:
            stack.append((char, pos))
        elif stack and stack[-1][0] == opener:
            start = stack.pop()[1]
            if text.find("\n", start, pos) >= 0:
                out.append((start, pos + 1))
    return out


def _indent_blocks(text: str) -> list[tuple[int, int]]:
    """A line followed by lines indented deeper than it: the line and those lines (blank
    lines do not end a block)."""
    out: list[tuple[int, int]] = []
    open_: list[tuple[int, int, bool]] = []  # (indent, line start, has a deeper line)
    last_end = 0  # end of the last non-blank line
    for m in _LINE.finditer(text):
        if m.group(1) is None:
            continue  # blank line
        indent = m.start(1) - m.start()
        while open_ and open_[-1][0] >= indent:
            _, start, deeper = open_.pop()
            if deeper:
                out.append((start, last_end))
        if open_:
            open_[-1] = (open_[-1][0], open_[-1][1], True)
        open_.append((indent, m.start(), False))
        last_end = m.end()
    for _, start, deeper in open_:
        if deeper:
            out.append((start, last_end))
    return out


def _ini_sections(text: str) -> list[tuple[int, int]]:
    starts = [m.start() for m in _SECTION.finditer(text)]
    if not starts:
        return []
    return list(zip(starts, [*starts[1:], len(text)], strict=True))


class Blocks:
    """The structured blocks of one text."""

    def __init__(self, text: str) -> None:
        self._kinds = (
            _Laminar(_bracket_blocks(text)),
            _Laminar(_indent_blocks(text)),
            _Laminar(_ini_sections(text)),
        )

    def around(self, pos: int) -> list[tuple[int, int]]:
        """Every block holding ``pos``, of every kind (innermost first within a kind)."""
        return [block for kind in self._kinds for block in kind.around(pos)]

    def owner(self, pos: int, starts: Sequence[int], lines: Sequence[int], line: int) -> int:
        """Index (into ``starts``, sorted offsets of the possible owners, with their line
        numbers ``lines``) of the owner of the thing at ``pos`` on ``line``: the nearest one,
        in lines, inside the smallest block around ``pos`` that holds any; an owner before
        ``pos`` wins a tie. -1 when no block around ``pos`` holds one."""
        best: tuple[int, int] | None = None
        for kind in self._kinds:
            for start, end in kind.around(pos):
                i = bisect.bisect_left(starts, start)
                if i < len(starts) and starts[i] < end:
                    if best is None or end - start < best[1] - best[0]:
                        best = (start, end)
                    break
        if best is None:
            return -1
        start, end = best
        after = bisect.bisect_left(starts, pos)
        choices = []
        if after - 1 >= 0 and starts[after - 1] >= start:
            choices.append((line - lines[after - 1], 0, after - 1))
        if after < len(starts) and starts[after] < end:
            choices.append((lines[after] - line, 1, after))
        return min(choices)[2]
