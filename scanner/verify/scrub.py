"""Keep secrets out of every message that leaves the verifier (errors, logs, report details)."""

from __future__ import annotations

from collections.abc import Iterable

_MIN_SCRUB_LEN = 8


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret (and of its first 16 characters) in ``text``.

    Prefix matching catches SDK messages that truncate a token; the access key ID is not a
    secret and is left alone by callers that do not pass it.
    """
    for secret in secrets:
        if not secret or len(secret) < _MIN_SCRUB_LEN:
            continue
        text = text.replace(secret, "***")
        text = text.replace(secret[:16], "***")
    return text


def one_line(text: str, limit: int = 300) -> str:
    """Collapse an SDK error to one bounded line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
