"""``--format github`` (Actions annotations) and ``--format gitlab`` (secret-detection report)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import jsonschema  # type: ignore[import-untyped]
from support.keys import key_id, secret_key

from scanner.models import CommitInfo, Finding, ScanMode, ScanResult, ScanSummary, Severity
from scanner.report import REPORTERS, github, gitlab, reporter


def make_finding(path: str = "app/settings.py", **changes: object) -> Finding:
    base = Finding(
        rule_id="aws-access-key-id",
        rule_name="AWS Access Key ID",
        severity=Severity.CRITICAL,
        description="Grants API access to an AWS account.",
        path=path,
        line=12,
        column=9,
        secret=key_id(7),
        entropy=3.9,
        end_line=12,
        end_column=29,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def result_of(*findings: Finding, errors: tuple[str, ...] = ()) -> ScanResult:
    summary = ScanSummary(mode="scan", target=".", files_scanned=3, duration_s=1.5, errors=errors)
    return ScanResult(findings=findings, summary=summary)


def test_formats_are_registered() -> None:
    assert REPORTERS["github"] == "scanner.report.github"
    assert REPORTERS["gitlab"] == "scanner.report.gitlab"
    assert reporter("github") is github
    assert reporter("gitlab") is gitlab


# --------------------------------------------------------------------------- github

_COMMAND = re.compile(r"^::(error|warning|notice) ([^:]*)::(.*)$")


def _unescape(value: str) -> str:
    return (
        value.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_annotation(line: str) -> tuple[str, dict[str, str], str]:
    match = _COMMAND.match(line)
    assert match, line
    props = dict(item.split("=", 1) for item in match.group(2).split(","))
    return match.group(1), {k: _unescape(v) for k, v in props.items()}, _unescape(match.group(3))


def test_github_annotation_fields_and_redaction() -> None:
    finding = make_finding(
        commit=CommitInfo("a" * 40, "Dev", "dev@example.com", "2024-01-01T00:00:00+00:00", "x"),
        notes=("baseline entry expired on 2026-01-01",),
    )
    out = github.render(result_of(finding), show_secrets=False)
    lines = out.splitlines()
    level, props, message = parse_annotation(lines[0])
    assert level == "error"
    assert props == {
        "file": "app/settings.py",
        "line": "12",
        "col": "9",
        "endLine": "12",
        "endColumn": "29",
        "title": "keysweep: AWS Access Key ID",
    }
    assert "aws-access-key-id" in message
    assert finding.redacted in message
    assert finding.fingerprint in message
    assert "aaaaaaaaaaaa" in message
    assert "baseline entry expired on 2026-01-01" in message
    assert key_id(7) not in out
    assert lines[-1].startswith("keysweep: 1 finding ")


def test_github_show_secrets() -> None:
    out = github.render(result_of(make_finding()), show_secrets=True)
    assert key_id(7) in out


def test_github_escaping_blocks_command_injection() -> None:
    nasty = "dir,with:odd%chars/evil\n::add-mask::x\r.env"
    finding = make_finding(path=nasty, notes=("note with\nnewline",))
    out = github.render(result_of(finding), show_secrets=False)
    lines = out.splitlines()
    assert len(lines) == 2  # one annotation and the summary: no injected command lines
    _, props, message = parse_annotation(lines[0])
    assert props["file"] == nasty
    assert "note with\nnewline" in message


def test_github_levels_by_severity_and_errors() -> None:
    findings = [
        make_finding(severity=Severity.HIGH),
        make_finding(severity=Severity.MEDIUM),
        make_finding(severity=Severity.LOW),
    ]
    out = github.render(
        result_of(*findings, errors=("x.env: permission denied",)), show_secrets=False
    )
    levels = [line.split(" ", 1)[0] for line in out.splitlines() if line.startswith("::")]
    assert levels == ["::error", "::warning", "::notice", "::error"]


def test_github_no_findings() -> None:
    out = github.render(result_of(), show_secrets=False)
    assert out == "keysweep: 0 findings (scan ., 3 files scanned)\n"
    # history reads blobs, not files (it said "9 files scanned")
    one = ScanResult((), ScanSummary(mode=ScanMode.HISTORY, target="repo", files_scanned=1))
    assert (
        github.render(one, show_secrets=False)
        == "keysweep: 0 findings (history repo, 1 blob scanned)\n"
    )


# --------------------------------------------------------------------------- gitlab

# The parts of GitLab's secret-detection report schema (15.x) that GitLab relies on to ingest
# a report, written out here because tests never reach the network for the published schema.
_IDENTIFIER = {
    "type": "object",
    "required": ["type", "name", "value"],
    "properties": {k: {"type": "string", "minLength": 1} for k in ("type", "name", "value")},
}
_TOOL = {
    "type": "object",
    "required": ["id", "name", "version", "vendor"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9_-]+$"},
        "name": {"type": "string"},
        "version": {"type": "string"},
        "vendor": {"type": "object", "required": ["name"]},
    },
}
GITLAB_SCHEMA = {
    "type": "object",
    "required": ["version", "vulnerabilities", "scan"],
    "properties": {
        "version": {"type": "string", "pattern": r"^15\.\d+\.\d+$"},
        "scan": {
            "type": "object",
            "required": ["analyzer", "scanner", "type", "start_time", "end_time", "status"],
            "properties": {
                "analyzer": _TOOL,
                "scanner": _TOOL,
                "type": {"const": "secret_detection"},
                "start_time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"},
                "end_time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"},
                "status": {"enum": ["success", "failure"]},
            },
        },
        "vulnerabilities": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "identifiers", "location"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "maxLength": 255},
                    "description": {"type": "string", "maxLength": 1048576},
                    "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
                    "solution": {"type": "string"},
                    "identifiers": {"type": "array", "minItems": 1, "items": _IDENTIFIER},
                    "raw_source_code_extract": {"type": "string"},
                    "location": {
                        "type": "object",
                        "required": ["commit"],
                        "properties": {
                            "file": {"type": "string", "minLength": 1},
                            "start_line": {"type": "integer", "minimum": 1},
                            "end_line": {"type": "integer", "minimum": 1},
                            "commit": {
                                "type": "object",
                                "required": ["sha"],
                                "properties": {
                                    "sha": {"type": "string", "minLength": 1},
                                    "author": {"type": "string"},
                                    "date": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_gitlab_report_is_schema_shaped_and_redacted() -> None:
    commit = CommitInfo("b" * 40, "Dev", "dev@example.com", "2024-01-01T00:00:00+00:00", "add")
    findings = (
        make_finding(),
        make_finding(
            path="old.env",
            rule_id="aws-secret-access-key",
            rule_name="AWS Secret Access Key",
            secret=secret_key(7),
            severity=Severity.HIGH,
            commit=commit,
            notes=("same secret already known in the baseline at a.env; it has spread",),
        ),
    )
    out = gitlab.render(result_of(*findings), show_secrets=False)
    data = json.loads(out)
    jsonschema.validate(data, GITLAB_SCHEMA)
    assert key_id(7) not in out and secret_key(7) not in out
    first, second = data["vulnerabilities"]
    assert first["location"] == {
        "file": "app/settings.py",
        "start_line": 12,
        "end_line": 12,
        "commit": {"sha": "0000000"},
    }
    assert first["severity"] == "Critical"
    assert first["identifiers"][0]["value"] == "aws-access-key-id"
    assert first["raw_source_code_extract"] == findings[0].redacted
    assert second["location"]["commit"]["sha"] == "b" * 40
    assert second["location"]["commit"]["author"] == "Dev <dev@example.com>"
    assert "it has spread" in second["description"]
    assert uuid.UUID(first["id"]).version == 5


def test_gitlab_ids_are_stable_and_distinct() -> None:
    a = gitlab.report(result_of(make_finding(), make_finding(line=13)), show_secrets=False)
    b = gitlab.report(result_of(make_finding(), make_finding(line=13)), show_secrets=False)
    ids_a = [v["id"] for v in a["vulnerabilities"]]
    assert ids_a == [v["id"] for v in b["vulnerabilities"]]
    assert len(set(ids_a)) == 2


def test_gitlab_times_and_status() -> None:
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    data = gitlab.report(result_of(errors=("x: unreadable",)), show_secrets=False, now=now)
    jsonschema.validate(data, GITLAB_SCHEMA)
    assert data["scan"]["end_time"] == "2026-03-04T05:06:07"
    assert data["scan"]["start_time"] == "2026-03-04T05:06:05"
    assert data["scan"]["status"] == "failure"
    assert data["vulnerabilities"] == []


def test_gitlab_show_secrets() -> None:
    out = gitlab.render(result_of(make_finding()), show_secrets=True)
    assert key_id(7) in out
