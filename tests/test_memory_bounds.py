"""What keeps a scan's memory bounded on large, non-ASCII texts and long histories (issue 10):
the keyword search lower-cases a non-ASCII text in pieces, and a history worker gives freed heap
memory back past a bound."""

from __future__ import annotations

from pathlib import Path

from support.keys import key_id, secret_key
from support.run import keysweep

from scanner import heap
from scanner.detect.engine import LOWER_PIECE, _Positions

JSON = ("--format", "json", "--show-secrets")


def _non_ascii_text(chars: int) -> str:
    line = "Änderung: größere Straße, ÉTÉ, Ωmega ǅ ﬁ İstanbul\n"
    return (line * (chars // len(line) + 1))[:chars]


def test_pieces_lower_case_like_str_lower() -> None:
    text = _non_ascii_text(3 * LOWER_PIECE + 123)
    assert _Positions(text).lowered == text.lower()


def test_key_deep_in_a_large_non_ascii_file(tmp_path: Path) -> None:
    # the secret rule is context-gated: it is searched in windows around its keywords, found in
    # the lower-cased text (built in pieces for this text)
    kid, secret = key_id("non-ascii-pieces"), secret_key("non-ascii-pieces")
    filler = _non_ascii_text(5 * LOWER_PIECE).replace("İ", "I")  # İ lowers to two characters
    head_lines = filler.count("\n")
    target = tmp_path / "notes.txt"
    body = f"aws_access_key_id = {kid}\naws_secret_access_key = {secret}\n"
    target.write_text(filler + body, encoding="utf-8")
    run = keysweep("scan", str(target), *JSON)
    assert run.code == 1, run.stderr
    lines = {f["secret"]: f["line"] for f in run.findings}
    assert lines == {kid: head_lines + 1, secret: head_lines + 2}


def test_heap_bound_trims_only_past_its_bound() -> None:
    resident = heap.resident_bytes()
    assert resident is not None and resident > 1 << 20
    below = heap.HeapBound(limit=resident * 64)
    below.check(heap.LARGE)
    assert below.trims == 0
    past = heap.HeapBound(limit=1)
    past.check(heap.LARGE - 1)  # a small blob: not even checked
    assert past.trims == 0
    past.check(heap.LARGE)
    assert past.trims == 1
