"""docs/rules-catalog.md lists every built-in rule: the table is generated, and kept current."""

from __future__ import annotations

import io
from pathlib import Path

from scanner.cli.rules import list_command

CATALOG = Path(__file__).resolve().parent.parent / "docs" / "rules-catalog.md"
BEGIN, END = "<!-- rules:begin -->\n", "<!-- rules:end -->"


def test_rules_catalog_matches_the_packs() -> None:
    text = CATALOG.read_text(encoding="utf-8")
    documented = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    out = io.StringIO()
    assert list_command(fmt="markdown", out=out) == 0
    assert documented == out.getvalue(), (
        "docs/rules-catalog.md is stale: regenerate it with `keysweep rules list --format markdown`"
    )


def test_markdown_table_has_one_row_per_rule() -> None:
    out = io.StringIO()
    list_command(fmt="markdown", out=out)
    rows = [line for line in out.getvalue().splitlines() if line.startswith("| `")]
    assert len(rows) >= 60
    assert all(line.count("|") == 6 for line in rows)
