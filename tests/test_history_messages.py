"""``history`` scans commit messages and annotated tag messages (issue 9, beyond the defects):
a key pasted into "rotated creds: AKIA..." is in every clone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep

JSON = ("--format", "json", "--show-secrets")


def _pasted(seed: str) -> str:
    return (
        "rotated creds\n\n"
        f"aws_access_key_id = {key_id(seed)}\naws_secret_access_key = {secret_key(seed)}\n"
    )


def _history(repo: Repo, *args: str) -> Any:
    run = keysweep("history", str(repo.path), *JSON, *args)
    assert run.code in (0, 1), run.stderr
    return run


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hello\n"}, "start")
    return repo


def test_key_in_a_commit_message(repo: Repo) -> None:
    sha = repo.commit({"app.py": "print(1)\n"}, _pasted("commit-msg"))
    run = _history(repo)
    [found] = run.findings_for(key_id("commit-msg"))
    assert found["path"] == "<commit message>"
    assert (found["line"], found["column"]) == (3, len("aws_access_key_id = ") + 1)
    assert found["commit"]["sha"] == sha
    assert found["commit"]["subject"] == "rotated creds"
    assert found["message"] == {"kind": "commit", "object_id": sha, "ref": None}
    assert found["paired"] and found["paired"][0]["secret"] == secret_key("commit-msg")


def test_messages_scanned_in_a_worker_find_the_same(repo: Repo) -> None:
    # with workers, a forked process scans the messages while the parent attributes the
    # blob findings: the same findings, in the same order, as one process finds
    repo.commit({"creds.env": f"AWS_SECRET_ACCESS_KEY={secret_key('blob')}\n"}, "env")
    repo.commit({"app.py": "print(1)\n"}, _pasted("in-worker"))
    alone = _history(repo, "--jobs", "1").findings
    together = _history(repo, "--jobs", "2").findings
    assert together == alone
    paths = [f["path"] for f in together]
    assert "creds.env" in paths and "<commit message>" in paths


def test_key_in_an_annotated_tag_message(repo: Repo) -> None:
    repo.git("tag", "-a", "v1.0", "-m", _pasted("tag-msg"))
    tag_object = repo.git("rev-parse", "v1.0")
    run = _history(repo)
    [found] = run.findings_for(key_id("tag-msg"))
    assert found["path"] == "<tag message>"
    assert found["line"] == 3
    assert found["commit"] is None
    assert found["message"] == {"kind": "tag", "object_id": tag_object, "ref": "refs/tags/v1.0"}
    assert found["history"]["refs"] == ["refs/tags/v1.0"]


def test_same_message_in_many_commits_is_one_finding_at_the_oldest(repo: Repo) -> None:
    first = repo.commit({"a.txt": "1\n"}, _pasted("cherry"))
    repo.commit({"b.txt": "2\n"}, "unrelated")
    repo.commit({"c.txt": "3\n"}, _pasted("cherry"))  # cherry-picked with its message
    run = _history(repo)
    [found] = run.findings_for(key_id("cherry"))
    assert found["commit"]["sha"] == first
    assert found["history"]["commit_count"] == 2


def test_messages_of_unmerged_branches_and_since_ranges(repo: Repo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "side")
    repo.commit({"s.txt": "s\n"}, _pasted("side-branch"))
    repo.git("checkout", "-q", "main")
    repo.commit({"m.txt": "m\n"}, _pasted("in-range"))
    everything = _history(repo)
    assert everything.findings_for(key_id("side-branch"))
    assert everything.findings_for(key_id("in-range"))
    ranged = _history(repo, "--since", base)
    assert ranged.findings_for(key_id("in-range"))
    assert not ranged.findings_for(key_id("side-branch"))  # not in base..HEAD


def test_message_findings_in_baseline_sarif_and_table(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"app.py": "x\n"}, _pasted("baselined"))
    repo.git("tag", "-a", "v2", "-m", _pasted("tagged-too"))
    baseline = tmp_path / "baseline.jsonl"
    made = keysweep("baseline", "create", str(repo.path), "--history", "--output", str(baseline))
    assert made.code == 0, made.stderr
    assert key_id("baselined") not in baseline.read_text()  # hashes only
    run = keysweep("history", str(repo.path), *JSON, "--baseline", str(baseline))
    assert run.code == 0, (run.stderr, run.stdout)

    sarif = json.loads(keysweep("history", str(repo.path), "--format", "sarif").stdout)
    props = [r["properties"].get("gitMessage") for r in sarif["runs"][0]["results"]]
    assert {p["kind"] for p in props if p} == {"commit", "tag"}

    table = keysweep("history", str(repo.path), "--format", "table")
    assert "v2:<tag message>:3" in table.stdout
    assert "<commit message>:3" in table.stdout


def test_report_with_message_reads_back(repo: Repo, tmp_path: Path) -> None:
    """verify and deactivate read reports back: the message location survives."""
    from scanner.report.json import load_report

    repo.git("tag", "-a", "v3", "-m", _pasted("readback"))
    out = tmp_path / "r.json"
    assert keysweep("history", str(repo.path), *JSON, "-o", str(out)).code == 1
    [finding] = [f for f in load_report(out).findings if f.secret == key_id("readback")]
    assert finding.message is not None and finding.message.ref == "refs/tags/v3"


def test_lightweight_tags_and_empty_messages(repo: Repo) -> None:
    repo.git("tag", "light")
    repo.git("commit", "-q", "--allow-empty", "--allow-empty-message", "-m", "")
    run = _history(repo)
    assert run.code == 0 and run.findings == []


@pytest.mark.parametrize("fmt", ["json", "html", "gitlab"])
def test_a_secret_in_a_commit_subject_is_redacted_in_every_report(repo: Repo, fmt: str) -> None:
    # The subject of the commit that leaked a secret in its own message *is* the leak: the
    # reports printed it in full (commit.subject, the HTML card, GitLab's commit message).
    secret = secret_key("subject")
    removed = f"drop {secret_key('removal')} from settings"
    repo.commit({"a.env": f"AWS_SECRET_ACCESS_KEY={secret_key('removal')}\n"}, "add env")
    repo.commit({"a.env": None}, removed)
    repo.commit({"app.py": "print(1)\n"}, f"rotated creds {key_id('subject')} {secret}")
    run = keysweep("history", str(repo.path), "--format", fmt)
    assert run.code == 1, run.stderr
    assert secret not in run.stdout and secret_key("removal") not in run.stdout
    assert key_id("subject") in run.stdout  # an identifier, shown as everywhere else
    if fmt == "json":
        [found] = [f for f in run.findings if f["rule_id"] == "aws-access-key-id"]
        shown = f"{secret[:4]}…(40 chars)"
        assert found["commit"]["subject"] == f"rotated creds {key_id('subject')} {shown}"
        [env] = [f for f in run.findings if f["path"] == "a.env"]
        assert env["history"]["removed_in"]["subject"].startswith("drop ")
