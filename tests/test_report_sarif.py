"""SARIF 2.1.0: valid against the official schema, with what GitHub code scanning needs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support.keys import env_text, key_id, secret_key
from support.repo import Repo
from support.run import keysweep
from support.samples import sample_result, validate_sarif

from scanner.ignore.baseline import load_baseline
from scanner.models import MessageLocation, ScanResult, ScanSummary, fingerprint_of
from scanner.report import sarif


def test_valid_against_schema_with_findings_and_errors() -> None:
    result = sample_result(errors=("src/x.py: cannot read: permission denied",))
    doc = json.loads(sarif.render(result, show_secrets=False))
    validate_sarif(doc)
    run = doc["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["level"] == "error"


def test_notes_and_skips_reach_the_invocation() -> None:
    """What the table's reader sees on stderr reaches CI too: errors, then notes, as
    notifications; the skip counts in the invocation's properties."""
    base = sample_result(errors=("big.sql: staged file not scanned",))
    notes = ("logo.png: staged binary file not scanned: 20,000 bytes",)
    summary = replace(base.summary, notes=notes, skipped={"too_large": 2, "binary": 1})
    doc = json.loads(sarif.render(replace(base, summary=summary), show_secrets=False))
    validate_sarif(doc)
    (invocation,) = doc["runs"][0]["invocations"]
    said = [(n["level"], n["message"]["text"]) for n in invocation["toolExecutionNotifications"]]
    assert said == [("error", "big.sql: staged file not scanned"), ("note", notes[0])]
    assert invocation["properties"] == {"skipped": {"too_large": 2, "binary": 1}}
    clean = ScanResult(findings=(), summary=ScanSummary(mode="scan", target="."))
    (quiet,) = json.loads(sarif.render(clean, show_secrets=False))["runs"][0]["invocations"]
    assert quiet == {"executionSuccessful": True}


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
    assert key_result["partialFingerprints"] == {"keysweep/v2": sarif.location_fingerprint(key)}
    assert key_result["properties"]["fingerprint"] == key.fingerprint  # the baseline's value
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


# --------------------------------------------------------------------------- fingerprints


def _scan_sarif(root: Path) -> list[dict[str, Any]]:
    run = keysweep("scan", ".", "--format", "sarif", cwd=root)
    assert run.code == 1, run.stderr
    doc = json.loads(run.stdout)
    validate_sarif(doc)
    results: list[dict[str, Any]] = doc["runs"][0]["results"]
    return results


def _uri(result: dict[str, Any]) -> str:
    uri: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return uri


def test_one_secret_in_two_files_is_two_alerts(tmp_path: Path) -> None:
    # A key copied into .env and into a config: the v1 partial fingerprint hashed the rule and
    # the secret only, so both results had one identity and code scanning could merge them,
    # or closing one alert could hide the other.
    (tmp_path / "config").mkdir()
    (tmp_path / ".env").write_text(env_text(5), encoding="utf-8")
    (tmp_path / "config" / "deploy.env").write_text("# deploy\n" + env_text(5), encoding="utf-8")
    results = _scan_sarif(tmp_path)
    assert sorted((_uri(r), r["ruleId"]) for r in results) == [
        (".env", "aws-access-key-id"),
        (".env", "aws-secret-access-key"),
        ("config/deploy.env", "aws-access-key-id"),
        ("config/deploy.env", "aws-secret-access-key"),
    ]
    v2 = [r["partialFingerprints"]["keysweep/v2"] for r in results]
    assert len(set(v2)) == 4 and all(len(v) == 32 for v in v2)
    assert all(list(r["partialFingerprints"]) == ["keysweep/v2"] for r in results)
    # The secret's own fingerprint, the one baselines hold, is the same at both places.
    expected = {
        "aws-access-key-id": fingerprint_of("aws-access-key-id", key_id(5)),
        "aws-secret-access-key": fingerprint_of("aws-secret-access-key", secret_key(5)),
    }
    assert all(r["properties"]["fingerprint"] == expected[r["ruleId"]] for r in results)
    text = json.dumps(results)
    assert secret_key(5) not in text


