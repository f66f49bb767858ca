"""Fake AWS credentials: AWS-shaped values for every test, generated at run time from a seed.

Nothing realistic is written into the repository: every key, secret and token the tests use
comes from these functions, so the project still scans itself clean.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from scanner.rules.templates import BASE32, BASE64, aws_key_id, aws_secret, aws_session_token

__all__ = ["BASE32", "BASE64"]


def key_id(seed: object, prefix: str = "AKIA", *, new_style: bool = True) -> str:
    """``prefix`` + 16 base32 characters; ``new_style`` IDs encode an account id."""
    rng = random.Random(f"detect-key-{seed}-{prefix}-{new_style}")
    return aws_key_id(rng, prefix, new_style=new_style)


def secret_key(seed: object, *, slash: bool = False, plain: bool = False) -> str:
    """40 characters of the base64 alphabet that look like a real AWS secret (see
    :func:`scanner.rules.templates.aws_secret` for ``slash`` and ``plain``)."""
    return aws_secret(
        random.Random(f"detect-secret-{seed}-{slash}-{plain}"), slash=slash, plain=plain
    )


def fake_secret(rng: random.Random) -> str:
    """40 characters drawn from ``rng`` (for tests that thread one RNG through many values)."""
    return "".join(rng.choice(BASE64) for _ in range(40))


def env_block(key: str, secret: str, token: str | None = None) -> str:
    """The .env lines of one credential: key id on line 1, secret on line 2 (token on 3)."""
    lines = [f"AWS_ACCESS_KEY_ID={key}", f"AWS_SECRET_ACCESS_KEY={secret}"]
    if token is not None:
        lines.append(f"AWS_SESSION_TOKEN={token}")
    return "\n".join(lines) + "\n"


def env_text(seed: object) -> str:
    """A .env block holding one whole credential (key id on line 1, secret on line 2)."""
    return env_block(key_id(seed), secret_key(seed))


def session_token(seed: object, length: int = 400) -> str:
    return aws_session_token(random.Random(f"detect-token-{seed}"), length)


def random_b64(seed: object, length: int) -> str:
    rng = random.Random(f"detect-b64-{seed}")
    return "".join(rng.choice(BASE64) for _ in range(length))


def hex_string(seed: object, length: int) -> str:
    rng = random.Random(f"detect-hex-{seed}")
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


@dataclass(frozen=True)
class Credential:
    """An AWS-shaped credential that exists nowhere but in this test run."""

    key_id: str
    secret: str
    token: str | None = None

    @property
    def values(self) -> tuple[str, ...]:
        """The values that must never leak (the key ID is an identifier, not a secret)."""
        return (self.secret,) if self.token is None else (self.secret, self.token)

    def env_text(self) -> str:
        return env_block(self.key_id, self.secret, self.token)


def make_credential(seed: int | str, *, temporary: bool = False) -> Credential:
    """A deterministic key ID + secret (+ session token for ``ASIA`` keys) for ``seed``,
    built from the project's shared fixture generators."""
    name = f"hardening-{seed}"
    token = session_token(name) if temporary else None
    return Credential(key_id(name, "ASIA" if temporary else "AKIA"), secret_key(name), token)
