"""``keysweep deactivate`` exit codes tell the truth, end to end against moto on 127.0.0.1.

0: nothing needed doing (no AWS key, or every key confirmed not live / already inactive) or
every planned key was deactivated; 1: something needs attention (a key refused, or unknown
while others were handled); 2: the command could not do its job (every key unknown, AWS
unreachable, a deactivation failed). A run that could decide nothing must not look clean.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest
from support.keys import fake_secret
from support.moto_server import (
    ACCOUNT_A,
    ACCOUNT_B,
    MotoServer,
    as_operator,
    default_report,
    key_finding,
    unique,
)

from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, main
from scanner.models import Finding, Verification

pytestmark = pytest.mark.usefixtures("aws_env", "in_tmp_path")

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nobody listens on loopback


def deactivate(endpoint: str, report: str, tmp_path: Path, apply: bool) -> int:
    args = ["deactivate", report, "--audit-log", str(tmp_path / "audit.jsonl")]
    args += ["--apply", "--yes"] if apply else []
    return main([*args, "--aws-endpoint-url", endpoint, "--aws-timeout", "2"])


def audit(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["action"], r["result"]) for r in records]


def invisible_key(moto: MotoServer) -> Finding:
    """A key of account B, looked up by an operator of account A: unknown, never invalid."""
    key, secret = moto.new_user(unique("invisible"), ACCOUNT_B)
    return key_finding(key, secret)


def inactive_key(moto: MotoServer) -> Finding:
    """A key ListAccessKeys shows Inactive: confirmed not live."""
    user = unique("inactive")
    key, secret = moto.new_user(user)
    moto.admin("iam").update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    return key_finding(key, secret)


@pytest.mark.parametrize("apply", [False, True], ids=["dry-run", "apply"])
def test_every_key_unknown_is_exit_2_with_the_reason(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, apply: bool
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    finding = invisible_key(moto)
    report = default_report(tmp_path / "leaks.json", finding)
    before = moto.count(lambda s: s.action == "UpdateAccessKey")
    assert deactivate(moto.endpoint, report, tmp_path, apply) == EXIT_ERROR
    out = capsys.readouterr().out
    assert "Nothing to deactivate: no key confirmed live" in out
    assert "1 of them unknown" in out and "re-run" in out
    assert f"not live: {finding.secret}: unknown" in out
    assert moto.count(lambda s: s.action == "UpdateAccessKey") == before
    assert audit(tmp_path) == []  # nothing was planned


def test_a_key_deactivated_and_one_unknown_is_exit_1(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("handled")
    key, secret = moto.new_user(user)
    invisible = invisible_key(moto)
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret), invisible)

    assert deactivate(moto.endpoint, report, tmp_path, apply=False) == EXIT_FINDINGS
    assert deactivate(moto.endpoint, report, tmp_path, apply=True) == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert moto.key_status(user, key) == "Inactive"  # the live one was handled
    assert f"{key}: deactivated (ListAccessKeys: Inactive)" in out
    assert "1 of them unknown" in out and f"not live: {invisible.secret}: unknown" in out
    assert audit(tmp_path) == [
        ("planned", "dry-run"),
        ("planned", "apply"),
        ("applied", "Inactive"),
    ]


def test_a_key_not_live_and_one_unknown_is_exit_1(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    report = default_report(tmp_path / "leaks.json", inactive_key(moto), invisible_key(moto))
    assert deactivate(moto.endpoint, report, tmp_path, apply=True) == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "2 key(s) not confirmed live; 1 of them unknown" in out


@pytest.mark.parametrize("apply", [False, True], ids=["dry-run", "apply"])
def test_nothing_live_or_no_aws_key_stays_exit_0(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, apply: bool
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    not_live = default_report(tmp_path / "leaks.json", inactive_key(moto))
    assert deactivate(moto.endpoint, not_live, tmp_path, apply) == EXIT_CLEAN
    assert "Nothing to deactivate: no live AWS key (1 key(s) not live)" in capsys.readouterr().out

    user = unique("already")
    key, secret = moto.new_user(user)
    moto.admin("iam").update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    arn = f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
    live = Verification("live", account=ACCOUNT_A, arn=arn)  # an old verdict of the report
    stale = dataclasses.replace(key_finding(key, secret), verification=live)
    assert (
        deactivate(moto.endpoint, default_report(tmp_path / "leaks.json", stale), tmp_path, apply)
        == 0
    )
    assert f"{key}: already Inactive" in capsys.readouterr().out

    token = fake_secret(random.Random(7))
    other = dataclasses.replace(key_finding(key, secret), rule_id="generic-api-key", secret=token)
    no_key = default_report(tmp_path / "leaks.json", other)
    # no AWS key: nothing to ask AWS, so even an unreachable endpoint changes nothing
    assert deactivate(UNREACHABLE, no_key, tmp_path, apply) == EXIT_CLEAN
    assert "Nothing to deactivate: no live AWS key (0 key(s) not live)" in capsys.readouterr().out


def test_aws_unreachable_with_a_live_verdict_is_the_error_line_alone(
    tmp_path: Path, capsys: Any
) -> None:
    """The report says live; STS cannot be reached to identify the operator. The error is
    the only thing said: no exposure line about the same unreachable endpoint before it."""
    key = "AKIA" + "Q" * 16
    live = Verification("live", account=ACCOUNT_A, arn=f"arn:aws:iam::{ACCOUNT_A}:user/bob")
    finding = dataclasses.replace(key_finding(key, "s" * 40), verification=live)
    report = default_report(tmp_path / "leaks.json", finding)
    assert deactivate(UNREACHABLE, report, tmp_path, apply=True) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("keysweep: error: cannot reach STS to identify the operator")
    assert "exposure" not in captured.err and "Traceback" not in captured.err
    assert audit(tmp_path) == []


def test_aws_unreachable_without_verdicts_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    """No verdict in the report: every key's liveness is unknown, nothing could be decided."""
    report = default_report(tmp_path / "leaks.json", key_finding("AKIA" + "Q" * 16, "s" * 40))
    assert deactivate(UNREACHABLE, report, tmp_path, apply=True) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "Nothing to deactivate: no key confirmed live" in captured.out
    assert "cannot reach STS" in captured.out and "Traceback" not in captured.err


def test_every_key_unknown_counts_keys_not_verdict_lines() -> None:
    """A key listed twice with two verdicts (one finding unknown, one never checked) is one
    undecided key: nothing was decided, so the plan says every key is unknown."""
    from support.keys import key_id

    from scanner.verify.deactivate import NotLive, Plan

    one, two = key_id("twice"), key_id("other")
    twice = (NotLive(one, "unknown (timeout)", True), NotLive(one, "not_checked", False))
    assert Plan((), not_live=twice).every_key_unknown
    assert Plan((), not_live=twice).not_live_keys == 1
    assert not Plan((), not_live=(*twice, NotLive(two, "inactive", False))).every_key_unknown
    assert not Plan((), not_live=(NotLive(two, "inactive", False),)).every_key_unknown
