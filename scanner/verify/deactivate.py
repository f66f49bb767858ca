"""Safe deactivation of live leaked keys: plan, check the operator, apply, confirm, audit.

Only ``live`` long-term ``AKIA`` keys of IAM users are ever touched, and only with
``iam:UpdateAccessKey Status=Inactive`` — reversible, never a delete. Root keys and temporary
``ASIA`` keys are refused with guidance. Every decision goes to the audit log (see ``audit``).

    findings -> pipeline.respond -> build_plan (every refusal rule) -> Deactivator.set_status

A default (redacted) report is enough: keysweep needs the key IDs, and takes liveness from the
report's ``verification`` or from ListAccessKeys with the operator's credentials. Only
``--use-leaked-key`` needs the leaked secret.

CloudTrail: GetCallerIdentity, UpdateAccessKey and ListAccessKeys made with the operator's
credentials are logged in the operator's account (which is the key's account: we refuse
otherwise). In ``--use-leaked-key`` mode they are made by, and logged against, the leaked key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from scanner.aws_ids import LONG_TERM_KEY_ID, TEMPORARY_PREFIX
from scanner.errors import OperatorUnreachable, VerifyError
from scanner.models import Finding, PrincipalKind
from scanner.verify import LIVE, UNKNOWN
from scanner.verify.arn import parse_arn
from scanner.verify.audit import AuditLog
from scanner.verify.operator import Mode, Operator, aws_error_text, listed_status, operator_identity
from scanner.verify.pipeline import require_key_ids, respond
from scanner.verify.scrub import scrub
from scanner.verify.session import (
    AwsOptions,
    leaked_key_client,
    operator_client,
    operator_key_id,
)
from scanner.verify.settings import AwsSettings

Log = Callable[[str], None]


class Action(StrEnum):
    DEACTIVATE = "deactivate"
    REFUSE = "refuse"
    ALREADY_INACTIVE = "already-inactive"  # nothing to do: a re-run, or a report's old verdict


class KeyStatus(StrEnum):
    """An access key's status in IAM (UpdateAccessKey / ListAccessKeys)."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


class Reactivation(StrEnum):
    """What ``reactivate`` did."""

    REACTIVATED = "reactivated"
    ALREADY_ACTIVE = "already-active"  # nothing to do: never deactivated, or a re-run
    FAILED = "failed"


@dataclass(frozen=True)
class PlanItem:
    """One key and what we intend to do with it. Holds no secret."""

    key_id: str
    account: str | None
    user: str | None
    arn: str | None
    last_used: str | None
    action: Action
    reason: str = ""
    fingerprint: str | None = None  # of the verifying secret, to find it for --use-leaked-key


