"""The ``detection`` options (``--rules``, ``--no-inline-allow``, ``--max-file-size``,
``--min-confidence``) that scan, history, staged and baseline share, and the
:class:`~scanner.cli.options.CommonOptions` fields they fill."""

from __future__ import annotations

import argparse
import re
from typing import Any

from scanner.models import CONFIDENCE_LEVELS, DEFAULT_MIN_CONFIDENCE
from scanner.sources.files import DEFAULT_MAX_FILE_SIZE

_SIZE = re.compile(r"(?i)^\s*(\d+)\s*([kmg]i?b?|b)?\s*$")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``10485760``, ``512K``, ``10M``, ``1GiB`` -> bytes (argparse type)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (use bytes, or K, M, G)")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _UNITS[unit]


def add_detection_options(parser: argparse.ArgumentParser) -> None:
    """The ``detection`` group (--rules, --no-inline-allow, --max-file-size, --min-confidence)
    for scan, history, staged and baseline."""
    detect = parser.add_argument_group("detection")
    detect.add_argument(
        "--rules",
        metavar="PACK",
        action="append",
        default=[],
        help="also load this YAML rule pack (repeatable); built-in rules stay on",
    )
    detect.add_argument(
        "--no-inline-allow",
        dest="inline_allow",
        action="store_false",
        help="ignore inline allow markers ('keysweep:allow', 'gitleaks:allow', "
        "'pragma: allowlist secret') and report those lines too (for audits)",
    )
    detect.add_argument(
        "--max-file-size",
        metavar="BYTES",
        type=parse_size,
        default=None,
        help="skip (and count) files larger than this; K/M/G suffixes accepted "
        "(default: the config's scan.max_file_size, else 10M)",
    )
    detect.add_argument(
        "--min-confidence",
        choices=list(CONFIDENCE_LEVELS),
        default=None,
        help="report only findings of rules this sure or surer: high (self-identifying "
        "formats), medium (keyword plus shape), low (entropy only, plain passwords) "
        f"(default: the config's scan.min_confidence, else {DEFAULT_MIN_CONFIDENCE})",
    )


def detection_settings(ns: argparse.Namespace) -> dict[str, Any]:
    """The ``CommonOptions`` fields of the detection group."""
    return {
        "rule_packs": tuple(ns.rules),
        "inline_allow": ns.inline_allow,
        "max_file_size": DEFAULT_MAX_FILE_SIZE if ns.max_file_size is None else ns.max_file_size,
        "max_file_size_explicit": ns.max_file_size is not None,
        "min_confidence": ns.min_confidence,
    }
