"""Files on disk and standard input -> Fragments.

``FileSource`` turns the PATH arguments of ``keysweep scan`` into ``Fragment`` values and keeps
count of everything it passes over, so nothing is skipped silently:

- a directory inside a git work tree yields its tracked plus untracked-but-not-ignored files
  (``git ls-files``, run read-only; see :mod:`scanner.sources.gitfiles`), or every file with
  ``all_files=True``; ``.git`` directories are never entered;
- files over ``max_file_size`` bytes and special files (FIFOs, sockets, devices) are skipped
  and counted by reason; binary files within the cap are read like any other (a key in a
  SQLite database, a compiled class or a pickle is as leaked as one in a ``.env``, and
  ``staged`` and ``history`` read them too), and archives are read as the files they hold
  (the detector's work: scanner.archives);
- symbolic links met inside a directory are never followed: the file they point to is scanned
  in its own place when it lies inside the scanned tree, and links that point outside it are
  counted as ``symlink_outside``; a link named on the command line is the user's choice and
  is read;
- files that cannot be read are counted as ``unreadable`` and reported as errors (the CLI then
  exits 2 after reporting what it found);
- the report's own file (``output``), met among the files to read, is a usage error: writing
  the report would replace a scanned file (``scan . -o .env``), and a report left in the tree
  by an earlier run would be scanned as a source. A file the listing passes over (ignored by
  git, or under ``scan.skip_paths``) is no scanned file.

Listing and reading are two steps: :meth:`FileSource.entries` walks the paths (counting what
it passes over by its metadata alone) and :meth:`FileSource.read` reads one entry, so that
worker processes can each read their own share of a large tree (scanner/sources/filescan.py).

The source knows nothing about rules; it only reads bytes.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from scanner.errors import UsageError
from scanner.models import Fragment, Source
from scanner.sources.gitfiles import GitListing, list_git_files, looks_bare

DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
SKIP_PATHS_REASON = "config_skip_paths"
STDIN_PATH = "<stdin>"


@dataclass
class SourceStats:
    """What a source looked at; turned into the report's ``scan`` summary."""

    files_scanned: int = 0
    bytes_scanned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: SourceStats) -> None:
        """Count ``other`` in too (what a worker process read of the same source)."""
        self.files_scanned += other.files_scanned
        self.bytes_scanned += other.bytes_scanned
        self.skipped.update(other.skipped)
        self.notes += other.notes
        self.errors += other.errors


@dataclass(frozen=True)
class FileEntry:
    """A regular file within the size cap when listed: the path shown in reports, the path
    to open, and its size then."""

    shown: str
    full: str
    size: int


def display_path(root: str, rel: str) -> str:
    """``root`` joined with ``rel`` the way a user typed it, without a leading ``./``."""
    joined = os.path.join(root, rel) if rel else root
    normal = os.path.normpath(joined)
    return normal.replace(os.sep, "/")


