"""Confirmation searches remembered across texts (``SearchMemo``) find what ``re`` finds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detect.corematch import CoreMatcher
from scanner.detect.searchmemo import SearchMemo, look_back

# Patterns whose matches depend on the characters before the search window: a lookbehind,
# a word boundary, ``^`` (multi-line and not), a lookbehind after consumed characters.
PATTERNS = [
    r"(?<![a-z])key=(?P<secret>[a-z0-9]{4})",
    r"\bkey=(?P<secret>[a-z0-9]{4})",
    r"(?m)^key=(?P<secret>[a-z0-9]{4})",
    r"^key=(?P<secret>[a-z0-9]{4})",
    r"k(?<=[^a-z]k)ey=(?P<secret>[a-z0-9]{4})",
    r"(?:(?<=ab)|(?<=\nb))key=(?P<secret>[a-z0-9]{2,4})",
    r"(?P<d>k\()?(?P<secret>[a-z]{2,3})(?(d),|=)q",
]

_MATCHERS: dict[str, CoreMatcher] = {}


def _matcher(pattern: str) -> CoreMatcher:
    """One matcher per pattern for the whole run, so that windows from earlier texts are
    remembered when later ones are searched."""
    if pattern not in _MATCHERS:
        _MATCHERS[pattern] = CoreMatcher([re.compile(pattern)], use_hyperscan=True)
    return _MATCHERS[pattern]


@pytest.mark.parametrize(
    ("pattern", "back"),
    [
        (r"key=\w{4}", 1),
        (r"(?<![a-z])key", 2),
        (r"(?<!abc)k(?<=[^x]k)ey", 6),
        (r"(?:(?<=ab)|(?<=\nbcd))key", 5),
        (r"(?:x(?<!yz)){1,3}", 3),
    ],
)
def test_look_back_covers_every_lookbehind(pattern: str, back: int) -> None:
    assert look_back(re.compile(pattern)) == back


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(["key=ab12", "key=zz", "k(ab,q", "abq=q", "a", "b", "x", " ", "\n"]),
        max_size=12,
    ),
    cut=st.tuples(st.integers(0, 90), st.integers(0, 90)),
)
def test_remembered_searches_find_what_re_finds(
    pattern: str, pieces: list[str], cut: tuple[int, int]
) -> None:
    regex = re.compile(pattern)
    text = "".join(pieces)
    matcher = _matcher(pattern)
    ends = matcher.ends(text.encode("ascii"))
    assert ends is not None
    found = ends.get(0, [])
    expected = [(m.span(), m.groups()) for m in regex.finditer(text)]
    assert [(m.span(), m.groups()) for m in matcher.finditer(0, text, found)] == expected
    pos, endpos = min(cut), max(cut)
    windowed = [(m.span(), m.groups()) for m in regex.finditer(text, pos, endpos)]
    got = matcher.finditer(0, text, found, pos, endpos)
    assert [(m.span(), m.groups()) for m in got] == windowed


def test_a_window_is_told_apart_by_the_characters_before_it() -> None:
    # the same window after "x" (no match: a letter before "key") and after " " (a match)
    memo = SearchMemo((re.compile(r"(?<![a-z])key=(?P<secret>[a-z0-9]{4})"),))
    first, second = "x" * 40 + "key=ab12", " " * 40 + "key=ab12"
    assert memo.search(0, first, 30, len(first)) is None
    match = memo.search(0, second, 30, len(second))
    assert match is not None and match.group("secret") == "ab12"
    assert memo.search(0, first, 30, len(first)) is None


class _Counting:
    """A regex that counts its searches."""

    def __init__(self, pattern: str) -> None:
        self._regex = re.compile(pattern)
        self.pattern, self.flags = self._regex.pattern, self._regex.flags
        self.searched: list[int] = []

    def search(self, text: str, pos: int, endpos: int) -> Any:
        self.searched.append(pos)
        return self._regex.search(text, pos, endpos)


def test_a_known_window_is_not_searched_again() -> None:
    regex = _Counting(r"(?i)password\s{0,2}=\s{0,2}(?P<secret>\w{8,})")
    memo = SearchMemo((regex,))  # type: ignore[arg-type]
    version_1 = "# settings\npassword = short\n"
    version_2 = "# settings, v2\npassword = short\n"
    tail = version_1.index("password")
    assert memo.search(0, version_1, tail, len(version_1)) is None
    assert memo.search(0, version_2, version_2.index("password"), len(version_2)) is None
    assert len(regex.searched) == 1  # the second window is the first one's text
    found_1 = "x password = abcdefgh12\n"
    found_2 = "yx password = abcdefgh12\n"  # from 1 on, the first text
    assert memo.search(0, found_1, 1, len(found_1)) is not None
    match = memo.search(0, found_2, 2, len(found_2))
    assert match is not None and match.span("secret") == (14, 24)
    # the second search started where the first found its match: one position tried
    assert regex.searched[-1] == 3
    assert memo._known and memo.__getstate__()["_known"] == {}  # a pickled copy starts empty


def test_long_windows_are_searched_and_not_remembered() -> None:
    regex = _Counting(r"key=(?P<secret>\d{4})")
    memo = SearchMemo((regex,))  # type: ignore[arg-type]
    text = "a" * 5000 + "key=1234"
    for _ in range(2):
        assert memo.search(0, text, 0, len(text)) is not None
    assert regex.searched == [0, 0]
    assert memo._known == {}


def test_the_memo_starts_afresh_past_its_character_budget() -> None:
    regex = _Counting(r"key=(?P<secret>\d{4})")
    memo = SearchMemo((regex,))  # type: ignore[arg-type]
    memo.limit = 100
    first, second = "a" * 60, "b" * 60  # 60 characters each: two do not fit in 100
    for text in (first, first, second, second, first):
        assert memo.search(0, text, 0, len(text)) is None
    # first searched, then known; second searched (the budget overflows: only it is kept),
    # then known; first searched again
    assert len(regex.searched) == 3
    assert memo._chars == 60
