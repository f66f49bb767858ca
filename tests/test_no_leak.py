"""keysweep must never become the leak: with default options no secret value appears in
stdout, stderr, reports of any format, the baseline, the audit log or any other file it
writes. ``--show-secrets`` is the only way to print one (checked too, so the grep can fail).

Keys are planted at run time in a repository's history, work tree and index; one of them
is a real key of a moto IAM server on 127.0.0.1, so verification finds it live and
deactivation plans, applies and logs an action for it. Another verification run goes to a
loopback port nobody listens on (network errors must not echo the secret either).
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fs import written_files
from support.keys import Credential, make_credential
from support.repo import commit_files, git, init_repo
from support.run import assert_no_traceback, run_keysweep

FORMATS = ("table", "json", "sarif", "github", "gitlab")
OPERATOR = {"AWS_ACCESS_KEY_ID": "operatorkeyid", "AWS_SECRET_ACCESS_KEY": "operatorsecret"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _live_moto_key(endpoint: str) -> Credential:
    """An access key of a moto IAM user whose ID is a well-formed (base32) AWS key ID."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=OPERATOR["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=OPERATOR["AWS_SECRET_ACCESS_KEY"],
    )
    iam.create_user(UserName="leaky")
    for _ in range(100):
        key = iam.create_access_key(UserName="leaky")["AccessKey"]
        key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
        if not set(key_id[4:]) & set("0189"):
            return Credential(key_id, secret)
        iam.delete_access_key(UserName="leaky", AccessKeyId=key_id)
    raise AssertionError("moto never produced a base32 key id")


