"""FileSource: which files a scan reads, and that everything it passes over is counted."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support.repo import identity_env

from scanner.errors import UsageError
from scanner.models import is_binary
from scanner.sources import files
from scanner.sources.files import FileSource, display_path

GIT_ENV = {
    **identity_env("2024-01-01T00:00:00Z", "Test", "test@example.com"),
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def scan(paths: list[str], **kwargs: object) -> tuple[dict[str, bytes], FileSource]:
    source = FileSource(paths, **kwargs)  # type: ignore[arg-type]
    frags = {f.path: f.raw for f in source}
    return frags, source


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_is_binary() -> None:
    assert is_binary(b"abc\x00def")
    assert not is_binary(b"plain text\n")
    assert not is_binary("utf-16 text".encode("utf-16"))  # BOM + NULs: text
    assert not is_binary(b"x" * 9000 + b"\x00")  # NUL after the sniffed prefix


def test_display_path() -> None:
    assert display_path(".", "a/b.txt") == "a/b.txt"
    assert display_path("src", "x.py") == "src/x.py"
    assert display_path("./src/", "") == "src"


def test_plain_directory_walk_skips_and_counts(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    write(root / "a.txt", "hello\r\nworld\r\n")
    write(root / "sub" / "b.env", b"KEY=\xff\xfe\xfdbroken utf-8\n")
    write(root / "sub" / "utf16.txt", "wide text".encode("utf-16"))
    write(root / "img.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(root / "big.log", b"x" * 2048)
    write(root / ".git" / "config", "[core]\n")  # never read: git metadata
    outside = write(tmp_path / "outside.txt", "secret stuff\n")
    os.symlink(outside, root / "link-out.txt")
    os.symlink(root / "a.txt", root / "link-in.txt")
    os.symlink(tmp_path, root / "dirlink")
    os.mkfifo(root / "pipe")

    frags, source = scan([str(root)], max_file_size=1024)

    rel = {os.path.relpath(p, root) for p in frags}
    assert rel == {"a.txt", "sub/b.env", "sub/utf16.txt", "img.png"}  # binary: read too
    assert frags[f"{root}/a.txt"] == b"hello\r\nworld\r\n"  # CRLF kept as read
    assert dict(source.stats.skipped) == {
        "too_large": 1,
        "symlink_outside": 2,
        "symlink": 1,
        "special_file": 1,
    }
    assert source.stats.files_scanned == 4
    assert source.stats.bytes_scanned == sum(len(v) for v in frags.values())
    assert source.stats.errors == []


def test_a_named_pipe_is_read_like_standard_input(tmp_path: Path) -> None:
    """``scan <(cat .env)`` said "No secrets found": the pipe was skipped as a special file
    (in a directory walk it still is: nothing may block on it there)."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def feed() -> None:
        with open(pipe, "wb") as writer:
            writer.write(b"KEY=value\n" * 3)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    frags, source = scan([str(pipe)], max_file_size=1024)
    if thread.is_alive():  # never opened for reading: let the writer go, then fail
        os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
    thread.join(timeout=30)
    assert frags == {str(pipe): b"KEY=value\n" * 3}
    assert dict(source.stats.skipped) == {} and source.stats.files_scanned == 1
    zero, capped = scan(["/dev/zero"], max_file_size=1024)
    assert zero == {} and dict(capped.stats.skipped) == {"too_large": 1}


def test_a_file_listed_twice_is_read_once(tmp_path: Path) -> None:
    """``scan a.env a.env`` or ``scan . src`` reported every secret there twice."""
    write(tmp_path / "src" / "a.env", "A=1\n")
    write(tmp_path / "b.txt", "B=2\n")
    frags, source = scan([str(tmp_path), str(tmp_path / "src"), str(tmp_path / "src" / "a.env")])
    assert sorted(frags) == [str(tmp_path / "b.txt"), str(tmp_path / "src" / "a.env")]
    assert dict(source.stats.skipped) == {"listed_twice": 2}
    piped, once = scan(["-", "-"], stdin=io.BytesIO(b"C=3\n"))
    assert piped == {"<stdin>": b"C=3\n"} and dict(once.stats.skipped) == {"listed_twice": 1}