class FileSource:
    """Yields one Fragment per readable text file under the given paths.

    Missing paths are a usage error raised by :meth:`check_paths` before anything is read,
    so the CLI can fail fast with ``PATH: no such file or directory``.
    """

    def __init__(
        self,
        paths: Sequence[str],
        *,
        all_files: bool = False,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        stdin: BinaryIO | None = None,
        skip: Callable[[str], bool] | None = None,
        output: str | None = None,
    ) -> None:
        self.paths = list(paths) or ["."]
        self._output = _identity(output)
        # Paths the project config says to skip (``scan.skip_paths``): never read, counted.
        self.skip = skip
        self.all_files = all_files
        self.max_file_size = max_file_size
        self.stdin = stdin
        self.stats = SourceStats()
        # (device, inode) of every file listed: named twice, or inside two named directories
        # (``scan . src``), a file is read once
        self._seen: set[tuple[int, int]] = set()

    def check_paths(self) -> None:
        for path in self.paths:
            if path == "-" and self.stdin is None and sys.stdin is None:
                raise UsageError("-: standard input is closed, nothing to read")
            if path != "-" and not os.path.lexists(path):
                raise UsageError(f"{path}: no such file or directory")

    def __iter__(self) -> Iterator[Fragment]:
        for entry in self.entries():
            fragment = entry if isinstance(entry, Fragment) else self.read(entry)
            if fragment is not None:
                yield fragment

    def entries(self) -> Iterator[FileEntry | Fragment]:
        """Every file to read, in order (standard input comes read: a Fragment)."""
        self.check_paths()
        for path in self.paths:
            if path == "-":
                if self._first((-1, -1)):
                    yield from self._stdin()
            elif os.path.isdir(path):
                # A directory named on the command line, or a link to one: the user's choice.
                yield from self._directory(path)
            else:
                yield from self._named(path)

    def read(self, entry: FileEntry) -> Fragment | None:
        """The fragment of one listed file, or None when it is skipped (counted in ``stats``)."""
        try:
            raw = _read(entry.full, self.max_file_size, entry.size)
        except OSError as exc:
            self._unreadable(entry.shown, exc)
            return None
        except MemoryError:  # a cap as large as the machine's memory (--max-file-size 3G)
            self._too_big(entry.shown, f"{entry.size:,} bytes")
            return None
        if raw is None:  # grew past the limit since it was listed
            self.stats.skipped["too_large"] += 1
            return None
        return self._admit(raw, entry.shown, Source.FILE)

    def _named(self, path: str) -> Iterator[FileEntry | Fragment]:
        """A file named on the command line (a link to one is followed: the user's choice).
        A pipe or character device named so (``scan <(git show HEAD:.env)``, ``/dev/stdin``)
        is read as a stream, like standard input; in a directory walk it is skipped."""
        shown = display_path(path, "")
        try:
            st = os.stat(path)
        except OSError as exc:
            self._unreadable(shown, exc)
            return
        self._refuse_output(st, shown)
        if not self._first((st.st_dev, st.st_ino)):
            return
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            try:
                with open(path, "rb", buffering=0) as stream:
                    yield from self._stream(stream.read, shown, Source.FILE)
            except OSError as exc:
                self._unreadable(shown, exc)
        elif self._fits(st):
            yield FileEntry(shown, path, st.st_size)

    # -- standard input ---------------------------------------------------------------------
    def _stdin(self) -> Iterator[Fragment]:
        stream = self.stdin if self.stdin is not None else sys.stdin.buffer
        try:
            yield from self._stream(stream.read, STDIN_PATH, Source.STDIN)
        except OSError as exc:  # a closed or unreadable descriptor 0
            raise UsageError(f"-: cannot read standard input: {exc.strerror or exc}") from None

    def _stream(
        self, read: Callable[[int], bytes | None], shown: str, source: Source
    ) -> Iterator[Fragment]:
        """What ``read`` gives until it ends, or the size cap (``yes | ...`` ends)."""
        try:
            raw = _read_upto(read, self.max_file_size + 1)
        except MemoryError:
            self._too_big(shown, "the bytes read")
            return
        if len(raw) > self.max_file_size:
            self.stats.skipped["too_large"] += 1
            return
        yield self._admit(raw, shown, source)

    # -- directories ------------------------------------------------------------------------
    def _directory(self, root: str) -> Iterator[FileEntry]:
        real_root = os.path.realpath(root)
        if not self.all_files:
            listing = list_git_files(root)
            if listing.error is not None:
                self.stats.notes.append(
                    f"{root}: {listing.error}; scanned every file (as with --all-files)"
                )
            elif listing.in_work_tree:
                yield from self._listed(root, real_root, listing)
                return
        if looks_bare(root):
            self.stats.notes.append(
                f"{root} holds a git repository's objects, compressed: "
                f"keysweep history {root} reads every commit"
            )
        yield from self._walk(root, real_root, "")

    def _listed(self, root: str, real_root: str, listing: GitListing) -> Iterator[FileEntry]:
        if listing.ignored:
            self.stats.skipped["gitignored"] += listing.ignored
        if listing.sparse:
            self.stats.skipped["sparse"] += listing.sparse
        for rel in listing.files:
            full = os.path.join(root, rel)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                # Tracked in the index but deleted from the work tree: nothing to read.
                self.stats.skipped["deleted"] += 1
                continue
            except OSError as exc:
                self._unreadable(display_path(root, rel), exc)
                continue
            if stat.S_ISDIR(st.st_mode):
                # A submodule or an untracked nested repository: walk it like any directory.
                yield from self._walk(root, real_root, rel)
            else:
                yield from self._entry(root, real_root, rel, st)

    def _walk(self, root: str, real_root: str, start: str) -> Iterator[FileEntry]:
        stack = [start]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self._unreadable(display_path(root, rel_dir), exc)
                continue
            subdirs: list[str] = []
            for entry in entries:
                rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
                if entry.name == ".git":
                    continue  # git metadata, never scanned as files
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    self._unreadable(display_path(root, rel), exc)
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if self._skipped(display_path(root, rel)):
                        continue
                    subdirs.append(rel)
                else:
                    yield from self._entry(root, real_root, rel, st)
            stack.extend(reversed(subdirs))

    def _entry(
        self, root: str, real_root: str, rel: str, st: os.stat_result
    ) -> Iterator[FileEntry]:
        shown = display_path(root, rel)
        if self._skipped(shown):
            return
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(os.path.join(root, rel))
            inside = target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)
            self.stats.skipped["symlink" if inside else "symlink_outside"] += 1
            return
        self._refuse_output(st, shown)
        if not self._first((st.st_dev, st.st_ino)) or not self._fits(st):
            return
        yield FileEntry(shown, os.path.join(root, rel), st.st_size)

    # -- one file ---------------------------------------------------------------------------
    def _first(self, identity: tuple[int, int]) -> bool:
        """False (counted as ``listed_twice``) when this file was listed already (a file
        system that numbers no inode, st_ino 0, is never deduplicated)."""
        if identity[1] == 0:
            return True
        if identity in self._seen:
            self.stats.skipped["listed_twice"] += 1
            return False
        self._seen.add(identity)
        return True

    def _fits(self, st: os.stat_result) -> bool:
        """A regular file within the size cap; anything else is counted as skipped."""
        if not stat.S_ISREG(st.st_mode):
            self.stats.skipped["special_file"] += 1
            return False
        if st.st_size > self.max_file_size:
            self.stats.skipped["too_large"] += 1
            return False
        return True

    def _admit(self, raw: bytes, shown: str, source: Source) -> Fragment:
        """``raw`` as a counted fragment."""
        self.stats.files_scanned += 1
        self.stats.bytes_scanned += len(raw)
        return Fragment(raw=raw, path=shown, source=source)

    def _refuse_output(self, st: os.stat_result, shown: str) -> None:
        if self._output is not None and (st.st_dev, st.st_ino) == self._output[1:]:
            raise UsageError(
                f"--output {self._output[0]} is one of the files this scan reads ({shown}); "
                "write the report outside the scanned paths, or skip it "
                "(.gitignore, scan.skip_paths)"
            )

    def _skipped(self, shown: str) -> bool:
        if self.skip is not None and self.skip(shown):
            self.stats.skipped[SKIP_PATHS_REASON] += 1
            return True
        return False

    def _too_big(self, shown: str, what: str) -> None:
        """``shown`` did not fit in memory under the size cap: one error naming it."""
        reason = f"{what} do not fit in memory; lower --max-file-size"
        self._unreadable(shown, OSError(errno.ENOMEM, reason))

    def _unreadable(self, shown: str, exc: OSError) -> None:
        self.stats.skipped["unreadable"] += 1
        reason = exc.strerror or type(exc).__name__
        self.stats.errors.append(f"{shown}: cannot read: {reason[:1].lower()}{reason[1:]}")


