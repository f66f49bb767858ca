"""The AWS response pipeline: one function for ``scan/history --verify``, ``verify`` and
``deactivate``, and the step a later stage (blast radius) joins.

    findings -> canary marking (offline, always)
             -> last-used snapshot (iam:GetAccessKeyLastUsed, operator credentials), taken
                BEFORE any STS call: verifying a key is itself a "use" of it
             -> STS GetCallerIdentity signed with each key's own nearby secrets
             -> keys with no secret at hand (a default, redacted report): Active or not from
                iam:ListAccessKeys with the operator's credentials (``operator_lookup``)
             -> last used / used after leak on live keys (``exposure``)
             -> what each live key can do (``blast_radius``: principal, groups, policies,
                admin-equivalent, MFA, other keys; operator credentials, read-only IAM)

:func:`respond` never drops a finding: every input finding comes out, in order, enriched or
unchanged, in :class:`AwsResponse`. Importing this module is cheap: boto3 is imported only
when a call to AWS is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from scanner.errors import OperatorUnreachable, UsageError, VerifyError
from scanner.models import Finding, Verification, is_redacted
from scanner.verify import INVALID, LIVE, NOT_CHECKED, UNKNOWN
from scanner.verify.canary import account_of, mark_canaries
from scanner.verify.exposure import LastUsed
from scanner.verify.settings import AwsSettings

Log = Callable[[str], None]


@dataclass(frozen=True)
class AwsResponse:
    """The findings after the AWS response, and what the report should say about it."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = field(default=())

    def live_key_ids(self) -> list[str]:
        """Distinct live key ids, in report order."""
        live = (f.secret for f in self.findings if _status(f) == LIVE)
        return list(dict.fromkeys(live))


def next_step(findings: Iterable[Finding], report: str | None) -> str | None:
    """What to do about the live keys of ``report`` (the JSON report just read or written;
    None when there is none to act on), or None when no key is live: a manager reading the
    output must not have to work it out."""
    live = AwsResponse(tuple(findings)).live_key_ids()
    if not live:
        return None
    write = "" if report else "write this scan's findings as JSON (-f json -o leaks.json), then "
    report = report or "leaks.json"
    return (
        f"{len(live)} live AWS key(s) ({', '.join(live)}): anyone with the leaked secret can use "
        f"them now. Deactivate them: {write}keysweep deactivate {report} --aws-profile PROFILE "
        "(dry run), then again with --apply; then rotate them where they are used and remove "
        f"them from history (keysweep remediate {report})"
    )


def require_key_ids(findings: Iterable[Finding], where: str, instead: str = "") -> None:
    """A UsageError when an access key ID of ``findings`` is redacted (a report written with
    ``--redact-ids``): AWS can be asked about no key, and saying nothing would look like a
    verdict. ``instead`` names another way, if the command has one."""
    from scanner.aws_ids import ACCESS_KEY_PREFIXES

    if any(is_redacted(f.secret) and f.secret.startswith(ACCESS_KEY_PREFIXES) for f in findings):
        raise UsageError(
            f"{where}: key IDs are redacted in this report (written with --redact-ids): write it "
            f"again without --redact-ids (secrets stay redacted){instead}"
        )


def usable_secrets(finding: Finding) -> bool:
    """True when a secret access key is at hand (not redacted) to sign a call with the key."""
    return any(p.kind == "secret_access_key" and not is_redacted(p.secret) for p in finding.paired)


def _long_term_key(finding: Finding) -> bool:
    """A long-term (AKIA) access key that is not a canary's: one AWS may be asked about."""
    from scanner.aws_ids import LONG_TERM_KEY_ID

    return LONG_TERM_KEY_ID.fullmatch(finding.secret) is not None and not finding.canary


def checkable_key_ids(findings: Iterable[Finding]) -> list[str]:
    """Long-term key ids that verification may call STS for (not canaries, not temporary)."""
    return sorted({f.secret for f in findings if _long_term_key(f) and usable_secrets(f)})


