"""The shape checks that look at every character of a candidate (``_sequential``,
``binary_token_shape``) give what their character-by-character definitions give, on any text:
they run in C over bytes, and a file dense with session tokens spent seconds in the loops."""

from __future__ import annotations

import random
from itertools import groupby
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner.rules import checks
from scanner.rules.templates import aws_session_token


def sequential_by_definition(text: str, length: int = 8) -> bool:
    """``_sequential`` by its definition: the character loop it keeps for any text."""
    return checks._sequential_loop(text, length)


def binary_token_by_definition(secret: str) -> bool:
    if checks._periodic(secret) or sequential_by_definition(secret):
        return False
    longest = max((len(list(run)) for _, run in groupby(secret)), default=0)
    return len(set(secret)) >= min(20, len(secret) // 3) and longest * 8 <= len(secret)


# texts near the edges: steps across 0x00 and 0xFF, past U+00FF, runs of every length
_EDGY = st.sampled_from("ABCDEFGHIJ0123456789zyxw/+=\x00\x01\xfe\xff\u0100\u0101\U0001f600")
TEXTS = st.one_of(st.text(max_size=80), st.text(_EDGY, max_size=80))


@settings(max_examples=600, deadline=None)
@given(TEXTS, st.integers(min_value=2, max_value=9))
@example("ABCDEFGH", 8)
@example("HGFEDCBA", 8)
@example("xx\xf9\xfa\xfb\xfc\xfd\xfe\xff\x00", 8)  # an up run through the wrap: 7 steps only
@example("\x07\x06\x05\x04\x03\x02\x01\x00\xff", 8)
@example("\u00f8\u00f9\u00fa\u00fb\u00fc\u00fd\u00fe\u00ff\u0100", 9)
def test_sequential_is_its_definition(text: str, length: int) -> None:
    assert checks._sequential(text, length) == sequential_by_definition(text, length)


@settings(max_examples=600, deadline=None)
@given(TEXTS)
@example("")
@example("A" * 7)
@example("IQoJb3JpZ2luX2VjEMv//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" * 2)
def test_binary_token_shape_is_its_definition(secret: str) -> None:
    assert checks.binary_token_shape(secret) == binary_token_by_definition(secret)


def test_generated_session_tokens_agree_and_take_no_loop() -> None:
    rng = random.Random(4)
    tokens = [aws_session_token(rng, length) for length in (356, 372, 800) for _ in range(20)]
    runs = [t[:200] + "A" * length + t[200:] for t in tokens[:6] for length in (120, 200)]
    with mock.patch.object(checks, "_sequential_loop", side_effect=AssertionError("loop")):
        got = [checks.binary_token_shape(t) for t in tokens + runs]
    assert got == [binary_token_by_definition(t) for t in tokens + runs]
    assert all(got[: len(tokens)]) and not any(got[len(tokens) :])


@pytest.mark.parametrize("text", ["abc\u0100defghijk", "\xffabcdefghijk"])
def test_texts_past_latin1_or_with_ff_take_the_loop(text: str) -> None:
    with mock.patch.object(checks, "_sequential_loop", return_value=True) as loop:
        assert checks._sequential(text) is True
    loop.assert_called_once()
