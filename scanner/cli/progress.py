"""Progress on stderr for long history scans: a rich bar on a terminal, nothing otherwise."""

from __future__ import annotations

from types import TracebackType


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
