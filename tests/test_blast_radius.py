"""Blast radius (``keysweep analyze`` and ``--verify --exposure``), against moto on 127.0.0.1.

Users with groups, AWS-managed, customer-managed and inline policies, an MFA device and a
second key are created in moto; the report is a default (redacted) one; every IAM call is
signed by the operator, never by the leaked key, and only reads.
"""

from __future__ import annotations

import dataclasses
import json
import re
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
    sign_as,
    unique,
)

from scanner.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_LIVE_KEY, main
from scanner.errors import InputError
from scanner.models import (
    BlastRadius,
    PrincipalKind,
    ScanResult,
    ScanSummary,
    Severity,
    Verification,
)
from scanner.report import json as json_report
from scanner.report import reporter
from scanner.verify.blast_radius import admin_grants

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: object, resource: object = "*", **extra: object) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# -- pure parts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("document", "grants"),
    [
        (policy(allow("*")), ["p: * on *"]),
        (policy(allow("*:*")), ["p: *:* on *"]),
        (policy(allow(["s3:GetObject", "iam:*"])), ["p: iam:* on *"]),
        (policy(allow("IAM:*", ["arn:aws:s3:::b", "*"])), ["p: IAM:* on *"]),
        (
            policy(allow("iam:*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
            ["p: iam:* on * (with a condition)"],
        ),
        (json.loads(policy(allow("*"))), ["p: * on *"]),  # boto3 hands back parsed documents
        (
            "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C"
            "%22Resource%22%3A%22*%22%7D%7D",
            ["p: * on *"],
        ),
        (policy(allow("iam:*", "arn:aws:iam::123456789012:user/x")), []),  # not every resource
        (policy(allow("iam:Get*")), []),
        (policy(allow("s3:GetObject")), []),
        (policy({"Effect": "Deny", "Action": "*", "Resource": "*"}), []),
        (policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}), []),
        ("not json", []),
        (None, []),
    ],
)
def test_admin_grants(document: object, grants: list[str]) -> None:
    assert admin_grants("p", document) == grants


RADIUS = BlastRadius(
    principal=PrincipalKind.IAM_USER,
    arn=f"arn:aws:iam::{ACCOUNT_A}:user/ci",
    user="ci",
    groups=("deployers",),
    attached_policies=("AdministratorAccess",),
    admin_equivalent=True,
    grants=("AWS managed AdministratorAccess",),
    mfa_enabled=False,
    other_active_keys=("AKIA" + "Z" * 16,),
    errors=("iam:SimulatePrincipalPolicy: AccessDenied: no",),
)


def _result(radius: BlastRadius | None) -> ScanResult:
    finding = dataclasses.replace(
        key_finding("AKIA" + "Q" * 16, "s" * 40),
        identifier=True,
        verification=Verification("live", account=ACCOUNT_A, arn=RADIUS.arn),
        blast_radius=radius,
    )
    return ScanResult((finding,), ScanSummary(mode="scan", target="."))


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "github", "gitlab"])
def test_every_format_says_admin_equivalent_and_only_when_set(fmt: str) -> None:
    render = reporter(fmt).render
    with_radius = render(_result(RADIUS), show_secrets=False)
    without = render(_result(None), show_secrets=False)
    assert "blast" not in without.lower()
    assert "ADMIN-EQUIVALENT" in with_radius or '"admin_equivalent": true' in with_radius
    assert "s" * 40 not in with_radius


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("principal", "god", "blast_radius: unknown principal 'god'"),
        ("mfa_enabled", "yes", "blast_radius: 'mfa_enabled' must be true or false"),
        ("other_active_keys", [1], "blast_radius: 'other_active_keys[0]' must be a string"),
    ],
)
def test_reading_a_malformed_radius_names_the_key(key: str, value: object, message: str) -> None:
    """The reader is built on scanner.schema.Node, like the rest of the JSON reader."""
    data = json.loads(json_report.render(_result(RADIUS), show_secrets=False))
    data["findings"][0]["blast_radius"][key] = value
    with pytest.raises(InputError, match=re.escape(f"finding 1: {message}")):
        json_report.result_from_json(data)


