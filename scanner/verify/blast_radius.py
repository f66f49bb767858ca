"""Blast radius: what a live AWS key can do, read with the operator's credentials.

For each live key (``verification.status == live`` with an ARN) keysweep asks IAM, signed
with the operator's credentials (``--aws-profile`` or the AWS_* environment), never with the
leaked key. Read-only calls only (each is listed with its CloudTrail footprint in
docs/aws-response.md, "Blast radius"):

- root key (``arn:aws:iam::ACCOUNT:root``): no policy can limit it; iam:GetAccountSummary
  says whether the account has MFA;
- IAM user: iam:ListGroupsForUser, iam:ListAttachedUserPolicies, iam:ListUserPolicies +
  iam:GetUserPolicy, per group iam:ListAttachedGroupPolicies, iam:ListGroupPolicies +
  iam:GetGroupPolicy, per managed policy iam:GetPolicy + iam:GetPolicyVersion,
  iam:SimulatePrincipalPolicy for :data:`HIGH_RISK_ACTIONS`, iam:ListMFADevices,
  iam:ListAccessKeys;
- assumed role: iam:GetRole, iam:ListAttachedRolePolicies, iam:ListRolePolicies +
  iam:GetRolePolicy, iam:SimulatePrincipalPolicy.

A failed call (AccessDenied, NotImplemented, a timeout) is recorded in ``BlastRadius.errors``
and the rest goes on: a partial answer beats none in an incident. A root key or an
admin-equivalent key raises the finding's severity to critical.

boto3/botocore are imported inside the functions that call AWS.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from scanner.models import BlastRadius, Finding, PrincipalKind, Severity
from scanner.verify import LIVE
from scanner.verify.arn import parse_arn
from scanner.verify.operator import Operator, aws_error_text

Log = Callable[[str], None]

ADMIN_ACTIONS = frozenset({"*", "*:*", "iam:*"})

# Simulated for each principal: taking over the account, reading its data, spending its money.
HIGH_RISK_ACTIONS = (
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:PassRole",
    "sts:AssumeRole",
    "s3:GetObject",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "ec2:RunInstances",
)

ROOT_GRANT = "root: every action on every resource; no policy can limit it"

# AWS's own managed policy (in any partition); a customer policy of that name proves nothing.
_AWS_ADMIN_POLICY = ("iam", "", "aws", "policy/AdministratorAccess")


def _is_aws_admin_policy(arn: str) -> bool:
    policy = parse_arn(arn)
    return policy is not None and (
        (policy.service, policy.region, policy.account, policy.resource) == _AWS_ADMIN_POLICY
    )


# -- policy documents -------------------------------------------------------------------------
def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return list(value)
    return [] if value is None else [value]


def _document(value: object) -> Mapping[str, Any] | None:
    """A policy document as IAM returns it: a parsed mapping, JSON, or URL-encoded JSON."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        return None
    for text in (value, unquote(value)):
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        return parsed if isinstance(parsed, Mapping) else None
    return None


