"""The options scan, history, staged (and, in part, baseline and verify) take from the command
line: argparse groups, and :class:`CommonOptions`, the typed value a command works with.

A later stage plugs in with one option in :func:`add_common_options`, one field in
:class:`CommonOptions` and one line in :func:`common_options`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

from scanner.cli.argtypes import path_name
from scanner.cli.aws_options import add_verify_options, aws_settings
from scanner.cli.detection_options import add_detection_options, detection_settings
from scanner.project import ProjectOptions
from scanner.report import DEFAULT_FORMAT, REPORTERS
from scanner.verify.settings import AwsSettings


@dataclass(frozen=True)
class CommonOptions(ProjectOptions):
    """The options every scanning command takes, already validated by argparse: the
    project's (:class:`ProjectOptions`) and the report's."""

    fmt: str = DEFAULT_FORMAT
    output: str | None = None
    show_secrets: bool = False
    redact_ids: bool = False  # --redact-ids: key IDs redacted too
    aws: AwsSettings = field(default_factory=AwsSettings)  # --verify and the aws group


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Report and detection options for scan, history and staged."""
    add_report_options(parser)
    add_detection_options(parser)
    project = parser.add_argument_group("project")
    add_config_option(project)
    project.add_argument(
        "--baseline",
        dest="baseline_file",
        metavar="FILE",
        type=path_name,
        help="suppress the accepted findings listed in this baseline and report only new ones "
        "(default: the config's baseline.path)",
    )
    add_verify_options(parser)


def add_config_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--config FILE``: the one way every command names the project config."""
    parser.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE",
        type=path_name,
        help="project config (default: .keysweep.toml, or [tool.keysweep] in pyproject.toml, "
        "at the repository root)",
    )


def add_report_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The ``report`` group (--format, --output, --show-secrets); also used by verify."""
    report = parser.add_argument_group("report")
    report.add_argument(
        "-f",
        "--format",
        dest="fmt",
        choices=list(REPORTERS),
        default=DEFAULT_FORMAT,
        help="output format (default: %(default)s; rich colours on a terminal, plain when piped)",
    )
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=path_name,
        help="write the report to FILE once complete (a regular file atomically; - is stdout)",
    )
    report.add_argument(
        "--show-secrets",
        action="store_true",
        help="print secrets in full (default: redacted to a short prefix and the length; "
        "AWS access key IDs are identifiers and always shown in full)",
    )
    report.add_argument(
        "--redact-ids",
        action="store_true",
        help="redact identifiers (AWS access key IDs) too; deactivate cannot read such a report",
    )
    return report


def report_options(ns: argparse.Namespace) -> CommonOptions:
    """The ``report`` group (:func:`add_report_options`) from parsed arguments."""
    return CommonOptions(
        fmt=ns.fmt, output=ns.output, show_secrets=ns.show_secrets, redact_ids=ns.redact_ids
    )


def common_options(ns: argparse.Namespace) -> CommonOptions:
    return replace(
        report_options(ns),
        **detection_settings(ns),
        config_file=ns.config_file,
        baseline_file=ns.baseline_file,
        aws=aws_settings(ns),
    )
