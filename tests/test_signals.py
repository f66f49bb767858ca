"""Stopping keysweep (issue 9 items 3 and 22): SIGTERM, SIGINT and SIGHUP take the same
clean path as Ctrl-C. During ``history URL`` the temporary mirror is removed and the
``git clone`` (with its helpers) is ended; during a parallel history scan the worker
processes end with the parent, silently. Exit code 128 + the signal number.

Real processes throughout: keysweep is started with the venv's python, the test waits for a
*state* (the clone's temporary directory and git child exist; a worker is inside the
detector), never for a time, then sends the signal.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.repo import commit_files, init_repo
from support.run import assert_no_traceback, cli_env

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
PATIENCE = 60.0  # seconds to wait for a state before giving up (never asserted on)


def _default_stop_signals() -> None:
    """In the child before exec: the stop signals at their default disposition, as a terminal
    or a CI runner gives them. A test run under ``nohup`` (SIGHUP ignored) or as a background
    job (SIGINT ignored) would otherwise pass its ignored signals on, and keysweep rightly
    leaves an ignored signal ignored."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never reached: {what}")
        time.sleep(0.02)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper has ended)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that takes connections (the kernel's backlog) and never answers:
    a clone from it hangs until it is stopped."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_stop_during_clone_removes_mirror_and_ends_git(
    tmp_path: Path, silent_server: int, signum: int
) -> None:
    port = silent_server
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "history", f"http://127.0.0.1:{port}/secret.git"],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home", {"TMPDIR": str(tmp)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_stop_signals,
    )
    try:
        gits: set[int] = set()

        def cloning() -> bool:
            gits.update(p for p in descendants(proc.pid) if "clone" in cmdline(p))
            return bool(gits) and any(tmp.glob("keysweep-clone-*"))

        wait_for(cloning, "git clone running into the temporary directory")
        helpers = descendants(proc.pid)  # git and its remote helper
        os.kill(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert_no_traceback(result)
    assert proc.returncode == 128 + signum, stderr
    assert len(stderr.decode().strip().splitlines()) == 1, stderr
    assert list(tmp.iterdir()) == [], "the temporary mirror was left behind"
    survivors = [(p, cmdline(p)) for p in helpers if alive(p)]
    assert survivors == [], "git processes survived keysweep"


DRIVER = textwrap.dedent(
    """
    import sys
    from scanner.detect.engine import Detector

    fifo = sys.argv[1]
    original = Detector.scan

    def scan(self, fragment):
        if b"BLOCK-IN-WORKER" in fragment.raw:
            with open(fifo, "rb") as gate:  # blocks until the test opens the other end
                gate.read()
        return original(self, fragment)

    Detector.scan = scan
    from scanner.cli import main

    raise SystemExit(main(sys.argv[2:]))
    """
)


def test_sigterm_during_parallel_history_ends_workers_quietly(tmp_path: Path) -> None:
    """Workers are inside the detector (held on a FIFO) when the parent is terminated:
    they end with it, and nobody prints a BrokenPipeError."""
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.txt": "AKIA BLOCK-IN-WORKER\n", "b.txt": "AKIA plain\n"}, "two")
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(fifo), "history", str(repo), "--jobs", "2"],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_stop_signals,
    )
    gate: int | None = None
    try:

        def worker_waiting() -> bool:
            nonlocal gate
            try:  # succeeds only once a reader (the blocked worker) has the FIFO open
                gate = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                return False
            return True

        wait_for(worker_waiting, "a worker inside the detector")
        workers = descendants(proc.pid)
        assert workers, "no worker processes"
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=PATIENCE)
    finally:
        if gate is not None:
            os.close(gate)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert_no_traceback(result)
    assert b"BrokenPipeError" not in stderr
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.decode().strip() == "keysweep: terminated by SIGTERM"
    wait_for(lambda: not any(alive(p) for p in workers), "workers ended")
