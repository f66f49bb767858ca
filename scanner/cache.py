"""keysweep's cache directory: files that only ever save time.

Two kinds live here, each keyed by everything it is made from: compiled Hyperscan databases
(:mod:`scanner.detect.dbcache`) and validated rule packs (:mod:`scanner.rules.packcache`).

The directory is ``$KEYSWEEP_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/keysweep``,
else ``~/.cache/keysweep``. What is cached is code-like data, so a file is only read from a
directory and file owned by this user that nobody else may write (``read`` returns None
otherwise, and the caller rebuilds). Writes are atomic (a temporary file renamed into place)
and never fail: a cache that cannot be written is no cache.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from scanner.atomic import write_atomic
from scanner.errors import OutputError

ENV = "KEYSWEEP_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where cached files are kept (None: no cache)."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keysweep"


def _trusted(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    uid = os.getuid() if hasattr(os, "getuid") else info.st_uid
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return info.st_uid == uid and not writable_by_others


def _usable(name: str) -> Path | None:
    """The trusted regular file ``name`` in the cache, if there is one."""
    directory = cache_dir()
    if directory is None:
        return None
    path = directory / name
    if not (_trusted(directory) and _trusted(path) and stat.S_ISREG(os.lstat(path).st_mode)):
        return None
    return path


def holds(name: str) -> bool:
    """Whether the cache has a trusted file ``name`` (its content may still be unusable)."""
    return _usable(name) is not None


def read(name: str) -> bytes | None:
    """The content of the trusted cache file ``name``, or None."""
    path = _usable(name)
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def write(name: str, data: bytes) -> None:
    """Keep ``data`` as ``name`` (mode 0600, in a 0700 directory); never fails."""
    directory = cache_dir()
    if directory is None:
        return
    with contextlib.suppress(OSError, OutputError):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _trusted(directory):
            write_atomic(directory / name, data, mode=0o600)
