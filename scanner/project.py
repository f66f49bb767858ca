"""The scanned project's own settings applied to a scan: config file and baseline.

A scanning command (or an ``audit`` task) finds its project root (:func:`project_root`, the one
discovery rule for every command), then::

    project, options = load_project(options, root)  # --config, --baseline; options resolved
    detector = project.detector(options.rule_packs)  # extra packs, disabled rules, allowlist
    source = project.file_source(paths)          # scan.skip_paths are never read
    result = project.scan_history(repo, detector)  # or a history scan, skip_paths applied
    result = project.apply(result)               # path allowlist, baseline: suppress, expire

Findings from files are matched by their path relative to the root (``/`` separators), the
same form history and staged scans report, so one baseline serves all three commands.

This module wires config, baseline, rules and sources together below the CLI: the CLI
(``scanner.cli.project`` re-exports it) and ``scanner.audit`` tasks use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from scanner.config import Config, load_config
from scanner.errors import ConfigError, RuleError
from scanner.ignore.baseline import Baseline, apply_baseline, load_baseline, normalize_path
from scanner.models import DEFAULT_MIN_CONFIDENCE, Finding, ScanResult, Source
from scanner.sources.files import DEFAULT_MAX_FILE_SIZE

if TYPE_CHECKING:
    from scanner.allowlist import Allowlist
    from scanner.detect import Detector
    from scanner.rules import RuleSet
    from scanner.sources.blobscan import Progress
    from scanner.sources.files import FileSource

_SOURCES_WITH_FS_PATHS = (Source.FILE,)


@dataclass(frozen=True)
class ProjectOptions:
    """The options of a scan that the project's config can set too: what :func:`load_project`
    resolves. The CLI's ``CommonOptions`` and an ``audit`` task's ``ScanSettings`` extend it."""

    rule_packs: tuple[str, ...] = ()
    inline_allow: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    max_file_size_explicit: bool = False  # given on the command line: wins over the config
    min_confidence: str | None = None  # --min-confidence; else scan.min_confidence, else default
    config_file: str | None = None  # --config; else .keysweep.toml / pyproject.toml at the root
    baseline_file: str | None = None  # --baseline; else the config's baseline.path

    def project_options(self) -> dict[str, Any]:
        """These fields by name, to carry into options of another kind."""
        return {f.name: getattr(self, f.name) for f in fields(ProjectOptions)}


OptionsT = TypeVar("OptionsT", bound=ProjectOptions)


def find_root(start: str | os.PathLike[str]) -> Path:
    """The repository root holding ``start``: the nearest directory upwards with a ``.git``
    entry, else the directory itself. No git process runs (the staged path stays fast)."""
    path = Path(os.path.normpath(Path(start).absolute()))
    base = path if path.is_dir() else path.parent
    for candidate in (base, *base.parents):
        if os.path.lexists(candidate / ".git"):  # False, not PermissionError, when unreadable
            return candidate
    return base


def project_root(target: str = ".") -> Path:
    """Where every command looks for the project config: the root of the repository holding
    ``target`` (a bare repository is its own root). For standard input (``-``) and a clone URL,
    the root of the repository holding the current directory."""
    if target == "-" or (not os.path.exists(target) and _is_remote(target)):
        return find_root(Path.cwd())
    path = Path(target)
    # os.path: False, not PermissionError, for an unreadable directory (reported by the scan)
    if os.path.isfile(path / "HEAD") and os.path.isdir(path / "objects"):
        return Path(os.path.normpath(path.absolute()))
    return find_root(path)


def project_config(config_file: str | None, root: Path | None = None) -> Config:
    """The project config: ``--config`` (``config_file``), else the one discovered at ``root``
    (default: :func:`project_root` of the current directory, for the commands that read a
    report rather than a tree: verify, analyze, deactivate, audit)."""
    path = Path(config_file) if config_file else None
    return load_config(path, root if root is not None else project_root())


def _is_remote(target: str) -> bool:
    from scanner.sources.history import is_remote  # only for a target that is not a path

    return is_remote(target)


def load_project(
    options: OptionsT,
    root: Path,
    *,
    today: date | None = None,
    use_baseline: bool = True,
) -> tuple[Project, OptionsT]:
    """Read the config (``--config`` or discovered at ``root``) and the baseline
    (``--baseline``, else the one the config names), and resolve ``options`` against the
    config (``--max-file-size`` falls back to ``scan.max_file_size``). Raises ConfigError /
    BaselineError."""
    config = project_config(options.config_file, root)
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
    project = Project(
        root=root.absolute(),
        config=config,
        max_file_size=resolved.max_file_size,
        baseline=baseline,
        baseline_path=baseline_path,
        today=today,
    )
    return project, resolved


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
        self,
        paths: Sequence[str],
        *,
        all_files: bool = False,
        stdin: BinaryIO | None = None,
        output: str | None = None,
    ) -> FileSource:
        """The files under ``paths`` as this project scans them: its size cap, and nothing
        under ``scan.skip_paths`` is read (such paths are counted as skipped). ``output``:
        the report's path, never one of the files read (``FileSource``)."""
        from scanner.sources.files import FileSource  # not on the staged path

        return FileSource(
            paths,
            all_files=all_files,
            max_file_size=self.max_file_size,
            stdin=stdin,
            skip=self.skips_path,
            output=output,
        )

    def allowlist(self) -> Allowlist | None:
        """The config's global regexes and stopwords for the detector (None when there are
        none). ``allowlist.paths`` are applied by :meth:`apply` to root-relative paths."""
        allow = self.config.allowlist
        return allow.without_paths() if allow.regexes or allow.stopwords else None

    def load_rules(self, extra_packs: Sequence[Path]) -> RuleSet:
        """Built-in rules, the config's packs, then ``extra_packs``, minus disabled rules."""
        from scanner.rules import load_rules

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

    def detector(
        self,
        extra_packs: Sequence[str | os.PathLike[str]] = (),
        *,
        inline_allow: bool = True,
        use_hyperscan: bool | None = None,
        min_confidence: str | None = None,
    ) -> Detector:
        """The built-in rules, the config's packs and ``extra_packs`` (``--rules``), minus
        disabled rules, with the config's global allowlist. ``use_hyperscan=False`` skips
        compiling the Hyperscan database (~40 ms), which only pays off on megabytes of input.
        ``min_confidence`` (``--min-confidence``) wins over ``scan.min_confidence``, which wins
        over the built-in default."""
        from scanner.detect import Detector

        minimum = min_confidence or self.config.min_confidence or DEFAULT_MIN_CONFIDENCE
        return Detector(
            self.load_rules(tuple(Path(p) for p in extra_packs)).at_least(minimum),
            allowlist=self.allowlist(),
            inline_allow=inline_allow,
            use_hyperscan=use_hyperscan,
            min_confidence=minimum,
        )

    def scan_history(
        self,
        target: str,
        detector: Detector,
        *,
        since: str | None = None,
        include_unreachable: bool = False,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> ScanResult:
        """``keysweep history`` of one repository (a path or a clone URL); ``history``,
        ``baseline`` and every ``audit`` task run this: every blob scanned once, attributed,
        minus the config's skipped paths. The baseline is applied later by :meth:`apply`."""
        from scanner.sources.history import HistoryScan

        scan = HistoryScan(
            target,
            since=since,
            include_unreachable=include_unreachable,
            max_size=self.max_file_size,
            workers=workers,
        )
        return self.drop_skipped_paths(scan.run(detector, progress))

    def drop_skipped_paths(self, result: ScanResult) -> ScanResult:
        """The config's scan.skip_paths on the repository paths findings were attributed to
        (history reads blobs, not files, so the paths are known only afterwards; staged knows
        them first and never reads a skipped path)."""
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
            if outcome.suppressed:  # a note on every run's stderr only when it says something
                notes.append(f"baseline {shown}: {outcome.suppressed} known finding(s) suppressed")
            if outcome.expired:
                notes.append(f"baseline {shown}: {outcome.expired} expired entry(ies) reported")
            if outcome.spread:
                notes.append(f"baseline {shown}: {outcome.spread} known secret(s) at new paths")
        summary = replace(summary, notes=tuple(notes))
        return ScanResult(findings=tuple(findings), summary=summary)