def test_json_round_trip_and_byte_identical_without_radius(tmp_path: Path) -> None:
    text = json_report.render(_result(RADIUS), show_secrets=False)
    data = json.loads(text)["findings"][0]["blast_radius"]
    assert data["principal"] == "iam-user" and data["admin_equivalent"] is True
    assert data["mfa_enabled"] is False and data["high_risk_actions_allowed"] is None
    path = tmp_path / "r.json"
    path.write_text(text)
    assert json_report.load_report(path).findings[0].blast_radius == RADIUS
    doc = json.loads(text)
    del doc["findings"][0]["blast_radius"]  # the only difference: older output is unchanged
    plain = json_report.render(_result(None), show_secrets=False)
    assert plain == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- against moto ------------------------------------------------------------------------------
def analyze(moto: MotoServer, report: str, out: Path) -> tuple[int, list[dict[str, Any]]]:
    code = main(
        ["analyze", report, "-f", "json", "-o", str(out), "--aws-endpoint-url", moto.endpoint]
    )
    findings = json.loads(out.read_text())["findings"] if out.exists() else []
    return code, findings


@dataclasses.dataclass(frozen=True)
class Users:
    admin_managed: tuple[str, str, str]  # (user, key, secret)
    iam_in_group: tuple[str, str, str]
    harmless: tuple[str, str, str]
    second_key: str
    group: str
    star: str


