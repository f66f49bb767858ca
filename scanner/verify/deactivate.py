"""Safe deactivation of live leaked keys: plan, check the operator, apply, confirm, audit.

Only ``live`` long-term ``AKIA`` keys of IAM users are ever touched, and only with
``iam:UpdateAccessKey Status=Inactive`` — reversible, never a delete. Root keys and temporary
``ASIA`` keys are refused with guidance. Every decision goes to the audit log (see ``audit``).

CloudTrail: GetCallerIdentity, UpdateAccessKey and ListAccessKeys made with the operator's
credentials are logged in the operator's account (which is the key's account: we refuse
otherwise). In ``--use-leaked-key`` mode they are made by, and logged against, the leaked key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from scanner.errors import VerifyError
from scanner.models import Finding
from scanner.verify import LIVE
from scanner.verify.audit import AuditLog
from scanner.verify.scrub import one_line, scrub
from scanner.verify.session import AwsOptions, leaked_key_client, operator_client

Log = Callable[[str], None]

DEACTIVATE = "deactivate"
REFUSE = "refuse"


@dataclass(frozen=True)
class PlanItem:
    """One key and what we intend to do with it. Holds no secret."""

    key_id: str
    account: str | None
    user: str | None
    arn: str | None
    last_used: str | None
    action: str  # deactivate | refuse
    reason: str = ""
    fingerprint: str | None = None  # of the verifying secret, to find it for --use-leaked-key


@dataclass(frozen=True)
class Operator:
    arn: str
    account: str
    mode: str  # operator | leaked-key


def user_from_arn(arn: str | None) -> str | None:
    """``arn:aws:iam::123456789012:user/path/name`` -> ``name``; None for other principals."""
    if not arn:
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("user/"):
        return None
    return parts[5].rsplit("/", 1)[-1] or None


def role_from_arn(arn: str | None) -> str | None:
    """``arn:aws:sts::123:assumed-role/ROLE/session`` -> ``ROLE``."""
    if not arn:
        return None
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        pieces = parts[5].split("/")
        return pieces[1] if len(pieces) > 1 else None
    return None


def asia_guidance(arn: str | None, now: datetime | None = None) -> str:
    """How to cut off leaked temporary credentials: deny sessions issued before now."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    role = role_from_arn(arn) or "ROLE_NAME"
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


def build_plan(findings: Iterable[Finding]) -> list[PlanItem]:
    """One item per distinct live key id; non-live keys are left out (see ``not_planned``)."""
    plan: dict[str, PlanItem] = {}
    for finding in findings:
        verdict = finding.verification
        if verdict is None or verdict.status != LIVE or finding.secret in plan:
            continue
        key_id = finding.secret
        user = user_from_arn(verdict.arn)

        def item(action: str, reason: str = "") -> PlanItem:
            return PlanItem(
                key_id=key_id,  # noqa: B023 - used immediately
                account=verdict.account or finding.account_id,  # noqa: B023
                user=user,  # noqa: B023
                arn=verdict.arn,  # noqa: B023
                last_used=_last_used(finding),  # noqa: B023
                action=action,
                reason=reason,
                fingerprint=verdict.secret_fingerprint,  # noqa: B023
            )

        if (verdict.arn or "").endswith(":root"):
            plan[key_id] = item(REFUSE, ROOT_GUIDANCE)
        elif key_id.startswith("ASIA"):
            plan[key_id] = item(REFUSE, asia_guidance(verdict.arn))
        elif not key_id.startswith("AKIA"):
            plan[key_id] = item(REFUSE, "not a long-term AKIA key")
        elif user is None:
            plan[key_id] = item(REFUSE, f"cannot tell the IAM user from ARN {verdict.arn!r}")
        else:
            plan[key_id] = item(DEACTIVATE)
    return list(plan.values())


def _last_used(finding: Finding) -> str | None:
    verdict = finding.verification
    if verdict is None or verdict.last_used_date is None:
        return None
    where = "/".join(x for x in (verdict.last_used_service, verdict.last_used_region) if x)
    return f"{verdict.last_used_date} ({where})" if where else verdict.last_used_date


