"""AWS ARNs, parsed once: ``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``.

Every ARN keysweep reads (an STS answer, a report's ``verification.arn``, a policy ARN) goes
through :func:`parse_arn`; the principal a verification ARN names is read from the result:

- ``arn:aws:iam::123456789012:root``: the account's root user;
- ``arn:aws:iam::123456789012:user/path/to/name``: IAM user ``name``, path ``/path/to/``;
- ``arn:aws:sts::123456789012:assumed-role/ROLE/SESSION``: a session of role ``ROLE``;
- anything else (``federated-user/...``, a role's own ARN, a policy): an unknown principal.

The partition is ``aws``, ``aws-cn``, ``aws-us-gov`` or another ``aws-...`` one (the isolated
regions' ``aws-iso``, ``aws-iso-b``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.models import PrincipalKind

# The account is 12 digits, ``aws`` for AWS's own managed policies, or empty (S3 buckets).
_ARN = re.compile(
    r"arn:(aws(?:-[a-z]+)*):([a-z0-9-]{1,64}):([a-z0-9-]{0,64}):([0-9]{12}|aws|):(\S{1,2048})"
)
_ACCOUNT = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str  # "" when the ARN has none
    resource: str
    kind: PrincipalKind = PrincipalKind.UNKNOWN
    name: str | None = None  # the IAM user's or the role's name
    path: str | None = None  # the IAM user's path: "/" or "/path/to/"
    session: str | None = None  # the assumed role's session name

    @property
    def user(self) -> str | None:
        """The IAM user's name (without its path), None for any other principal."""
        return self.name if self.kind == PrincipalKind.IAM_USER else None

    @property
    def role(self) -> str | None:
        """The assumed role's name, None for any other principal."""
        return self.name if self.kind == PrincipalKind.ASSUMED_ROLE else None


def parse_arn(text: str | None) -> Arn | None:
    """``text`` as an ARN, or None when it is not one."""
    match = _ARN.fullmatch(text or "")
    if match is None:
        return None
    partition, service, region, account, resource = match.groups()
    kind, name, path, session = _principal(service, region, account, resource)
    return Arn(partition, service, region, account, resource, kind, name, path, session)


_Principal = tuple[PrincipalKind, str | None, str | None, str | None]  # kind, name, path, session


def _principal(service: str, region: str, account: str, resource: str) -> _Principal:
    unknown: _Principal = (PrincipalKind.UNKNOWN, None, None, None)
    if region or not _ACCOUNT.fullmatch(account):  # IAM and STS principals are global
        return unknown
    if service == "iam" and resource == "root":
        return PrincipalKind.ROOT, None, None, None
    if service == "iam" and resource.startswith("user/"):
        *folders, name = resource.removeprefix("user/").split("/")
        if name and all(folders):
            return PrincipalKind.IAM_USER, name, "/" + "".join(f + "/" for f in folders), None
    if service == "sts" and resource.startswith("assumed-role/"):
        parts = resource.removeprefix("assumed-role/").split("/")
        if len(parts) == 2 and all(parts):
            return PrincipalKind.ASSUMED_ROLE, parts[0], None, parts[1]
    return unknown


def iam_user_arn(account: str, user: str, partition: str = "aws") -> str:
    """The ARN of IAM user ``user`` (path unknown: ``/``) in ``account``."""
    return f"arn:{partition}:iam::{account}:user/{user}"
