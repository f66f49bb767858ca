"""The one parallel runner (scanner/parallel.py): results in order, errors where they belong,
and a worker that dies fails the run at once instead of hanging it.

A worker killed by the out-of-memory killer used to hang ``keysweep history`` for good:
``multiprocessing.Pool`` waited for the lost task, and its ``terminate`` then waited on the
queue lock the dead worker held, so even SIGTERM could not end it. The tests that kill a
worker run in a subprocess with a timeout, so that such a hang fails them instead of CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.keys import env_text
from support.repo import Repo
from support.run import cli_env

from scanner.parallel import in_worker, map_in_workers, map_parts_in_workers


def _slow_square(item: int) -> int:
    time.sleep(0.05 * (5 - item % 5))  # later items finish first
    return item * item


def test_results_come_in_input_order_whatever_finishes_first() -> None:
    assert list(map_in_workers(_slow_square, range(10), 3)) == [i * i for i in range(10)]


def test_a_task_error_is_raised_in_its_turn() -> None:
    def task(item: int) -> int:
        if item == 3:
            raise ValueError("item 3 is bad")
        return item

    got: list[int] = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        for result in map_in_workers(task, range(8), 2):
            got.append(result)
    assert got == [0, 1, 2]


def test_items_are_taken_as_workers_free_up(tmp_path: Path) -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(6):
            taken.append(i)
            yield i

    def task(item: int) -> int:
        # item 1 holds the other worker, so that the first worker, with item 0 back, is the
        # only one free: on a busy machine two quick workers raced through every item first
        if item == 1:
            time.sleep(2)
        return item

    results = map_in_workers(task, items(), 2)
    assert next(results) == 0
    assert len(taken) <= 3  # two handed out, at most one more once the first came back
    assert [0, *results] == list(range(6))


def _parts(item: int) -> Iterator[tuple[int, int]]:
    for part in range(3):
        time.sleep(0.03 * (4 - item % 4))  # later items finish first
        yield item, part


def test_parts_come_in_input_order_whatever_finishes_first() -> None:
    got = list(map_parts_in_workers(_parts, range(8), 3))
    assert got == [(item, part) for item in range(8) for part in range(3)]


def test_a_part_comes_while_its_task_still_runs(tmp_path: Path) -> None:
    # the task makes its second part only once the first has reached the caller: a worker
    # that held its parts until the task ended would wait here until the deadline
    seen = tmp_path / "first part seen"

    def task(item: int) -> Iterator[str]:
        yield "first"
        deadline = time.monotonic() + 30
        while not seen.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the first part never reached the caller")
            time.sleep(0.01)
        yield "second"

    got: list[str] = []
    for part in map_parts_in_workers(task, [0], 1):
        got.append(part)
        seen.touch()
    assert got == ["first", "second"]


def test_parts_made_before_a_task_error_come_first_then_the_error() -> None:
    def task(item: int) -> Iterator[int]:
        yield item * 10
        if item == 1:
            raise ValueError("item 1 went wrong after its first part")
        yield item * 10 + 1

    got: list[int] = []
    with pytest.raises(ValueError, match="after its first part"):
        for part in map_parts_in_workers(task, range(3), 2):
            got.append(part)
    assert got == [0, 1, 10]


def test_a_part_that_cannot_be_sent_fails_the_run_with_one_clear_error() -> None:
    def task(item: int) -> Iterator[object]:
        yield item
        yield lambda: item  # a closure does not pickle

    with pytest.raises(TypeError, match="a worker's answer cannot be sent"):
        list(map_parts_in_workers(task, range(2), 2))


def test_in_worker_starts_its_task_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "started"

    def task() -> str:
        marker.write_text("yes")
        return "done"

    with in_worker(task) as result:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists()  # running before anyone asked for its result
        assert result() == "done"


def test_in_worker_runs_its_task_and_its_children_at_a_lower_priority() -> None:
    def task() -> tuple[int, str]:
        code = "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        return os.getpriority(os.PRIO_PROCESS, 0), child.stdout

    here = os.getpriority(os.PRIO_PROCESS, 0)
    with in_worker(task, niceness=7) as result:
        own, child = result()
    assert own == min(here + 7, 19)
    assert int(child) == own  # a git process it starts inherits it
    with in_worker(task) as result:
        assert result()[0] == here


def _run(code: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter and session; on a hang, the whole session is killed
    (workers included) and the test fails."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # the hang this file guards against
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"hung for {timeout} s")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _assert_killed_and_ended(proc: subprocess.CompletedProcess[str]) -> None:
    """The script printed the WorkerError of a SIGKILLed worker, then that no child is left."""
    assert proc.returncode == 0, proc.stderr
    assert "error: a worker process died before it finished its share (killed by signal 9)" in (
        proc.stdout
    )
    assert "children: 0" in proc.stdout


def test_a_worker_that_dies_fails_the_run_and_ends_every_worker(tmp_path: Path) -> None:
    proc = _run(
        """
        import multiprocessing, os, signal, time
        from scanner.errors import WorkerError
        from scanner.parallel import map_in_workers

        def task(item):
            if item == 2:
                os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
            time.sleep(0.2)
            return item

        try:
            list(map_in_workers(task, range(6), 2))
        except WorkerError as exc:
            print("error:", exc)
        print("children:", len(multiprocessing.active_children()))
        """,
        tmp_path,
    )
    _assert_killed_and_ended(proc)


def test_history_with_a_worker_killed_exits_2_with_one_line(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    for n in range(6):
        repo.commit({f"app{n}.py": f"print({n})\n" * 50}, f"commit {n}")
    repo.commit({".env": env_text("killed-worker")}, "leak")
    proc = _run(
        f"""
        import os, signal, sys
        from scanner.sources import blobscan

        parent = os.getpid()
        real = blobscan.scan_parts

        def dies_in_a_worker(*args, **kwargs):
            if os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        blobscan.scan_parts = dies_in_a_worker
        sys.argv = ["keysweep", "history", {str(repo.path)!r}, "--jobs", "2"]
        from scanner.cli import main
        sys.exit(main(sys.argv[1:]))
        """,
        tmp_path,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "keysweep: error: a worker process died before it finished its share (killed by signal 9)"
    ]
    assert "Traceback" not in proc.stderr


def test_a_dead_worker_ends_the_run_without_waiting_for_a_busy_one(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = _run(
        """
        import os, signal, time
        from scanner.errors import WorkerError
        from scanner.parallel import map_in_workers

        def task(item):
            if item == 1:
                time.sleep(0.5)
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)  # the other worker is busy for a long time
            return item

        try:
            list(map_in_workers(task, range(4), 2))
        except WorkerError as exc:
            print("error:", exc)
        """,
        tmp_path,
        timeout=50,
    )
    assert "error: a worker process died" in proc.stdout, proc.stderr
    assert time.monotonic() - started < 30  # the busy worker was ended, not waited for


def test_a_worker_that_dies_while_idle_fails_the_run_when_it_is_given_work(
    tmp_path: Path,
) -> None:
    proc = _run(
        """
        import multiprocessing
        from scanner.errors import WorkerError
        from scanner.parallel import map_in_workers

        def items():
            yield 0
            # asked for the next item while a worker waits for it: every worker dies first
            for child in multiprocessing.active_children():
                child.kill()
                child.join()
            yield 1

        try:
            list(map_in_workers(lambda item: item, items(), 2))
        except WorkerError as exc:
            print("error:", exc)
        print("children:", len(multiprocessing.active_children()))
        """,
        tmp_path,
    )
    _assert_killed_and_ended(proc)


_STOP_AFTER_FORK: list[bool] = []


def _stop_after_fork() -> None:
    """A SIGTERM that arrives while a worker forks, from fork's own hook in the parent."""
    if _STOP_AFTER_FORK:
        _STOP_AFTER_FORK.clear()
        os.kill(os.getpid(), signal.SIGTERM)


os.register_at_fork(after_in_parent=_stop_after_fork)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signum)


def test_a_stop_while_a_worker_forks_is_raised_not_lost() -> None:
    """Python ignores what fork's hooks raise: a stop handled there was dropped, and
    keysweep, whose handler raises once, went on waiting for its workers. Held over the
    fork, the stop is raised once the worker has started, and no worker is left."""
    import multiprocessing

    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        _STOP_AFTER_FORK.append(True)
        with pytest.raises(_Stop):
            list(map_in_workers(abs, [-1, -2, -3, -4], 2))
    finally:
        _STOP_AFTER_FORK.clear()
        signal.signal(signal.SIGTERM, previous)
    assert multiprocessing.active_children() == []