def asia_guidance(arn: str | None, now: datetime | None = None) -> str:
    """How to cut off leaked temporary credentials: deny sessions issued before now."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    who = parse_arn(arn)
    role = (who.role if who else None) or "ROLE_NAME"
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": stamp}},
                }
            ],
        },
        separators=(",", ":"),
    )
    return (
        "temporary (ASIA) credentials cannot be deactivated; revoke every session of the role "
        "issued before now with a deny policy on aws:TokenIssueTime (what the IAM console's "
        f"'Revoke active sessions' does): aws iam put-role-policy --role-name {role} "
        f"--policy-name AWSRevokeOlderSessions --policy-document '{policy}' — then find and "
        "rotate whatever issued them"
    )


ROOT_GUIDANCE = (
    "root user access key: keysweep will not touch it; sign in as the root user, delete the "
    "key under Security credentials, enable MFA on root, and review CloudTrail for its use"
)


@dataclass(frozen=True)
class PlanPolicy:
    """The context every refusal rule needs besides the findings."""

    operator: Operator | None = None  # None with --use-leaked-key: each key acts on itself
    allow_accounts: Collection[str] = ()
    deny_accounts: Collection[str] = ()
    leaked_secrets: Collection[str] | None = None  # --use-leaked-key: key ids we can sign as


def build_plan(findings: Iterable[Finding], policy: PlanPolicy | None = None) -> list[PlanItem]:
    """One item per distinct live key id, deactivate or refuse (with the reason and what to do
    instead); non-live keys are left out. Every refusal rule is here, first match wins."""
    policy = policy or PlanPolicy()
    plan: dict[str, PlanItem] = {}
    for finding in findings:
        verdict = finding.verification
        if verdict is None or verdict.status != LIVE or finding.secret in plan:
            continue
        who = parse_arn(verdict.arn)
        item = PlanItem(
            key_id=finding.secret,
            account=verdict.account or finding.account_id,
            user=who.user if who else None,
            arn=verdict.arn,
            last_used=_last_used(finding),
            action=Action.DEACTIVATE,
            fingerprint=verdict.secret_fingerprint,
        )
        reason = _refusal(item, policy)
        plan[item.key_id] = replace(item, action=Action.REFUSE, reason=reason) if reason else item
    return list(plan.values())


def _refusal(item: PlanItem, policy: PlanPolicy) -> str | None:
    key_id, op = item.key_id, policy.operator
    who = parse_arn(item.arn)
    if who is not None and who.kind == PrincipalKind.ROOT:
        return ROOT_GUIDANCE
    if key_id.startswith(TEMPORARY_PREFIX):
        return asia_guidance(item.arn)
    if LONG_TERM_KEY_ID.fullmatch(key_id) is None:
        return "not a long-term AKIA key"
    if item.user is None:
        return f"cannot tell the IAM user from ARN {item.arn!r}"
    if op is not None and op.key_id == key_id:
        return (
            f"this is the key keysweep signs with (operator {op.arn}): deactivating it would "
            "cut off this run and your own access; act with other credentials in account "
            f"{item.account} (--aws-profile), then rotate it"
        )
    if op is not None and item.account != op.account:
        return _other_account(item.account, op)
    if item.account in policy.deny_accounts:
        return "account is in verify.deny_accounts"
    if policy.allow_accounts and item.account not in policy.allow_accounts:
        return "account is not in verify.allow_accounts"
    if policy.leaked_secrets is not None and key_id not in policy.leaked_secrets:
        return "the secret that verified it is missing"
    return None


def _other_account(account: str | None, op: Operator) -> str:
    return (
        f"key belongs to account {account} but the operator ({op.arn}) is in account "
        f"{op.account}; use --aws-profile with credentials in account {account}"
    )


def _last_used(finding: Finding) -> str | None:
    verdict = finding.verification
    if verdict is None or verdict.last_used_date is None:
        return None
    where = "/".join(x for x in (verdict.last_used_service, verdict.last_used_region) if x)
    return f"{verdict.last_used_date} ({where})" if where else verdict.last_used_date


def undo_commands(item: PlanItem) -> list[str]:
    return [
        f"keysweep reactivate {item.key_id}",
        f"aws iam update-access-key --user-name {item.user} --access-key-id {item.key_id} "
        "--status Active",
    ]


class Deactivator:
    """Runs the plan with one IAM client (operator's, or the leaked key's own), audited."""

    def __init__(
        self,
        options: AwsOptions,
        audit: AuditLog,
        *,
        leaked_secrets: Mapping[str, tuple[str, str | None]] | None = None,
    ) -> None:
        self.options = options
        self.audit = audit
        self.leaked_secrets = leaked_secrets  # key id -> (secret, token): --use-leaked-key only

    @property
    def mode(self) -> Mode:
        return Mode.LEAKED_KEY if self.leaked_secrets is not None else Mode.OPERATOR

    def clients(self, key_id: str) -> tuple[Any, Any]:
        if self.leaked_secrets is None:
            return operator_client("sts", self.options), operator_client("iam", self.options)
        secret, token = self.leaked_secrets[key_id]
        return (
            leaked_key_client("sts", key_id, secret, token, self.options),
            leaked_key_client("iam", key_id, secret, token, self.options),
        )

    def operator(self) -> Operator:
        """The operator's identity (operator mode), with the key it signs with."""
        op = operator_identity(operator_client("sts", self.options), Mode.OPERATOR)
        return replace(op, key_id=operator_key_id(self.options))

    def identify(self, plan: Iterable[PlanItem]) -> dict[str, Operator]:
        """Who acts for each key to deactivate: each leaked key's own identity."""
        out = {}
        for item in plan:
            if item.action == Action.DEACTIVATE:
                sts, _ = self.clients(item.key_id)
                out[item.key_id] = operator_identity(sts, self.mode)
        return out

    def record(
        self,
        item: PlanItem,
        action: str,
        result: str,
        op: Operator | None,
        detail: str | None = None,
    ) -> None:
        """Audit ``item``; ``detail`` defaults to the (scrubbed) reason of a refusal."""
        if detail is None:
            detail = self._scrub(item.reason if action == "refused" else "")
        self.audit.record(
            action=action,
            result=result,
            key_id=item.key_id,
            account=item.account,
            user=item.user,
            operator_arn=op.arn if op else None,
            mode=self.mode,
            detail=detail,
        )

    def record_plan(self, plan: Plan, *, apply: bool) -> None:
        """Audit every item: ``refused``, or ``planned`` (dry run or about to apply)."""
        for item in plan.items:
            op = plan.operators.get(item.key_id)
            if item.action == Action.REFUSE:
                self.record(item, "refused", "refused", op)
            elif item.action == Action.ALREADY_INACTIVE:
                self.record(item, "refused", "already Inactive", op, item.reason)
            else:
                self.record(item, "planned", "apply" if apply else "dry-run", op)

    def skip_inactive(self, items: Iterable[PlanItem]) -> list[PlanItem]:
        """Keys to deactivate that ListAccessKeys already shows Inactive (a re-run, or a
        report's verdict older than the last deactivation): nothing to do, and said so."""
        _, iam = self.clients("")  # operator mode: the operator's IAM client
        out = []
        for item in items:
            if item.action == Action.DEACTIVATE:
                shown, _ = self.shown_status(iam, item)
                if shown == KeyStatus.INACTIVE:
                    why = "already Inactive (iam:ListAccessKeys): nothing to do"
                    item = replace(item, action=Action.ALREADY_INACTIVE, reason=why)
            out.append(item)
        return out

    def set_status(self, item: PlanItem, op: Operator, status: KeyStatus) -> tuple[bool, str]:
        """UpdateAccessKey to ``status``, then confirm with ListAccessKeys; audited either way
        (``applied`` / ``reactivated`` or ``failed``). Deactivate and reactivate share it."""
        import botocore.exceptions

        _, iam = self.clients(item.key_id)
        try:
            iam.update_access_key(UserName=item.user, AccessKeyId=item.key_id, Status=status)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            why = self._scrub(aws_error_text(exc))
            if self.mode == Mode.LEAKED_KEY:
                why += (
                    " (a leaked key usually lacks iam:UpdateAccessKey on itself, and AWS "
                    "attaches AWSCompromisedKeyQuarantine to keys it finds exposed, which "
                    "denies it; use operator credentials instead)"
                )
            self.record(item, "failed", "UpdateAccessKey failed", op, why)
            return False, why
        shown, note = self.shown_status(iam, item)
        ok = shown == status
        done = "applied" if status == KeyStatus.INACTIVE else "reactivated"
        self.record(item, done if ok else "failed", shown or "unconfirmed", op, note)
        return ok, note or f"ListAccessKeys shows {shown}"

    def shown_status(self, iam: Any, item: PlanItem) -> tuple[str | None, str]:
        """The key's status in ListAccessKeys, or None and why it could not be read."""
        import botocore.exceptions

        try:
            status = listed_status(iam, item.user, item.key_id)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if self.mode == Mode.LEAKED_KEY and code == "InvalidClientTokenId":
                return "Inactive", "the key no longer authenticates (confirmed by its own call)"
            return None, f"cannot confirm with ListAccessKeys: {self._scrub(aws_error_text(exc))}"
        except botocore.exceptions.BotoCoreError as exc:
            return None, f"cannot confirm with ListAccessKeys: {self._scrub(aws_error_text(exc))}"
        return (status, "") if status else (None, "key not listed by ListAccessKeys")

    def _scrub(self, text: str) -> str:
        if not self.leaked_secrets:
            return text
        hidden = [s for pair in self.leaked_secrets.values() for s in pair if s]
        return scrub(text, hidden)


