"""What a failed command prints: one line on stderr, with no secret pasted on the command line
by mistake echoed in it, and no traceback unless ``KEYSWEEP_DEBUG=1``."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from contextlib import suppress
from itertools import pairwise

from scanner.atomic import silence_stdout, stdout_failed
from scanner.aws_ids import ACCESS_KEY_ID

# A command-line word that looks like a secret: long, one token of base64/hex-ish characters
# with high entropy, not a path (one that exists, or an absolute one) and not an AWS access
# key ID as AWS issues it (an identifier, shown everywhere).
_SECRETISH = re.compile(r"[A-Za-z0-9+/=_\-]{16,}")


def _looks_secret(word: str) -> bool:
    from scanner.entropy import shannon_entropy

    if not _SECRETISH.fullmatch(word) or ACCESS_KEY_ID.fullmatch(word):
        return False
    if word.startswith(("/", "./", "../", "~")):  # a path the user meant to name
        return False
    if not (any(c.isdigit() for c in word) and any(c.isalpha() for c in word)):
        return False
    return shannon_entropy(word) >= 3.5 and not os.path.lexists(word)


def _revisions(args: Sequence[str]) -> set[str]:
    """The values of ``--since``: git revisions (a commit id looks like a secret to
    ``_looks_secret``), which an error line must name as given: "unknown revision <redacted>"
    leaves a CI log without the one thing to check."""
    values = {arg.removeprefix("--since=") for arg in args if arg.startswith("--since=")}
    values.update(after for before, after in pairwise(args) if before == "--since")
    return values


def scrub(message: str, args: Sequence[str]) -> str:
    """``message`` with every command-line word that looks like a secret replaced by
    ``<redacted>``: no error line ever echoes a secret pasted by mistake (a secret key given
    as KEY_ID, a token as a path), whichever code path wrote the message."""
    revisions = _revisions(args)
    for arg in args:
        for word in (arg, *arg.split("=", 1)[1:]):
            if word in revisions:
                continue
            if _looks_secret(word):
                message = message.replace(word, "<redacted>")
    return message


def error_line(message: str, args: Sequence[str]) -> None:
    """Print ``message`` (scrubbed of ``args`` that look like secrets, control characters
    escaped: a file name cannot colour or clear the terminal) on stderr, if it can."""
    from scanner.report.table import printable

    with suppress(OSError, ValueError, AttributeError):
        print(printable(scrub(message, args)), file=sys.stderr)


def unexpected(exc: Exception, args: Sequence[str]) -> None:
    """The last resort: stdout refusing what a command printed to it (``keysweep rules list >
    /dev/full``) is one error line; anything else is a bug, named by its type only (its message
    may hold a line of scanned input)."""
    if isinstance(exc, OSError) and stdout_failed(exc):
        silence_stdout()
        error_line(f"keysweep: error: cannot write standard output: {exc.strerror}", args)
        return
    if os.environ.get("KEYSWEEP_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    error_line(f"keysweep: internal error ({type(exc).__name__}); please report it", args)
