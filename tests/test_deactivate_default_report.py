"""Deactivate / reactivate from a DEFAULT (redacted) report, against moto on 127.0.0.1.

A default report shows key IDs (identifiers) in full and hides every secret. That is all
deactivation needs: liveness comes from the report's ``verification`` when it has one, else
from iam:ListAccessKeys with the operator's credentials. The leaked secret is never used.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from support.moto_server import (
    ACCOUNT_A,
    ACCOUNT_B,
    MotoServer,
    as_operator,
    default_report,
    key_finding,
    unique,
)

from scanner.cli import EXIT_CLEAN, EXIT_ERROR, main
from scanner.models import Verification

pytestmark = pytest.mark.usefixtures("aws_env", "in_tmp_path")


def audit_actions(path: Path) -> list[str]:
    return [json.loads(line)["action"] for line in path.read_text().splitlines()]


def run(moto: MotoServer, *args: str) -> int:
    return main([*args, "--aws-endpoint-url", moto.endpoint])


def test_report_shows_the_key_id_and_hides_the_secret(tmp_path: Path) -> None:
    finding = key_finding("AKIA" + "Q" * 16, "s" * 40)
    text = Path(default_report(tmp_path / "leaks.json", finding)).read_text()
    data = json.loads(text)["findings"][0]
    assert data["secret"] == "AKIA" + "Q" * 16 and data["identifier"] is True
    assert "s" * 40 not in text and data["secret_redacted"] is True


def test_dry_run_then_apply_then_reactivate_from_a_default_report(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("default-report")
    key, secret = moto.new_user(user)
    moto.client("sts", key, secret).get_caller_identity()  # used once: shows in the plan
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret))
    assert secret not in Path(report).read_text()
    audit = tmp_path / "audit.jsonl"
    signed_by_leaked_key = moto.count(lambda s: s.key_id == key)

    assert run(moto, "deactivate", report, "--audit-log", str(audit)) == EXIT_CLEAN
    out = capsys.readouterr().out
    assert "Dry run: nothing changed" in out
    assert key in out and ACCOUNT_A in out and user in out and "sts" in out
    assert moto.key_status(user, key) == "Active"
    assert audit_actions(audit) == ["planned"]

    assert run(moto, "deactivate", report, "--apply", "--yes", "--audit-log", str(audit)) == 0
    out = capsys.readouterr().out
    assert f"{key}: deactivated (ListAccessKeys: Inactive)" in out
    assert moto.key_status(user, key) == "Inactive"
    assert audit_actions(audit) == ["planned", "planned", "applied"]

    assert run(moto, "reactivate", key, "--yes", "--audit-log", str(audit)) == EXIT_CLEAN
    assert moto.key_status(user, key) == "Active"
    last = json.loads(audit.read_text().splitlines()[-1])
    assert last["action"] == "reactivated" and last["user"] == user and last["key_id"] == key
    assert moto.count(lambda s: s.key_id == key) == signed_by_leaked_key  # never used by us
    assert secret not in audit.read_text()


@pytest.mark.parametrize(
    ("verdict", "planned"),
    [
        (None, False),  # no verdict in the report: ListAccessKeys says Inactive
        (Verification("live", account=ACCOUNT_A), True),  # the report's verdict wins
    ],
)
def test_liveness_from_the_report_else_from_list_access_keys(
    moto: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    verdict: Verification | None,
    planned: bool,
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("inactive")
    key, secret = moto.new_user(user)
    moto.admin("iam").update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    if verdict is not None:
        verdict = dataclasses.replace(verdict, arn=f"arn:aws:iam::{ACCOUNT_A}:user/{user}")
    finding = dataclasses.replace(key_finding(key, secret), verification=verdict)
    assert run(moto, "deactivate", default_report(tmp_path / "leaks.json", finding)) == EXIT_CLEAN
    out = capsys.readouterr().out
    assert ("Dry run: nothing changed" in out) is planned
    assert ("Nothing to deactivate" in out) is not planned


def test_a_key_the_operator_cannot_see_is_not_planned(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_B)
    key, secret = moto.new_user(unique("elsewhere"), ACCOUNT_A)
    before = moto.count(lambda s: s.action == "UpdateAccessKey")
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret))
    # nothing could be decided: the command did not do its job (it was exit 0, "clean")
    assert run(moto, "deactivate", report, "--apply", "--yes") == EXIT_ERROR
    out = capsys.readouterr().out
    assert "Nothing to deactivate: no key confirmed live" in out  # not "no live AWS key"
    assert "1 of them unknown" in out and "re-run" in out
    assert f"not live: {key}: unknown" in out  # the operator's account does not list it
    assert moto.count(lambda s: s.action == "UpdateAccessKey") == before


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("deactivate", "--use-leaked-key"), "drop it to act with operator credentials"),
        (("verify",), "keysweep history PATH --verify"),
    ],
)
def test_commands_that_need_the_secret_say_so_in_one_line(
    moto: MotoServer, tmp_path: Path, capsys: Any, command: tuple[str, ...], expected: str
) -> None:
    key, secret = moto.new_user(unique("needs-secret"))
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret))
    assert run(moto, command[0], report, *command[1:]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "secrets are redacted" in err and expected in err
    assert "Traceback" not in err and secret not in err


def test_a_report_with_redacted_key_ids_is_one_clear_error(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    key, secret = moto.new_user(unique("redact-ids"))
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret), redact_ids=True)
    assert key not in Path(report).read_text()
    assert run(moto, "deactivate", report) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "key IDs are redacted" in err


@pytest.mark.parametrize("verify", [True, False], ids=["history-verify", "history-plain"])
def test_readme_incident_workflow_needs_no_plain_secret_on_disk(
    moto: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    verify: bool,
) -> None:
    """docs/aws-response.md, "The incident workflow": history (with or without --verify) ->
    deactivate dry run -> --apply -> audit log -> reactivate, with no --show-secrets anywhere."""
    from support.repo import Repo

    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("workflow")
    key, secret = moto.new_user(user)
    repo = Repo(tmp_path / "repo")
    repo.commit({"deploy.env": f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n"}, "c")
    leaks, audit = tmp_path / "leaks.json", tmp_path / "audit.jsonl"
    history = ["history", str(repo.path), "-f", "json", "-o", str(leaks)]
    code = run(moto, *history, *(["--verify", "--exposure"] if verify else []))
    assert code == (3 if verify else 1)  # a live key / findings
    text = leaks.read_text()
    assert key in text and secret not in text

    assert run(moto, "deactivate", str(leaks), "--audit-log", str(audit)) == EXIT_CLEAN
    assert f"{key}  {ACCOUNT_A}  {user}" in capsys.readouterr().out
    args = ["deactivate", str(leaks), "--apply", "--yes", "--audit-log", str(audit)]
    assert run(moto, *args) == EXIT_CLEAN
    assert moto.key_status(user, key) == "Inactive"
    assert run(moto, "reactivate", key, "--yes", "--audit-log", str(audit)) == EXIT_CLEAN
    assert moto.key_status(user, key) == "Active"
    assert audit_actions(audit) == ["planned", "planned", "applied", "reactivated"]
    assert secret not in audit.read_text()


def test_verify_exposure_from_a_default_report(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("verify-exposure")
    key, secret = moto.new_user(user)
    moto.client("sts", key, secret).get_caller_identity()  # used once
    report, out = (
        default_report(tmp_path / "leaks.json", key_finding(key, secret)),
        tmp_path / "v.json",
    )
    args = ["verify", report, "--exposure", "-f", "json", "-o", str(out)]
    assert run(moto, *args) == 3  # a live key
    [finding] = json.loads(out.read_text())["findings"]
    v = finding["verification"]
    assert v["status"] == "live" and v["arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
    assert v["last_used_service"] == "sts" and "ListAccessKeys" in v["detail"]
    assert "last use (sts) may be a verification call" in v["detail"]
    assert finding["secret"] == key and secret not in out.read_text()


def test_verify_exposure_with_aws_unreachable_writes_the_report_with_unknown_keys(
    tmp_path: Path, capsys: Any
) -> None:
    """The operator lookup that cannot reach AWS leaves each key unknown, says so, and the
    report is written, as for STS's own checks (it was exit 2 and no report)."""
    finding = key_finding("AKIA" + "Q" * 16, "s" * 40)
    out = tmp_path / "v.json"
    args = ["verify", default_report(tmp_path / "leaks.json", finding), "--exposure", "-f", "json"]
    args += ["-o", str(out), "--aws-endpoint-url", "http://127.0.0.1:9", "--aws-timeout", "2"]
    assert main(args) == 1  # findings, none confirmed live
    report = json.loads(out.read_text())
    verdict = report["findings"][0]["verification"]
    assert verdict["status"] == "unknown"
    assert verdict["detail"].startswith("operator lookup failed: cannot reach STS")
    assert any(n.startswith("verification incomplete: 1 key(s)") for n in report["scan"]["notes"])
    assert "verification incomplete" in capsys.readouterr().err


@pytest.mark.parametrize("exposure", [True, False])
def test_verify_refuses_a_report_with_redacted_key_ids(
    tmp_path: Path, capsys: Any, exposure: bool
) -> None:
    """No key can be asked about; every verdict stayed empty, and nothing said why."""
    finding = key_finding("AKIA" + "Q" * 16, "s" * 40)
    report = default_report(tmp_path / "leaks.json", finding, redact_ids=True)
    args = ["verify", report, "--aws-endpoint-url", "http://127.0.0.1:9"]
    assert main([*args, "--exposure"] if exposure else args) == EXIT_ERROR
    err = capsys.readouterr().err
    # without --exposure the secrets were needed first, and are redacted too
    said = "key IDs are redacted" if exposure else "secrets are redacted"
    assert err.count("\n") == 1 and f"{report}: {said} in this report" in err
