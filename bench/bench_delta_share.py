"""How much of a repository's history a scan that looks only at what each version adds would read.

git stores most versions of a file as a delta against another blob: instructions that copy
ranges of the base and insert new bytes. A scanner that carried the base's findings over and
looked only near the inserted bytes would read far fewer bytes than one that scans every blob
whole, as keysweep and its peers do. This script measures that lever on any repository's packs,
and what it costs to find the inserted bytes in Python:

- blob bytes (every blob whole), the bytes stored whole, the delta streams and the bytes they
  insert;
- the bytes within ``--context`` characters of an insertion, or of a seam where two copied
  ranges that are not neighbours in the base meet (what such a scan would still read);
- the delta instructions, and the CPU seconds this script takes to read and walk them (the
  packs' indexes, each delta inflated with zlib, every instruction decoded).

    python bench/bench_delta_share.py /path/to/repo.git [--context 320]

Only offset deltas are followed (what ``git repack`` and ``git gc`` write): reference deltas
are counted and left out, and loose objects are not read.
"""

from __future__ import annotations

import argparse
import mmap
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

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


def walk_delta(delta: bytes, share: Share, context: int) -> None:
    """Counts one blob delta: its target size, inserted bytes, instructions, and the bytes of the
    target within ``context`` of an insertion or a seam (intervals merged in target order)."""
    _, at = _varint(delta, 0)
    target_size, at = _varint(delta, at)
    share.blob_bytes += target_size
    position = 0  # in the target
    near_end = 0  # end of the last counted interval
    copied_to = -1  # where in the base the last copy ended (-1: an insertion came last)
    end = len(delta)

    def near(lo: int, hi: int) -> None:
        nonlocal near_end
        lo, hi = max(lo - context, near_end), min(hi + context, target_size)
        if hi > lo:
            share.near_inserts += hi - lo
            near_end = hi

    while at < end:
        op = delta[at]
        at += 1
        share.instructions += 1
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
            share.inserted += op
            copied_to = -1
            at += op
            position += op
    if position != target_size:
        raise SystemExit(f"a delta builds {position} bytes where it names {target_size}")


def measure_pack(pack_path: Path, share: Share, context: int) -> None:
    offsets = pack_offsets(pack_path.with_suffix(".idx").read_bytes())
    with (
        pack_path.open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as pack,
    ):
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
            if kind != OFS_DELTA:
                kind_at[offset] = kind
                if kind == BLOB:
                    share.blobs += 1
                    share.blob_bytes += size
                    share.whole_bytes += size
                continue
            byte = pack[at]
            at += 1
            back = byte & 0x7F
            while byte & 0x80:
                byte = pack[at]
                at += 1
                back = ((back + 1) << 7) | (byte & 0x7F)
            base_kind = kind_at.get(offset - back, 0)
            kind_at[offset] = base_kind
            if base_kind != BLOB:
                continue
            delta = zlib.decompress(pack[at:following])
            share.blobs += 1
            share.deltas += 1
            share.delta_bytes += len(delta)
            walk_delta(delta, share, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="a bare repository or a .git directory")
    parser.add_argument("--context", type=int, default=320, help="characters around an insertion")
    args = parser.parse_args(argv)
    packs = sorted((args.repo / "objects" / "pack").glob("*.pack"))
    if not packs:
        print(f"{args.repo}: no packs", file=sys.stderr)
        return 2
    share = Share()
    start = time.process_time()
    for pack in packs:
        measure_pack(pack, share, args.context)
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
    print(f"  CPU seconds to find them in Python: {seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
