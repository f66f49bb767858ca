"""The CLI's error path (issue 9 items 5, 23, 24): whatever escapes a command is one line and
exit 2, never exit 1 ("findings") and never a traceback unless KEYSWEEP_DEBUG=1; no error
line echoes a command-line word that looks like a secret, whichever code path wrote it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.keys import hex_string, key_id, secret_key
from support.moto_server import ACCOUNT_A, MotoServer
from support.run import assert_clean_error, cli_env

from scanner.cli import EXIT_ERROR, main, scrub

# A command module whose run() raises an exception carrying a secret in its message.
CRASH = """
import sys
import scanner.cli.scan as scan

def run(ns):
    raise {kind}("boom " + sys.argv[1])

scan.run = run
from scanner.cli import main
raise SystemExit(main(["scan", "."]))
"""


def crash(
    tmp_path: Path, kind: str, secret: str, debug: bool = False
) -> subprocess.CompletedProcess[bytes]:
    env = {"KEYSWEEP_DEBUG": "1"} if debug else None
    return subprocess.run(
        [sys.executable, "-c", CRASH.format(kind=kind), secret],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home", env),
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("kind", ["RuntimeError", "ValueError", "KeyError", "OSError"])
def test_escaping_exception_is_an_internal_error(tmp_path: Path, kind: str) -> None:
    secret = secret_key("last-resort")
    proc = crash(tmp_path, kind, secret)
    assert proc.returncode == EXIT_ERROR
    assert proc.stderr.decode() == f"keysweep: internal error ({kind}); please report it\n"
    assert secret.encode() not in proc.stderr + proc.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = crash(tmp_path, "RuntimeError", "not-a-secret", debug=True)
    assert proc.returncode == EXIT_ERROR
    assert b"Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.endswith(b"keysweep: internal error (RuntimeError); please report it\n")


def test_secret_pasted_as_key_id_is_not_echoed(tmp_path: Path) -> None:
    """Item 5: `reactivate SECRET` (the secret pasted where the key id belongs)."""
    for secret in (secret_key("pasted"), secret_key("pasted-slash", slash=True)):
        proc = subprocess.run(
            [sys.executable, "-m", "scanner", "reactivate", secret, "--yes"],
            cwd=tmp_path,
            env=cli_env(tmp_path / "home"),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert_clean_error(proc, "not a long-term access key id")
        assert secret.encode() not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("argv", "secret_shown"),
    [
        (["scan", secret_key("scan-path")], False),  # a secret given as a path
        (["scan", "--format", secret_key("fmt")], False),  # argparse: invalid choice
        (["scan", f"--rules={secret_key('eq')}"], False),  # --opt=SECRET
        (["scan", "AKIAIOSFODNN7EXAMPLE"], True),  # a key id is an identifier: shown
    ],
    ids=["path", "choice", "equals", "key-id-is-shown"],
)
def test_error_lines_never_echo_secret_like_arguments(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    secret_shown: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    word = argv[-1].split("=")[-1]
    assert (word in err) is secret_shown, err


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        ("x SECRET y", ["SECRET"], "x SECRET y"),  # low entropy: a word, not a secret
        ("no such file: src/app", ["src/app"], "no such file: src/app"),
        ("/tmp/a-b/c1D2e3F4g5H6i7J8: nope", ["/tmp/a-b/c1D2e3F4g5H6i7J8"], None),
    ],
)
def test_scrub_keeps_ordinary_words(message: str, args: list[str], expected: str | None) -> None:
    assert scrub(message, args) == (expected or message)


def test_scrub_names_the_since_revision_as_given() -> None:
    """A commit id looks like a secret, but the value of --since is a revision: a CI log
    must say which one is unknown (``history --since "$BEFORE"`` after a force-push)."""
    sha = hex_string("since-sha", 40)
    message = f"keysweep: error: .: --since: unknown revision {sha}"
    for args in (["history", ".", f"--since={sha}"], ["history", "--since", sha, "."]):
        assert scrub(message, args) == message
    assert scrub(message, ["history", ".", sha]) != message  # elsewhere it is still hidden


def test_scrub_replaces_secrets_everywhere() -> None:
    secret, kid = secret_key("scrub"), key_id("scrub")
    message = f"{secret!r} and {secret} for {kid}"
    assert scrub(message, [secret, kid]) == f"'<redacted>' and <redacted> for {kid}"


@pytest.mark.usefixtures("aws_env", "in_tmp_path")
def test_audit_log_below_a_file_says_not_a_directory(
    moto: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Item 23: mkdir says "File exists"; the user needs "Not a directory"."""
    key, secret = moto.admins[ACCOUNT_A]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    (tmp_path / "state").write_text("a file\n")
    code = main(
        [
            "reactivate",
            key_id("audit-below-file"),
            "--yes",
            "--audit-log",
            str(tmp_path / "state" / "keysweep" / "audit.jsonl"),
            "--aws-endpoint-url",
            moto.endpoint,
        ]
    )
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "Not a directory" in err and "File exists" not in err, err
    assert (tmp_path / "state").read_text() == "a file\n"
