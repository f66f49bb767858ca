"""How much of a repository's history a scan that looks only at what each version adds would read.

git stores most versions of a file as a delta against another blob: instructions that copy
ranges of the base and insert new bytes. A scanner that carried the base's findings over and
looked only near the inserted bytes would read far fewer bytes than one that scans every blob
whole, as keysweep and its peers do. This script measures that lever on any repository's packs,
and what it costs to find the inserted bytes:

- blob bytes (every blob whole), the bytes stored whole, the delta streams and the bytes they
  insert;
- the bytes within ``--context`` characters of an insertion, or of a seam where two copied
  ranges that are not neighbours in the base meet (what such a scan would still read);
- the delta instructions, and the CPU seconds this script takes to read and walk them (the
  packs' indexes, each delta inflated with zlib, every instruction decoded, in Python unless
  ``--jit``).

    python bench/bench_delta_share.py /path/to/repo.git [--context 320] [--jit] [--rebuild MIB]

``--jit`` decodes the instructions with functions compiled by numba (``pip install numba``; not a
dependency of keysweep) instead of Python, to measure what finding the inserted bytes costs in
compiled code. ``--rebuild MIB`` (implies ``--jit``) also builds every blob in this process, in
pack order, from the inflated objects and deltas, keeping up to MIB MiB of rebuilt bases, and
times keysweep's own reader doing the same work for comparison (``BlobReader``: ``git cat-file
--batch`` over the same blobs in pack order, with 20 MiB of delta bases, through a pipe).

Only offset deltas are followed (what ``git repack`` and ``git gc`` write): reference deltas
are counted and left out, and loose objects are not read.
"""

from __future__ import annotations

import argparse
import mmap
import resource
import struct
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.sources.catfile import BlobReader, list_all_blobs
from scanner.sources.gitproc import Git

OFS_DELTA, REF_DELTA, BLOB = 6, 7, 3


@dataclass
class Share:
    blobs: int = 0
    blob_bytes: int = 0  # every blob whole
    whole_bytes: int = 0  # blobs stored whole
    deltas: int = 0
    delta_bytes: int = 0  # inflated delta streams
    inserted: int = 0
    near_inserts: int = 0  # bytes of delta targets near an insertion or a seam of two copies
    instructions: int = 0
    ref_deltas: int = 0


def pack_offsets(idx: bytes) -> list[int]:
    """The sorted object offsets of a version 2 pack index."""
    if idx[:4] != b"\xfftOc" or struct.unpack(">I", idx[4:8])[0] != 2:
        raise SystemExit("only version 2 pack indexes are read")
    count = struct.unpack(">I", idx[8 + 255 * 4 : 8 + 256 * 4])[0]
    small = 8 + 256 * 4 + 24 * count  # past the fan-out, the names and the CRCs
    large = small + 4 * count
    offsets = []
    for value in struct.unpack(f">{count}I", idx[small:large]):
        if value & 0x80000000:
            at = large + 8 * (value & 0x7FFFFFFF)
            value = struct.unpack(">Q", idx[at : at + 8])[0]
        offsets.append(value)
    return sorted(offsets)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


Counts = tuple[int, int, int, int, int]  # target size, bytes built, near, inserted, instructions


def delta_counts(delta: bytes, context: int) -> Counts:
    """One blob delta's target size, the bytes its instructions build (the same when it is
    sound), the bytes of the target within ``context`` of an insertion or a seam (intervals
    merged in target order), the bytes it inserts and its instructions."""
    _, at = _varint(delta, 0)
    target_size, at = _varint(delta, at)
    position = 0  # in the target
    near_end = near_bytes = inserted = instructions = 0  # near_end: the last interval's end
    copied_to = -1  # where in the base the last copy ended (-1: an insertion came last)
    end = len(delta)

    def near(lo: int, hi: int) -> None:
        nonlocal near_end, near_bytes
        lo, hi = max(lo - context, near_end), min(hi + context, target_size)
        if hi > lo:
            near_bytes += hi - lo
            near_end = hi

    while at < end:
        op = delta[at]
        at += 1
        instructions += 1
        if op & 0x80:  # copy: offset bytes (bits 0-3), then size bytes (bits 4-6)
            offset = size = 0
            for bit, shift in ((1, 0), (2, 8), (4, 16), (8, 24)):
                if op & bit:
                    offset |= delta[at] << shift
                    at += 1
            for bit, shift in ((16, 0), (32, 8), (64, 16)):
                if op & bit:
                    size |= delta[at] << shift
                    at += 1
            size = size or 0x10000
            if 0 <= copied_to != offset:  # two base ranges meet: new text around the seam
                near(position, position)
            copied_to = offset + size
            position += size
        else:  # insert ``op`` bytes
            near(position, position + op)
            inserted += op
            copied_to = -1
            at += op
            position += op
    return target_size, position, near_bytes, inserted, instructions


