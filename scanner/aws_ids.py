"""AWS unique identifiers: the one table of prefixes, and the key ID shapes derived from it.

IAM gives every user, role, group, policy, certificate and access key a unique ID: a four-letter
prefix naming the kind of entity, then 16 base32 characters (``A-Z``, ``2-7``). The prefixes are
AWS's documented table ("Understanding unique ID prefixes", IAM User Guide, IAM identifiers).

Every check in keysweep is one of the named forms below, each for one purpose; the YAML rules in
``rules/`` are data and spell their own regexes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

UNIQUE_ID_PREFIXES: Mapping[str, str] = {
    "ABIA": "AWS STS service bearer token",
    "ACCA": "context-specific credential",
    "AGPA": "user group",
    "AIDA": "IAM user",
    "AIPA": "Amazon EC2 instance profile",
    "AKIA": "access key",
    "ANPA": "managed policy",
    "ANVA": "version in a managed policy",
    "APKA": "public key",
    "AROA": "role",
    "ASCA": "certificate",
    "ASIA": "temporary (AWS STS) access key",
}
LONG_TERM_PREFIX = "AKIA"  # an IAM user's (or root's) access key: deactivatable
TEMPORARY_PREFIX = "ASIA"  # STS credentials: need a session token, expire on their own
# The prefixes of access key IDs: what signs a request (with a secret access key).
ACCESS_KEY_PREFIXES = (LONG_TERM_PREFIX, TEMPORARY_PREFIX, "ABIA", "ACCA")
# The access keys sts:GetCallerIdentity can be asked about.
STS_CHECKABLE_PREFIXES = (LONG_TERM_PREFIX, TEMPORARY_PREFIX)

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # the 16 characters after the prefix
# The first of those 16 in a key ID that encodes its account (``AKIAI``/``AKIAJ`` ones do not).
NEW_STYLE_FIRST = "QRSTUVWXYZ234567"


def _shape(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(f"(?:{'|'.join(prefixes)})[A-Z2-7]{{16}}")


# Any unique ID as AWS issues it (use with ``fullmatch``).
UNIQUE_ID = _shape(tuple(UNIQUE_ID_PREFIXES))
# An access key ID as AWS issues it: an identifier, shown in the console and in CloudTrail.
ACCESS_KEY_ID = _shape(ACCESS_KEY_PREFIXES)
# An access key ID STS can check.
STS_CHECKABLE_KEY_ID = _shape(STS_CHECKABLE_PREFIXES)
# A long-term access key ID: the only kind ``deactivate``/``reactivate`` act on.
LONG_TERM_KEY_ID = _shape((LONG_TERM_PREFIX,))


def is_sts_checkable_key_id(value: str) -> bool:
    """True for long-term (AKIA) and temporary (ASIA) access key IDs: the ones STS can check."""
    return STS_CHECKABLE_KEY_ID.fullmatch(value) is not None
