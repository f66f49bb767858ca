"""The history hot loop: every blob through the detector.

Every blob goes straight to ``scan``, whose first step is the keyword pass: nearly every blob
of a repository that uses AWS holds a keyword, and a separate ``wants`` pass first would scan
its bytes twice (getmoto/moto: 6 % of the scan's CPU with Hyperscan, 2 % without).
Small repositories (``workers`` <= 1, where starting processes costs more than it saves) are
read and scanned in this process. Otherwise the listing is cut into contiguous shares and
forked workers (one per core, through the one parallel runner, scanner/parallel.py) each read
their shares with their own ``git cat-file --batch``, prefilter and scan them, and send back
only the findings: memory stays bounded however large the history is (one blob at a time per
process; past a bound, freed heap memory goes back to the OS: scanner/heap.py).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scanner import heap
from scanner.models import Finding, Fragment, FragmentScanner, Source
from scanner.parallel import MAX_WORKERS, map_parts_in_workers, usable_cores
from scanner.sources.catfile import BlobReader
from scanner.sources.gitproc import Git

UNKNOWN_PATH = ""  # a blob at no known path or several: every rule applies (see history.py)
PARALLEL_MIN_BYTES = 64 << 20  # below this, one process is faster than starting workers
SHARES_PER_WORKER = 2  # listing shares per worker: balances the load, each share one git
PART_BLOBS, PART_BYTES = 256, 1 << 24  # counts sent (and progress shown) this often


class Progress(Protocol):
    def start(self, blobs: int, total_bytes: int) -> None: ...

    def advance(self, blobs: int, nbytes: int) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Packed:
    """A blob's findings, pickled: how a scan holds them until attribution reads them, about
    a fifth of their size as objects (a 10 MB dump's 94,638 findings: 9.8 MB against 48 MB;
    a history of 757,104 of them held 374 MB). A worker packs them once, and they cross to
    the parent as they are."""

    data: bytes

    @classmethod
    def of(cls, found: Sequence[Finding]) -> Packed:
        return cls(pickle.dumps(list(found), protocol=pickle.HIGHEST_PROTOCOL))

    def unpack(self) -> list[Finding]:
        found: list[Finding] = pickle.loads(self.data)  # made by this run's own processes
        return found


@dataclass
class BlobScan:
    hits: dict[str, Packed] = field(default_factory=dict)  # blob id -> its findings
    # (blob id, path) -> its findings there, for the blobs with hits at several paths
    at_paths: dict[tuple[str, str], Packed] = field(default_factory=dict)
    blobs: int = 0
    nbytes: int = 0
    too_large: int = 0
    read_errors: list[str] = field(default_factory=list)  # from git cat-file (BlobReader)
    missing: int = 0  # listed ids git answered "missing" for

    def drop_findings(self) -> None:
        """Forget the blobs' findings (kept: the counts), once they are attributed."""
        self.hits.clear()
        self.at_paths.clear()

    def add(self, other: BlobScan) -> None:
        self.hits.update(other.hits)
        self.at_paths.update(other.at_paths)
        self.blobs += other.blobs
        self.nbytes += other.nbytes
        self.too_large += other.too_large
        self.read_errors += other.read_errors
        self.missing += other.missing


def default_workers(total_bytes: int) -> int:
    if total_bytes < PARALLEL_MIN_BYTES:
        return 1
    return min(usable_cores(), MAX_WORKERS)


def scan_feed(
    git: Git,
    feed: bytes,
    scanner: FragmentScanner,
    *,
    max_size: int | None,
    progress: Progress | None,
    workers: int = 1,
    paths: Mapping[str, str] | None = None,
    several: Mapping[str, Sequence[str]] | None = None,
    sizes: Sequence[int] = (),
    when_idle: Callable[[], object] | None = None,
) -> BlobScan:
    """Read the blobs listed in ``feed`` (``<oid>\\n`` lines) and scan them.

    With several workers each reads its own shares of the listing with its own
    ``git cat-file --batch`` (contiguous shares keep git's delta cache warm) and prefilters
    and scans them itself: only findings travel between processes, never blob bytes (which
    cost the parent ~2 s of pickling per GiB of candidates and made it the bottleneck).
    ``when_idle`` is called once, when a worker asks for a share and none is left.
    """
    # without Hyperscan, memory over git's speed (gitproc.LEAN_READER_MEMORY_LIMITS)
    lean = scanner.prefilter_backend != "hyperscan"
    if workers <= 1 or not feed:
        reader = BlobReader(git, feed, lean=lean)
        result = scan_blobs(
            iter(reader),
            scanner,
            max_size=max_size,
            progress=progress,
            paths=paths,
            several=several,
        )
        result.read_errors += reader.errors
        result.missing += reader.missing
        return result
    shares = _shares(feed, workers * SHARES_PER_WORKER, sizes)
    heap.release()

    def scan_share(share: bytes) -> Iterator[BlobScan]:
        if lean:
            heap.map_large_blocks()
        reader = BlobReader(git, share, lean=lean)
        yield from scan_parts(
            iter(reader), scanner, max_size=max_size, paths=paths, several=several
        )
        yield BlobScan(read_errors=list(reader.errors), missing=reader.missing)

    return _gathered(map_parts_in_workers(scan_share, _then(shares, when_idle), workers), progress)


