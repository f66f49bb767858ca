"""One redaction rule for every format: identifiers (AWS key IDs) shown, secrets hidden."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep
from support.samples import sample_result

from scanner.models import Finding, ScanResult, fingerprint_of, is_redacted, redact, shown_secret
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