def admin_grants(policy: str, document: object) -> list[str]:
    """``POLICY: ACTION on *`` for each Allow statement granting ``*``, ``*:*`` or ``iam:*``
    on every resource (``*``). NotAction/NotResource statements are not counted."""
    doc = _document(document)
    if doc is None:
        return []
    out: list[str] = []
    for statement in _as_list(doc.get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        if "*" not in _as_list(statement.get("Resource")):
            continue
        actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
        for action in actions:
            if action.lower() in ADMIN_ACTIONS:
                condition = " (with a condition)" if statement.get("Condition") else ""
                out.append(f"{policy}: {action} on *{condition}")
    return out


# -- asking IAM -------------------------------------------------------------------------------
@dataclass
class _Calls:
    """IAM calls whose failures are recorded, not raised."""

    iam: Any
    errors: list[str] = field(default_factory=list)

    def call(self, action: str, **params: Any) -> dict[str, Any] | None:
        import botocore.exceptions
        import botocore.parsers
        from botocore import xform_name

        try:
            answer: dict[str, Any] = getattr(self.iam, xform_name(action))(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            self.errors.append(f"iam:{action}: {aws_error_text(exc)}")
            return None
        except botocore.parsers.ResponseParserError:  # an HTML error page: not implemented
            self.errors.append(f"iam:{action}: the endpoint gave no IAM answer (not implemented?)")
            return None
        return answer

    def items(self, action: str, key: str, **params: Any) -> list[Any] | None:
        """Every item of a listing (following ``Marker``), None when a call failed."""
        out: list[Any] = []
        while True:
            answer = self.call(action, **params)
            if answer is None:
                return None
            out.extend(answer.get(key, []) or [])
            if not answer.get("IsTruncated") or not answer.get("Marker"):
                return out
            params = {**params, "Marker": answer["Marker"]}


@dataclass
class _Policies:
    attached: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)


def _read_policies(calls: _Calls, kind: str, name: str, policies: _Policies, via: str) -> None:
    """Attached and inline policies of one user, group or role (``kind``), evaluated."""
    attached = calls.items(
        f"ListAttached{kind}Policies", "AttachedPolicies", **{f"{kind}Name": name}
    )
    for item in attached or []:
        label = f"{item.get('PolicyName')}{via}"
        policies.attached.append(label)
        arn = str(item.get("PolicyArn", ""))
        if _is_aws_admin_policy(arn):
            policies.grants.append(f"AWS managed AdministratorAccess{via}")
            continue
        policies.grants.extend(admin_grants(label, _managed_document(calls, arn)))
    for policy_name in (
        calls.items(f"List{kind}Policies", "PolicyNames", **{f"{kind}Name": name}) or []
    ):
        label = f"{policy_name}{via}"
        policies.inline.append(label)
        answer = calls.call(f"Get{kind}Policy", **{f"{kind}Name": name, "PolicyName": policy_name})
        if answer is not None:
            policies.grants.extend(admin_grants(label, answer.get("PolicyDocument")))


def _admin(policies: _Policies, *, read_all: bool) -> bool | None:
    """Admin-equivalent when a grant was found; not, only when every policy was read."""
    if policies.grants:
        return True
    return False if read_all else None


def _managed_document(calls: _Calls, arn: str) -> object:
    policy = calls.call("GetPolicy", PolicyArn=arn)
    version = (policy or {}).get("Policy", {}).get("DefaultVersionId")
    if not version:
        return None
    answer = calls.call("GetPolicyVersion", PolicyArn=arn, VersionId=version)
    return (answer or {}).get("PolicyVersion", {}).get("Document")


def _simulate(calls: _Calls, arn: str) -> tuple[str, ...] | None:
    answer = calls.call(
        "SimulatePrincipalPolicy", PolicySourceArn=arn, ActionNames=list(HIGH_RISK_ACTIONS)
    )
    if answer is None:
        return None
    results = answer.get("EvaluationResults", []) or []
    return tuple(
        str(r.get("EvalActionName")) for r in results if r.get("EvalDecision") == "allowed"
    )


def radius_of(key_id: str, arn: str | None, iam: Any) -> BlastRadius:
    """The blast radius of one live key whose verification ARN is ``arn``."""
    who = parse_arn(arn)
    kind = who.kind if who else PrincipalKind.UNKNOWN
    calls = _Calls(iam)
    if kind == PrincipalKind.ROOT:
        summary = calls.call("GetAccountSummary")
        mfa = (summary or {}).get("SummaryMap", {}).get("AccountMFAEnabled")
        return BlastRadius(
            principal=kind,
            arn=arn,
            admin_equivalent=True,
            grants=(ROOT_GRANT,),
            mfa_enabled=None if mfa is None else bool(mfa),
            errors=tuple(calls.errors),
        )
    name = who.name if who else None
    if kind == PrincipalKind.UNKNOWN or name is None:
        why = f"{arn or 'no ARN'}: not a root, IAM user or assumed-role ARN; nothing asked"
        return BlastRadius(principal=PrincipalKind.UNKNOWN, arn=arn, errors=(why,))
    policies = _Policies()
    if kind == PrincipalKind.IAM_USER:
        groups = [
            str(g.get("GroupName"))
            for g in calls.items("ListGroupsForUser", "Groups", UserName=name) or []
        ]
        _read_policies(calls, "User", name, policies, "")
        for group in groups:
            _read_policies(calls, "Group", group, policies, f" (group {group})")
        admin = _admin(policies, read_all=not calls.errors)
        allowed = _simulate(calls, str(arn))
        devices = calls.items("ListMFADevices", "MFADevices", UserName=name)
        keys = calls.items("ListAccessKeys", "AccessKeyMetadata", UserName=name)
        others = None
        if keys is not None:
            others = tuple(
                str(k.get("AccessKeyId"))
                for k in keys
                if k.get("Status") == "Active" and k.get("AccessKeyId") != key_id
            )
        return BlastRadius(
            principal=kind,
            arn=arn,
            user=name,
            groups=tuple(groups),
            attached_policies=tuple(policies.attached),
            inline_policies=tuple(policies.inline),
            admin_equivalent=admin,
            grants=tuple(policies.grants),
            high_risk_actions_allowed=allowed,
            mfa_enabled=None if devices is None else bool(devices),
            other_active_keys=others,
            errors=tuple(calls.errors),
        )
    role = calls.call("GetRole", RoleName=name)
    before = len(calls.errors)
    _read_policies(calls, "Role", name, policies, f" (role {name})")
    admin = _admin(policies, read_all=len(calls.errors) == before)
    role_arn = (role or {}).get("Role", {}).get("Arn")
    allowed = _simulate(calls, str(role_arn)) if role_arn else None
    return BlastRadius(
        principal=kind,
        arn=arn,
        attached_policies=tuple(policies.attached),
        inline_policies=tuple(policies.inline),
        admin_equivalent=admin,
        grants=tuple(policies.grants),
        high_risk_actions_allowed=allowed,
        errors=tuple(calls.errors),
    )


def unasked(arn: str | None, why: str) -> BlastRadius:
    """The blast radius of a key IAM was not asked about: every field unknown but what the
    ARN itself tells (a root key is admin-equivalent), and ``why`` as its one error."""
    who = parse_arn(arn)
    kind = who.kind if who else PrincipalKind.UNKNOWN
    root = kind == PrincipalKind.ROOT
    return BlastRadius(
        principal=kind,
        arn=arn,
        admin_equivalent=True if root else None,
        grants=(ROOT_GRANT,) if root else (),
        errors=(why,),
    )


def with_blast_radius(
    findings: Iterable[Finding], iam: Any, operator: Operator, *, log: Log | None = None
) -> tuple[Finding, ...]:
    """Every finding, in order; each live key's with its blast radius (asked once per key).
    A root or admin-equivalent key's severity becomes critical."""

    def radius(key_id: str, arn: str | None, account: str | None) -> BlastRadius:
        if account and account != operator.account:
            return unasked(
                arn,
                f"the key is in account {account}, the operator in {operator.account}: "
                "IAM answers only about the operator's own account",
            )
        return radius_of(key_id, arn, iam)

    return _with_radii(findings, radius, log)


def without_operator(
    findings: Iterable[Finding], why: str, *, log: Log | None = None
) -> tuple[Finding, ...]:
    """Every finding, in order; each live key's blast radius unknown, with ``why`` as its one
    error: AWS could not be reached to identify the operator, so nothing was asked."""
    return _with_radii(findings, lambda key_id, arn, account: unasked(arn, why), log)


def _with_radii(
    findings: Iterable[Finding],
    radius: Callable[[str, str | None, str | None], BlastRadius],
    log: Log | None,
) -> tuple[Finding, ...]:
    """Each live key's finding with ``radius(key_id, arn, account)``, asked once per key."""
    items = list(findings)
    radii: dict[str, BlastRadius] = {}
    for f in items:
        v = f.verification
        if v is None or v.status != LIVE or f.secret in radii:
            continue
        who = parse_arn(v.arn)
        radii[f.secret] = radius(f.secret, v.arn, v.account or (who.account if who else None))
        if log is not None:
            for error in radii[f.secret].errors:
                log(f"blast radius of {f.secret}: {error}")
    out = []
    for f in items:
        found = radii.get(f.secret) if f.verification and f.verification.status == LIVE else None
        if found is not None:
            severity = Severity.CRITICAL if found.raises_severity else f.severity
            f = dataclasses.replace(f, blast_radius=found, severity=severity)
        out.append(f)
    return tuple(out)
