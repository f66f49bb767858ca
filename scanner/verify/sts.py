"""One STS GetCallerIdentity call signed with exactly one found credential, classified.

GetCallerIdentity needs no permission, cannot be denied by policy, changes nothing, and is
logged in the **key owner's** CloudTrail (the owner can see that someone checked the key).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from scanner.models import VerificationStatus
from scanner.verify import EXPIRED, INVALID, LIVE, UNKNOWN
from scanner.verify.arn import parse_arn
from scanner.verify.scrub import one_line, scrub
from scanner.verify.session import AwsOptions, leaked_key_client

INVALID_CODES = frozenset(
    {"InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthFailure"}
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


_ACCOUNT = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class StsOutcome:
    """What one call said. ``retryable`` marks throttling, 5xx and network trouble;
    ``unreachable`` marks the endpoint not answering at all (refused, reset, timed out),
    which the engine's circuit breaker counts."""

    status: VerificationStatus
    account: str | None = None
    arn: str | None = None
    user_id: str | None = None
    detail: str = ""
    retryable: bool = False
    unreachable: bool = False


def get_caller_identity(
    key_id: str, secret: str, session_token: str | None, options: AwsOptions
) -> StsOutcome:
    """Ask STS who (key_id, secret[, token]) is, within ``options.total_timeout`` seconds in
    all (a socket read timeout alone lets an endpoint that drips one byte at a time hold the
    call forever). Never raises; secrets never in ``detail``."""
    box: list[StsOutcome] = []
    worker = threading.Thread(
        target=lambda: box.append(_get_caller_identity(key_id, secret, session_token, options)),
        name="sts-call",
        daemon=True,  # a call past its deadline is abandoned, never waited for
    )
    worker.start()
    worker.join(options.total_timeout)
    if box:
        return box[0]
    return StsOutcome(
        UNKNOWN,
        detail=f"timeout: no complete answer within {options.total_timeout:g}s",
        unreachable=True,
    )


def _get_caller_identity(
    key_id: str, secret: str, session_token: str | None, options: AwsOptions
) -> StsOutcome:
    import botocore.exceptions

    hide = (secret, session_token)
    status: list[int] = []  # the HTTP status, kept for bodies botocore cannot parse

    def note_status(response_dict: dict[str, object], **_: object) -> None:
        code = response_dict.get("status_code")
        if isinstance(code, int):
            status.append(code)

    try:
        client = leaked_key_client("sts", key_id, secret, session_token, options)
        client.meta.events.register("before-parse.sts.GetCallerIdentity", note_status)
        answer = client.get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        return _classify_client_error(exc, hide)
    except (
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
    ) as exc:
        return StsOutcome(
            UNKNOWN, detail=_clean(f"timeout: {exc}", hide), retryable=True, unreachable=True
        )
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectionClosedError,
        botocore.exceptions.HTTPClientError,
    ) as exc:
        return StsOutcome(
            UNKNOWN, detail=_clean(f"network error: {exc}", hide), retryable=True, unreachable=True
        )
    except Exception as exc:  # any failure: "unknown" for this key
        # Non-XML or truncated bodies end in botocore's ResponseParserError (not a
        # BotoCoreError), IncompleteRead, ...: the endpoint gave no usable answer. A 5xx is
        # an outage like any other (retried); anything else is not retried.
        server_error = bool(status) and status[-1] >= 500
        what = f"server error: HTTP {status[-1]}, " if server_error else ""
        return StsOutcome(
            UNKNOWN,
            detail=_clean(f"{what}unusable answer ({type(exc).__name__}): {exc}", hide),
            retryable=server_error,
        )
    return _identity(answer, hide)


def _identity(answer: object, hide: tuple[str | None, ...]) -> StsOutcome:
    """A 200 answer is ``live`` only when it names a 12-digit account and an ARN in it."""
    fields = answer if isinstance(answer, dict) else {}
    account, arn = fields.get("Account"), fields.get("Arn")
    who = parse_arn(arn) if isinstance(arn, str) else None
    if (
        not isinstance(account, str)
        or not _ACCOUNT.fullmatch(account)
        or who is None
        or who.service not in ("iam", "sts")
        or who.region
        or who.account != account
    ):
        return StsOutcome(
            UNKNOWN,
            detail=_clean(
                "unusable answer: HTTP 200 without a valid Account and Arn "
                f"(Account={str(account)[:40]!r}, Arn={str(arn)[:80]!r})",
                hide,
            ),
        )
    user_id = fields.get("UserId")
    return StsOutcome(
        LIVE,
        account=account,
        arn=arn,
        user_id=user_id if isinstance(user_id, str) else None,
        detail="GetCallerIdentity succeeded",
    )


def _classify_client_error(exc: object, hide: tuple[str | None, ...]) -> StsOutcome:
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {}) or {}
    code = str(error.get("Code", "") or "")
    message = str(error.get("Message", "") or "")
    http = int((response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode", 0) or 0)
    detail = _clean(f"{code or 'HTTP ' + str(http)}: {message}".rstrip(": "), hide)
    if code in INVALID_CODES:
        return StsOutcome(INVALID, detail=detail)
    if code in EXPIRED_CODES:
        return StsOutcome(EXPIRED, detail=detail)
    if code in THROTTLE_CODES or http == 429:
        return StsOutcome(UNKNOWN, detail=f"throttled: {detail}", retryable=True)
    if http >= 500:
        return StsOutcome(UNKNOWN, detail=f"server error: {detail}", retryable=True)
    return StsOutcome(UNKNOWN, detail=detail)


def _clean(text: str, hide: tuple[str | None, ...]) -> str:
    return one_line(scrub(text, hide))
