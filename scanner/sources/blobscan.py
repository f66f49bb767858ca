"""The history hot loop: every blob through the prefilter, candidates through the detector.

The main process reads blobs from ``git cat-file`` and runs the cheap ``wants(raw)`` prefilter
on each. Candidates are scanned either right there (``workers`` <= 1: small repositories, where
starting processes costs more than it saves) or by a pool of forked worker processes, one per
core, through the one parallel runner (scanner/parallel.py), which bounds the bytes waiting
for a worker however large the history is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from scanner.models import Finding, Fragment, FragmentScanner
from scanner.parallel import scan_in_workers

UNKNOWN_PATH = ""  # the path a blob is first scanned under (paths come with attribution)
PARALLEL_MIN_BYTES = 64 << 20  # below this, one process is faster than starting workers


class Progress(Protocol):
    def start(self, blobs: int, total_bytes: int) -> None: ...

    def advance(self, blobs: int, nbytes: int) -> None: ...

    def stop(self) -> None: ...


@dataclass
class BlobScan:
    hits: dict[str, list[Finding]] = field(default_factory=dict)  # blob id -> its findings
    blobs: int = 0
    nbytes: int = 0
    too_large: int = 0


def default_workers(total_bytes: int) -> int:
    if total_bytes < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def scan_blobs(
    blobs: Iterator[tuple[str, bytes]],
    scanner: FragmentScanner,
    *,
    max_size: int | None,
    progress: Progress | None,
    workers: int = 1,
) -> BlobScan:
    """Prefilter every blob, scan the candidates, return the blobs with findings."""
    result = BlobScan()
    candidates = _candidates(blobs, scanner, result, max_size, progress)
    if workers <= 1:
        scanned: Iterator[tuple[Fragment, list[Finding]]] = (
            (fragment, scanner.scan(fragment)) for fragment in candidates
        )
    else:
        scanned = scan_in_workers(scanner, candidates, workers)
    for fragment, found in scanned:
        if found:
            assert fragment.blob_id is not None
            result.hits[fragment.blob_id] = found
    return result


def _candidates(
    blobs: Iterator[tuple[str, bytes]],
    scanner: FragmentScanner,
    result: BlobScan,
    max_size: int | None,
    progress: Progress | None,
) -> Iterator[Fragment]:
    """The blobs that pass the prefilter, as fragments; counts every blob in ``result``."""
    wants = scanner.wants
    pending_blobs = pending_bytes = 0
    for oid, raw in blobs:
        size = len(raw)
        if max_size is not None and size > max_size:
            result.too_large += 1
            continue
        result.blobs += 1
        result.nbytes += size
        if wants(raw):
            yield Fragment(raw, UNKNOWN_PATH, "history", oid)
        if progress is not None:
            pending_blobs += 1
            pending_bytes += size
            if pending_blobs >= 256 or pending_bytes >= 1 << 24:
                progress.advance(pending_blobs, pending_bytes)
                pending_blobs = pending_bytes = 0
    if progress is not None and pending_blobs:
        progress.advance(pending_blobs, pending_bytes)
