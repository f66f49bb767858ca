"""How much of a history a line-level screen could let keysweep skip, measured on any repository.

The versions of a file repeat each other's lines: on boto/boto3 the lines never seen before in
the history hold 1.9 % of the blob bytes. A screen that remembered, for every distinct line,
whether anything a rule needs could start in it would only have to look at new lines, and could
skip every blob whose lines are all quiet. The screen is sound only if every finding needs
something inside one line: a rule core's body where it cannot cross a newline, a keyword of each
rule whose body can (or that has no core), an encoded keyword form, a decoding trigger, a
run-start pattern of the decoding layer, or a non-ASCII byte (the core databases match other
bytes there). Any of them makes a line loud. This script counts, per repository, in pack order:

- blobs and their bytes, and the bytes of lines never seen before in the history;
- the blobs (and bytes) whose every line is quiet: what such a screen could skip, at most;
- which screen expressions made the skipped-not bytes loud (the top ``--top``), and the CPU
  seconds the screen itself took in Python.

    python bench/bench_line_screen.py /path/to/repo.git [--top 10]

Twentieth round of bench/README.md: on boto3 1.3 % of the bytes are in quiet blobs, so the
screen was not built.
"""

from __future__ import annotations

import argparse
import bisect
import importlib
import time
from collections.abc import Iterable
from typing import Any

from scanner.detect import Detector
from scanner.detect.prefilter import SIGNALS
from scanner.models import DEFAULT_MIN_CONFIDENCE
from scanner.rules.load import load_rules
from scanner.sources.catfile import BlobReader, list_all_blobs
from scanner.sources.gitproc import Git

sre_p: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")
NEWLINE = 10
_NEWLINE_CATEGORIES = {"CATEGORY_SPACE", "CATEGORY_NOT_DIGIT", "CATEGORY_NOT_WORD"}


def _class_takes_newline(items: Iterable[tuple[Any, Any]]) -> bool:
    items = list(items)
    negated = any(op == sre_c.NEGATE for op, _ in items)
    takes = False
    for op, av in items:
        if op == sre_c.LITERAL:
            takes = takes or av == NEWLINE
        elif op == sre_c.RANGE:
            takes = takes or av[0] <= NEWLINE <= av[1]
        elif op == sre_c.CATEGORY:
            takes = takes or str(av) in _NEWLINE_CATEGORIES
        elif op != sre_c.NEGATE:
            return True  # not understood: assume it can
    return takes != negated


def crosses_lines(pattern: bytes) -> bool:
    """Whether a match of ``pattern`` may hold a newline (True when unsure)."""
    try:
        tree = sre_p.parse(pattern.decode("latin-1"))
    except Exception:
        return True

    def walk(items: Iterable[tuple[Any, Any]]) -> bool:
        for op, av in items:
            if op == sre_c.LITERAL:
                if av == NEWLINE:
                    return True
            elif op == sre_c.IN:
                if _class_takes_newline(av):
                    return True
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
                if walk(av[2]):
                    return True
            elif op == sre_c.SUBPATTERN:
                if walk(av[3]):
                    return True
            elif op == sre_c.BRANCH:
                if any(walk(branch) for branch in av[1]):
                    return True
            elif op != sre_c.AT:
                return True  # NOT_LITERAL, ANY, lookarounds...: assume it can
        return False

    return walk(tree)


def _escape(text: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in text)


