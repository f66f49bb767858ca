"""What scan, history and staged share: their common options and the tail of the pipeline.

    findings -> config/baseline -> verify -> report -> exit code

A command parses its own arguments, builds a ``ScanResult`` from its source, and hands it to
:func:`finish` with the :class:`CommonOptions` unpacked from the command line by
:func:`common_options`. A later stage plugs in with one option in :func:`add_common_options`,
one field in :class:`CommonOptions`, one line in :func:`common_options` and one line in
:func:`finish`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.atomic import write_atomic
from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, EXIT_LIVE_KEY
from scanner.cli.aws_options import AwsSettings, add_verify_options, apply_aws_stage, aws_settings
from scanner.cli.workers import scan_fragments
from scanner.models import (
    CONFIDENCE_LEVELS,
    DEFAULT_MIN_CONFIDENCE,
    Finding,
    Fragment,
    ScanResult,
    ScanSummary,
)
from scanner.report import DEFAULT_FORMAT, REPORTERS, reporter
from scanner.sources.files import DEFAULT_MAX_FILE_SIZE, SourceStats

if TYPE_CHECKING:
    from scanner.cli.project import Project
    from scanner.detect import Detector


@dataclass(frozen=True)
class CommonOptions:
    """The options every scanning command takes, already validated by argparse."""

    fmt: str = DEFAULT_FORMAT
    output: str | None = None
    show_secrets: bool = False
    rule_packs: tuple[str, ...] = ()
    inline_allow: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    max_file_size_explicit: bool = False  # given on the command line: wins over the config
    min_confidence: str | None = None  # --min-confidence; else scan.min_confidence, else default
    config_file: str | None = None  # --config; else .keysweep.toml / pyproject.toml at the root
    baseline_file: str | None = None  # --baseline; else the config's baseline.path
    aws: AwsSettings = field(default_factory=AwsSettings)  # --verify and the aws group


_SIZE = re.compile(r"(?i)^\s*(\d+)\s*([kmg]i?b?|b)?\s*$")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``10485760``, ``512K``, ``10M``, ``1GiB`` -> bytes (argparse type)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (use bytes, or K, M, G)")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _UNITS[unit]


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Report and detection options for scan, history and staged."""
    add_report_options(parser)
    add_detection_options(parser)
    project = parser.add_argument_group("project")
    project.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE",
        help="project config (default: .keysweep.toml, or [tool.keysweep] in pyproject.toml, "
        "at the repository root)",
    )
    project.add_argument(
        "--baseline",
        dest="baseline_file",
        metavar="FILE",
        help="suppress the accepted findings listed in this baseline and report only new ones "
        "(default: the config's baseline.path)",
    )
    add_verify_options(parser)