def count_delta(counts: Counts, share: Share) -> None:
    """Adds one delta's ``delta_counts`` to ``share``; stops on a delta that builds another size
    than it names."""
    target, built, near, inserted, instructions = counts
    if built != target:
        raise SystemExit(f"a delta builds {built} bytes where it names {target}")
    share.blob_bytes += target
    share.near_inserts += near
    share.inserted += inserted
    share.instructions += instructions


@dataclass(frozen=True)
class Entry:
    """One object of a pack: its type (a delta's is its base's), its size as its header names
    it (a delta's: its delta stream's), where its zlib stream starts and ends, and its base's
    offset (-1: stored whole)."""

    kind: int
    size: int
    data_at: int
    following: int
    base: int


def pack_entries(pack: mmap.mmap, offsets: list[int], share: Share) -> Iterator[tuple[int, Entry]]:
    """The objects of a pack in pack order (``share`` counts the reference deltas left out)."""
    pack_end = len(pack) - 20
    kind_at: dict[int, int] = {}  # offset -> object type (a delta's is its base's)
    for i, offset in enumerate(offsets):
        following = offsets[i + 1] if i + 1 < len(offsets) else pack_end
        byte = pack[offset]
        at = offset + 1
        kind, size, shift = byte >> 4 & 7, byte & 15, 4
        while byte & 0x80:
            byte = pack[at]
            at += 1
            size |= (byte & 0x7F) << shift
            shift += 7
        if kind == REF_DELTA:
            share.ref_deltas += 1
            continue
        base = -1
        if kind == OFS_DELTA:
            byte = pack[at]
            at += 1
            back = byte & 0x7F
            while byte & 0x80:
                byte = pack[at]
                at += 1
                back = ((back + 1) << 7) | (byte & 0x7F)
            base = offset - back
            kind = kind_at.get(base, 0)
        kind_at[offset] = kind
        yield offset, Entry(kind, size, at, following, base)


DeltaCounts = Callable[[bytes, int], Counts]


def measure_pack(pack_path: Path, share: Share, context: int, counts: DeltaCounts) -> None:
    offsets = pack_offsets(pack_path.with_suffix(".idx").read_bytes())
    with (
        pack_path.open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as pack,
    ):
        for _, entry in pack_entries(pack, offsets, share):
            if entry.kind != BLOB:
                continue
            share.blobs += 1
            if entry.base < 0:
                share.blob_bytes += entry.size
                share.whole_bytes += entry.size
                continue
            data = zlib.decompress(pack[entry.data_at : entry.following])
            share.deltas += 1
            share.delta_bytes += len(data)
            count_delta(counts(data, context), share)


@dataclass(frozen=True)
class Kernels:
    """What numba compiles: ``delta_counts``; ``apply(base, delta)``, the delta's target from
    its base; ``whole(data)``, an object stored whole in the form ``apply`` takes as a base."""

    counts: DeltaCounts
    apply: Callable[[Any, bytes], Any]
    whole: Callable[[bytes], Any]