@dataclass(frozen=True)
class NotLive:
    """One verdict on a key that is not live (a key found twice may have two)."""

    key_id: str
    verdict: str  # "status (why)"
    unknown: bool  # AWS gave no answer: whether the key is live could not be told


@dataclass(frozen=True)
class Plan:
    """What ``deactivate`` intends: the items, who acts for each, and the keys that were
    not live (so not planned), with why."""

    items: tuple[PlanItem, ...]
    operators: Mapping[str, Operator] = field(default_factory=dict)
    not_live: tuple[NotLive, ...] = ()

    @property
    def not_live_keys(self) -> int:
        return len({entry.key_id for entry in self.not_live})

    @property
    def unknown(self) -> int:
        """Keys (not verdicts) of which at least one verdict is unknown."""
        return len({entry.key_id for entry in self.not_live if entry.unknown})

    @property
    def every_key_unknown(self) -> bool:
        """True when keys were found and not one of them could be told live or not: nothing
        was decided (a key listed twice, with two verdicts, counts once)."""
        return not self.items and bool(self.unknown) and self.unknown == self.not_live_keys

    @property
    def refused(self) -> int:
        return sum(1 for item in self.items if item.action == Action.REFUSE)


def plan_deactivation(
    findings: Iterable[Finding],
    settings: AwsSettings,
    audit: AuditLog,
    *,
    use_leaked_key: bool = False,
    log: Log,
) -> tuple[Deactivator, Plan]:
    """The AWS response for deactivation, then the plan, and who carries it out.

    Liveness comes from each finding's ``verification`` when the report has one, else STS
    with the key's own secret when the report holds it, else (operator mode) ListAccessKeys
    with the operator's credentials. The last-used date is read first (operator mode).

    What the response says is held until the plan is made: when STS cannot be reached to
    identify who acts, that error alone is said (not also each key's failed exposure check).
    """
    held: list[str] = []
    try:
        return _plan(findings, settings, audit, use_leaked_key=use_leaked_key, log=held.append)
    except OperatorUnreachable:
        held.clear()
        raise
    finally:
        for line in held:
            log(line)


