"""The scanned project's own settings, wired into a command: config file and baseline.

A scanning command finds its project root (the repository holding the scanned path), then::

    project = load_project(options, root)        # .keysweep.toml / --config, --baseline
    options = project.options                    # --max-file-size falls back to the config
    detector = build_detector(options, project)  # extra packs, disabled rules, allowlist
    source = project.file_source(paths)          # scan.skip_paths are never read
    findings = detect_all(detector, source)
    return finish(result, options, project)      # baseline: suppress, expire, spread

Findings from files are matched by their path relative to the root (``/`` separators), the
same form history and staged scans report, so one baseline serves all three commands.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from scanner.config import Config, load_config
from scanner.errors import ConfigError, RuleError
from scanner.ignore.baseline import Baseline, apply_baseline, load_baseline, normalize_path
from scanner.models import Finding, ScanResult

if TYPE_CHECKING:
    from scanner.cli.common import CommonOptions
    from scanner.rulepack import Allowlist, RuleSet
    from scanner.sources.files import FileSource

_SOURCES_WITH_FS_PATHS = ("file",)


def find_root(start: str | os.PathLike[str]) -> Path:
    """The repository root holding ``start``: the nearest directory upwards with a ``.git``
    entry, else the directory itself. No git process runs (the staged path stays fast)."""
    path = Path(os.path.normpath(Path(start).absolute()))
    base = path if path.is_dir() else path.parent
    for candidate in (base, *base.parents):
        if os.path.lexists(candidate / ".git"):  # False, not PermissionError, when unreadable
            return candidate
    return base


@dataclass
class Project:
    """Config and baseline of the scanned project, resolved once per command."""

    root: Path
    config: Config
    options: CommonOptions
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
            max_file_size=self.options.max_file_size,
            stdin=stdin,
            skip=self.skips_path,
        )

    def allowlist(self) -> Allowlist | None:
        """The config's global regexes and stopwords in the detector's own type (None when
        there are none). ``allowlist.paths`` are applied by :meth:`apply` with the config's
        glob rules, so one glob syntax holds for the whole config file."""
        from scanner.rulepack import Allowlist

        allow = self.config.allowlist
        if not (allow.regexes or allow.stopwords):
            return None
        return Allowlist(
            regexes=allow.regexes,
            stopwords=allow.stopwords,
        )

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


def load_project(
    options: CommonOptions,
    root: Path,
    *,
    today: date | None = None,
    use_baseline: bool = True,
) -> Project:
    """Read the config (``--config`` or discovered at ``root``) and the baseline
    (``--baseline``, else the one the config names). Raises ConfigError / BaselineError."""
    config_file = Path(options.config_file) if options.config_file else None
    config = load_config(config_file, root)
    if options.max_file_size_explicit or config.max_file_size is None:
        resolved = options
    else:
        resolved = replace(options, max_file_size=config.max_file_size)
    baseline_path: Path | None = None
    if not use_baseline:
        pass
    elif options.baseline_file:
        baseline_path = Path(options.baseline_file)
    elif config.baseline is not None:
        baseline_path = config.baseline
    baseline = load_baseline(baseline_path) if baseline_path is not None else None
    return Project(
        root=root.absolute(),
        config=config,
        options=resolved,
        baseline=baseline,
        baseline_path=baseline_path,
        today=today,
    )