def jit_kernels() -> Kernels:
    """The kernels, compiled once here, so that the timings leave the compilation out."""
    try:
        import numba  # type: ignore[import-not-found]
        import numpy as np
    except ImportError:
        raise SystemExit("--jit and --rebuild need numba: pip install numba") from None

    @numba.njit(nogil=True)  # type: ignore[misc]
    def header(d: Any) -> tuple[int, int]:
        """The target size and where the instructions start."""
        at = 0
        while d[at] & 0x80:  # the base's size
            at += 1
        at += 1
        size = shift = 0
        while True:
            byte = d[at]
            at += 1
            size |= np.int64(byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return size, at

    @numba.njit(nogil=True)  # type: ignore[misc]
    def copy_args(d: Any, at: int, op: int) -> tuple[int, int, int]:
        offset = size = 0
        for bit in range(4):
            if op & (1 << bit):
                offset |= np.int64(d[at]) << (8 * bit)
                at += 1
        for bit in range(3):
            if op & (16 << bit):
                size |= np.int64(d[at]) << (8 * bit)
                at += 1
        return offset, size or 0x10000, at

    @numba.njit(nogil=True)  # type: ignore[misc]
    def walk_counts(d: Any, context: int) -> tuple[int, int, int, int, int]:
        target, at = header(d)
        position = near_end = near = inserted = instructions = 0
        copied_to = -1
        while at < d.shape[0]:
            op = d[at]
            at += 1
            instructions += 1
            if op & 0x80:
                offset, size, at = copy_args(d, at, op)
                lo, hi = position, position  # a seam, if two base ranges meet here
                seam = 0 <= copied_to != offset
                copied_to = offset + size
                position += size
                if not seam:
                    continue
            else:
                lo, hi = position, position + op
                inserted += op
                copied_to = -1
                at += op
                position += op
            lo, hi = max(lo - context, near_end), min(hi + context, target)
            if hi > lo:
                near += hi - lo
                near_end = hi
        return target, position, near, inserted, instructions

    @numba.njit(nogil=True)  # type: ignore[misc]
    def apply(base: Any, d: Any) -> Any:
        target, at = header(d)
        out = np.empty(target, np.uint8)
        position = 0
        while at < d.shape[0]:
            op = d[at]
            at += 1
            if op & 0x80:
                offset, size, at = copy_args(d, at, op)
                out[position : position + size] = base[offset : offset + size]
            else:
                size = op
                out[position : position + size] = d[at : at + size]
                at += size
            position += size
        if position != target:
            raise ValueError("a delta builds another size than it names")
        return out

    def counts(delta: bytes, context: int) -> Counts:
        return walk_counts(np.frombuffer(delta, np.uint8), context)  # type: ignore[no-any-return]

    def apply_bytes(base: Any, delta: bytes) -> Any:
        return apply(base, np.frombuffer(delta, np.uint8))

    def whole(data: bytes) -> Any:
        return np.frombuffer(data, np.uint8)

    sample = b"\x04\x06\x91\x00\x04\x02ab"  # copy 4 bytes from 0, insert "ab"
    if counts(sample, 1) != delta_counts(sample, 1) or (
        bytes(apply_bytes(whole(b"wxyz"), sample)) != b"wxyzab"
    ):
        raise SystemExit("the compiled delta code is wrong")
    return Kernels(counts, apply_bytes, whole)


def rebuild_pack(pack_path: Path, cache_bytes: int, kernels: Kernels) -> int:
    """Builds every blob of a pack in pack order, with an LRU cache of rebuilt objects; the
    blob bytes built."""
    offsets = pack_offsets(pack_path.with_suffix(".idx").read_bytes())
    built = 0
    with (
        pack_path.open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as pack,
    ):
        entries = dict(pack_entries(pack, offsets, Share()))
        cache: OrderedDict[int, Any] = OrderedDict()
        cached = 0

        def content(offset: int) -> Any:
            nonlocal cached
            hit = cache.get(offset)
            if hit is not None:
                cache.move_to_end(offset)
                return hit
            entry = entries[offset]
            raw = zlib.decompress(pack[entry.data_at : entry.following])
            base = None if entry.base < 0 else content(entry.base)
            data = kernels.whole(raw) if base is None else kernels.apply(base, raw)
            cache[offset] = data
            cached += len(data)
            while cached > cache_bytes and len(cache) > 1:
                cached -= len(cache.popitem(last=False)[1])
            return data

        for offset, entry in entries.items():
            if entry.kind == BLOB:
                built += len(content(offset))
    return built


def git_reads(repo: Path) -> tuple[int, float]:
    """The blob bytes keysweep's reader gives for every blob in pack order (``list_all_blobs``,
    ``BlobReader``: ``git cat-file --batch`` through a pipe), and the CPU seconds that takes
    (git and this process)."""
    git = Git(str(repo))
    feed = list_all_blobs(git, max_size=None).feed
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.process_time()
    read = sum(len(data) for _, data in BlobReader(git, feed))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return read, time.process_time() - start + children


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="a bare repository or a .git directory")
    parser.add_argument("--context", type=int, default=320, help="characters around an insertion")
    parser.add_argument("--jit", action="store_true", help="decode with numba-compiled code")
    parser.add_argument(
        "--rebuild", type=int, metavar="MIB", help="also build every blob here (and in git)"
    )
    args = parser.parse_args(argv)
    packs = sorted((args.repo / "objects" / "pack").glob("*.pack"))
    if not packs:
        print(f"{args.repo}: no packs", file=sys.stderr)
        return 2
    kernels = jit_kernels() if args.jit or args.rebuild else None
    counts = delta_counts if kernels is None else kernels.counts
    share = Share()
    start = time.process_time()
    for pack in packs:
        measure_pack(pack, share, args.context, counts)
    seconds = time.process_time() - start
    mb = 1e6
    print(f"{args.repo}: {share.blobs:,} packed blobs, {share.blob_bytes / mb:,.0f} MB whole")
    print(f"  stored whole    {share.whole_bytes / mb:10,.1f} MB")
    print(f"  delta streams   {share.delta_bytes / mb:10,.1f} MB ({share.deltas:,} deltas)")
    print(f"  inserted        {share.inserted / mb:10,.1f} MB")
    near = share.whole_bytes + share.near_inserts
    print(
        f"  to read, {args.context} characters around insertions: {near / mb:,.1f} MB "
        f"({near / max(share.blob_bytes, 1):.1%} of the blob bytes)"
    )
    skipped = f"{share.ref_deltas:,} reference deltas skipped"
    print(f"  instructions    {share.instructions:10,} ({skipped})")
    how = "Python" if kernels is None else "numba-compiled code"
    print(f"  CPU seconds to find them in {how}: {seconds:.2f}")
    if args.rebuild and kernels is not None:
        start = time.process_time()
        built = sum(rebuild_pack(pack, args.rebuild << 20, kernels) for pack in packs)
        seconds = time.process_time() - start
        print(
            f"  every blob built here ({args.rebuild} MiB of bases kept): "
            f"{built / mb:,.0f} MB, {seconds:.2f} CPU seconds"
        )
        read, seconds = git_reads(args.repo)
        print(f"  the same by keysweep's reader (git): {read / mb:,.0f} MB, {seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
