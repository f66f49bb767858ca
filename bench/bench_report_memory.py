"""Benchmark writing a large report: time and peak memory, JSON and SARIF.

A history full of secret-shaped values (a fixture dump, a log of presigned URLs) gives tens of
thousands of findings. This builds N findings (AWS key IDs and secrets made at run time, with
commits and refs as a history scan gives them) and writes each report to a file, measured
against the baseline of the same run: ``json.dumps(document, indent=2)`` of the whole document,
encoded and written at once, which is how keysweep wrote reports before they were written in
pieces (``render_pieces``, scanner/report/jsontext.py). Peak memory is what the writing
allocates on top of the findings (tracemalloc, in a run of its own); time is the best of
``--runs`` runs without tracemalloc.

    python bench/bench_report_memory.py
    python bench/bench_report_memory.py --findings 80000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from scanner.atomic import write_output
from scanner.models import (
    CommitInfo,
    Finding,
    HistoryInfo,
    PairedSecret,
    ScanMode,
    ScanResult,
    ScanSummary,
    Severity,
    Source,
)
from scanner.report import json as json_report
from scanner.report import sarif
from scanner.rules.templates import aws_key_id, aws_secret


def findings(count: int) -> ScanResult:
    rng = random.Random(10)
    commits = [
        CommitInfo(f"{i:040x}", "Dev", "dev@example.com", "2024-01-01T00:00:00+00:00", f"c{i}")
        for i in range(64)
    ]
    refs = tuple(f"refs/pull/{i}/head" for i in range(40))
    out: list[Finding] = []
    for i in range(count):
        kid, secret = aws_key_id(rng), aws_secret(rng)
        commit = commits[i % len(commits)]
        history = HistoryInfo(commit_count=3, refs=refs[: i % len(refs) + 1])
        out.append(
            Finding(
                rule_id="aws-secret-access-key",
                rule_name="AWS secret access key",
                severity=Severity.CRITICAL,
                description="Signs AWS API calls with its key ID.",
                path=f"fixtures/dump{i % 97}.json",
                line=i + 1,
                column=30,
                secret=secret,
                entropy=5.1,
                end_line=i + 1,
                end_column=70,
                source=Source.HISTORY,
                blob_id=f"{i:040x}",
                paired=(PairedSecret("access_key_id", "aws-access-key-id", kid, i, 0),),
                commit=commit,
                in_head=bool(i % 2),
                history=history,
                confidence="high",
            )
        )
    summary = ScanSummary(mode=ScanMode.HISTORY, target="bench", files_scanned=count)
    return ScanResult(tuple(out), summary)


def _baseline(document: Callable[[], object]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        text = json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
        write_output(path, text.encode("utf-8", "backslashreplace"))

    return write


def measure(write: Callable[[Path], None], runs: int, work: Path) -> tuple[float, float, int]:
    """(best seconds, peak MB allocated while writing, bytes written)."""
    target = work / "report"
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        write(target)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    write(target)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return best, peak / 1e6, target.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=80_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs (best taken)")
    args = parser.parse_args()
    result = findings(args.findings)
    print(f"{args.findings} findings")
    variants: list[tuple[str, Callable[[Path], None], Callable[[Path], None]]] = [
        (
            "json",
            _baseline(lambda: json_report.to_dict(result, show_secrets=False)),
            lambda p: write_output(p, json_report.render_pieces(result, show_secrets=False)),
        ),
        (
            "sarif",
            _baseline(lambda: sarif.to_sarif(result, show_secrets=False)),
            lambda p: write_output(p, sarif.render_pieces(result, show_secrets=False)),
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, baseline, keysweep in variants:
            b_time, b_peak, b_size = measure(baseline, args.runs, work)
            k_time, k_peak, k_size = measure(keysweep, args.runs, work)
            assert k_size == b_size, "the report in pieces must be the same text"
            print(
                f"{name:6s} {b_size / 1e6:7.1f} MB of text   "
                f"json.dumps (baseline) {b_time:6.2f} s, peak {b_peak:7.1f} MB   "
                f"keysweep {k_time:6.2f} s, peak {k_peak:6.1f} MB   "
                f"ratios: time {k_time / b_time:.2f}, peak {k_peak / b_peak:.3f}"
            )


if __name__ == "__main__":
    main()
