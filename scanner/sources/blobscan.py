"""The history hot loop: every blob through the prefilter, candidates through the detector.

The main process reads blobs from ``git cat-file`` and runs the cheap ``wants(raw)`` prefilter
on each. Candidates are scanned either right there (``workers`` <= 1: small repositories, where
starting processes costs more than it saves) or by a pool of forked worker processes, one per
core, each holding its own copy of the detector: regex matching holds the GIL, so threads
would not help. At most ``MAX_IN_FLIGHT`` bytes of candidates wait for a worker at any time,
which bounds memory however large the history is.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.pool import ApplyResult
from typing import Protocol

from scanner.models import Finding, Fragment, Source

UNKNOWN_PATH = ""  # the path a blob is first scanned under (paths come with attribution)
PARALLEL_MIN_BYTES = 64 << 20  # below this, one process is faster than starting workers
# 16 MiB keeps two workers busy (hundreds of typical candidates) while bounding the parent's
# memory: queued candidates are held twice (the bytes and their pickled copy). 64 MiB cost
# ~55 MB more resident memory for no speed on the bench/ repository (bench/bench_history.py).
MAX_IN_FLIGHT = 16 << 20


class BlobScanner(Protocol):
    """What history needs from ``scanner.detect.Detector``."""

    def wants(self, raw: bytes) -> bool: ...

    def scan(self, fragment: Fragment) -> list[Finding]: ...


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
    scanner: BlobScanner,
    *,
    max_size: int | None,
    progress: Progress | None,
    workers: int = 1,
) -> BlobScan:
    """Prefilter every blob, scan the candidates, return the blobs with findings."""
    result = BlobScan()
    if workers <= 1:
        _loop(blobs, scanner, result, max_size, progress, _scan_here(scanner, result))
        return result
    # Fork before git's reader thread starts: the workers inherit the detector as built.
    pool = multiprocessing.get_context("fork").Pool(
        workers, initializer=_init_worker, initargs=(scanner,)
    )
    try:
        sink = _PoolSink(pool, result)
        _loop(blobs, scanner, result, max_size, progress, sink.submit)
        sink.drain()
        pool.close()
        pool.join()
    finally:
        pool.terminate()
    return result


def _loop(
    blobs: Iterator[tuple[str, bytes]],
    scanner: BlobScanner,
    result: BlobScan,
    max_size: int | None,
    progress: Progress | None,
    scan_candidate: _Sink,
) -> None:
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
            scan_candidate(oid, raw)
        if progress is not None:
            pending_blobs += 1
            pending_bytes += size
            if pending_blobs >= 256 or pending_bytes >= 1 << 24:
                progress.advance(pending_blobs, pending_bytes)
                pending_blobs = pending_bytes = 0
    if progress is not None and pending_blobs:
        progress.advance(pending_blobs, pending_bytes)


class _Sink(Protocol):
    def __call__(self, oid: str, raw: bytes) -> None: ...


def _scan_here(scanner: BlobScanner, result: BlobScan) -> _Sink:
    scan = scanner.scan
    hits = result.hits

    def scan_candidate(oid: str, raw: bytes) -> None:
        found = scan(Fragment(raw, UNKNOWN_PATH, Source.HISTORY, oid))
        if found:
            hits[oid] = found

    return scan_candidate


class _PoolSink:
    """Hands candidates to the workers, keeping at most MAX_IN_FLIGHT bytes queued."""

    def __init__(self, pool: multiprocessing.pool.Pool, result: BlobScan) -> None:
        self.pool = pool
        self.hits = result.hits
        self.queue: deque[tuple[int, ApplyResult[tuple[str, list[Finding]]]]] = deque()
        self.in_flight = 0

    def submit(self, oid: str, raw: bytes) -> None:
        self.queue.append((len(raw), self.pool.apply_async(_scan_in_worker, ((oid, raw),))))
        self.in_flight += len(raw)
        while self.in_flight > MAX_IN_FLIGHT or len(self.queue) > 1024:
            self._collect_oldest()

    def drain(self) -> None:
        while self.queue:
            self._collect_oldest()

    def _collect_oldest(self) -> None:
        size, pending = self.queue.popleft()
        self.in_flight -= size
        oid, found = pending.get()
        if found:
            self.hits[oid] = found


_worker_scanner: BlobScanner | None = None


def _init_worker(scanner: BlobScanner) -> None:
    global _worker_scanner
    _worker_scanner = scanner
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # The parent's SIGTERM/SIGHUP handler (a clean stop) is not the workers': they just end,
    # silently, when the parent stops the pool or the whole group is terminated.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _scan_in_worker(item: tuple[str, bytes]) -> tuple[str, list[Finding]]:
    oid, raw = item
    assert _worker_scanner is not None
    return oid, _worker_scanner.scan(Fragment(raw, UNKNOWN_PATH, Source.HISTORY, oid))
