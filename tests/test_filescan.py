"""Worker processes that read and scan their own files give the same findings, in the same
order, and the same counts as the in-process path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.samples import env_text

from scanner.cli import main
from scanner.detect import Detector
from scanner.rules import load_rules
from scanner.sources import filescan
from scanner.sources.files import FileEntry, FileSource


def _tree(root: Path) -> Path:
    """40 small files (a key ID and its secret in every third), a binary file (read like
    the rest), a file over the size cap and an empty one."""
    for i in range(40):
        body = env_text(100 + i) if i % 3 == 0 else f"AWS_REGION=eu-west-1\nvalue_{i} = {i}\n"
        (root / f"dir{i % 4}").mkdir(parents=True, exist_ok=True)
        (root / f"dir{i % 4}" / f"file{i:02}.env").write_text(body, encoding="utf-8")
    (root / "dir1" / "image.bin").write_bytes(b"\x89PNG\x00\x00" * 10)
    (root / "dir2" / "big.env").write_text(env_text(999) + "x" * 5000, encoding="utf-8")
    (root / "dir3" / "empty.env").write_text("", encoding="utf-8")
    return root


def _scan(root: Path, jobs: int, threshold: int | None = None) -> tuple[list[object], object]:
    source = FileSource([str(root)], all_files=True, max_file_size=4096)
    found = list(
        filescan.scan_source(Detector(load_rules()), source, jobs=jobs, threshold=threshold)
    )
    return found, source.stats


def _pools_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``jobs`` of every pool the scans start from now on (each still runs)."""
    pools: list[int] = []
    real_in_pool = filescan._in_pool

    def spy(detector: object, source: object, rest: object, jobs: int) -> object:
        pools.append(jobs)
        return real_in_pool(detector, source, rest, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(filescan, "_in_pool", spy)
    return pools


def test_workers_find_and_count_what_one_process_does(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_unreadable: Callable[[Path], Path],
) -> None:
    root = _tree(tmp_path / "tree")
    make_unreadable(root / "dir3" / "file03.env")
    alone, alone_stats = _scan(root, jobs=1)
    monkeypatch.setattr(filescan, "BATCH_FILES", 3)  # many batches, over both workers
    readers = tmp_path / "readers"
    real_read = FileSource.read

    def read(source: FileSource, entry: FileEntry) -> object:
        with readers.open("a") as log:  # which process read the file
            log.write(f"{os.getpid()}\n")
        return real_read(source, entry)

    monkeypatch.setattr(FileSource, "read", read)
    pooled, pooled_stats = _scan(root, jobs=2, threshold=1)  # hand over after the first file
    pids = readers.read_text().split()
    # every file but the one over the cap (skipped when listed); the workers read all but one
    assert len(pids) == 42 and pids.count(str(os.getpid())) == 1
    assert len(alone) == 2 * 13  # every third file but the unreadable one
    assert pooled == alone
    assert pooled_stats == alone_stats
    assert alone_stats.files_scanned == 41  # 39 small files, the binary and the empty one
    assert dict(alone_stats.skipped) == {"too_large": 1, "unreadable": 1}
    assert len(alone_stats.errors) == 1 and "file03.env: cannot read" in alone_stats.errors[0]


def test_files_named_one_by_one_go_to_the_workers_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``keysweep scan $(git ls-files)``: each named file counts towards the threshold
    root = _tree(tmp_path / "tree")
    named = sorted(str(p) for p in root.rglob("*.env"))
    pools = _pools_started(monkeypatch)
    found = []
    for jobs in (1, 2):
        source = FileSource(named, max_file_size=4096)
        detector = Detector(load_rules())
        found.append(list(filescan.scan_source(detector, source, jobs=jobs, threshold=100)))
    assert pools == [2]
    assert found[0] == found[1] and len(found[0]) == 2 * 14


def test_a_small_scan_starts_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "tree")
    pools: list[int] = []
    monkeypatch.setattr(filescan, "_in_pool", lambda *args: pools.append(1) or iter(()))
    assert len(_scan(root, jobs=4)[0]) == 2 * 14  # under POOL_THRESHOLD: all read here
    assert pools == []


def test_jobs_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSWEEP_JOBS", "1")
    assert filescan.default_jobs() == 1
    monkeypatch.setenv("KEYSWEEP_JOBS", "3")
    assert filescan.default_jobs() == 3
    monkeypatch.delenv("KEYSWEEP_JOBS")
    assert filescan.default_jobs() == min(len(os.sched_getaffinity(0)), filescan.MAX_JOBS)


def test_scan_with_workers_reports_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(12):
        (tmp_path / f"f{i:02}.env").write_text(env_text(200 + i), encoding="utf-8")
    assert main(["scan", str(tmp_path), "--jobs", "1", "-f", "json"]) == 1
    alone = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(filescan, "POOL_THRESHOLD", 1)  # hand over after the first file
    pools = _pools_started(monkeypatch)
    assert main(["scan", str(tmp_path), "--jobs", "2", "-f", "json"]) == 1
    pooled = json.loads(capsys.readouterr().out)
    assert pools == [2]
    assert len(alone["findings"]) == 24
    assert pooled["findings"] == alone["findings"]
    for key in ("files_scanned", "bytes_scanned", "skipped", "errors"):
        assert pooled["scan"][key] == alone["scan"][key]


def test_default_workers_follow_the_cores_this_process_may_use() -> None:
    # A container's CPU set narrows the affinity, not os.cpu_count(): one core, one process.
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from scanner.sources.filescan import default_jobs\n"
        "from scanner.sources.blobscan import default_workers\n"
        "print(default_jobs(), default_workers(1 << 40))"
    )
    env = {k: v for k, v in os.environ.items() if k != "KEYSWEEP_JOBS"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "1"]
