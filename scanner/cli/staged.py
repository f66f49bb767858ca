"""``keysweep staged``: the pre-commit check. Only the secrets the next commit would add."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from scanner.cli.common import finish, refuse_tracked_output
from scanner.cli.options import CommonOptions, add_common_options, common_options
from scanner.cli.project import load_project, project_root
from scanner.scanning import build_detector
from scanner.sources.staged import scan_staged

HELP = "scan the staged changes (what the next commit adds); for pre-commit hooks"
DESCRIPTION = """\
Scan exactly what is staged in the git index -- the content being committed, not the
working tree -- and report only secrets the commit adds: a secret already present in the
version of the file in HEAD (or, during a merge, in a merged commit) is not reported again.
GIT_INDEX_FILE is honoured, so 'git commit -a' and 'git commit PATH' are checked right.
Works on the first commit, during merges, with renames and deletions. Offline (unless
--verify asks AWS).

If what is staged cannot be read, that is an error (exit 2), never a pass; so is a staged
text file over --max-file-size (raise it, or list the path in [scan] skip_paths).

examples:
  keysweep staged                    # before 'git commit'
  # .pre-commit-config.yaml:  - repo: ...  hooks: [{id: keysweep}]

exit codes: 0 clean, 1 findings (commit blocked), 2 error, 3 live AWS key (--verify),
            130 interrupted
"""

# After the table: what a developer whose commit was just stopped can do (never the secret).
BLOCKED = """\
keysweep: these secrets would be committed. Take them out of the staged files (edit, then
  'git add') and rotate any real key; or accept a finding: mark its line keysweep:allow, or add
  it to the baseline ('keysweep baseline update', with [baseline] path in .keysweep.toml)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="limit the check to these staged paths (default: everything staged); when "
        "nothing is staged, scan these files whole",
    )
    parser.add_argument(
        "--hook",
        action="store_true",
        help="as the pre-commit hook: the file names pre-commit passes never narrow the check "
        "of what is staged; with nothing staged (pre-commit run --all-files) they are scanned",
    )
    add_common_options(parser)


def run(ns: argparse.Namespace) -> int:
    return staged_command(ns.paths, options=common_options(ns), hook=ns.hook)


def staged_command(paths: Sequence[str], *, options: CommonOptions, hook: bool = False) -> int:
    project, options = load_project(options, project_root())
    refuse_tracked_output(options, ".")
    # A commit is kilobytes: the pure-Python keyword prefilter is instant on that, while
    # compiling the Hyperscan database would be a third of the hook's latency (bench_staged.py).
    detector = build_detector(options, project, use_hyperscan=False)
    result = scan_staged(
        detector,
        paths=paths,
        max_size=options.max_file_size,
        hook=hook,
        skip=project.config.skips,
        allowed=project.config.allows_path,
        config=project.config.where("scan"),
    )
    return finish(result, options, project, on_findings=BLOCKED)
