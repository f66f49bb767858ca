"""Loading the scanned project's settings for a command: config file and baseline.

A scanning command finds its project root (:func:`project_root`, the one discovery rule for
every command), then::

    project, options = load_project(options, root)  # --config, --baseline; options resolved
    detector = build_detector(options, project)  # extra packs, disabled rules, allowlist
    source = project.file_source(paths)          # scan.skip_paths are never read
    findings = detect_all(detector, source)
    return finish(result, options, project)      # baseline: suppress, expire, spread

Findings from files are matched by their path relative to the root (``/`` separators), the
same form history and staged scans report, so one baseline serves all three commands.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

from scanner.cli.options import CommonOptions
from scanner.config import load_config
from scanner.ignore.baseline import load_baseline
from scanner.project import Project as Project


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


def _is_remote(target: str) -> bool:
    from scanner.sources.history import is_remote  # only for a target that is not a path

    return is_remote(target)


def load_project(
    options: CommonOptions,
    root: Path,
    *,
    today: date | None = None,
    use_baseline: bool = True,
) -> tuple[Project, CommonOptions]:
    """Read the config (``--config`` or discovered at ``root``) and the baseline
    (``--baseline``, else the one the config names), and resolve ``options`` against the
    config (``--max-file-size`` falls back to ``scan.max_file_size``). Raises ConfigError /
    BaselineError."""
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
    project = Project(
        root=root.absolute(),
        config=config,
        max_file_size=resolved.max_file_size,
        baseline=baseline,
        baseline_path=baseline_path,
        today=today,
    )
    return project, resolved
