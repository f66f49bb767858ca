"""Real git repositories built in a test directory: :class:`Repo` (each commit one minute after
the previous one) and plain functions (:func:`init_repo`, :func:`commit_files`; one fixed date).

Author, committer and dates are fixed and the user's own git configuration is kept out.
AWS-shaped values come from :mod:`support.keys`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

EPOCH = 1_700_000_000
GIT_DATE = "2024-01-02T03:04:05+00:00"


def identity_env(date: str, name: str = "Dev", email: str = "dev@example.com") -> dict[str, str]:
    """GIT_* variables fixing a commit's author and committer to one person and one date."""
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }


def isolated_git_env() -> dict[str, str]:
    """The process environment minus the user's git configuration and redirections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    return env


class Repo:
    """A repository in a test directory, with deterministic commits."""

    def __init__(self, path: Path, *, init: bool = True, bare: bool = False) -> None:
        self.path = path
        self.tick = 0
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))
            self.git("config", "user.name", "Ada Lovelace")
            self.git("config", "user.email", "ada@example.com")
            self.git("config", "commit.gpgsign", "false")

    def env(self) -> dict[str, str]:
        when = f"{EPOCH + 60 * self.tick} +0000"
        return {
            **isolated_git_env(),
            **identity_env(when, "Ada Lovelace", "ada@example.com"),
        }

    def git(self, *args: str, check: bool = True, env: Mapping[str, str] | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**self.env(), **(env or {})},
            capture_output=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout.decode().strip()

    def write(self, files: Mapping[str, str | None]) -> None:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def commit(self, files: Mapping[str, str | None], message: str) -> str:
        """Write (None: delete) files, stage exactly those, commit; returns the commit id."""
        self.write(files)
        self.git("add", "-A", "--", *files)
        return self.commit_staged(message)

    def commit_staged(self, message: str) -> str:
        self.tick += 1
        self.git("commit", "-q", "--no-verify", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


# --- plain functions (fixed author and committer, one date) ---------------------------


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Committer",
        GIT_COMMITTER_EMAIL="committer@example.com",
        GIT_AUTHOR_DATE=GIT_DATE,
        GIT_COMMITTER_DATE=GIT_DATE,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    if extra:
        env.update(extra)
    return env


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git in ``cwd`` with fixed identity and dates; returns stdout (stripped)."""
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=git_env(env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    return path


def commit_files(repo: Path, files: Mapping[str, str | bytes], message: str) -> str:
    """Write ``files`` (relative path -> content), commit them, return the commit sha."""
    for rel, content in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def blob_path(repo: Path, blob_id: str) -> Path:
    return repo / ".git" / "objects" / blob_id[:2] / blob_id[2:]
