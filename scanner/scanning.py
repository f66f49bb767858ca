"""The scans the commands run, below the CLI: a command's detection options and its
project (:func:`scanner.project.load_project`) in, a ``ScanResult`` out, one call each::

    scan_files(targets, options, project)  # scan, baseline, deactivate --scan
    scan_history(repo, options, project)   # history, baseline --history

The steps they share: the project's detector with a command's ``--rules`` packs,
inline-marker choice and ``--min-confidence`` (:func:`build_detector`, which ``staged`` uses
too), the files of a scan through it (:func:`detect_all`: scanner/sources/filescan.py, in this
process or in forked workers when large), and the summary of what was read
(:func:`summarize`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, Protocol

from scanner.models import Finding, ScanMode, ScanResult, ScanSummary
from scanner.sources.filescan import scan_source

if TYPE_CHECKING:
    from scanner.detect import Detector
    from scanner.project import Project
    from scanner.sources.blobscan import Progress
    from scanner.sources.files import FileSource, SourceStats


class DetectionOptions(Protocol):
    """What :func:`build_detector` reads from a command's options (the CLI's
    ``CommonOptions``, or an ``audit`` task's ``ScanSettings``)."""

    @property
    def rule_packs(self) -> Sequence[str]: ...
    @property
    def inline_allow(self) -> bool: ...
    @property
    def min_confidence(self) -> str | None: ...


def build_detector(
    options: DetectionOptions, project: Project, *, use_hyperscan: bool | None = None
) -> Detector:
    """The project's detector (:meth:`Project.detector`) with the command line's ``--rules``
    packs, inline-marker choice and ``--min-confidence``."""
    return project.detector(
        options.rule_packs,
        inline_allow=options.inline_allow,
        use_hyperscan=use_hyperscan,
        min_confidence=options.min_confidence,
    )


def detect_all(detector: Detector, source: FileSource, *, jobs: int | None = None) -> list[Finding]:
    """Run the detector over the files of ``source``, cheapest check first: bytes are only
    decoded when the keyword prefilter says a rule could match. Large scans use ``jobs``
    worker processes (default: see scanner.sources.filescan)."""
    return list(scan_source(detector, source, jobs=jobs))


def summarize(
    mode: ScanMode, target: str, stats: SourceStats, started: float, notes: Sequence[str] = ()
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


def scan_files(
    targets: Sequence[str],
    options: DetectionOptions,
    project: Project,
    *,
    all_files: bool = False,
    jobs: int | None = None,
    stdin: BinaryIO | None = None,
    output: str | None = None,
) -> ScanResult:
    """Files, directories or standard input (``-``) as the project reads them, detected.
    ``output``, the report's file, must not be one of them (a usage error)."""
    started = time.monotonic()
    source = project.file_source(targets, all_files=all_files, stdin=stdin, output=output)
    source.check_paths()  # a missing PATH is a usage error before any work is done
    findings = detect_all(build_detector(options, project), source, jobs=jobs)
    mode = ScanMode.STDIN if list(targets) == ["-"] else ScanMode.SCAN
    summary = summarize(mode, " ".join(targets), source.stats, started)
    return ScanResult(findings=tuple(findings), summary=summary)


def scan_history(
    repo: str,
    options: DetectionOptions,
    project: Project,
    *,
    since: str | None = None,
    include_unreachable: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Every commit of ``repo`` (a path or a clone URL) as the project reads it, detected
    (:meth:`Project.scan_history`, which every ``audit`` task runs too)."""
    return project.scan_history(
        repo,
        build_detector(options, project),
        since=since,
        include_unreachable=include_unreachable,
        workers=jobs,
        progress=progress,
    )