def _refused_port() -> int:
    """A loopback port with nothing listening (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Recorder:
    """Runs keysweep and keeps every byte it printed."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.outputs: list[tuple[str, str, bytes]] = []

    def __call__(
        self, *args: str, cwd: Path, codes: tuple[int, ...] = (1,), stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        proc = run_keysweep(
            args, cwd=cwd, home=self.tmp_path / "home", env=self.env, timeout=180, stdin=stdin
        )
        label = " ".join(args)
        assert_no_traceback(proc)
        assert proc.returncode in codes, f"{label}: exit {proc.returncode}: {proc.stderr!r}"
        self.outputs.append((label, "stdout", proc.stdout))
        self.outputs.append((label, "stderr", proc.stderr))
        return proc


def test_no_secret_leaves_keysweep(tmp_path: Path, moto_endpoint: str) -> None:
    live = _live_moto_key(moto_endpoint)
    old = make_credential("leak-history")
    temp = make_credential("leak-session", temporary=True)
    staged = make_credential("leak-staged")
    planted = (live, old, temp, staged)

    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"deploy/old.env": old.env_text()}, "old key")
    git(repo, "rm", "-q", "deploy/old.env")
    commit_files(
        repo,
        {
            "app/settings.py": (
                f'AWS_ACCESS_KEY_ID = "{live.key_id}"\naws_secret_access_key = "{live.secret}"\n'
            ),
            "ci/session.env": temp.env_text(),
        },
        "app",
    )
    (repo / "staged.env").write_text(staged.env_text())
    git(repo, "add", "staged.env")

    work = tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True)
    secret_input = tmp_path / "secret-input"  # the one file written WITH secrets, on purpose
    secret_input.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**OPERATOR, "TMPDIR": str(scratch)}
    run = Recorder(tmp_path, env)
    refused = f"http://127.0.0.1:{_refused_port()}"

    for fmt in FORMATS:
        run("scan", str(repo), "--format", fmt, cwd=work)
        run("scan", str(repo), "--format", fmt, "--output", f"out/scan.{fmt}", cwd=work)
        run("history", str(repo), "--format", fmt, cwd=work)
        run("history", str(repo), "--format", fmt, "--output", f"out/history.{fmt}", cwd=work)
        run("staged", "--format", fmt, cwd=repo)
    for fmt in FORMATS:
        run("scan", "-", "--format", fmt, cwd=work, stdin=temp.env_text().encode())
    run("baseline", "create", str(repo), "--output", "out/baseline.jsonl", cwd=work, codes=(0, 1))
    run(
        "baseline",
        "create",
        str(repo),
        "--history",
        "--output",
        "out/baseline-history.jsonl",
        cwd=work,
        codes=(0, 1),
    )
    run("baseline", "update", str(repo), "--output", "out/baseline.jsonl", cwd=work, codes=(0, 1))
    run("baseline", "prune", str(repo), "--output", "out/baseline.jsonl", cwd=work, codes=(0, 1))
    # The gate with that baseline: everything known, nothing reported (and nothing leaked).
    run(
        "scan",
        str(repo),
        "--baseline",
        "out/baseline.jsonl",
        "--format",
        "json",
        cwd=work,
        codes=(0,),
    )
    # Verification against a port that refuses connections: "unknown", never the secret.
    for fmt in ("table", "json"):
        run(
            "scan",
            str(repo),
            "--verify",
            "--aws-endpoint-url",
            refused,
            "--aws-timeout",
            "2",
            "--format",
            fmt,
            cwd=work,
            codes=(1, 2),
        )
    # A report with secrets is the input verify and deactivate need; it stays out of the grep.
    report = secret_input / "report.json"
    run("scan", str(repo), "--format", "json", "--show-secrets", "--output", str(report), cwd=work)
    shown = json.loads(report.read_text())
    assert live.secret in json.dumps(shown), "--show-secrets must write the secret"
    for fmt in ("table", "json"):
        run(
            "verify",
            str(report),
            "--aws-endpoint-url",
            refused,
            "--aws-timeout",
            "2",
            "--format",
            fmt,
            cwd=work,
            codes=(0, 1, 2),
        )
        run(
            "verify",
            str(report),
            "--aws-endpoint-url",
            moto_endpoint,
            "--format",
            fmt,
            cwd=work,
            codes=(3,),
        )
    run(
        "scan",
        str(repo),
        "--verify",
        "--aws-endpoint-url",
        moto_endpoint,
        "--format",
        "sarif",
        "--output",
        "out/verified.sarif",
        cwd=work,
        codes=(3,),
    )
    audit = ["--audit-log", "out/audit.jsonl", "--aws-endpoint-url", moto_endpoint]
    run("deactivate", str(report), *audit, cwd=work, codes=(0, 1, 2, 3))
    run("deactivate", str(report), *audit, "--apply", "--yes", cwd=work, codes=(0, 1, 2, 3))
    run("reactivate", live.key_id, *audit, "--yes", cwd=work, codes=(0, 1, 2))
    # An error after findings were made (unwritable output) must not echo them either.
    run("scan", str(repo), "--output", "missing-dir/r.json", cwd=work, codes=(2,))

    assert (out / "audit.jsonl").exists(), "deactivate --audit-log wrote nothing"
    assert (out / "baseline.jsonl").exists() and (out / "baseline-history.jsonl").exists()
    produced = [(label, kind, data) for label, kind, data in run.outputs]
    for root in (work, tmp_path / "home", scratch):
        produced += [(str(p), "file", data) for p, data in written_files(root).items()]
    leaks = [
        (label, kind, value[:6])
        for label, kind, data in produced
        for cred in planted
        for value in cred.values
        if value.encode() in data
    ]
    assert leaks == [], f"secret values leaked into: {leaks}"
    # The grep can find a secret: with --show-secrets it is printed.
    proc = run("scan", str(repo), "--format", "table", "--show-secrets", cwd=work)
    assert live.secret.encode() in proc.stdout
    assert old.secret.encode() not in proc.stdout  # deleted from the work tree
    proc = run("history", str(repo), "--format", "json", "--show-secrets", cwd=work)
    assert old.secret.encode() in proc.stdout
