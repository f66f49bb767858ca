"""Carry a plan out on a fresh mirror clone, then prove the secrets are gone.

1. ``git clone --mirror --no-local REPO DIR`` (the user's repository is only read);
2. ``git filter-repo --replace-text EXPRESSIONS --replace-message EXPRESSIONS`` in DIR (files,
   then commit and tag messages; it expires reflogs and prunes, so the
   old blobs leave DIR's object database);
3. ``keysweep history`` on DIR, unreachable blobs included: any finding whose value is one of
   the remediated secrets is listed in ``remaining``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import GitError, UsageError
from scanner.models import FragmentScanner
from scanner.remediate.plan import Plan, holds_only_expressions
from scanner.sources.gitproc import Git, clone_mirror, first_line
from scanner.sources.history import HistoryScan

# An earlier plan's expressions file is one line per secret: far below this.
_MAX_EXPRESSIONS = 64 << 20
NO_FILTER_REPO = (
    "git-filter-repo: command not found (pip install git-filter-repo, or your distribution's "
    "git-filter-repo package)"
)


@dataclass(frozen=True)
class ApplyResult:
    into: str
    rewritten_refs: tuple[str, ...]  # refs of DIR whose tip changed (or that were dropped)
    blobs_scanned: int
    remaining: tuple[str, ...]  # labels of remediated secrets still found in DIR
    errors: tuple[str, ...] = ()


def output_paths(repo: str, expressions: str | None, into: str | None) -> tuple[str, str]:
    """The expressions file and the mirror, as full paths (the printed manual steps run them
    from another directory): by default beside the repository, and never inside it, where a
    ``git add .`` would commit the plain secrets or the unrewritten mirror."""
    base = Path(os.path.abspath(repo))
    chosen = {
        "--expressions": expressions or str(base.parent / f"{base.name}.keysweep-expressions.txt"),
        "--into": into or str(base.parent / f"{base.name}-rewritten.git"),
    }
    inside = str(base.resolve()) + os.sep
    for option, path in chosen.items():
        if (str(Path(path).resolve()) + os.sep).startswith(inside):
            raise UsageError(f"{option} {path}: inside the repository; choose a path beside it")
    _refuse_overwrite(chosen["--expressions"])
    return os.path.abspath(chosen["--expressions"]), os.path.abspath(chosen["--into"])


def _refuse_overwrite(expressions: str) -> None:
    """An existing file is written over only when an earlier plan wrote it: ``--expressions``
    naming the report, or any other file, would otherwise be lost."""
    path = Path(expressions)
    if not path.is_file():
        return  # new (a directory or a device fails when written, with the write's message)
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_EXPRESSIONS + 1)
    except OSError as exc:
        raise UsageError(f"--expressions {expressions}: {exc.strerror or exc}") from None
    if len(data) > _MAX_EXPRESSIONS or not holds_only_expressions(data):
        raise UsageError(
            f"--expressions {expressions}: already exists and is not an expressions file "
            "written by keysweep remediate; choose a new path"
        )


def filter_repo_args(expressions: str) -> list[str]:
    """git-filter-repo's arguments for an expressions file: files, then messages."""
    return ["--replace-text", expressions, "--replace-message", expressions]


def filter_repo_available() -> bool:
    return shutil.which("git-filter-repo") is not None


def apply_plan(plan: Plan, into: str, expressions: str, detector: FragmentScanner) -> ApplyResult:
    """Mirror ``plan.repo`` into ``into``, rewrite it there, re-scan it."""
    if plan.behind:
        raise UsageError(
            f"--apply refused: {', '.join(plan.behind)} behind origin (see the plan above)"
        )
    if not filter_repo_available():
        raise UsageError(NO_FILTER_REPO)
    target = Path(into)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--into {into}: already exists and is not a directory")
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"--into {into}: already exists and is not empty (choose a new directory)")
    if target.exists():
        target.rmdir()  # clone wants to create it
    clone_mirror(os.path.abspath(plan.repo), into)
    mirror = Git(into)
    # A stash is local (never pushed), and git-filter-repo refuses a clone that has one
    mirror.run("update-ref", "-d", "refs/stash", check=False)
    before = _refs(mirror)
    try:
        _filter_repo(mirror, os.path.abspath(expressions))
    except GitError as exc:  # the mirror still holds every secret: it goes
        shutil.rmtree(into, ignore_errors=True)
        raise GitError(f"{exc}; {into} was removed (it held the history unrewritten)") from None
    after = _refs(mirror)
    rewritten = tuple(ref for ref, oid in before.items() if after.get(ref) != oid)

    scan = HistoryScan(into, include_unreachable=True).run(detector)
    values = {s.value: s.label for s in plan.secrets}
    remaining: dict[str, None] = {}
    for finding in scan.findings:
        for value in (finding.secret, *(p.secret for p in finding.paired)):
            if value in values:
                remaining[values[value]] = None
    return ApplyResult(
        into=into,
        rewritten_refs=rewritten,
        blobs_scanned=scan.summary.files_scanned,
        remaining=tuple(remaining),
        errors=scan.summary.errors,
    )


def _refs(git: Git) -> dict[str, str]:
    out = git.out("for-each-ref", "--format=%(objectname) %(refname)", what=git.label)
    pairs = (line.split(" ", 1) for line in out.decode("utf-8", "backslashreplace").splitlines())
    return {ref: oid for oid, ref in pairs}


def _filter_repo(git: Git, expressions: str) -> None:
    """``git filter-repo --replace-text FILE --replace-message FILE`` in the mirror (the same
    values in files and in commit and tag messages), with keysweep's git environment (nothing
    configured in the scanned repository runs)."""
    try:
        proc = subprocess.run(
            ["git-filter-repo", *filter_repo_args(expressions), "--quiet"],
            cwd=git.repo,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=git.env,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(NO_FILTER_REPO) from None
    if proc.returncode != 0:  # its whole message: the last line alone says "use --force"
        why = " ".join(proc.stderr.decode("utf-8", "replace").split())[:400]
        why = why or first_line(proc.stderr)
        raise GitError(f"{git.label}: git-filter-repo failed: {why}")
