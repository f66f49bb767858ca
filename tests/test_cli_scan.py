"""`keysweep scan` end to end: exit codes, formats, stdin, skips, output files.

Runs main([...]) in-process with the real built-in rules, plus a few real subprocesses of
`python -m scanner` and the installed `keysweep` console script.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.keys import key_id, secret_key
from support.repo import identity_env
from support.samples import env_text, validate_sarif

from scanner.cli import main

REPO = Path(__file__).resolve().parent.parent

GIT_ENV = {
    **identity_env("2024-01-01T00:00:00Z", "Test", "test@example.com"),
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """A directory (not a git repository) with one credential in a .env file."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".env").write_text(env_text(1), encoding="utf-8")
    (root / "app.py").write_text("print('hello')\n", encoding="utf-8")
    return root


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    root = tmp_path / "clean"
    root.mkdir()
    (root / "app.py").write_text("import os\nregion = os.environ['AWS_REGION']\n", encoding="utf-8")
    return root


# -- exit codes ----------------------------------------------------------------------------
def test_clean_directory_exits_0(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["scan", str(clean)], capsys)
    assert code == 0
    assert out == "No secrets found.\n"
    assert err.startswith("keysweep: 0 findings in 1 file")


def test_findings_exit_1_with_redacted_table(
    leaky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["scan", str(leaky)], capsys)
    assert code == 1
    kid, secret = key_id(1), secret_key(1)
    assert secret not in out and secret not in err
    assert f"{leaky}/.env:2:19" in out
    assert "aws-access-key-id" in out and kid in out  # an identifier: shown in full
    assert "paired secret access key" in out
    assert "keysweep: 2 findings in 2 files" in err


def test_redact_ids_hides_key_ids_too(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["scan", str(leaky), "--redact-ids"], capsys)
    assert code == 1
    kid, secret = key_id(1), secret_key(1)
    assert kid not in out and secret not in out and kid not in err and secret not in err
    assert "AKIA…(20 chars)" in out


def test_missing_path_exits_2_with_one_line(
    leaky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = leaky / "nope"
    code, out, err = run_main(["scan", str(leaky), str(missing)], capsys)
    assert code == 2
    assert out == ""
    assert err == f"keysweep: error: {missing}: no such file or directory\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--format", "xml"],
        ["scan", "--max-file-size", "ten"],
        ["scan", "--no-such-option"],
    ],
)
def test_usage_errors_exit_2_without_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err


