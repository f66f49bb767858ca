"""The one parallel runner: tasks run by forked worker processes, results in order.

Regex confirmation and decoding hold the GIL, so threads would not help; each worker is a
fork of the caller and inherits its ready-built state (the detector and its compiled
databases, the task itself), so only a task's item and its result are pickled: a share of a
history's blob listing or a batch of a scan's file listing goes out, findings and counts come
back, and every worker reads its own bytes. Used by ``keysweep scan``
(scanner/sources/filescan.py) and ``keysweep history`` (scanner/sources/blobscan.py);
``in_worker`` runs one side task.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from scanner.errors import WorkerError, how_ended

_T = TypeVar("_T")
_R = TypeVar("_R")

# Set in the parent just before the pool forks; each worker inherits it.
_worker_task: Callable[[Any], Any] | None = None


MAX_WORKERS = 8  # worker processes, however many cores


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


class _Worker:
    """One forked process with a pipe of its own: it takes ``(index, item)``, answers
    ``(index, ok, result or exception)``, and ends on None. No lock or queue is shared, so a
    worker that dies (the out-of-memory killer's SIGKILL) wedges nothing, and its process
    sentinel says so. ``multiprocessing.Pool`` waited forever for the lost task there, and
    then hung in ``terminate`` on the queue lock the dead worker held (SIGTERM could not end
    keysweep; only SIGKILL could)."""

    def __init__(self, context: Any, others: list[_Worker]) -> None:
        self.conn, theirs = context.Pipe()
        inherited = [other.conn for other in others]  # the child closes its copies
        self.process = context.Process(target=_serve, args=(theirs, inherited), daemon=True)
        self.process.start()
        theirs.close()
        self.index: int | None = None  # the item it is working on

    def give(self, index: int, item: Any) -> None:
        self.index = index
        try:
            self.conn.send((index, item))
        except OSError:  # it died while idle
            raise self.died() from None

    def died(self) -> WorkerError:
        self.process.join()
        how = how_ended(self.process.exitcode)
        return WorkerError(f"a worker process died before it finished its share ({how})")

    def finish(self) -> None:
        """Ask an idle worker to end."""
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def stop(self, grace: float) -> None:
        """End the worker: at once (``grace`` 0), or once it has ended by itself."""
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        with contextlib.suppress(OSError):
            self.conn.close()


def _serve(conn: Any, inherited: list[Any]) -> None:
    _init_worker()
    for other in inherited:
        other.close()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        index, item = message
        try:
            answer = (index, True, _run_task(item))
        except BaseException as exc:  # handed to the parent, which raises it
            answer = (index, False, exc)
        try:
            conn.send(answer)
        except OSError:  # the parent is gone
            return
        except Exception as exc:  # an answer that does not pickle
            conn.send((index, False, TypeError(f"a worker's answer cannot be sent: {exc}")))


def _run_task(item: Any) -> Any:
    assert _worker_task is not None
    return _worker_task(item)


class _Run:
    """The items of one ``map_in_workers``, handed to forked workers one at a time, the
    results gathered in input order."""

    def __init__(self, task: Callable[[Any], Any], items: Iterable[Any], workers: int) -> None:
        import multiprocessing  # lazily: the pre-commit path never starts a pool

        global _worker_task
        context = multiprocessing.get_context("fork")
        self.pool: list[_Worker] = []
        _worker_task = task
        try:
            for _ in range(workers):
                self.pool.append(_Worker(context, self.pool))
        except OSError as exc:  # no more processes or memory
            self.stop(grace=0)
            raise WorkerError(f"cannot start a worker process: {exc.strerror or exc}") from None
        except BaseException:
            self.stop(grace=0)
            raise
        finally:
            _worker_task = None  # each worker has its own copy
        self._items = iter(items)
        self._taken = 0
        self._idle = list(reversed(self.pool))

    def dispatch(self) -> None:
        """Hand the next items to the idle workers."""
        while self._idle and (item := next(self._items, _END)) is not _END:
            self._idle.pop().give(self._taken, item)
            self._taken += 1

    def results(self) -> Generator[Any, None, None]:
        from multiprocessing.connection import wait

        done: dict[int, tuple[bool, Any]] = {}
        turn = 0
        while True:
            self.dispatch()
            busy = {w.conn: w for w in self.pool if w.index is not None}
            if not busy:
                return
            sentinels = {w.process.sentinel: w for w in busy.values()}
            for ready in wait([*busy, *sentinels]):
                worker = busy.get(ready) or sentinels[ready]
                if worker.index is None:  # its answer was read already in this round
                    continue
                try:
                    if not worker.conn.poll():
                        raise worker.died()
                    index, ok, value = worker.conn.recv()
                except (EOFError, OSError):
                    raise worker.died() from None
                done[index] = (ok, value)
                worker.index = None
                self._idle.append(worker)
            while turn in done:
                ok, value = done.pop(turn)
                turn += 1
                if not ok:
                    raise value
                yield value

    def stop(self, grace: float) -> None:
        if grace:
            for worker in self.pool:
                worker.finish()
        for worker in self.pool:
            worker.stop(grace)


_END: Any = object()


def map_in_workers(task: Callable[[_T], _R], items: Iterable[_T], workers: int) -> Iterator[_R]:
    """``task(item)`` for every item, run by ``workers`` forked processes, results in input
    order. ``task`` (a closure is fine: it is inherited through fork, never pickled) should
    do a large share of work each: items and results are pickled. Items are taken from
    ``items`` in this process, one whenever a worker is free. A task's exception is raised
    here when its turn comes; a worker that dies raises :class:`WorkerError`. Every worker
    has ended when this returns or raises (at once on an error or an interruption)."""
    run = _Run(task, items, workers)
    grace = 0.0
    try:
        yield from run.results()
        grace = 5.0  # finished: each worker ends by itself
    finally:
        run.stop(grace)


@contextmanager
def in_worker(task: Callable[[], _R], *, niceness: int = 0) -> Iterator[Callable[[], _R]]:
    """Start ``task()`` in one forked process at once, ``niceness`` lower in priority (its
    child processes too); the function yielded waits for its result (raising what it raised).
    For work that overlaps the caller's own: history scans the commit messages beside the
    blob scan, on the cores it leaves idle."""
    run = _Run(_no_item(task, niceness), [None], 1)
    run.dispatch()  # it starts now
    results = run.results()
    grace = 0.0
    try:
        yield lambda: next(results)
        grace = 5.0
    finally:
        results.close()
        run.stop(grace)


def _no_item(task: Callable[[], _R], niceness: int) -> Callable[[Any], _R]:
    def run(_item: Any) -> _R:
        if niceness:
            os.nice(niceness)
        return task()

    return run
