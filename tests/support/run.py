"""keysweep run the two ways the tests need: in this process (:func:`keysweep`, fast) and as
a subprocess (:func:`run_keysweep`, ``python -m scanner``, so a traceback, a stray print or a
crash is seen exactly as a user would see it), with an environment kept away from this
machine's configuration, credentials and network (:func:`cli_env`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.cli import main
from support.repo import isolated_git_env

REPO_ROOT = Path(__file__).resolve().parents[2]


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

    def one(self, secret: str) -> dict[str, Any]:
        """The one finding of ``secret`` (a report with ``--show-secrets``)."""
        found = self.findings_for(secret)
        assert len(found) == 1, (secret, self.findings)
        return found[0]

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


def run_python(cwd: Path, script: str) -> subprocess.CompletedProcess[bytes]:
    """``python -c SCRIPT`` in ``cwd`` with the CLI test environment (home beside it)."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=cli_env(cwd / "home"),
        capture_output=True,
        timeout=120,
        check=False,
    )


def probe(
    code: str, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    """Run ``code`` (which ends by printing one JSON line) in a new interpreter with ``args``
    as its arguments and exactly ``env``: that line, and the whole of stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, proc.stdout


def keysweep_process(cwd: Path, *args: str, home: Path | None = None) -> Run:
    """``python -m scanner ARGS`` in ``cwd``, as CI runs it, output decoded into a :class:`Run`."""
    proc = run_keysweep(args, cwd=cwd, home=home or cwd.parent / "home", timeout=300)
    return Run(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
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