def add_report_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The ``report`` group (--format, --output, --show-secrets); also used by verify."""
    report = parser.add_argument_group("report")
    report.add_argument(
        "-f",
        "--format",
        dest="fmt",
        choices=list(REPORTERS),
        default=DEFAULT_FORMAT,
        help="output format (default: %(default)s; rich colours on a terminal, plain when piped)",
    )
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the report to FILE (atomically, once it is complete) instead of stdout",
    )
    report.add_argument(
        "--show-secrets",
        action="store_true",
        help="print secrets in full (default: redacted to a short prefix and the length)",
    )
    return report


def add_detection_options(parser: argparse.ArgumentParser) -> None:
    """The ``detection`` group (--rules, --no-inline-allow, --max-file-size); also used by
    baseline."""
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


def common_options(ns: argparse.Namespace) -> CommonOptions:
    return CommonOptions(
        fmt=ns.fmt,
        output=ns.output,
        show_secrets=ns.show_secrets,
        rule_packs=tuple(ns.rules),
        inline_allow=ns.inline_allow,
        max_file_size=DEFAULT_MAX_FILE_SIZE if ns.max_file_size is None else ns.max_file_size,
        max_file_size_explicit=ns.max_file_size is not None,
        min_confidence=ns.min_confidence,
        config_file=ns.config_file,
        baseline_file=ns.baseline_file,
        aws=aws_settings(ns),
    )


def build_detector(
    options: CommonOptions, project: Project | None = None, *, use_hyperscan: bool | None = None
) -> Detector:
    """The built-in rules plus any ``--rules`` packs (RuleError names a bad pack), and the
    project config's packs, disabled rules and global allowlist. ``use_hyperscan=False`` skips
    compiling the Hyperscan database (~40 ms), which only pays off on megabytes of input."""
    from scanner.detect import Detector
    from scanner.rulepack import load_rules

    packs = tuple(Path(p) for p in options.rule_packs)
    configured = project.config.min_confidence if project is not None else None
    minimum = options.min_confidence or configured or DEFAULT_MIN_CONFIDENCE
    ruleset = load_rules(packs) if project is None else project.load_rules(packs)
    return Detector(
        ruleset.at_least(minimum),
        allowlist=project.allowlist() if project is not None else None,
        inline_allow=options.inline_allow,
        use_hyperscan=use_hyperscan,
        min_confidence=minimum,
    )


def detect_all(
    detector: Detector, fragments: Iterable[Fragment], *, jobs: int | None = None
) -> list[Finding]:
    """Run the detector over fragments, cheapest check first: bytes are only decoded when the
    keyword prefilter says a rule could match. Large scans use ``jobs`` worker processes
    (default: see scanner.cli.workers)."""
    return list(scan_fragments(detector, fragments, jobs=jobs))


def summarize(
    mode: str, target: str, stats: SourceStats, started: float, notes: Sequence[str] = ()
) -> ScanSummary:
    return ScanSummary(
        mode=mode,
        target=target,
        files_scanned=stats.files_scanned,
        bytes_scanned=stats.bytes_scanned,
        skipped=dict(stats.skipped),
        duration_s=time.monotonic() - started,
        notes=(*stats.notes, *notes),
        errors=tuple(stats.errors),
    )


def finish(result: ScanResult, options: CommonOptions, project: Project | None = None) -> int:
    """The tail every scanning command shares: findings -> config/baseline -> verify ->
    report -> exit code. Each stage derives a new ScanResult; nothing is mutated."""
    if project is not None:
        result = project.apply(result)
    result = apply_aws_stage(result, options.aws, project.config.verify if project else None)
    write_report(result, options)
    return exit_code(result)


def write_report(result: ScanResult, options: CommonOptions) -> None:
    """Render the report; stdout, or ``--output`` written atomically now that the scan is
    over (a failed run never truncates a previous report). Errors and the summary line go
    to stderr."""
    module = reporter(options.fmt)
    to_terminal = options.output is None and sys.stdout.isatty()
    if to_terminal and hasattr(module, "render_terminal"):
        width = shutil.get_terminal_size((120, 24)).columns
        text: str = module.render_terminal(result, show_secrets=options.show_secrets, width=width)
    else:
        text = module.render(result, show_secrets=options.show_secrets)
    # Strict UTF-8 whatever the locale; a lone surrogate (a non-UTF-8 file name) becomes a
    # \\udcXX escape, which JSON reads back as the same name.
    data = text.encode("utf-8", "backslashreplace")
    if options.output is not None:
        write_atomic(options.output, data)
    else:
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stream put in place of stdout
            sys.stdout.write(data.decode("utf-8"))
        else:
            sys.stdout.flush()
            binary.write(data)
            binary.flush()
    from scanner.report.table import printable, summary_line

    for error in result.summary.errors:
        print(f"keysweep: error: {printable(error)}", file=sys.stderr)
    print(summary_line(result), file=sys.stderr)


def exit_code(result: ScanResult) -> int:
    """3 for a live AWS key (the most urgent news, even when part of the input could not be
    read: the read errors are still printed), else 2 if anything could not be read, else
    1 for findings, 0 when clean."""
    if any(f.verification is not None and f.verification.status == "live" for f in result.findings):
        return EXIT_LIVE_KEY
    if result.summary.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN
