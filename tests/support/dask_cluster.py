"""A Dask distributed cluster on 127.0.0.1 for the audit tests and bench/bench_audit.py: one
``dask scheduler`` and N single-threaded ``dask worker`` processes (no nanny, so killing a
worker process is a lost worker, as on a real cluster). Nothing listens beyond loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType


class LocalDaskCluster:
    def __init__(self, tmp: Path, *, workers: int, env: Mapping[str, str]) -> None:
        scheduler_file = tmp / "scheduler.json"
        self.env = {**env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.scheduler = self._start(
            "distributed.cli.dask_scheduler",
            *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
            *("--scheduler-file", str(scheduler_file)),
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        try:
            deadline = time.monotonic() + 90
            while not scheduler_file.exists():
                if time.monotonic() > deadline or self.scheduler.poll() is not None:
                    raise RuntimeError("the Dask scheduler did not start")
                time.sleep(0.05)
            self.address = str(json.loads(scheduler_file.read_text())["address"])
            self.workers = [
                self._start(
                    "distributed.cli.dask_worker",
                    self.address,
                    *("--host", "127.0.0.1", "--nthreads", "1", "--no-nanny"),
                    *("--no-dashboard", "--memory-limit", "0"),
                )
                for _ in range(workers)
            ]
        except BaseException:
            self.close()
            raise

    def _start(self, module: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def close(self) -> None:
        for proc in (*self.workers, self.scheduler):  # started here: nothing to save
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def __enter__(self) -> LocalDaskCluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
