"""Which files of a directory git considers part of the project, asked read-only.

``keysweep scan DIR`` inside a git work tree scans the tracked files plus the untracked files
that are not ignored, like ``git ls-files --cached --others --exclude-standard``. git runs with
optional locks off, no fsmonitor hook and no untracked cache, so scanning never writes to the
repository, and nothing configured in the scanned repository gets executed (every git call
goes through :mod:`scanner.sources.gitproc`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from scanner.errors import GitError
from scanner.sources.gitproc import SAFE_CONFIG, Git, first_line, git_env


@dataclass(frozen=True)
class GitListing:
    """``in_work_tree`` False means: not a git work tree (or git is absent), walk every file.

    ``files`` are relative to the directory asked about. ``ignored`` counts ignored paths
    (an ignored directory counts once); ``sparse`` the tracked files a sparse checkout leaves
    out of the work tree (git's skip-worktree bit). ``error`` is a one-line reason when git
    was there but could not list the files; the caller then walks every file and says so.
    """

    in_work_tree: bool
    files: tuple[str, ...] = ()
    ignored: int = 0
    error: str | None = None
    sparse: int = 0


def _git(directory: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return Git(directory).run(*args, check=False)


def _ignored_by_git(directory: str) -> bool:
    """Whether git ignores ``directory`` itself (``check-ignore`` rejects literal pathspecs,
    so this one call is built here, with the same safe config and environment)."""
    argv = ["git", "--no-pager"]
    for item in SAFE_CONFIG:
        argv += ["-c", item]
    argv += ["-C", directory, "check-ignore", "-q", "."]
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, env=git_env(keep_redirects=False)
    )
    return proc.returncode == 0


def looks_bare(directory: str) -> bool:
    """Whether ``directory`` has a bare repository's layout (``HEAD``, ``objects/``,
    ``refs/``): its files are git's compressed objects, not the project's."""
    join = os.path.join
    return (
        os.path.isfile(join(directory, "HEAD"))
        and os.path.isdir(join(directory, "objects"))
        and os.path.isdir(join(directory, "refs"))
    )


def list_git_files(directory: str) -> GitListing:
    """The files git would call part of the work tree under ``directory``."""
    try:
        probe = _git(directory, "rev-parse", "--is-inside-work-tree")
    except GitError:
        return GitListing(in_work_tree=False)  # no git: every file is scanned
    if probe.returncode != 0:
        reason = first_line(probe.stderr)
        if "not a git repository" in reason:
            return GitListing(in_work_tree=False)
        return GitListing(in_work_tree=False, error=f"git cannot list files: {reason}")
    if probe.stdout.strip() != b"true":
        return GitListing(in_work_tree=False)  # inside a .git directory or a bare repository
    if _ignored_by_git(directory):
        # The user named a directory that git ignores: scan it, since they asked for it.
        return GitListing(in_work_tree=False)
    # -t tags each path: "H " tracked, "S " skip-worktree (outside a sparse checkout), "? " other
    listed = _git(directory, "ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard")
    if listed.returncode != 0:
        return GitListing(
            in_work_tree=False, error=f"git ls-files failed: {first_line(listed.stderr)}"
        )
    tagged = [p for p in listed.stdout.split(b"\0") if len(p) > 2]
    sparse = sum(1 for p in tagged if p.startswith(b"S "))
    files = tuple(
        dict.fromkeys(
            p[2:].decode("utf-8", "surrogateescape") for p in tagged if not p.startswith(b"S ")
        )
    )
    ignored_run = _git(
        directory, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"
    )
    ignored = ignored_run.stdout.count(b"\0") if ignored_run.returncode == 0 else 0
    return GitListing(in_work_tree=True, files=files, ignored=ignored, sparse=sparse)


def tracked_by(directory: str, path: str) -> str | None:
    """The name ``path`` has in the index of the work tree holding ``directory`` when git
    tracks it there (a report written to it would replace a file of the project, uncommitted
    changes and all), else None: untracked, outside the work tree, no work tree, no git."""
    if os.path.isdir(path):
        return None
    try:
        probe = _git(directory, "rev-parse", "--show-toplevel")
    except GitError:
        return None
    top = probe.stdout.decode("utf-8", "surrogateescape").strip()
    if probe.returncode != 0 or not top:
        return None
    inside = os.path.relpath(os.path.realpath(path), os.path.realpath(top))
    if inside == os.pardir or inside.startswith(os.pardir + os.sep):
        return None
    name = inside.replace(os.sep, "/")
    listed = _git(top, "ls-files", "-z", "--", name)  # pathspecs are literal (gitproc)
    return (
        name
        if listed.returncode == 0
        and name.encode("utf-8", "surrogateescape") + b"\0" in listed.stdout
        else None
    )
