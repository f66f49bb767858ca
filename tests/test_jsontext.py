"""Reports written in pieces (scanner/report/jsontext.py, scanner/atomic.py): the same text as
``json.dumps(doc, indent=2)``, never whole in memory, and a file still replaced only whole."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.samples import sample_result

from scanner import atomic
from scanner.report.jsontext import pieces

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
# every kind of JSON value, with text that needs escaping (quotes, newlines, non-ASCII)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)


def _reference(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(value=VALUES, depth=st.integers(0, 5))
def test_pieces_join_to_json_dumps_at_every_depth(value: Any, depth: int) -> None:
    assert "".join(pieces(value, depth=depth)) == _reference(value)


def test_a_list_may_be_a_generator_down_to_the_depth() -> None:
    made: list[int] = []

    def findings() -> Iterator[dict[str, Any]]:
        for i in range(3):
            made.append(i)
            yield {"n": i, "paired": [{"line": i}], "text": "a\nb"}

    doc = {"version": 1, "findings": findings(), "empty": iter(())}
    out = pieces(doc, depth=2)
    head = [next(out)]
    assert made == []  # nothing made before its turn
    while '"n": 0' not in head[-1]:
        head.append(next(out))
    assert made == [0]  # one at a time
    text = "".join(head) + "".join(out)
    expected = {"version": 1, "findings": [], "empty": []}
    expected["findings"] = [{"n": i, "paired": [{"line": i}], "text": "a\nb"} for i in range(3)]
    assert text == _reference(expected)


def test_each_finding_is_its_own_piece() -> None:
    doc = {"findings": [{"secret": "x" * 10, "line": i} for i in range(5)]}
    parts = list(pieces(doc, depth=2))
    assert sum('"secret"' in part for part in parts) == 5
    assert all(part.count('"secret"') <= 1 for part in parts)


def test_non_string_keys_are_dumped_as_json_dumps_does() -> None:
    doc = {"counts": {1: "a", 2.5: "b", None: "c", False: "d"}}
    assert "".join(pieces(doc, depth=3)) == _reference(doc)


def _pieces_then_fail(parts: list[bytes]) -> Iterator[bytes]:
    yield from parts
    raise RuntimeError("rendering failed")


def test_a_failure_while_writing_pieces_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old report\n")
    with pytest.raises(RuntimeError):
        atomic.write_output(target, _pieces_then_fail([b"x" * atomic.WRITE_SIZE, b"more"]))
    assert target.read_text() == "old report\n"
    assert os.listdir(tmp_path) == ["report.json"]  # no temporary file left behind


def test_pieces_are_gathered_into_large_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real_write = atomic._writes

    def counting(data: atomic.Payload) -> Iterator[bytes]:
        for part in real_write(data):
            sizes.append(len(part))
            yield part

    monkeypatch.setattr(atomic, "_writes", counting)
    piece = "é" * 1000  # 2,000 bytes of UTF-8
    count = 3 * atomic.WRITE_SIZE // 2000
    target = tmp_path / "out.json"
    atomic.write_output(target, (piece for _ in range(count)))
    assert target.read_text(encoding="utf-8") == piece * count
    assert len(sizes) == 3 and all(size >= atomic.WRITE_SIZE for size in sizes[:-1])


def test_a_lone_surrogate_in_a_piece_is_escaped(tmp_path: Path) -> None:
    # a non-UTF-8 file name decoded with surrogateescape, as a report may hold it
    target = tmp_path / "out.txt"
    atomic.write_output(target, ["name: ", "caf\udce9.py", "\n"])
    assert target.read_bytes() == b"name: caf\\udce9.py\n"


@pytest.mark.parametrize(
    ("module", "maker"),
    [("scanner.report.json", "finding_to_dict"), ("scanner.report.sarif", "_result")],
)
def test_reports_make_one_finding_at_a_time(
    module: str, maker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    reporter = importlib.import_module(module)
    result = sample_result(3)
    assert len(result.findings) >= 2
    made: list[object] = []
    real = getattr(reporter, maker)

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(reporter, maker, counting)
    out = reporter.render_pieces(result, show_secrets=False)
    seen = ""
    while not made:
        seen += next(out)
    assert len(made) == 1
    text = seen + "".join(out)
    assert len(made) == len(result.findings)
    monkeypatch.setattr(reporter, maker, real)
    assert text == reporter.render(result, show_secrets=False)