def test_bad_rule_pack_exits_2(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = leaky.parent / "bad.yaml"
    pack.write_text("version: 1\nrules:\n  - id: Bad Id\n", encoding="utf-8")
    code, _out, err = run_main(["scan", str(leaky), "--rules", str(pack)], capsys)
    assert code == 2
    assert err.startswith("keysweep: error: ") and "bad.yaml" in err
    assert err.count("\n") == 1


def test_unreadable_file_reports_findings_then_exits_2(
    leaky: Path, capsys: pytest.CaptureFixture[str], make_unreadable: Callable[[Path], Path]
) -> None:
    locked = leaky / "locked.txt"
    locked.write_text("private\n", encoding="utf-8")
    make_unreadable(locked)
    code, out, err = run_main(["scan", str(leaky), "--format", "json"], capsys)
    assert code == 2
    report = json.loads(out)
    assert len(report["findings"]) == 2  # what was found is still reported
    assert report["scan"]["skipped"] == {"unreadable": 1}
    assert report["scan"]["errors"] == [f"{locked}: cannot read: permission denied"]
    assert f"keysweep: error: {locked}: cannot read: permission denied\n" in err


def test_keyboard_interrupt_exits_130(
    leaky: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr("scanner.scanning.detect_all", interrupted)
    code, _out, err = run_main(["scan", str(leaky)], capsys)
    assert code == 130
    assert err == "keysweep: interrupted\n"


# -- formats -------------------------------------------------------------------------------
def test_json_format(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["scan", str(leaky), "--format", "json"], capsys)
    assert code == 1
    report = json.loads(out)
    assert report["version"] == 1
    scan = report["scan"]
    assert (scan["mode"], scan["target"], scan["files_scanned"]) == ("scan", str(leaky), 2)
    assert scan["bytes_scanned"] == len(env_text(1)) + len("print('hello')\n")
    by_rule = {f["rule_id"]: f for f in report["findings"]}
    assert set(by_rule) == {"aws-access-key-id", "aws-secret-access-key"}
    key = by_rule["aws-access-key-id"]
    assert (key["path"], key["line"], key["column"]) == (f"{leaky}/.env", 2, 19)
    assert key["secret"] == key_id(1) and key["identifier"] is True  # shown: an identifier
    assert key["secret_redacted"] is True  # its paired secret is not shown
    assert "identifier" not in by_rule["aws-secret-access-key"]
    assert len(key["fingerprint"]) == 32
    assert key["paired"][0]["kind"] == "secret_access_key"
    assert key["paired"][0]["fingerprint"] == by_rule["aws-secret-access-key"]["fingerprint"]
    assert secret_key(1) not in out


def test_show_secrets(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["scan", str(leaky), "-f", "json", "--show-secrets"], capsys)
    assert code == 1
    report = json.loads(out)
    key = next(f for f in report["findings"] if f["rule_id"] == "aws-access-key-id")
    assert key["secret"] == key_id(1)
    assert key["paired"][0]["secret"] == secret_key(1)
    assert key["secret_redacted"] is False


def test_sarif_format_is_schema_valid(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["scan", str(leaky), "--format", "sarif"], capsys)
    assert code == 1
    doc = json.loads(out)
    validate_sarif(doc)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"aws-access-key-id", "aws-secret-access-key"}
    assert all(len(r["partialFingerprints"]["keysweep/v2"]) == 32 for r in results)
    assert key_id(1) in out and secret_key(1) not in out  # the ID is shown, the secret never


def test_every_registered_format_renders(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.report import REPORTERS

    for fmt in REPORTERS:
        code, out, _ = run_main(["scan", str(leaky), "--format", fmt], capsys)
        assert code == 1, fmt
        assert out.strip(), fmt
        assert secret_key(1) not in out, fmt


def test_table_on_a_terminal_uses_rich(leaky: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["scan", str(leaky)]) == 1
    text = screen.getvalue()
    assert "\x1b[" in text and "┃" in text  # colours and box drawing
    assert "aws-access-key-id" in text and key_id(1) in text and secret_key(1) not in text


def test_non_utf8_file_name_round_trips_through_json(tmp_path: Path) -> None:
    from scanner.report.json import load_report

    root = tmp_path / "tree"
    root.mkdir()
    name = os.fsencode(root) + b"/latin-\xe9\xff.env"
    with open(name, "w", encoding="utf-8") as handle:
        handle.write(env_text(11))
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(root), "-f", "json"],
        capture_output=True,
        cwd=tmp_path,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout.decode("utf-8")  # strict UTF-8 on stdout
    report_file = tmp_path / "r.json"
    report_file.write_text(text, encoding="utf-8")
    assert {f.path for f in load_report(report_file).findings} == {os.fsdecode(name)}
    table = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(root)],
        capture_output=True,
        cwd=tmp_path,
        env=_env(),
        check=False,
    )
    assert "latin-\\xe9\\xff.env:2:19" in table.stdout.decode("utf-8")


