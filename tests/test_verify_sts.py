"""Verification against a real moto server over HTTP on 127.0.0.1, IAM authentication on."""

from __future__ import annotations

import random
from typing import Any

import pytest
from moto.iam.utils import generate_access_key_id_from_account_id
from support.keys import fake_secret
from support.moto_server import ACCOUNT_A, ACCOUNT_B, MotoServer, key_finding, unique

from scanner.verify import CANARY, INVALID, LIVE, NOT_CHECKED, SKIPPED
from scanner.verify.engine import Verifier, VerifyOptions
from scanner.verify.session import AwsOptions

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def rng() -> random.Random:
    return random.Random(4)


def options(moto: MotoServer, **kw: Any) -> VerifyOptions:
    aws = AwsOptions(endpoint_url=moto.endpoint, connect_timeout=2, read_timeout=5)
    return VerifyOptions(aws=aws, backoff_base=0.01, **kw)


def signed_by(moto: MotoServer, key_id: str) -> int:
    return moto.count(lambda s: s.key_id == key_id)


def test_authentication_is_enforced(moto: MotoServer, rng: random.Random) -> None:
    # Without this, moto accepts any key and every test below would prove nothing.
    key_id, _ = moto.new_user(unique("auth"))
    sts = moto.client("sts", key_id, fake_secret(rng))
    with pytest.raises(Exception, match="SignatureDoesNotMatch"):
        sts.get_caller_identity()


def test_live_key_is_live_with_its_arn(moto: MotoServer) -> None:
    user = unique("live")
    key_id, secret = moto.new_user(user)
    before = signed_by(moto, key_id)
    [out] = Verifier(options(moto)).verify([key_finding(key_id, secret)])
    v = out.verification
    assert v is not None
    assert v.status == LIVE
    assert v.arn == f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
    assert v.account == ACCOUNT_A
    assert v.user_id
    assert v.secret_fingerprint == out.paired[0].fingerprint
    assert signed_by(moto, key_id) - before == 1


def test_live_key_in_another_account(moto: MotoServer) -> None:
    user = unique("acct-b")
    key_id, secret = moto.new_user(user, ACCOUNT_B)
    [out] = Verifier(options(moto)).verify([key_finding(key_id, secret)])
    assert out.verification is not None
    assert out.verification.status == LIVE
    assert out.verification.arn == f"arn:aws:iam::{ACCOUNT_B}:user/{user}"
    assert out.account_id == ACCOUNT_B  # decoded offline, agrees with STS


def test_wrong_secret_is_invalid(moto: MotoServer, rng: random.Random) -> None:
    key_id, _ = moto.new_user(unique("wrong"))
    [out] = Verifier(options(moto)).verify([key_finding(key_id, fake_secret(rng))])
    assert out.verification is not None
    assert out.verification.status == INVALID
    assert "SignatureDoesNotMatch" in out.verification.detail


def test_deleted_key_is_invalid(moto: MotoServer) -> None:
    user = unique("deleted")
    key_id, secret = moto.new_user(user)
    moto.admin("iam").delete_access_key(UserName=user, AccessKeyId=key_id)
    [out] = Verifier(options(moto)).verify([key_finding(key_id, secret)])
    assert out.verification is not None
    assert out.verification.status == INVALID
    assert "InvalidClientTokenId" in out.verification.detail


def test_never_falls_back_to_the_operators_credentials(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, rng: random.Random
) -> None:
    """The classic bug: a client that ignores the found key and signs with the environment."""
    operator_key, operator_secret = moto.new_user(unique("operator"))
    leaked_user = unique("leaked")
    leaked_key, leaked_secret = moto.new_user(leaked_user)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", operator_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", operator_secret)
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")  # must not break verification either

    wrong, right = Verifier(options(moto)).verify(
        [
            key_finding(leaked_key, fake_secret(rng), path="a.env"),
            key_finding(leaked_key, leaked_secret, path="b.env"),
        ]
    )
    assert wrong.verification is not None and wrong.verification.status == INVALID
    assert right.verification is not None and right.verification.status == LIVE
    assert right.verification.arn == f"arn:aws:iam::{ACCOUNT_A}:user/{leaked_user}"
    assert signed_by(moto, operator_key) == 0


def test_candidates_nearest_first_and_capped(moto: MotoServer, rng: random.Random) -> None:
    key_id, secret = moto.new_user(unique("cands"))
    decoys = [fake_secret(rng) for _ in range(3)]
    before = signed_by(moto, key_id)
    [second] = Verifier(options(moto)).verify([key_finding(key_id, decoys[0], secret)])
    assert second.verification is not None and second.verification.status == LIVE
    assert second.verification.secret_fingerprint == second.paired[1].fingerprint
    assert signed_by(moto, key_id) - before == 2

    [beyond_cap] = Verifier(options(moto, max_candidates=3)).verify(
        [key_finding(key_id, *decoys, secret)]
    )
    assert beyond_cap.verification is not None
    assert beyond_cap.verification.status == INVALID
    assert "3 candidate" in beyond_cap.verification.detail