def respond(findings: Iterable[Finding], settings: AwsSettings, *, log: Log) -> AwsResponse:
    """Canary marking always; with ``settings.verify`` STS verification, the operator lookup
    and the exposure check. Raises VerifyError only when the operator lookup was asked for
    and the operator's credentials cannot be used (nothing could be decided without them)."""
    marked = mark_canaries(findings, settings.canary_accounts)
    if not settings.verify:
        return AwsResponse(marked)
    from scanner.verify.engine import Verifier, VerifyOptions, unknown_summary

    # A sealed finding (an audit result without its secrets) cannot be verified: it passes.
    ask = [
        i
        for i, f in enumerate(marked)
        if f.sealed is None and not (settings.keep_verdicts and f.verification)
    ]
    lookup = _lookup_ids([marked[i] for i in ask], settings) if settings.operator_lookup else []
    recheck = _recheck_ids(marked) if settings.keep_verdicts and settings.recheck_live else []
    notes: list[str] = []
    snapshot = None
    if settings.exposure or lookup or recheck:
        from scanner.verify.exposure import last_used_snapshot

        ids = {*checkable_key_ids(marked), *lookup, *recheck}
        try:  # before verification: an STS call is itself a "use" of the key
            snapshot = last_used_snapshot(ids, settings.aws())
        except VerifyError as exc:
            if lookup or recheck:
                raise
            log(f"exposure check skipped: {exc}")  # keep the verification: report it
            notes.append(f"exposure check skipped: {exc}")
    options = VerifyOptions(
        aws=settings.aws(),
        max_candidates=settings.max_candidates,
        concurrency=settings.concurrency,
        canary_accounts=frozenset(settings.canary_accounts),
        allow_accounts=frozenset(settings.allow_accounts),
        deny_accounts=frozenset(settings.deny_accounts),
    )
    verified = Verifier(options, log=log).verify(marked[i] for i in ask)
    out = list(marked)
    for index, finding in zip(ask, verified, strict=True):
        out[index] = finding
    if (lookup or recheck) and snapshot is not None:
        out = _looked_up(out, lookup, recheck, snapshot, settings, notes, log=log)
    # after the operator lookup too: a key it could not find is as unknown as one STS did not
    # answer for
    incomplete = unknown_summary(out[i] for i in ask)
    if incomplete is not None:
        log(incomplete)
        notes.append(incomplete)
    if snapshot is not None:
        from scanner.verify.exposure import check_exposure

        out = list(check_exposure(out, settings.aws(), snapshot=snapshot, log=log))
    if settings.blast_radius and any(_status(f) == LIVE for f in out):
        out = _with_blast_radius(out, settings, notes, log=log)
    return AwsResponse(tuple(out), tuple(notes))


def _with_blast_radius(
    findings: list[Finding], settings: AwsSettings, notes: list[str], *, log: Log
) -> list[Finding]:
    """The blast-radius step. Operator credentials that cannot be used at all (none, or
    rejected) are an error when ``settings.blast_radius_required`` (``keysweep analyze``),
    else a note. AWS unreachable is neither: each live key's radius is unknown and says so,
    as a failed IAM call would, and the report is written."""
    from scanner.verify.blast_radius import with_blast_radius, without_operator
    from scanner.verify.operator import Mode, operator_identity
    from scanner.verify.session import operator_client

    try:
        operator = operator_identity(operator_client("sts", settings.aws()), Mode.OPERATOR)
        iam = operator_client("iam", settings.aws())
    except OperatorUnreachable as exc:
        notes.append(f"blast radius incomplete: {exc}")
        return list(without_operator(findings, f"sts:GetCallerIdentity: {exc}", log=log))
    except VerifyError as exc:
        if settings.blast_radius_required:
            raise
        log(f"blast radius skipped: {exc}")
        notes.append(f"blast radius skipped: {exc}")
        return findings
    return list(with_blast_radius(findings, iam, operator, log=log))


def _status(finding: Finding) -> str | None:
    return finding.verification.status if finding.verification else None


def _lookup_ids(findings: Sequence[Finding], settings: AwsSettings) -> list[str]:
    """Long-term keys that STS cannot check here (no secret at hand) and that no offline
    rule (canary, allow/deny lists) keeps from AWS: the operator looks them up."""
    out = []
    for f in findings:
        account = account_of(f)
        if (
            _long_term_key(f)
            and not usable_secrets(f)
            and account not in settings.deny_accounts
            and (not settings.allow_accounts or account in settings.allow_accounts)
        ):
            out.append(f.secret)
    return sorted(set(out))


def _recheck_ids(findings: Sequence[Finding]) -> list[str]:
    """Long-term keys a kept verdict calls live (``recheck_live``)."""
    return sorted({f.secret for f in findings if _status(f) == LIVE and _long_term_key(f)})


def _looked_up(
    findings: list[Finding],
    lookup: list[str],
    recheck: list[str],
    snapshot: LastUsed,
    settings: AwsSettings,
    notes: list[str],
    *,
    log: Log,
) -> list[Finding]:
    """The operator's answer (ListAccessKeys), asked once for both kinds of key: it replaces
    the ``not_checked`` verdicts of ``lookup``; of ``recheck`` (kept ``live`` verdicts) only
    Inactive replaces the report's verdict, the key deactivated since. Any other answer about
    those (the operator cannot see the key, AWS unreachable) leaves the report's verdict."""
    from scanner.verify.operator import Mode, operator_identity, status_verdicts
    from scanner.verify.session import operator_client

    try:
        operator = operator_identity(operator_client("sts", settings.aws()), Mode.OPERATOR)
    except OperatorUnreachable as exc:  # no answer about the keys: unknown, as for STS's own
        unknown = Verification(UNKNOWN, detail=f"operator lookup failed: {exc}")
        verdicts = dict.fromkeys(lookup, unknown)
    else:
        iam = operator_client("iam", settings.aws())
        verdicts = status_verdicts({*lookup, *recheck}, snapshot, iam, operator)
    gone = sorted(k for k in recheck if k in verdicts and verdicts[k].status == INVALID)
    if gone:
        line = (
            f"{len(gone)} key(s) live in the report are inactive now ({', '.join(gone)}): "
            "deactivated since, not analyzed"
        )
        log(line)
        notes.append(line)
    replaced: dict[str, set[str | None]] = {key: {None, NOT_CHECKED} for key in lookup}
    for key in gone:
        replaced.setdefault(key, set()).add(LIVE)
    return [
        dataclasses.replace(f, verification=verdicts[f.secret])
        if _status(f) in replaced.get(f.secret, ())
        else f
        for f in findings
    ]