# -- output files --------------------------------------------------------------------------
def test_output_file_is_written_and_stdout_stays_empty(
    leaky: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.json"
    code, out, err = run_main(["scan", str(leaky), "-f", "json", "-o", str(target)], capsys)
    assert code == 1
    assert out == ""
    assert len(json.loads(target.read_text(encoding="utf-8"))["findings"]) == 2
    assert "2 findings" in err


def test_failed_runs_keep_the_previous_report(
    leaky: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    target.write_text("previous report\n", encoding="utf-8")

    # The scan itself fails: the report is never opened.
    code, _, _ = run_main(["scan", str(leaky / "missing"), "-o", str(target)], capsys)
    assert code == 2
    assert target.read_text(encoding="utf-8") == "previous report\n"

    # Writing fails half-way (disk full at fsync): the old file stays, no temp file is left.
    import scanner.atomic as atomic_mod

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_mod.os, "fsync", disk_full)
    code, _out, err = run_main(["scan", str(leaky), "-f", "json", "-o", str(target)], capsys)
    monkeypatch.undo()
    assert code == 2
    assert f"keysweep: error: cannot write {target}: No space left on device" in err
    assert target.read_text(encoding="utf-8") == "previous report\n"
    assert os.listdir(target.parent) == ["report.json"]

    # An output path in a directory that does not exist.
    code, _, err = run_main(["scan", str(leaky), "-o", str(tmp_path / "nodir" / "r.txt")], capsys)
    assert code == 2 and "keysweep: error: cannot write" in err


# -- inputs --------------------------------------------------------------------------------
def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = env_text(2).replace("\n", "\r\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run_main(["scan", "-", "--format", "json"], capsys)
    assert code == 1
    report = json.loads(out)
    assert report["scan"]["mode"] == "stdin"
    assert {f["path"] for f in report["findings"]} == {"<stdin>"}
    assert {f["source"] for f in report["findings"]} == {"stdin"}


def test_skips_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    outside = tmp_path / "outside.env"
    outside.write_text(env_text(3), encoding="utf-8")
    os.symlink(outside, root / "linked.env")  # leads out of the scanned root: never read
    (root / "huge.env").write_text(env_text(5) + "#" * 11000, encoding="utf-8")
    text = b"caf\xe9 \xff not utf-8\r\n" + b"x" * 9000 + b"\x00 NUL after 8 KiB\r\n"
    (root / "ok.txt").write_bytes(text)
    code, out, _ = run_main(["scan", str(root), "-f", "json", "--max-file-size", "10K"], capsys)
    assert code == 0
    scan = json.loads(out)["scan"]
    assert scan["files_scanned"] == 1
    assert scan["skipped"] == {"symlink_outside": 1, "too_large": 1}
    assert scan["errors"] == []


def test_inline_allow_marker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "settings.py"
    f.write_text(
        f'AWS_ACCESS_KEY_ID = "{key_id(6)}"  # keysweep:allow\n'
        f'AWS_SECRET_ACCESS_KEY = "{secret_key(6)}"  # keysweep:allow\n',
        encoding="utf-8",
    )
    assert run_main(["scan", str(f)], capsys)[0] == 0
    code, out, _ = run_main(["scan", str(f), "--no-inline-allow", "-f", "json"], capsys)
    assert code == 1
    assert len(json.loads(out)["findings"]) == 2


def test_extra_rule_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "acme.yaml"
    pack.write_text(
        """version: 1
rules:
  - id: acme-api-token
    name: ACME API token
    description: Calls the ACME API as its owner.
    severity: high
    keywords: [acme_]
    regex: '(?P<secret>acme_[a-z0-9]{24})'
    min_entropy: 3.0
    examples: ['token = "acme_{{lower:24}}"']
    negative_examples: ['acme_short']
""",
        encoding="utf-8",
    )
    target = tmp_path / "conf.txt"  # not a config file: the generic rules stay out
    target.write_text("token = acme_k3j5h2g8f7d6s5a4q1w2e3r4\n", encoding="utf-8")
    assert run_main(["scan", str(target)], capsys)[0] == 0
    code, out, err = run_main(["scan", str(target), "--rules", str(pack), "-f", "json"], capsys)
    assert code == 1, err
    assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["acme-api-token"]


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_git_work_tree_skips_ignored_unless_all_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("local/\n", encoding="utf-8")
    (repo / "main.py").write_text("print(1)\n", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "local").mkdir()
    (repo / "local" / ".env").write_text(env_text(8), encoding="utf-8")
    (repo / "new.env").write_text(env_text(9), encoding="utf-8")  # untracked, not ignored

    code, out, _ = run_main(["scan", str(repo), "-f", "json", "--show-secrets"], capsys)
    assert code == 1
    report = json.loads(out)
    assert {f["secret"] for f in report["findings"]} == {key_id(9), secret_key(9)}
    assert report["scan"]["skipped"] == {"gitignored": 1}

    code, out, _ = run_main(["scan", str(repo), "--all-files", "-f", "json"], capsys)
    assert code == 1
    assert {f["path"] for f in json.loads(out)["findings"]} == {
        f"{repo}/new.env",
        f"{repo}/local/.env",
    }


# -- help and version ----------------------------------------------------------------------
def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["scan", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for needle in (
        "--format",
        "--output",
        "--show-secrets",
        "--all-files",
        "--max-file-size",
        "standard input",
        "exit codes",
    ):
        assert needle in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "scan" in capsys.readouterr().out


# -- real processes ------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_python_dash_m_scanner(leaky: Path, clean: Path) -> None:
    found = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(leaky), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        check=False,
    )
    assert found.returncode == 1, found.stderr
    assert len(json.loads(found.stdout)["findings"]) == 2
    none = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(clean)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        check=False,
    )
    assert none.returncode == 0, none.stderr
    assert none.stdout == "No secrets found.\n"


def test_keysweep_console_script_and_stdin(tmp_path: Path) -> None:
    exe = shutil.which("keysweep") or str(Path(sys.executable).parent / "keysweep")
    assert Path(exe).exists(), "keysweep console script is not installed (pip install -e .)"
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.startswith("keysweep 0.")
    piped = subprocess.run(
        [exe, "scan", "-"],
        input=env_text(10),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        check=False,
    )
    assert piped.returncode == 1, piped.stderr
    assert "<stdin>:2:19" in piped.stdout
    assert key_id(10) in piped.stdout  # an identifier, shown in full
    assert secret_key(10) not in piped.stdout + piped.stderr


def test_sigint_exits_130(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "scan", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(),
    )
    assert proc.stdin is not None
    # Wait until keysweep sleeps in its read of stdin (state S for 3 polls in a row): its
    # Python-level SIGINT handling is in place long before that.
    sleeping = 0
    for _ in range(400):
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        sleeping = sleeping + 1 if state == "S" else 0
        if sleeping >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode().strip().endswith("keysweep: interrupted")


# -- the project itself --------------------------------------------------------------------
def test_project_scans_itself_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["scan", str(REPO)], capsys)
    assert code == 0, out + err
