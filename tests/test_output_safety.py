"""Where reports go and how they are written (issue 9 items 1, 2, 4, 18): --output writes a
regular file atomically but writes *through* devices, FIFOs, pipes and symlinks, honours the
umask, never widens a mode, writes plain secrets 0600, refuses to overwrite an input, and a
failed write to stdout is one line, exit 2 (quiet when the reader went away).

keysweep runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.keys import make_credential
from support.repo import Repo
from support.run import assert_clean_error, assert_no_traceback, cli_env, run_python

EXIT_FINDINGS, EXIT_ERROR = 1, 2


def ks(
    tmp_path: Path, *args: str, umask: int | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """``python -m scanner ARGS`` in ``tmp_path`` (``umask`` applied to the child only)."""

    def before() -> None:
        if umask is not None:
            os.umask(umask)

    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    proc: subprocess.CompletedProcess[bytes] = subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "scanner", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home"),
        timeout=120,
        check=False,
        preexec_fn=before,
        **streams,
    )
    return captured(proc)


def captured(proc: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    """``proc`` with b"" for a stream that was not captured."""
    proc.stdout = proc.stdout or b""
    proc.stderr = proc.stderr or b""
    return proc


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """A directory holding one whole credential."""
    cred = make_credential("output-safety")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".env").write_text(cred.env_text())
    return tmp_path / "src"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- item 1: what --output names -------------------------------------------------------------


def test_symlink_stays_a_link_and_its_target_is_written(tmp_path: Path, leaky: Path) -> None:
    real = tmp_path / "reports" / "real.json"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "latest.json")
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["findings"]


def test_dangling_symlink_creates_its_target(tmp_path: Path, leaky: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "fresh.json")
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "latest.json")
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert link.is_symlink() and json.loads((tmp_path / "fresh.json").read_text())["findings"]


def test_fifo_is_written_through_not_replaced(tmp_path: Path, leaky: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(
        target=lambda: received.append(fifo.read_bytes()), daemon=True
    )  # a replaced FIFO leaves it waiting
    reader.start()
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced by a file"
    assert json.loads(received[0])["findings"]


def test_device_is_written_through_not_replaced(tmp_path: Path, leaky: Path) -> None:
    before = os.lstat(os.devnull)
    if not stat.S_ISCHR(before.st_mode):
        pytest.skip(f"{os.devnull} on this machine is not a device")
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", os.devnull)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    after = os.lstat(os.devnull)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (
        before.st_ino,
        before.st_mode,
        before.st_rdev,
    )


def test_link_to_own_stdout_is_written_through(tmp_path: Path, leaky: Path) -> None:
    """What /dev/stdout is: a link to /proc/self/fd/1 (a private copy, so that a failing run
    cannot damage the machine's /dev)."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", str(link))
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert json.loads(proc.stdout)["findings"]


def test_dev_fd_pipe_is_written_through(tmp_path: Path, leaky: Path) -> None:
    """``-o >(cmd)`` hands keysweep /dev/fd/N naming a pipe."""
    read_end, write_end = os.pipe()
    proc = ks(
        tmp_path, "scan", "src", "-f", "json", "-o", f"/dev/fd/{write_end}", pass_fds=(write_end,)
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert json.loads(data)["findings"]


def test_dash_means_stdout(tmp_path: Path, leaky: Path) -> None:
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "-")
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert json.loads(proc.stdout)["findings"]
    assert not (tmp_path / "-").exists()


# --- item 2: modes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("umask", "show_secrets", "expected"),
    [
        (0o022, False, 0o644),
        (0o077, False, 0o600),
        (0o027, False, 0o640),
        (0o022, True, 0o600),
        (0o002, True, 0o600),
    ],
)
def test_new_report_mode(
    tmp_path: Path, leaky: Path, umask: int, show_secrets: bool, expected: int
) -> None:
    extra = ("--show-secrets",) if show_secrets else ()
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "r.json", *extra, umask=umask)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert mode_of(tmp_path / "r.json") == expected


@pytest.mark.parametrize(
    ("existing", "show_secrets", "expected"),
    [(0o600, False, 0o600), (0o640, False, 0o640), (0o644, True, 0o600), (0o400, False, 0o400)],
)
def test_existing_report_mode_is_never_widened(
    tmp_path: Path, leaky: Path, existing: int, show_secrets: bool, expected: int
) -> None:
    report = tmp_path / "r.json"
    report.write_text("old\n")
    report.chmod(existing)
    extra = ("--show-secrets",) if show_secrets else ()
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "r.json", *extra, umask=0)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert mode_of(report) == expected
    assert json.loads(report.read_text())["findings"]


def test_baseline_honours_umask(tmp_path: Path, leaky: Path) -> None:
    proc = ks(tmp_path, "baseline", "create", "src", "-o", "b.json", umask=0o077)
    assert proc.returncode == 0, proc.stderr
    assert mode_of(tmp_path / "b.json") == 0o600


# --- item 4: --output over an input ----------------------------------------------------------


@pytest.mark.parametrize("output", ["src/.env", "./src/../src/.env", "alias"])
@pytest.mark.parametrize("scanned", ["src/.env", "src", "."])
def test_output_naming_a_scanned_file_is_refused(
    tmp_path: Path, leaky: Path, output: str, scanned: str
) -> None:
    """Named on the command line or met inside a scanned directory (``scan . -o .env``
    replaced the .env with the report), the file is left as it was."""
    (tmp_path / "alias").symlink_to(leaky / ".env")
    before = (leaky / ".env").read_bytes()
    proc = ks(tmp_path, "scan", scanned, "-f", "json", "-o", output)
    assert_clean_error(proc, output, "one of the files this scan reads")
    assert len(proc.stderr.decode().strip().splitlines()) == 1
    assert (leaky / ".env").read_bytes() == before


