"""Progress on stderr for long history scans and audits: a rich bar on a terminal, nothing
otherwise."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.audit.task import RepoOutcome


class NoProgress:
    """Reports nothing (stderr is not a terminal, or progress is off)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def start(self, blobs: int, total_bytes: int) -> None:
        pass

    def advance(self, blobs: int, nbytes: int) -> None:
        pass

    def stop(self) -> None:
        pass


class RichProgress(NoProgress):
    """Blobs and bytes done, rate and ETA on stderr (only used when stderr is a terminal)."""

    def __enter__(self) -> RichProgress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("scanning history"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[blobs]}/{task.fields[total_blobs]} blobs"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._bytes = self._progress.add_task("bytes", total=None, blobs=0, total_blobs="?")
        self._blobs = 0
        return self

    def start(self, blobs: int, total_bytes: int) -> None:
        self._progress.update(self._bytes, total=total_bytes, total_blobs=blobs)

    def advance(self, blobs: int, nbytes: int) -> None:
        self._blobs += blobs
        self._progress.update(self._bytes, advance=nbytes, blobs=self._blobs)

    def stop(self) -> None:
        self._progress.stop()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()


class NoAuditProgress:
    """``keysweep audit`` reporting nothing (stderr is not a terminal)."""

    def __enter__(self) -> NoAuditProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def start(self, total: int) -> None:
        pass

    def done(self, outcome: RepoOutcome) -> None:
        pass


class RichAuditProgress(NoAuditProgress):
    """Repositories done/failed/total, bytes, findings and time left, on stderr."""

    def __enter__(self) -> RichAuditProgress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "repos, {task.fields[failed]} failed, {task.fields[size]}, "
                "{task.fields[findings]} findings"
            ),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "repos", total=None, failed=0, size="0.0 MiB", findings=0
        )
        self._failed = self._bytes = self._findings = 0
        return self

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def done(self, outcome: RepoOutcome) -> None:
        self._failed += outcome.status == "failed"
        self._bytes += outcome.result.summary.bytes_scanned
        self._findings += outcome.findings
        self._progress.update(
            self._task,
            advance=1,
            failed=self._failed,
            size=f"{self._bytes / 2**20:.1f} MiB",
            findings=self._findings,
        )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
