"""Real git repositories for the history, staged and pre-commit tests, and keysweep run in-process.

Author, committer and dates are fixed (each commit one minute after the previous one) and the
user's own git configuration is kept out. AWS-shaped values come from tests/fixture_keys.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.cli import main

EPOCH = 1_700_000_000


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


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    @property
    def findings(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.report["findings"]
        return found

    def findings_for(self, secret: str) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["secret"] == secret]

    def paths(self) -> set[str]:
        return {f["path"] for f in self.findings}


@contextlib.contextmanager
def _environment(env: Mapping[str, str], cwd: Path | None) -> Iterator[None]:
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def keysweep(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Run:
    """``keysweep ARGS`` in this process (fast), with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with (
        _environment({**isolated_git_env(), **(env or {})}, cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(list(args))
    return Run(code, out.getvalue(), err.getvalue())
