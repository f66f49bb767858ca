"""The whole flow as a user runs it: real detection, real git history, moto on 127.0.0.1.

scan/history --verify -> exposure with used_after_leak -> deactivate --scan -> reactivate.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.moto_server import ACCOUNT_A, MotoServer, unique

from scanner.cli import EXIT_CLEAN, EXIT_FINDINGS, EXIT_LIVE_KEY, main

pytestmark = pytest.mark.usefixtures("aws_env")


def env_file(key: str, secret: str) -> str:
    return f"# deploy\nAWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n"


def git(repo: Path, *args: str, date: str = "2020-01-02T03:04:05+00:00") -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent),
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def key_findings(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return [f for f in data["findings"] if f["rule_id"] == "aws-access-key-id"]


def test_scan_verify_finds_the_live_key(moto: MotoServer, tmp_path: Path) -> None:
    user = unique("scan-live")
    key, secret = moto.new_user(user)
    leak = tmp_path / "leak.env"
    leak.write_text(env_file(key, secret))
    out = tmp_path / "r.json"
    args = ["scan", str(leak), "--verify", "-f", "json", "-o", str(out)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_LIVE_KEY
    [finding] = key_findings(out)
    assert finding["account_id"] == ACCOUNT_A
    assert finding["verification"]["status"] == "live"
    assert finding["verification"]["arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
    assert secret not in out.read_text()  # redacted: --show-secrets was not given


def test_a_live_key_ends_with_what_to_do(moto: MotoServer, tmp_path: Path, capsys: Any) -> None:
    """scan --verify says what to do next, as verify and analyze do: deactivate the JSON
    report just written, or first write one."""
    key, secret = moto.new_user(unique("scan-next"))
    leak = tmp_path / "leak.env"
    leak.write_text(env_file(key, secret))
    out = tmp_path / "r.json"
    endpoint = ["--aws-endpoint-url", moto.endpoint]
    assert main(["scan", str(leak), "--verify", "-f", "json", "-o", str(out), *endpoint]) == 3
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"keysweep: 1 live AWS key(s) ({key}): anyone with the leaked secret")
    assert f"keysweep deactivate {out} --aws-profile PROFILE (dry run)" in last
    assert main(["scan", str(leak), "--verify", *endpoint]) == EXIT_LIVE_KEY
    last = capsys.readouterr().err.splitlines()[-1]
    assert "write this scan's findings as JSON (-f json -o leaks.json), then keysweep " in last
    assert secret not in last
    assert main(["scan", str(leak), "-f", "json", "-o", str(out)]) == EXIT_FINDINGS
    assert "live AWS key" not in capsys.readouterr().err  # no verdict, no advice


def test_scan_without_verify_makes_no_call(moto: MotoServer, tmp_path: Path) -> None:
    key, secret = moto.new_user(unique("scan-quiet"))
    leak = tmp_path / "leak.env"
    leak.write_text(env_file(key, secret))
    before = moto.count()
    out = tmp_path / "r.json"
    assert main(["scan", str(leak), "-f", "json", "-o", str(out)]) == EXIT_FINDINGS
    [finding] = key_findings(out)
    assert finding["verification"] is None
    assert moto.count() == before


def test_history_verify_exposure_used_after_leak(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = unique("hist")
    key, secret = moto.new_user(user)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Dev")
    git(repo, "config", "user.email", "dev@example.com")
    (repo / "deploy.env").write_text(env_file(key, secret))
    git(repo, "add", "deploy.env")
    git(repo, "commit", "-q", "-m", "add deploy config")
    (repo / "deploy.env").unlink()
    git(repo, "rm", "-q", "--cached", "deploy.env")
    git(repo, "commit", "-q", "-m", "remove it", date="2020-01-03T00:00:00+00:00")
    with pytest.raises(Exception, match="AccessDenied"):  # an attacker tries the key
        moto.client("iam", key, secret).list_users()

    admin_key, admin_secret = moto.admins[ACCOUNT_A]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin_secret)
    out = tmp_path / "h.json"
    code = main(
        [
            "history",
            str(repo),
            "--verify",
            "--exposure",
            "--aws-endpoint-url",
            moto.endpoint,
            "-f",
            "json",
            "--show-secrets",
            "-o",
            str(out),
        ]
    )
    assert code == EXIT_LIVE_KEY
    [finding] = key_findings(out)
    assert finding["commit"]["date"].startswith("2020-01-02")
    v = finding["verification"]
    assert v["status"] == "live" and v["last_used_service"] == "iam"
    assert v["used_after_leak"] is True

    # ... and the report feeds deactivation (here from the history report, with --yes)
    assert (
        main(["deactivate", str(out), "--apply", "--yes", "--aws-endpoint-url", moto.endpoint])
        == EXIT_CLEAN
    )
    assert moto.key_status(user, key) == "Inactive"


def test_deactivate_scan_fresh(moto: MotoServer, tmp_path: Path, monkeypatch: Any) -> None:
    user = unique("fresh")
    key, secret = moto.new_user(user)
    leak = tmp_path / "leak.env"
    leak.write_text(env_file(key, secret))
    admin_key, admin_secret = moto.admins[ACCOUNT_A]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin_secret)
    args = ["deactivate", "--scan", str(leak), "--aws-endpoint-url", moto.endpoint]
    assert main(args) == EXIT_CLEAN
    assert moto.key_status(user, key) == "Active"  # dry run
    assert main([*args, "--apply", "--yes"]) == EXIT_CLEAN
    assert moto.key_status(user, key) == "Inactive"


def test_canary_key_marked_offline_and_never_sent(moto: MotoServer, tmp_path: Path) -> None:
    import random

    from moto.iam.utils import generate_access_key_id_from_account_id
    from support.keys import fake_secret

    key = generate_access_key_id_from_account_id("052310077262", "AKIA")  # canarytokens.org
    leak = tmp_path / "leak.env"
    leak.write_text(env_file(key, fake_secret(random.Random(31))))
    plain, verified = tmp_path / "plain.json", tmp_path / "verified.json"
    assert main(["scan", str(leak), "-f", "json", "-o", str(plain)]) == EXIT_FINDINGS
    [finding] = key_findings(plain)
    assert finding["canary"] is True and finding["account_id"] == "052310077262"
    before = moto.count()
    args = ["scan", str(leak), "--verify", "-f", "json", "-o", str(verified)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_FINDINGS
    [finding] = key_findings(verified)
    assert finding["verification"]["status"] == "canary"
    assert moto.count() == before


def test_config_canary_accounts(moto: MotoServer, tmp_path: Path) -> None:
    from support.moto_server import ACCOUNT_B

    key, secret = moto.new_user(unique("own-trap"), ACCOUNT_B)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".keysweep.toml").write_text(f'[verify]\ncanary_accounts = ["{ACCOUNT_B}"]\n')
    (project / "leak.env").write_text(env_file(key, secret))
    out = project.parent / "r.json"
    before = moto.count()
    args = ["scan", str(project), "--verify", "-f", "json", "-o", str(out)]
    assert main([*args, "--aws-endpoint-url", moto.endpoint]) == EXIT_FINDINGS
    [finding] = key_findings(out)
    assert finding["canary"] is True
    assert finding["verification"]["status"] == "canary"
    assert moto.count() == before
