"""RE2 (``google-re2``) over bytes: the linear-time matcher used where Hyperscan is absent.

The keyword prefilter (``prefilter.py``) and the run-shaped rule cores (``corematch.py``) hand
RE2 raw bytes or core bytes (one byte per character). Both read them as Latin-1, so every byte
is one character, no input is rejected as invalid UTF-8, offsets are byte offsets, and a
caseless ASCII literal folds ASCII letters only, as Hyperscan's does. Patterns are bytes with
non-alphanumeric characters written ``\\xNN``.

Matches are leftmost-longest. Every use here reads where a match starts, whether one exists,
or a maximal run of one class, all of which leftmost-first would give the same (a longer match
only widens the intervals ``corematch._covering_ends`` derives from them); and the
automaton of an alternation of hundreds of caseless literals stays small (leftmost-first orders
its threads: ``wants``'s alternation outgrew its 8 MiB on aws/aws-cli's 4 MB models and finished
on RE2's slow NFA). RE2 does not log: a search that outgrows its memory still answers right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2  # type: ignore[import-untyped]

Error = re2.error  # a pattern RE2 cannot compile (a repeat over 1,000, say)


def _options(memory: int) -> Any:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.max_mem = memory
    options.never_capture = True  # spans of whole matches only
    options.longest_match = True
    options.log_errors = False  # RE2 would write to stderr past keysweep's own reporting
    return options


# A single pattern that outgrows its budget (8 MiB, RE2's default) finishes on RE2's slower
# NFA: the answer is the same. A ``Set`` has no such fallback, and the Python binding cannot
# report the failure (``Match`` would answer "none"): the keyword set gets 64 MiB, far above
# what its automaton needs (at most one state per literal prefix, a few thousand here).
_PATTERN = _options(8 << 20)
_SET = _options(64 << 20)


def compile_bytes(pattern: bytes) -> Any:
    """One compiled pattern (``search``, ``finditer`` over bytes); raises ``Error``."""
    return re2.compile(pattern, _PATTERN)


def literal_set(patterns: Sequence[bytes]) -> Any:
    """One RE2 ``Set``: ``Match(data)`` gives the indexes of the patterns found anywhere in
    one DFA pass (None when none is)."""
    found = re2.Set.SearchSet(_SET)
    for pattern in patterns:
        found.Add(pattern)
    found.Compile()
    return found
