"""What the operator's own credentials tell about a key: who acts, who owns it, is it active.

Used when a report holds only key IDs (the default, redacted report): deactivation needs no
leaked secret. Every call here is signed with the operator's credentials (``--aws-profile`` or
the AWS_* environment) and logged in the operator's CloudTrail:

- ``sts:GetCallerIdentity``: who the operator is (and so which account they can act in);
- ``iam:GetAccessKeyLastUsed``: the key's user (and its last use: see ``exposure``);
- ``iam:ListAccessKeys``: the key's status, Active or Inactive.

boto3/botocore are imported inside the functions that call AWS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scanner.errors import OperatorUnreachable, VerifyError
from scanner.models import Verification
from scanner.verify import INVALID, LIVE, UNKNOWN
from scanner.verify.arn import iam_user_arn, parse_arn
from scanner.verify.scrub import one_line


class Mode(StrEnum):
    """Whose credentials sign the IAM calls."""

    OPERATOR = "operator"
    LEAKED_KEY = "leaked-key"


@dataclass(frozen=True)
class Operator:
    arn: str
    account: str
    mode: Mode
    key_id: str | None = None  # the long-term key the operator signs with, when known


def operator_identity(client: Any, mode: Mode) -> Operator:
    """sts:GetCallerIdentity with ``client``; VerifyError (one line) when it fails."""
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
        raise OperatorUnreachable(f"cannot reach STS to identify the operator: {why}") from None
    return Operator(arn=str(answer["Arn"]), account=str(answer["Account"]), mode=mode)


def listed_status(iam: Any, user: str | None, key_id: str) -> str | None:
    """The key's status as iam:ListAccessKeys shows it (``Active``/``Inactive``), None when
    the user does not list it. Raises botocore errors for the caller to classify."""
    pages = iam.get_paginator("list_access_keys").paginate(UserName=user)
    for page in pages:
        for meta in page.get("AccessKeyMetadata", []):
            if meta.get("AccessKeyId") == key_id:
                return str(meta.get("Status"))
    return None


def aws_error_text(exc: Exception) -> str:
    """``Code: Message`` of a botocore error (or its type and text), on one line."""
    response = getattr(exc, "response", None)
    if response:
        error = response.get("Error", {})
        return one_line(f"{error.get('Code', 'error')}: {error.get('Message', '')}")
    return one_line(f"{type(exc).__name__}: {exc}")


def _user_arn(iam: Any, user: str) -> tuple[str | None, str]:
    """The user's ARN as IAM holds it, its path included (``user/team/name``): the ARN built
    from the name alone names another principal when the user has a path. None and why when
    iam:GetUser fails (the built one stands in, and the verdict says so)."""
    import botocore.exceptions

    try:
        arn = iam.get_user(UserName=user)["User"]["Arn"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return None, aws_error_text(exc)
    except KeyError:
        return None, "no Arn in the answer"
    if isinstance(arn, str) and parse_arn(arn) is not None:
        return arn, ""
    return None, "not an IAM ARN in the answer"


def status_verdicts(
    key_ids: Iterable[str],
    last_used: Mapping[str, dict[str, Any] | str],
    iam: Any,
    operator: Operator,
) -> dict[str, Verification]:
    """Liveness of each key from the operator's side: its user (from the GetAccessKeyLastUsed
    answers in ``last_used``) and its ListAccessKeys status. ``live`` means Active in the
    operator's account; a key the operator cannot see is ``unknown``, never ``invalid``."""
    import botocore.exceptions

    who = parse_arn(operator.arn)  # the key is in the operator's account, so in its partition
    partition = who.partition if who else "aws"
    out: dict[str, Verification] = {}
    for key_id in sorted(set(key_ids)):
        answer = last_used.get(key_id, "not looked up")
        user = answer.get("UserName") if isinstance(answer, dict) else None
        if not user:
            why = answer if isinstance(answer, str) else "no user returned"
            out[key_id] = Verification(
                UNKNOWN,
                detail=f"not found with operator credentials in account {operator.account} "
                f"(GetAccessKeyLastUsed: {why})",
            )
            continue
        try:
            status = listed_status(iam, str(user), key_id)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            out[key_id] = Verification(
                UNKNOWN, detail=f"ListAccessKeys failed: {aws_error_text(exc)}"
            )
            continue
        if status is None:
            out[key_id] = Verification(UNKNOWN, detail=f"not listed for user {user}")
            continue
        arn, why = _user_arn(iam, str(user))
        built = "" if arn else f"; ARN built from the user name, path unknown (iam:GetUser: {why})"
        arn = arn or iam_user_arn(operator.account, str(user), partition)
        verdict, detail = (LIVE, "Active (iam:ListAccessKeys)")
        if status != "Active":
            verdict, detail = (INVALID, f"{status} (ListAccessKeys)")
        out[key_id] = Verification(
            verdict, account=operator.account, arn=arn, detail=detail + built
        )
    return out
