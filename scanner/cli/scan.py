"""``keysweep scan [PATH...]``: files, directories and standard input."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import BinaryIO

from scanner.cli.argtypes import number
from scanner.cli.common import finish
from scanner.cli.options import CommonOptions, add_common_options, common_options
from scanner.cli.project import load_project, project_root
from scanner.scanning import scan_files

HELP = "scan files, directories or standard input"
DESCRIPTION = """\
Scan files and directories for leaked credentials.

A directory inside a git work tree is scanned as git sees it: tracked files plus untracked
files that are not ignored (--all-files scans everything). Binary files are read too (as
history reads them), archives as the files they hold. .git directories, files over
--max-file-size, special files and symbolic links leading out of the scanned directory are
skipped and counted in the summary. '-' reads standard input.

examples:
  keysweep scan                          # the current directory
  keysweep scan src/ .env --format json  # JSON report on stdout
  keysweep scan . -f sarif -o keysweep.sarif
  cat deploy.log | keysweep scan -

exit codes: 0 clean, 1 findings, 2 error (also: files that could not be read),
            3 live AWS key (with --verify), 130 interrupted
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="file or directory to scan, or - for standard input (default: .)",
    )
    parser.add_argument(
        "--all-files",
        action="store_true",
        help="in a git work tree, scan ignored files too (default: tracked and untracked files)",
    )
    parser.add_argument(
        "--jobs",
        type=number(int, 1),
        default=None,
        metavar="N",
        help="processes that read and scan the files of a large scan (default: one per core, "
        "at most 8, or $KEYSWEEP_JOBS); past 4 MiB of files the rest goes to them",
    )
    add_common_options(parser)


def run(ns: argparse.Namespace) -> int:
    return scan_command(ns.paths, all_files=ns.all_files, jobs=ns.jobs, options=common_options(ns))


def scan_command(
    paths: Sequence[str],
    *,
    all_files: bool = False,
    jobs: int | None = None,
    options: CommonOptions,
    stdin: BinaryIO | None = None,
) -> int:
    targets = list(paths) or ["."]
    # options come back resolved: the config's scan.max_file_size unless given on the command line
    project, options = load_project(options, project_root(targets[0]))
    result = scan_files(
        targets,
        options,
        project,
        all_files=all_files,
        jobs=jobs,
        stdin=stdin,
        output=options.output,
    )
    return finish(result, options, project)
