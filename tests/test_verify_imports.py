"""boto3/botocore are imported only when an AWS call is actually made, and the AWS response
pipeline only when there is a finding to mark or a key to verify."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.keys import env_text
from support.run import probe

PROBE = """
import json, sys
from scanner.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("boto3", "botocore", "moto") if m in sys.modules)
pipeline = "scanner.verify.pipeline" in sys.modules
print(json.dumps({"code": code, "heavy": heavy, "pipeline": pipeline}))
"""


def _run(args: list[str], cwd: Path) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "AWS_EC2_METADATA_DISABLED": "true"}
    return probe(PROBE, args, cwd=cwd, env=env)[0]


def test_scan_without_verify_does_not_import_boto3(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hello')\n")
    result = _run(["scan", "-f", "json", "-o", str(tmp_path / "r.json"), "app.py"], tmp_path)
    assert result == {"code": 0, "heavy": [], "pipeline": False}


def test_staged_does_not_import_boto3(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "app.py").write_text("print('hello')\n")
    subprocess.run([*git, "add", "app.py"], check=True)
    result = _run(["staged"], tmp_path)
    # a clean commit (the pre-commit hook's usual case) skips the AWS stage's imports too
    assert result == {"code": 0, "heavy": [], "pipeline": False}


def test_staged_key_is_marked_offline(tmp_path: Path) -> None:
    """A staged key goes through the AWS stage (canary marking), still without boto3."""
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / ".env").write_text(env_text("staged-import"))
    subprocess.run([*git, "add", ".env"], check=True)
    result = _run(["staged"], tmp_path)
    assert result == {"code": 1, "heavy": [], "pipeline": True}


@pytest.mark.parametrize(
    "module",
    [
        "scanner.verify",
        "scanner.verify.canary",
        "scanner.verify.engine",
        "scanner.verify.exposure",
        "scanner.verify.deactivate",
        "scanner.verify.audit",
        "scanner.cli.aws_options",
        "scanner.cli.verify",
        "scanner.cli.deactivate",
        "scanner.cli.reactivate",
    ],
)
def test_verify_modules_import_lightly(module: str) -> None:
    code = (
        f"import sys, {module}; print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
