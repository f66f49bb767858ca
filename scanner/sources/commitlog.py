"""One metadata pass over history: ``git log --raw`` parsed into commits and tree changes.

Commits come parents first (``--topo-order --reverse``). Each commit carries the changes of its
tree against its FIRST parent only (``--diff-merges=first-parent``; the root against the empty
tree), which is exactly what it takes to know, for every commit, which blob sits at which path:
``tree(c) = tree(first parent) + changes(c)``. A merge whose conflict resolution wrote new
content therefore shows that content as a change, which ``git log -p`` (no merge diffs) misses.

Everything is read with ``-z`` (no path quoting) and explicit flags, so the scanned repository's
configuration (renames, relative paths, abbreviations, decorations, notes) cannot change the format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, NamedTuple

from scanner.errors import GitError
from scanner.models import CommitInfo
from scanner.sources.gitproc import WALK_MEMORY_LIMITS, Git

GITLINK_MODE = "160000"  # a submodule entry: a commit id, not a blob

# Every ``git log`` of the history scan (this walk, commit infos, messages.py's message pass).
LOG_FLAGS = (
    "--no-color",
    "--no-notes",
    "--no-decorate",
    "--no-show-signature",
    "--encoding=UTF-8",
    "--no-mailmap",
)
_RAW_FLAGS = (
    "--raw",
    "-z",
    "--no-renames",
    "--no-abbrev",
    "--no-relative",
    "--no-ext-diff",
    "--no-textconv",
    "--ignore-submodules=none",
    "--diff-merges=first-parent",
    "--root",
)
# %x00 before every header field; the record starts with "C" so it is told from a raw entry.
_HEADER_FORMAT = "--format=%x00C%H %P%x00%ct"
_INFO_FORMAT = "--format=%H%x00%an%x00%ae%x00%aI%x00%s%x00"


class Change(NamedTuple):
    """A path whose content differs from the first parent's. A null ``new`` is a deletion.
    (A tuple: a replay makes one per change, 287,000 for getmoto/moto.)"""

    path: str
    old: str
    new: str
    new_mode: str


@dataclass(slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    time: int  # committer timestamp
    changes: list[Change] = field(default_factory=list)


_WALK_ARGS = ("--topo-order", "--reverse", *LOG_FLAGS, *_RAW_FLAGS, _HEADER_FORMAT)
# The walk output kept for a replay (``Kept``), at most this many bytes (getmoto/moto's 25,742
# commits: 42 MB); a longer history is walked again instead.
MAX_KEPT_BYTES = 1 << 30


class Kept:
    """The output of one ordered walk, kept in an unnamed temporary file for ``replay``: the
    blob scan needs each blob's path first (``blob_paths``) and attribution needs the walk
    after it, and git's ordered walk is most of both (getmoto/moto: 1.2 s, once instead of
    twice). ``complete`` is False until the walk has been read to its end within the cap."""

    def __init__(self, file: IO[bytes], limit: int | None = None) -> None:
        self.file = file
        self.complete = False
        self._room = MAX_KEPT_BYTES if limit is None else limit

    def reader(self, read: Callable[[int], bytes]) -> Callable[[int], bytes]:
        """``read``, writing what it returns to the file (until the cap is passed)."""

        def keeping(n: int) -> bytes:
            chunk = read(n)
            if self._room >= 0:
                self._room -= len(chunk)
                if self._room >= 0:
                    self.file.write(chunk)
            return chunk

        return keeping

    def done(self) -> None:
        self.complete = self._room >= 0

    def replay(self, tracked: Collection[str] | None = None) -> Iterator[Commit]:
        """The commits of the kept walk, as ``walk`` gave them; with ``tracked`` (blob ids),
        each commit keeps only ``tracked_changes``."""
        assert self.complete
        self.file.seek(0)
        yield from _parse(_tokens(self.file.read), tracked)


def walk(
    git: Git,
    revisions: Sequence[str],
    *,
    use_stdin: bool,
    tracked: Collection[str] | None = None,
) -> Iterator[Commit]:
    """Commits reachable from ``revisions`` (or ranges), parents before children; with
    ``tracked`` (blob ids), each commit keeps only ``tracked_changes``."""
    tokens = log_tokens(git, _WALK_ARGS, revisions, use_stdin=use_stdin, what="cannot read history")
    yield from _parse(tokens, tracked)


class BlobPaths(dict[str, str]):
    """Each blob's path, ``""`` for a blob at several; ``several`` holds the paths of those."""

    def __init__(self) -> None:
        super().__init__()
        self.several: dict[str, list[str]] = {}


