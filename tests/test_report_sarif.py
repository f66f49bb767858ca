"""SARIF 2.1.0: valid against the official schema, with what GitHub code scanning needs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from support.keys import env_text, key_id
from support.repo import Repo
from support.run import keysweep
from support.samples import sample_result, validate_sarif

from scanner.models import ScanResult, ScanSummary
from scanner.report import sarif


def test_valid_against_schema_with_findings_and_errors() -> None:
    result = sample_result(errors=("src/x.py: cannot read: permission denied",))
    doc = json.loads(sarif.render(result, show_secrets=False))
    validate_sarif(doc)
    run = doc["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["level"] == "error"


def test_valid_when_clean() -> None:
    empty = ScanResult(findings=(), summary=ScanSummary(mode="scan", target="."))
    doc = json.loads(sarif.render(empty, show_secrets=False))
    validate_sarif(doc)
    assert doc["runs"][0]["results"] == []
    assert doc["runs"][0]["tool"]["driver"]["rules"] == []


def test_schema_check_catches_a_broken_document() -> None:
    doc = json.loads(sarif.render(sample_result(), show_secrets=False))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(doc)


def test_rules_results_and_fingerprints() -> None:
    result = sample_result()
    doc = json.loads(sarif.render(result, show_secrets=False))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert run["columnKind"] == "unicodeCodePoints"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["aws-access-key-id", "aws-secret-access-key"]
    key_rule = rules[0]
    assert key_rule["name"] == "AwsAccessKeyId"
    assert key_rule["shortDescription"]["text"] == "AWS access key ID"
    assert key_rule["fullDescription"]["text"].startswith("Identifies an AWS access key")
    assert key_rule["help"]["text"]
    assert key_rule["defaultConfiguration"]["level"] == "error"
    assert key_rule["properties"]["security-severity"] == "9.5"
    assert "security" in key_rule["properties"]["tags"]

    key_result, secret_result = run["results"]
    key = result.findings[0]
    assert key_result["ruleId"] == "aws-access-key-id"
    assert key_result["ruleIndex"] == 0
    assert secret_result["ruleIndex"] == 1
    assert key_result["level"] == "error"
    assert key_result["partialFingerprints"] == {"keysweep/v1": key.fingerprint}
    loc = key_result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "config/prod.env", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 2, "startColumn": 19, "endLine": 2, "endColumn": 39}
    # A path with a space and non-ASCII letters becomes a valid URI reference.
    uri = secret_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/app%20settings/%C3%BCn%C3%AFcode.py"
    # No end position from the detector: the region spans the secret on its line.
    region = secret_result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 23, "endLine": 3, "endColumn": 63}
    assert "AWS account 123456789012" in key_result["message"]["text"]


def test_secrets_redacted_unless_asked() -> None:
    result = sample_result()
    text = sarif.render(result, show_secrets=False)
    for f in result.findings:
        assert f.secret not in text
    assert result.findings[0].redacted in text
    shown = sarif.render(result, show_secrets=True)
    assert result.findings[0].secret in shown


def test_absolute_paths_become_file_uris() -> None:
    assert sarif.artifact_uri("/tmp/a b/c.env") == "file:///tmp/a%20b/c.env"
    assert sarif.artifact_uri("./x/y.py") == "x/y.py"


def test_history_results_say_when_and_whether_head_has_it(tmp_path: Path) -> None:
    # A history finding's path may not exist in the checkout code scanning shows: the message
    # said neither which commit leaked it nor whether HEAD still holds it.
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hello\n"}, "start")
    repo.commit({"deploy/.env": env_text("gone")}, "deploy settings")
    removal = repo.commit({"deploy/.env": None}, "remove them")
    repo.commit({"app/.env": env_text("kept")}, "app settings")
    repo.git("checkout", "-q", "-b", "side")
    repo.commit({"side/.env": env_text("side")}, "side settings")
    repo.git("tag", "v1")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-D", "side")
    run = keysweep("history", str(repo.path), "--format", "sarif")
    assert run.code == 1, run.stderr
    doc = json.loads(run.stdout)
    validate_sarif(doc)
    by_key = {
        seed: next(r for r in doc["runs"][0]["results"] if key_id(seed) in r["message"]["text"])
        for seed in ("gone", "kept", "side")
    }
    gone, kept, side = (by_key[s] for s in ("gone", "kept", "side"))
    assert (
        "committed in " in gone["message"]["text"] and " by Ada Lovelace" in kept["message"]["text"]
    )
    assert f"removed from HEAD in {removal[:12]}" in gone["message"]["text"]
    assert gone["properties"]["removedIn"] == removal and gone["properties"]["inHead"] is False
    assert kept["message"]["text"].endswith("still in HEAD") and kept["properties"]["inHead"]
    assert "never on the default branch" in side["message"]["text"]
    assert side["properties"]["refs"] == ["refs/tags/v1"]
