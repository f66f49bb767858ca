"""Benchmark ``keysweep staged`` latency: the pre-commit path, Python start-up included.

Builds (once, in bench/work/staged-repo) a repository of 10,000 committed source files, stages a
10-file change, and times the installed ``keysweep staged`` console script end to end, best of N
and median (target: under 0.25 s). It times a clean change (exit 0) and the same change with an
AWS key generated at run time (exit 1), shows the interpreter start-up floor
(``python -c pass``), and ends with a ``python -X importtime`` breakdown of the slowest imports.

    python bench/bench_staged.py
    python bench/bench_staged.py --runs 30 --files 10000 --changed 10
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from scanner.rules.templates import aws_key_id, aws_secret

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, env=env, check=True, capture_output=True
    ).stdout


def source_text(rng: random.Random, n_lines: int) -> str:
    words = ["user", "order", "cache", "value", "index", "result", "client", "config", "item"]
    out = []
    for _ in range(n_lines):
        a, b = rng.choice(words), rng.choice(words)
        n, m = rng.randint(0, 9999), rng.randint(0, 99)
        out.append(f"def {a}_{b}_{n}(x):\n    return x.{b} + {m}")
    return "\n".join(out) + "\n"


def build_repo(repo: Path, n_files: int, seed: int) -> list[str]:
    """A repository with ``n_files`` committed files; returns their paths."""
    rng = random.Random(seed)
    paths = [f"pkg{i % 40}/sub{i % 7}/mod_{i}.py" for i in range(n_files)]
    marker = repo / ".bench-files"
    if marker.exists() and marker.read_text() == f"{n_files} {seed}\n":
        git(repo, "reset", "-q", "--hard", "HEAD")
        return paths
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    for p in paths:
        f = repo / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(source_text(rng, rng.randint(5, 60)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    (repo / ".git" / "info" / "exclude").write_text(".bench-files\n")
    marker.write_text(f"{n_files} {seed}\n")
    return paths


def stage_change(repo: Path, paths: list[str], n_changed: int, *, with_key: bool) -> None:
    git(repo, "reset", "-q", "--hard", "HEAD")
    rng = random.Random(7)
    for i, p in enumerate(rng.sample(paths, n_changed)):
        f = repo / p
        extra = source_text(rng, 5)
        if with_key and i == 0:
            extra += f'\nAWS_ACCESS_KEY_ID = "{aws_key_id(rng)}"\n'
            extra += f'AWS_SECRET_ACCESS_KEY = "{aws_secret(rng)}"\n'
        f.write_text(f.read_text() + extra)
        git(repo, "add", p)


def keysweep_cmd() -> list[str]:
    """The installed console script (what pre-commit runs), not the pyenv shim."""
    script = Path(sysconfig.get_path("scripts")) / "keysweep"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "scanner"]


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, float, float, int]:
    """(best wall, median wall, median CPU, exit code); CPU = user + system of the process and
    its children (git), which a busy machine disturbs much less than wall time."""
    times: list[float] = []
    cpus: list[float] = []
    rc = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t0)
        cpus.append(usage.ru_utime + usage.ru_stime)
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
    return min(times), statistics.median(times), statistics.median(cpus), rc


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def importtime(cmd: list[str], cwd: Path, top: int) -> None:
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = IMPORT_LINE.match(line)
        if m:
            rows.append((int(m[2]), int(m[1]), len(m[3]) // 2, m[4]))
    total = sum(r[1] for r in rows)
    print(f"\nimports: {len(rows)} modules, {total / 1000:.1f} ms self time in total")
    print("slowest top-level imports (cumulative):")
    for cum, _self, _depth, name in sorted((r for r in rows if r[2] == 0), reverse=True)[:top]:
        print(f"  {cum / 1000:7.1f} ms  {name}")
    print("slowest modules (self):")
    for _cum, self_us, _depth, name in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"  {self_us / 1000:7.1f} ms  {name}")
    heavy = [
        r[3]
        for r in rows
        if r[3].split(".")[0] in {"boto3", "botocore", "git", "rich", "yaml", "hyperscan"}
    ]
    tops = sorted({h.split(".")[0] for h in heavy})
    print(f"heavy packages imported on this path: {', '.join(tops) if tops else 'none'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--changed", type=int, default=10)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--top", type=int, default=12)
    ns = ap.parse_args(argv)

    repo = WORK_DIR / "staged-repo"
    paths = build_repo(repo, ns.files, seed=1)
    cmd = [*keysweep_cmd(), "staged"]
    print(f"repository: {ns.files} files, {ns.changed} staged; command: {' '.join(cmd)}")

    floor = timed([sys.executable, "-c", "pass"], repo, ns.runs)
    print(
        f"{'python -c pass':<34} best {floor[0]:.3f} s   median {floor[1]:.3f} s   "
        f"cpu {floor[2]:.3f} s"
    )
    for with_key in (False, True):
        stage_change(repo, paths, ns.changed, with_key=with_key)
        best, med, cpu, rc = timed(cmd, repo, ns.runs)
        label = f"keysweep staged ({'AWS key' if with_key else 'clean'})"
        verdict = "OK" if best < 0.25 else "OVER TARGET"
        expected = 1 if with_key else 0
        note = "" if rc == expected else f"   UNEXPECTED EXIT (wanted {expected}): not valid"
        print(
            f"{label:<34} best {best:.3f} s   median {med:.3f} s   cpu {cpu:.3f} s   "
            f"exit {rc}   "
            f"target < 0.25 s: {verdict}{note}"
        )
    importtime(cmd, repo, ns.top)
    git(repo, "reset", "-q", "--hard", "HEAD")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
