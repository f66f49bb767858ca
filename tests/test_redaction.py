"""One redaction rule for every format: identifiers (AWS key IDs) shown, secrets hidden."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep
from support.samples import sample_result

from scanner.models import (
    CommitInfo,
    Finding,
    ScanResult,
    _SubjectScrubber,
    fingerprint_of,
    is_redacted,
    redact,
    redact_subjects,
    shown_secret,
)
from scanner.report import REPORTERS, reporter
from scanner.report import json as json_report
from scanner.rules import load_rules


def _key_finding() -> Finding:
    result = sample_result()
    return dataclasses.replace(result.findings[0], identifier=True)


@pytest.mark.parametrize(
    ("identifier", "show_secrets", "redact_ids", "shown"),
    [
        (True, False, False, "full"),  # the default: a key ID is an identifier
        (True, False, True, "redacted"),  # --redact-ids
        (True, True, False, "full"),  # --show-secrets
        (False, False, False, "redacted"),  # a secret
        (False, False, True, "redacted"),
        (False, True, False, "full"),
    ],
)
def test_shown_secret(identifier: bool, show_secrets: bool, redact_ids: bool, shown: str) -> None:
    finding = dataclasses.replace(_key_finding(), identifier=identifier)
    value = shown_secret(finding, show_secrets=show_secrets, redact_ids=redact_ids)
    assert value == (finding.secret if shown == "full" else redact(finding.secret))


def test_only_the_key_id_rule_is_an_identifier() -> None:
    identifiers = {rule.id for rule in load_rules().rules if rule.identifier}
    assert identifiers == {"aws-access-key-id"}


@pytest.mark.parametrize("name", list(REPORTERS))
@pytest.mark.parametrize("redact_ids", [False, True])
def test_every_format_shows_the_key_id_unless_asked(name: str, redact_ids: bool) -> None:
    result = sample_result()
    key = dataclasses.replace(result.findings[0], identifier=True)
    result = ScanResult((key, *result.findings[1:]), result.summary)
    text = reporter(name).render(result, show_secrets=False, redact_ids=redact_ids)
    assert (key.secret in text) is not redact_ids, name
    for finding in result.findings:
        for paired in finding.paired:
            assert paired.secret not in text, name
    assert result.findings[1].secret not in text, name  # a secret access key finding


@pytest.mark.parametrize("name", list(REPORTERS))
def test_redact_ids_hides_a_key_id_in_a_commit_subject(name: str, tmp_path: Path) -> None:
    # "rotated creds AKIA... wJal...": the subject printed the key ID in full under
    # --redact-ids (JSON, HTML, GitLab), and the HTML footer said key IDs were shown.
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hello\n"}, f"rotated creds {key_id('subj')} {secret_key('subj')}")
    run = keysweep("history", str(repo.path), "--format", name, "--redact-ids")
    assert run.code == 1, run.stderr
    assert key_id("subj") not in run.stdout and secret_key("subj") not in run.stdout
    assert f"{key_id('subj')[:4]}…(20 chars)" in run.stdout
    if name == "html":
        assert "access key IDs are redacted too" in run.stdout
        assert "shown in full" not in run.stdout


def test_json_marks_identifiers_and_reads_them_back() -> None:
    key = _key_finding()
    result = ScanResult((key,), sample_result().summary)
    data = json.loads(json_report.render(result, show_secrets=False))
    [entry] = data["findings"]
    assert entry["identifier"] is True and entry["secret"] == key.secret
    [loaded] = json_report.findings_from_json(data)
    assert loaded.identifier and loaded.secret == key.secret
    assert is_redacted(loaded.paired[0].secret)  # a placeholder, never signed with
    assert loaded.fingerprint == key.fingerprint == fingerprint_of(key.rule_id, key.secret)
    hidden = json.loads(json_report.render(result, show_secrets=False, redact_ids=True))
    assert "identifier" not in hidden["findings"][0]


@pytest.mark.parametrize(
    ("value", "redacted"),
    [
        (redact(key_id(5)), True),
        (redact(secret_key(5)), True),
        (key_id(5), False),
        (secret_key(5), False),
        ("x…(12 chars)", True),
        ("a long prefix…(12 chars)", False),
        ("abcd…(twelve chars)", False),
    ],
)
def test_is_redacted(value: str, redacted: bool) -> None:
    assert is_redacted(value) is redacted


def _scrubbed_one_by_one(subject: str, secrets: list[str]) -> str:
    """What ``redact_subjects`` is defined to do to a subject: every secret in turn, a longer
    one first."""
    for secret in secrets:
        if secret in subject:
            subject = subject.replace(secret, redact(secret))
    return subject


_PIECES = st.sampled_from(["ab", "abc", "abcdefghij", "ab…(1", "0 chars)", "x", "…", " ", "9"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_PIECES, min_size=1, max_size=4).map("".join), max_size=6),
    st.lists(_PIECES, max_size=12).map("".join),
    st.integers(min_value=0, max_value=300),
)
@example(["abcdefghij", "ab…(1"], "fix abcdefghij", 0)  # the redacted text completes "ab…(1"
@example(["abcdefghij", "cdef"], "abcdefghij and cdef", 300)
def test_subject_scrubber_is_replacing_one_by_one(
    chosen: list[str], subject: str, padding: int
) -> None:
    # ``padding`` unrelated secrets make the scrubber look substrings up instead of trying
    # each secret (past a few dozen for a short subject): both ways give the same subject
    values = set(chosen) | {f"unrelated-{i:04d}" for i in range(padding)}
    secrets = sorted(values, key=len, reverse=True)
    assert _SubjectScrubber(secrets)(subject) == _scrubbed_one_by_one(subject, secrets)


def test_redact_subjects_over_thousands_of_commits_and_secrets() -> None:
    """A secret in each of 3,000 commits (a bot committing dumps): each subject is redacted
    without trying 6,000 secrets on it (18 million tries before)."""
    base = sample_result().findings[0]
    commits = [
        CommitInfo(f"{i:040x}", "Bot", "b@example.com", "2024-01-01", "") for i in range(3000)
    ]
    findings = []
    for i, commit in enumerate(commits):
        secret, other = f"s3cr3t-{i:06d}-{'q' * 20}", f"0th3r-{i:06d}-{'z' * 30}"
        subject = f"dump {i}: {secret}" if i % 2 else "nightly dump"
        findings.append(
            dataclasses.replace(
                base,
                secret=secret,
                identifier=False,
                paired=(dataclasses.replace(base.paired[0], secret=other),) if base.paired else (),
                commit=dataclasses.replace(commit, subject=subject),
            )
        )
    out = redact_subjects(findings)
    for i, finding in enumerate(out):
        assert finding.commit is not None
        assert findings[i].secret not in finding.commit.subject
        if i % 2:
            assert redact(findings[i].secret) in finding.commit.subject
        else:
            assert finding is findings[i]  # nothing to redact: the same object