def blob_paths(
    git: Git, revisions: Sequence[str], *, use_stdin: bool, keep: Kept | None = None
) -> BlobPaths:
    """The path of every blob the commits of ``revisions`` put somewhere, ``""`` for a blob
    found at several paths, from the ``walk`` pass before the blob scan, so that a blob seen
    at one path is scanned once, under that path, exactly as the findings will be reported.
    With ``keep``, the walk is kept for ``Kept.replay``."""
    what = "cannot read history"
    gitlink = GITLINK_MODE.encode("ascii")
    found: dict[bytes, bytes] = {}  # blob id -> its path, b"" once seen at several
    several: dict[bytes, list[bytes]] = {}
    with _log_output(git, _WALK_ARGS, revisions, use_stdin=use_stdin, what=what, keep=keep) as read:
        for entries in _raw_entries(read):
            # each (mode, blob, path) once a chunk: a merge's first-parent diff repeats the
            # changes of the branch it merges, walked just before it (localstack: 225,000
            # entries, 73,000 distinct; read and recorded one by one, 0.55 s; once a chunk,
            # 0.39-0.46 s; once in all, 0.34 s, but 20 MB more in the parent on aws/aws-cli)
            for new_mode, oid, path in dict.fromkeys(entries):
                if new_mode == gitlink:  # a submodule's commit, not a blob
                    continue
                seen = found.setdefault(oid, path)
                if seen != path:
                    if seen:
                        found[oid] = b""
                        several[oid] = [seen]
                    if path not in several[oid]:
                        several[oid].append(path)
    deleted = b"0" * 40
    found.pop(deleted, None)
    several.pop(deleted, None)
    # decoded once per blob and per path (225,000 changes, 64,000 blobs in localstack's walk)
    names: dict[bytes, str] = {b"": ""}
    paths = BlobPaths()
    for oid, path in found.items():
        name = names.get(path)
        if name is None:
            name = names[path] = path.decode("utf-8", "surrogateescape")
        paths[oid.decode("ascii")] = name
    for oid, held in several.items():
        paths.several[oid.decode("ascii")] = [
            names.get(p) or p.decode("utf-8", "surrogateescape") for p in held
        ]
    if keep is not None:
        keep.done()
    return paths


def log_tokens(
    git: Git,
    args: Sequence[str],
    revisions: Sequence[str],
    *,
    use_stdin: bool,
    what: str,
    keep: Kept | None = None,
) -> Iterator[bytes]:
    """The NUL-separated output of ``git log ARGS`` over ``revisions`` (tips or ``A..B``
    ranges; on standard input when there are many), read in large chunks; a git failure
    raises GitError ``<repository>: WHAT`` once the output is consumed. With ``keep``, the
    output is also written to its file."""
    with _log_output(git, args, revisions, use_stdin=use_stdin, what=what, keep=keep) as read:
        yield from _tokens(read)


@contextmanager
def _log_output(
    git: Git,
    args: Sequence[str],
    revisions: Sequence[str],
    *,
    use_stdin: bool,
    what: str,
    keep: Kept | None,
) -> Iterator[Callable[[int], bytes]]:
    """``read`` of the output of ``git log ARGS`` (see ``log_tokens``); once it is read to
    its end, a git failure raises GitError."""
    tail = ["--stdin"] if use_stdin else [*revisions, "--"]
    with git.stream(*WALK_MEMORY_LIMITS, "log", *args, *tail, feed=use_stdin) as stream:
        if use_stdin:
            stream.feed("".join(f"{rev}\n" for rev in revisions).encode())
        yield stream.stdout.read if keep is None else keep.reader(stream.stdout.read)
        stream.finish(f"{git.label}: {what}")


