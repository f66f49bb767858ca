"""``keysweep verify REPORT.json``: verify the AWS keys of a saved JSON report.

The report must have been written with ``--show-secrets`` (verification signs with the found
secret); a default report is refused in one line that says how to verify instead (while
scanning: ``keysweep history PATH --verify``). The output is the same report with a
``verification`` object on every AWS key finding, in any format; exit code 3 when a live key
was found. The AWS response is ``scanner.verify.pipeline.respond``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from scanner.cli.aws_options import add_verify_options, apply_aws_stage, aws_settings, stderr
from scanner.cli.common import exit_code, write_report
from scanner.cli.options import (
    CommonOptions,
    add_config_option,
    add_report_options,
    report_options,
)
from scanner.cli.project import project_config
from scanner.verify.pipeline import next_step, require_key_ids
from scanner.verify.settings import AwsSettings

HELP = "verify the AWS keys of a saved JSON report against AWS STS"
DESCRIPTION = """\
Verify the AWS access keys of a JSON report (written with --show-secrets) with STS
GetCallerIdentity, signed with exactly each found key and its nearest secrets. Your own AWS
credentials are never used for this; --aws-profile only adds the exposure check
(iam:GetAccessKeyLastUsed) for live keys. A default report hides the secrets, so STS cannot
check them: verify while scanning instead (keysweep history PATH --verify), or add --exposure:
then a key whose secret is not in the report is live when iam:ListAccessKeys, with your
credentials, says Active.

states: live, invalid, expired, unknown (timeouts, throttling, 5xx: never 'invalid'),
canary (honeytoken account: never sent), skipped (allow/deny lists), not_checked

examples:
  keysweep history . --verify                      # verify while scanning: no secret on disk
  keysweep history . --format json --show-secrets -o leaks.json
  keysweep verify leaks.json                       # table with a VERIFIED column
  keysweep verify leaks.json --aws-profile sec -f json -o verified.json
  keysweep history . -f json -o plain.json         # a default report: key IDs, no secret
  keysweep verify plain.json --exposure            # Active? last used? (your credentials)

exit codes: 0 clean, 1 findings, 2 error, 3 a live AWS key was found, 130 interrupted
"""


REDACTED_HINT = (
    "it cannot be verified: verify while scanning (keysweep history PATH --verify), add "
    "--exposure to ask IAM about its key IDs with your own credentials, or write the report "
    "with --show-secrets"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", metavar="REPORT.json", help="a keysweep JSON report")
    add_config_option(add_report_options(parser))  # [verify] canary/allow/deny account lists
    add_verify_options(parser, always_verify=True)


def run(ns: argparse.Namespace) -> int:
    return verify_command(
        ns.report,
        options=report_options(ns),
        settings=aws_settings(ns, always_verify=True),
        config_path=ns.config_file,
    )


def verify_command(
    report: str,
    *,
    options: CommonOptions,
    settings: AwsSettings,
    config_path: str | None = None,
) -> int:
    from scanner.report.json import load_report

    config = project_config(config_path)
    # With --exposure a default report is enough: a key without its secret at hand is live
    # when iam:ListAccessKeys (operator credentials) says Active.
    result = load_report(report, require_secrets=not settings.exposure, hint=REDACTED_HINT)
    require_key_ids(result.findings, report)
    settings = replace(settings, verify=True, operator_lookup=settings.exposure)
    result = apply_aws_stage(result, settings, config.verify)
    write_report(result, options)
    if (line := next_step(result.findings, report)) is not None:
        stderr(line)
    return exit_code(result)
