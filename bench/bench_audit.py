"""Benchmark ``keysweep audit``: the local engine against the ideal, and Dask's per-task cost.

1. Fleet: ``--distinct`` repositories built by ``make_history_repo.py`` (different seeds), each
   mirrored ``--copies`` times (``git clone --mirror --no-hardlinks``): 24 repositories by
   default, each a full, independent history scan of ~1 s.
2. Ideal: every repository scanned alone with ``keysweep history REPO`` (one process each, as a
   user would run it); ideal audit wall = sum of those walls / usable cores.
3. ``keysweep audit --engine local`` on the whole fleet: wall, and its ratio to the ideal
   (target <= 1.15). Findings are checked equal to the union of the single runs.
4. Dask (``--dask``): a scheduler and one single-threaded worker per core started here on
   127.0.0.1. (a) scheduling round trip: N no-op tasks submitted at once, wall / N; (b) result
   transfer: a task returning a RepoOutcome with 1,000 sealed findings, minus building it;
   (c) 10 tasks per worker that sleep 1 s: (wall - ideal) * workers / tasks; (d) the same
   audit with ``--engine dask``, and its per-task overhead over the local engine:
   (dask wall - local wall) * workers / tasks (on a small machine this includes the scheduler
   and workers competing with the scans for the same cores).

    python bench/bench_audit.py                 # local engine only
    python bench/bench_audit.py --dask          # plus the Dask figures
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / "work" / "audit"


def build_fleet(distinct: int, copies: int, commits: int, mib: int) -> list[Path]:
    fleet = WORK_DIR / f"fleet-{distinct}x{copies}-{commits}c-{mib}m"
    sources = []
    for i in range(distinct):
        src = fleet / "src" / f"seed{i}.git"
        if not src.exists():
            subprocess.run(
                [
                    sys.executable,
                    str(BENCH_DIR / "make_history_repo.py"),
                    "--commits",
                    str(commits),
                    "--total-mib",
                    str(mib),
                    "--files",
                    "60",
                    "--seed",
                    str(1000 + i),
                    "--out",
                    str(src),
                ],
                check=True,
            )
        sources.append(src)
    repos = []
    for i, src in enumerate(sources):
        for c in range(copies):
            dest = fleet / "repos" / f"r{i}-{c}.git"
            if not dest.exists():
                subprocess.run(
                    ["git", "clone", "-q", "--mirror", "--no-hardlinks", str(src), str(dest)],
                    check=True,
                )
            repos.append(dest)
    return repos


CPU = [0.0]  # user + system seconds of the last timed() command, its children included


def timed(cmd: list[str]) -> tuple[float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, proc.returncode


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def findings(path: Path) -> set[tuple[str, str, int, str]]:
    data = json.loads(path.read_text())
    return {(f["rule_id"], f["path"], f["line"], f["fingerprint"]) for f in data["findings"]}


def cores() -> int:
    return len(os.sched_getaffinity(0))


def noop(x: int) -> int:
    return x


def one_second(x: int) -> int:
    time.sleep(1.0)
    return x


def big_outcome(n: int) -> Any:
    from scanner.audit.inputs import repo_input
    from scanner.audit.task import OK, RepoOutcome
    from scanner.models import Finding, ScanResult, ScanSummary, Severity

    repo = repo_input("/bench/repo")
    found = tuple(
        Finding(
            rule_id="aws-access-key-id",
            rule_name="AWS",
            severity=Severity.CRITICAL,
            description="d" * 200,
            path=f"src/file{i}.py",
            line=i,
            column=1,
            secret=f"AKIA{i:016d}",
            entropy=3.5,
            repository=repo.label,
        ).seal()
        for i in range(n)
    )
    return RepoOutcome(repo, OK, 1.0, ScanResult(found, ScanSummary("history", repo.label)))


def dask_figures(repos: list[Path], tmp: Path, local_wall: float) -> dict[str, float]:
    from distributed import Client

    # The same loopback cluster the audit tests start (tests/support/dask_cluster.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.dask_cluster import LocalDaskCluster

    with LocalDaskCluster(tmp, workers=cores(), env=os.environ) as cluster:
        address = cluster.address
        with Client(address) as client:
            client.wait_for_workers(cores())
            n = 400
            client.gather(client.map(noop, range(20), pure=False))  # warm-up
            started = time.perf_counter()
            client.gather(client.map(noop, range(n), pure=False))
            per_task = (time.perf_counter() - started) / n * cores()
            client.submit(big_outcome, 10, pure=False).result()  # warm-up the import
            k = 20
            started = time.perf_counter()
            for _ in range(k):
                client.submit(big_outcome, 1000, pure=False).result()
            transfer = (time.perf_counter() - started) / k
            started = time.perf_counter()
            for _ in range(k):
                big_outcome(1000)
            build = (time.perf_counter() - started) / k
            m = 10 * cores()  # 1-second tasks, no CPU: the engine's own cost on a 1 s task
            started = time.perf_counter()
            client.gather(client.map(one_second, range(m), pure=False))
            sleep_overhead = ((time.perf_counter() - started) - m / cores()) * cores() / m
        out = tmp / "dask.json"
        wall, _ = timed(
            [
                sys.executable,
                "-m",
                "scanner",
                "audit",
                *map(str, repos),
                "--engine",
                "dask",
                "--scheduler",
                address,
                "--format",
                "json",
                "-o",
                str(out),
            ]
        )
    return {
        "per_task_s": per_task,
        "result_1000_findings_s": max(0.0, transfer - build),
        "one_second_task_overhead_s": sleep_overhead,
        "audit_wall_s": wall,
        "overhead_per_task_s": (wall - local_wall) * cores() / len(repos),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--distinct", type=int, default=4)
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--commits", type=int, default=60)
    ap.add_argument("--total-mib", type=int, default=8)
    ap.add_argument("--dask", action="store_true")
    ns = ap.parse_args(argv)
    repos = build_fleet(ns.distinct, ns.copies, ns.commits, ns.total_mib)
    with tempfile.TemporaryDirectory(prefix="keysweep-bench-audit-") as tmp_name:
        tmp = Path(tmp_name)
        union: set[tuple[str, str, str, int, str]] = set()
        walls = []
        cpu = 0.0
        print(f"load average before: {load()}")
        for repo in repos:
            out = tmp / f"{repo.name}.json"
            wall, code = timed(
                [
                    sys.executable,
                    "-m",
                    "scanner",
                    "history",
                    str(repo),
                    "--format",
                    "json",
                    "-o",
                    str(out),
                ]
            )
            assert code in (0, 1), f"history {repo} exited {code}"
            walls.append(wall)
            cpu += CPU[0]
            union |= {(str(repo), *k) for k in findings(out)}
        ideal = sum(walls) / cores()
        out = tmp / "audit.json"
        wall, code = timed(
            [
                sys.executable,
                "-m",
                "scanner",
                "audit",
                *map(str, repos),
                "--format",
                "json",
                "-o",
                str(out),
            ]
        )
        assert code in (0, 1), f"audit exited {code}"
        audit_cpu = CPU[0]
        data = json.loads(out.read_text())
        got = {
            (f["repository"], f["rule_id"], f["path"], f["line"], f["fingerprint"])
            for f in data["findings"]
        }
        assert got == union, "audit findings differ from the union of history runs"
        print(
            f"fleet: {len(repos)} repositories, {data['scan']['files_scanned']} blobs, "
            f"{data['scan']['bytes_scanned'] / 2**20:.0f} MiB, {len(union)} findings; "
            f"{cores()} cores"
        )
        print(
            f"single history walls: sum {sum(walls):.2f} s (mean {sum(walls) / len(walls):.2f}"
            f" s); ideal audit = sum / cores = {ideal:.2f} s"
        )
        print(f"audit --engine local: {wall:.2f} s = {wall / ideal:.3f} x ideal (target 1.15)")
        print(
            f"CPU (user + system, children included): history runs {cpu:.2f} s, audit "
            f"{audit_cpu:.2f} s = {audit_cpu / cpu:.3f} x; load average after: {load()}"
        )
        if ns.dask:
            figures = dask_figures(repos, tmp, wall)
            print(f"dask scheduling, per task: {figures['per_task_s'] * 1000:.1f} ms")
            sleepy = figures["one_second_task_overhead_s"]
            print(
                f"dask overhead on 1-second tasks: {sleepy * 1000:.1f} ms per task "
                f"({sleepy * 100:.2f} % of the task)"
            )
            print(
                "dask result transfer, 1,000 sealed findings: "
                f"{figures['result_1000_findings_s'] * 1000:.1f} ms"
            )
            print(
                f"audit --engine dask: {figures['audit_wall_s']:.2f} s; overhead over local "
                f"{figures['overhead_per_task_s'] * 1000:.0f} ms per task"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
