"""Run the detector over fragments, optionally in worker processes.

``--jobs N`` (or ``$KEYSWEEP_JOBS``) hands the work of a large scan to N forked processes.
The default is one process: with the built-in rules, detection runs at roughly the speed
files are read (bench/bench_scan.py: ~200 MiB/s on 300 MiB, no gain from a second process
on 2 CPUs), so workers pay only for expensive custom rule packs. Even then small scans, the
pre-commit path among them, never start a process: fragments are scanned in-process until
the prefiltered bytes pass ``POOL_THRESHOLD``, and only then does the pool take over the rest.
The pool is the one parallel runner (scanner/parallel.py); results keep input order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING

from scanner.models import Finding, Fragment
from scanner.parallel import scan_in_workers

if TYPE_CHECKING:
    from scanner.detect import Detector

POOL_THRESHOLD = 16 * 1024 * 1024  # prefiltered bytes before worker processes are worth it
DEFAULT_JOBS = 1


def default_jobs() -> int:
    """``$KEYSWEEP_JOBS`` if set to a positive number, else ``DEFAULT_JOBS``."""
    override = os.environ.get("KEYSWEEP_JOBS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return DEFAULT_JOBS


def scan_fragments(
    detector: Detector,
    fragments: Iterable[Fragment],
    *,
    jobs: int | None = None,
    threshold: int | None = None,
) -> Iterator[Finding]:
    """Findings of every fragment, in fragment order. Bytes are decoded only for fragments
    that pass ``detector.wants`` (the keyword prefilter)."""
    wanted = (f for f in fragments if detector.wants(f.raw, f.path))
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
    # Peek so an exhausted source never pays for a pool.
    first = next(rest, None)
    if first is None:
        return
    for _, found in scan_in_workers(detector, chain([first], rest), jobs):
        yield from found
