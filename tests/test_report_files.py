"""Every command that reads a JSON report validates it: a file that is not a keysweep report
is one line on stderr and exit 2, never "no findings" (issue 9, item 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.run import assert_clean_error, run_keysweep

GOOD_FINDING: dict[str, Any] = {
    "rule_id": "aws-access-key-id",
    "severity": "high",
    "path": "a.env",
    "line": 1,
    "column": 1,
    "secret": "x",
    "entropy": 3.0,
}
SCAN = {"mode": "scan", "target": "."}


def _report(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"version": 1, "findings": [dict(GOOD_FINDING)], "scan": dict(SCAN)}
    for key, value in overrides.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


BAD_REPORTS: list[tuple[str, object, str]] = [
    ("no-findings-key", _report(findings=None), "findings"),
    ("findings-not-a-list", _report(findings={"a": 1}), "findings"),
    ("findings-a-string", _report(findings="none"), "findings"),
    ("finding-not-an-object", _report(findings=[3]), "finding 1"),
    ("line-a-string", _report(findings=[{**GOOD_FINDING, "line": "1"}]), "line"),
    ("line-a-bool", _report(findings=[{**GOOD_FINDING, "line": True}]), "line"),
    (
        "secret-missing",
        _report(findings=[{k: v for k, v in GOOD_FINDING.items() if k != "secret"}]),
        "secret",
    ),
    ("severity-unknown", _report(findings=[{**GOOD_FINDING, "severity": "dire"}]), "severity"),
    ("no-version", _report(version=None), "version"),
    ("version-2", _report(version=2), "version"),
    ("no-scan", _report(scan=None), "scan"),
    ("top-level-list", [], "JSON object"),
    ("empty-object", {}, "version"),
]


@pytest.mark.parametrize("command", [("verify",), ("deactivate",)])
@pytest.mark.parametrize(
    ("name", "data", "mention"), BAD_REPORTS, ids=[case[0] for case in BAD_REPORTS]
)
def test_bad_report_is_one_line_exit_2(
    tmp_path: Path, command: tuple[str, ...], name: str, data: object, mention: str
) -> None:
    report = tmp_path / f"{name}.json"
    report.write_text(json.dumps(data))
    proc = run_keysweep(
        [*command, str(report), "--aws-endpoint-url", "http://127.0.0.1:9"],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    line = assert_clean_error(proc, str(report), mention)
    assert len(proc.stderr.decode().strip().splitlines()) == 1, proc.stderr
    assert str(report) in line
