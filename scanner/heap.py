"""A bound on a long-running scan process's resident memory.

glibc's ``malloc`` raises its mmap threshold to the size of the largest block freed (up to
32 MiB). After the first multi-megabyte blob, each blob's copies (the bytes, the text, the
lowered text) come from the heap instead of their own mappings, and the heap's free space
fragments and stays resident. On aws/aws-cli's history (2,395 blobs of 1-4 MB, botocore models
and changelogs) one history worker grew from 61 MB to 131 MB over 46,000 blobs.
``malloc_trim(0)`` gives the free pages back, but every trim makes the next large blob fault its
pages in again: trimming after every blob of 1 MiB or more cost a fifth more time. So
``HeapBound.check`` trims only when resident memory is above the bound: on that share, 29 trims,
no measurable time, 99 MB at the end.

Elsewhere than glibc on Linux, ``check`` does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable

# Resident memory of one history worker above which freed heap memory goes back to the OS.
WORKER_BOUND = 96 << 20
# Blobs smaller than this come from pymalloc's arenas or small heap blocks: no check after them.
LARGE = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


@functools.cache
def _glibc(name: str) -> Callable[..., int] | None:
    """glibc's function ``name`` (``malloc_trim``, ``mallopt``), looked up once among the
    symbols already loaded; None elsewhere."""
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    return function


def resident_bytes() -> int | None:
    """This process's resident memory (Linux), or None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def map_large_blocks() -> None:
    """From now on, every block of LARGE bytes or more gets its own mapping, unmapped when
    freed, instead of heap memory (glibc's ``M_MMAP_THRESHOLD``, no longer raised as blocks are
    freed). Each large blob's pages then fault in anew (a fifth more time with Hyperscan), but
    nothing of it stays resident: without Hyperscan, where a blob takes twice as long and two
    workers' peaks overlap more, aws/aws-cli's process tree went from 358-388 MB to 323 MB."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, LARGE)


def release() -> None:
    """Give the heap's free pages back to the OS now (before a fork: the walk and the listing
    leave freed memory behind in the parent, which every worker would also start with)."""
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


class HeapBound:
    """``check(size)`` after a blob of ``size`` bytes is done with: past ``limit`` bytes
    resident, free heap pages go back to the OS."""

    def __init__(self, limit: int = WORKER_BOUND) -> None:
        self.limit = limit
        self.trims = 0
        self._trim = _glibc("malloc_trim")

    def check(self, size: int) -> None:
        if self._trim is None or size < LARGE:
            return
        resident = resident_bytes()
        if resident is not None and resident > self.limit:
            self._trim(0)
            self.trims += 1
