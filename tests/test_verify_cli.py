"""``keysweep verify REPORT.json`` and ``scan --verify`` end to end against moto on loopback."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from support.keys import fake_secret
from support.moto_server import ACCOUNT_A, MotoServer, key_finding, unique

from scanner.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_LIVE_KEY, main
from scanner.models import Finding, ScanResult, ScanSummary, Severity
from scanner.report import json as json_report

pytestmark = pytest.mark.usefixtures("aws_env", "in_tmp_path")


def write_report(path: Path, findings: list[Finding], *, show_secrets: bool = True) -> Path:
    result = ScanResult(tuple(findings), ScanSummary(mode="history", target="repo"))
    path.write_text(json_report.render(result, show_secrets=show_secrets))
    return path


def other_finding(rng: random.Random) -> Finding:
    return Finding(
        rule_id="github-pat",
        rule_name="GitHub token",
        severity=Severity.HIGH,
        description="",
        path="ci.yml",
        line=3,
        column=1,
        secret="ghp_" + "".join(rng.choice("abcdef0123456789") for _ in range(36)),
        entropy=4.0,
    )


def test_verify_report_json(moto: MotoServer, tmp_path: Path, capsys: Any) -> None:
    from moto.iam.utils import generate_access_key_id_from_account_id

    rng = random.Random(11)
    user = unique("cli-live")
    live_key, live_secret = moto.new_user(user)
    dead_key, _ = moto.new_user(unique("cli-dead"))
    canary_key = generate_access_key_id_from_account_id("171436882533", "AKIA")
    findings = [
        key_finding(live_key, live_secret, path="a.env"),
        key_finding(dead_key, fake_secret(rng), path="b.env"),
        key_finding(canary_key, fake_secret(rng), path="c.env"),
        other_finding(rng),
    ]
    report = write_report(tmp_path / "leaks.json", findings)
    out = tmp_path / "verified.json"
    code = main(
        ["verify", str(report), "-f", "json", "-o", str(out), "--aws-endpoint-url", moto.endpoint]
    )
    assert code == EXIT_LIVE_KEY
    data = json.loads(out.read_text())
    assert [f["path"] for f in data["findings"]] == ["a.env", "b.env", "c.env", "ci.yml"]
    live, dead, canary, other = (f["verification"] for f in data["findings"])
    assert live["status"] == "live"
    assert live["account"] == ACCOUNT_A
    assert live["arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
    assert dead["status"] == "invalid"
    assert canary["status"] == "canary" and canary["account"] == "171436882533"
    assert data["findings"][2]["canary"] is True
    assert other is None
    assert data["findings"][0]["secret_redacted"] is True  # --show-secrets was not given
    assert live_secret not in out.read_text()
    assert live_secret not in capsys.readouterr().err


def test_verify_table_and_sarif_show_the_state(moto: MotoServer, tmp_path: Path) -> None:
    user = unique("cli-table")
    key, secret = moto.new_user(user)
    report = write_report(tmp_path / "r.json", [key_finding(key, secret)])
    table, sarif = tmp_path / "t.txt", tmp_path / "r.sarif"
    args = ["verify", str(report), "--aws-endpoint-url", moto.endpoint]
    assert main([*args, "-o", str(table)]) == EXIT_LIVE_KEY
    assert main([*args, "-f", "sarif", "-o", str(sarif)]) == EXIT_LIVE_KEY
    assert f"verified: live as arn:aws:iam::{ACCOUNT_A}:user/{user}" in table.read_text()
    [result] = json.loads(sarif.read_text())["runs"][0]["results"]
    assert result["properties"]["verification"] == "live"
    assert result["properties"]["awsVerification"]["account"] == ACCOUNT_A


def test_exposure_last_used_and_used_after_leak(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = unique("cli-exposure")
    key, secret = moto.new_user(user)
    with pytest.raises(Exception, match="AccessDenied"):  # the attacker tried it
        moto.client("iam", key, secret).get_user()
    old_leak = key_finding(key, secret, path="old", commit_date="2020-01-02T03:04:05+00:00")
    future = key_finding(key, secret, path="new", commit_date="2999-01-01T00:00:00+00:00")
    report = write_report(tmp_path / "r.json", [old_leak, future])
    admin_key, admin_secret = moto.admins[ACCOUNT_A]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin_key)  # operator credentials
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin_secret)
    out = tmp_path / "v.json"
    args = ["verify", str(report), "--exposure", "-f", "json", "-o", str(out)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_LIVE_KEY
    first, second = (f["verification"] for f in json.loads(out.read_text())["findings"])
    # Read before keysweep's own STS call, which would otherwise be the "last use".
    assert first["last_used_date"] and first["last_used_service"] == "iam"
    assert first["last_used_region"] == "us-east-1"
    assert first["used_after_leak"] is True
    assert second["used_after_leak"] is False


def test_redacted_report_is_refused(tmp_path: Path, capsys: Any) -> None:
    rng = random.Random(12)
    finding = key_finding("AKIA" + "Q" * 16, fake_secret(rng))
    report = write_report(tmp_path / "r.json", [finding], show_secrets=False)
    assert main(["verify", str(report), "--aws-endpoint-url", "http://127.0.0.1:9"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "--show-secrets" in err and err.count("\n") == 1


def test_unknown_never_counts_as_live(tmp_path: Path) -> None:
    from support.http_stub import stub_aws

    rng = random.Random(13)
    findings = [key_finding("AKIA" + "R" * 16, fake_secret(rng))]
    report = write_report(tmp_path / "r.json", findings)
    out = tmp_path / "v.json"
    with stub_aws("5xx") as (endpoint, _):
        code = main(
            ["verify", str(report), "-f", "json", "-o", str(out), "--aws-endpoint-url", endpoint]
        )
    assert code == EXIT_FINDINGS
    [f] = json.loads(out.read_text())["findings"]
    assert f["verification"]["status"] == "unknown"


def test_exposure_without_verify_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "x.txt").write_text("nothing here\n")
    assert main(["scan", str(tmp_path / "x.txt"), "--aws-profile", "sec"]) == EXIT_ERROR
    assert "need --verify" in capsys.readouterr().err


def test_failed_exposure_check_keeps_the_verification(
    moto: MotoServer, tmp_path: Path, capsys: Any
) -> None:
    key, secret = moto.new_user(unique("cli-noprofile"))
    report = write_report(tmp_path / "r.json", [key_finding(key, secret)])
    out = tmp_path / "v.json"
    args = ["verify", str(report), "--aws-profile", "no-such-profile", "-f", "json", "-o", str(out)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_LIVE_KEY
    data = json.loads(out.read_text())
    assert data["findings"][0]["verification"]["status"] == "live"
    assert any("no-such-profile" in note for note in data["scan"]["notes"])
    assert "exposure check skipped" in capsys.readouterr().err


def test_tests_cannot_reach_real_aws(tmp_path: Path) -> None:
    """The guard every AWS test runs under: a key sent to the real STS endpoint fails here."""
    rng = random.Random(14)
    findings = [key_finding("AKIA" + "S" * 16, fake_secret(rng))]
    report = write_report(tmp_path / "r.json", findings)
    out = tmp_path / "v.json"
    assert main(["verify", str(report), "-f", "json", "-o", str(out)]) == EXIT_FINDINGS
    [f] = json.loads(out.read_text())["findings"]
    assert f["verification"]["status"] == "unknown"
    assert "sts.us-east-1.amazonaws.com': only loopback is allowed" in f["verification"]["detail"]


def test_live_keys_end_with_what_to_do(moto: MotoServer, tmp_path: Path, capsys: Any) -> None:
    live_key, live_secret = moto.new_user(unique("next"))
    dead = key_finding("AKIA" + "Z" * 16, fake_secret(random.Random(5)))
    report = write_report(tmp_path / "leaks.json", [key_finding(live_key, live_secret), dead])
    args = ["verify", str(report), "--aws-endpoint-url", moto.endpoint, "-o", "out.txt"]
    assert main(args) == EXIT_LIVE_KEY
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert f"1 live AWS key(s) ({live_key})" in last
    assert f"keysweep deactivate {report} --aws-profile PROFILE" in last and "--apply" in last
    assert live_secret not in err

    write_report(tmp_path / "clean.json", [dead])
    assert main(["verify", str(tmp_path / "clean.json"), "--aws-endpoint-url", moto.endpoint])
    assert "live AWS key(s)" not in capsys.readouterr().err
