"""Named heuristic checks a rule can ask for with ``checks: [...]``.

Each check returns True when the candidate secret still looks real. The names are listed in
``scanner.rulepack.KNOWN_CHECKS`` (the loader validates them); a test keeps both in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from scanner.templates import base62_checksum

_HEX = re.compile(r"[0-9a-fA-F]+")
_RUN = re.compile(r"(.)\1{5}")


def not_hex(secret: str) -> bool:
    """Pure hex strings (SHA-1 digests, git commit ids) are not secrets of base64 alphabets."""
    return _HEX.fullmatch(secret) is None


def mixed_case(secret: str) -> bool:
    """Random base64 text of 40 characters has both cases (P(no upper) is about 1e-9)."""
    return any(c.isupper() for c in secret) and any(c.islower() for c in secret)


def _periodic(text: str) -> bool:
    """True when ``text`` repeats a unit of up to 8 characters (``abcabcab``)."""
    n = len(text)
    for period in range(1, min(9, n // 2 + 1)):
        if text[:period] * (n // period) + text[: n % period] == text:
            return True
    return False


def not_repetitive(secret: str) -> bool:
    """Rejects runs of six equal characters, short periods, and too few distinct characters."""
    if _RUN.search(secret):
        return False
    if _periodic(secret):
        return False
    return len(set(secret)) >= min(10, len(secret) // 3)


def aws_key_id_shape(secret: str) -> bool:
    """The 16 characters after the prefix of a key ID look random, not patterned.

    ``AKIATESTTESTTESTTEST`` or ``AKIAAAAABBBBCCCCDDDD``-style fakes fail: a period of up to 8
    characters, a run of 5 equal characters, or fewer than 6 distinct characters.
    """
    body = secret[4:]
    if _periodic(body) or len(set(body)) < 6:
        return False
    return re.search(r"(.)\1{4}", body) is None


def crc32_base62_suffix(secret: str) -> bool:
    """GitHub (``ghp_``, ``gho_``, ...) and npm (``npm_``) tokens of 40 characters end in the
    base62 CRC32 of their 30 random characters: a typo, a truncated or an invented token fails.
    Longer tokens (other formats under the same prefixes) are not checked."""
    if len(secret) != 40 or secret[3] != "_":
        return True
    return base62_checksum(secret[4:34]) == secret[34:]


CHECKS: dict[str, Callable[[str], bool]] = {
    "not-hex": not_hex,
    "mixed-case": mixed_case,
    "not-repetitive": not_repetitive,
    "aws-key-id-shape": aws_key_id_shape,
    "crc32-base62-suffix": crc32_base62_suffix,
}
