"""Where a context-gated rule can possibly match: windows of lines around its keywords.

A rule with a ``context`` gate only reports a candidate when a context regex matches in the
lines just before it, or a finding of a ``near_rules`` rule stands within ``within_lines``
lines. Both need one of the rule's keywords close by (a context regex match contains a keyword;
a key ID contains one), so the detector runs such a rule's regex only on the lines around keyword
occurrences instead of the whole text. Windows start at a line start and end at a newline, so
no token is cut in two. Too many occurrences (or a text whose lower-casing changes its length)
means "the whole text".
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_OCCURRENCES = 512


def keyword_positions(low: str, keywords: Iterable[str]) -> list[int] | None:
    """Sorted offsets of keyword occurrences in ``low`` (already lower case): the first
    occurrence of each keyword on each line (windows are whole lines). None when there are more
    than MAX_OCCURRENCES (then scanning everything is cheaper)."""
    out: list[int] = []
    for keyword in keywords:
        pos = low.find(keyword)
        while pos >= 0:
            out.append(pos)
            if len(out) > MAX_OCCURRENCES:
                return None
            line_end = low.find("\n", pos)
            if line_end < 0:
                break
            pos = low.find(keyword, line_end)
    out.sort()
    return out


def _back_lines(text: str, pos: int, lines: int) -> int:
    start = text.rfind("\n", 0, pos) + 1
    for _ in range(lines):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return start


def _forward_lines(text: str, pos: int, lines: int) -> int:
    end = text.find("\n", pos)
    for _ in range(lines):
        if end < 0:
            break
        end = text.find("\n", end + 1)
    return len(text) if end < 0 else end


def line_windows(
    text: str, positions: Iterable[int], before: int, after: int
) -> list[tuple[int, int]]:
    """Merged ``(start, end)`` windows: ``before`` lines above to ``after`` lines below each
    position (whole lines; ``end`` is a newline offset or the text length)."""
    windows: list[tuple[int, int]] = []
    line_end = -1  # end of the line of the previous position
    for pos in positions:
        if pos <= line_end:
            continue  # same line as the previous position: already covered
        line_end = text.find("\n", pos)
        if line_end < 0:
            line_end = len(text)
        start = _back_lines(text, pos, before)
        end = _forward_lines(text, pos, after)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows
