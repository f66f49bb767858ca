"""``keysweep remediate REPORT.json``: the plan to get leaked secrets out of git history."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS
from scanner.cli.options import add_config_option
from scanner.errors import GitError, UsageError
from scanner.report.table import printable

HELP = "plan (or apply, on a mirror clone) the removal of a report's secrets from git history"
DESCRIPTION = """\
Print the plan to get the secrets of a JSON report out of a repository's history: for each
secret the refs and tags that hold it, whether HEAD still has it and the commits to rewrite;
then the steps in order (deactivate first, git-filter-repo on a fresh mirror clone,
force-push, what cannot be rewritten from here).

A default (redacted) report is enough: the plain values are re-read from the blobs the
report names. They are written to a git-filter-repo --replace-text expressions file with
mode 0600 (default: REPO.keysweep-expressions.txt beside the repository). That file holds
the plain secrets: delete it when done.

--apply --into DIR never touches REPO: it makes a fresh 'git clone --mirror' at DIR, runs
git-filter-repo there, scans DIR's whole history and shows that none of the remediated
secrets remain, then prints the push commands for you to run.

examples:
  keysweep history . --format json --output leaks.json
  keysweep remediate leaks.json                      # the plan
  keysweep remediate leaks.json --apply --into ../clean.git

exit codes: 0 plan written / mirror clean, 1 a remediated secret is still in DIR,
            2 error (also: a finding whose value could not be re-read), 130 interrupted
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", metavar="REPORT.json", help="a keysweep JSON report")
    parser.add_argument(
        "--repo",
        metavar="REPO",
        help="the repository the report is about (default: the report's scan target when it "
        "is a local directory, else .)",
    )
    parser.add_argument(
        "--expressions",
        metavar="FILE",
        help="where to write the git-filter-repo expressions (mode 0600; default: "
        "REPO.keysweep-expressions.txt beside the repository)",
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="carry the plan out on a fresh mirror clone (needs --into)",
    )
    parser.add_argument(
        "--into",
        metavar="DIR",
        help="the new mirror clone to rewrite (must not exist, or be empty)",
    )
    parser.add_argument(
        "--rules",
        metavar="PACK",
        action="append",
        default=[],
        help="also load this YAML rule pack (use the packs the report was made with)",
    )
    add_config_option(parser)  # the rule packs the project loads


def run(ns: argparse.Namespace) -> int:
    return remediate_command(
        ns.report,
        repo=ns.repo,
        expressions=ns.expressions,
        apply=ns.apply,
        into=ns.into,
        rule_packs=tuple(ns.rules),
        config_file=ns.config_file,
    )


def remediate_command(
    report: str,
    *,
    repo: str | None = None,
    expressions: str | None = None,
    apply: bool = False,
    into: str | None = None,
    rule_packs: tuple[str, ...] = (),
    config_file: str | None = None,
) -> int:
    from scanner.atomic import write_output
    from scanner.cli.options import CommonOptions
    from scanner.cli.project import load_project, project_root
    from scanner.detect import Detector
    from scanner.remediate import apply_plan, build_plan, expressions_text
    from scanner.remediate.apply import output_paths
    from scanner.remediate.steps import render_applied, render_plan
    from scanner.report.json import load_report

    if apply and not into:
        raise UsageError("--apply needs --into DIR (the new mirror clone to rewrite)")
    result = load_report(report)
    given_repo = repo
    repo = repo or _default_repo(result.summary.target)
    root = project_root(repo)
    options = CommonOptions(rule_packs=rule_packs, config_file=config_file)
    project, _ = load_project(options, root, use_baseline=False)
    # No allowlists and no inline markers: the value at each reported position must be found
    # again, and the check of the rewritten mirror must see every remaining copy.
    detector = Detector(project.load_rules(tuple(Path(p) for p in rule_packs)), inline_allow=False)

    try:
        plan = build_plan(repo, result.findings, detector)
    except GitError as exc:
        if given_repo is not None:
            raise
        # the report's target is the path as it was typed (``history .``), read from here
        raise GitError(
            f"{exc} (the report's scan target: name the repository with --repo)"
        ) from None
    if not plan.targets:
        print("keysweep remediate: the report has no findings: nothing to remove", file=sys.stderr)
        return EXIT_CLEAN
    expressions, mirror = output_paths(repo, expressions, into)
    if plan.secrets:
        write_output(expressions, expressions_text(plan.secrets), private=True)
    print(render_plan(plan, report=report, expressions=expressions, into=mirror), end="")
    code = EXIT_ERROR if plan.problems or plan.behind else EXIT_CLEAN
    if not apply or not plan.secrets:
        return code
    assert into is not None
    print(f"\napplying: mirror clone at {into}, git-filter-repo, history scan ...", flush=True)
    applied = apply_plan(plan, into, expressions, detector)
    print(render_applied(plan, applied, expressions=expressions), end="")
    for error in applied.errors:
        print(f"keysweep: error: {printable(error)}", file=sys.stderr)
    if applied.remaining:
        return EXIT_FINDINGS
    return EXIT_ERROR if applied.errors else code


def _default_repo(target: str) -> str:
    return target if target and os.path.isdir(target) else "."
