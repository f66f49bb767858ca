"""``keysweep audit REPO...``: the history of many repositories, one task per repository,
on this machine or on a Dask cluster. The work is in :mod:`scanner.audit`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scanner.audit.engines import ENGINES, EngineSettings, make_engine
from scanner.audit.inputs import discover
from scanner.audit.run import run_audit
from scanner.audit.store import ResultStore
from scanner.audit.task import ScanSettings
from scanner.cli.argtypes import number, path_name
from scanner.cli.aws_options import apply_aws_stage
from scanner.cli.common import exit_code, write_report
from scanner.cli.options import CommonOptions, add_common_options, common_options
from scanner.cli.progress import NoAuditProgress, RichAuditProgress
from scanner.cli.project import project_config
from scanner.errors import UsageError

HELP = "audit the full history of many repositories (local process pool or a Dask cluster)"
DESCRIPTION = """\
Run the 'keysweep history' scan on many repositories, one task per repository, with each
repository's own config and baseline, and consolidate the results: every finding names its
repository. REPO is a repository path (work tree or bare), a clone URL (mirrored into a
temporary directory, removed afterwards) or a directory holding many repositories (found
recursively). Duplicates are scanned once.

A repository that fails (clone error, corrupt objects, --repo-timeout) is reported with its
reason and does not stop the others. With --output-dir DIR each result is written to
DIR/repos/NAME-HASH.json as it completes and DIR/report.json at the end; --resume rescans only
what has not finished. Task results carry redacted secrets unless --show-secrets (or --verify,
which needs them: one STS call per distinct key across all repositories).

examples:
  keysweep audit ~/src/org/                          # every repository under a directory
  keysweep audit --repos-file repos.txt --output-dir audit/ --format json -o audit.json
  keysweep audit --repos-file repos.txt --output-dir audit/ --resume
  keysweep audit --engine dask --scheduler tcp://10.0.0.5:8786 --repos-file repos.txt

exit codes: 0 clean, 1 findings, 2 error or any repository failed, 3 live AWS key (--verify),
130 interrupted (finished results are kept in --output-dir)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "repos", nargs="*", type=path_name, metavar="REPO", help="path, clone URL or directory"
    )
    parser.add_argument("--repos-file", type=path_name, metavar="FILE", help="one REPO a line")
    group = parser.add_argument_group("audit")
    add = group.add_argument
    add("--engine", choices=list(ENGINES), default="local", help="where tasks run (default: local)")
    add("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler (--engine dask)")
    add("--jobs", type=number(int, 1), metavar="N", help="local engine: repositories at once")
    add("--retries", type=number(int, 0), default=2, metavar="N", help="dask: reruns of a task")
    timeout = number(float, 0, above=True)
    add("--repo-timeout", type=timeout, metavar="SECONDS", help="fail a repository after this")
    add(
        "--output-dir",
        type=path_name,
        metavar="DIR",
        help="write DIR/repos/NAME-HASH.json and DIR/report.json",
    )
    add("--resume", action="store_true", help="reuse the finished results in --output-dir")
    add("--since", metavar="REF|A..B", help="in every repository, only what REF.. introduced")
    add("--include-unreachable", action="store_true", help="also blobs no ref reaches")
    add_common_options(parser)


def run(ns: argparse.Namespace) -> int:
    return audit_command(
        ns.repos,
        repos_file=ns.repos_file,
        engine=ns.engine,
        engine_settings=EngineSettings(jobs=ns.jobs, scheduler=ns.scheduler, retries=ns.retries),
        repo_timeout=ns.repo_timeout,
        output_dir=ns.output_dir,
        resume=ns.resume,
        since=ns.since,
        include_unreachable=ns.include_unreachable,
        options=common_options(ns),
    )


def audit_command(
    targets: Sequence[str],
    *,
    repos_file: str | None = None,
    engine: str = "local",
    engine_settings: EngineSettings | None = None,
    repo_timeout: float | None = None,
    output_dir: str | None = None,
    resume: bool = False,
    since: str | None = None,
    include_unreachable: bool = False,
    options: CommonOptions,
    progress: bool | None = None,
) -> int:
    if resume and output_dir is None:
        raise UsageError("--resume needs --output-dir DIR (where the previous audit wrote)")
    repos = discover(targets, repos_file)
    runner = make_engine(engine, engine_settings or EngineSettings())
    settings = ScanSettings(
        **options.project_options(),
        since=since,
        include_unreachable=include_unreachable,
        keep_secrets=options.show_secrets or options.aws.verify,
    ).located(clones=any(repo.remote for repo in repos))
    store = ResultStore(output_dir, settings.identity()) if output_dir is not None else None
    show_progress = sys.stderr.isatty() if progress is None else progress
    with RichAuditProgress() if show_progress else NoAuditProgress() as bar:
        report = run_audit(
            repos,
            settings,
            runner,
            store=store,
            resume=resume,
            timeout=repo_timeout,
            show_secrets=options.show_secrets,
            progress=bar,
        )
    # Canary marking; --verify: one STS call per distinct key (sealed findings pass unverified)
    config = project_config(options.config_file)
    checked = apply_aws_stage(report.result, options.aws, config.verify)
    report = report.with_findings(checked.findings)
    shown = options.show_secrets
    if store is not None:
        store.save_report(report.to_dict(show_secrets=shown), show_secrets=shown)
    write_report(
        report.result,
        options,
        document=report.to_dict(show_secrets=shown, redact_ids=options.redact_ids),
    )
    return exit_code(report.result)
