"""Build the example HTML report shown in docs/html-report.md (and its screenshot).

A small repository is generated from a seed (no network): three authors over about two years,
AWS credentials committed and removed, one still in HEAD, one only on a release tag, a GitHub
token in CI settings. ``keysweep history --format json`` scans it; the script then fills in
verification results of the kind ``keysweep verify --aws-profile ...`` records (one key live
and used after it leaked, one invalid), since no AWS account is involved here, and renders
the HTML report. With ``--screenshot`` it also runs headless Chromium.

    python bench/make_html_example.py --out /tmp/example            # report.html
    python bench/make_html_example.py --out /tmp/example --screenshot docs/html-report.png
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from scanner.models import Verification
from scanner.report import html
from scanner.report.json import result_from_json
from scanner.rules.templates import aws_key_id, aws_secret

# Headless, offline, no first-run or background traffic.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
AUTHORS = {
    "maria": ("Maria Okafor", "maria@shop.example"),
    "jonas": ("Jonas Berg", "jonas@shop.example"),
    "li": ("Li Wei", "li@shop.example"),
}


def _env(author: str, date: str) -> dict[str, str]:
    name, email = AUTHORS[author]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
    )
    return env


def build_repository(path: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    keys = [(aws_key_id(rng), aws_secret(rng)) for _ in range(3)]
    token = "ghp_" + "".join(
        rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(36)
    )

    def git(*args: str, author: str = "maria", date: str = "2024-01-01T10:00:00Z") -> None:
        subprocess.run(["git", *args], cwd=path, env=_env(author, date), check=True,
                       capture_output=True)  # fmt: skip

    def commit(files: dict[str, str | None], message: str, author: str, date: str) -> None:
        for name, text in files.items():
            target = path / name
            if text is None:
                target.unlink()
                git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            git("add", "--", name)
        git("commit", "-q", "-m", message, author=author, date=date)

    path.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    commit({"README.md": "# shop\n", "app/main.py": "print('shop')\n"}, "Initial import",
           "maria", "2024-03-04T09:12:00Z")  # fmt: skip
    prod_env = f"AWS_ACCESS_KEY_ID={keys[0][0]}\nAWS_SECRET_ACCESS_KEY={keys[0][1]}\n"
    commit({"deploy/prod.env": prod_env},
           "Add production deploy settings", "jonas", "2024-05-21T16:40:00Z")  # fmt: skip
    commit({"app/main.py": "print('shop v2')\n"}, "Checkout flow", "li", "2024-09-02T11:05:00Z")
    commit({"deploy/prod.env": None}, "Remove credentials from the repo", "maria",
           "2025-01-14T08:30:00Z")  # fmt: skip
    commit({"scripts/backup.py": f'ACCESS_KEY = "{keys[1][0]}"\nSECRET_KEY = "{keys[1][1]}"\n'},
           "Nightly S3 backup script", "li", "2025-06-10T22:47:00Z")  # fmt: skip
    git("tag", "-a", "v1.4.0", "-m", "release 1.4.0", date="2025-06-11T09:00:00Z")
    commit({"scripts/backup.py": "import os\nACCESS_KEY = os.environ['BACKUP_KEY']\n"},
           "backup: read the key from the environment", "li", "2025-06-12T10:00:00Z")  # fmt: skip
    commit({".github/ci.env": f"GITHUB_TOKEN={token}\n"}, "CI: release token", "jonas",
           "2025-10-03T14:20:00Z")  # fmt: skip
    commit({"config/local.ini": f"aws_access_key_id={keys[2][0]}\n"
            f"aws_secret_access_key={keys[2][1]}\n"},
           'Local profile for debugging', "maria", "2026-01-20T17:55:00Z")  # fmt: skip


def example_report(repo: Path) -> str:
    """The report: keysweep history, then illustrative verification results. The JSON with
    the plain values stays in memory; the HTML redacts them as ``--format html`` does."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            "history",
            str(repo),
            "--format",
            "json",
            "--show-secrets",
        ],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 1:
        raise SystemExit(f"keysweep history failed: {proc.stderr.decode()}")
    result = result_from_json(json.loads(proc.stdout))
    findings = []
    for f in result.findings:
        if f.rule_id == "aws-access-key-id" and f.path == "scripts/backup.py":
            f = replace(f, verification=Verification(
                status="live", account=f.account_id, arn=f"arn:aws:iam::{f.account_id}:user/backup",
                last_used_date="2026-02-27T03:12:00+00:00", last_used_region="eu-west-1",
                last_used_service="s3", used_after_leak=True))  # fmt: skip
        elif f.rule_id == "aws-access-key-id" and f.path == "deploy/prod.env":
            f = replace(
                f, verification=Verification(status="invalid", detail="InvalidClientTokenId")
            )
        findings.append(f)
    result = replace(result, findings=tuple(findings),
                     summary=replace(result.summary, target="shop"))  # fmt: skip
    return html.render(result, show_secrets=False, now=NOW)


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 2300) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                "/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                f"--window-size={width},{height}", f"--screenshot={png.absolute()}",
                page.absolute().as_uri(),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a new directory for repo/ and report.html")
    parser.add_argument("--screenshot", metavar="PNG", help="also render report.html to PNG")
    parser.add_argument("--height", type=int, default=2300)
    args = parser.parse_args()
    out = Path(args.out)
    build_repository(out / "shop")
    page = out / "report.html"
    page.write_text(example_report(out / "shop"))
    print(page)
    if args.screenshot:
        screenshot(page, Path(args.screenshot), height=args.height)
        print(args.screenshot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
