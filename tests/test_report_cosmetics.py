"""Human formats (issue 9, cosmetic items): a narrow terminal gets one block per finding
instead of empty cells, an expired baseline entry's note shows in the table and GitHub
annotations (not only JSON), and GitHub annotations neutralise bidi and other invisible
control characters."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.keys import env_text, key_id, make_credential
from support.repo import Repo
from support.run import cli_env, keysweep
from support.samples import sample_result

from scanner.report import github, table
from scanner.report.json import load_report

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("width", [10, 20, 40])
def test_narrow_terminal_gets_one_block_per_finding(width: int) -> None:
    result = sample_result()
    text = ANSI.sub("", table.render_terminal(result, show_secrets=False, width=width))
    joined = re.sub(r"\s+", "", text)  # folded lines joined back
    for finding in result.findings:
        assert re.sub(r"\s+", "", finding.redacted) in joined
        assert finding.rule_id in joined
        assert finding.path.replace(" ", "") in joined
    assert "location:" in joined and "│" not in text


def test_wide_terminal_keeps_the_table() -> None:
    text = table.render_terminal(sample_result(), show_secrets=False, width=160)
    assert "LOCATION" in text


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("a\u202eexe.txt", "a\\u202eexe.txt"),  # right-to-left override
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),  # isolates
        ("a\u200fb", "a\\u200fb"),  # right-to-left mark
        ("a\u2028b", "a\\u2028b"),  # line separator
        ("a\x1bb", "a%1Bb"),
        ("a\nb", "a%0Ab"),
    ],
)
def test_github_neutralises_invisible_characters(name: str, escaped: str) -> None:
    base = sample_result()
    finding = dataclasses.replace(base.findings[0], path=name, notes=(name,))
    line = github.annotation(finding)
    assert name not in line
    assert f"file={escaped}" in line.replace("%2C", ",") and line.endswith(escaped)


def test_expired_baseline_note_in_every_human_format(tmp_path: Path) -> None:
    cred = make_credential("expired-baseline")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".env").write_text(cred.env_text())
    env = cli_env(tmp_path / "home")

    def ks(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scanner", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert ks("baseline", "create", "src", "-o", "b.jsonl").returncode == 0
    lines = (tmp_path / "b.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    for entry in entries[1:]:
        entry["expires"] = "2001-02-03"
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    for fmt in ("table", "github", "json"):
        proc = ks("scan", "src", "--baseline", "b.jsonl", "-f", fmt)
        assert proc.returncode == 1, proc.stderr
        assert "baseline entry expired on 2001-02-03" in proc.stdout, (fmt, proc.stdout)


@pytest.mark.parametrize("width", [80, 90, 100, 110, 140])
def test_a_key_id_is_never_folded_in_a_terminal(width: int, tmp_path: Path) -> None:
    # At 60-100 columns rich gave the SECRET column 14-19 characters: a 20-character key ID
    # was broken over two lines, and a responder copying it got half of it.
    repo = Repo(tmp_path / "repo")
    repo.commit({"deploy/settings/production/.env": env_text("fold")}, "deploy settings")
    report = keysweep("history", str(repo.path), "--format", "json")
    (tmp_path / "report.json").write_text(report.stdout)
    result = load_report(tmp_path / "report.json")
    text = ANSI.sub("", table.render_terminal(result, show_secrets=False, width=width))
    assert key_id("fold") in text
    assert "aws-secret-access-key" in text  # the rule id is whole too
    assert max(len(line) for line in text.splitlines()) <= width
