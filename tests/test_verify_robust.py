"""Verification against endpoints that misbehave in ways a network or a hostile proxy can:
slow drip, non-XML bodies, truncated bodies, a dead endpoint, an answer for the wrong account
(issue 9, items 14-17, and the interleaved ``verify:`` lines). Served by the stub on
127.0.0.1 (tests/aws_stub.py); never a timed assert."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.http_stub import stub_aws
from support.keys import fake_secret
from support.moto_server import key_finding

from scanner.cli import EXIT_FINDINGS, main
from scanner.models import Finding, ScanResult, ScanSummary
from scanner.report import json as json_report
from scanner.rules.aws_account import account_id_from_key_id
from scanner.verify import LIVE, UNKNOWN
from scanner.verify.engine import Verifier, VerifyOptions, unknown_summary
from scanner.verify.session import AwsOptions
from scanner.verify.sts import StsOutcome

pytestmark = pytest.mark.usefixtures("aws_env")


def _key_id(rng: random.Random) -> str:
    from moto.iam.utils import generate_access_key_id_from_account_id

    return generate_access_key_id_from_account_id(str(rng.randrange(10**11, 10**12)), "AKIA")


def _options(endpoint: str, *, total: float = 5.0, **kw: Any) -> VerifyOptions:
    aws = AwsOptions(endpoint_url=endpoint, connect_timeout=1, read_timeout=1, total_timeout=total)
    return VerifyOptions(aws=aws, backoff_base=0.01, backoff_cap=0.02, **kw)


def _verify_one(endpoint: str, seed: int, **kw: Any) -> Finding:
    rng = random.Random(seed)
    [out] = Verifier(_options(endpoint, **kw), sleep=lambda _: None).verify(
        [key_finding(_key_id(rng), fake_secret(rng))]
    )
    return out


def test_slow_drip_is_bounded_by_the_total_timeout() -> None:
    # Each byte arrives well inside the read timeout (1 s); the whole answer would take ~100 s.
    with stub_aws("drip", hang_s=100) as (endpoint, stub):
        out = _verify_one(endpoint, 1, total=1.5, max_attempts=3)
    assert out.verification is not None
    assert out.verification.status == UNKNOWN
    assert "no complete answer within 1.5s" in out.verification.detail
    assert stub.hits == 1  # a call that ran out of time is not retried


@pytest.mark.parametrize(
    ("mode", "words", "attempts"),
    [
        ("oops", "server error: HTTP 500, unusable answer", 3),  # 500, not XML: retried
        ("garbage", "unusable answer", 1),  # 200 with a body that is not XML
        ("truncated", "", 3),  # 200 whose body stops halfway: a broken connection, retried
    ],
)
def test_unusable_answers_are_unknown(mode: str, words: str, attempts: int) -> None:
    with stub_aws(mode) as (endpoint, stub):
        out = _verify_one(endpoint, 2, max_attempts=3)
    assert out.verification is not None
    assert out.verification.status == UNKNOWN, out.verification
    assert words in out.verification.detail
    assert stub.hits == attempts


@pytest.mark.parametrize("mode", ["oops", "garbage", "truncated", "drip"])
def test_verify_command_always_writes_the_report(tmp_path: Path, mode: str, capsys: Any) -> None:
    rng = random.Random(3)
    findings = [key_finding(_key_id(rng), fake_secret(rng)) for _ in range(3)]
    report = tmp_path / "r.json"
    result = ScanResult(tuple(findings), ScanSummary(mode="history", target="repo"))
    report.write_text(json_report.render(result, show_secrets=True))
    out = tmp_path / "v.json"
    with stub_aws(mode, hang_s=100) as (endpoint, _):
        code = main(
            [
                "verify", str(report), "-f", "json", "-o", str(out),
                "--aws-endpoint-url", endpoint, "--aws-timeout", "1",
            ]
        )  # fmt: skip
    assert code == EXIT_FINDINGS
    written = json.loads(out.read_text())
    assert [f["verification"]["status"] for f in written["findings"]] == [UNKNOWN] * 3
    assert any("verification incomplete: 3 key(s) unknown" in n for n in written["scan"]["notes"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "verification incomplete: 3 key(s) unknown" in err


def test_dead_endpoint_trips_the_circuit_breaker() -> None:
    rng = random.Random(4)
    findings = [key_finding(_key_id(rng), fake_secret(rng)) for _ in range(20)]
    with stub_aws("close") as (endpoint, stub):
        options = _options(endpoint, max_attempts=3, concurrency=1, breaker_threshold=4)
        out = Verifier(options, sleep=lambda _: None).verify(findings)
    assert stub.hits == 4  # not 20 keys x 3 attempts
    statuses = [f.verification.status for f in out if f.verification is not None]
    assert statuses == [UNKNOWN] * 20
    stopped = [
        f for f in out if f.verification and "verification stopped early" in f.verification.detail
    ]
    assert len(stopped) == 18  # the first key used 3 attempts, the second the 4th
    summary = unknown_summary(out)
    assert summary is not None
    assert "20 key(s) unknown" in summary and "18 not tried" in summary


def test_breaker_resets_on_any_answer() -> None:
    rng = random.Random(5)
    findings = [key_finding(_key_id(rng), fake_secret(rng)) for _ in range(6)]
    answers = iter([True, True, False, True, True, False] * 3)  # unreachable, never 3 in a row
    lock = threading.Lock()
    calls = 0

    def checker(key_id: str, secret: str, token: str | None, aws: AwsOptions) -> StsOutcome:
        nonlocal calls
        with lock:
            calls += 1
            down = next(answers)
        return StsOutcome(UNKNOWN, detail="x", unreachable=down, retryable=down)

    options = VerifyOptions(max_attempts=2, concurrency=1, breaker_threshold=3)
    out = Verifier(options, checker=checker, sleep=lambda _: None).verify(findings)
    assert not any(
        "stopped early" in (f.verification.detail if f.verification else "") for f in out
    )
    assert calls > 6


def _identity_key(rng: random.Random) -> tuple[str, str]:
    key = _key_id(rng)
    account = account_id_from_key_id(key)
    assert account is not None
    return key, account


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        ("same", LIVE, "GetCallerIdentity succeeded"),
        ("other-account", UNKNOWN, "account mismatch"),
        ("arn-elsewhere", UNKNOWN, "unusable answer"),  # Account and Arn disagree
        ("no-account", UNKNOWN, "unusable answer"),
        ("13-digits", UNKNOWN, "unusable answer"),
    ],
)
def test_identity_answer_must_name_the_key_account(answer: str, status: str, words: str) -> None:
    rng = random.Random(6)
    key, account = _identity_key(rng)
    other = "210987654321" if account != "210987654321" else "123456789012"
    acct, arn_acct = {
        "same": (account, account),
        "other-account": (other, other),
        "arn-elsewhere": (account, other),
        "no-account": ("", account),
        "13-digits": (account + "1", account + "1"),
    }[answer]
    with stub_aws("identity") as (endpoint, stub):
        stub.identity = (acct.encode(), f"arn:aws:iam::{arn_acct}:user/dev".encode())
        [out] = Verifier(_options(endpoint, max_attempts=1)).verify(
            [key_finding(key, fake_secret(rng))]
        )
    assert out.verification is not None
    assert out.verification.status == status, out.verification
    assert words in out.verification.detail
    if answer == "other-account":
        assert account in out.verification.detail and other in out.verification.detail


def test_verify_lines_never_interleave() -> None:
    """Every log line is written whole, one at a time, from the verify threads."""
    rng = random.Random(7)
    findings = [key_finding(_key_id(rng), fake_secret(rng)) for _ in range(24)]
    inside = 0
    most = 0
    guard = threading.Lock()

    def log(line: str) -> None:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.002)  # widen the window in which another thread could enter
        with guard:
            inside -= 1

    def checker(key_id: str, secret: str, token: str | None, aws: AwsOptions) -> StsOutcome:
        return StsOutcome(UNKNOWN, detail="throttled", retryable=True)

    options = VerifyOptions(max_attempts=2, concurrency=4)
    Verifier(options, checker=checker, log=log, sleep=lambda _: None).verify(findings)
    assert most == 1
