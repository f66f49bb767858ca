"""JSON report v1: exact structure, redaction, and reading it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.samples import sample_result

from scanner import __version__
from scanner.errors import InputError
from scanner.report import json as json_report

FINDING_KEYS = [
    "rule_id",
    "rule_name",
    "severity",
    "description",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "secret",
    "secret_redacted",
    "fingerprint",
    "entropy",
    "source",
    "blob_id",
    "encoding",
    "paired",
    "account_id",
    "canary",
    "commit",
    "in_head",
    "history",
    "verification",
    "notes",
]


def test_structure_matches_the_contract() -> None:
    result = sample_result()
    data = json.loads(json_report.render(result, show_secrets=False))
    assert list(data) == ["version", "tool", "scan", "findings"]
    assert data["version"] == 1
    assert data["tool"] == {"name": "keysweep", "version": __version__}
    assert data["scan"] == {
        "mode": "scan",
        "target": ".",
        "files_scanned": 12,
        "bytes_scanned": 34567,
        "skipped": {"binary": 2, "too_large": 1},
        "duration_s": 0.123,
        "notes": ["a note"],
        "errors": [],
    }
    first = data["findings"][0]
    assert list(first) == FINDING_KEYS
    key = result.findings[0]
    assert first["fingerprint"] == key.fingerprint
    assert first["secret"] == key.redacted
    assert first["secret_redacted"] is True
    assert list(first["paired"][0]) == [
        "kind",
        "rule_id",
        "secret",
        "fingerprint",
        "line",
        "distance",
    ]
    assert first["paired"][0]["fingerprint"] == key.paired[0].fingerprint
    assert list(first["commit"]) == ["sha", "author_name", "author_email", "date", "subject"]
    assert list(first["history"]) == ["commit_count", "refs", "removed_in", "unreachable"]
    assert list(first["verification"]) == [
        "status",
        "account",
        "arn",
        "user_id",
        "detail",
        "secret_fingerprint",
        "last_used_date",
        "last_used_region",
        "last_used_service",
        "used_after_leak",
    ]
    second = data["findings"][1]
    assert second["commit"] is None and second["history"] is None
    assert second["verification"] is None and second["paired"] == []


def test_redacted_report_holds_no_secret() -> None:
    result = sample_result()
    text = json_report.render(result, show_secrets=False)
    for f in result.findings:
        assert f.secret not in text
        for p in f.paired:
            assert p.secret not in text
    shown = json_report.render(result, show_secrets=True)
    assert result.findings[1].secret in shown
    assert json.loads(shown)["findings"][0]["secret_redacted"] is False


def test_round_trip_with_secrets(tmp_path: Path) -> None:
    result = sample_result()
    path = tmp_path / "report.json"
    path.write_text(json_report.render(result, show_secrets=True), encoding="utf-8")
    loaded = json_report.load_report(path, require_secrets=True)
    assert loaded.findings == result.findings
    assert loaded.summary.skipped == result.summary.skipped
    assert loaded.summary.mode == "scan"


def test_redacted_report_cannot_feed_verification(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json_report.render(sample_result(), show_secrets=False), encoding="utf-8")
    assert len(json_report.load_report(path).findings) == 2
    with pytest.raises(InputError, match=r"secrets are redacted.*--show-secrets"):
        json_report.load_report(path, require_secrets=True)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("version"), "missing key 'version'"),
        (lambda d: d.update(version=2), "unsupported report version 2"),
        (lambda d: d["findings"][0].pop("path"), "finding 1: missing key 'path'"),
        (lambda d: d["findings"][1].update(line="3"), "finding 2: 'line' must be an integer"),
        (lambda d: d["findings"][1].update(line=True), "finding 2: 'line' must be an integer"),
        (lambda d: d["findings"][0].update(severity="urgent"), "unknown severity 'urgent'"),
        (lambda d: d["findings"][0]["paired"][0].pop("kind"), "paired\\[0\\]: missing key 'kind'"),
        (lambda d: d.update(findings={}), "'findings' must be a list"),
        (lambda d: d["tool"].update(name="gitleaks"), "not a keysweep report"),
    ],
)
def test_malformed_reports_name_the_problem(tmp_path: Path, mutate: object, message: str) -> None:
    data = json.loads(json_report.render(sample_result(), show_secrets=True))
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        json_report.load_report(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    for f in sample_result().findings:
        assert f.secret not in str(info.value)


def test_unreadable_or_non_json_report(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.json: cannot read report: no such file"):
        json_report.load_report(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1,\n "findings": [AKIA', encoding="utf-8")
    with pytest.raises(InputError, match=r"not a JSON report \(invalid JSON at line 2\)") as info:
        json_report.load_report(bad)
    assert "AKIA" not in str(info.value)
    top_list = tmp_path / "list.json"
    top_list.write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match="expected a JSON object"):
        json_report.load_report(top_list)
