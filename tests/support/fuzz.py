"""The git-parser fuzz targets, shared by two drivers: hypothesis in
``tests/test_properties.py`` (runs in CI) and atheris in ``bench/fuzz_git_parsers.py``
(coverage-guided, long runs). Each target takes a ``FuzzedDataProvider``-like ``fdp``:

- :func:`fuzz_log`: ``git log --raw -z`` output round-trips through ``scanner.sources.commitlog``;
  output cut anywhere ends only in ``GitError``;
- :func:`fuzz_catfile`: ``git cat-file --batch`` over fuzzed blobs, trees, missing and corrupt
  objects: every readable blob comes out once, each corrupt object is one error;
- :func:`fuzz_redact_url`: a URL with user-info never keeps the password.

:func:`check_serialiser_against_git` checks the log serialiser against real ``git log``.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from scanner.errors import GitError
from scanner.sources import commitlog
from scanner.sources.catfile import BlobReader
from scanner.sources.gitproc import redact_url

HEX = "0123456789abcdef"
MODES = ("000000", "100644", "100755", "120000", "160000", "040000")


@dataclass(frozen=True)
class LogCommit:
    sha: str
    parents: tuple[str, ...]
    time: int
    changes: tuple[tuple[str, str, str, str, str, bytes], ...]  # old/new mode, old/new, st, path


def serialise_log(commits: list[LogCommit]) -> bytes:
    """What ``git log`` prints with commitlog's flags and header format."""
    out = bytearray()
    for c in commits:
        out += b"\0C" + f"{c.sha} {' '.join(c.parents)}".encode() + b"\0"
        out += str(c.time).encode() + b"\0"
        if c.changes:
            out += b"\n"
            for old_mode, new_mode, old, new, status, path in c.changes:
                out += f":{old_mode} {new_mode} {old} {new} {status}".encode() + b"\0"
                out += path + b"\0"
    return bytes(out)


def parse_log(data: bytes) -> list[commitlog.Commit]:
    return list(commitlog._parse(commitlog._tokens(BytesIO(data).read1)))


def check_serialiser_against_git() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        env = {
            "GIT_AUTHOR_NAME": "a",
            "GIT_AUTHOR_EMAIL": "a@example.com",
            "GIT_COMMITTER_NAME": "a",
            "GIT_COMMITTER_EMAIL": "a@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        }

        def git(*args: str) -> bytes:
            return subprocess.run(
                ["git", "-c", "init.defaultBranch=main", *args],
                cwd=repo,
                env=env,
                check=True,
                capture_output=True,
            ).stdout

        git("init", "-q")
        for i, name in enumerate(["a.txt", "dir/b c.txt", "ü\tnew\nline", ":colon", "C" * 45]):
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"content {i}\n")
            git("add", "-A")
            git("commit", "-q", "-m", f"commit {i}")
        git("commit", "-q", "--allow-empty", "-m", "empty")
        git("rm", "-q", "a.txt")
        git("commit", "-q", "-m", "delete")
        args = ["log", "--topo-order", "--reverse", *commitlog.LOG_FLAGS]
        real = git(*args, *commitlog._RAW_FLAGS, commitlog._HEADER_FORMAT, "--all")
    commits = [
        LogCommit(
            c.sha,
            c.parents,
            c.time,
            tuple(_change_tuple(ch) for ch in c.changes),
        )
        for c in parse_log(real)
    ]
    assert serialise_log(commits).replace(b"\0\n:", b"\0:") == real.replace(b"\0\n:", b"\0:"), (
        "the fuzz serialiser no longer matches git's output"
    )


_STATUS_OF: dict[tuple[bool, bool], str] = {(True, False): "A", (False, True): "D"}


def _change_tuple(ch: commitlog.Change) -> tuple[str, str, str, str, str, bytes]:
    added = set(ch.old) == {"0"}
    deleted = set(ch.new) == {"0"}
    old_mode = "000000" if added else "100644"
    status = _STATUS_OF.get((added, deleted), "M")
    return (
        old_mode,
        ch.new_mode,
        ch.old,
        ch.new,
        status,
        ch.path.encode("utf-8", "surrogateescape"),
    )


def _oid(fdp: Any) -> str:
    return "".join(HEX[b % 16] for b in fdp.ConsumeBytes(40).ljust(40, b"\0"))


def fuzz_log(fdp: Any) -> None:
    commits: list[LogCommit] = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        changes = []
        for _ in range(fdp.ConsumeIntInRange(0, 3)):
            path = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 24)).replace(b"\0", b"_") or b"p"
            changes.append(
                (
                    fdp.PickValueInList(list(MODES)),
                    fdp.PickValueInList(list(MODES)),
                    _oid(fdp),
                    _oid(fdp),
                    fdp.PickValueInList(["A", "D", "M", "T"]),
                    path,
                )
            )
        parents = tuple(_oid(fdp) for _ in range(fdp.ConsumeIntInRange(0, 2)))
        commits.append(
            LogCommit(_oid(fdp), parents, fdp.ConsumeIntInRange(0, 2**34), tuple(changes))
        )
    data = serialise_log(commits)
    cut = fdp.ConsumeIntInRange(0, len(data))
    if cut == len(data):
        parsed = parse_log(data)
        assert [(c.sha, c.parents, c.time) for c in parsed] == [
            (c.sha, c.parents, c.time) for c in commits
        ]
        for got, want in zip(parsed, commits, strict=True):
            assert [(ch.new, ch.new_mode) for ch in got.changes] == [
                (new, new_mode) for _om, new_mode, _o, new, _s, _path in want.changes
            ]
            for ch, (*_, path) in zip(got.changes, want.changes, strict=True):
                # A path is shown as valid text: undecodable bytes escaped (\xNN) or kept.
                assert ch.path in (
                    path.decode("utf-8", "backslashreplace"),
                    path.decode("utf-8", "surrogateescape"),
                ), (ch.path, path)
        return
    # git died after writing ``cut`` bytes: only GitError may come out.
    with contextlib.suppress(GitError):
        parsed = parse_log(data[:cut])
        raise GitError("git exited non-zero")  # what Stream.finish() reports next


