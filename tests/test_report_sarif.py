"""SARIF 2.1.0: valid against the official schema, with what GitHub code scanning needs."""

from __future__ import annotations

import json

import jsonschema
import pytest
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