def test_a_new_report_inside_a_scanned_directory_is_written_once(
    tmp_path: Path, leaky: Path
) -> None:
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "src/report.json")
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    written = (leaky / "report.json").read_bytes()
    # a second run would scan the first report (its key IDs are shown in full) and replace it
    proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", "src/report.json")
    assert_clean_error(proc, "src/report.json", "skip it")
    assert (leaky / "report.json").read_bytes() == written


@pytest.mark.parametrize(
    ("command", "output"),
    [
        ("staged", "app/.env"),
        ("history", "app/.env"),
        ("history", "app/link.json"),  # a link to a tracked file is written through
    ],
)
def test_a_file_the_repository_tracks_is_never_the_report(
    tmp_path: Path, command: str, output: str
) -> None:
    """``staged -o .env`` replaced the work tree's .env, uncommitted changes and all (scan
    refuses every file it reads; staged and history read blobs, not the work tree)."""
    repo = Repo(tmp_path / "app")
    repo.commit({".env": make_credential("tracked").env_text(), "notes.txt": "hi\n"}, "one")
    (repo.path / "link.json").symlink_to(".env")
    (repo.path / ".env").write_text("edited, not committed\n")
    repo.git("add", ".env")
    args = ("staged",) if command == "staged" else ("history", "app")
    cwd = repo.path if command == "staged" else tmp_path
    target = output if command == "history" else output.removeprefix("app/")
    proc = ks(cwd, *args, "--format", "json", "--output", target)
    line = assert_clean_error(proc, "--output")
    assert "is a file the repository tracks (.env)" in line, line
    assert (repo.path / ".env").read_text() == "edited, not committed\n"
    fresh = ks(
        cwd,
        *args,
        "--format",
        "json",
        "--output",
        "../report.json" if command == "staged" else "report.json",
    )
    assert fresh.returncode in (EXIT_FINDINGS, 0), fresh.stderr


def test_a_report_the_scan_skips_may_be_replaced(tmp_path: Path, leaky: Path) -> None:
    """A file git ignores, or one under scan.skip_paths, is no scanned file."""
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(leaky)], check=True)
    (leaky / ".gitignore").write_text("ignored.json\n")
    (leaky / ".keysweep.toml").write_text('[scan]\nskip_paths = ["skipped.json"]\n')
    for name in ("ignored.json", "skipped.json"):
        (leaky / name).write_text("an earlier report\n")
        proc = ks(tmp_path, "scan", "src", "-f", "json", "-o", f"src/{name}")
        assert proc.returncode == EXIT_FINDINGS, proc.stderr
        assert json.loads((leaky / name).read_text())["findings"]


# --- item 18: stdout that cannot be written --------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [("scan", "src"), ("scan", "empty"), ("rules", "list")],
    ids=["findings", "clean", "printing-command"],
)
def test_stdout_full_is_one_line(tmp_path: Path, leaky: Path, argv: tuple[str, ...]) -> None:
    (tmp_path / "empty").mkdir()
    with open("/dev/full", "wb") as full:
        proc = ks(tmp_path, *argv, stdout=full, stderr=subprocess.PIPE)
    assert_clean_error(proc, "standard output", "No space left on device")


def test_stdout_closed_is_one_line(tmp_path: Path, leaky: Path) -> None:
    proc = ks(tmp_path, "scan", "src", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.returncode == EXIT_FINDINGS  # control: with a stdout the scan works
    script = "import os, runpy, sys; os.close(1); sys.argv = ['keysweep', 'scan', 'src']; "
    script += "runpy.run_module('scanner', run_name='__main__')"
    closed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert_clean_error(captured(closed), "standard output")


def test_a_broken_pipe_that_is_not_stdout_is_never_silent(tmp_path: Path, leaky: Path) -> None:
    """A BrokenPipeError from a pipe of keysweep's own (to git, say) while stdout is fine is
    a failure to report, never the quiet ending of ``| head -1``: a silent exit 2 looked like
    a scan that said nothing."""
    code = (
        "import sys\n"
        "from scanner.sources import files\n"
        "def broken(self):\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "files.FileSource.entries = broken\n"
        "from scanner.cli import main\n"
        "sys.exit(main(['scan', 'src', '-f', 'json']))\n"
    )
    proc = run_python(tmp_path, code)
    assert_no_traceback(captured(proc))
    assert proc.returncode == EXIT_ERROR
    assert b"internal error (BrokenPipeError)" in proc.stderr, proc.stderr


def test_reader_gone_ends_quietly(tmp_path: Path, leaky: Path) -> None:
    """``keysweep scan . | head -1``: the reader closed the pipe; no traceback, no message."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "src", "-f", "json"],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home"),
        stdout=write_end,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    os.close(write_end)
    assert_no_traceback(captured(proc))
    assert proc.returncode == EXIT_ERROR
    assert b"Exception ignored" not in proc.stderr
    assert proc.stderr == b"", proc.stderr


def test_reader_gone_mid_report_ends_quietly_with_exit_2(tmp_path: Path) -> None:
    """``keysweep scan . -f json | head -c 100`` on a report larger than the pipe: the reader
    takes a little and goes. Python's buffered write returned the 64 KiB it wrote without a
    word, so the rest was lost while keysweep exited 1 as if the report was delivered."""
    tree = tmp_path / "many"
    tree.mkdir()
    for n in range(400):
        (tree / f"app{n}.env").write_text(make_credential(f"mid-report-{n}").env_text())
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "scan", "many", "-f", "json"],
        cwd=tmp_path,
        env=cli_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"{")
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == EXIT_ERROR, stderr
    assert stderr == b"", stderr
