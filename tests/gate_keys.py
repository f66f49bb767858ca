"""AWS-shaped fixture credentials for the CI-gate tests, built at run time from a seed.

Nothing realistic is ever written into the repository: each test derives its keys here.
"""

from __future__ import annotations

import random
import string

_BASE32 = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "/+"


def key_id(seed: int) -> str:
    rng = random.Random(f"keysweep-gate-id-{seed}")
    return "AKIA" + "".join(rng.choice(_BASE32) for _ in range(16))


def secret_key(seed: int) -> str:
    rng = random.Random(f"keysweep-gate-secret-{seed}")
    return "".join(rng.choice(_SECRET_CHARS) for _ in range(40))


def env_block(seed: int) -> str:
    """A .env snippet holding one full credential (key id and secret)."""
    return f"AWS_ACCESS_KEY_ID={key_id(seed)}\nAWS_SECRET_ACCESS_KEY={secret_key(seed)}\n"
