"""Confidence: a rule key (validated, with a default), on every finding and every report,
and ``--min-confidence`` / ``scan.min_confidence`` deciding what a scan reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.config import load_config
from scanner.detect import Detector
from scanner.errors import RuleError
from scanner.models import CONFIDENCE_LEVELS, DEFAULT_MIN_CONFIDENCE, Fragment, confidence_at_least
from scanner.rules import DEFAULT_CONFIDENCE, load_pack, load_rules
from scanner.rules.templates import expand_template

# One rule of each confidence; the low one is a helper the high one pairs with.
PACK = """\
version: 1
rules:
  - id: demo-high
    name: Demo high
    description: A self-identifying demo token used by the confidence tests only.
    severity: high
    confidence: high
    keywords: [dmh_]
    regex: '(?P<secret>dmh_[a-z0-9]{16})'
    pair: [{rule: demo-low, kind: secret_access_key, within_lines: 2}]
    examples: ['dmh_{{lower:16}}']
  - id: demo-medium
    name: Demo medium
    description: A keyword-plus-shape demo secret used by the confidence tests only.
    severity: medium
    keywords: [dmm_]
    regex: '(?P<secret>dmm_[a-z0-9]{16})'
    examples: ['dmm_{{lower:16}}']
  - id: demo-low
    name: Demo low
    description: An entropy-only demo secret used by the confidence tests only here.
    severity: low
    confidence: low
    keywords: [dml_]
    regex: '(?P<secret>dml_[a-z0-9]{16})'
    examples: ['dml_{{lower:16}}']
"""


def _pack(tmp_path: Path) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(PACK, encoding="utf-8")
    return path


def _text() -> str:
    return expand_template("dmh_{{lower:16}}\ndml_{{lower:16#2}}\ndmm_{{lower:16#3}}\n", "seed")


@pytest.mark.parametrize(
    ("confidence", "minimum", "expected"),
    [
        ("high", "high", True),
        ("medium", "high", False),
        ("low", "medium", False),
        ("medium", "low", True),
        (None, "high", True),  # findings from before rules had a confidence
    ],
)
def test_confidence_order(confidence: str | None, minimum: str, expected: bool) -> None:
    assert confidence_at_least(confidence, minimum) is expected


def test_rule_confidence_default_and_values(tmp_path: Path) -> None:
    rules = {r.id: r for r in load_pack(_pack(tmp_path))}
    assert DEFAULT_CONFIDENCE == "medium"
    assert [rules[i].confidence for i in ("demo-high", "demo-medium", "demo-low")] == list(
        CONFIDENCE_LEVELS
    )


def test_bad_confidence_names_file_rule_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PACK.replace("confidence: low", "confidence: certain"), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_pack(path)
    message = str(info.value)
    assert str(path) in message and "'demo-low'" in message and "'confidence'" in message


def test_every_builtin_rule_has_a_confidence() -> None:
    for rule in load_rules():
        assert rule.confidence in CONFIDENCE_LEVELS, rule.id


@pytest.mark.parametrize(
    ("minimum", "reported", "kept_rules"),
    [
        ("low", ["demo-high", "demo-low", "demo-medium"], ["demo-high", "demo-medium", "demo-low"]),
        ("medium", ["demo-high", "demo-medium"], ["demo-high", "demo-medium", "demo-low"]),
        ("high", ["demo-high"], ["demo-high", "demo-low"]),  # demo-low still pairs
    ],
)
def test_min_confidence_filters_findings_but_keeps_pairs(
    tmp_path: Path, minimum: str, reported: list[str], kept_rules: list[str]
) -> None:
    ruleset = load_rules([_pack(tmp_path)], builtin=False).at_least(minimum)
    assert list(ruleset.ids) == kept_rules
    findings = Detector(ruleset, min_confidence=minimum).scan(Fragment.from_text(_text()))
    assert sorted(f.rule_id for f in findings) == reported
    high = next(f for f in findings if f.rule_id == "demo-high")
    assert high.confidence == "high" and [p.rule_id for p in high.paired] == ["demo-low"]


def _scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "notes.txt").write_text(_text(), encoding="utf-8")
    pack = _pack(tmp_path)
    code = main(["scan", str(root), "--rules", str(pack), "-f", "json", *extra])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    return sorted(f"{f['rule_id']}:{f['confidence']}" for f in data["findings"])


ALL = ["demo-high:high", "demo-low:low", "demo-medium:medium"]


@pytest.mark.parametrize(
    ("config", "flags", "expected"),
    [
        (None, [], ["demo-high:high", "demo-medium:medium"]),  # the default: medium
        (
            None,
            ["--min-confidence", "low"],
            ["demo-high:high", "demo-low:low", "demo-medium:medium"],
        ),
        ("high", [], ["demo-high:high"]),
        (
            "high",
            ["--min-confidence", "low"],
            ["demo-high:high", "demo-low:low", "demo-medium:medium"],
        ),
    ],
)
def test_scan_min_confidence_flag_and_config(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config: str | None,
    flags: list[str],
    expected: list[str],
) -> None:
    assert DEFAULT_MIN_CONFIDENCE == "medium"
    (tmp_path / "proj").mkdir()
    if config is not None:
        (tmp_path / "proj" / ".keysweep.toml").write_text(f'[scan]\nmin_confidence = "{config}"\n')
    assert _scan(tmp_path, capsys, *flags) == expected


def test_config_reads_min_confidence(tmp_path: Path) -> None:
    (tmp_path / ".keysweep.toml").write_text('[scan]\nmin_confidence = "low"\n')
    assert load_config(None, tmp_path).min_confidence == "low"
    assert load_config(None, tmp_path / "none").min_confidence is None


@pytest.mark.parametrize(
    "command", ["scan", "history", "staged", "baseline create", "baseline update", "audit"]
)
def test_every_scanning_command_takes_min_confidence(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    assert "--min-confidence {high,medium,low}" in capsys.readouterr().out


def test_reports_carry_confidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "notes.txt").write_text(_text(), encoding="utf-8")
    pack = str(_pack(tmp_path))
    main(["scan", str(root), "--rules", pack, "-f", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    props = [r["properties"]["confidence"] for r in sarif["runs"][0]["results"]]
    assert sorted(props) == ["high", "medium"]
    main(["scan", str(root), "--rules", pack, "-f", "table"])
    assert "high confidence" in capsys.readouterr().out


@pytest.mark.parametrize(("value", "problem"), [("high", None), ("sure", "unknown confidence")])
def test_json_report_reads_confidence_back(value: str, problem: str | None) -> None:
    from scanner.errors import InputError
    from scanner.models import Finding, ScanResult, ScanSummary, Severity
    from scanner.report.json import findings_from_json, to_dict

    finding = Finding(
        "r", "R", Severity.LOW, "d", "p", 1, 1, "s3cr3t-value", 3.0, confidence="high"
    )
    data = to_dict(ScanResult((finding,), ScanSummary("scan", ".")), show_secrets=True)
    data["findings"][0]["confidence"] = value
    if problem is None:
        assert findings_from_json(data)[0].confidence == value
    else:
        with pytest.raises(InputError, match=problem):
            findings_from_json(data)
