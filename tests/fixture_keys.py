"""AWS-shaped fixture values for every test, generated at run time from a seed.

Nothing realistic is written into the repository: every key, secret and token the tests use
comes from these functions, so the project still scans itself clean.
"""

from __future__ import annotations

import random
import string

from scanner.entropy import shannon_entropy

BASE32 = string.ascii_uppercase + "234567"
BASE64 = string.ascii_letters + string.digits + "+/"


def key_id(seed: object, prefix: str = "AKIA", *, new_style: bool = True) -> str:
    """``prefix`` + 16 base32 characters; ``new_style`` IDs encode an account id."""
    rng = random.Random(f"detect-key-{seed}-{prefix}-{new_style}")
    while True:
        first = rng.choice("QRSTUVWXYZ234567" if new_style else "IJ")
        body = first + "".join(rng.choice(BASE32) for _ in range(15))
        if len(set(body)) >= 10 and "TEST" not in body:
            return prefix + body


def secret_key(seed: object, *, slash: bool = False, plain: bool = False) -> str:
    """40 characters of the base64 alphabet that look like a real AWS secret.

    ``slash=True`` guarantees a ``/`` and a ``+`` (to exercise percent and JSON escapes);
    ``plain=True`` guarantees neither (so it survives URLs unencoded).
    """
    rng = random.Random(f"detect-secret-{seed}-{slash}-{plain}")
    alphabet = BASE64[:62] if plain else BASE64
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(40))
        if slash:
            value = value[:10] + "/" + value[11:25] + "+" + value[26:]
        if (
            shannon_entropy(value) >= 4.6
            and any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def fake_secret(rng: random.Random) -> str:
    """40 characters drawn from ``rng`` (for tests that thread one RNG through many values)."""
    return "".join(rng.choice(BASE64) for _ in range(40))


def env_text(seed: object) -> str:
    """A .env block holding one whole credential (key id on line 1, secret on line 2)."""
    return f"AWS_ACCESS_KEY_ID={key_id(seed)}\nAWS_SECRET_ACCESS_KEY={secret_key(seed)}\n"


def session_token(seed: object, length: int = 400) -> str:
    rng = random.Random(f"detect-token-{seed}")
    body = "".join(rng.choice(BASE64) for _ in range(length - 16))
    return "IQoJb3JpZ2luX2Vj" + body


def random_b64(seed: object, length: int) -> str:
    rng = random.Random(f"detect-b64-{seed}")
    return "".join(rng.choice(BASE64) for _ in range(length))


def hex_string(seed: object, length: int) -> str:
    rng = random.Random(f"detect-hex-{seed}")
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))
