"""``keysweep staged``: the pre-commit check. Only the secrets the next commit would add."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from scanner.cli.common import (
    CommonOptions,
    add_common_options,
    build_detector,
    common_options,
    finish,
)
from scanner.project import find_root, load_project
from scanner.sources.staged import scan_staged

HELP = "scan the staged changes (what the next commit adds); for pre-commit hooks"
DESCRIPTION = """\
Scan exactly what is staged in the git index -- the content being committed, not the
working tree -- and report only secrets the commit adds: a secret already present in the
version of the file in HEAD (or, during a merge, in a merged commit) is not reported again.
GIT_INDEX_FILE is honoured, so 'git commit -a' and 'git commit PATH' are checked right.
Works on the first commit, during merges, with renames and deletions. Offline.

If what is staged cannot be read, that is an error (exit 2), never a pass.

examples:
  keysweep staged                    # before 'git commit'
  # .pre-commit-config.yaml:  - repo: ...  hooks: [{id: keysweep}]

exit codes: 0 clean, 1 findings (commit blocked), 2 error, 130 interrupted
"""


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "staged",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="limit the check to these staged paths (pre-commit passes file names; "
        "default: everything staged)",
    )
    add_common_options(parser)


def run(ns: argparse.Namespace) -> int:
    return staged_command(ns.paths, options=common_options(ns))


def staged_command(paths: Sequence[str], *, options: CommonOptions) -> int:
    project = load_project(options, find_root("."))
    options = project.options
    # A commit is kilobytes: the pure-Python keyword prefilter is instant on that, while
    # compiling the Hyperscan database would be a third of the hook's latency (bench_staged.py).
    detector = build_detector(options, project, use_hyperscan=False)
    result = scan_staged(detector, paths=paths, max_size=options.max_file_size)
    return finish(project.drop_skipped_paths(result), options, project)
