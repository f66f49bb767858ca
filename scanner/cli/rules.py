"""``keysweep rules list`` and ``keysweep rules check [PACK...]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from scanner.cli import EXIT_CLEAN, EXIT_FINDINGS
from scanner.errors import UsageError

HELP = "list the detection rules, or check rule packs against their own examples"
DESCRIPTION = """\
list:  show every rule (id, severity, confidence, name, pack); --format json for machines,
       --format markdown for the catalog in docs/rules-catalog.md.
check: run every example and negative example of every rule through the full detection
       pipeline; exit 0 when all behave, 1 on any mismatch, 2 for a malformed pack.
       Without PACK the built-in packs are checked.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(
        dest="rules_action", metavar="ACTION", parser_class=type(parser)
    )
    lister = actions.add_parser("list", help="show the rules", description="Show the loaded rules.")
    lister.add_argument(
        "-f",
        "--format",
        dest="fmt",
        choices=["table", "json", "markdown"],
        default="table",
        help="output format",
    )
    lister.add_argument(
        "--rules",
        dest="rule_packs",
        metavar="PACK",
        action="append",
        default=[],
        help="also load this rule pack (repeatable)",
    )
    checker = actions.add_parser(
        "check",
        help="check rule packs against their examples",
        description="Run every example and negative example through the full pipeline.",
    )
    checker.add_argument(
        "packs", nargs="*", metavar="PACK", help="rule pack files (default: built-in)"
    )


def run(ns: argparse.Namespace) -> int:
    if ns.rules_action == "list":
        return list_command(ns.rule_packs, fmt=ns.fmt)
    if ns.rules_action == "check":
        return check_command(ns.packs)
    raise UsageError("rules: choose an action: list or check")


def _existing(paths: Sequence[str]) -> list[Path]:
    for path in paths:
        if Path(path).is_dir():
            raise UsageError(f"rule pack {path}: a directory; name its pack files ({path}/*.yaml)")
        if not Path(path).is_file():
            raise UsageError(f"rule pack not found: {path}")
    return [Path(path) for path in paths]


def list_command(
    rule_packs: Sequence[str] = (), *, fmt: str = "table", out: TextIO | None = None
) -> int:
    from scanner.rules import load_rules

    stream = out or sys.stdout
    ruleset = load_rules(_existing(rule_packs))
    rows = [
        {
            "id": rule.id,
            "severity": rule.severity.value,
            "confidence": rule.confidence,
            "name": rule.name,
            "pack": Path(rule.pack).name,
            "keywords": list(rule.keywords),
            "description": rule.description,
        }
        for rule in ruleset
    ]
    if fmt == "json":
        stream.write(json.dumps({"rules": rows}, indent=2) + "\n")
        return EXIT_CLEAN
    if fmt == "markdown":
        stream.write(markdown_table(rows))
        return EXIT_CLEAN
    headers = ("ID", "SEVERITY", "CONFIDENCE", "NAME", "PACK")
    keys = ("id", "severity", "confidence", "name", "pack")
    widths = [
        max(len(h), *(len(str(r[k])) for r in rows)) for h, k in zip(headers, keys, strict=True)
    ]
    stream.write(
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n"
    )
    for row in rows:
        cells = (str(row[k]).ljust(w) for k, w in zip(keys, widths, strict=True))
        stream.write("  ".join(cells).rstrip() + "\n")
    stream.write(f"{len(rows)} rules\n")
    return EXIT_CLEAN


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rule catalog as a Markdown table (docs/rules-catalog.md is generated with it)."""

    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    lines = [
        "| id | name | severity | confidence | pack |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| `{row['id']}` | {cell(row['name'])} | {row['severity']} | {row['confidence']} "
            f"| {row['pack']} |"
        )
    return "\n".join(lines) + f"\n\n{len(rows)} rules.\n"


def check_command(packs: Sequence[str] = (), *, out: TextIO | None = None) -> int:
    from scanner.rules.check import check_packs

    stream = out or sys.stdout
    report = check_packs(_existing(packs))
    for warning in report.warnings:
        stream.write(f"warning: {warning}\n")
    for note in report.fallbacks:
        stream.write(f"note: {note}\n")
    for mismatch in report.mismatches:
        stream.write(f"MISMATCH {mismatch.message()}\n")
    verdict = "all behave" if report.ok else f"{len(report.mismatches)} mismatch(es)"
    stream.write(
        f"checked {report.rules_checked} rules, {report.examples_checked} examples "
        f"in {', '.join(report.packs) or 'no packs'}: {verdict}\n"
    )
    return EXIT_CLEAN if report.ok else EXIT_FINDINGS  # 1: a rule misbehaves
