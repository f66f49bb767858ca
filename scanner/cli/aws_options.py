"""The ``aws`` option group (``--verify`` and friends) and the verify stage of the pipeline.

Shared by scan/history (through ``scanner.cli.common``), ``keysweep verify`` and
``keysweep deactivate``. Importing this module is cheap: boto3 is imported by
``scanner.verify`` only when a call to AWS is actually made.

    findings -> (always) canary marking -> (--verify) STS -> (--exposure) last used -> report
"""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from scanner.errors import UsageError, VerifyError
from scanner.models import ScanResult

if TYPE_CHECKING:
    from scanner.config import VerifyConfig
    from scanner.verify.session import AwsOptions

DEFAULT_MAX_CANDIDATES = 3
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class AwsSettings:
    """What the user asked for on the command line (validated by argparse)."""

    verify: bool = False
    exposure: bool = False
    endpoint_url: str | None = None
    region: str = "us-east-1"
    profile: str | None = None
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    canary_accounts: tuple[str, ...] = ()

    def aws(self) -> AwsOptions:
        from scanner.verify.session import AwsOptions

        return AwsOptions(
            region=self.region,
            endpoint_url=self.endpoint_url,
            profile=self.profile,
            connect_timeout=min(5.0, self.timeout),
            read_timeout=self.timeout,
            total_timeout=self.timeout,
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"timeout must be in (0, 300] seconds, got {text}")
    return value


def _account(text: str) -> str:
    value = text.strip()
    if len(value) != 12 or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a 12-digit AWS account ID")
    return value


def _endpoint(text: str) -> str:
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
    group.add_argument(
        "--aws-region",
        metavar="REGION",
        default="us-east-1",
        help="region for STS/IAM calls (default: %(default)s)",
    )
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
        default=DEFAULT_TIMEOUT,
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
        group.add_argument(
            "--verify",
            action="store_true",
            help="check found AWS keys against AWS STS (exit code 3 when one is live)",
        )
    group.add_argument(
        "--exposure",
        action="store_true",
        help="for live keys, ask IAM when/where they were last used (iam:GetAccessKeyLastUsed, "
        "operator credentials; implied by --aws-profile)",
    )
    add_aws_connection_options(group)
    group.add_argument(
        "--verify-candidates",
        metavar="N",
        type=_positive_int,
        default=DEFAULT_MAX_CANDIDATES,
        help="secrets tried per key id, nearest first (default: %(default)s)",
    )
    group.add_argument(
        "--verify-concurrency",
        metavar="N",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help="AWS calls in flight at once (default: %(default)s)",
    )
    group.add_argument(
        "--canary-account",
        metavar="ACCOUNT",
        type=_account,
        action="append",
        default=[],
        help="treat keys of this account as honeytokens: never sent to AWS (repeatable; "
        "adds to the built-in list and verify.canary_accounts in the config)",
    )


def aws_settings(ns: argparse.Namespace, *, always_verify: bool = False) -> AwsSettings:
    """The aws group from parsed arguments (commands without some options get defaults)."""
    profile = getattr(ns, "aws_profile", None)
    verify = always_verify or bool(getattr(ns, "verify", False))
    if not verify and (profile is not None or getattr(ns, "exposure", False)):
        raise UsageError("--exposure and --aws-profile need --verify (only live keys are checked)")
    return AwsSettings(
        verify=always_verify or bool(getattr(ns, "verify", False)),
        exposure=bool(getattr(ns, "exposure", False)) or profile is not None,
        endpoint_url=getattr(ns, "aws_endpoint_url", None),
        region=getattr(ns, "aws_region", "us-east-1"),
        profile=profile,
        max_candidates=getattr(ns, "verify_candidates", DEFAULT_MAX_CANDIDATES),
        concurrency=getattr(ns, "verify_concurrency", DEFAULT_CONCURRENCY),
        timeout=getattr(ns, "aws_timeout", DEFAULT_TIMEOUT),
        canary_accounts=tuple(getattr(ns, "canary_account", ()) or ()),
    )


def apply_aws_stage(
    result: ScanResult,
    settings: AwsSettings | None,
    config: VerifyConfig | None = None,
) -> ScanResult:
    """Canary marking (always, offline), then STS verification and exposure when asked.

    Never drops a finding: every input finding comes out, in order, enriched or unchanged.
    """
    from scanner.verify.canary import mark_canaries

    settings = settings or AwsSettings()
    canaries = frozenset(settings.canary_accounts) | frozenset(
        config.canary_accounts if config else ()
    )
    findings = mark_canaries(result.findings, canaries)
    if not settings.verify:
        return replace(result, findings=tuple(findings))
    from scanner.verify.engine import Verifier, VerifyOptions, checkable_key_ids, unknown_summary

    notes: list[str] = []
    snapshot = None
    if settings.exposure:
        from scanner.verify.exposure import last_used_snapshot

        try:  # before verification: an STS call is itself a "use" of the key
            snapshot = last_used_snapshot(checkable_key_ids(findings), settings.aws())
        except VerifyError as exc:  # keep the verification: report it, do not fail
            _stderr(f"exposure check skipped: {exc}")
            notes.append(f"exposure check skipped: {exc}")
    options = VerifyOptions(
        aws=settings.aws(),
        max_candidates=settings.max_candidates,
        concurrency=settings.concurrency,
        canary_accounts=canaries,
        allow_accounts=frozenset(config.allow_accounts if config else ()),
        deny_accounts=frozenset(config.deny_accounts if config else ()),
    )
    findings = Verifier(options, log=_stderr).verify(findings)
    incomplete = unknown_summary(findings)
    if incomplete is not None:
        _stderr(incomplete)
        notes.append(incomplete)
    if snapshot is not None:
        from scanner.verify.exposure import check_exposure

        findings = check_exposure(findings, settings.aws(), snapshot=snapshot, log=_stderr)
    summary = replace(result.summary, notes=(*result.summary.notes, *notes))
    return replace(result, findings=tuple(findings), summary=summary)


_STDERR_LOCK = threading.Lock()


def _stderr(line: str) -> None:
    # One write of one whole line under a lock: lines from the verify threads never interleave.
    with _STDERR_LOCK:
        sys.stderr.write(f"keysweep: {line}\n")
        sys.stderr.flush()
