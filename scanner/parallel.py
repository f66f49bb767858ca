"""The one parallel runner: fragments scanned by forked worker processes, results in order.

Regex confirmation and decoding hold the GIL, so threads would not help; each worker is a
fork of the caller and inherits its ready-built scanner (the detector and its compiled
databases), so nothing but ``(raw, path, source, blob_id)`` travels to a worker and findings
travel back. At most ``max_in_flight`` bytes of fragments wait for a worker at any time, which
bounds the caller's memory however many fragments come. Used by ``keysweep scan`` (over
``--jobs``, scanner/cli/workers.py) and ``keysweep history`` (scanner/sources/blobscan.py).
"""

from __future__ import annotations

import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from scanner.models import Finding, Fragment, FragmentScanner, Source

if TYPE_CHECKING:
    from multiprocessing.pool import ApplyResult, Pool

# 16 MiB keeps two workers busy (hundreds of typical candidates) while bounding the parent's
# memory: queued fragments are held twice (the bytes and their pickled copy). 64 MiB cost
# ~55 MB more resident memory for no speed on the bench/ repository (bench/bench_history.py).
MAX_IN_FLIGHT = 16 << 20
MAX_QUEUED = 1024  # fragments waiting, however small

_Item = tuple[bytes, str, Source, str | None]
_T = TypeVar("_T")
_R = TypeVar("_R")

# Set in the parent just before the pool forks; each worker inherits them.
_worker_scanner: FragmentScanner | None = None
_worker_task: Callable[[Any], Any] | None = None


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group; the parent handles it and ends the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's SIGTERM/SIGHUP handler (a clean stop) is not the workers': they just end,
    # silently, when the parent stops the pool or the whole group is terminated.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _fork_pool(workers: int) -> Pool:
    """The one fork pool: each worker inherits the caller's state and runs ``_init_worker``."""
    import multiprocessing  # lazily: the pre-commit path never starts a pool

    return multiprocessing.get_context("fork").Pool(workers, initializer=_init_worker)


def _scan_item(item: _Item) -> list[Finding]:
    assert _worker_scanner is not None
    raw, path, source, blob_id = item
    return _worker_scanner.scan(Fragment(raw=raw, path=path, source=source, blob_id=blob_id))


def scan_in_workers(
    scanner: FragmentScanner,
    fragments: Iterable[Fragment],
    workers: int,
    *,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> Iterator[tuple[Fragment, list[Finding]]]:
    """``(fragment, scanner.scan(fragment))`` for every fragment, in input order, scanned by
    ``workers`` forked processes. Callers filter with ``scanner.wants`` first."""
    global _worker_scanner
    _worker_scanner = scanner
    # Fork before iterating: a source may start threads (git's feeder) that a fork must not
    # copy mid-write.
    pool = _fork_pool(workers)
    try:
        queue: deque[tuple[Fragment, ApplyResult[list[Finding]]]] = deque()
        in_flight = 0
        for fragment in fragments:
            item = (fragment.raw, fragment.path, fragment.source, fragment.blob_id)
            queue.append((fragment, pool.apply_async(_scan_item, (item,))))
            in_flight += len(fragment.raw)
            while in_flight > max_in_flight or len(queue) > MAX_QUEUED:
                done, pending = queue.popleft()
                in_flight -= len(done.raw)
                yield done, pending.get()
        while queue:
            done, pending = queue.popleft()
            yield done, pending.get()
        pool.close()
        pool.join()
    finally:
        pool.terminate()
        _worker_scanner = None


def _run_task(item: Any) -> Any:
    assert _worker_task is not None
    return _worker_task(item)


def map_in_workers(task: Callable[[_T], _R], items: Iterable[_T], workers: int) -> Iterator[_R]:
    """``task(item)`` for every item, run by ``workers`` forked processes, results in input
    order. ``task`` (a closure is fine: it is inherited through fork, never pickled) should
    do a large share of work each: items and results are pickled."""
    global _worker_task
    _worker_task = task
    pool = _fork_pool(workers)
    try:
        yield from pool.imap(_run_task, items)
        pool.close()
        pool.join()
    finally:
        pool.terminate()
        _worker_task = None


@contextmanager
def in_worker(task: Callable[[], _R]) -> Iterator[Callable[[], _R]]:
    """Start ``task()`` in one forked process at once; the function yielded waits for its
    result (raising what it raised). For work that overlaps the caller's own: history scans
    the commit messages while the parent attributes findings, on a core that would idle."""
    global _worker_task
    _worker_task = _no_item(task)
    pool = _fork_pool(1)
    _worker_task = None  # the worker has its own copy
    try:
        pending = pool.apply_async(_run_task, (None,))
        yield pending.get
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def _no_item(task: Callable[[], _R]) -> Callable[[Any], _R]:
    return lambda _item: task()
