"""``keysweep scan [PATH...]``: files, directories and standard input."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any, BinaryIO

from scanner.cli.common import (
    CommonOptions,
    add_common_options,
    build_detector,
    common_options,
    detect_all,
    finish,
    refuse_output_over_input,
    summarize,
)
from scanner.cli.project import find_root, load_project
from scanner.models import ScanResult

HELP = "scan files, directories or standard input"
DESCRIPTION = """\
Scan files and directories for leaked credentials.

A directory inside a git work tree is scanned as git sees it: tracked files plus untracked
files that are not ignored (--all-files scans everything). .git directories, binary files,
files over --max-file-size, special files and symbolic links leading out of the scanned
directory are skipped and counted in the summary. '-' reads standard input.

examples:
  keysweep scan                          # the current directory
  keysweep scan src/ .env --format json  # JSON report on stdout
  keysweep scan . -f sarif -o keysweep.sarif
  cat deploy.log | keysweep scan -

exit codes: 0 clean, 1 findings, 2 error (also: files that could not be read),
            3 live AWS key (with --verify), 130 interrupted
"""


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scan",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
        type=int,
        default=None,
        metavar="N",
        help="detection processes for large scans (default: 1, or $KEYSWEEP_JOBS); "
        "pays off only with expensive custom rule packs",
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
    started = time.monotonic()
    targets = list(paths) or ["."]
    refuse_output_over_input(options.output, targets)
    project = load_project(options, find_root("." if targets[0] == "-" else targets[0]))
    options = project.options  # the config's scan.max_file_size unless given on the command line
    source = project.file_source(targets, all_files=all_files, stdin=stdin)
    source.check_paths()  # a missing PATH is a usage error before any work is done
    detector = build_detector(options, project)
    findings = detect_all(detector, source, jobs=jobs)
    mode = "stdin" if targets == ["-"] else "scan"
    summary = summarize(mode, " ".join(targets), source.stats, started)
    return finish(ScanResult(findings=tuple(findings), summary=summary), options, project)
