"""Exposure check: was a live key used, and was it used after it leaked?

Runs with the **operator's** credentials (``--aws-profile`` or the environment), never with the
leaked key: ``iam:GetAccessKeyLastUsed`` is logged in the operator's CloudTrail, and needs the
operator to be in the key's account with that permission. AWS reports the last use at hour
granularity and only since April 2015.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from scanner.models import Finding
from scanner.verify import LIVE
from scanner.verify.scrub import one_line
from scanner.verify.session import AwsOptions, operator_client

Log = Callable[[str], None]


def parse_time(value: str) -> datetime | None:
    """ISO-8601 (git or AWS) to an aware datetime; None when it cannot be read."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def used_after_leak(last_used: str | None, leaked: str | None) -> bool | None:
    """True/False when both dates are known; never-used keys were not used after the leak."""
    if leaked is None:
        return None
    leak_time = parse_time(leaked)
    if leak_time is None:
        return None
    if last_used is None:
        return False
    used_time = parse_time(last_used)
    return None if used_time is None else used_time > leak_time


LastUsed = dict[str, "dict[str, Any] | str"]  # key id -> AccessKeyLastUsed + UserName, or error


def last_used_snapshot(
    key_ids: Iterable[str], options: AwsOptions, *, client: Any = None
) -> LastUsed:
    """GetAccessKeyLastUsed for each key id, taken BEFORE verification.

    Verifying a key with STS is itself a use of the key (AWS records ``sts`` as its last
    service), so reading "last used" afterwards would always say "just now". keysweep reads it
    first; keys that turn out not to be live are simply not reported.
    """
    ids = sorted(set(key_ids))
    if not ids:
        return {}
    if client is None:
        client = operator_client("iam", options)
    return {key_id: _last_used(client, key_id) for key_id in ids}


def check_exposure(
    findings: Iterable[Finding],
    options: AwsOptions,
    *,
    client: Any = None,
    snapshot: LastUsed | None = None,
    log: Log | None = None,
) -> tuple[Finding, ...]:
    """Add last-used date/region/service and ``used_after_leak`` to live key findings.

    ``snapshot`` (from :func:`last_used_snapshot`, taken before verification) is used when it
    has the key; otherwise IAM is asked now. A last use by ``sts`` may be a verification call
    (keysweep's own, now or in an earlier run, or another scanner's), and ``detail`` says so:
    ``used_after_leak`` alone would read it as the attacker's.
    """
    items = list(findings)
    live = [f for f in items if f.verification is not None and f.verification.status == LIVE]
    if not live:
        return tuple(items)
    answers: LastUsed = dict(snapshot or {})
    missing = sorted({f.secret for f in live} - set(answers))
    if missing:
        if client is None:
            client = operator_client("iam", options)
        for key_id in missing:
            answers[key_id] = _last_used(client, key_id)
    out = []
    for finding in items:
        verdict = finding.verification
        if verdict is not None and verdict.status == LIVE:
            answer = answers[finding.secret]
            if isinstance(answer, str):
                verdict = dataclasses.replace(
                    verdict, detail=f"{verdict.detail}; exposure check failed: {answer}"
                )
                if log:
                    log(f"exposure: {finding.redacted}: {answer}")
            else:
                date = answer.get("LastUsedDate")
                date_s = date.isoformat() if isinstance(date, datetime) else None
                service = _real(answer.get("ServiceName"))
                leaked = finding.commit.date if finding.commit else None
                detail = verdict.detail
                if service == "sts":  # keysweep's check of an earlier run, another scanner's
                    detail += "; last use (sts) may be a verification call"
                verdict = dataclasses.replace(
                    verdict,
                    detail=detail,
                    last_used_date=date_s,
                    last_used_region=_real(answer.get("Region")),
                    last_used_service=service,
                    used_after_leak=used_after_leak(date_s, leaked),
                )
            finding = dataclasses.replace(finding, verification=verdict)
        out.append(finding)
    return tuple(out)


def _real(value: object) -> str | None:
    return None if value in (None, "", "N/A") else str(value)


def _last_used(client: Any, key_id: str) -> dict[str, Any] | str:
    import botocore.exceptions

    try:
        answer = client.get_access_key_last_used(AccessKeyId=key_id)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        return one_line(f"{error.get('Code', 'error')}: {error.get('Message', '')}")
    except botocore.exceptions.BotoCoreError as exc:
        return one_line(f"{type(exc).__name__}: {exc}")
    last: dict[str, Any] = dict(answer.get("AccessKeyLastUsed", {}) or {})
    if answer.get("UserName"):  # the key's owner: the operator lookup needs it
        last["UserName"] = str(answer["UserName"])
    return last
