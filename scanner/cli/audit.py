"""``keysweep audit REPO...``: the history of many repositories, one task per repository,
on this machine or on a Dask cluster. The work is in :mod:`scanner.audit`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from scanner.cli.aws_options import apply_aws_stage
from scanner.cli.common import (
    CommonOptions,
    add_common_options,
    common_options,
    exit_code,
    write_report,
)
from scanner.errors import UsageError
from scanner.models import ScanResult

if TYPE_CHECKING:
    from scanner.audit.engines import EngineSettings
    from scanner.audit.task import RepoOutcome

HELP = "audit the full history of many repositories (local process pool or a Dask cluster)"
DESCRIPTION = """\
Run the 'keysweep history' scan on many repositories, one task per repository, with each
repository's own config and baseline, and consolidate the results: every finding names its
repository. REPO is a repository path (work tree or bare), a clone URL (mirrored into a
temporary directory, removed afterwards) or a directory holding many repositories (found
recursively). Duplicates are scanned once.

A repository that fails (clone error, corrupt objects, --repo-timeout) is reported with its
reason and does not stop the others. With --output-dir DIR each result is written to
DIR/repos/<name>.json as it completes and DIR/report.json at the end; --resume rescans only
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


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from scanner.audit.engines import ENGINES

    parser.add_argument(
        "repos", nargs="*", metavar="REPO", help="repository path, clone URL or directory"
    )
    parser.add_argument(
        "--repos-file", metavar="FILE", help="repositories, one a line ('#' comments)"
    )
    group = parser.add_argument_group("audit")
    group.add_argument(
        "--engine", choices=list(ENGINES), default="local", help="where tasks run (default: local)"
    )
    group.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler (--engine dask)"
    )
    group.add_argument(
        "--jobs",
        type=_positive_int,
        metavar="N",
        help="local engine: repositories scanned at once (default: one per CPU core)",
    )
    group.add_argument(
        "--retries",
        type=_non_negative_int,
        default=2,
        metavar="N",
        help="dask engine: reruns of a task that raised (default: %(default)s)",
    )
    group.add_argument(
        "--repo-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="fail a repository whose scan takes longer than this (default: no limit)",
    )
    group.add_argument(
        "--output-dir", metavar="DIR", help="write DIR/repos/<name>.json and DIR/report.json"
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="reuse the finished results in --output-dir; scan only the rest",
    )
    group.add_argument(
        "--since",
        metavar="REF|A..B",
        help="in every repository, scan only what the commits after REF (or in A..B) introduced",
    )
    group.add_argument(
        "--include-unreachable",
        action="store_true",
        help="also report blobs no ref reaches",
    )
    add_common_options(parser)


def run(ns: argparse.Namespace) -> int:
    from scanner.audit.engines import EngineSettings

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
    from scanner.audit.engines import EngineSettings, make_engine
    from scanner.audit.inputs import discover
    from scanner.audit.run import run_audit
    from scanner.audit.store import ResultStore
    from scanner.audit.task import ScanSettings

    if resume and output_dir is None:
        raise UsageError("--resume needs --output-dir DIR (where the previous audit wrote)")
    repos = discover(targets, repos_file)
    runner = make_engine(engine, engine_settings or EngineSettings())
    settings = ScanSettings(
        rule_packs=tuple(str(Path(p).absolute()) for p in options.rule_packs),
        inline_allow=options.inline_allow,
        max_file_size=options.max_file_size,
        max_file_size_explicit=options.max_file_size_explicit,
        config_file=_absolute(options.config_file),
        baseline_file=_absolute(options.baseline_file),
        since=since,
        include_unreachable=include_unreachable,
        keep_secrets=options.show_secrets or options.aws.verify,
        url_config_root=str(Path.cwd()),
    )
    store = ResultStore(output_dir, settings.identity()) if output_dir is not None else None
    show_progress = sys.stderr.isatty() if progress is None else progress
    with _RichProgress() if show_progress else _NoProgress() as bar:
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
    report = report.with_findings(_verified(report.result, options).findings)
    if store is not None:
        store.save_report(report.to_dict(show_secrets=options.show_secrets))
    write_report(report.result, options)
    return exit_code(report.result)


def _verified(result: ScanResult, options: CommonOptions) -> ScanResult:
    """Canary marking and, with --verify, one STS call per distinct key across every
    repository (the verifier caches by key). Sealed findings (resumed from a run without the
    secrets) cannot be verified and pass through unchanged."""
    from scanner.config import load_config

    config = load_config(Path(options.config_file) if options.config_file else None, Path.cwd())
    open_findings = [f for f in result.findings if f.sealed is None]
    checked = iter(
        apply_aws_stage(
            replace(result, findings=tuple(open_findings)), options.aws, config.verify
        ).findings
    )
    return replace(
        result,
        findings=tuple(f if f.sealed is not None else next(checked) for f in result.findings),
    )


def _absolute(path: str | None) -> str | None:
    """Tasks may run elsewhere (another process, another machine's cwd): pass full paths."""
    return None if path is None else str(Path(path).absolute())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def start(self, total: int) -> None:
        pass

    def done(self, outcome: RepoOutcome) -> None:
        pass


class _RichProgress(_NoProgress):
    """Repositories done/failed/total, bytes, findings and time left, on stderr."""

    def __enter__(self) -> _RichProgress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "repos, {task.fields[failed]} failed, {task.fields[size]}, "
                "{task.fields[findings]} findings"
            ),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "repos", total=None, failed=0, size="0.0 MiB", findings=0
        )
        self._failed = self._bytes = self._findings = 0
        return self

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def done(self, outcome: RepoOutcome) -> None:
        self._failed += outcome.status == "failed"
        self._bytes += outcome.result.summary.bytes_scanned
        self._findings += outcome.findings
        self._progress.update(
            self._task,
            advance=1,
            failed=self._failed,
            size=f"{self._bytes / 2**20:.1f} MiB",
            findings=self._findings,
        )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
