"""A signal stops a command the way Ctrl-C does.

SIGINT, SIGTERM and SIGHUP raise :class:`Stopped` where the program is, so every ``finally``
and context manager (temporary clone, git processes, worker pool) cleans up on the way out;
the CLI then exits ``128 + N``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Stopped(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP: raised where the program is, so every ``finally`` and
    context manager (temporary clone, git processes, worker pool) cleans up on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def message(self) -> str:
        if self.signum == signal.SIGINT:
            return "keysweep: interrupted"
        return f"keysweep: terminated by {signal.Signals(self.signum).name}"


@contextmanager
def signals_stop_cleanly() -> Iterator[None]:
    """While a command runs, SIGINT/SIGTERM/SIGHUP raise :class:`Stopped` (once: a second
    signal during the clean-up is ignored so the clean-up can finish). A signal the caller
    ignores stays ignored; the previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise Stopped(signum)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT.value, signal.SIGTERM.value, signal.SIGHUP.value):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN or current is None:
            continue
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
