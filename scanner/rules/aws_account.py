"""Offline decoding of the AWS account id inside an access key ID.

Newer key IDs (the character after the 4-letter prefix is in ``Q-Z`` or ``2-7``) encode the
owning account: base32-decode the 16 characters after the prefix, read the first 6 bytes as a
big-endian integer, mask with ``0x7fffffffff80`` and shift right by 7. Older IDs (``AKIAI...``,
``AKIAJ...``) do not carry the account, so the answer is ``None``. No network, no AWS call.

The decoded field is 40 bits wide, wider than an account id: a value above 999999999999
(13 digits) names no account, so a key ID that decodes to one gets ``None`` too. (All zeros is
kept: LocalStack's keys decode to 000000000000.)
"""

from __future__ import annotations

from scanner.aws_ids import BASE32, NEW_STYLE_FIRST, UNIQUE_ID

_MASK = 0x7FFFFFFFFF80
_MAX_ACCOUNT = 999_999_999_999  # account ids are 12 decimal digits
# base32 (A-Z, 2-7) -> the digits int(..., 32) reads (0-9, a-v): same values, C speed.
_TO_INT32 = str.maketrans(BASE32, "0123456789abcdefghijklmnopqrstuv")


def account_id_from_key_id(key_id: str) -> str | None:
    """The 12-digit account id encoded in ``key_id``, or ``None`` when it is not decodable."""
    if not UNIQUE_ID.fullmatch(key_id) or key_id[4] not in NEW_STYLE_FIRST:
        return None
    bits = int(key_id[4:].translate(_TO_INT32), 32)  # 16 chars = 80 bits, base32-decoded
    first_six_bytes = bits >> 32
    account = (first_six_bytes & _MASK) >> 7
    if account > _MAX_ACCOUNT:
        return None
    return f"{account:012d}"
