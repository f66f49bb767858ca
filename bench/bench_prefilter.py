"""Benchmark: the keyword prefilter (`Detector.wants`) and the full `Detector.scan`.

Reads every file under a directory (default: this Python's standard library and
site-packages sources, `*.py`), then measures, in CPU time (best of --repeat), how fast
`Detector.wants` answers with the Hyperscan database and with the pure-Python fallback, and how
fast `Detector.scan` runs on the files the prefilter wanted. Prints MB/s and the ratio.

    python bench/bench_prefilter.py
    python bench/bench_prefilter.py --root ~/src/some-repo --glob '**/*' --limit 20000
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import load_rules


def _best(repeat: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        action()
        best = min(best, time.process_time() - start)
    return max(best, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=sysconfig.get_paths()["purelib"] + "/..")
    parser.add_argument("--glob", default="**/*.py")
    parser.add_argument("--limit", type=int, default=6000, help="at most this many files")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    paths = [p for p in sorted(Path(args.root).glob(args.glob)) if p.is_file()][: args.limit]
    blobs = [p.read_bytes() for p in paths]
    total = sum(map(len, blobs)) / 1e6
    print(f"{len(blobs)} files, {total:.1f} MB under {Path(args.root).resolve()}")
    rules = load_rules()
    speeds: dict[str, float] = {}
    for backend, flag in (("hyperscan", None), ("re2", False)):
        try:
            detector = Detector(rules, use_hyperscan=flag)
        except ImportError:
            print(f"{backend}: not available")
            continue
        if detector.prefilter_backend != backend:
            print(f"{backend}: not available")
            continue
        wanted = [b for b in blobs if detector.wants(b)]
        seconds = _best(args.repeat, lambda d=detector: [d.wants(b) for b in blobs])
        speeds[backend] = total / seconds
        share = f"{len(wanted)}/{len(blobs)}"
        print(f"wants  {backend:9s} {speeds[backend]:9.1f} MB/s   wanted {share}")
    if len(speeds) == 2:
        print(f"hyperscan / re2: {speeds['hyperscan'] / speeds['re2']:.0f}x")
    detector = Detector(rules)
    wanted = [(str(p), b) for p, b in zip(paths, blobs, strict=True) if detector.wants(b)]
    wanted_mb = sum(len(b) for _, b in wanted) / 1e6
    found: list[int] = []

    def scan_all() -> None:
        found.clear()
        found.extend(len(detector.scan(Fragment(raw=b, path=p))) for p, b in wanted)

    seconds = _best(args.repeat, scan_all)
    prefilter_s = total / speeds.get(detector.prefilter_backend, 1e9)
    print(
        f"scan   {detector.prefilter_backend:9s} {wanted_mb / seconds:9.1f} MB/s on the "
        f"{wanted_mb:.1f} MB wanted; {sum(found)} findings; "
        f"whole input (wants + scan) {total / (seconds + prefilter_s):.1f} MB/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