class _FakeCatFile:
    """``git cat-file --batch`` over an object store in memory, some objects corrupt.

    Answers the ids written to stdin in order; on a corrupt object it writes a fuzzed prefix
    of that object's answer and exits non-zero, as git does when inflating fails. stdout is
    readable once stdin is closed (the reader's writer thread closes it after the feed).
    """

    def __init__(self, store: dict[str, tuple[str, bytes, int | None]]) -> None:
        self.store = store
        self.stdin = self
        self._fed = bytearray()
        self._ready = threading.Event()
        self._out = BytesIO()
        self.failed = False

    # stdin side
    def feed(self, data: bytes) -> None:
        """``Stream.feed``: the whole feed, then end of input."""
        self.write(data)
        self.close()

    def write(self, data: bytes) -> int:
        self._fed += data
        return len(data)

    def close(self) -> None:
        if self._ready.is_set():
            return
        out = bytearray()
        for line in bytes(self._fed).split(b"\n"):
            if not line:
                continue
            oid = line.decode()
            kind, content, cut = self.store.get(oid, ("missing", b"", None))
            if kind == "missing":
                out += f"{oid} missing\n".encode()
                continue
            answer = f"{oid} {kind} {len(content)}\n".encode() + content + b"\n"
            if cut is not None:
                out += answer[: cut % len(answer)]
                self.failed = True
                break
            out += answer
        self._out = BytesIO(bytes(out))
        self._ready.set()

    # stdout side
    @property
    def stdout(self) -> _FakeCatFile:
        return self

    def readline(self) -> bytes:
        self._ready.wait(10)
        return self._out.readline()

    def read(self, n: int = -1) -> bytes:
        self._ready.wait(10)
        return self._out.read(n)

    def finish(self, what: str) -> None:
        if self.failed:
            raise GitError(f"{what}: fatal: loose object is corrupt")


class _FakeGit:
    label = "fuzz"

    def __init__(self, store: dict[str, tuple[str, bytes, int | None]]) -> None:
        self.store = store
        self.processes = 0

    @contextlib.contextmanager
    def stream(self, *args: str, **kwargs: Any) -> Iterator[_FakeCatFile]:
        self.processes += 1
        proc = _FakeCatFile(self.store)
        try:
            yield proc
        finally:
            proc.close()


def fuzz_catfile(fdp: Any) -> None:
    """Every readable blob comes out exactly once, each corrupt one is one error line, the
    rest of the feed is still read after a failure, and nothing but data comes out."""
    store: dict[str, tuple[str, bytes, int | None]] = {}
    order: list[str] = []
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        oid = _oid(fdp)
        if oid in store:
            continue
        kind = fdp.PickValueInList(["blob", "blob", "blob", "tree", "missing", "corrupt"])
        content = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 48))
        if kind == "corrupt":
            store[oid] = ("blob", content, fdp.ConsumeIntInRange(0, 200))
        elif kind != "missing":
            store[oid] = (kind, content, None)
        order.append(oid)
    feed = b"".join(f"{oid}\n".encode() for oid in order)
    git = _FakeGit(store)
    reader = BlobReader(git, feed)  # type: ignore[arg-type]
    got = list(reader)
    want = [
        (oid, store[oid][1])
        for oid in order
        if oid in store and store[oid][0] == "blob" and store[oid][2] is None
    ]
    assert got == want, (got, want)
    corrupt = [oid for oid in order if oid in store and store[oid][2] is not None]
    assert len(reader.errors) == len(corrupt), (reader.errors, corrupt)
    for oid, error in zip(corrupt, reader.errors, strict=True):
        assert oid in error, (oid, error)
    assert reader.missing == sum(1 for oid in order if oid not in store)
    assert git.processes <= 2 + 2 * len(corrupt), git.processes


def fuzz_redact_url(fdp: Any) -> None:
    scheme = fdp.PickValueInList(["https", "http", "ssh", "git", "file"])
    user = fdp.ConsumeUnicodeNoSurrogates(8).replace("@", "").replace("/", "")
    password = fdp.ConsumeUnicodeNoSurrogates(24)
    host = fdp.PickValueInList(["example.com", "git.example.org:8443", "10.0.0.1"])
    path = fdp.ConsumeUnicodeNoSurrogates(16)
    if len(password) < 4 or "@" in password:
        return
    url = f"{scheme}://{user}:{password}@{host}/{path}"
    redacted = redact_url(url)
    assert f":{password}@" not in redacted, (url, redacted)
