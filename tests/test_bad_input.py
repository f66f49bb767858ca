"""The bad-input matrix: every odd input gets one clear line, a documented exit code, no
traceback, and nothing half-written (docs/hardening.md, "The bad-input matrix").

keysweep runs in a subprocess, exactly as a user runs it. The tests run as root here, which
ignores file permissions, so permission cases drop CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH with
``setpriv`` for the keysweep process only.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fs import tree_snapshot
from support.keys import Credential, make_credential
from support.repo import blob_path, commit_files, git, init_repo
from support.run import (
    assert_clean_error,
    assert_no_traceback,
    run_keysweep,
    run_python,
)
from support.samples import validate_sarif

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
DROP_DAC = (
    "setpriv",
    "--bounding-set",
    "-dac_override,-dac_read_search",
    "--inh-caps",
    "-dac_override,-dac_read_search",
    "--",
)


# --- helpers -------------------------------------------------------------------------------


def ks(
    tmp_path: Path, *args: str, cwd: Path | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    return run_keysweep(args, cwd=cwd or tmp_path, home=tmp_path / "home", **kwargs)


def report(proc: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """The JSON report on stdout (strict UTF-8, strict JSON)."""
    text = proc.stdout.decode("utf-8")
    data: dict[str, Any] = json.loads(text)
    assert data["version"] == 1
    return data


def secrets_found(data: dict[str, Any]) -> set[str]:
    """Every secret value in a --show-secrets report: findings and their paired secrets."""
    found: set[str] = set()
    for finding in data["findings"]:
        found.add(finding["secret"])
        found.update(p["secret"] for p in finding.get("paired") or ())
    return found


def found_credential(data: dict[str, Any], cred: Credential) -> bool:
    found = secrets_found(data)
    return cred.key_id in found and cred.secret in found


@pytest.fixture(scope="session")
def drop_dac() -> tuple[str, ...]:
    """A prefix that runs a command as root *without* the power to ignore file modes."""
    if shutil.which("setpriv") is None:
        if os.geteuid() != 0:
            return ()  # not root: file modes already apply
        pytest.skip("root without setpriv: cannot make a file unreadable for keysweep")
    probe = subprocess.run([*DROP_DAC, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return DROP_DAC


# --- paths that are missing or the wrong kind ------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = ks(tmp_path, "scan", "no-such-dir", "--format", "json", "--output", str(out))
    assert_clean_error(proc, "no-such-dir")
    assert not out.exists(), "a failed scan must not write a report"
    assert proc.stdout == b""


def test_missing_repository_for_history(tmp_path: Path) -> None:
    proc = ks(tmp_path, "history", str(tmp_path / "no-such-repo"))
    assert_clean_error(proc, "no-such-repo")


def test_file_where_a_directory_is_expected(tmp_path: Path) -> None:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("hello\n")
    proc = ks(tmp_path, "history", str(a_file))
    assert_clean_error(proc, "plain.txt")


def test_output_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("nothing here\n")
    (tmp_path / "taken").write_text("a file, not a directory\n")
    proc = ks(tmp_path, "scan", "src", "--format", "json", "--output", "taken/report.json")
    assert_clean_error(proc, "taken/report.json")
    assert (tmp_path / "taken").read_text() == "a file, not a directory\n"


def test_output_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("nothing here\n")
    (tmp_path / "out").mkdir()
    proc = ks(tmp_path, "scan", "src", "--format", "json", "--output", "out")
    assert_clean_error(proc, "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("scan", ".", "--output", ""), "--output"),
        (("baseline", "create", ".", "--output", ""), "--output"),
        (("scan", ".", "--config", ""), "--config"),
        (("history", ".", "--baseline", ""), "--baseline"),
        (("audit", "."), "--output-dir"),
        (("audit", ""), "REPO"),
        (("audit", "--repos-file", ""), "--repos-file"),
    ],
)
def test_an_empty_path_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], option: str) -> None:
    """``-o "$UNSET"``: scan said ``cannot write .: Device or resource busy`` once it had
    scanned everything, baseline fell back to the config's baseline.path; an empty --config,
    --baseline, --output-dir or REPO meant the default or the current directory."""
    repo = init_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("nothing here\n")
    before = tree_snapshot(repo)
    if option == "--output-dir":
        args = (*args, "--output-dir", "")
    line = assert_clean_error(ks(tmp_path, *args, cwd=repo), option)
    assert "an empty file name" in line, line
    assert tree_snapshot(repo) == before


@pytest.mark.parametrize("command", ["scan", "baseline", "missing"])
def test_a_control_character_in_a_name_never_reaches_the_terminal(
    tmp_path: Path, command: str
) -> None:
    """``ESC[31m`` in a file name coloured the terminal in baseline's error lines and in the
    top-level ones (a path that does not exist); the report's error lines escaped it."""
    name = "a\x1b[31mRED"
    if command != "missing":
        (tmp_path / name).symlink_to("/proc/self/mem")  # named, followed, unreadable
    args = {
        "scan": ("scan", name),
        "baseline": ("baseline", "create", name, "-o", "bl.jsonl"),
        "missing": ("scan", name),
    }[command]
    proc = ks(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    assert b"\x1b" not in proc.stderr and b"a\\x1b[31mRED" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", ["scan", "history"])
def test_jobs_below_one_is_a_usage_error(tmp_path: Path, command: str) -> None:
    repo = init_repo(tmp_path / "repo")
    line = assert_clean_error(ks(tmp_path, command, ".", "--jobs", "0", cwd=repo), "--jobs")
    assert "must be at least 1" in line, line


def test_an_endpoint_with_credentials_is_refused_unechoed(tmp_path: Path) -> None:
    """The retry lines and the verdicts named the endpoint, password and all."""
    report = tmp_path / "report.json"
    report.write_text("{}")
    url = "http://deploy:hunter2-pw@127.0.0.1:9"  # keysweep:allow (fake)
    proc = ks(tmp_path, "verify", str(report), "--aws-endpoint-url", url)
    line = assert_clean_error(proc, "--aws-endpoint-url")
    assert "must not hold credentials" in line and b"hunter2" not in proc.stderr


@pytest.mark.parametrize("command", ["history", "staged"])
def test_directory_that_is_not_a_repository(tmp_path: Path, command: str) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("hello\n")
    args = ["history", str(plain)] if command == "history" else ["staged"]
    proc = ks(tmp_path, *args, cwd=plain, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    line = assert_clean_error(proc)
    assert "repository" in line.lower(), line


# --- repositories: empty, damaged, partial, with submodules ----------------------------------


def test_empty_repository(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "empty")
    before = tree_snapshot(repo)
    for args in (["history", str(repo)], ["scan", str(repo)]):
        proc = ks(tmp_path, *args, "--format", "json")
        assert_no_traceback(proc)
        assert proc.returncode == EXIT_CLEAN, proc.stderr
        assert report(proc)["findings"] == []
    proc = ks(tmp_path, "staged", "--format", "json", cwd=repo)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_CLEAN, proc.stderr
    assert tree_snapshot(repo) == before


def test_missing_loose_blob(tmp_path: Path) -> None:
    """History: scan what can be read, report what could not, exit 2."""
    cred = make_credential("loose-blob")
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.env": cred.env_text(), "b.txt": "lost content\n"}, "add files")
    lost = git(repo, "rev-parse", "HEAD:b.txt")
    blob_path(repo, lost).unlink()

    proc = ks(tmp_path, "history", str(repo), "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    data = report(proc)
    assert found_credential(data, cred), "readable blobs must still be scanned"
    problems = " ".join(data["scan"]["errors"]) + proc.stderr.decode()
    assert lost in problems or "b.txt" in problems, problems


def test_missing_loose_blob_without_findings(tmp_path: Path) -> None:
    """Nothing found anywhere else must not turn an unreadable blob into a clean pass."""
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.txt": "harmless\n", "b.txt": "lost content\n"}, "add files")
    blob_path(repo, git(repo, "rev-parse", "HEAD:b.txt")).unlink()
    proc = ks(tmp_path, "history", str(repo), "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr


def test_missing_blob_under_a_tagged_tree(tmp_path: Path) -> None:
    """A blob only a tagged tree holds is reachable too: its absence is named."""
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"README": "start\n"}, "start")
    (repo / "kept.txt").write_text("kept in a tagged tree only\n")
    git(repo, "add", "kept.txt")
    tree = git(repo, "write-tree")
    git(repo, "tag", "snapshot", tree)
    lost = git(repo, "rev-parse", ":kept.txt")
    blob_path(repo, lost).unlink()

    proc = ks(tmp_path, "history", str(repo), "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    assert lost in " ".join(report(proc)["scan"]["errors"])


def test_unreadable_tree_is_one_error_and_findings_stay(tmp_path: Path) -> None:
    """History cannot be walked (a tree is gone): the blobs are still scanned, their findings
    reported unattributed, and the damage named once."""
    cred = make_credential("lost-tree")
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.env": cred.env_text(), "sub/b.txt": "text\n"}, "add files")
    blob_path(repo, git(repo, "rev-parse", "HEAD:sub")).unlink()

    proc = ks(tmp_path, "history", str(repo), "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    data = report(proc)
    assert found_credential(data, cred), "readable blobs must still be scanned"
    walk_errors = [e for e in data["scan"]["errors"] if "cannot read history" in e]
    assert len(walk_errors) == 1, data["scan"]["errors"]


@pytest.mark.slow
def test_a_git_killed_mid_walk_is_named_so(tmp_path: Path) -> None:
    """git killed from outside (the out-of-memory killer) says nothing on stderr: the error
    names how it ended, not just "git failed". The walk reads its 3,000 tips on stdin, more
    than a pipe holds, and this git closes its stdin unread: keysweep's write breaks for sure
    (that BrokenPipeError once reached the command line, which exited 2 without a word)."""
    cred = make_credential("killed-walk")
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.env": cred.env_text()}, "add a file")
    stream = ["reset refs/heads/b0", "from HEAD", ""]
    for n in range(1, 3000):  # a chain of commits, a branch at each: 3,000 distinct tips
        message = f"c{n}".encode()
        stream += [f"commit refs/heads/b{n}", "committer A <a@example.com> 0 +0000"]
        stream += [f"data {len(message)}", message.decode(), f"from refs/heads/b{n - 1}", ""]
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo,
        input="\n".join(stream).encode(),
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    real_git = shutil.which("git")
    assert real_git is not None
    kill = "exec 0<&-; sleep 0.2; kill -9 $$"
    wrapper.write_text(
        f'#!/bin/sh\ncase " $* " in *" log "*) {kill} ;; esac\nexec {real_git} "$@"\n'
    )
    wrapper.chmod(0o755)
    path = f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"
    proc = run_keysweep(
        ["history", str(repo), "--format", "json"],
        cwd=tmp_path,
        home=tmp_path / "home",
        env={"PATH": path},
    )
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    assert "cannot read history: git was killed by signal 9" in proc.stderr.decode()


def test_missing_staged_blob(tmp_path: Path) -> None:
    """Staged: never report "clean" when what is staged could not be read."""
    cred = make_credential("staged-blob")
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"README": "start\n"}, "start")
    (repo / "new.env").write_text(cred.env_text())
    git(repo, "add", "new.env")
    blob_path(repo, git(repo, "rev-parse", ":new.env")).unlink()
    proc = ks(tmp_path, "staged", cwd=repo)
    assert_clean_error(proc, "new.env")


def test_truncated_pack(tmp_path: Path) -> None:
    """Objects in a truncated pack are unreadable; the loose ones are still scanned."""
    old, new = make_credential("pack-old"), make_credential("pack-new")
    repo = init_repo(tmp_path / "repo")
    filler = "\n".join(f"line {i} of some ordinary text" for i in range(5000))
    commit_files(repo, {"big.txt": filler, "old.env": old.env_text()}, "packed")
    git(repo, "repack", "-a", "-d", "-q")
    commit_files(repo, {"new.env": new.env_text()}, "loose")
    (pack,) = (repo / ".git" / "objects" / "pack").glob("*.pack")
    os.truncate(pack, pack.stat().st_size // 2)

    proc = ks(tmp_path, "history", str(repo), "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    assert proc.stderr.strip(), "what could not be read must be reported on stderr"
    data = report(proc)
    assert data["scan"]["errors"], data["scan"]
    assert found_credential(data, new), "the loose objects must still be scanned"


def test_partial_clone(tmp_path: Path) -> None:
    """Missing blobs of a partial clone are skipped and counted; nothing is fetched."""
    gone, kept = make_credential("partial-gone"), make_credential("partial-kept")
    src = init_repo(tmp_path / "src")
    git(src, "config", "uploadpack.allowFilter", "true")
    commit_files(src, {"old.env": gone.env_text()}, "old key")
    git(src, "rm", "-q", "old.env")
    commit_files(src, {"new.env": kept.env_text()}, "new key")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{src}", str(clone))
    before = tree_snapshot(clone)

    proc = ks(tmp_path, "history", str(clone), "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    data = report(proc)
    assert found_credential(data, kept)
    assert gone.secret not in secrets_found(data)
    assert sum(data["scan"]["skipped"].values()) >= 1, data["scan"]
    assert tree_snapshot(clone) == before, "a missing blob must never be fetched"


def test_submodule(tmp_path: Path) -> None:
    inner, outer = make_credential("sub-inner"), make_credential("sub-outer")
    sub = init_repo(tmp_path / "sub")
    commit_files(sub, {"sub.env": inner.env_text()}, "sub")
    main = init_repo(tmp_path / "main")
    git(main, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub")
    commit_files(main, {"main.env": outer.env_text()}, "main")

    proc = ks(tmp_path, "history", str(main), "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    data = report(proc)
    assert found_credential(data, outer)
    assert inner.secret not in secrets_found(data), "history does not follow submodules"
    assert any("submodule" in n.lower() for n in data["scan"]["notes"]), data["scan"]["notes"]

    proc = ks(tmp_path, "scan", str(main), "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    assert found_credential(report(proc), outer)


# --- the file system -------------------------------------------------------------------------


def test_symlink_loops(tmp_path: Path) -> None:
    cred = make_credential("symlinks")
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "key.env").write_text(cred.env_text())
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink(".", root / "sub" / "self")
    os.symlink("..", root / "sub" / "up")
    outside = make_credential("symlink-outside")
    (tmp_path / "outside.env").write_text(outside.env_text())
    os.symlink(tmp_path / "outside.env", root / "escape.env")  # never followed out of the root
    proc = ks(tmp_path, "scan", str(root), "--format", "json", "--show-secrets", timeout=60)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    data = report(proc)
    assert found_credential(data, cred)
    assert {f["path"].rsplit("/", 1)[-1] for f in data["findings"]} == {"key.env"}
    assert len({f["path"] for f in data["findings"]}) == 1, "a link loop scanned a file twice"
    assert outside.secret not in secrets_found(data)
    assert data["scan"]["skipped"].get("symlink_outside") == 1, data["scan"]


def test_unreadable_file_and_directory(tmp_path: Path, drop_dac: tuple[str, ...]) -> None:
    ok, locked = make_credential("readable"), make_credential("locked")
    root = tmp_path / "tree"
    (root / "closed").mkdir(parents=True)
    (root / "ok.env").write_text(ok.env_text())
    (root / "locked.env").write_text(locked.env_text())
    (root / "closed" / "inner.env").write_text(locked.env_text())
    (root / "locked.env").chmod(0)
    (root / "closed").chmod(0)
    try:
        proc = ks(
            tmp_path, "scan", str(root), "--format", "json", "--show-secrets", wrapper=drop_dac
        )
    finally:
        (root / "closed").chmod(0o755)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    stderr = proc.stderr.decode()
    assert "locked.env" in stderr and "closed" in stderr, stderr
    data = report(proc)
    assert found_credential(data, ok), "readable files are still scanned and reported"
    assert locked.secret not in secrets_found(data)
    assert data["scan"]["skipped"].get("unreadable") == 2, data["scan"]


def test_one_gigabyte_file_is_skipped_by_size(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    with open(root / "huge.log", "wb") as handle:
        handle.truncate(1 << 30)  # sparse: costs no disk, reads as 1 GiB of NULs
    (root / "small.txt").write_text("just text\n")
    proc = ks(tmp_path, "scan", str(root), "--format", "json", timeout=60)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_CLEAN, proc.stderr
    scan = report(proc)["scan"]
    assert scan["skipped"].get("too_large") == 1, scan
    assert scan["files_scanned"] == 1, scan


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    """Scanned within the caps (no skip, no hang); a key near the start is found."""
    cred = make_credential("one-line")
    head = f"AWS_ACCESS_KEY_ID={cred.key_id} AWS_SECRET_ACCESS_KEY={cred.secret} "
    body = "lorem ipsum dolor sit amet, " * (10_000_000 // 28)
    (tmp_path / "bundle.min.js").write_text(head + body)
    proc = ks(tmp_path, "scan", "bundle.min.js", "--format", "json", "--show-secrets", timeout=300)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    data = report(proc)
    assert data["scan"]["bytes_scanned"] >= 10_000_000, data["scan"]
    assert cred.key_id in secrets_found(data)
    assert all(f["line"] == 1 for f in data["findings"])


def test_stdin_over_the_size_cap_is_skipped(tmp_path: Path) -> None:
    """Standard input obeys the same size cap as files (``yes | keysweep scan -`` ends)."""
    cred = make_credential("stdin-cap")
    data = (cred.env_text() + "filler line of text\n" * 120_000).encode()  # ~2.4 MB
    proc = ks(tmp_path, "scan", "-", "--format", "json", "--max-file-size", "1M", stdin=data)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_CLEAN, proc.stderr
    scan = report(proc)["scan"]
    assert scan["skipped"].get("too_large") == 1, scan
    assert scan["bytes_scanned"] == 0, scan


@pytest.mark.parametrize("cap", ["40G", "99999999999999999999999"])
def test_huge_size_cap_allocates_nothing(tmp_path: Path, cap: str) -> None:
    """A generous --max-file-size is a limit, not a buffer size (it used to be allocated)."""
    cred = make_credential("huge-cap")
    proc = ks(
        tmp_path,
        "scan",
        "-",
        "--format",
        "json",
        "--max-file-size",
        cap,
        stdin=cred.env_text().encode(),
    )
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr


# --- encodings -------------------------------------------------------------------------------


def _encodings(cred: Credential) -> dict[str, bytes]:
    text = f"# settings\n{cred.env_text()}# end\n"
    return {
        "invalid-utf8": b"\x80\x81 not utf-8 \xc3\x28\n" + text.encode() + b"\xed\xa0\x80\n",
        "latin1-neighbours": b"caf\xe9 = 1\n" + text.encode() + b"na\xefve\n",
        "utf8-bom": codecs.BOM_UTF8 + text.encode(),
        "utf16-le-bom": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        "utf16-be-bom": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        "crlf": text.replace("\n", "\r\n").encode(),
        "cr-only": text.replace("\n", "\r").encode(),
        "nul-after-8k": ("x" * 9000 + "\n" + text).encode() + b"\x00\x00 trailing\n",
    }


@pytest.mark.parametrize("name", list(_encodings(make_credential("enc"))))
def test_encodings(tmp_path: Path, name: str) -> None:
    cred = make_credential(f"enc-{name}")
    (tmp_path / "settings.env").write_bytes(_encodings(cred)[name])
    proc = ks(tmp_path, "scan", "settings.env", "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    data = report(proc)
    assert found_credential(data, cred), (name, secrets_found(data))
    if name not in ("cr-only", "nul-after-8k"):
        expected = 3 if name in ("invalid-utf8", "latin1-neighbours") else 2
        lines = {f["secret"]: f["line"] for f in data["findings"]}
        assert lines.get(cred.key_id) == expected, (name, data["findings"])


def test_binary_files_are_read_as_history_reads_them(tmp_path: Path) -> None:
    """A NUL byte early (a database page, a compiled file) and the key past the first 8 KiB:
    ``scan`` reads the file whole and finds what ``history`` finds in the committed blob."""
    cred = make_credential("nul-early")
    body = b"\x00\x01\x02" + bytes(range(256)) * 64 + cred.env_text().encode()
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"blob.bin": body}, "a binary file")
    scanned = ks(tmp_path, "scan", str(repo / "blob.bin"), "-f", "json", "--show-secrets")
    walked = ks(tmp_path, "history", str(repo), "-f", "json", "--show-secrets")
    for proc in (scanned, walked):
        assert_no_traceback(proc)
        assert proc.returncode == EXIT_FINDINGS, proc.stderr
        assert found_credential(report(proc), cred), secrets_found(report(proc))
    assert secrets_found(report(scanned)) == secrets_found(report(walked))
    assert report(scanned)["scan"]["skipped"] == {}


# --- hostile file names ----------------------------------------------------------------------

NAMES: dict[str, bytes] = {
    "non-ascii": "ключи/секрет-é-日本.env".encode(),
    "newline": b"new\nline.env",
    "tab-and-quotes": b"tab\there \"quoted\" 'single'.env",
    "terminal-escape": b"esc\x1b[31mred\x1b[0m.env",
    "not-utf8": b"latin-\xe9\xff.env",
    "very-long": b"/".join([b"d" * 120] * 28) + b"/" + b"f" * 200 + b".env",
}


def _plant(root: Path, rel: bytes, content: str) -> None:
    full = os.fsencode(root) + b"/" + rel
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(content.encode())


@pytest.mark.parametrize("name", list(NAMES))
def test_hostile_file_names(tmp_path: Path, name: str) -> None:
    cred = make_credential(f"name-{name}")
    root = tmp_path / "tree"
    root.mkdir()
    _plant(root, NAMES[name], cred.env_text())
    shown = os.fsdecode(NAMES[name])

    proc = ks(tmp_path, "scan", "tree", "--format", "json", "--show-secrets")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    data = report(proc)
    assert found_credential(data, cred)
    paths = {f["path"] for f in data["findings"]}
    assert len(paths) == 1, paths
    (path,) = paths
    if name != "not-utf8":
        assert path == f"tree/{shown}", (path, shown)
    # The same report written to a file (strict UTF-8 on disk too).
    proc = ks(tmp_path, "scan", "tree", "--format", "json", "--output", "report.json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))

    proc = ks(tmp_path, "scan", "tree", "--format", "sarif")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    sarif = json.loads(proc.stdout.decode("utf-8"))
    assert sarif["runs"][0]["results"], sarif

    for fmt in ("table", "github"):
        proc = ks(tmp_path, "scan", "tree", "--format", fmt)
        assert_no_traceback(proc)
        assert proc.returncode == EXIT_FINDINGS, proc.stderr
        out = proc.stdout.decode("utf-8")
        assert "\x1b" not in out, f"{fmt}: raw terminal escape from a file name"
        assert "\nline.env" not in out, f"{fmt}: a file name broke a line in two"
        assert ".env" in out, out

    proc = ks(tmp_path, "scan", "tree", "--format", "gitlab")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    json.loads(proc.stdout.decode("utf-8"))
    validate_sarif(sarif)  # last: skips where the shared schema is absent (a fresh clone)


def test_file_name_with_newline_is_one_line_per_finding(tmp_path: Path) -> None:
    cred = make_credential("newline-count")
    root = tmp_path / "tree"
    root.mkdir()
    _plant(root, b"x\ny.env", cred.env_text())
    data = report(ks(tmp_path, "scan", "tree", "--format", "json"))
    count = len(data["findings"])
    for fmt in ("github", "table"):
        out = ks(tmp_path, "scan", "tree", "--format", fmt).stdout.decode()
        rows = [ln for ln in out.splitlines() if "y.env" in ln]
        assert len(rows) == count, (fmt, out)
        assert not any(ln.startswith("y.env") for ln in out.splitlines()), out


# --- malformed rule packs, configs, baselines and reports ------------------------------------

BAD_YAML = {
    "unparsable": "rules:\n  - id: [unclosed\n",
    "not-a-mapping": "- just\n- a list\n",
    "empty": "",
    "binary": "\x00\x01\x02garbage\xff",
    # libyaml's composer recursed in C until the interpreter died (SIGSEGV, no message)
    "nested-deep": "rules: " + "[" * 50_000 + "]" * 50_000 + "\n",
    # PyYAML's constructors raised ValueError/AttributeError: "internal error", exit 2
    "bad-date": "version: 2001-13-14\nrules: []\n",
    "bad-tag": "rules: !!timestamp soon\n",
    "huge-int": "version: " + "9" * 5000 + "\nrules: []\n",
}


@pytest.mark.parametrize("case", list(BAD_YAML))
def test_malformed_rule_pack(tmp_path: Path, case: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("nothing\n")
    pack = tmp_path / "pack.yaml"
    pack.write_text(BAD_YAML[case], encoding="utf-8", errors="surrogateescape")
    for args in (["scan", "src", "--rules", str(pack)], ["rules", "check", str(pack)]):
        line = assert_clean_error(ks(tmp_path, *args), "pack.yaml")
        assert "internal error" not in line, line


@pytest.mark.parametrize(
    "body",
    [
        "[scan\nmax_file_size = 1\n",  # not TOML
        "[scan]\nmax_fiel_size = 1\n",  # unknown key
        '[scan]\nmax_file_size = "big"\n',  # wrong type
        "[allowlist]\nregexes = [{ regex = '(unclosed', target = 'secret' }]\n",  # bad regex
        "a = " + "[" * 100_000 + "\n",  # RecursionError in tomllib: "internal error"
        "[scan]\nmax_file_size = " + "9" * 5000 + "\n",  # ValueError: past Python's int limit
    ],
    ids=["not-toml", "unknown-key", "wrong-type", "bad-regex", "nested-deep", "huge-int"],
)
def test_malformed_config(tmp_path: Path, body: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("nothing\n")
    (tmp_path / "ks.toml").write_text(body)
    proc = ks(tmp_path, "scan", "src", "--config", "ks.toml")
    assert_clean_error(proc, "ks.toml")
    # The same file discovered automatically at the root of the scanned directory.
    (src / ".keysweep.toml").write_text(body)
    assert_clean_error(ks(tmp_path, "scan", "src"), ".keysweep.toml")


def test_missing_config_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    assert_clean_error(ks(tmp_path, "scan", "a.txt", "--config", "nope.toml"), "nope.toml")


def test_config_that_is_not_a_regular_file(tmp_path: Path) -> None:
    """A directory is named as one (it said "not found"); a device or a pipe (``/dev/null``,
    ``--config <(...)``) is read as --rules and --baseline read it (it was "not found")."""
    (tmp_path / "a.txt").write_text("nothing\n")
    (tmp_path / "conf.d").mkdir()
    line = assert_clean_error(ks(tmp_path, "scan", "a.txt", "--config", "conf.d"), "conf.d")
    assert "is a directory" in line.lower(), line
    proc = ks(tmp_path, "scan", "a.txt", "--config", os.devnull)
    assert proc.returncode == EXIT_CLEAN, proc.stderr


@pytest.mark.parametrize(
    "body",
    [
        "not json at all\n",
        '{"keysweep_baseline": 99}\n',
        '{"keysweep_baseline": 1}\n{"path": "a.env", "rule_id": "x"}\n',
        '{"keysweep_baseline": 1}\n{"path": "a.env", "rule_id": "x", "fingerprint": "zz"}\n',
        '{"keysweep_baseline": 1}\n[1, 2\n',
        '{"keysweep_baseline": 1}\n' + "[" * 100_000 + "\n",  # RecursionError in json
        '{"keysweep_baseline": 1}\n{"reason": ' + "9" * 5000 + "}\n",  # past the int limit
    ],
    ids=[
        "not-json",
        "bad-version",
        "no-fingerprint",
        "bad-fingerprint",
        "truncated",
        "nested-deep",
        "huge-int",
    ],
)
def test_malformed_baseline(tmp_path: Path, body: str) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    (tmp_path / "base.jsonl").write_text(body)
    assert_clean_error(ks(tmp_path, "scan", "a.txt", "--baseline", "base.jsonl"), "base.jsonl")


def test_missing_baseline_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    assert_clean_error(ks(tmp_path, "scan", "a.txt", "--baseline", "nope.jsonl"), "nope.jsonl")


def _redacted_report(tmp_path: Path) -> str:
    (tmp_path / "k.env").write_text(make_credential("redacted-report").env_text())
    proc = ks(tmp_path, "scan", "k.env", "--format", "json")
    assert proc.returncode == EXIT_FINDINGS, proc.stderr
    return proc.stdout.decode()


REPORTS = {
    "not-json": lambda tmp: "this is not json\n",
    "truncated": lambda tmp: '{"version": 1, "findings": [',
    "a-list": lambda tmp: "[]\n",
    "wrong-version": lambda tmp: '{"version": 7, "findings": []}\n',
    "finding-not-object": lambda tmp: '{"version": 1, "scan": {}, "findings": [3]}\n',
    "redacted": _redacted_report,
    "sarif": lambda tmp: '{"version": "2.1.0", "runs": []}\n',
    "nested-deep": lambda tmp: "[" * 100_000 + "\n",  # RecursionError: "internal error"
}


@pytest.mark.parametrize("case", list(REPORTS))
@pytest.mark.parametrize("command", ["verify", "deactivate"])
def test_malformed_report(tmp_path: Path, case: str, command: str) -> None:
    (tmp_path / "report.json").write_text(REPORTS[case](tmp_path))
    proc = ks(
        tmp_path, command, "report.json", "--aws-endpoint-url", "http://127.0.0.1:9", timeout=60
    )
    if case == "redacted" and command == "deactivate":
        # A default report is enough to deactivate (key IDs only); what is missing here is
        # the operator (tests/test_deactivate_default_report.py runs it against moto).
        assert_clean_error(proc, "no operator AWS credentials")
        return
    line = assert_clean_error(proc, "report.json")
    if case == "redacted":
        assert "--show-secrets" in line, line
    if case == "sarif":  # it said "'version' must be an integer"
        assert "a SARIF report; give a JSON report (--format json)" in line, line


def test_missing_report(tmp_path: Path) -> None:
    assert_clean_error(ks(tmp_path, "verify", "nope.json"), "nope.json")


# --- output that cannot be written: the previous report survives -----------------------------

PREVIOUS = '{"version": 1, "previous": true}\n'


def _tree_with_key(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "k.env").write_text(make_credential("output").env_text())
    return root


@contextlib.contextmanager
def tiny_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_keeps_previous_report(tmp_path: Path) -> None:
    _tree_with_key(tmp_path)
    with tiny_tmpfs(tmp_path / "full") as disk:
        (disk / "report.json").write_text(PREVIOUS)
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as handle:
            while True:  # fill every block; the report alone would still fit otherwise
                handle.write(b"\0" * 4096)
                handle.flush()
        listing = sorted(p.name for p in disk.iterdir())
        proc = ks(
            tmp_path, "scan", "src", "--format", "json", "--output", str(disk / "report.json")
        )
        assert_clean_error(proc, "report.json")
        assert (disk / "report.json").read_text() == PREVIOUS
        assert sorted(p.name for p in disk.iterdir()) == listing, "a temporary file was left"


def test_unwritable_output_directory_keeps_previous_report(
    tmp_path: Path, drop_dac: tuple[str, ...]
) -> None:
    _tree_with_key(tmp_path)
    out_dir = tmp_path / "ro"
    out_dir.mkdir()
    (out_dir / "report.json").write_text(PREVIOUS)
    out_dir.chmod(0o555)
    try:
        proc = ks(
            tmp_path,
            "scan",
            "src",
            "--format",
            "json",
            "--output",
            "ro/report.json",
            wrapper=drop_dac,
        )
    finally:
        out_dir.chmod(0o755)
    assert_clean_error(proc, "ro/report.json")
    assert (out_dir / "report.json").read_text() == PREVIOUS
    assert [p.name for p in out_dir.iterdir()] == ["report.json"]


def test_output_directory_missing(tmp_path: Path) -> None:
    _tree_with_key(tmp_path)
    proc = ks(tmp_path, "scan", "src", "--output", "nowhere/report.json")
    assert_clean_error(proc, "nowhere/report.json")
    assert not (tmp_path / "nowhere").exists()


def test_unwritable_baseline_keeps_previous_baseline(
    tmp_path: Path, drop_dac: tuple[str, ...]
) -> None:
    _tree_with_key(tmp_path)
    out_dir = tmp_path / "ro"
    out_dir.mkdir()
    previous = '{"keysweep_baseline": 1}\n'
    (out_dir / "base.jsonl").write_text(previous)
    out_dir.chmod(0o555)
    try:
        proc = ks(
            tmp_path,
            "baseline",
            "create",
            "src",
            "--force",
            "--output",
            "ro/base.jsonl",
            wrapper=drop_dac,
        )
    finally:
        out_dir.chmod(0o755)
    assert_clean_error(proc, "ro/base.jsonl")
    assert (out_dir / "base.jsonl").read_text() == previous
    assert [p.name for p in out_dir.iterdir()] == ["base.jsonl"]


# --- issue 9: standard streams, unreadable targets, encodings of the config ------------------


def test_stdin_closed(tmp_path: Path) -> None:
    script = "import os, runpy, sys; os.close(0); sys.argv = ['keysweep', 'scan', '-']; "
    script += "runpy.run_module('scanner', run_name='__main__')"
    proc = run_python(tmp_path, script)
    assert_clean_error(proc, "standard input")


def test_unreadable_directory_named_as_target(tmp_path: Path, drop_dac: tuple[str, ...]) -> None:
    closed = tmp_path / "closed"
    closed.mkdir()
    (closed / "a.env").write_text(make_credential("closed-dir").env_text())
    closed.chmod(0)
    try:
        proc = ks(tmp_path, "scan", "closed", "--format", "json", wrapper=drop_dac)
    finally:
        closed.chmod(0o755)
    assert_clean_error(proc, "closed", "permission denied")
    assert report(proc)["scan"]["skipped"].get("unreadable") == 1


@pytest.mark.parametrize(
    ("codec", "hint"),
    [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-32", "UTF-32"), ("latin-1", "UTF-8")],
)
def test_config_not_utf8(tmp_path: Path, codec: str, hint: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("nothing\n")
    (src / ".keysweep.toml").write_bytes("# café\n[scan]\nmax_file_size = 1048576\n".encode(codec))
    line = assert_clean_error(ks(tmp_path, "scan", "src"), ".keysweep.toml", "not UTF-8")
    assert hint in line


def test_config_with_utf8_bom_is_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("nothing\n")
    (src / ".keysweep.toml").write_bytes(codecs.BOM_UTF8 + b"[scan]\nmax_file_size = 1048576\n")
    proc = ks(tmp_path, "scan", "src")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_CLEAN, proc.stderr


def test_empty_since_says_it_scans_all_history(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.txt": "nothing\n"}, "one")
    proc = ks(tmp_path, "history", str(repo), "--since", "")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_CLEAN, proc.stderr
    assert "--since is empty" in proc.stderr.decode()


def test_a_file_larger_than_memory_under_a_huge_cap_is_one_clear_error(tmp_path: Path) -> None:
    """``--max-file-size 3G`` and a 2 GiB file (sparse: NULs, binary, read like any file)
    in a process allowed 512 MiB: one error naming the file and what to do, exit 2, the rest
    of the scan reported."""
    root = tmp_path / "tree"
    root.mkdir()
    with open(root / "disk.img", "wb") as handle:
        handle.truncate(2 << 30)
    cred = make_credential("beside-the-image")
    (root / "app.env").write_text(cred.env_text(), encoding="utf-8")
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20)); "
    script = limit + "import runpy, sys; "
    script += "sys.argv = ['keysweep', 'scan', 'tree', '--max-file-size', '3G', '-f', 'json', "
    script += "'--show-secrets', '--jobs', '1']; runpy.run_module('scanner', run_name='__main__')"
    proc = run_python(tmp_path, script)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    data = report(proc)
    assert found_credential(data, cred)
    assert data["scan"]["errors"] == [
        "tree/disk.img: cannot read: 2,147,483,648 bytes do not fit in memory; "
        "lower --max-file-size"
    ]
