"""Worker processes give the same findings, in the same order, as the in-process path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.samples import env_text

from scanner.cli import main, workers
from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import load_rules


def fragments() -> list[Fragment]:
    out = []
    for i in range(40):
        body = env_text(100 + i) if i % 3 == 0 else f"AWS_REGION=eu-west-1\nvalue_{i} = {i}\n"
        out.append(Fragment(raw=body.encode(), path=f"dir/file{i}.env"))
    return out


def test_pool_matches_in_process_results() -> None:
    detector = Detector(load_rules())
    alone = list(workers.scan_fragments(detector, fragments(), jobs=1))
    pooled = list(workers.scan_fragments(detector, fragments(), jobs=2, threshold=1))
    assert len(alone) == 2 * 14  # a key ID and its secret in every third file
    assert pooled == alone


def test_jobs_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSWEEP_JOBS", "1")
    assert workers.default_jobs() == 1
    monkeypatch.setenv("KEYSWEEP_JOBS", "3")
    assert workers.default_jobs() == 3
    monkeypatch.delenv("KEYSWEEP_JOBS")
    assert workers.default_jobs() == workers.DEFAULT_JOBS == 1


def test_scan_with_workers_reports_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(12):
        (tmp_path / f"f{i:02}.env").write_text(env_text(200 + i), encoding="utf-8")
    assert main(["scan", str(tmp_path), "--jobs", "1", "-f", "json"]) == 1
    alone = json.loads(capsys.readouterr().out)["findings"]
    monkeypatch.setattr(workers, "POOL_THRESHOLD", 1)  # hand over after the first file
    pools: list[int] = []
    real_in_pool = workers._in_pool

    def spy(detector: object, rest: object, jobs: int) -> object:
        pools.append(jobs)
        return real_in_pool(detector, rest, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(workers, "_in_pool", spy)
    assert main(["scan", str(tmp_path), "--jobs", "2", "-f", "json"]) == 1
    pooled = json.loads(capsys.readouterr().out)["findings"]
    assert pools == [2]
    assert len(alone) == 24
    assert pooled == alone
