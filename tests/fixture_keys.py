"""AWS-shaped fixture values for every test, generated at run time from a seed.

Nothing realistic is written into the repository: every key, secret and token the tests use
comes from these functions, so the project still scans itself clean.
"""

from __future__ import annotations

import random

from scanner.templates import BASE32, BASE64, aws_key_id, aws_secret, aws_session_token

__all__ = ["BASE32", "BASE64"]


def key_id(seed: object, prefix: str = "AKIA", *, new_style: bool = True) -> str:
    """``prefix`` + 16 base32 characters; ``new_style`` IDs encode an account id."""
    rng = random.Random(f"detect-key-{seed}-{prefix}-{new_style}")
    return aws_key_id(rng, prefix, new_style=new_style)


def secret_key(seed: object, *, slash: bool = False, plain: bool = False) -> str:
    """40 characters of the base64 alphabet that look like a real AWS secret (see
    :func:`scanner.templates.aws_secret` for ``slash`` and ``plain``)."""
    return aws_secret(
        random.Random(f"detect-secret-{seed}-{slash}-{plain}"), slash=slash, plain=plain
    )


def fake_secret(rng: random.Random) -> str:
    """40 characters drawn from ``rng`` (for tests that thread one RNG through many values)."""
    return "".join(rng.choice(BASE64) for _ in range(40))


def env_text(seed: object) -> str:
    """A .env block holding one whole credential (key id on line 1, secret on line 2)."""
    return f"AWS_ACCESS_KEY_ID={key_id(seed)}\nAWS_SECRET_ACCESS_KEY={secret_key(seed)}\n"


def session_token(seed: object, length: int = 400) -> str:
    return aws_session_token(random.Random(f"detect-token-{seed}"), length)


def random_b64(seed: object, length: int) -> str:
    rng = random.Random(f"detect-b64-{seed}")
    return "".join(rng.choice(BASE64) for _ in range(length))


def hex_string(seed: object, length: int) -> str:
    rng = random.Random(f"detect-hex-{seed}")
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))
