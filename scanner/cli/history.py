"""``keysweep history [REPO]``: every blob in the history of every ref, scanned once."""

from __future__ import annotations

import argparse
import sys

from scanner.cli.argtypes import number
from scanner.cli.common import finish, refuse_tracked_output
from scanner.cli.options import CommonOptions, add_common_options, common_options
from scanner.cli.progress import NoProgress, RichProgress
from scanner.cli.project import load_project, project_root
from scanner.scanning import scan_history

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        type=number(int, 1),
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
    if since is not None and not since.strip():
        # An unset CI variable (`--since "$BEFORE"`): say what is happening instead of a
        # silent full scan the user did not mean to pay for.
        print("keysweep: --since is empty: scanning the whole history", file=sys.stderr)
        since = None
    project, options = load_project(options, project_root(repo))
    refuse_tracked_output(options, repo)
    show_progress = sys.stderr.isatty() if progress is None else progress
    with RichProgress() if show_progress else NoProgress() as bar:
        result = scan_history(
            repo,
            options,
            project,
            since=since,
            include_unreachable=include_unreachable,
            jobs=jobs,
            progress=bar if show_progress else None,
        )
    return finish(result, options, project)