def _then(shares: list[bytes], when_idle: Callable[[], object] | None) -> Iterator[bytes]:
    """``shares``, then ``when_idle()`` when one more is asked for (the runner takes an item
    only for an idle worker)."""
    yield from shares
    if when_idle is not None:
        when_idle()


def _shares(feed: bytes, count: int, sizes: Sequence[int]) -> list[bytes]:
    """``feed`` cut into about ``count`` contiguous shares: of equal bytes when ``sizes`` (of
    each listed blob) are known, else of equal blob counts."""
    line_len = feed.index(b"\n") + 1
    lines = len(feed) // line_len
    if len(sizes) != lines:
        step = max(1, -(-lines // count)) * line_len
        return [feed[i : i + step] for i in range(0, len(feed), step)]
    total = sum(sizes)
    shares: list[bytes] = []
    start = filled = 0
    for index, size in enumerate(sizes):
        filled += size
        # the k-th share ends once the bytes so far reach k/count of all of them
        if len(shares) < count - 1 and filled * count >= (len(shares) + 1) * total:
            shares.append(feed[start * line_len : (index + 1) * line_len])
            start = index + 1
    if start < lines:
        shares.append(feed[start * line_len :])
    return shares


def scan_blobs(
    blobs: Iterator[tuple[str, bytes]],
    scanner: FragmentScanner,
    *,
    max_size: int | None,
    progress: Progress | None,
    paths: Mapping[str, str] | None = None,
    several: Mapping[str, Sequence[str]] | None = None,
) -> BlobScan:
    """Scan every blob (``scan_parts``), return the blobs with findings."""
    parts = scan_parts(blobs, scanner, max_size=max_size, paths=paths, several=several)
    return _gathered(parts, progress)


def _gathered(parts: Iterable[BlobScan], progress: Progress | None) -> BlobScan:
    """The parts of a scan added up, each one's counts shown as progress as it comes."""
    result = BlobScan()
    for part in parts:
        result.add(part)
        if progress is not None and part.blobs:
            progress.advance(part.blobs, part.nbytes)
    return result


def scan_parts(
    blobs: Iterator[tuple[str, bytes]],
    scanner: FragmentScanner,
    *,
    max_size: int | None,
    paths: Mapping[str, str] | None = None,
    several: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[BlobScan]:
    """Scan every blob, in parts: the findings of each blob with findings as soon as it is
    scanned, and the counts every PART_BLOBS blobs or PART_BYTES bytes and at the end. A
    worker sends each part as it comes and holds no more than one blob's findings (a share
    of a history full of secrets held 126,000 of them until it ended: 350 MB).

    A blob with a path in ``paths`` is scanned under it, others under ``UNKNOWN_PATH``; one
    with findings there that ``several`` names paths for is scanned again under each
    (``BlobScan.at_paths``), as attribution reports it: here its bytes are at hand, and the
    workers run side by side (in the parent, after the scan, those rescans were 0.25 s of
    localstack's history)."""
    counts = BlobScan()
    bound = heap.HeapBound()
    paths = paths or {}
    several = several or {}
    for oid, raw in blobs:
        size = len(raw)
        if max_size is not None and size > max_size:
            counts.too_large += 1
            continue
        counts.blobs += 1
        counts.nbytes += size
        found = _found_in(scanner, oid, raw, paths.get(oid, UNKNOWN_PATH), several.get(oid, ()))
        if found is not None:
            yield found
            found = None  # held no longer than it takes to send
        bound.check(size)
        if counts.blobs >= PART_BLOBS or counts.nbytes >= PART_BYTES:
            yield counts
            counts = BlobScan()
    yield counts


def _found_in(
    scanner: FragmentScanner, oid: str, raw: bytes, path: str, others: Sequence[str]
) -> BlobScan | None:
    """The findings of one blob as a part of a scan (None: it has none)."""
    found = scanner.scan(Fragment(raw, path, Source.HISTORY, oid))
    if not found:
        return None
    part = BlobScan(hits={oid: Packed.of(found)})
    for other in others:
        at_path = scanner.scan(Fragment(raw, other, Source.HISTORY, oid))
        part.at_paths[(oid, other)] = Packed.of(at_path)
    return part
