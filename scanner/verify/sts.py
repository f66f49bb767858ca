"""One STS GetCallerIdentity call signed with exactly one found credential, classified.

GetCallerIdentity needs no permission, cannot be denied by policy, changes nothing, and is
logged in the **key owner's** CloudTrail (the owner can see that someone checked the key).
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.models import VerificationStatus
from scanner.verify import EXPIRED, INVALID, LIVE, UNKNOWN
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


@dataclass(frozen=True)
class StsOutcome:
    """What one call said. ``retryable`` marks throttling, 5xx and network trouble."""

    status: VerificationStatus
    account: str | None = None
    arn: str | None = None
    user_id: str | None = None
    detail: str = ""
    retryable: bool = False


def get_caller_identity(
    key_id: str, secret: str, session_token: str | None, options: AwsOptions
) -> StsOutcome:
    """Ask STS who (key_id, secret[, token]) is. Never raises; secrets never in ``detail``."""
    import botocore.exceptions

    hide = (secret, session_token)
    try:
        client = leaked_key_client("sts", key_id, secret, session_token, options)
        answer = client.get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        return _classify_client_error(exc, hide)
    except (
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
    ) as exc:
        return StsOutcome(UNKNOWN, detail=_clean(f"timeout: {exc}", hide), retryable=True)
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectionClosedError,
        botocore.exceptions.HTTPClientError,
    ) as exc:
        return StsOutcome(UNKNOWN, detail=_clean(f"network error: {exc}", hide), retryable=True)
    except (botocore.exceptions.BotoCoreError, ValueError) as exc:
        return StsOutcome(UNKNOWN, detail=_clean(f"{type(exc).__name__}: {exc}", hide))
    return StsOutcome(
        LIVE,
        account=answer.get("Account"),
        arn=answer.get("Arn"),
        user_id=answer.get("UserId"),
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
