"""Offline account-id decoding of AWS access key IDs, checked against published pairs.

The key IDs below are public examples from write-ups about the format (split in two so the
repository holds no complete key ID literal):
- psanford/aws-account-id-from-key README: ASIA + VJ2E6QGR2WZILJFM -> 364679954851
- aidansteele "AWS Access Key ID formats" (2020): ASIA + Y34FZKBOKMUTVV7A -> 609629065308
- aws-account-id-from-key-id (Rust crate docs): AKIA + SP2TPHJSQH3FJXYZ -> 171436882533
- localstack (account offset): ASIA + QAAAAAAAGMKEM7X5 -> 000000000000
"""

from __future__ import annotations

import pytest
from support.keys import key_id

from scanner.rules.aws_account import account_id_from_key_id

KNOWN = [
    ("ASIA", "VJ2E6QGR2WZILJFM", "364679954851"),
    ("ASIA", "Y34FZKBOKMUTVV7A", "609629065308"),
    ("AKIA", "SP2TPHJSQH3FJXYZ", "171436882533"),
    ("ASIA", "QAAAAAAAGMKEM7X5", "000000000000"),
]


@pytest.mark.parametrize(("prefix", "rest", "account"), KNOWN)
def test_known_pairs(prefix: str, rest: str, account: str) -> None:
    assert account_id_from_key_id(prefix + rest) == account


def test_old_style_ids_have_no_decodable_account() -> None:
    assert account_id_from_key_id("AKIAIOSFODNN7EXAMPLE") is None
    assert account_id_from_key_id(key_id("old", new_style=False)) is None


@pytest.mark.parametrize(
    "bad", ["", "AKIA", "AKIA0000000000000000", "akia" + "Q" * 16, "AKIAQ" + "A" * 16]
)
def test_not_a_key_id(bad: str) -> None:
    assert account_id_from_key_id(bad) is None


def test_account_is_stable_across_keys_of_one_account() -> None:
    # The account lives in the first 41 bits after the prefix (characters 5..13); the tail
    # varies per key.
    base = key_id("acct")
    other = base[:13] + ("A" if base[13] != "A" else "B") + base[14:]
    assert account_id_from_key_id(base) == account_id_from_key_id(other)


def _key_id_for_field(value: int) -> str:
    """A new-style key ID whose 40-bit account field holds ``value`` (tail bits fixed)."""
    first_six = (value << 7) | (1 << 47)  # bit 47 set puts the 5th character in Q-Z / 2-7
    bits = (first_six << 32) | 0x5A5A5A5A
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    body = "".join(alphabet[(bits >> (5 * i)) & 31] for i in reversed(range(16)))
    return "AKIA" + body


@pytest.mark.parametrize(
    ("value", "account"),
    [
        (999_999_999_999, "999999999999"),
        (123_456_789_012, "123456789012"),
        (1_000_000_000_000, None),  # 13 digits: no account has it
        ((1 << 40) - 1, None),
    ],
)
def test_impossible_account_ids_are_not_reported(value: int, account: str | None) -> None:
    kid = _key_id_for_field(value)
    assert kid[4] in "QRSTUVWXYZ234567"
    assert account_id_from_key_id(kid) == account
