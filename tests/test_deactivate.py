"""``keysweep deactivate`` / ``reactivate`` end to end against moto on 127.0.0.1 (auth on)."""

from __future__ import annotations

import dataclasses
import io
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
    key_finding,
    unique,
)

from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, main
from scanner.models import Finding, ScanResult, ScanSummary, Verification
from scanner.report import json as json_report

pytestmark = pytest.mark.usefixtures("aws_env", "in_tmp_path")


def report(tmp_path: Path, *findings: Finding) -> str:
    path = tmp_path / "leaks.json"
    result = ScanResult(tuple(findings), ScanSummary(mode="history", target="repo"))
    path.write_text(json_report.render(result, show_secrets=True))
    return str(path)


def audit_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def updates(moto: MotoServer) -> int:
    return moto.count(lambda s: s.action == "UpdateAccessKey")


def run(moto: MotoServer, *args: str) -> int:
    return main([args[0], *args[1:], "--aws-endpoint-url", moto.endpoint])


def test_dry_run_changes_nothing(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("dry")
    key, secret = moto.new_user(user)
    audit = tmp_path / "audit.jsonl"
    before = updates(moto)
    code = run(
        moto, "deactivate", report(tmp_path, key_finding(key, secret)), "--audit-log", str(audit)
    )
    out = capsys.readouterr().out
    assert code == EXIT_CLEAN
    assert "Dry run: nothing changed" in out
    assert key in out and ACCOUNT_A in out and user in out and "deactivate" in out
    assert updates(moto) == before
    assert moto.key_status(user, key) == "Active"
    [record] = audit_records(audit)
    assert record["action"] == "planned" and record["result"] == "dry-run"
    assert record["key_id"] == key and record["user"] == user and record["account"] == ACCOUNT_A
    assert record["operator_arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/admin"
    assert secret not in audit.read_text() and secret not in out


def test_apply_yes_deactivates_audits_and_reactivate_restores(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("apply")
    key, secret = moto.new_user(user)
    moto.client("sts", key, secret).get_caller_identity()  # used once: shows in the plan
    audit = tmp_path / "state" / "keysweep" / "audit.jsonl"  # the default ($XDG_STATE_HOME)
    code = run(moto, "deactivate", report(tmp_path, key_finding(key, secret)), "--apply", "--yes")
    out = capsys.readouterr().out
    assert code == EXIT_CLEAN
    assert moto.key_status(user, key) == "Inactive"
    assert f"keysweep reactivate {key}" in out
    assert (
        f"aws iam update-access-key --user-name {user} --access-key-id {key} --status Active" in out
    )
    assert "sts" in out  # last used service in the plan
    records = audit_records(audit)
    assert [r["action"] for r in records] == ["planned", "applied"]
    assert records[1]["result"] == "Inactive"
    assert secret not in audit.read_text() and secret not in out

    assert main(["reactivate", key, "--yes", "--aws-endpoint-url", moto.endpoint]) == EXIT_CLEAN
    assert moto.key_status(user, key) == "Active"
    assert audit_records(audit)[-1]["action"] == "reactivated"
    assert audit_records(audit)[-1]["user"] == user


def test_apply_asks_for_the_typed_key_id(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("typed")
    key, secret = moto.new_user(user)
    path = report(tmp_path, key_finding(key, secret))
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert run(moto, "deactivate", path, "--apply") == EXIT_FINDINGS
    assert moto.key_status(user, key) == "Active"
    assert "not confirmed" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{key}\n"))
    assert run(moto, "deactivate", path, "--apply") == EXIT_CLEAN
    assert moto.key_status(user, key) == "Inactive"


@pytest.mark.parametrize("command", ["deactivate", "reactivate"])
def test_refuses_a_key_in_another_account(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, command: str
) -> None:
    """reactivate failed with IAM's "NoSuchEntity: The user with name X cannot be found"; the
    key's account is decoded offline, and both commands refuse it the same way."""
    as_operator(monkeypatch, moto, ACCOUNT_B)
    user = unique("elsewhere")
    key, secret = moto.new_user(user, ACCOUNT_A)
    audit = tmp_path / "audit.jsonl"
    before = updates(moto)
    if command == "deactivate":
        args: tuple[str, ...] = (report(tmp_path, key_finding(key, secret)), "--apply")
    else:
        args = (key,)
    code = run(moto, command, *args, "--yes", "--audit-log", str(audit))
    said = "".join(capsys.readouterr())
    assert code == (EXIT_FINDINGS if command == "deactivate" else EXIT_ERROR)
    assert f"key belongs to account {ACCOUNT_A}" in said and f"in account {ACCOUNT_B}" in said
    assert "NoSuchEntity" not in said
    assert updates(moto) == before
    assert moto.key_status(user, key) == "Active"
    [record] = audit_records(audit)
    assert record["action"] == "refused" and record["operator_arn"].endswith(
        f"{ACCOUNT_B}:user/admin"
    )


def test_refuses_the_key_the_operator_signs_with(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    user = unique("operator")
    key, secret = moto.new_user(user)
    moto.admin("iam").attach_user_policy(
        UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)  # the leaked key is the operator's own
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    audit = tmp_path / "audit.jsonl"
    before = updates(moto)
    path = report(tmp_path, key_finding(key, secret))
    code = run(moto, "deactivate", path, "--apply", "--yes", "--audit-log", str(audit))
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS
    assert f"refused {key}: this is the key keysweep signs with" in out
    assert updates(moto) == before
    assert moto.key_status(user, key) == "Active"
    [record] = audit_records(audit)
    assert record["action"] == "refused" and record["key_id"] == key
    assert secret not in out and secret not in audit.read_text()


def test_refuses_root_keys(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from moto.iam.utils import generate_access_key_id_from_account_id

    as_operator(monkeypatch, moto, ACCOUNT_A)
    root_key = generate_access_key_id_from_account_id(ACCOUNT_A, "AKIA")
    finding = dataclasses.replace(
        key_finding(root_key, fake_secret(random.Random(21))),
        verification=Verification("live", account=ACCOUNT_A, arn=f"arn:aws:iam::{ACCOUNT_A}:root"),
    )
    audit = tmp_path / "audit.jsonl"
    before = updates(moto)
    code = run(
        moto, "deactivate", report(tmp_path, finding), "--apply", "--yes", "--audit-log", str(audit)
    )
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS
    assert "root user access key" in out and "REFUSED" in out
    assert updates(moto) == before
    assert [r["action"] for r in audit_records(audit)] == ["refused"]


def test_refuses_temporary_keys_with_revoke_guidance(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    role = unique("leaky-role")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_A}:user/admin"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    arn = moto.admin("iam").create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]
    creds = moto.admin("sts").assume_role(RoleArn=arn, RoleSessionName="ci")["Credentials"]
    finding = key_finding(
        creds["AccessKeyId"], creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    code = run(moto, "deactivate", report(tmp_path, finding), "--apply", "--yes")
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS
    assert "temporary (ASIA) credentials cannot be deactivated" in out
    assert f"put-role-policy --role-name {role}" in out and "aws:TokenIssueTime" in out
    assert creds["SessionToken"] not in out and creds["SecretAccessKey"] not in out


def test_nothing_live_nothing_planned(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    key, _ = moto.new_user(unique("notlive"))
    path = report(tmp_path, key_finding(key, fake_secret(random.Random(22))))
    assert run(moto, "deactivate", path, "--apply", "--yes") == EXIT_CLEAN
    assert "Nothing to deactivate" in capsys.readouterr().out


def test_rerun_after_apply_leaves_an_inactive_key_alone(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("rerun")
    key, secret = moto.new_user(user)
    live = Verification("live", account=ACCOUNT_A, arn=f"arn:aws:iam::{ACCOUNT_A}:user/{user}")
    path = report(tmp_path, dataclasses.replace(key_finding(key, secret), verification=live))
    audit = tmp_path / "audit.jsonl"
    args = ("deactivate", path, "--audit-log", str(audit))
    assert run(moto, *args, "--apply", "--yes") == EXIT_CLEAN
    assert moto.key_status(user, key) == "Inactive"
    capsys.readouterr()
    before, records = updates(moto), len(audit_records(audit))
    for extra in ((), ("--apply", "--yes")):  # the report still says live: dry run, then apply
        assert run(moto, *args, *extra) == EXIT_CLEAN
        out = capsys.readouterr().out
        assert "already inactive" in out and "already Inactive (iam:ListAccessKeys)" in out
        assert "deactivated" not in out
    assert updates(moto) == before
    new = audit_records(audit)[records:]
    assert [(r["action"], r["result"]) for r in new] == [("refused", "already Inactive")] * 2


@pytest.mark.parametrize("user_given", [False, True], ids=["looked-up", "--user"])
def test_reactivate_an_active_key_says_so_and_changes_nothing(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, user_given: bool
) -> None:
    """It said "reactivated" for a key that was never deactivated; now, as deactivate does
    for an inactive key: said, audited ``refused`` / ``already Active``, exit 0, no update and
    no question (stdin is empty: a prompt would read "" and refuse)."""
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("still-active")
    key, secret = moto.new_user(user)
    audit = tmp_path / "audit.jsonl"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    before = updates(moto)
    args = ["reactivate", key, "--audit-log", str(audit), *(["--user", user] if user_given else [])]
    assert run(moto, *args) == EXIT_CLEAN
    captured = capsys.readouterr()
    assert f"{key}: already Active (iam:ListAccessKeys): nothing to do" in captured.out
    assert "reactivated" not in captured.out and "Type" not in captured.err
    assert updates(moto) == before
    assert moto.key_status(user, key) == "Active"
    [record] = audit_records(audit)
    assert (record["action"], record["result"]) == ("refused", "already Active")
    assert record["key_id"] == key and record["user"] == user
    assert secret not in audit.read_text()


SELF_SERVICE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:UpdateAccessKey", "iam:ListAccessKeys"],
                "Resource": "*",
            }
        ],
    }
)


def test_use_leaked_key_deactivates_itself_when_allowed(
    moto: MotoServer, tmp_path: Path, capsys: Any
) -> None:
    # No operator credentials at all: AWS_ACCESS_KEY_ID is the dummy "testing".
    user = unique("selfservice")
    key, secret = moto.new_user(user)
    moto.admin("iam").put_user_policy(UserName=user, PolicyName="self", PolicyDocument=SELF_SERVICE)
    path = report(tmp_path, key_finding(key, secret))
    code = run(moto, "deactivate", path, "--use-leaked-key", "--apply", "--yes")
    out = capsys.readouterr().out
    assert code == EXIT_CLEAN, out
    assert moto.key_status(user, key) == "Inactive"
    assert moto.count(lambda s: s.key_id == "testing") == 0
    assert secret not in out


def test_use_leaked_key_usually_fails_with_guidance(
    moto: MotoServer, tmp_path: Path, capsys: Any
) -> None:
    user = unique("quarantined")
    key, secret = moto.new_user(user)
    audit = tmp_path / "audit.jsonl"
    path = report(tmp_path, key_finding(key, secret))
    code = run(
        moto, "deactivate", path, "--use-leaked-key", "--apply", "--yes", "--audit-log", str(audit)
    )
    out = capsys.readouterr().out
    assert code == EXIT_ERROR
    assert "FAILED" in out and "AWSCompromisedKeyQuarantine" in out
    assert moto.key_status(user, key) == "Active"
    assert [r["action"] for r in audit_records(audit)] == ["planned", "failed"]
    assert secret not in audit.read_text()


def test_no_operator_credentials_is_one_clear_error(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    key, secret = moto.new_user(unique("noop"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert run(moto, "deactivate", report(tmp_path, key_finding(key, secret))) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "no operator AWS credentials" in err
    assert "--use-leaked-key" in err  # deactivate's other way
    assert "Traceback" not in err and secret not in err
    # reactivate has no such option, so its error does not offer it
    assert run(moto, "reactivate", key, "--yes") == EXIT_ERROR
    err = capsys.readouterr().err
    assert "no operator AWS credentials" in err and "--use-leaked-key" not in err


def test_config_deny_list_is_respected(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto, ACCOUNT_A)
    user = unique("denied")
    key, secret = moto.new_user(user)
    path = report(tmp_path, key_finding(key, secret))
    (tmp_path / ".keysweep.toml").write_text(f'[verify]\ndeny_accounts = ["{ACCOUNT_A}"]\n')
    before = updates(moto)
    assert run(moto, "deactivate", path, "--apply", "--yes") == EXIT_CLEAN
    assert "Nothing to deactivate" in capsys.readouterr().out  # skipped, never verified
    assert moto.count(lambda s: s.key_id == key) == 0  # the key itself was never used
    assert updates(moto) == before
    assert moto.key_status(user, key) == "Active"


def test_default_audit_log_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanner.verify.audit import AuditLog, default_audit_log_path

    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_audit_log_path() == tmp_path / ".local/state/keysweep/audit.jsonl"
    entry = AuditLog().record(
        action="planned",
        result="dry-run",
        key_id="AKIAIOSFODNN7EXAMPLE",
        account=None,
        user="u",
        operator_arn="arn:aws:iam::123456789012:user/admin",
    )
    written = (tmp_path / ".local/state/keysweep/audit.jsonl").read_text()
    assert json.loads(written) == entry
    assert (tmp_path / ".local/state/keysweep/audit.jsonl").stat().st_mode & 0o777 == 0o600
