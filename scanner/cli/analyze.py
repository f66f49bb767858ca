"""``keysweep analyze REPORT.json``: the blast radius of each live key (verify/blast_radius)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from scanner.cli.aws_options import (
    add_aws_connection_options,
    apply_aws_stage,
    aws_settings,
    stderr,
)
from scanner.cli.options import (
    CommonOptions,
    add_config_option,
    add_report_options,
    report_options,
)
from scanner.verify.pipeline import next_step, require_key_ids
from scanner.verify.settings import AwsSettings

HELP = "what each live AWS key of a report can do (blast radius, read-only IAM)"
DESCRIPTION = """\
For each live AWS key of a JSON report (a default, redacted report is enough: it shows key
IDs), ask IAM with YOUR credentials (--aws-profile or the AWS_* environment; never the leaked
key) what the key can do: a root key or an IAM user; the user's groups; the attached and
inline policies of the user and its groups; whether any grants *:*, iam:* or
AdministratorAccess; iam:SimulatePrincipalPolicy for a short list of high-risk actions; MFA
on the user; the user's other active keys. A root key or an admin-equivalent key raises the
finding's severity to critical. Read-only IAM calls only (each is listed, with its CloudTrail
footprint, in docs/aws-response.md); a call that fails (AccessDenied, NotImplemented, AWS
unreachable) is recorded in the finding's blast_radius.errors, not fatal: the report is
written. No usable operator credentials at all: one line, exit 2.

Live means: Active in iam:ListAccessKeys (operator credentials), as for deactivate; a key
the report verified live but IAM now shows Inactive (deactivated since) is not analyzed, and
one the operator cannot see keeps the report's verdict. The same data comes with
`keysweep scan|history PATH --verify --exposure`.

examples:
  keysweep history . -f json -o leaks.json
  keysweep analyze leaks.json --aws-profile sec-audit                 # table
  keysweep analyze leaks.json --aws-profile sec-audit -f json -o radius.json

exit codes: 0 clean, 1 findings, 2 error, 3 a live AWS key was found, 130 interrupted
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", metavar="REPORT.json", help="a keysweep JSON report")
    add_config_option(add_report_options(parser))
    add_aws_connection_options(parser.add_argument_group("aws"))


def run(ns: argparse.Namespace) -> int:
    return analyze_command(
        ns.report,
        options=report_options(ns),
        settings=aws_settings(ns, always_verify=True),
        config_path=ns.config_file,
    )


def analyze_command(
    report: str, *, options: CommonOptions, settings: AwsSettings, config_path: str | None = None
) -> int:
    from scanner.cli.common import exit_code, write_report
    from scanner.cli.project import project_config
    from scanner.report.json import load_report

    config = project_config(config_path)
    result = load_report(report)
    require_key_ids(result.findings, report)
    settings = replace(
        settings,
        verify=True,
        exposure=True,
        keep_verdicts=True,
        recheck_live=True,
        operator_lookup=True,
        blast_radius=True,
        blast_radius_required=True,
    )
    result = apply_aws_stage(result, settings, config.verify)
    write_report(result, options)
    if (line := next_step(result.findings, report)) is not None:
        stderr(line)
    return exit_code(result)
