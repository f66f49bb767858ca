"""Opt-in AWS response: offline canary marking, STS verification, exposure check, deactivation.

The whole AWS response lives here, in one direction:

    findings -> ``pipeline.respond`` (canaries, STS or the operator's ListAccessKeys, exposure)
             -> ``deactivate.build_plan`` (every refusal rule) -> ``deactivate.set_status``

The CLI only parses, prints, confirms and maps exit codes.

Nothing in this package imports boto3 at module level: ``canary`` is pure Python and runs on
every scan; ``sts``, ``exposure`` and ``deactivate`` import boto3/botocore inside the functions
that talk to AWS, so ``keysweep staged`` never pays for it.

Verification states (``Verification.status``):

- ``live``: STS GetCallerIdentity accepted the credentials (account, ARN and user id filled in)
- ``invalid``: AWS rejected them (InvalidClientTokenId, SignatureDoesNotMatch)
- ``expired``: temporary credentials that have expired (ExpiredToken)
- ``unknown``: no clear answer (timeout, throttling, 5xx, network error, a body that is not STS
  XML, verification stopped early by the circuit breaker, or a ``200`` for another account than
  the key ID encodes: ``account mismatch: ...``) — never reported as invalid
- ``canary``: the key belongs to a known honeytoken account and was never sent to AWS
- ``skipped``: the account is excluded by the allow/deny lists from the configuration
- ``not_checked``: nothing to check with (no secret nearby, no session token for ASIA, not a
  key that STS can check)
"""

from __future__ import annotations

from scanner.models import VerificationStatus

LIVE = VerificationStatus.LIVE
INVALID = VerificationStatus.INVALID
EXPIRED = VerificationStatus.EXPIRED
UNKNOWN = VerificationStatus.UNKNOWN
CANARY = VerificationStatus.CANARY
SKIPPED = VerificationStatus.SKIPPED
NOT_CHECKED = VerificationStatus.NOT_CHECKED
