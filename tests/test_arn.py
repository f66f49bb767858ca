"""ARNs parsed once (scanner.verify.arn): every principal kind, partition, path and bad input."""

from __future__ import annotations

import pytest

from scanner.models import PrincipalKind
from scanner.verify.arn import Arn, iam_user_arn, parse_arn

ACCOUNT = "123456789012"
ROOT, USER, ROLE, UNKNOWN = (
    PrincipalKind.ROOT,
    PrincipalKind.IAM_USER,
    PrincipalKind.ASSUMED_ROLE,
    PrincipalKind.UNKNOWN,
)


@pytest.mark.parametrize(
    ("text", "kind", "name", "path", "session"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", ROOT, None, None, None),
        (f"arn:aws:iam::{ACCOUNT}:user/ci", USER, "ci", "/", None),
        (f"arn:aws:iam::{ACCOUNT}:user/team/deploy", USER, "deploy", "/team/", None),
        (f"arn:aws:iam::{ACCOUNT}:user/a/b/c/bot@x.io", USER, "bot@x.io", "/a/b/c/", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Build/s1", ROLE, "Build", None, "s1"),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Build/i-0abc@x=1,y",
            ROLE,
            "Build",
            None,
            "i-0abc@x=1,y",
        ),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", UNKNOWN, None, None, None),
        (f"arn:aws:iam::{ACCOUNT}:role/Build", UNKNOWN, None, None, None),  # not a caller
        (f"arn:aws:iam::{ACCOUNT}:group/admins", UNKNOWN, None, None, None),
    ],
)
def test_principal_kinds(
    text: str, kind: PrincipalKind, name: str | None, path: str | None, session: str | None
) -> None:
    arn = parse_arn(text)
    assert arn is not None
    assert (arn.kind, arn.name, arn.path, arn.session) == (kind, name, path, session)
    assert arn.account == ACCOUNT
    assert arn.user == (name if kind == USER else None)
    assert arn.role == (name if kind == ROLE else None)


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"])
def test_partitions(partition: str) -> None:
    for resource, kind in (
        ("root", ROOT),
        ("user/ops/ci", USER),
        ("assumed-role/R/s", ROLE),
    ):
        service = "sts" if kind == ROLE else "iam"
        arn = parse_arn(f"arn:{partition}:{service}::{ACCOUNT}:{resource}")
        assert arn is not None
        assert (arn.partition, arn.service, arn.kind) == (partition, service, kind)


def test_every_field_of_one_arn() -> None:
    assert parse_arn(f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/Deploy/ci-42") == Arn(
        partition="aws-cn",
        service="sts",
        region="",
        account=ACCOUNT,
        resource="assumed-role/Deploy/ci-42",
        kind=ROLE,
        name="Deploy",
        session="ci-42",
    )


def test_arns_that_name_no_principal() -> None:
    policy = parse_arn("arn:aws-us-gov:iam::aws:policy/AdministratorAccess")
    assert policy is not None
    assert (policy.partition, policy.account, policy.resource, policy.kind) == (
        "aws-us-gov",
        "aws",
        "policy/AdministratorAccess",
        UNKNOWN,
    )
    bucket = parse_arn("arn:aws:s3:::my-bucket/key")
    assert bucket is not None
    assert (bucket.service, bucket.account, bucket.kind) == ("s3", "", UNKNOWN)


@pytest.mark.parametrize(
    "text",
    [
        f"arn:aws:iam::{ACCOUNT}:user/",  # no name
        f"arn:aws:iam::{ACCOUNT}:user/team//ci",  # an empty path segment
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Build",  # no session
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Build/",
        f"arn:aws:sts::{ACCOUNT}:assumed-role//s1",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Build/s1/more",
        f"arn:aws:sts::{ACCOUNT}:root",  # root is an IAM resource
        f"arn:aws:iam::{ACCOUNT}:assumed-role/Build/s1",  # and sessions STS ones
        f"arn:aws:iam:us-east-1:{ACCOUNT}:root",  # IAM principals have no region
        "arn:aws:iam::aws:root",  # AWS owns managed policies, not principals
    ],
)
def test_malformed_principals_are_unknown(text: str) -> None:
    arn = parse_arn(text)
    assert arn is not None
    assert (arn.kind, arn.name, arn.path, arn.session, arn.user, arn.role) == (
        (UNKNOWN,) + (None,) * 5
    )


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not an arn",
        f"arn:gcp:iam::{ACCOUNT}:root",  # not an AWS partition
        f"arn:awsx:iam::{ACCOUNT}:root",
        f"arn:aws-:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT[:-1]}:root",  # 11 digits
        f"arn:aws:iam::{ACCOUNT}0:root",  # 13
        f"arn:aws:iam::{ACCOUNT}:",  # no resource
        f"arn:aws:iam::{ACCOUNT}:user/with space",
        f"arn:aws:iam::{ACCOUNT}:user/ci\n",
        f" arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam:{ACCOUNT}:root",  # a field short
        f"ARN:AWS:IAM::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT}:user/" + "x" * 2048,  # longer than any ARN
    ],
)
def test_not_an_arn(text: str | None) -> None:
    assert parse_arn(text) is None


def test_iam_user_arn_round_trips() -> None:
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        arn = parse_arn(iam_user_arn(ACCOUNT, "deploy", partition))
        assert arn is not None
        assert (arn.partition, arn.account, arn.user, arn.path) == (
            partition,
            ACCOUNT,
            "deploy",
            "/",
        )
