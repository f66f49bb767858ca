"""Everything that is not a clear answer from AWS is ``unknown``: throttling, 5xx, timeouts,
refused connections. Served by a misbehaving stub on 127.0.0.1 (tests/support/http_stub.py)."""

from __future__ import annotations

import random
import socket
from typing import Any

import pytest
from support.http_stub import stub_aws
from support.keys import fake_secret
from support.moto_server import key_finding

from scanner.verify import EXPIRED, UNKNOWN
from scanner.verify.engine import Verifier, VerifyOptions
from scanner.verify.scrub import scrub
from scanner.verify.session import AwsOptions

pytestmark = pytest.mark.usefixtures("aws_env")


def _key_id(rng: random.Random) -> str:
    from moto.iam.utils import generate_access_key_id_from_account_id

    return generate_access_key_id_from_account_id(str(rng.randrange(10**11, 10**12)), "AKIA")


def _options(endpoint: str, **kw: Any) -> VerifyOptions:
    aws = AwsOptions(endpoint_url=endpoint, connect_timeout=1, read_timeout=kw.pop("read", 2))
    return VerifyOptions(aws=aws, backoff_base=0.01, backoff_cap=0.05, **kw)


@pytest.mark.parametrize(("mode", "words"), [("throttle", "throttled"), ("5xx", "server error")])
def test_throttling_and_5xx_are_unknown_after_bounded_retries(mode: str, words: str) -> None:
    rng = random.Random(1)
    sleeps: list[float] = []
    with stub_aws(mode) as (endpoint, stub):
        verifier = Verifier(_options(endpoint, max_attempts=3), sleep=sleeps.append)
        [out] = verifier.verify([key_finding(_key_id(rng), fake_secret(rng))])
    assert out.verification is not None
    assert out.verification.status == UNKNOWN
    assert words in out.verification.detail
    assert "gave up after 3 attempt(s)" in out.verification.detail
    assert stub.hits == 3  # botocore's own retries are off: exactly our attempts
    assert len(sleeps) == 2 and all(0 <= s <= 0.05 for s in sleeps)  # jittered, capped


def test_read_timeout_is_unknown() -> None:
    rng = random.Random(2)
    with stub_aws("hang", hang_s=3) as (endpoint, stub):
        [out] = Verifier(_options(endpoint, read=0.3, max_attempts=2)).verify(
            [key_finding(_key_id(rng), fake_secret(rng))]
        )
    assert out.verification is not None
    assert out.verification.status == UNKNOWN
    assert "timeout" in out.verification.detail
    assert stub.hits == 2


def test_refused_connection_is_unknown() -> None:
    rng = random.Random(3)
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    [out] = Verifier(_options(f"http://127.0.0.1:{port}", max_attempts=1)).verify(
        [key_finding(_key_id(rng), fake_secret(rng))]
    )
    assert out.verification is not None
    assert out.verification.status == UNKNOWN
    assert "network error" in out.verification.detail


def test_expired_token() -> None:
    rng = random.Random(5)
    with stub_aws("expired") as (endpoint, _):
        key_id = "ASIA" + _key_id(rng)[4:]
        [out] = Verifier(_options(endpoint)).verify(
            [key_finding(key_id, fake_secret(rng), token=fake_secret(rng) * 4)]
        )
    assert out.verification is not None
    assert out.verification.status == EXPIRED


def test_nothing_lost_when_aws_misbehaves() -> None:
    rng = random.Random(6)
    findings = [key_finding(_key_id(rng), fake_secret(rng), path=f"f{i}") for i in range(5)]
    findings.append(key_finding(_key_id(rng), path="no-secret"))
    with stub_aws("5xx") as (endpoint, _):
        out = Verifier(_options(endpoint, max_attempts=1, concurrency=3)).verify(findings)
    assert [f.path for f in out] == [f.path for f in findings]
    assert [f.secret for f in out] == [f.secret for f in findings]
    assert [f.verification.status for f in out if f.verification] == [UNKNOWN] * 5 + ["not_checked"]


def test_secret_scrubbed_from_error_detail() -> None:
    rng = random.Random(7)
    secret = fake_secret(rng)
    with stub_aws("reflect") as (endpoint, stub):
        stub.reflect = f"bad credential {secret} rejected".encode()
        [out] = Verifier(_options(endpoint)).verify([key_finding(_key_id(rng), secret)])
    assert out.verification is not None
    assert out.verification.status == UNKNOWN
    assert "rejected" in out.verification.detail
    assert secret not in out.verification.detail
    assert secret[:16] not in out.verification.detail


def test_scrub_replaces_whole_and_prefix() -> None:
    secret = fake_secret(random.Random(8))
    assert scrub(f"x {secret} y {secret[:16]}…", [secret]) == "x *** y ***…"
    assert scrub("short abc", ["abc"]) == "short abc"  # too short to be a secret


def test_concurrency_is_capped() -> None:
    rng = random.Random(9)
    findings = [key_finding(_key_id(rng), fake_secret(rng), path=f"k{i}") for i in range(8)]
    with stub_aws("5xx") as (endpoint, stub):
        stub.delay_s = 0.3
        out = Verifier(_options(endpoint, max_attempts=1, concurrency=3)).verify(findings)
    assert stub.hits == 8
    assert stub.max_in_flight == 3  # parallel, but never more than the cap
    assert all(f.verification is not None and f.verification.status == UNKNOWN for f in out)
