"""AWS's other partitions (China, GovCloud), end to end against moto on 127.0.0.1.

A key issued in ``aws-cn`` or ``aws-us-gov`` is checked, analyzed and deactivated in that
partition (``--aws-region`` picks it, as the AWS CLI's region does): its ARN says
``arn:aws-cn:...``, and every step that reads an ARN (the user's name, the operator's account,
AWS's own managed policies) reads it whatever the partition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.moto_server import ACCOUNT_A, PARTITION_REGIONS, MotoServer, sign_as, unique

from scanner.cli import EXIT_CLEAN, EXIT_LIVE_KEY, main

pytestmark = pytest.mark.usefixtures("aws_env", "in_tmp_path")

PARTITIONS = [p for p in PARTITION_REGIONS if p != "aws"]


def aws(moto: MotoServer, partition: str) -> list[str]:
    return ["--aws-endpoint-url", moto.endpoint, "--aws-region", PARTITION_REGIONS[partition]]


def key_finding(report: Path) -> dict[str, Any]:
    [finding] = [
        f for f in json.loads(report.read_text())["findings"] if f["rule_id"] == "aws-access-key-id"
    ]
    return dict(finding)


@pytest.mark.parametrize("partition", PARTITIONS)
def test_verify_analyze_and_deactivate_in_the_keys_partition(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partition: str
) -> None:
    user = unique(f"{partition}-leak")
    key, secret = moto.new_user(user, partition=partition)
    moto.admin("iam", partition=partition).attach_user_policy(
        UserName=user, PolicyArn=f"arn:{partition}:iam::aws:policy/AdministratorAccess"
    )
    leak = tmp_path / "leak.env"
    leak.write_text(f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n")
    report = tmp_path / "report.json"
    scan = ["scan", str(leak), "--verify", "-f", "json", "-o", str(report)]
    assert main([*scan, *aws(moto, partition)]) == EXIT_LIVE_KEY
    verification = key_finding(report)["verification"]
    assert verification["status"] == "live" and verification["account"] == ACCOUNT_A
    assert verification["arn"] == f"arn:{partition}:iam::{ACCOUNT_A}:user/{user}"

    sign_as(monkeypatch, *moto.partition_admins[partition])
    radius_report = tmp_path / "radius.json"
    analyze = ["analyze", str(report), "-f", "json", "-o", str(radius_report)]
    analyze += aws(moto, partition)
    assert main(analyze) == EXIT_LIVE_KEY
    radius = key_finding(radius_report)["blast_radius"]
    assert radius["principal"] == "iam-user" and radius["user"] == user
    assert radius["grants"] == ["AWS managed AdministratorAccess"]
    assert radius["admin_equivalent"] is True

    audit_log = tmp_path / "audit.jsonl"
    deactivate = ["deactivate", str(report), "--apply", "--yes", "--audit-log", str(audit_log)]
    assert main([*deactivate, *aws(moto, partition)]) == EXIT_CLEAN
    assert moto.key_status(user, key, partition=partition) == "Inactive"
    applied = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [(a["action"], a["user"]) for a in applied if a["action"] == "applied"] == [
        ("applied", user)
    ]
    assert secret not in report.read_text() + radius_report.read_text() + audit_log.read_text()


def test_a_key_of_one_partition_is_not_found_in_another(moto: MotoServer, tmp_path: Path) -> None:
    """The same moto, asked in the wrong partition: the key is unknown there, so not live
    (``invalid``), never live by mistake."""
    key, secret = moto.new_user(unique("cn-only"), partition="aws-cn")
    leak = tmp_path / "leak.env"
    leak.write_text(f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n")
    report = tmp_path / "report.json"
    scan = ["scan", str(leak), "--verify", "-f", "json", "-o", str(report)]
    assert main([*scan, *aws(moto, "aws")]) != EXIT_LIVE_KEY
    assert key_finding(report)["verification"]["status"] == "invalid"