def screen_expressions(detector: Detector) -> tuple[list[bytes], list[str]]:
    """The screen's Hyperscan expressions, each with a label, from the detector's own parts."""
    cores = detector._cores
    cores.build()
    expressions: list[bytes] = []
    labels: list[str] = []
    for index, rule in enumerate(detector.rules):
        core = cores.cores.get(index)
        body = None if core is None else (core.body or core.pattern)
        if body is not None and not crosses_lines(body):
            expressions.append(body)
            labels.append(f"core of {rule.id}")
            continue
        if not rule.keywords and not rule.paths:
            raise SystemExit(f"{rule.id}: no keyword and a core that crosses lines: no screen")
        for keyword in rule.keywords:
            expressions.append(b"(?i)" + _escape(keyword.lower().encode("ascii", "ignore")))
            labels.append(f"keyword {keyword!r} of {rule.id}")
    for literal in detector._prefilter._encoded:
        expressions.append(_escape(literal.text))
        labels.append("an encoded keyword")
    for name, text, caseless in SIGNALS:
        expressions.append((b"(?i)" if caseless else b"") + _escape(text))
        labels.append(f"{name} signal")
    run_starts = detector._spans.run_start_patterns()
    if run_starts is None:
        raise SystemExit("a gated keyword has no run-start pattern: no screen")
    for pattern in run_starts:
        expressions.append(pattern)
        anchors = [
            bytes.fromhex(hexed.replace(b"\\x", b"").decode()).decode("latin-1")
            for hexed in pattern.split(b")")[0].split(b":", 1)[1].split(b"|")
        ]
        labels.append(f"run start after {' or '.join(map(repr, anchors))}")
    expressions.append(rb"[\x80-\xff]")
    labels.append("a non-ASCII byte")
    return expressions, labels


def _on_match(
    expr: int, _start: int, end: int, _flags: int, ctx: tuple[list[int], dict[int, set[int]]]
) -> None:
    """Record ``expr`` against the line (of the joined new lines) its match ends in."""
    offsets, found = ctx
    found.setdefault(bisect.bisect_right(offsets, end - 1) - 1, set()).add(expr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo")
    parser.add_argument("--top", type=int, default=10, help="loudest expressions to list")
    args = parser.parse_args()
    hs: Any = importlib.import_module("hyperscan")
    detector = Detector(
        load_rules().at_least(DEFAULT_MIN_CONFIDENCE), min_confidence=DEFAULT_MIN_CONFIDENCE
    )
    expressions, labels = screen_expressions(detector)
    db = hs.Database()
    db.compile(expressions=expressions, ids=list(range(len(expressions))), flags=0)
    scratch = hs.Scratch(db)
    git = Git(args.repo)
    seen: set[int] = set()
    why: dict[int, set[int]] = {}  # hash of a loud line -> the expressions found in it
    loud_bytes: dict[int, int] = {}  # expression -> bytes of the blobs it made loud
    blobs = total = novel = quiet_blobs = quiet_bytes = 0
    spent = 0.0
    for _, data in BlobReader(git, list_all_blobs(git, max_size=None).feed):
        blobs += 1
        total += len(data)
        started = time.process_time()
        lines = data.split(b"\n")
        hashes = set(map(hash, lines))
        new = hashes - seen
        if new:
            fresh = list(dict.fromkeys(line for line in lines if hash(line) in new))
            novel += sum(len(line) + 1 for line in fresh)
            offsets: list[int] = []
            offset = 0
            for line in fresh:
                offsets.append(offset)
                offset += len(line) + 1
            found: dict[int, set[int]] = {}
            db.scan(
                b"\n".join(fresh),
                match_event_handler=_on_match,
                context=(offsets, found),
                scratch=scratch,
            )
            for line_no, exprs in found.items():
                why.setdefault(hash(fresh[line_no]), set()).update(exprs)
            seen |= new
        loud = hashes.intersection(why)
        spent += time.process_time() - started
        if not loud:
            quiet_blobs += 1
            quiet_bytes += len(data)
            continue
        culprits = set().union(*(why[h] for h in loud))
        for expr in culprits:
            loud_bytes[expr] = loud_bytes.get(expr, 0) + len(data)
    mib = 1 << 20
    print(f"{args.repo}: {blobs} blobs, {total / mib:.0f} MiB")
    print(f"new lines: {novel / mib:.1f} MiB ({100 * novel / max(total, 1):.1f} % of the bytes)")
    print(
        f"quiet blobs: {quiet_blobs} ({quiet_bytes / mib:.1f} MiB, "
        f"{100 * quiet_bytes / max(total, 1):.1f} % of the bytes); screen {spent:.2f} CPU-s"
    )
    print(f"loud lines: {len(why)} of {len(seen)} distinct")
    ranked = sorted(loud_bytes.items(), key=lambda item: -item[1])[: args.top]
    for expr, nbytes in ranked:
        print(f"  {nbytes / mib:8.0f} MiB of blobs made loud by {labels[expr]}")


if __name__ == "__main__":
    main()
