"""``keysweep rules list`` and ``keysweep rules check`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main

GOOD = """\
version: 1
rules:
  - id: demo-token
    name: Demo token
    description: A demo token for the internal API.
    severity: low
    keywords: [demo_]
    regex: 'demo_(?P<secret>[a-z0-9]{16})'
    min_entropy: 3
    examples: ['token = demo_{{hex:16}}']
    negative_examples: ['token = demo_aaaaaaaaaaaaaaaa']
"""


def write(tmp_path: Path, text: str, name: str = "pack.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_rules_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    header, first = out.splitlines()[:2]
    assert header.split() == ["ID", "SEVERITY", "CONFIDENCE", "NAME", "PACK"]
    assert first.split()[:3] == ["aws-access-key-id", "critical", "high"]
    assert "devtools.yaml" in out and out.rstrip().endswith("rules")


def test_rules_list_json_with_user_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = write(tmp_path, GOOD)
    assert main(["rules", "list", "--format", "json", "--rules", pack]) == 0
    data = json.loads(capsys.readouterr().out)
    ids = [r["id"] for r in data["rules"]]
    assert ids[0] == "aws-access-key-id" and ids[-1] == "demo-token"
    demo = data["rules"][-1]
    assert (
        demo["severity"] == "low" and demo["pack"] == "pack.yaml" and demo["keywords"] == ["demo_"]
    )
    assert demo["confidence"] == "medium"  # the documented default


def test_rules_check_builtin_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    out = capsys.readouterr().out
    assert "aws.yaml" in out and "all behave" in out and "MISMATCH" not in out


def test_rules_check_user_pack_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", write(tmp_path, GOOD)]) == 0
    assert "checked 1 rules, 2 examples" in capsys.readouterr().out


def test_rules_check_reports_mismatches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = GOOD.replace(
        "negative_examples: ['token = demo_aaaaaaaaaaaaaaaa']",
        "negative_examples: ['token = demo_{{hex:16}}']",
    ).replace("examples: ['token = demo_{{hex:16}}']", "examples: ['token = demo_short']", 1)
    pack = write(tmp_path, bad)
    assert main(["rules", "check", pack]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert len(lines) == 2
    assert "rule 'demo-token': examples[0]: expected 1 finding of this rule, got 0" in lines[0]
    assert "negative_examples[0]: expected no finding of this rule, got 1" in lines[1]
    assert "demo_{{hex:16}}" in lines[1]  # the example as written, never the expanded value
    assert "2 mismatch(es)" in out


def test_rules_check_warns_about_unbounded_quantifiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = write(tmp_path, GOOD.replace("[a-z0-9]{16}", "[a-z0-9]{16,}"))
    assert main(["rules", "check", pack]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "unbounded quantifier" in out and "'demo-token'" in out


def test_rules_check_malformed_pack_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = write(tmp_path, GOOD.replace("negative_examples", "negative_exmaples"))
    assert main(["rules", "check", pack]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keysweep: error: ")
    assert pack in err and "rule 'demo-token'" in err and "key 'negative_exmaples'" in err
    assert len(err.strip().splitlines()) == 1


def test_rules_check_missing_pack_and_no_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "rule pack not found" in capsys.readouterr().err
    assert main(["rules", "check", str(tmp_path)]) == 2  # a directory of packs
    assert "a directory; name its pack files" in capsys.readouterr().err
    assert main(["rules"]) == 2
    assert "choose an action" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("regex", "note"),
    [
        ("demo_(?P<secret>[a-z0-9]{16})", None),  # has a Hyperscan core: no note
        ("demo_(?P<secret>[a-z0-9]{8})(?P=secret)", "groupref has no Hyperscan equivalent"),
        ("demo_(?P<secret>[a-z0-9]{16,})", "unbounded"),
    ],
)
def test_rules_check_names_rules_without_a_hyperscan_core(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], regex: str, note: str | None
) -> None:
    pytest.importorskip("hyperscan")
    pack = write(tmp_path, GOOD.replace("demo_(?P<secret>[a-z0-9]{16})", regex))
    main(["rules", "check", pack])
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1
        assert "rule 'demo-token'" in notes[0] and "Python re" in notes[0] and note in notes[0]
