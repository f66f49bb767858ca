"""``keysweep baseline create|update|prune [PATH]``: accept today's findings, gate on new ones.

The baseline lists (path, rule, fingerprint) for every finding of a working-tree scan (or of the
whole history with ``--history``), never the secret itself. ``scan``, ``history`` and ``staged``
then report only what it does not list (``--baseline FILE``, or ``baseline.path`` in the config).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanner.cli import EXIT_CLEAN, EXIT_ERROR
from scanner.cli.argtypes import path_name
from scanner.cli.detection_options import add_detection_options, detection_settings
from scanner.cli.options import CommonOptions, add_config_option
from scanner.cli.project import Project, load_project, project_root
from scanner.errors import UsageError
from scanner.ignore.baseline import (
    DEFAULT_FILENAME,
    Baseline,
    load_baseline,
    rebuild_baseline,
    require_baseline_to_replace,
    write_baseline,
)
from scanner.report.table import printable
from scanner.scanning import scan_files, scan_history

HELP = "create, update or prune a baseline of accepted findings"
ACTIONS = {
    "create": "scan and write a new baseline (refuses to overwrite one without --force)",
    "update": "add entries for new findings; existing entries keep reason/owner/expires",
    "prune": "drop entries whose secret no longer appears at their path",
}
DESCRIPTION = f"""\
Write a baseline: the findings a team has accepted (already rotated, or known and tracked), so
that a CI gate reports only NEW secrets. Entries hold a hash of the rule and the secret plus the
file path, never the secret, and no line numbers: moving code never revives a finding.

The file is JSON Lines, one sorted entry per line; add reason, owner and expires (YYYY-MM-DD)
by hand. Put `{DEFAULT_FILENAME} merge=union` in .gitattributes and concurrent branches never
conflict on it.

examples:
  keysweep baseline create . --output {DEFAULT_FILENAME}
  keysweep baseline update . --history       # file named by baseline.path in .keysweep.toml
  keysweep scan . --baseline {DEFAULT_FILENAME}

exit codes: 0 written, 2 error (nothing is written when a file could not be read)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # One parser per action, sharing the options: PATH then parses after them too
    # (`baseline create --history .`; one positional list took `create` and left `.` over).
    shared = argparse.ArgumentParser(add_help=False)
    add = shared.add_argument
    add("path", nargs="?", default=".", metavar="PATH", help="repository or directory (default: .)")
    add("-o", "--output", metavar="FILE", type=path_name, help="baseline file to write "
        "(default: baseline.path from the config)")  # fmt: skip
    add("--history", action="store_true", help="scan every commit of every ref, not the tree")
    add("--force", action="store_true", help="let create overwrite an existing baseline")
    add("--all-files", action="store_true", help="in a git work tree, scan ignored files too")
    add_config_option(shared)
    add_detection_options(shared)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, what in ACTIONS.items():
        actions.add_parser(action, parents=[shared], help=what, description=what)


def run(ns: argparse.Namespace) -> int:
    options = CommonOptions(**detection_settings(ns), config_file=ns.config_file)
    return baseline_command(
        ns.action,
        ns.path,
        output=ns.output,
        history=ns.history,
        force=ns.force,
        all_files=ns.all_files,
        options=options,
    )


def baseline_command(
    action: str,
    path: str,
    *,
    output: str | None,
    history: bool = False,
    force: bool = False,
    all_files: bool = False,
    options: CommonOptions,
) -> int:
    # The baseline being written must not filter the scan that feeds it.
    project, options = load_project(options, project_root(path), use_baseline=False)
    target = _target(output, project)
    existing: Baseline | None = None
    if action == "create":
        if target.exists() and not force:
            raise UsageError(
                f"baseline {target} already exists (use 'baseline update', or --force to replace)"
            )
        require_baseline_to_replace(target)
    elif target.exists():
        existing = load_baseline(target)
    elif action == "prune":
        raise UsageError(f"baseline {target}: file not found (nothing to prune)")

    result = (
        scan_history(path, options, project)
        if history
        else scan_files([path], options, project, all_files=all_files)
    )
    result = project.apply(result)  # config skip paths and path allowlist, never a baseline
    if result.summary.errors:
        for error in result.summary.errors:
            print(f"keysweep: error: {printable(error)}", file=sys.stderr)
        print(f"keysweep: baseline {target} not written: the scan was incomplete", file=sys.stderr)
        return EXIT_ERROR

    baseline, message = rebuild_baseline(existing, result.findings, action, project.finding_key)
    write_baseline(target, baseline)
    print(f"keysweep: baseline {target}: {message}", file=sys.stderr)
    return EXIT_CLEAN


def _target(output: str | None, project: Project) -> Path:
    if output:
        return Path(output)
    if project.config.baseline is not None:
        return project.config.baseline
    raise UsageError(
        "no baseline file: pass --output FILE or set baseline.path in the project config"
    )