def test_one_call_per_distinct_pair(moto: MotoServer) -> None:
    key_id, secret = moto.new_user(unique("cache"))
    findings = [key_finding(key_id, secret, path=f"f{i}.env") for i in range(6)]
    before = signed_by(moto, key_id)
    verifier = Verifier(options(moto, concurrency=4))
    out = verifier.verify(findings)
    assert [f.path for f in out] == [f.path for f in findings]
    assert all(f.verification is not None and f.verification.status == LIVE for f in out)
    assert signed_by(moto, key_id) - before == 1
    assert verifier.calls_made == 1


def test_canary_key_is_never_sent(moto: MotoServer, rng: random.Random) -> None:
    key_id = generate_access_key_id_from_account_id("052310077262", "AKIA")  # canarytokens.org
    before = moto.count()
    [out] = Verifier(options(moto)).verify([key_finding(key_id, fake_secret(rng))])
    assert out.verification is not None
    assert out.verification.status == CANARY
    assert out.verification.account == "052310077262"
    assert moto.count() == before


def test_user_added_canary_account(moto: MotoServer) -> None:
    key_id, secret = moto.new_user(unique("mytrap"), ACCOUNT_B)
    before = moto.count()
    opts = options(moto, canary_accounts=frozenset({ACCOUNT_B}))
    [out] = Verifier(opts).verify([key_finding(key_id, secret)])
    assert out.verification is not None and out.verification.status == CANARY
    assert moto.count() == before


def test_allow_and_deny_lists_skip_without_a_call(moto: MotoServer) -> None:
    key_id, secret = moto.new_user(unique("lists"))
    before = moto.count()
    [denied] = Verifier(options(moto, deny_accounts=frozenset({ACCOUNT_A}))).verify(
        [key_finding(key_id, secret)]
    )
    [not_allowed] = Verifier(options(moto, allow_accounts=frozenset({ACCOUNT_B}))).verify(
        [key_finding(key_id, secret)]
    )
    assert denied.verification is not None and denied.verification.status == SKIPPED
    assert not_allowed.verification is not None and not_allowed.verification.status == SKIPPED
    assert moto.count() == before
    [allowed] = Verifier(options(moto, allow_accounts=frozenset({ACCOUNT_A}))).verify(
        [key_finding(key_id, secret)]
    )
    assert allowed.verification is not None and allowed.verification.status == LIVE


def test_key_without_secret_is_not_checked(moto: MotoServer) -> None:
    key_id, _ = moto.new_user(unique("lonely"))
    before = moto.count()
    [out] = Verifier(options(moto)).verify([key_finding(key_id)])
    assert out.verification is not None and out.verification.status == NOT_CHECKED
    assert moto.count() == before


def _assume_role(moto: MotoServer) -> dict[str, str]:
    role = unique("role")
    iam = moto.admin("iam")
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:'
        f'iam::{ACCOUNT_A}:user/admin"}},"Action":"sts:AssumeRole"}}]}}'
    )
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    creds: dict[str, str] = moto.admin("sts").assume_role(RoleArn=arn, RoleSessionName="leak")[
        "Credentials"
    ]
    return {"role": role, **creds}


def test_temporary_key_with_session_token(moto: MotoServer) -> None:
    creds = _assume_role(moto)
    key_id = creds["AccessKeyId"]
    assert key_id.startswith("ASIA")
    with_token, without_token = Verifier(options(moto)).verify(
        [
            key_finding(key_id, creds["SecretAccessKey"], token=creds["SessionToken"]),
            key_finding(key_id, creds["SecretAccessKey"], path="other.env"),
        ]
    )
    assert with_token.verification is not None
    assert with_token.verification.status == LIVE
    assert with_token.verification.arn is not None
    assert f":assumed-role/{creds['role']}/leak" in with_token.verification.arn
    assert without_token.verification is not None
    assert without_token.verification.status == NOT_CHECKED


def test_secrets_never_in_log_lines(moto: MotoServer, rng: random.Random) -> None:
    live_key, live_secret = moto.new_user(unique("log"))
    bad = fake_secret(rng)
    lines: list[str] = []
    Verifier(options(moto), log=lines.append).verify(
        [key_finding(live_key, live_secret), key_finding(live_key, bad, path="x")]
    )
    text = "\n".join(lines)
    assert lines
    assert live_secret not in text and bad not in text
    assert live_key not in text  # key ids are shown redacted in chatter