# One raw entry of ``--raw -z`` output: ":old_mode new_mode old_oid new_oid status" NUL path NUL.
_RAW_ENTRY = re.compile(
    rb":[0-7]{6} ([0-7]{6}) [0-9a-f]{40,64} ([0-9a-f]{40,64}) [A-Z][0-9]*\0([^\0]*)\0"
)
_LONGEST_ENTRY = 1 << 16  # a raw entry is shorter (a path is at most 4096 bytes)


def _raw_entries(read: Callable[[int], bytes]) -> Iterator[list[tuple[bytes, ...]]]:
    """``(new_mode, new_oid, path)`` of each raw entry of a walk's output, in order, a list
    per large chunk, found by one regex over it: what ``blob_paths`` needs, without the
    commits around them (``_parse`` made a ``Change`` of each, 0.9 s of CPU for localstack's
    25,000 commits, and git waited on it: the walk took 1.45 s where git alone takes 1.0 s).
    A commit header holds no ":", so no entry is found inside one."""
    tail = b""
    while chunk := read(1 << 20):
        buf = tail + chunk
        matches = list(_RAW_ENTRY.finditer(buf))
        done = 0
        if matches:
            done = matches[-1].end()
            yield [m.groups() for m in matches]
        tail = buf[max(done, len(buf) - _LONGEST_ENTRY) :]


def _tokens(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """NUL-separated tokens from a pipe, read in large chunks."""
    tail = b""
    while chunk := read(1 << 20):
        parts = (tail + chunk).split(b"\0")
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


def _parse(tokens: Iterator[bytes], tracked: Collection[str] | None = None) -> Iterator[Commit]:
    """Commits from the token stream; output git would never write raises GitError. With
    ``tracked`` (blob ids), only the tracked changes: a change that puts a tracked blob at a
    path, any later change at such a path (parents come first, so every path a commit's tree
    holds a tracked blob at is among them), and submodule entries. Attribution uses no other
    (getmoto/moto's 12 blobs with findings among 287,000 changes: attribution took 0.40 s
    over every change, 0.23 s over these)."""
    wanted = None if tracked is None else {oid.encode("ascii") for oid in tracked}
    paths: set[bytes] = set()  # where a tracked blob was put so far
    gitlink = GITLINK_MODE.encode("ascii")
    current: Commit | None = None
    changes: list[Change] = []  # the current commit's (none before the first commit)
    try:
        for token in tokens:
            if token[:1] == b"\n":
                token = token.lstrip(b"\n")
                if token[:1] == b"C":
                    continue  # "C" after newlines is no commit header (git writes none)
            if token[:1] == b":":
                # ":old_mode new_mode old_oid new_oid status" then the path token
                path = next(tokens)
                if wanted is not None:
                    fields = token.split(b" ")
                    if fields[3] in wanted:
                        paths.add(path)
                    elif path not in paths and fields[1] != gitlink:
                        continue
                _, new_mode, old, new, _status = token[1:].decode("ascii").split(" ")
                changes.append(Change(path.decode("utf-8", "surrogateescape"), old, new, new_mode))
            elif token[:1] == b"C" and len(token) > 40 and token[1:41].isalnum():
                if current is not None:
                    yield current
                sha, *parents = token[1:].decode("ascii").split()
                current = Commit(sha, tuple(parents), int(next(tokens).strip() or b"0"))
                changes = current.changes
    except (ValueError, StopIteration, IndexError) as exc:  # UnicodeDecodeError: a ValueError
        raise GitError(f"unexpected output from git log: {type(exc).__name__}") from None
    if current is not None:
        yield current


def commit_infos(git: Git, shas: Sequence[str]) -> dict[str, CommitInfo]:
    """Author, date and subject of a few commits, in one process."""
    if not shas:
        return {}
    out = git.run(
        "log",
        "--no-walk=unsorted",
        *LOG_FLAGS,
        _INFO_FORMAT,
        "--stdin",
        input="".join(f"{sha}\n" for sha in shas).encode(),
        what=f"{git.label}: cannot read commits",
    ).stdout
    infos: dict[str, CommitInfo] = {}
    fields = out.split(b"\0")
    for i in range(0, len(fields) - 4, 5):
        sha, name, email, date, subject = (f.decode("utf-8", "replace") for f in fields[i : i + 5])
        sha = sha.strip()
        infos[sha] = CommitInfo(sha, name, email, date, subject)
    return infos