def _identity(output: str | None) -> tuple[str, int, int] | None:
    """``output`` with the device and inode of the existing file it names (a link is
    followed: the report is written to its target), or None: stdout, or no such file yet."""
    if output is None or output == "-":
        return None
    try:
        st = os.stat(output)
    except (OSError, ValueError):
        return None
    return (output, st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _read(path: str, limit: int, size_hint: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``limit`` bytes.

    The file is read in one unbuffered call sized from ``size_hint`` (no 10 MiB buffer per
    file); only a file that grew since it was listed, or one that reports no size (procfs),
    costs a further read, still bounded by ``limit``. Callers only pass regular files, and
    O_NONBLOCK guards against one being swapped for a FIFO in between.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
    with open(os.open(path, flags), "rb", buffering=0) as handle:
        first = min(size_hint, limit) + 1
        data = handle.read(first) or b""
        if len(data) >= first and len(data) <= limit:
            data += _read_upto(handle.read, limit + 1 - len(data))
    return None if len(data) > limit else data


def _read_upto(read: Callable[[int], bytes | None], n: int) -> bytes:
    """Up to ``n`` bytes, in chunks of at most 1 MiB until EOF.

    ``read(n)`` allocates ``n`` bytes up front: with ``--max-file-size 40G`` that was a
    MemoryError (an OverflowError past 2**63) traceback on standard input or a file that
    reports no size.
    """
    chunks: list[bytes] = []
    while n > 0:
        chunk = read(min(n, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "STDIN_PATH",
    "FileSource",
    "SourceStats",
    "display_path",
]
