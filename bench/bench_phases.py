"""Where the time of one keysweep run goes, on any repository or directory.

Runs the real command in this process, one process (no workers, so every phase is seen),
with timers wrapped around the stages of the pipeline, and prints per target:

- bytes and blobs (files) scanned, and the fraction of bytes that pass the keyword prefilter;
- seconds in each phase: ``read`` (git cat-file output or file reads), ``prefilter`` (the
  keyword pass: ``Detector.wants``, and the first step of every ``scan``), ``match`` (the
  Hyperscan rule databases over candidate texts), ``confirm`` (``re`` on the windows around
  core matches, or plain ``finditer`` without hyperscan, plus entropy/allowlist/context
  checks), ``decode`` (the encoded-span search of the decoding layer), ``attribute``
  (history: which commits and paths hold the blobs with findings) and ``other`` (the rest:
  decoding text, keyword windows, reporting...).

Timers add a little overhead; use bench_history.py / bench_scan.py for wall-clock figures.

    python bench/bench_phases.py /path/to/repo.git                # keysweep history
    python bench/bench_phases.py /path/to/worktree --scan         # keysweep scan
    python bench/bench_phases.py /path/to/repo.git --pure         # without hyperscan
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHASES = ("read", "prefilter", "match", "confirm", "decode", "attribute")


class Timers:
    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.candidate_bytes = 0
        self._depth = 0

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:  # nested call of a timed function: counted by the outer one
                return original(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[phase] += time.perf_counter() - start
                self._depth -= 1

        setattr(owner, name, timed)

    def wrap_iter(self, owner: Any, name: str, phase: str) -> None:
        original: Callable[..., Iterator[Any]] = getattr(owner, name)
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = original(*args, **kwargs)
            while True:
                start = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    seconds[phase] += time.perf_counter() - start
                    return
                seconds[phase] += time.perf_counter() - start
                yield item

        setattr(owner, name, timed)

    def count_candidates(self, detector: Any, prefilter: Any) -> None:
        """Bytes of the fragments whose keyword pass (the first ``hits`` of a ``scan``; later
        ones are for decoded spans) names a rule."""
        scan, hits = detector._scan, prefilter.hits
        first = [False]

        def scanning(owner: Any, fragment: Any) -> Any:
            first[0] = True
            return scan(owner, fragment)

        def counted(owner: Any, raw: bytes) -> Any:
            answer = hits(owner, raw)
            if first[0]:
                first[0] = False
                if answer.rules:
                    self.candidate_bytes += len(raw)
            return answer

        detector._scan = scanning
        prefilter.hits = counted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("target", type=Path, help="a git repository (history) or a directory (--scan)")
    ap.add_argument("--scan", action="store_true", help="keysweep scan instead of history")
    ap.add_argument("--pure", action="store_true", help="block hyperscan (pure-Python path)")
    ns = ap.parse_args(argv)
    if ns.pure:
        sys.modules["hyperscan"] = None  # type: ignore[assignment]

    from scanner.cli import main as keysweep
    from scanner.detect import decoding, engine, prefilter
    from scanner.sources import catfile, files, history

    timers = Timers()
    timers.count_candidates(engine.Detector, prefilter.Prefilter)
    timers.wrap(engine.Detector, "wants", "prefilter")
    timers.wrap(prefilter.Prefilter, "hits", "prefilter")
    for name in ("_vector_pass", "_own_ends"):
        timers.wrap(engine.Detector, name, "match")
    timers.wrap(engine.Detector, "_collect", "confirm")
    timers.wrap(decoding.SpanFinder, "find", "decode")
    timers.wrap(history.HistoryScan, "_attribute", "attribute")
    timers.wrap_iter(catfile.BlobReader, "__iter__", "read")
    timers.wrap(files, "_read", "read")

    command = "scan" if ns.scan else "history"
    args = [command, str(ns.target), "--format", "json", "--jobs", "1"]
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = keysweep(args)
    wall = time.perf_counter() - start
    report = json.loads(out.getvalue())
    scan = report["scan"]
    total = scan["bytes_scanned"]
    phases = timers.seconds
    other = wall - sum(phases.values())
    print(
        f"{ns.target.name}: keysweep {command}{' (pure re)' if ns.pure else ''}: "
        f"exit {code}, {scan['files_scanned']} blobs/files, {total / 2**20:.1f} MiB, "
        f"{timers.candidate_bytes / max(total, 1):.0%} of bytes pass the prefilter, "
        f"{len(report['findings'])} findings, wall {wall:.1f} s"
    )
    print("  " + "  ".join(f"{k} {v:.1f}s" for k, v in phases.items()) + f"  other {other:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
