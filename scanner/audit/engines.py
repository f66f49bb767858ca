"""Where audit tasks run. One small protocol, one registry; adding Ray is one more class.

An engine takes the specs and calls ``on_done`` with each :class:`RepoOutcome` as it completes
(in completion order, on the calling thread, so the caller can write results and draw progress
without locks). Whatever goes wrong with one task becomes a failed outcome for its repository;
only Ctrl-C (KeyboardInterrupt) or an unusable engine (UsageError) stop the whole run, after
the engine has stopped its tasks.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from scanner.audit.task import RepoOutcome, RepoSpec, failed, run_isolated, stop_running
from scanner.errors import UsageError
from scanner.parallel import usable_cores

OnDone = Callable[[RepoOutcome], None]


class Engine(Protocol):
    name: str

    def run(self, specs: Sequence[RepoSpec], on_done: OnDone) -> None: ...


def default_jobs() -> int:
    """One task per usable core (each task is one scanning process plus its git children)."""
    return usable_cores()


@dataclass
class LocalEngine:
    """A pool of ``jobs`` scanning processes on this machine (no extra dependency). The
    threads only wait on their child processes; the scanning happens in the children."""

    jobs: int | None = None
    name: str = "local"

    def run(self, specs: Sequence[RepoSpec], on_done: OnDone) -> None:
        jobs = self.jobs or default_jobs()
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="keysweep-audit")
        pending: dict[Future[RepoOutcome], RepoSpec] = {}
        finished = False
        try:
            for spec in specs:
                pending[pool.submit(run_isolated, spec)] = spec
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = pending.pop(future)
                    on_done(_outcome_of(future, spec))
            finished = True
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # queued tasks never start
            if not finished:  # Ctrl-C: end the running scans; their threads then return
                stop_running()


def _outcome_of(future: Future[RepoOutcome], spec: RepoSpec) -> RepoOutcome:
    try:
        return future.result()
    except Exception as exc:  # e.g. cannot start a process: this repository fails
        return failed(spec.repo, f"task error: {type(exc).__name__}: {exc}")


@dataclass
class DaskEngine:
    """Tasks on a Dask distributed cluster (``pip install 'keysweep[dask]'``). A worker that
    dies mid-task has its task rerun elsewhere by the scheduler; ``retries`` bounds the reruns
    of a task that raised. Task results are RepoOutcomes: sealed findings, no secret, unless
    --show-secrets/--verify asked for them."""

    scheduler: str
    retries: int = 2
    name: str = "dask"

    def run(self, specs: Sequence[RepoSpec], on_done: OnDone) -> None:
        try:  # lazily: the local engine never pays for it; untyped, hence Any
            distributed: Any = importlib.import_module("distributed")
        except ImportError:
            raise UsageError(
                "--engine dask needs the distributed package: pip install 'keysweep[dask]'"
            ) from None
        try:
            client = distributed.Client(self.scheduler, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {self.scheduler}: cannot connect: {exc}") from None
        futures: dict[Any, RepoSpec] = {}
        try:
            for spec in specs:
                future = client.submit(
                    run_isolated,
                    spec,
                    key=f"keysweep-audit-{spec.repo.key}-{os.getpid()}",
                    pure=False,
                    retries=self.retries,
                )
                futures[future] = spec
            for future in distributed.as_completed(list(futures), loop=client.loop):
                spec = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # KilledWorker, lost connection, ...
                    # The message names the task key, never the spec's contents.
                    outcome = failed(spec.repo, f"dask task failed: {type(exc).__name__}")
                on_done(outcome)
        finally:
            client.cancel(list(futures), force=True)
            client.close()


@dataclass(frozen=True)
class EngineSettings:
    jobs: int | None = None  # local: concurrent repositories (default: one per core)
    scheduler: str | None = None  # dask: tcp://HOST:PORT
    retries: int = 2  # dask: reruns of a task that raised


def _local(settings: EngineSettings) -> Engine:
    if settings.scheduler is not None:
        raise UsageError("--scheduler is for --engine dask")
    return LocalEngine(jobs=settings.jobs)


def _dask(settings: EngineSettings) -> Engine:
    if not settings.scheduler:
        raise UsageError("--engine dask needs --scheduler tcp://HOST:PORT")
    return DaskEngine(scheduler=settings.scheduler, retries=settings.retries)


# engine name -> factory; the CLI's --engine choices come from this dict.
ENGINES: dict[str, Callable[[EngineSettings], Engine]] = {"local": _local, "dask": _dask}


def make_engine(name: str, settings: EngineSettings) -> Engine:
    try:
        factory = ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r} (choose from {', '.join(ENGINES)})") from None
    return factory(settings)
