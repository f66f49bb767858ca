"""Run the detector over fragments, optionally in worker processes.

``--jobs N`` (or ``$KEYSWEEP_JOBS``) hands the work of a large scan to N forked processes.
The default is one process: with the built-in rules, detection runs at roughly the speed
files are read (bench/bench_scan.py: ~200 MiB/s on 300 MiB, no gain from a second process
on 2 CPUs), so workers pay only for expensive custom rule packs. Even then small scans, the
pre-commit path among them, never start a process: fragments are scanned in-process until
the prefiltered bytes pass ``POOL_THRESHOLD``, and only then does the pool take over the rest.
The workers inherit the ready-built detector through fork, receive
``(raw, path, source, blob_id)`` and send back findings; results keep input order.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING

from scanner.models import Finding, Fragment, Source

if TYPE_CHECKING:
    from scanner.detect import Detector

POOL_THRESHOLD = 16 * 1024 * 1024  # prefiltered bytes before worker processes are worth it
DEFAULT_JOBS = 1

_Item = tuple[bytes, str, Source, str | None]

# Set in the parent just before the pool forks; each worker inherits it.
_worker_detector: Detector | None = None


def default_jobs() -> int:
    """``$KEYSWEEP_JOBS`` if set to a positive number, else ``DEFAULT_JOBS``."""
    override = os.environ.get("KEYSWEEP_JOBS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return DEFAULT_JOBS


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent handles it and ends the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's SIGTERM/SIGHUP handler (a clean stop) is not the workers': they just end.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _scan_item(item: _Item) -> list[Finding]:
    assert _worker_detector is not None
    raw, path, source, blob_id = item
    return _worker_detector.scan(Fragment(raw=raw, path=path, source=source, blob_id=blob_id))


def scan_fragments(
    detector: Detector,
    fragments: Iterable[Fragment],
    *,
    jobs: int | None = None,
    threshold: int | None = None,
) -> Iterator[Finding]:
    """Findings of every fragment, in fragment order. Bytes are decoded only for fragments
    that pass ``detector.wants`` (the keyword prefilter)."""
    wanted = (f for f in fragments if detector.wants(f.raw))
    jobs = default_jobs() if jobs is None else jobs
    threshold = POOL_THRESHOLD if threshold is None else threshold
    seen = 0
    for fragment in wanted:
        yield from detector.scan(fragment)
        seen += len(fragment.raw)
        if jobs > 1 and seen >= threshold and hasattr(os, "fork"):
            break
    else:
        return
    yield from _in_pool(detector, wanted, jobs)


def _in_pool(detector: Detector, rest: Iterator[Fragment], jobs: int) -> Iterator[Finding]:
    import multiprocessing

    global _worker_detector
    _worker_detector = detector
    items = ((f.raw, f.path, f.source, f.blob_id) for f in rest)
    # Peek so an exhausted source never pays for a pool.
    first = next(items, None)
    if first is None:
        return
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(jobs, initializer=_ignore_sigint) as pool:
            for found in pool.imap(_scan_item, chain([first], items), chunksize=8):
                yield from found
    finally:
        _worker_detector = None