def operator_identity(client: Any, mode: str) -> Operator:
    import botocore.exceptions

    try:
        answer = client.get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise VerifyError(
            f"operator credentials were rejected by STS: {error.get('Code', 'error')}"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        why = one_line(str(exc))
        raise VerifyError(f"cannot reach STS to identify the operator: {why}") from None
    return Operator(arn=str(answer["Arn"]), account=str(answer["Account"]), mode=mode)


def refuse_other_accounts(plan: list[PlanItem], operator: Operator) -> list[PlanItem]:
    """Refuse every key that is not in the operator's account."""
    out = []
    for item in plan:
        if item.action == DEACTIVATE and item.account != operator.account:
            item = replace(
                item,
                action=REFUSE,
                reason=(
                    f"key belongs to account {item.account} but the operator "
                    f"({operator.arn}) is in account {operator.account}; use --aws-profile "
                    f"with credentials in account {item.account}"
                ),
            )
        out.append(item)
    return out


def undo_commands(item: PlanItem) -> list[str]:
    return [
        f"keysweep reactivate {item.key_id}",
        f"aws iam update-access-key --user-name {item.user} --access-key-id {item.key_id} "
        "--status Active",
    ]


class Deactivator:
    """Runs the plan with one IAM client (operator's, or the leaked key's own)."""

    def __init__(
        self,
        options: AwsOptions,
        audit: AuditLog,
        *,
        leaked_secrets: dict[str, tuple[str, str | None]] | None = None,
        log: Log | None = None,
    ) -> None:
        self.options = options
        self.audit = audit
        self.leaked_secrets = leaked_secrets  # key id -> (secret, token): --use-leaked-key only
        self._log = log

    @property
    def mode(self) -> str:
        return "leaked-key" if self.leaked_secrets is not None else "operator"

    def _clients(self, item: PlanItem) -> tuple[Any, Any]:
        if self.leaked_secrets is None:
            return operator_client("sts", self.options), operator_client("iam", self.options)
        secret, token = self.leaked_secrets[item.key_id]
        return (
            leaked_key_client("sts", item.key_id, secret, token, self.options),
            leaked_key_client("iam", item.key_id, secret, token, self.options),
        )

    def identify(self, plan: list[PlanItem]) -> dict[str, Operator]:
        """Who acts for each key: one operator identity, or each leaked key's own."""
        if self.leaked_secrets is None:
            op = operator_identity(operator_client("sts", self.options), self.mode)
            return {item.key_id: op for item in plan}
        out = {}
        for item in plan:
            if item.action == DEACTIVATE and item.key_id in self.leaked_secrets:
                sts, _ = self._clients(item)
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

    def apply(self, item: PlanItem, op: Operator) -> tuple[bool, str]:
        """UpdateAccessKey Status=Inactive, then confirm with ListAccessKeys. Audited."""
        import botocore.exceptions

        _, iam = self._clients(item)
        try:
            iam.update_access_key(UserName=item.user, AccessKeyId=item.key_id, Status="Inactive")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            why = self._error_text(exc)
            if self.mode == "leaked-key":
                why += (
                    " (a leaked key usually lacks iam:UpdateAccessKey on itself, and AWS "
                    "attaches AWSCompromisedKeyQuarantine to keys it finds exposed, which "
                    "denies it; use operator credentials instead)"
                )
            self.record(item, "failed", "UpdateAccessKey failed", op, why)
            return False, why
        status, note = self._confirm(iam, item)
        ok = status == "Inactive"
        self.record(item, "applied" if ok else "failed", status or "unconfirmed", op, note)
        return ok, note or f"ListAccessKeys shows {status}"

    def _confirm(self, iam: Any, item: PlanItem) -> tuple[str | None, str]:
        import botocore.exceptions

        try:
            pages = iam.get_paginator("list_access_keys").paginate(UserName=item.user)
            for page in pages:
                for meta in page.get("AccessKeyMetadata", []):
                    if meta.get("AccessKeyId") == item.key_id:
                        return str(meta.get("Status")), ""
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if self.mode == "leaked-key" and code == "InvalidClientTokenId":
                return "Inactive", "the key no longer authenticates (confirmed by its own call)"
            return None, f"cannot confirm with ListAccessKeys: {self._error_text(exc)}"
        except botocore.exceptions.BotoCoreError as exc:
            return None, f"cannot confirm with ListAccessKeys: {self._error_text(exc)}"
        return None, "key not listed by ListAccessKeys"

    def _error_text(self, exc: Exception) -> str:
        response = getattr(exc, "response", None)
        if response:
            error = response.get("Error", {})
            text = f"{error.get('Code', 'error')}: {error.get('Message', '')}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        return one_line(self._scrub(text))

    def _scrub(self, text: str) -> str:
        if not self.leaked_secrets:
            return text
        hidden = [s for pair in self.leaked_secrets.values() for s in pair]
        return scrub(text, hidden)


def reactivate(
    key_id: str,
    options: AwsOptions,
    audit: AuditLog,
    *,
    user: str | None = None,
    confirm: Callable[[str, str | None, Operator], bool] | None = None,
) -> tuple[bool, str]:
    """Set a key back to Active (the undo of ``deactivate``), confirm, audit."""
    import botocore.exceptions

    sts = operator_client("sts", options)
    iam = operator_client("iam", options)
    op = operator_identity(sts, "operator")
    account = None
    from scanner.verify.canary import is_aws_key_id

    if is_aws_key_id(key_id):
        from scanner.detect.aws_account import account_id_from_key_id

        account = account_id_from_key_id(key_id)
    try:
        if user is None:
            user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        why = f"cannot find the owner of {key_id}: {error.get('Code')}: {error.get('Message', '')}"
        audit.record(
            action="failed",
            result="lookup failed",
            key_id=key_id,
            account=account,
            user=None,
            operator_arn=op.arn,
            detail=one_line(why),
        )
        raise VerifyError(one_line(why)) from None
    if confirm is not None and not confirm(key_id, user, op):
        raise VerifyError("reactivation not confirmed; nothing changed")
    item = PlanItem(key_id, account or op.account, user, None, None, DEACTIVATE)
    deactivator = Deactivator(options, audit)  # operator mode: its error texts and audit records
    try:
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Active")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        why = deactivator._error_text(exc)
        deactivator.record(item, "failed", "UpdateAccessKey failed", op, why)
        return False, why
    status, note = deactivator._confirm(iam, item)
    ok = status == "Active"
    deactivator.record(item, "reactivated" if ok else "failed", status or "unconfirmed", op, note)
    return ok, note or f"ListAccessKeys shows {status}"
