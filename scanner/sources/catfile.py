"""Reading blobs out of a git object database with ``git cat-file``, fast.

Two long-lived processes, no per-object process:

1. ``cat-file --batch-all-objects --batch-check --unordered`` lists every object with its type
   and size, in pack order (cheap: no content is inflated). Blobs over the size cap are counted
   and dropped here, so their bytes never cross the pipe; totals drive the progress display.
2. ``cat-file --batch --buffer`` is fed those blob ids (in the same pack order, so delta bases
   stay hot in git's cache) by a writer thread and streams ``<oid> <type> <size>\\n<content>\\n``
   back, read here with large buffered reads.

``cat-file`` on a partial clone dies (it tries to fetch a missing object, which keysweep forbids)
instead of answering ``missing``; callers therefore only ever ask for objects known to be present.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from scanner.errors import GitError
from scanner.sources.gitproc import (
    LEAN_READER_MEMORY_LIMITS,
    READER_MEMORY_LIMITS,
    WALK_MEMORY_LIMITS,
    Git,
    first_line,
)


@dataclass(frozen=True)
class BlobListing:
    """Blobs to read: ``feed`` holds ``<oid>\\n`` lines ready for ``cat-file --batch``.

    ``present`` is every blob id the object database has (including oversized ones), so a
    later pass can tell a blob that is missing. ``unreadable`` holds the objects git listed
    but could not read (damage), with git's message in ``error``.
    """

    feed: bytes
    count: int
    total_bytes: int
    too_large: int = 0
    present: frozenset[str] = frozenset()
    unreadable: frozenset[str] = frozenset()
    error: str = ""
    sizes: Sequence[int] = ()  # of the blobs in ``feed``, in order (to share the bytes out)


def list_all_blobs(git: Git, *, max_size: int | None) -> BlobListing:
    """Every blob in the object database (reachable or not), in pack order.

    ``--unordered`` (pack order, fastest to read back) gives up on a damaged pack; the sorted
    listing then still answers ``missing`` for each unreadable object and lists the rest.
    """
    try:
        return _list_blobs(git, max_size, ("--unordered",))
    except GitError:
        return _list_blobs(git, max_size, ())


def _list_blobs(git: Git, max_size: int | None, order: tuple[str, ...]) -> BlobListing:
    lines: list[bytes] = []
    sizes = array("Q")
    present: set[str] = set()
    total = too_large = 0
    unreadable: set[str] = set()
    with git.stream(
        *WALK_MEMORY_LIMITS,
        "cat-file",
        "--batch-all-objects",
        *order,
        "--batch-check=%(objecttype) %(objectsize) %(objectname)",
    ) as stream:
        for line in stream.stdout:
            if not line.startswith(b"blob "):
                if line.endswith(b" missing\n"):
                    unreadable.add(line.split(b" ", 1)[0].decode("ascii", "replace"))
                continue
            _, size_text, oid = line.split(b" ", 2)
            present.add(oid[:-1].decode("ascii"))
            size = int(size_text)
            if max_size is not None and size > max_size:
                too_large += 1
                continue
            lines.append(oid)  # keeps its "\n"
            sizes.append(size)
            total += size
        stream.finish(f"{git.label}: cannot list objects")
        error = first_line(stream.stderr(), "") if unreadable else ""
    return BlobListing(
        b"".join(lines),
        len(lines),
        total,
        too_large,
        frozenset(present),
        frozenset(unreadable),
        error,
        sizes,
    )


def listing_of(oids: Iterable[str]) -> bytes:
    return b"".join(f"{oid}\n".encode() for oid in oids)


class BlobReader:
    """Iterate ``(oid, content)`` for the blob ids in ``feed``; other object types are skipped.

    A damaged object does not end the scan: when git stops on one, the rest is read by a new
    process (without output buffering, so the failing object is known exactly), the object is
    skipped and a one-line message goes to ``errors``. ``missing`` counts ids git answered
    ``missing`` for.
    """

    def __init__(self, git: Git, feed: bytes, *, lean: bool = False) -> None:
        self.git = git
        self.feed = feed
        self._limits = LEAN_READER_MEMORY_LIMITS if lean else READER_MEMORY_LIMITS
        self.missing = 0
        self.errors: list[str] = []

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        feed = self.feed
        line_len = feed.index(b"\n") + 1 if feed else 0
        buffered = True
        while feed:
            answered = 0
            buffer = ["--buffer"] if buffered else []
            args = [*self._limits, "cat-file", "--batch", *buffer]
            with self.git.stream(*args, feed=True) as stream:
                writer = threading.Thread(target=stream.feed, args=(feed,), daemon=True)
                writer.start()
                readline = stream.stdout.readline
                read = stream.stdout.read
                while header := readline():
                    if not header.endswith(b"\n"):
                        # git died inside a header: not a "missing" answer, a failure (found
                        # by bench/fuzz_git_parsers.py; it used to skip the object silently)
                        break
                    oid, _, rest = header.rstrip(b"\n").partition(b" ")
                    kind, _, size_text = rest.partition(b" ")
                    if not size_text:  # "<oid> missing" / "ambiguous"
                        answered += 1
                        self.missing += 1
                        continue
                    size = int(size_text)
                    data = read(size)
                    if len(data) < size or read(1) != b"\n":
                        break  # git died inside this object
                    answered += 1
                    if kind == b"blob":
                        yield oid.decode("ascii"), data
                stream.stdout.close()
                writer.join()
                try:
                    stream.finish("git cat-file")
                    failed, message = False, ""
                except GitError as exc:
                    failed, message = True, str(exc)
            done = answered * line_len
            if not failed and done >= len(feed):
                return
            if buffered:
                buffered = False  # retry the rest object by object to find the bad one
                feed = feed[done:]
                continue
            bad = feed[done : done + line_len - 1].decode("ascii")
            self.errors.append(f"object {bad}: {message}" if bad else message)
            feed = feed[done + line_len :]


def read_blobs(git: Git, oids: Iterable[str]) -> dict[str, bytes]:
    """Contents of a few known-present blobs, in one ``cat-file`` process."""
    return dict(BlobReader(git, listing_of(sorted(set(oids)))))
