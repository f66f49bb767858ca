"""RE2 (``google-re2``) over bytes: the linear-time matcher used where Hyperscan is absent.

The keyword prefilter (``prefilter.py``) and the run-shaped rule cores (``corematch.py``) hand
RE2 raw bytes or core bytes (one byte per character). Both read them as Latin-1, so every byte
is one character, no input is rejected as invalid UTF-8, offsets are byte offsets, and a
caseless ASCII literal folds ASCII letters only, as Hyperscan's does. Patterns are bytes with
non-alphanumeric characters written ``\\xNN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2  # type: ignore[import-untyped]

# RE2's memory budget per compiled pattern or set. A literal set's automaton has at most one
# state per literal prefix (a few thousand here), far below it, so RE2 never gives up on a text
# (which the Python binding could not report: ``Set.Match`` would answer "none").
MEMORY = 64 << 20

_OPTIONS = re2.Options()
_OPTIONS.encoding = re2.Options.Encoding.LATIN1
_OPTIONS.max_mem = MEMORY
_OPTIONS.never_capture = True  # spans of whole matches only


def compile_bytes(pattern: bytes) -> Any:
    """One compiled pattern (``search``, ``finditer`` over bytes)."""
    return re2.compile(pattern, _OPTIONS)


def literal_set(patterns: Sequence[bytes]) -> Any:
    """One RE2 ``Set``: ``Match(data)`` gives the indexes of the patterns found anywhere in
    one DFA pass (None when none is)."""
    found = re2.Set.SearchSet(_OPTIONS)
    for pattern in patterns:
        found.Add(pattern)
    found.Compile()
    return found