def test_a_bare_repository_is_walked_with_a_note(tmp_path: Path) -> None:
    """Its files are compressed objects: the scan finds nothing there, and says where to look."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo / "a.txt", "hello\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    git(tmp_path, "clone", "-q", "--bare", str(repo), "bare.git")
    _, source = scan([str(tmp_path / "bare.git")])
    bare = tmp_path / "bare.git"
    assert source.stats.notes == [
        f"{bare} holds a git repository's objects, compressed: keysweep history {bare} reads "
        "every commit"
    ]
    _, plain = scan([str(repo / "a.txt")])
    assert plain.stats.notes == []


def test_files_outside_a_sparse_checkout_are_counted_as_sparse(tmp_path: Path) -> None:
    """They were counted as ``deleted``, as if someone had removed them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo / "app" / "main.py", "x = 1\n")
    write(repo / "docs" / "a.md", "one\n")
    write(repo / "docs" / "b.md", "two\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    git(repo, "sparse-checkout", "set", "--no-cone", "/app/")
    assert not (repo / "docs").exists()
    frags, source = scan([str(repo)])
    assert sorted(frags) == [f"{repo}/app/main.py"]
    assert dict(source.stats.skipped) == {"sparse": 2}


def test_git_work_tree_lists_tracked_and_untracked_not_ignored(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo / ".gitignore", "build/\n*.log\n")
    write(repo / "tracked.py", "x = 1\n")
    write(repo / "gone.py", "y = 2\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "gone.py").unlink()
    write(repo / "untracked.env", "A=1\n")
    write(repo / "build" / "out.txt", "artifact\n")
    write(repo / "debug.log", "log\n")

    frags, source = scan([str(repo)])
    assert {os.path.relpath(p, repo) for p in frags} == {
        ".gitignore",
        "tracked.py",
        "untracked.env",
    }
    assert source.stats.skipped["gitignored"] == 2  # build/ (once) and debug.log
    assert source.stats.skipped["deleted"] == 1

    frags, source = scan([str(repo)], all_files=True)
    assert {os.path.relpath(p, repo) for p in frags} == {
        ".gitignore",
        "tracked.py",
        "untracked.env",
        "build/out.txt",
        "debug.log",
    }

    # Naming an ignored directory scans it: the user asked for it.
    frags, _ = scan([str(repo / "build")])
    assert list(frags) == [f"{repo}/build/out.txt"]


def test_listing_never_writes_to_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo / "f.txt", "one\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    # Make the index stat-dirty so that a plain `git status` would rewrite it.
    os.utime(repo / "f.txt", (1_800_000_000, 1_800_000_000))
    index = repo / ".git" / "index"
    before = hashlib.sha256(index.read_bytes()).hexdigest(), index.stat().st_mtime_ns
    scan([str(repo)])
    after = hashlib.sha256(index.read_bytes()).hexdigest(), index.stat().st_mtime_ns
    assert before == after
    assert not (repo / ".git" / "index.lock").exists()


def test_explicit_file_and_missing_path(tmp_path: Path) -> None:
    f = write(tmp_path / "one.env", "A=1\n")
    frags, _source = scan([str(f)])
    assert list(frags) == [str(f)]
    with pytest.raises(UsageError, match=r"nope: no such file or directory"):
        FileSource([str(tmp_path / "nope")]).check_paths()


def test_stdin_is_read_whole(tmp_path: Path) -> None:
    data = b"line one\nline two\r\n"
    frags, source = scan(["-"], stdin=io.BytesIO(data))
    assert frags == {"<stdin>": data}
    assert source.stats.files_scanned == 1


def test_unreadable_file_is_counted_and_reported(
    tmp_path: Path, make_unreadable: Callable[[Path], Path]
) -> None:
    root = tmp_path / "tree"
    write(root / "ok.txt", "fine\n")
    make_unreadable(write(root / "locked.txt", "cannot read me\n"))
    frags, source = scan([str(root)])
    assert list(frags) == [f"{root}/ok.txt"]
    assert source.stats.skipped["unreadable"] == 1
    assert source.stats.errors == [f"{root}/locked.txt: cannot read: permission denied"]


def test_read_is_bounded_even_when_the_size_was_wrong(tmp_path: Path) -> None:
    from scanner.sources.files import _read

    f = write(tmp_path / "grew.txt", b"x" * 100)
    assert _read(str(f), 1000, 100) == b"x" * 100
    assert _read(str(f), 1000, 10) == b"x" * 100  # grew since it was listed
    assert _read(str(f), 1000, 0) == b"x" * 100  # no size reported (procfs-like)
    assert _read(str(f), 50, 10) is None  # over the limit: not returned
    assert _read(str(f), 100, 100) == b"x" * 100  # exactly at the limit


def test_links_named_on_the_command_line_are_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real / "a.txt", "inside\n")
    os.symlink(real, tmp_path / "dirlink")
    os.symlink(real / "a.txt", tmp_path / "filelink")
    for link, read in (("dirlink", "dirlink/a.txt"), ("filelink", "filelink")):
        frags, source = scan([str(tmp_path / link)])
        assert sorted(frags) == [f"{tmp_path}/{read}"]
        assert not source.stats.skipped
    # both at once: the one file they lead to is read once
    frags, source = scan([str(tmp_path / "dirlink"), str(tmp_path / "filelink")])
    assert sorted(frags) == [f"{tmp_path}/dirlink/a.txt"]
    assert dict(source.stats.skipped) == {"listed_twice": 1}


def test_stdin_obeys_the_size_cap() -> None:
    frags, source = scan(["-"], stdin=io.BytesIO(b"y\n" * 1000), max_file_size=1000)
    assert frags == {}
    assert source.stats.skipped["too_large"] == 1
    assert source.stats.bytes_scanned == 0


def test_standard_input_larger_than_memory_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a file is (tests/test_bad_input.py): ``cat big | keysweep scan - --max-file-size 3G``
    on a machine that cannot hold it gives one error naming it, not an internal error."""

    def exhausted(read: Callable[[int], bytes | None], n: int) -> bytes:
        raise MemoryError

    monkeypatch.setattr(files, "_read_upto", exhausted)
    source = FileSource(["-"], stdin=io.BytesIO(b"KEY=value\n"), max_file_size=3 << 30)
    assert list(source) == []
    assert source.stats.errors == [
        "<stdin>: cannot read: the bytes read do not fit in memory; lower --max-file-size"
    ]
    assert dict(source.stats.skipped) == {"unreadable": 1}
