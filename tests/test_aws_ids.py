"""The one table of AWS unique-ID prefixes and the key ID shapes derived from it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.keys import key_id

from scanner.aws_ids import (
    ACCESS_KEY_ID,
    ACCESS_KEY_PREFIXES,
    LONG_TERM_KEY_ID,
    STS_CHECKABLE_PREFIXES,
    UNIQUE_ID,
    UNIQUE_ID_PREFIXES,
    is_sts_checkable_key_id,
)
from scanner.cli import scrub

# AWS's documented table ("Understanding unique ID prefixes", IAM User Guide).
DOCUMENTED = [
    "ABIA",
    "ACCA",
    "AGPA",
    "AIDA",
    "AIPA",
    "AKIA",
    "ANPA",
    "ANVA",
    "APKA",
    "AROA",
    "ASCA",
    "ASIA",
]


def test_the_table_is_the_documented_one() -> None:
    assert sorted(UNIQUE_ID_PREFIXES) == DOCUMENTED
    assert set(ACCESS_KEY_PREFIXES) == {"AKIA", "ASIA", "ABIA", "ACCA"}
    assert set(STS_CHECKABLE_PREFIXES) == {"AKIA", "ASIA"}


@pytest.mark.parametrize("prefix", DOCUMENTED)
def test_each_shape_takes_the_prefixes_meant_for_it(prefix: str) -> None:
    value = key_id("shapes", prefix)
    assert UNIQUE_ID.fullmatch(value)
    assert bool(ACCESS_KEY_ID.fullmatch(value)) is (prefix in ACCESS_KEY_PREFIXES)
    assert is_sts_checkable_key_id(value) is (prefix in STS_CHECKABLE_PREFIXES)
    assert bool(LONG_TERM_KEY_ID.fullmatch(value)) is (prefix == "AKIA")


@pytest.mark.parametrize(
    "change",
    [
        lambda k: k[:-1] + "0",  # 0, 1, 8 and 9 are not base32
        lambda k: k[:-1] + "8",
        lambda k: k[:4] + k[4:].lower(),
        lambda k: k + "Q",
        lambda k: k[:-1],
        lambda k: "AKIB" + k[4:],
    ],
)
def test_what_aws_never_issues_is_no_key_id(change: Callable[[str], str]) -> None:
    value = change(key_id("never"))
    for shape in (UNIQUE_ID, ACCESS_KEY_ID, LONG_TERM_KEY_ID):
        assert shape.fullmatch(value) is None
    assert not is_sts_checkable_key_id(value)


def test_error_lines_show_access_key_ids_and_hide_the_rest() -> None:
    """An access key ID is an identifier (shown); a word that only resembles one is not."""
    shown = [key_id("line", prefix) for prefix in ACCESS_KEY_PREFIXES]
    hidden = [key_id("line", "AIDA"), key_id("line")[:-2] + "09"]
    message = "keysweep: error: " + " ".join(shown + hidden)
    expected = "keysweep: error: " + " ".join(shown + ["<redacted>"] * len(hidden))
    assert scrub(message, shown + hidden) == expected
