"""What an audit scans: repository paths, clone URLs, --repos-file lines and directories that
hold many repositories, each named once."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import UsageError
from scanner.sources.gitfiles import looks_bare
from scanner.sources.gitproc import redact_url
from scanner.sources.history import is_remote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RepoInput:
    """One repository to audit.

    ``target`` is what git is given (a path, or a URL that may carry credentials and is never
    shown); ``label`` is what reports show (the path, or the URL with user-info redacted);
    ``key`` names its result file (``DIR/repos/<key>.json``: the name and a hash of the
    real path or URL), stable across runs.
    """

    target: str
    label: str
    key: str

    @property
    def remote(self) -> bool:
        """A URL, cloned by its task."""
        return is_remote(self.target)


def repo_input(target: str) -> RepoInput:
    if is_remote(target):
        label = redact_url(target.rstrip("/"))
        identity = label.replace("://***@", "://", 1)  # the same repository, any credentials
    else:
        label = os.path.normpath(target)
        identity = os.path.realpath(target)
        target = os.path.abspath(target)  # tasks may run in another directory or machine
    stem = _UNSAFE.sub("_", label.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))[:60]
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return RepoInput(target=target, label=label, key=f"{stem.strip('_.') or 'repo'}-{digest}")


def is_repository(path: Path) -> bool:
    """A work tree (has ``.git``) or a bare repository (``HEAD``, ``objects/``, ``refs/``)."""
    return (path / ".git").exists() or looks_bare(str(path))


def find_repositories(root: Path) -> Iterator[Path]:
    """Repositories under ``root``, recursively, not descending into a found repository (nor
    following symbolic links), in sorted order."""
    if is_repository(root):
        yield root
        return
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError as exc:
        raise UsageError(f"{root}: cannot list directory: {exc.strerror or exc}") from None
    for child in children:
        yield from find_repositories(child)


def read_repos_file(path: str) -> list[str]:
    """One repository a line; blank lines, ``#`` comment lines and trailing `` # comments``
    ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"--repos-file {path}: cannot read: {reason}") from None
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def discover(arguments: Sequence[str], repos_file: str | None = None) -> list[RepoInput]:
    """Every repository named by ``arguments`` and ``repos_file``, duplicates dropped (the
    same real path, or the same URL once credentials are removed), in the order given.
    A local path that does not exist is a usage error; a URL is only tried by its task."""
    targets: list[str] = list(arguments)
    if repos_file is not None:
        targets.extend(read_repos_file(repos_file))
    if not targets:
        raise UsageError("audit: no repositories given (pass paths, URLs or --repos-file FILE)")
    seen: set[str] = set()
    found: list[RepoInput] = []
    for item in _expand(targets):
        repo = repo_input(item)
        if repo.key not in seen:
            seen.add(repo.key)
            found.append(repo)
    return found


def _expand(targets: Iterable[str]) -> Iterator[str]:
    for target in targets:
        if is_remote(target):
            yield target
            continue
        path = Path(target)
        if not path.exists():
            raise UsageError(f"{target}: no such file or directory")
        if not path.is_dir():
            raise UsageError(f"{target}: not a repository or a directory of repositories")
        found = [str(p) for p in find_repositories(path)]
        if not found:
            raise UsageError(f"{target}: no git repository found in this directory")
        yield from found