def _plan(
    findings: Iterable[Finding],
    settings: AwsSettings,
    audit: AuditLog,
    *,
    use_leaked_key: bool,
    log: Log,
) -> tuple[Deactivator, Plan]:
    from scanner.verify.engine import is_access_key_finding

    findings = tuple(findings)
    require_key_ids(findings, "deactivate", ", or use --scan PATH")
    operator_mode = not use_leaked_key
    response = respond(
        findings,
        replace(
            settings,
            verify=True,
            exposure=operator_mode,
            keep_verdicts=True,
            operator_lookup=operator_mode,
        ),
        log=log,
    )
    keys = [f for f in response.findings if is_access_key_finding(f)]
    leaked = None if operator_mode else leaked_secrets(keys)
    deactivator = Deactivator(settings.aws(), audit, leaked_secrets=leaked)
    live = response.live_key_ids()
    not_live = tuple(
        dict.fromkeys(
            NotLive(f.secret, _verdict_text(f), _unknown(f)) for f in keys if f.secret not in live
        )
    )
    if not live:
        return deactivator, Plan((), not_live=not_live)
    operator = deactivator.operator() if operator_mode else None
    policy = PlanPolicy(
        operator=operator,
        allow_accounts=settings.allow_accounts,
        deny_accounts=settings.deny_accounts,
        leaked_secrets=leaked,
    )
    items = build_plan(keys, policy)
    if operator is not None:
        items = deactivator.skip_inactive(items)
        operators = {item.key_id: operator for item in items}
    else:
        operators = deactivator.identify(items)
    return deactivator, Plan(tuple(items), operators, not_live)


def apply_plan(
    plan: Plan,
    deactivator: Deactivator,
    *,
    confirm: Callable[[PlanItem], bool],
    say: Callable[[str], None],
) -> tuple[int, int]:
    """Deactivate each planned key that ``confirm`` accepts; returns (refused, failed), the
    refusals of the plan included. ``say`` gets one line per key (and the undo commands)."""
    refused, failed = plan.refused, 0
    for item in plan.items:
        if item.action != Action.DEACTIVATE:
            continue
        op = plan.operators[item.key_id]
        if not confirm(item):
            refused += 1
            deactivator.record(
                item, "refused", "not confirmed", op, "not confirmed by the operator"
            )
            say(f"{item.key_id}: not confirmed; left unchanged")
            continue
        ok, note = deactivator.set_status(item, op, KeyStatus.INACTIVE)
        if ok:
            say(f"{item.key_id}: deactivated (ListAccessKeys: Inactive)")
            for command in undo_commands(item):
                say(f"  undo: {command}")
        else:
            failed += 1
            say(f"{item.key_id}: FAILED: {note}")
    return refused, failed


