"""The one parallel runner: tasks run by forked worker processes, results in order.

Regex confirmation and decoding hold the GIL, so threads would not help; each worker is a
fork of the caller and inherits its ready-built state (the detector and its compiled
databases, the task itself), so only a task's item and its result are pickled: a share of a
history's blob listing or a batch of a scan's file listing goes out, findings and counts come
back, and every worker reads its own bytes. A task yields its result in parts, each sent as
soon as it is made (``map_parts_in_workers``; ``map_in_workers`` sends one). Used by
``keysweep scan`` (scanner/sources/filescan.py) and ``keysweep history``
(scanner/sources/blobscan.py); ``in_worker`` runs one side task.
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


_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group; the parent handles it and ends the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's SIGTERM/SIGHUP handler (a clean stop) is not the workers': they just end,
    # silently, when the parent stops the pool or the whole group is terminated.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # held over the fork


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP held back while the caller forks, and delivered after. A
    stop that arrived during ``os.fork`` ran its handler inside fork's own hooks (logging's
    lock release), which ignore exceptions: the ``Stopped`` it raised was dropped, and as a
    handler raises only once, keysweep went on waiting for a worker the test held (one run
    in five to eight of ``test_sigterm_during_parallel_history_ends_workers_quietly`` on a
    busy host; none in 50 held so)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a held stop is raised here


class _Worker:
    """One forked process with a pipe of its own: it takes ``(index, item)``, answers with
    the parts of the result and how the task ended (``_serve``), and ends on None. No lock
    or queue is shared, so a worker that dies (the out-of-memory killer's SIGKILL) wedges
    nothing, and its process sentinel says so. ``multiprocessing.Pool`` waited forever for
    the lost task there, and then hung in ``terminate`` on the queue lock the dead worker held
    (SIGTERM could not end keysweep; only SIGKILL could)."""

    def __init__(self, context: Any, others: list[_Worker]) -> None:
        self.conn, theirs = context.Pipe()
        inherited = [other.conn for other in others]  # the child closes its copies
        self.process = context.Process(target=_serve, args=(theirs, inherited), daemon=True)
        started = False
        try:
            with _stop_signals_held():
                self.process.start()
                started = True
        except BaseException:  # a stop held over the fork: this worker is in no pool yet
            if started:
                self.process.kill()
                self.process.join()
            raise
        finally:
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


# What a worker answers for an item: ``(index, _PART, part)`` for each part its task yields,
# then ``(index, _DONE, None)``, or ``(index, _FAILED, exception)``.
_PART, _DONE, _FAILED = 0, 1, 2


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
        answer: tuple[int, int, BaseException | None]
        try:
            for part in _run_task(item):
                _send_part(conn, index, part)
            answer = (index, _DONE, None)
        except _ParentGone:
            return
        except BaseException as exc:  # handed to the parent, which raises it
            answer = (index, _FAILED, exc)
        try:
            conn.send(answer)
        except OSError:  # the parent is gone
            return
        except Exception as exc:  # an exception that does not pickle
            conn.send((index, _FAILED, TypeError(f"a worker's answer cannot be sent: {exc}")))


class _ParentGone(Exception):
    pass


def _send_part(conn: Any, index: int, part: Any) -> None:
    try:
        conn.send((index, _PART, part))
    except OSError:
        raise _ParentGone from None
    except Exception as exc:  # pickled before anything is written: the pipe holds none of it
        raise TypeError(f"a worker's answer cannot be sent: {exc}") from None


def _run_task(item: Any) -> Iterator[Any]:
    assert _worker_task is not None
    yield from _worker_task(item)


class _Run:
    """The items of one ``map_parts_in_workers``, handed to forked workers one at a time,
    the parts of their results gathered in input order."""

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
        """Every part of every item, in input order: the parts of the item whose turn it is
        as they come, those of later items once the items before them have ended."""
        from multiprocessing.connection import wait

        parts: dict[int, list[Any]] = {}  # parts of the items not yet handed on
        ended: dict[int, BaseException | None] = {}  # items ended, and how
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
                    index, kind, value = worker.conn.recv()
                except (EOFError, OSError):
                    raise worker.died() from None
                if kind == _PART:
                    parts.setdefault(index, []).append(value)
                    continue
                ended[index] = value if kind == _FAILED else None
                worker.index = None
                self._idle.append(worker)
            while True:
                waiting = parts.pop(turn, None)
                if waiting:
                    yield from waiting
                if turn not in ended:
                    break
                failure = ended.pop(turn)
                if failure is not None:
                    raise failure
                turn += 1

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
    return map_parts_in_workers(_one_part(task), items, workers)


def map_parts_in_workers(
    task: Callable[[_T], Iterable[_R]], items: Iterable[_T], workers: int
) -> Iterator[_R]:
    """``map_in_workers`` for a task that yields its result in parts: each part is sent as
    soon as it is made, so a worker holds one part at a time, not its whole result (a
    history full of secrets: a share's findings); the parts come here in input order."""
    run = _Run(task, items, workers)
    grace = 0.0
    try:
        yield from run.results()
        grace = 5.0  # finished: each worker ends by itself
    finally:
        run.stop(grace)


def _one_part(task: Callable[[_T], _R]) -> Callable[[_T], tuple[_R]]:
    def run(item: _T) -> tuple[_R]:
        return (task(item),)

    return run


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


def _no_item(task: Callable[[], _R], niceness: int) -> Callable[[Any], tuple[_R]]:
    def run(_item: Any) -> tuple[_R]:
        if niceness:
            os.nice(niceness)
        return (task(),)

    return run
