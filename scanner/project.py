"""The scanned project's own settings applied to a scan: config file and baseline.

A :class:`Project` is built once per command (``scanner.cli.project.load_project``) and then::

    detector = build_detector(options, project)  # extra packs, disabled rules, allowlist
    source = project.file_source(paths)          # scan.skip_paths are never read
    result = project.apply(result)               # path allowlist, baseline: suppress, expire

Findings from files are matched by their path relative to the root (``/`` separators), the
same form history and staged scans report, so one baseline serves all three commands.

This module wires config, baseline, rules and file sources together; only the CLI imports it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from scanner.config import Config
from scanner.errors import ConfigError, RuleError
from scanner.ignore.baseline import Baseline, apply_baseline, normalize_path
from scanner.models import Finding, ScanResult, Source

if TYPE_CHECKING:
    from scanner.allowlist import Allowlist
    from scanner.rulepack import RuleSet
    from scanner.sources.files import FileSource

_SOURCES_WITH_FS_PATHS = (Source.FILE,)


@dataclass
class Project:
    """Config and baseline of the scanned project, resolved once per command."""

    root: Path
    config: Config
    max_file_size: int  # files larger than this are skipped (and counted)
    baseline: Baseline | None = None
    baseline_path: Path | None = None
    today: date | None = None

    # ------------------------------------------------------------------ paths

    def relative(self, finding_or_fragment_path: str, source: str = "file") -> str:
        """The root-relative form of a path reported by a source."""
        if source not in _SOURCES_WITH_FS_PATHS or finding_or_fragment_path.startswith("<"):
            return normalize_path(finding_or_fragment_path)
        path = Path(finding_or_fragment_path)
        absolute = path if path.is_absolute() else Path.cwd() / path
        try:
            rel = Path(os.path.normpath(absolute)).relative_to(self.root)
        except ValueError:
            try:
                rel = absolute.resolve().relative_to(self.root.resolve())
            except ValueError:
                return normalize_path(finding_or_fragment_path)
        return rel.as_posix()

    def finding_key(self, finding: Finding) -> str:
        return self.relative(finding.path, finding.source)

    # ------------------------------------------------------------------ stages

    def skips_path(self, path: str) -> bool:
        """True when ``scan.skip_paths`` covers a file-system path (read nothing there)."""
        return bool(self.config.skip_paths) and self.config.skips(self.relative(path))

    def file_source(
        self, paths: Sequence[str], *, all_files: bool = False, stdin: BinaryIO | None = None
    ) -> FileSource:
        """The files under ``paths`` as this project scans them: its size cap, and nothing
        under ``scan.skip_paths`` is read (such paths are counted as skipped)."""
        from scanner.sources.files import FileSource  # not on the staged path

        return FileSource(
            paths,
            all_files=all_files,
            max_file_size=self.max_file_size,
            stdin=stdin,
            skip=self.skips_path,
        )

    def allowlist(self) -> Allowlist | None:
        """The config's global regexes and stopwords for the detector (None when there are
        none). ``allowlist.paths`` are applied by :meth:`apply` to root-relative paths."""
        allow = self.config.allowlist
        return allow.without_paths() if allow.regexes or allow.stopwords else None

    def load_rules(self, extra_packs: Sequence[Path]) -> RuleSet:
        """Built-in rules, the config's packs, then ``extra_packs``, minus disabled rules."""
        from scanner.rulepack import load_rules

        config = self.config
        for index, pack in enumerate(config.rule_packs):
            if not pack.is_file():
                raise ConfigError(
                    f"config file {config.source}: key 'rules.packs[{index}]': "
                    f"rule pack {pack} not found"
                )
        try:
            return load_rules((*config.rule_packs, *extra_packs), disabled=config.disabled_rules)
        except RuleError as exc:
            if config.source is not None and str(exc).startswith("cannot disable"):
                raise ConfigError(
                    f"config file {config.source}: key 'rules.disable': {exc}"
                ) from None
            raise

    def drop_skipped_paths(self, result: ScanResult) -> ScanResult:
        """The config's scan.skip_paths on the repository paths findings were attributed to
        (history and staged read blobs, not files, so the paths are known only afterwards)."""
        if not self.config.skip_paths:
            return result
        kept = tuple(f for f in result.findings if not self.config.skips(f.path))
        dropped = len(result.findings) - len(kept)
        if not dropped:
            return result
        skipped = dict(result.summary.skipped)
        from scanner.sources.files import SKIP_PATHS_REASON  # the same reason as for files

        skipped[SKIP_PATHS_REASON] = skipped.get(SKIP_PATHS_REASON, 0) + dropped
        return ScanResult(kept, replace(result.summary, skipped=skipped))

    def apply(self, result: ScanResult) -> ScanResult:
        """Skip counts, path allowlist and baseline, applied to a finished scan."""
        findings = result.findings
        summary = result.summary
        notes = list(summary.notes)
        if self.config.allowlist.paths:
            findings = tuple(
                f for f in findings if not self.config.allows_path(self.finding_key(f))
            )
        if self.baseline is not None:
            outcome = apply_baseline(
                findings, self.baseline, today=self.today, path_key=self.finding_key
            )
            findings = outcome.findings
            shown = self.baseline_path or "baseline"
            notes.append(f"baseline {shown}: {outcome.suppressed} known finding(s) suppressed")
            if outcome.expired:
                notes.append(f"baseline {shown}: {outcome.expired} expired entry(ies) reported")
            if outcome.spread:
                notes.append(f"baseline {shown}: {outcome.spread} known secret(s) at new paths")
        summary = replace(summary, notes=tuple(notes))
        return ScanResult(findings=tuple(findings), summary=summary)