def test_a_secret_moved_down_its_file_keeps_its_fingerprint(tmp_path: Path) -> None:
    settings = tmp_path / "app" / "settings.env"
    settings.parent.mkdir()
    settings.write_text(env_text(6), encoding="utf-8")
    before = {r["ruleId"]: r for r in _scan_sarif(tmp_path)}
    settings.write_text("# moved\nDEBUG=0\n\n\nREGION=eu-west-1\n" + env_text(6), encoding="utf-8")
    after = {r["ruleId"]: r for r in _scan_sarif(tmp_path)}
    assert set(before) == set(after) == {"aws-access-key-id", "aws-secret-access-key"}
    for rule, result in after.items():
        start = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        old_start = before[rule]["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert start == old_start + 5
        assert result["partialFingerprints"] == before[rule]["partialFingerprints"]


def test_fingerprint_is_the_place_not_the_line_nor_the_secret() -> None:
    key, secret = sample_result().findings
    v2 = sarif.location_fingerprint
    assert v2(replace(key, line=40, column=1, end_line=40, end_column=21)) == v2(key)
    assert v2(replace(key, path="config/other.env")) != v2(key)
    assert v2(replace(key, path="./config/prod.env")) == v2(key)  # the URI's form of the path
    # A sealed finding (an audit result crossed a process boundary, its secret redacted) keeps
    # the value: the hash takes the secret's fingerprint, never the secret.
    assert secret.seal().secret != secret.secret and v2(secret.seal()) == v2(secret)
    # The same secret in two commit messages, or at one path in two audited repositories.
    first = replace(key, path="<commit message>", message=MessageLocation("commit", "b" * 40))
    second = replace(first, message=MessageLocation("commit", "c" * 40))
    assert v2(first) != v2(second)
    assert v2(replace(key, repository="org/a")) != v2(replace(key, repository="org/b"))


def test_properties_fingerprint_is_the_baselines(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "old.env").write_text(env_text(7), encoding="utf-8")
    (tmp_path / "old.env").write_text(env_text(7), encoding="utf-8")
    results = _scan_sarif(tmp_path)
    created = keysweep("baseline", "create", ".", "--output", "bl.jsonl", cwd=tmp_path)
    assert created.code == 0, created.stderr
    entries = load_baseline(tmp_path / "bl.jsonl").entries
    listed = {(e.path, e.rule_id, e.fingerprint) for e in entries}
    assert listed == {(_uri(r), r["ruleId"], r["properties"]["fingerprint"]) for r in results}
    gated = keysweep("scan", ".", "--baseline", "bl.jsonl", "--format", "sarif", cwd=tmp_path)
    assert gated.code == 0, gated.stderr
    assert json.loads(gated.stdout)["runs"][0]["results"] == []


def test_history_places_are_the_paths_committed_at(tmp_path: Path) -> None:
    # One finding per rule, secret and path; the introducing commit is not the place, so the
    # value does not change when a later commit moves the secret down its file.
    repo = Repo(tmp_path / "repo")
    repo.commit({".env": env_text(8), "config/app.env": env_text(8)}, "settings twice")
    run = keysweep("history", str(repo.path), "--format", "sarif")
    assert run.code == 1, run.stderr
    doc = json.loads(run.stdout)
    validate_sarif(doc)
    before = {(_uri(r), r["ruleId"]): r["partialFingerprints"] for r in doc["runs"][0]["results"]}
    assert len(before) == 4 and len({p["keysweep/v2"] for p in before.values()}) == 4
    repo.commit({".env": "# moved\n\n" + env_text(8)}, "move it down")
    moved = json.loads(keysweep("history", str(repo.path), "--format", "sarif").stdout)
    after = {(_uri(r), r["ruleId"]): r["partialFingerprints"] for r in moved["runs"][0]["results"]}
    assert after == before