def make_users(moto: MotoServer) -> Users:
    iam = moto.admin("iam")
    admin = unique("br-admin")
    admin_key = moto.new_user(admin)
    iam.attach_user_policy(UserName=admin, PolicyArn=ADMIN_ARN)

    member = unique("br-member")
    member_key = moto.new_user(member)
    group = unique("br-ops")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=member)
    iam.put_group_policy(
        GroupName=group, PolicyName="iam-all", PolicyDocument=policy(allow("iam:*"))
    )
    star = unique("br-star")
    arn = iam.create_policy(PolicyName=star, PolicyDocument=policy(allow("*:*")))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)  # customer managed, read by version
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("br-mfa"))
    iam.enable_mfa_device(
        UserName=member,
        SerialNumber=serial["VirtualMFADevice"]["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    second = iam.create_access_key(UserName=member)["AccessKey"]["AccessKeyId"]

    reader = unique("br-reader")
    reader_key = moto.new_user(reader)
    iam.put_user_policy(
        UserName=reader, PolicyName="read-s3", PolicyDocument=policy(allow("s3:GetObject"))
    )
    managed = iam.create_policy(
        PolicyName=unique("br-list"), PolicyDocument=policy(allow("iam:List*"))
    )
    iam.attach_user_policy(UserName=reader, PolicyArn=managed["Policy"]["Arn"])
    return Users(
        admin_managed=(admin, *admin_key),
        iam_in_group=(member, *member_key),
        harmless=(reader, *reader_key),
        second_key=str(second),
        group=group,
        star=star,
    )


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_analyze_a_default_report(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    as_operator(monkeypatch, moto)
    users = make_users(moto)
    root_key = "AKIA" + "R" * 16
    root = dataclasses.replace(
        key_finding(root_key, "r" * 40),
        severity=Severity.HIGH,
        verification=Verification("live", account=ACCOUNT_A, arn=f"arn:aws:iam::{ACCOUNT_A}:root"),
    )
    findings = [
        dataclasses.replace(key_finding(key, secret), severity=Severity.HIGH)
        for _, key, secret in (users.admin_managed, users.iam_in_group, users.harmless)
    ]
    report = default_report(tmp_path / "leaks.json", *findings, root)
    seen_before = len(moto.requests())

    code, out = analyze(moto, report, tmp_path / "radius.json")

    assert code == EXIT_LIVE_KEY
    radius = {f["secret"]: f["blast_radius"] for f in out}
    severity = {f["secret"]: f["severity"] for f in out}

    admin = radius[users.admin_managed[1]]
    assert admin["principal"] == "iam-user" and admin["user"] == users.admin_managed[0]
    assert admin["attached_policies"] == ["AdministratorAccess"]
    assert admin["grants"] == ["AWS managed AdministratorAccess"]
    assert admin["admin_equivalent"] is True and admin["mfa_enabled"] is False
    assert admin["other_active_keys"] == []

    member = radius[users.iam_in_group[1]]
    assert member["groups"] == [users.group]
    assert member["inline_policies"] == [f"iam-all (group {users.group})"]
    assert member["attached_policies"] == [f"{users.star} (group {users.group})"]
    assert member["grants"] == [
        f"{users.star} (group {users.group}): *:* on *",
        f"iam-all (group {users.group}): iam:* on *",
    ]
    assert member["admin_equivalent"] is True and member["mfa_enabled"] is True
    assert member["other_active_keys"] == [users.second_key]

    reader = radius[users.harmless[1]]
    assert reader["admin_equivalent"] is False and reader["grants"] == []
    assert reader["inline_policies"] == ["read-s3"] and len(reader["attached_policies"]) == 1

    top = radius[root_key]
    assert top["principal"] == "root" and top["admin_equivalent"] is True
    assert top["arn"] == f"arn:aws:iam::{ACCOUNT_A}:root" and top["user"] is None

    assert severity == {
        users.admin_managed[1]: "critical",
        users.iam_in_group[1]: "critical",
        users.harmless[1]: "high",  # live, but not admin-equivalent: unchanged
        root_key: "critical",
    }
    # moto has no SimulatePrincipalPolicy: recorded, not fatal
    assert reader["high_risk_actions_allowed"] is None
    assert any(e.startswith("iam:SimulatePrincipalPolicy:") for e in reader["errors"])

    calls = moto.requests()[seen_before:]
    leaked = {users.admin_managed[1], users.iam_in_group[1], users.harmless[1], root_key}
    assert not [c for c in calls if c.key_id in leaked]  # never signed with a leaked key
    assert {c.key_id for c in calls} == {moto.admins[ACCOUNT_A][0]}
    writes = [c.action for c in calls if not c.action.startswith(("Get", "List", "Simulate"))]
    assert writes == []  # read-only
    for secret in ("r" * 40, users.admin_managed[2], users.iam_in_group[2]):
        assert secret not in (tmp_path / "radius.json").read_text()


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_assumed_role_policies(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_operator(monkeypatch, moto)
    iam = moto.admin("iam")
    role = unique("br-role")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT_A}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=role, PolicyName="ops", PolicyDocument=policy(allow("*")))
    arn = f"arn:aws:sts::{ACCOUNT_A}:assumed-role/{role}/ci-session"
    finding = dataclasses.replace(
        key_finding("ASIA" + "T" * 16, "t" * 40, token="tok" * 30),
        severity=Severity.HIGH,
        verification=Verification("live", account=ACCOUNT_A, arn=arn),
    )
    code, out = analyze(moto, default_report(tmp_path / "l.json", finding), tmp_path / "o.json")
    assert code == EXIT_LIVE_KEY and out[0]["severity"] == "critical"
    radius = out[0]["blast_radius"]
    assert radius["principal"] == "assumed-role" and radius["user"] is None
    assert radius["inline_policies"] == [f"ops (role {role})"]
    assert radius["grants"] == [f"ops (role {role}): * on *"]
    assert radius["mfa_enabled"] is None and radius["other_active_keys"] is None


def operate_denied(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    """Act as an auditor who may read IAM, except ``action``."""
    auditor = unique("br-auditor")
    auditor_key, auditor_secret = moto.new_user(auditor)
    moto.admin("iam").put_user_policy(
        UserName=auditor,
        PolicyName="audit",
        PolicyDocument=policy(
            allow(["iam:Get*", "iam:List*", "sts:GetCallerIdentity"]),
            {"Effect": "Deny", "Action": action, "Resource": "*"},
        ),
    )
    sign_as(monkeypatch, auditor_key, auditor_secret)


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_access_denied_is_recorded_not_fatal(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operate_denied(moto, monkeypatch, "iam:ListMFADevices")
    user = unique("br-target")
    key, secret = moto.new_user(user)
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret))

    code, out = analyze(moto, report, tmp_path / "radius.json")

    assert code == EXIT_LIVE_KEY
    radius = out[0]["blast_radius"]
    assert radius["mfa_enabled"] is None  # not known: the call was denied
    denied = [e.split(":")[1] for e in radius["errors"] if "AccessDenied" in e]
    assert denied == ["SimulatePrincipalPolicy", "ListMFADevices"]  # neither is allowed
    assert radius["high_risk_actions_allowed"] is None
    assert radius["user"] == user and radius["other_active_keys"] == []  # the rest was read


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_policies_not_read_is_admin_equivalent_unknown_not_false(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    operate_denied(moto, monkeypatch, "iam:ListAttachedUserPolicies")
    user = unique("br-admin")
    key, secret = moto.new_user(user)
    moto.admin("iam").attach_user_policy(UserName=user, PolicyArn=ADMIN_ARN)  # unseen admin
    report = default_report(tmp_path / "leaks.json", key_finding(key, secret))

    code, out = analyze(moto, report, tmp_path / "radius.json")

    assert code == EXIT_LIVE_KEY
    radius = out[0]["blast_radius"]
    assert radius["admin_equivalent"] is None
    assert any("ListAttachedUserPolicies" in e for e in radius["errors"])
    capsys.readouterr()
    assert main(["analyze", report, "--aws-endpoint-url", moto.endpoint]) == EXIT_LIVE_KEY
    captured = capsys.readouterr()
    table = captured.out
    assert "admin-equivalent UNKNOWN" in table and "not admin-equivalent" not in table
    assert f"keysweep deactivate {report} --aws-profile PROFILE" in captured.err  # what to do


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_a_key_of_another_account_is_not_asked_about(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_operator(monkeypatch, moto)
    arn = f"arn:aws:iam::{ACCOUNT_B}:user/elsewhere"
    finding = dataclasses.replace(
        key_finding("AKIA" + "B" * 16, "b" * 40),
        verification=Verification("live", account=ACCOUNT_B, arn=arn),
    )
    before = len(moto.requests())
    code, out = analyze(moto, default_report(tmp_path / "l.json", finding), tmp_path / "o.json")
    assert code == EXIT_LIVE_KEY
    radius = out[0]["blast_radius"]
    assert radius["principal"] == "iam-user" and radius["admin_equivalent"] is None  # not asked
    assert f"account {ACCOUNT_B}" in radius["errors"][0]
    # the exposure check's one lookup, the operator's identity, and no blast-radius call
    actions = {c.action for c in moto.requests()[before:]}
    assert actions == {"GetAccessKeyLastUsed", "GetCallerIdentity"}


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_analyze_without_operator_credentials_is_one_line_exit_2(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    finding = dataclasses.replace(
        key_finding("AKIA" + "C" * 16, "c" * 40),
        verification=Verification("live", account=ACCOUNT_A, arn=f"arn:aws:iam::{ACCOUNT_A}:root"),
    )
    code, _ = analyze(moto, default_report(tmp_path / "l.json", finding), tmp_path / "o.json")
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and not (tmp_path / "o.json").exists()
    assert len(err.strip().splitlines()) == 1 and "operator AWS credentials" in err


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_analyze_with_aws_unreachable_writes_the_report_with_unknown_radii(
    tmp_path: Path, capsys: Any
) -> None:
    """Credentials are set but nobody answers: not the one-line "no credentials" error. Each
    live key's radius is unknown and says why, as a failed IAM call would (it was exit 2, an
    exposure line, and no report)."""
    user_key, root_key = "AKIA" + "U" * 16, "AKIA" + "R" * 16
    findings = [
        dataclasses.replace(
            key_finding(key, secret * 40),
            severity=Severity.HIGH,
            verification=Verification("live", account=ACCOUNT_A, arn=arn),
        )
        for key, secret, arn in (
            (user_key, "u", f"arn:aws:iam::{ACCOUNT_A}:user/ci"),
            (root_key, "r", f"arn:aws:iam::{ACCOUNT_A}:root"),
        )
    ]
    report, out = default_report(tmp_path / "l.json", *findings), tmp_path / "o.json"
    for fmt, output in (("json", str(out)), ("table", "-")):
        args = ["analyze", report, "-f", fmt, "-o", output, "--aws-timeout", "2"]
        assert main([*args, "--aws-endpoint-url", "http://127.0.0.1:9"]) == EXIT_LIVE_KEY
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and "error:" not in captured.err
    assert "blast radius: iam-user, admin-equivalent UNKNOWN" in captured.out
    doc = json.loads(out.read_text())
    radius = {f["secret"]: f["blast_radius"] for f in doc["findings"]}
    severity = {f["secret"]: f["severity"] for f in doc["findings"]}
    for key in (user_key, root_key):
        [error] = radius[key]["errors"]
        assert error.startswith("sts:GetCallerIdentity: cannot reach STS")
        assert radius[key]["mfa_enabled"] is None and radius[key]["other_active_keys"] is None
        assert radius[key]["high_risk_actions_allowed"] is None
    assert radius[user_key]["principal"] == "iam-user"
    assert radius[user_key]["admin_equivalent"] is None  # unknown, never "not admin"
    assert radius[root_key]["admin_equivalent"] is True  # the ARN alone says so
    assert severity == {user_key: "high", root_key: "critical"}
    notes = doc["scan"]["notes"]
    assert any(n.startswith("blast radius incomplete: cannot reach STS") for n in notes)


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_scan_verify_exposure_adds_the_blast_radius(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_operator(monkeypatch, moto)
    user = unique("br-scan")
    key, secret = moto.new_user(user)
    moto.admin("iam").attach_user_policy(UserName=user, PolicyArn=ADMIN_ARN)
    project = tmp_path / "project"
    project.mkdir()
    (project / "settings.env").write_text(
        f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n"
    )
    out = tmp_path / "scan.json"
    args = ["scan", str(project), "--verify", "--exposure", "-f", "json", "-o", str(out)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_LIVE_KEY
    [finding] = [f for f in json.loads(out.read_text())["findings"] if f["secret"] == key]
    assert finding["verification"]["status"] == "live"
    assert finding["blast_radius"]["admin_equivalent"] is True
    assert finding["blast_radius"]["attached_policies"] == ["AdministratorAccess"]
    assert secret not in out.read_text()

    plain = tmp_path / "plain.json"
    args = ["scan", str(project), "--verify", "-f", "json", "-o", str(plain)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_LIVE_KEY
    assert all("blast_radius" not in f for f in json.loads(plain.read_text())["findings"])


@pytest.mark.parametrize("module", ["scanner.verify.blast_radius", "scanner.cli.analyze"])
def test_blast_radius_modules_import_lightly(module: str) -> None:
    from test_verify_imports import test_verify_modules_import_lightly

    test_verify_modules_import_lightly(module)  # no boto3 until an AWS call is made


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_a_user_with_a_path_keeps_it_in_the_arn(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A default report has no verdict: the key's ARN comes from IAM (iam:GetUser), path and
    all, not built from the user name (``user/NAME`` names another principal)."""
    as_operator(monkeypatch, moto)
    iam = moto.admin("iam")
    user = unique("br-pathed")
    arn = iam.create_user(UserName=user, Path="/team/ops/")["User"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_A}:user/team/ops/{user}"
    key = iam.create_access_key(UserName=user)["AccessKey"]
    finding = key_finding(key["AccessKeyId"], key["SecretAccessKey"])
    code, out = analyze(moto, default_report(tmp_path / "l.json", finding), tmp_path / "o.json")
    assert code == EXIT_LIVE_KEY
    (found,) = out
    assert found["verification"]["arn"] == arn
    assert found["blast_radius"]["arn"] == arn and found["blast_radius"]["user"] == user


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_a_key_deactivated_since_the_report_is_not_analyzed_as_live(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The report says live (verified then); deactivate ran since: IAM's Inactive wins, the
    key gets no blast radius and the exit code is no longer 3. A key still Active keeps it."""
    as_operator(monkeypatch, moto)
    iam = moto.admin("iam")
    findings = []
    for name in ("br-since", "br-still"):
        user = unique(name)
        key, secret = moto.new_user(user)
        arn = f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
        verdict = Verification("live", account=ACCOUNT_A, arn=arn)
        findings.append((user, dataclasses.replace(key_finding(key, secret), verification=verdict)))
    (gone_user, gone), (_, still) = findings
    iam.update_access_key(UserName=gone_user, AccessKeyId=gone.secret, Status="Inactive")

    report = default_report(tmp_path / "l.json", gone, still)
    seen_before = len(moto.requests())
    code, out = analyze(moto, report, tmp_path / "o.json")
    assert code == EXIT_LIVE_KEY  # the other key is still live
    asked = [c.action for c in moto.requests()[seen_before:]]
    assert asked.count("GetAccessKeyLastUsed") == 2  # once per key: the recheck's and exposure's
    by_key = {f["secret"]: f for f in out}
    assert by_key[gone.secret]["verification"]["status"] == "invalid"
    assert "Inactive" in by_key[gone.secret]["verification"]["detail"]
    assert "blast_radius" not in by_key[gone.secret]
    assert by_key[still.secret]["verification"]["status"] == "live"
    assert by_key[still.secret]["blast_radius"]["user"] is not None
    notes = json.loads((tmp_path / "o.json").read_text())["scan"]["notes"]
    assert f"1 key(s) live in the report are inactive now ({gone.secret})" in " ".join(notes)

    alone = default_report(tmp_path / "gone.json", gone)
    capsys.readouterr()
    assert main(["analyze", alone, "--aws-endpoint-url", moto.endpoint]) == EXIT_FINDINGS
    assert "live AWS key" not in capsys.readouterr().err


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_without_iam_get_user_the_built_arn_says_its_path_is_unknown(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator that may list keys but not read users: the ARN is built from the user's
    name, which names another principal when the user has a path, and the verdict says so."""
    iam = moto.admin("iam")
    operator = unique("br-no-getuser")
    iam.create_user(UserName=operator)
    allow_but_get_user = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*"},
        ],
    }
    iam.put_user_policy(
        UserName=operator, PolicyName="no-getuser", PolicyDocument=json.dumps(allow_but_get_user)
    )
    operator_key = iam.create_access_key(UserName=operator)["AccessKey"]
    sign_as(monkeypatch, operator_key["AccessKeyId"], operator_key["SecretAccessKey"])
    user = unique("br-pathed-hidden")
    iam.create_user(UserName=user, Path="/team/")
    key = iam.create_access_key(UserName=user)["AccessKey"]
    finding = key_finding(key["AccessKeyId"], key["SecretAccessKey"])

    code, out = analyze(moto, default_report(tmp_path / "l.json", finding), tmp_path / "o.json")

    assert code == EXIT_LIVE_KEY
    (found,) = out
    verdict = found["verification"]
    assert verdict["status"] == "live"
    assert verdict["arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/{user}"  # the path is not known
    built = "ARN built from the user name, path unknown (iam:GetUser: AccessDenied"
    assert built in verdict["detail"]
