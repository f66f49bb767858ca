"""The one parallel runner: tasks run by forked worker processes, results in order.

Regex confirmation and decoding hold the GIL, so threads would not help; each worker is a
fork of the caller and inherits its ready-built state (the detector and its compiled
databases, the task itself), so only a task's item and its result are pickled: a share of a
history's blob listing or a batch of a scan's file listing goes out, findings and counts come
back, and every worker reads its own bytes. Used by ``keysweep scan`` (scanner/cli/workers.py)
and ``keysweep history`` (scanner/sources/blobscan.py); ``in_worker`` runs one side task.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

_T = TypeVar("_T")
_R = TypeVar("_R")

# Set in the parent just before the pool forks; each worker inherits it.
_worker_task: Callable[[Any], Any] | None = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which container CPU sets narrow),
    else every core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


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
