"""Shared pieces of the hardening tests (bad input, hostile repos, no-leak).

Everything secret-shaped is generated at run time, so the project still scans itself
clean. keysweep runs in a subprocess (``python -m scanner``) so a traceback, a stray
print or a crash is seen exactly as a user would see it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fixture_keys import key_id, secret_key, session_token

REPO_ROOT = Path(__file__).resolve().parent.parent

GIT_DATE = "2024-01-02T03:04:05+00:00"


@dataclass(frozen=True)
class Credential:
    """An AWS-shaped credential that exists nowhere but in this test run."""

    key_id: str
    secret: str
    token: str | None = None

    @property
    def values(self) -> tuple[str, ...]:
        """The values that must never leak (the key ID is an identifier, not a secret)."""
        return (self.secret,) if self.token is None else (self.secret, self.token)

    def env_text(self) -> str:
        lines = [f"AWS_ACCESS_KEY_ID={self.key_id}", f"AWS_SECRET_ACCESS_KEY={self.secret}"]
        if self.token is not None:
            lines.append(f"AWS_SESSION_TOKEN={self.token}")
        return "\n".join(lines) + "\n"


def make_credential(seed: int | str, *, temporary: bool = False) -> Credential:
    """A deterministic key ID + secret (+ session token for ``ASIA`` keys) for ``seed``,
    built from the project's shared fixture generators."""
    name = f"hardening-{seed}"
    token = session_token(name) if temporary else None
    return Credential(key_id(name, "ASIA" if temporary else "AKIA"), secret_key(name), token)


def cli_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment that keeps keysweep (and git, and boto3) away from this machine's
    configuration, credentials and network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GIT_", "KEYSWEEP"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    if extra:
        env.update(extra)
    return env


def run_keysweep(
    args: Sequence[str],
    *,
    cwd: Path,
    home: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    wrapper: Sequence[str] = (),
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m scanner ARGS`` and capture raw stdout/stderr bytes."""
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "scanner", *args],
        cwd=cwd,
        env=cli_env(home, env),
        capture_output=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )


def error_lines(proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    """The ``keysweep: error: ...`` lines on stderr."""
    text = proc.stderr.decode("utf-8", "replace")
    return [line for line in text.splitlines() if "error:" in line]


def assert_no_traceback(proc: subprocess.CompletedProcess[bytes]) -> None:
    for stream in (proc.stdout, proc.stderr):
        text = stream.decode("utf-8", "replace")
        assert "Traceback (most recent call last)" not in text, text[-3000:]


def assert_clean_error(
    proc: subprocess.CompletedProcess[bytes], *mentions: str, code: int = 2
) -> str:
    """Exit ``code``, no traceback, and one error line naming each of ``mentions``."""
    assert_no_traceback(proc)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == code, f"exit {proc.returncode}, stderr: {stderr[-2000:]}"
    lines = error_lines(proc)
    assert lines, f"no error line on stderr: {stderr[-2000:]!r}"
    line = lines[0]
    assert line.startswith(("keysweep: error:", "keysweep ")), line
    for mention in mentions:
        assert mention.lower() in stderr.lower(), f"{mention!r} not named in {stderr!r}"
    return line


# --- git -------------------------------------------------------------------------------


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


# --- snapshots of a directory tree ------------------------------------------------------


def tree_snapshot(root: Path) -> dict[str, tuple[str, int, int, str]]:
    """Every entry under ``root``: kind, mode, mtime (ns) and content hash.

    Two equal snapshots mean nothing was created, deleted, rewritten or touched,
    including git's ``index`` (an index refresh rewrites it) and ``*.lock`` files.
    """
    snap: dict[str, tuple[str, int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                snap[rel] = ("link", st.st_mode, st.st_mtime_ns, os.readlink(path))
            elif path.is_dir():
                snap[rel] = ("dir", st.st_mode, st.st_mtime_ns, "")
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                snap[rel] = ("file", st.st_mode, st.st_mtime_ns, digest)
    return snap


def snapshot_diff(
    before: Mapping[str, tuple[str, int, int, str]], after: Mapping[str, tuple[str, int, int, str]]
) -> list[str]:
    """Human-readable differences between two :func:`tree_snapshot` results."""
    changes = [f"created {p}" for p in sorted(after.keys() - before.keys())]
    changes += [f"deleted {p}" for p in sorted(before.keys() - after.keys())]
    changes += [
        f"changed {p}: {before[p]} -> {after[p]}"
        for p in sorted(before.keys() & after.keys())
        if before[p] != after[p]
    ]
    return changes


def written_files(root: Path) -> dict[Path, bytes]:
    """Contents of every regular file under ``root`` (for leak greps)."""
    out: dict[Path, bytes] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                out[path] = path.read_bytes()
    return out
