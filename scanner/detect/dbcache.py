"""Compiled Hyperscan databases kept on disk, keyed by everything they are compiled from.

Compiling the rule databases costs about half a second, more than `keysweep scan` takes to
read a 100 MB working tree; a serialized database loads in a millisecond. The key is the
SHA-256 of the Hyperscan build (the binding's version, and the library's version and the CPU
features it compiles for, ``library``), the mode and every expression, id and flag, so a changed
rule pack, a new keysweep or a cache shared by another build or another kind of CPU simply
misses the cache.

The files live in keysweep's cache directory (:mod:`scanner.cache`: trusted only when owned by
this user and writable by nobody else); anything odd (unreadable, corrupt, a load error) is
treated as a miss and the database is compiled.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Sequence
from typing import Any

from scanner import cache

SUFFIX = ".hsdb"


@functools.cache
def library(hs: Any) -> str:
    """The Hyperscan library behind the binding ``hs``, as a database it compiles describes
    itself: ``Version: 5.4.12 Features: AVX2 Mode: BLOCK``. One binding release may wrap other
    builds (a source build against the system's library), and a build with a fat runtime
    compiles for the CPU it runs on; a database of one build or CPU must never be loaded by
    another. (One literal compiles in well under a millisecond, once per process.)"""
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=[b"keysweep"], ids=[0], elements=1, flags=[0])
    info: bytes = db.info()
    return info.decode("ascii", "replace")


def key(
    hs: Any, mode: int, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int]
) -> str:
    """The cache name of a database compiled from exactly these inputs, by this build."""
    digest = hashlib.sha256()
    build = (getattr(hs, "__version__", ""), library(hs))
    digest.update(repr((build, mode, list(ids), list(flags))).encode())
    for expression in expressions:
        digest.update(len(expression).to_bytes(8, "little"))
        digest.update(expression)
    return digest.hexdigest()


def holds(name: str) -> bool:
    """Whether the cache has a trusted file for ``name`` (``load`` may still find it corrupt)."""
    return cache.holds(name + SUFFIX)


def load(hs: Any, name: str) -> Any | None:
    """The cached database ``name`` (from ``key``), or None."""
    data = cache.read(name + SUFFIX)
    if data is None:
        return None
    try:
        return hs.loadb(data, hs.HS_MODE_BLOCK)
    except (hs.error, ValueError, TypeError):
        return None


def compiled(
    hs: Any, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int]
) -> Any:
    """The block-mode database of exactly these inputs: loaded from the cache, else compiled
    (``hs.error`` propagates) and kept."""
    name = key(hs, hs.HS_MODE_BLOCK, expressions, ids, flags)
    db = load(hs, name)
    if db is None:
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(
            expressions=list(expressions), ids=list(ids), elements=len(ids), flags=list(flags)
        )
        store(hs, name, db)
    return db


def holds_compiled(
    hs: Any, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int]
) -> bool:
    """Whether ``compiled`` of these inputs would load from the cache (``holds``)."""
    return holds(key(hs, hs.HS_MODE_BLOCK, expressions, ids, flags))


def store(hs: Any, name: str, db: Any) -> None:
    """Keep ``db`` as ``name``; never fails (a cache that cannot be written is no cache)."""
    with contextlib.suppress(hs.error):
        cache.write(name + SUFFIX, hs.dumpb(db))
