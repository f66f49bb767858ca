"""Detector CPU time over the text files of a tree: what the loaded rules cost.

    python bench/bench_rules_cost.py TREE [--min-confidence medium]

Reads every file under TREE (skipping .git, binaries and files over 2 MB) into memory first,
then times ``Detector.wants`` / ``Detector.scan`` over them in process CPU seconds (hardly
affected by other jobs on the machine). Run it with another checkout's scanner on
``PYTHONPATH`` to compare rule sets.
"""

from __future__ import annotations

import argparse
import os
import time

from scanner.detect import Detector
from scanner.models import DEFAULT_MIN_CONFIDENCE, Fragment
from scanner.rules import load_rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree")
    parser.add_argument("--min-confidence", default=DEFAULT_MIN_CONFIDENCE)
    args = parser.parse_args(argv)
    texts: list[tuple[bytes, str]] = []
    for folder, dirs, names in os.walk(args.tree):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            path = os.path.join(folder, name)
            try:
                if os.path.getsize(path) > 2_000_000:
                    continue
                with open(path, "rb") as handle:
                    raw = handle.read()
            except OSError:
                continue
            if b"\0" not in raw[:8000]:
                texts.append((raw, os.path.relpath(path, args.tree)))
    rules = load_rules()
    detector = Detector(rules.at_least(args.min_confidence), min_confidence=args.min_confidence)
    started = time.process_time()
    found = 0
    for raw, path in texts:
        if detector.wants(raw):
            found += len(detector.scan(Fragment(raw=raw, path=path)))
    cpu = time.process_time() - started
    size = sum(len(raw) for raw, _ in texts) / 2**20
    print(
        f"{len(rules)} rules, {len(texts)} files, {size:.1f} MiB: {found} findings, {cpu:.2f} s CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
