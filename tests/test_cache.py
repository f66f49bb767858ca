"""keysweep's cache directory keeps itself small: what is used stays, what is not goes.

Every new rule pack, every upgrade and every edited keysweep names its cache entries anew, so
without pruning the directory only grows (15 MB of entries after a few weeks of development).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.repo import Repo
from support.run import run_keysweep

from scanner import cache

OLD = time.time() - cache.MAX_AGE - cache.DAY


def _entry(directory: Path, n: int, suffix: str = "rules", *, size: int = 10) -> Path:
    path = directory / f"{n:064x}.{suffix}"
    path.write_bytes(b"x" * size)
    path.chmod(0o600)
    return path


def _age(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))


@pytest.fixture
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    monkeypatch.setenv(cache.ENV, str(path))
    return path


def test_a_write_removes_entries_unused_for_a_month_and_nothing_else(directory: Path) -> None:
    stale, recent = _entry(directory, 1), _entry(directory, 2, "hsdb")
    _age(stale, OLD)
    _age(recent, time.time() - cache.MAX_AGE + cache.DAY)
    unfinished = directory / f".{3:064x}.hsdb.abc123.tmp"
    in_flight = directory / f".{4:064x}.rules.def456.tmp"
    theirs = directory / "notes.txt"  # not an entry: never touched, however old
    for path in (unfinished, in_flight, theirs):
        path.write_bytes(b"y")
    _age(unfinished, time.time() - 2 * cache.DAY)
    _age(theirs, OLD)

    cache.write(f"{5:064x}.rules", b"new")

    left = sorted(path.name for path in directory.iterdir())
    assert left == sorted([recent.name, in_flight.name, theirs.name, f"{5:064x}.rules"])


def test_a_read_marks_its_entry_used_at_most_once_a_day(directory: Path) -> None:
    entry = _entry(directory, 1)
    _age(entry, OLD)
    assert cache.read(entry.name) == b"x" * 10
    assert time.time() - entry.stat().st_mtime < 60
    cache.write(f"{2:064x}.rules", b"new")
    assert entry.exists()  # used: not pruned

    recent = time.time() - 3600
    _age(entry, recent)
    assert cache.read(entry.name) == b"x" * 10
    assert entry.stat().st_mtime == pytest.approx(recent)  # no write on every read


def test_over_the_size_cap_the_least_recently_used_go_first(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "MAX_BYTES", 250)
    now = time.time()
    entries = [_entry(directory, n, size=100) for n in range(4)]
    for n, path in enumerate(entries):
        _age(path, now - 3600 * (10 - n))  # entry 0 used longest ago
    # the new entry counts towards the cap (500 bytes in all), and is kept whatever its size
    cache.write(f"{9:064x}.hsdb", b"z" * 100)
    left = sorted(path.name for path in directory.iterdir())
    assert left == sorted([entries[3].name, f"{9:064x}.hsdb"])
    cache.write(f"{8:064x}.hsdb", b"w" * 300)  # larger than the cap alone: the rest go
    assert [path.name for path in directory.iterdir()] == [f"{8:064x}.hsdb"]


def test_a_cache_nobody_may_trust_is_neither_written_nor_pruned(directory: Path) -> None:
    stale = _entry(directory, 1)
    _age(stale, OLD)
    directory.chmod(0o777)
    try:
        cache.write(f"{2:064x}.rules", b"new")
        assert sorted(path.name for path in directory.iterdir()) == [stale.name]
    finally:
        directory.chmod(0o700)


def test_a_run_after_an_upgrade_prunes_the_old_versions_entries(tmp_path: Path) -> None:
    # A real run with a cache left by an older keysweep: its first write (the packs, parsed
    # afresh) removes the old entries and keeps its own.
    repo = Repo(tmp_path / "repo")
    repo.write({"app.py": "print('hello')\n"})
    home = tmp_path / "home"
    directory = home / ".cache" / "keysweep"
    directory.mkdir(parents=True, mode=0o700)
    old = [_entry(directory, n, suffix) for n, suffix in ((1, "rules"), (2, "hsdb"))]
    for path in old:
        _age(path, OLD)
    proc = run_keysweep(["scan", "."], cwd=repo.path, home=home)
    assert proc.returncode == 0, proc.stderr
    names = {path.name for path in directory.iterdir()}
    assert not names & {path.name for path in old}
    assert any(name.endswith(".rules") for name in names)
