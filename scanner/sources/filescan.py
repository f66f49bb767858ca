"""Run the detector over the files of a scan, in this process or in forked workers.

A scan lists its files in this process (``FileSource.entries``) and reads each where it is
scanned. Small scans never start a process, the pre-commit path among them: files are read
and scanned here until the listed bytes pass ``POOL_THRESHOLD``. Then the rest of the listing
goes in batches to ``--jobs N`` forked workers (default: one per core, at most 8; or
``$KEYSWEEP_JOBS``), each of which reads its batch, prefilters and scans it, and sends back
only findings and counts: no file's bytes cross a pipe (they cost the parent more than the
workers saved when they did). The pool is the one parallel runner (scanner/parallel.py);
findings keep the listing's order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import chain

from scanner.models import Finding, Fragment, FragmentScanner
from scanner.parallel import MAX_WORKERS, map_in_workers, usable_cores
from scanner.sources.files import FileEntry, FileSource, SourceStats

POOL_THRESHOLD = 4 << 20  # listed bytes scanned here before worker processes take the rest
BATCH_BYTES = 2 << 20  # a worker's batch: this many listed bytes, or
BATCH_FILES = 256  # this many files, whichever comes first
MAX_JOBS = MAX_WORKERS


def default_jobs() -> int:
    """``$KEYSWEEP_JOBS`` if set to a positive number, else one per core (at most 8)."""
    override = os.environ.get("KEYSWEEP_JOBS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return min(usable_cores(), MAX_JOBS)


def scan_source(
    detector: FragmentScanner,
    source: FileSource,
    *,
    jobs: int | None = None,
    threshold: int | None = None,
) -> Iterator[Finding]:
    """Findings of every file of ``source``, in listing order; the counts of what was read
    and skipped end up in ``source.stats`` whichever process read it."""
    jobs = default_jobs() if jobs is None else jobs
    threshold = POOL_THRESHOLD if threshold is None else threshold
    entries = source.entries()
    listed = 0
    for entry in entries:
        yield from _scan_entry(detector, source, entry)
        listed += _size(entry)
        if jobs > 1 and listed >= threshold and hasattr(os, "fork"):
            break
    else:
        return
    yield from _in_pool(detector, source, entries, jobs)


def _scan_entry(
    detector: FragmentScanner, source: FileSource, entry: FileEntry | Fragment
) -> list[Finding]:
    """Bytes are only decoded when the keyword prefilter says a rule could match."""
    fragment = entry if isinstance(entry, Fragment) else source.read(entry)
    if fragment is None or not detector.wants(fragment.raw, fragment.path):
        return []
    return detector.scan(fragment)


def _size(entry: FileEntry | Fragment) -> int:
    return len(entry.raw) if isinstance(entry, Fragment) else entry.size


def _in_pool(
    detector: FragmentScanner, source: FileSource, rest: Iterator[FileEntry | Fragment], jobs: int
) -> Iterator[Finding]:
    first = next(rest, None)  # an exhausted listing never pays for a pool
    if first is None:
        return

    def scan_batch(batch: list[FileEntry | Fragment]) -> tuple[list[Finding], SourceStats]:
        source.stats = SourceStats()  # this worker's copy counts its batch alone
        found = [f for entry in batch for f in _scan_entry(detector, source, entry)]
        return found, source.stats

    # The listing goes on in this process (the pool's feeder thread counts what it passes
    # over into ``source.stats``); the workers' counts are added once it has finished.
    read = SourceStats()
    for found, stats in map_in_workers(scan_batch, _batches(chain([first], rest)), jobs):
        yield from found
        read.add(stats)
    source.stats.add(read)


def _batches(entries: Iterator[FileEntry | Fragment]) -> Iterator[list[FileEntry | Fragment]]:
    batch: list[FileEntry | Fragment] = []
    size = 0
    for entry in entries:
        batch.append(entry)
        size += _size(entry)
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
