"""Snapshots of a directory tree: proof that keysweep created, changed or touched nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path


def tree_snapshot(root: Path) -> dict[str, tuple[str, int, int, str]]:
    """Every entry under ``root``: kind, mode, mtime (ns) and content hash.

    Two equal snapshots mean nothing was created, deleted, rewritten or touched,
    including git's ``index`` (an index refresh rewrites it) and ``*.lock`` files.
    """
    snap: dict[str, tuple[str, int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                snap[rel] = ("link", st.st_mode, st.st_mtime_ns, os.readlink(path))
            elif path.is_dir():
                snap[rel] = ("dir", st.st_mode, st.st_mtime_ns, "")
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                snap[rel] = ("file", st.st_mode, st.st_mtime_ns, digest)
    return snap


def snapshot_diff(
    before: Mapping[str, tuple[str, int, int, str]], after: Mapping[str, tuple[str, int, int, str]]
) -> list[str]:
    """Human-readable differences between two :func:`tree_snapshot` results."""
    changes = [f"created {p}" for p in sorted(after.keys() - before.keys())]
    changes += [f"deleted {p}" for p in sorted(before.keys() - after.keys())]
    changes += [
        f"changed {p}: {before[p]} -> {after[p]}"
        for p in sorted(before.keys() & after.keys())
        if before[p] != after[p]
    ]
    return changes


def written_files(root: Path) -> dict[Path, bytes]:
    """Contents of every regular file under ``root`` (for leak greps)."""
    out: dict[Path, bytes] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                out[path] = path.read_bytes()
    return out
