"""Baseline file format and matching, on Finding values (the CLI flow is in test_ci_gate.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from support.keys import key_id, secret_key

from scanner.errors import BaselineError
from scanner.ignore.baseline import (
    Baseline,
    BaselineEntry,
    apply_baseline,
    create_baseline,
    load_baseline,
    parse_baseline,
    prune_baseline,
    update_baseline,
    write_baseline,
)
from scanner.models import Finding, Severity

TODAY = date(2026, 6, 1)


def finding(seed: int, path: str = "app/settings.py", line: int = 3) -> Finding:
    return Finding(
        rule_id="aws-access-key-id",
        rule_name="AWS Access Key ID",
        severity=Severity.CRITICAL,
        description="test",
        path=path,
        line=line,
        column=5,
        secret=key_id(seed),
        entropy=3.9,
    )


def test_create_holds_hashes_sorted_without_lines_or_secrets(tmp_path: Path) -> None:
    findings = [finding(2, "z.env"), finding(1, "a.env"), finding(1, "a.env", line=9)]
    baseline = create_baseline(findings)
    out = tmp_path / "b.jsonl"
    write_baseline(out, baseline)
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == '{"keysweep_baseline": 1}'
    entries = [json.loads(line) for line in lines[1:]]
    assert [e["path"] for e in entries] == ["a.env", "z.env"]  # sorted, de-duplicated
    assert set(entries[0]) == {"path", "rule_id", "fingerprint"}  # no line, no timestamp
    assert entries[0]["fingerprint"] == finding(1).fingerprint
    for seed in (1, 2):
        assert key_id(seed) not in text
        assert key_id(seed)[4:] not in text
    assert load_baseline(out) == replace(baseline, source=out)


def test_moved_within_file_stays_suppressed_other_secret_is_reported() -> None:
    baseline = create_baseline([finding(1, line=3)])
    moved = finding(1, line=40)
    other_secret_same_line = finding(2, line=3)
    outcome = apply_baseline([moved, other_secret_same_line], baseline, today=TODAY)
    assert outcome.findings == (other_secret_same_line,)
    assert outcome.suppressed == 1


def test_same_secret_new_path_is_reported_with_note() -> None:
    baseline = create_baseline([finding(1, "old/config.py")])
    outcome = apply_baseline([finding(1, "new/copy.py")], baseline, today=TODAY)
    (reported,) = outcome.findings
    assert reported.path == "new/copy.py"
    assert reported.notes == (
        "same secret already known in the baseline at old/config.py; it has spread",
    )
    assert outcome.spread == 1


def test_expired_entry_speaks_again_with_note() -> None:
    entry = BaselineEntry(
        path="app/settings.py",
        rule_id="aws-access-key-id",
        fingerprint=finding(1).fingerprint,
        reason="rotated",
        owner="ops",
        expires=date(2026, 5, 31),
    )
    baseline = Baseline((entry,))
    before = apply_baseline([finding(1)], baseline, today=date(2026, 5, 30))
    assert before.findings == ()
    after = apply_baseline([finding(1)], baseline, today=TODAY)
    (reported,) = after.findings
    assert reported.notes == ("baseline entry expired on 2026-05-31 (owner: ops)",)
    assert after.expired == 1


def test_update_keeps_metadata_and_adds_new() -> None:
    kept = BaselineEntry(
        "a.env", "aws-access-key-id", finding(1).fingerprint, "accepted", "sec", date(2030, 1, 1)
    )
    updated, added = update_baseline(Baseline((kept,)), [finding(1, "a.env"), finding(2, "b.env")])
    assert added == 1
    assert updated.entries[0] == kept
    assert updated.entries[1].path == "b.env"


def test_prune_drops_entries_no_longer_present() -> None:
    baseline = create_baseline([finding(1, "a.env"), finding(2, "b.env")])
    pruned, removed = prune_baseline(baseline, [finding(2, "b.env", line=99)])
    assert removed == 1
    assert [e.path for e in pruned.entries] == ["b.env"]


def test_loader_accepts_any_order_and_identical_duplicates(tmp_path: Path) -> None:
    a = create_baseline([finding(1, "a.env")]).entries[0].to_json()
    b = create_baseline([finding(2, "b.env")]).entries[0].to_json()
    text = '{"keysweep_baseline": 1}\n' + "\n".join([b, a, b]) + "\n"
    baseline = parse_baseline(text, tmp_path / "b.jsonl")
    assert [e.path for e in baseline.entries] == ["a.env", "b.env"]


def test_paths_are_normalized() -> None:
    baseline = create_baseline([finding(1, "./app/settings.py")])
    assert baseline.entries[0].path == "app/settings.py"
    assert apply_baseline([finding(1, "app\\settings.py")], baseline, today=TODAY).findings == ()


GOOD = '{"path": "a.env", "rule_id": "r", "fingerprint": "' + "0" * 32 + '"}'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty file"),
        ("[]\n", "not a keysweep baseline"),
        ('{"version": 1}\n', "not a keysweep baseline"),
        ('{"keysweep_baseline": 1}\n{"path": \n', "line 2: invalid JSON"),
        ('{"keysweep_baseline": 1}\n[1]\n', "line 2: expected a JSON object"),
        ('{"keysweep_baseline": 1}\n{"path": "a", "rule_id": "r"}\n', "'fingerprint'"),
        (
            '{"keysweep_baseline": 1}\n{"path": "a", "rule_id": "r", "fingerprint": "xyz"}\n',
            "32 lowercase hex",
        ),
        ('{"keysweep_baseline": 1}\n' + GOOD[:-1] + ', "line": 3}\n', "unknown key 'line'"),
        ('{"keysweep_baseline": 1}\n' + GOOD[:-1] + ', "expires": "soon"}\n', "ISO date"),
        ('{"keysweep_baseline": 1}\n' + GOOD[:-1] + ', "owner": 7}\n', "'owner' must be"),
        (
            '{"keysweep_baseline": 1}\n<<<<<<< HEAD\n' + GOOD + "\n=======\n>>>>>>> b\n",
            "unresolved merge conflict",
        ),
        (
            '{"keysweep_baseline": 1}\n' + GOOD + "\n" + GOOD[:-1] + ', "reason": "x"}\n',
            "conflicting entries",
        ),
    ],
)
def test_malformed_baseline_is_one_line_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(text)
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    message = str(info.value)
    assert problem in message
    assert str(path) in message
    assert "\n" not in message


def test_missing_baseline_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="file not found"):
        load_baseline(tmp_path / "missing.jsonl")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    out.write_text("previous")
    write_baseline(out, create_baseline([finding(1)]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl"]
    assert out.read_text().startswith('{"keysweep_baseline": 1}\n')


def test_secret_key_helper_is_not_the_key_id() -> None:
    # guards the fixture helper itself: distinct seeds give distinct values
    assert secret_key(1) != secret_key(2)
    assert key_id(1) != key_id(2)