def plan_lines(plan: Plan, *, apply: bool, mode: Mode) -> list[str]:
    """The plan as a table (key, account, user, last used, action), the refusal reasons and
    the keys that are not live (with why)."""
    why_not = [f"  not live: {entry.key_id}: {entry.verdict}" for entry in plan.not_live]
    unknown = (
        f"; {plan.unknown} of them unknown: whether they are live could not be told (see why "
        "below); fix that and re-run"
        if plan.unknown
        else ""
    )
    if not plan.items:
        if plan.unknown:
            count = f"{plan.not_live_keys} key(s) not confirmed live{unknown}"
            return [f"Nothing to deactivate: no key confirmed live ({count}).", *why_not]
        count = f"{plan.not_live_keys} key(s) not live"
        return [f"Nothing to deactivate: no live AWS key ({count}).", *why_not]
    title = "Deactivation plan" + ("" if apply else " (dry run)")
    signer = "the leaked key itself" if mode == Mode.LEAKED_KEY else "operator credentials"
    rows = [("KEY", "ACCOUNT", "USER", "LAST USED", "ACTION")]
    for item in plan.items:
        action = _ACTION_LABELS[item.action]
        rows.append(
            (
                item.key_id,
                item.account or "?",
                item.user or "?",
                item.last_used or "unknown",
                action,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{title}, signed with {signer}:"]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths, strict=True)]
        lines.append("  ".join([*cells, row[4]]))
    for item in plan.items:
        if item.action == Action.REFUSE:
            lines.append(f"  refused {item.key_id}: {item.reason}")
        elif item.action == Action.ALREADY_INACTIVE:
            lines.append(f"  {item.key_id}: {item.reason}")
    if plan.not_live:
        lines.append(f"({plan.not_live_keys} AWS key(s) not live: not planned{unknown})")
    return [*lines, *why_not]


_ACTION_LABELS = {
    Action.DEACTIVATE: "deactivate",
    Action.REFUSE: "REFUSED",
    Action.ALREADY_INACTIVE: "already inactive",
}


def _unknown(finding: Finding) -> bool:
    return finding.verification is not None and finding.verification.status == UNKNOWN


def _verdict_text(finding: Finding) -> str:
    v = finding.verification
    if v is None:
        return "not checked"
    return f"{v.status} ({v.detail})" if v.detail else str(v.status)


def leaked_secrets(findings: Iterable[Finding]) -> dict[str, tuple[str, str | None]]:
    """key id -> (secret, token) that verified it, found by the verifying secret's hash."""
    out: dict[str, tuple[str, str | None]] = {}
    for f in findings:
        v = f.verification
        if v is None or v.status != LIVE or v.secret_fingerprint is None:
            continue
        secret = next((p.secret for p in f.paired if p.fingerprint == v.secret_fingerprint), None)
        token = next((p.secret for p in f.paired if p.kind == "session_token"), None)
        if secret is not None:
            out[f.secret] = (secret, token)
    return out


def reactivate(
    key_id: str,
    options: AwsOptions,
    audit: AuditLog,
    *,
    user: str | None = None,
    confirm: Callable[[str, str | None, Operator], bool] | None = None,
) -> tuple[Reactivation, str]:
    """Set a key back to Active (the undo of ``deactivate``), confirm, audit; a key
    ListAccessKeys already shows Active is left alone (audited ``refused``, ``already
    Active``), without asking."""
    import botocore.exceptions

    from scanner.aws_ids import is_sts_checkable_key_id

    deactivator = Deactivator(options, audit)  # operator mode
    op = deactivator.operator()
    account = None
    if is_sts_checkable_key_id(key_id):
        from scanner.rules.aws_account import account_id_from_key_id

        account = account_id_from_key_id(key_id)
    item = PlanItem(key_id, account or op.account, user, None, None, Action.DEACTIVATE)
    if item.account != op.account:  # decoded offline: IAM would only say "no such user"
        why = _other_account(item.account, op)
        deactivator.record(item, "refused", "other account", op, why)
        raise VerifyError(why)
    _, iam = deactivator.clients(key_id)
    if user is None:
        try:
            user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
        except botocore.exceptions.ClientError as exc:
            why = f"cannot find the owner of {key_id}: {aws_error_text(exc)}"
            deactivator.record(item, "failed", "lookup failed", op, why)
            raise VerifyError(why) from None
        item = replace(item, user=user)
    if deactivator.shown_status(iam, item)[0] == KeyStatus.ACTIVE:  # a re-run: nothing to do
        why = "already Active (iam:ListAccessKeys): nothing to do"
        deactivator.record(item, "refused", "already Active", op, why)
        return Reactivation.ALREADY_ACTIVE, why
    if confirm is not None and not confirm(key_id, user, op):
        raise VerifyError("reactivation not confirmed; nothing changed")
    ok, note = deactivator.set_status(item, op, KeyStatus.ACTIVE)
    return Reactivation.REACTIVATED if ok else Reactivation.FAILED, note
