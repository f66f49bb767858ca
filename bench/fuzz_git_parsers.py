"""Coverage-guided fuzzing of the parsers that read git's output, with atheris.

    pip install -e '.[fuzz]'
    python bench/fuzz_git_parsers.py -atheris_runs=200000

Each input is turned (``FuzzedDataProvider``) into one of these cases:

1. ``git log --raw -z`` output (``scanner.sources.commitlog``): commits with fuzzed ids, parents,
   times and changes whose paths are arbitrary bytes (anything but NUL, as git allows).
   Complete output must parse back to exactly the commits that were written (round trip);
   output cut at a fuzzed offset (git died: killed, out of memory, corrupt object) may only
   end in ``GitError``, never in another exception.
2. ``git cat-file --batch`` output (``scanner.sources.catfile.BlobReader``): headers and
   contents for fuzzed blobs, trees and ``missing`` answers. Complete output yields exactly the
   blobs; cut output yields a prefix of them and then only ``GitError``.
3. ``redact_url``: a URL with user-info never keeps the password.

At start-up the serialiser used here is checked against real ``git log`` output of a small
repository, so the fuzzed bytes are shaped like what git writes.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
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


def _check_serialiser_against_git() -> None:
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
        args = ["log", "--topo-order", "--reverse", *commitlog._LOG_FLAGS]
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
            assert [
                (ch.path.encode("utf-8", "surrogateescape"), ch.new, ch.new_mode)
                for ch in got.changes
            ] == [(path, new, new_mode) for _om, new_mode, _o, new, _s, path in want.changes]
        return
    # git died after writing ``cut`` bytes: only GitError may come out.
    with contextlib.suppress(GitError):
        parsed = parse_log(data[:cut])
        raise GitError("git exited non-zero")  # what Stream.finish() reports next


class _FakeStream:
    def __init__(self, data: bytes, failed: bool) -> None:
        self.stdout = BytesIO(data)
        self.stdin = BytesIO()
        self.failed = failed

    def finish(self, what: str) -> None:
        if self.failed:
            raise GitError(f"{what}: git exited non-zero")


class _FakeGit:
    label = "fuzz"

    def __init__(self, data: bytes, failed: bool) -> None:
        self.data = data
        self.failed = failed

    @contextlib.contextmanager
    def stream(self, *args: str, **kwargs: Any) -> Iterator[_FakeStream]:
        yield _FakeStream(self.data, self.failed)


def fuzz_catfile(fdp: Any) -> None:
    out = bytearray()
    blobs: list[tuple[str, bytes]] = []
    for _ in range(fdp.ConsumeIntInRange(0, 5)):
        oid = _oid(fdp)
        kind = fdp.PickValueInList(["blob", "blob", "tree", "commit", "missing"])
        if kind == "missing":
            out += f"{oid} missing\n".encode()
            continue
        content = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        out += f"{oid} {kind} {len(content)}\n".encode() + content + b"\n"
        if kind == "blob":
            blobs.append((oid, content))
    data = bytes(out)
    cut = fdp.ConsumeIntInRange(0, len(data))
    failed = cut < len(data)
    reader = BlobReader(_FakeGit(data[:cut], failed), b"ignored\n")  # type: ignore[arg-type]
    got: list[tuple[str, bytes]] = []
    try:
        got.extend(reader)
    except GitError:
        assert failed, "GitError from complete output"
    else:
        assert not failed, "cut output passed for complete"
    if not failed:
        assert got == blobs, (got, blobs)
    else:
        # Every blob yielded before the failure is whole and correct, except possibly the last
        # one (cut mid-content: the failure that follows makes the caller discard the scan).
        assert got[:-1] == blobs[: max(0, len(got) - 1)]


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
    assert password not in redacted, (url, redacted)


TARGETS = (fuzz_log, fuzz_catfile, fuzz_redact_url)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    TARGETS[fdp.ConsumeIntInRange(0, len(TARGETS) - 1)](fdp)


def main() -> None:
    _check_serialiser_against_git()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
