"""keysweep's cache directory: files that only ever save time.

Two kinds live here, each keyed by everything it is made from: compiled Hyperscan databases
(:mod:`scanner.detect.dbcache`) and validated rule packs (:mod:`scanner.rules.packcache`).

The directory is ``$KEYSWEEP_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/keysweep``,
else ``~/.cache/keysweep``. What is cached is code-like data, so a file is only read from a
directory and file owned by this user that nobody else may write (``read`` returns None
otherwise, and the caller rebuilds). Writes are atomic (a temporary file renamed into place)
and never fail: a cache that cannot be written is no cache.

The cache keeps itself small. A read marks its file as used (its modification time, at most
once a day), and each write removes the entries not used for ``MAX_AGE`` seconds (an older
keysweep's, an edited pack's), then the least recently used ones while the entries hold more
than ``MAX_BYTES``. Only files named as entries are touched (``ENTRY``: a SHA-256 and a
suffix, or a temporary file of an unfinished write, a day old), never anything else a user
keeps there.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from pathlib import Path

from scanner.atomic import write_atomic
from scanner.errors import OutputError

ENV = "KEYSWEEP_CACHE_DIR"

DAY = 24 * 3600
MAX_AGE = 30 * DAY
MAX_BYTES = 256 * 1024 * 1024
ENTRY = re.compile(r"[0-9a-f]{64}\.[a-z]+")
UNFINISHED = re.compile(r"\.[0-9a-f]{64}\.[a-z]+\..*\.tmp")


def cache_dir() -> Path | None:
    """Where cached files are kept (None: no cache)."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keysweep"


def _trusted(path: Path) -> os.stat_result | None:
    """``path``'s status if this user owns it and nobody else may write it, else None."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    uid = os.getuid() if hasattr(os, "getuid") else info.st_uid
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return info if info.st_uid == uid and not writable_by_others else None


def _usable(name: str) -> tuple[Path, os.stat_result] | None:
    """The trusted regular file ``name`` in the cache and its status, if there is one."""
    directory = cache_dir()
    if directory is None:
        return None
    path = directory / name
    info = _trusted(path) if _trusted(directory) else None
    return (path, info) if info is not None and stat.S_ISREG(info.st_mode) else None


def holds(name: str) -> bool:
    """Whether the cache has a trusted file ``name`` (its content may still be unusable)."""
    return _usable(name) is not None


def read(name: str) -> bytes | None:
    """The content of the trusted cache file ``name``, or None."""
    usable = _usable(name)
    if usable is None:
        return None
    path, info = usable
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if time.time() - info.st_mtime > DAY:
        with contextlib.suppress(OSError):
            os.utime(path)  # used: kept from pruning for MAX_AGE more
    return data


def write(name: str, data: bytes) -> None:
    """Keep ``data`` as ``name`` (mode 0600, in a 0700 directory); never fails."""
    directory = cache_dir()
    if directory is None:
        return
    with contextlib.suppress(OSError, OutputError):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _trusted(directory):
            write_atomic(directory / name, data, mode=0o600)
            prune(directory, keep=name)


def prune(directory: Path, *, keep: str = "") -> None:
    """Remove the entries of ``directory`` unused for ``MAX_AGE``, then the least recently used
    while the entries hold more than ``MAX_BYTES`` (``keep``, just written, counts but stays).
    Files not named as entries are left alone; a file another process removes first is
    skipped."""
    now = time.time()
    entries: list[tuple[float, int, Path]] = []
    kept = 0  # ``keep``'s size: it counts towards MAX_BYTES, but is never removed
    with os.scandir(directory) as listing:
        for item in listing:
            try:
                info = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            age = now - info.st_mtime
            if UNFINISHED.fullmatch(item.name):
                if age > DAY:
                    _remove(Path(item.path))
            elif item.name == keep:
                kept = info.st_size
            elif ENTRY.fullmatch(item.name):
                if age > MAX_AGE:
                    _remove(Path(item.path))
                else:
                    entries.append((info.st_mtime, info.st_size, Path(item.path)))
    total = kept + sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= MAX_BYTES:
            break
        _remove(path)
        total -= size


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
