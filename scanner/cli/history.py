"""``keysweep history [REPO]``: every blob in the history of every ref, scanned once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from scanner.cli.common import (
    CommonOptions,
    add_common_options,
    build_detector,
    common_options,
    finish,
)
from scanner.cli.project import find_root, load_project

HELP = "scan the full git history of a repository (every ref, every blob once)"
DESCRIPTION = """\
Scan every blob reachable from every ref of a git repository: branches, tags,
remote-tracking refs, the stash and notes. Each distinct blob is read and scanned once,
then the blobs with findings are attributed to commits: one finding per (rule, secret,
path) with the commit that first introduced it, how many commits and which refs contain
it, whether the default branch's HEAD still has it (in_head) and, if not, the commit that
removed it.

REPO is a local repository (work tree or bare; default: the current directory) or
anything 'git clone' accepts (https://, ssh://, git@host:path, file://), which is mirrored
into a temporary directory and removed afterwards. Nothing configured in the scanned
repository is executed and nothing is written to it.

examples:
  keysweep history                              # the repository you are in
  keysweep history ../other.git --format json -o history.json
  keysweep history https://github.com/org/repo.git
  keysweep history --since origin/main          # only what commits after origin/main added
  keysweep history --since "$BEFORE..$AFTER"    # a pushed range in CI

exit codes: 0 clean, 1 findings, 2 error, 3 live AWS key (--verify), 130 interrupted
"""


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "repo",
        nargs="?",
        default=".",
        metavar="REPO",
        help="repository path or clone URL (default: .)",
    )
    parser.add_argument(
        "--since",
        metavar="REF|A..B",
        help="scan only what the commits after REF (REF..HEAD), or in the range A..B, introduced",
    )
    parser.add_argument(
        "--include-unreachable",
        action="store_true",
        help="also report blobs no ref reaches (dangling objects left by force-pushes, "
        "dropped stashes)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="scanning processes (default: one per CPU core for large histories, else 1)",
    )
    add_common_options(parser)


def run(ns: argparse.Namespace) -> int:
    return history_command(
        ns.repo,
        since=ns.since,
        include_unreachable=ns.include_unreachable,
        jobs=ns.jobs,
        options=common_options(ns),
    )


def history_command(
    repo: str,
    *,
    since: str | None = None,
    include_unreachable: bool = False,
    jobs: int | None = None,
    options: CommonOptions,
    progress: bool | None = None,
) -> int:
    from scanner.sources.history import HistoryScan, is_remote

    if since is not None and not since.strip():
        # An unset CI variable (`--since "$BEFORE"`): say what is happening instead of a
        # silent full scan the user did not mean to pay for.
        print("keysweep: --since is empty: scanning the whole history", file=sys.stderr)
        since = None
    root = Path.cwd() if is_remote(repo) else _project_root(Path(repo))
    project = load_project(options, root)
    options = project.options
    detector = build_detector(options, project)
    scan = HistoryScan(
        repo,
        since=since,
        include_unreachable=include_unreachable,
        max_size=options.max_file_size,
        workers=jobs,
    )
    show_progress = sys.stderr.isatty() if progress is None else progress
    with _RichProgress() if show_progress else _NoProgress() as bar:
        result = scan.run(detector, bar if show_progress else None)
    return finish(project.drop_skipped_paths(result), options, project)


def _project_root(repo: Path) -> Path:
    """Where the scanned repository's own config lives: its top level (a bare repository is
    its own root, even when it sits inside another work tree)."""
    if (repo / ".git").exists() or ((repo / "HEAD").is_file() and (repo / "objects").is_dir()):
        return repo
    return find_root(repo)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
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


class _RichProgress(_NoProgress):
    """Blobs and bytes done, rate and ETA on stderr (only used when stderr is a terminal)."""

    def __enter__(self) -> _RichProgress:
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
