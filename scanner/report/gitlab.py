"""``--format gitlab``: GitLab's secret-detection security report (schema 15.x).

Save it as a ``secret_detection`` report artifact and GitLab shows the findings in the merge
request widget and the vulnerability report (Ultimate), or lets you download them (any tier)::

    artifacts:
      reports:
        secret_detection: gl-secret-detection-report.json

Secrets are redacted in ``raw_source_code_extract`` unless ``show_secrets`` is set. Vulnerability
ids are deterministic (a UUID derived from the finding's fingerprint and location), so the same
finding keeps its id across pipelines.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from scanner import __version__
from scanner.models import Finding, ScanResult, Severity, shown_secret, subjects_shown

SCHEMA_VERSION = "15.0.7"
_NAMESPACE = uuid.UUID("6f1f0f5e-6c1b-4f7e-9c55-6b6579737765")
_UNKNOWN_SHA = "0000000"
_SEVERITY = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
}
_TOOL = {
    "id": "keysweep",
    "name": "keysweep",
    "version": __version__,
    "vendor": {"name": "keysweep"},
}


def _severity(finding: Finding) -> str:
    try:
        return _SEVERITY[Severity(finding.severity)]
    except ValueError:
        return "Unknown"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def vulnerability(
    finding: Finding, *, show_secrets: bool = False, redact_ids: bool = False
) -> dict[str, Any]:
    shown = shown_secret(finding, show_secrets=show_secrets, redact_ids=redact_ids)
    # The id only has to be stable; a file name that is not UTF-8 (lone surrogates in the
    # path) must not make uuid5's strict UTF-8 encoding raise.
    path = finding.path.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
    key = f"{finding.fingerprint}:{path}:{finding.line}:{finding.column}"
    location: dict[str, Any] = {"file": finding.file_path, "start_line": 1, "end_line": 1}
    if finding.member is None:
        location["start_line"] = max(finding.line, 1)
        location["end_line"] = max(finding.end_line, finding.line, 1)
    commit: dict[str, Any] = {"sha": _UNKNOWN_SHA}
    if finding.commit is not None:
        commit = {
            "sha": finding.commit.sha,
            "author": f"{finding.commit.author_name} <{finding.commit.author_email}>",
            "date": finding.commit.date,
            "message": finding.commit.subject,
        }
    location["commit"] = commit
    description = finding.description or finding.rule_name
    if finding.member is not None:
        description += f"\n\nFound in {finding.member}, line {finding.line}, inside this file."
    if finding.blast_radius is not None:
        description += "\n\n" + finding.blast_radius.summary()
    if finding.notes:
        description += "\n\n" + "\n".join(f"- {note}" for note in finding.notes)
    return {
        "id": str(uuid.uuid5(_NAMESPACE, key)),
        "name": finding.rule_name,
        "description": description,
        "severity": _severity(finding),
        "solution": (
            "Revoke and rotate this credential, then remove it from the code "
            "(and from history if the repository is shared)."
        ),
        "identifiers": [
            {
                "type": "keysweep_rule_id",
                "name": f"keysweep rule {finding.rule_id}",
                "value": finding.rule_id,
            }
        ],
        "location": location,
        "raw_source_code_extract": shown,
    }


def report(
    result: ScanResult,
    *,
    show_secrets: bool,
    redact_ids: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    end = now or datetime.now(UTC)
    start = end - timedelta(seconds=max(result.summary.duration_s, 0.0))
    return {
        "version": SCHEMA_VERSION,
        "scan": {
            "analyzer": dict(_TOOL),
            "scanner": dict(_TOOL),
            "type": "secret_detection",
            "start_time": _time(start),
            "end_time": _time(end),
            "status": "failure" if result.summary.errors else "success",
        },
        "vulnerabilities": [
            vulnerability(f, show_secrets=show_secrets, redact_ids=redact_ids)
            for f in subjects_shown(
                result.findings, show_secrets=show_secrets, redact_ids=redact_ids
            )
        ],
    }


def render(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> str:
    return (
        json.dumps(
            report(result, show_secrets=show_secrets, redact_ids=redact_ids),
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
