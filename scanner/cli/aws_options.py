"""The ``aws`` options (``--verify`` and friends) as ``AwsSettings`` for verify/pipeline.py."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from scanner.cli.argtypes import number
from scanner.errors import UsageError
from scanner.models import ScanResult
from scanner.verify.settings import AwsSettings

if TYPE_CHECKING:
    from scanner.config import VerifyConfig

_DEFAULT = AwsSettings()


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"timeout must be in (0, 300] seconds, got {text}")
    return value


def _account(text: str) -> str:
    if len(value := text.strip()) != 12 or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a 12-digit AWS account ID")
    return value


def _endpoint(text: str) -> str:
    if "@" in text.partition("://")[2].split("/", 1)[0]:  # never echoed: it holds a password
        raise argparse.ArgumentTypeError("endpoint must not hold credentials (user:password@)")
    if not text.startswith(("https://", "http://")):
        raise argparse.ArgumentTypeError(f"endpoint must be an https:// (or http://) URL: {text!r}")
    return text


def add_aws_connection_options(group: argparse._ArgumentGroup) -> None:
    """Where AWS is and who the operator is (verify, deactivate, reactivate)."""
    group.add_argument(
        "--aws-endpoint-url",
        metavar="URL",
        type=_endpoint,
        help="send AWS calls to this endpoint (private endpoints, local test servers) instead "
        "of the public AWS endpoints; endpoints from AWS_ENDPOINT_URL* are ignored",
    )
    region = "region for STS/IAM calls (default: %(default)s)"
    group.add_argument("--aws-region", metavar="REGION", default="us-east-1", help=region)
    group.add_argument(
        "--aws-profile",
        metavar="PROFILE",
        help="operator credentials (a profile in ~/.aws) for the exposure check and "
        "deactivation; never used to verify a found key (default: the environment)",
    )
    group.add_argument(
        "--aws-timeout",
        metavar="SECONDS",
        type=_timeout,
        default=_DEFAULT.timeout,
        help="time limit for each whole STS call, however slowly the endpoint answers (a key "
        "whose call runs out is 'unknown'); connect timeout is min(5, this) (default: 10)",
    )


def add_verify_options(parser: argparse.ArgumentParser, *, always_verify: bool = False) -> None:
    """The ``aws`` option group for scan/history (``always_verify`` for ``keysweep verify``)."""
    group = parser.add_argument_group(
        "aws",
        "opt-in verification of found AWS keys with STS GetCallerIdentity, signed with "
        "exactly the found key and secret (logged in the key owner's CloudTrail). Keys of "
        "known honeytoken (canary) accounts are never sent.",
    )
    if not always_verify:
        verify = "check found AWS keys against AWS STS (exit code 3 when one is live)"
        group.add_argument("--verify", action="store_true", help=verify)
    group.add_argument(
        "--exposure",
        action="store_true",
        help="for live keys, ask IAM when/where they were last used (iam:GetAccessKeyLastUsed) "
        "and what they can do (blast radius: principal, groups, policies, MFA; read-only IAM), "
        "with operator credentials; implied by --aws-profile",
    )
    add_aws_connection_options(group)
    for flag, default, what in (
        ("--verify-candidates", _DEFAULT.max_candidates, "secrets tried per key id, nearest first"),
        ("--verify-concurrency", _DEFAULT.concurrency, "AWS calls in flight at once"),
    ):
        what += " (default: %(default)s)"
        group.add_argument(flag, metavar="N", type=number(int, 1), default=default, help=what)
    group.add_argument(
        "--canary-account",
        metavar="ACCOUNT",
        type=_account,
        action="append",
        default=[],
        help="treat keys of this account as honeytokens: never sent to AWS (repeatable; "
        "adds to the built-in list and verify.canary_accounts in the config)",
    )


def aws_settings(
    ns: argparse.Namespace, config: VerifyConfig | None = None, *, always_verify: bool = False
) -> AwsSettings:
    """The aws group from parsed arguments, with the ``[verify]`` config's account lists."""
    profile = getattr(ns, "aws_profile", None)
    verify = always_verify or bool(getattr(ns, "verify", False))
    exposure = bool(getattr(ns, "exposure", False)) or profile is not None
    if not verify and exposure:
        raise UsageError("--exposure and --aws-profile need --verify (only live keys are checked)")
    return AwsSettings(
        verify=verify,
        exposure=exposure,
        endpoint_url=getattr(ns, "aws_endpoint_url", None),
        region=getattr(ns, "aws_region", "us-east-1"),
        profile=profile,
        max_candidates=getattr(ns, "verify_candidates", _DEFAULT.max_candidates),
        concurrency=getattr(ns, "verify_concurrency", _DEFAULT.concurrency),
        timeout=getattr(ns, "aws_timeout", _DEFAULT.timeout),
        canary_accounts=tuple(getattr(ns, "canary_account", ()) or ()),
        blast_radius=exposure and hasattr(ns, "exposure"),  # scan/history/verify --exposure
    ).with_config(config)


def apply_aws_stage(
    result: ScanResult, settings: AwsSettings | None, config: VerifyConfig | None = None
) -> ScanResult:
    """The AWS response stage of scan/history/verify (see ``scanner.verify.pipeline``)."""
    if not result.findings and (settings is None or not settings.verify):
        return result  # nothing to mark: a clean pre-commit run never imports the pipeline
    from scanner.verify.pipeline import respond

    response = respond(result.findings, (settings or AwsSettings()).with_config(config), log=stderr)
    summary = replace(result.summary, notes=(*result.summary.notes, *response.notes))
    return replace(result, findings=response.findings, summary=summary)


def stderr(line: str) -> None:
    """AWS-stage progress on stderr: one write per line (the Verifier's lock orders threads)."""
    sys.stderr.write(f"keysweep: {line}\n")
