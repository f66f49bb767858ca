"""JSON documents as indented text, in pieces.

``json.dumps(doc, indent=2)`` runs the pure-Python encoder (the C one has no indent) and holds
the whole text as millions of small strings before it joins them. A history report of 83,053
findings (125 MB of text) peaked at 968 MB that way, against 78 MB for the findings themselves.
``pieces`` gives exactly the same text, one value of the upper levels at a time, so a report is
written as it is made (``scanner.atomic.write_output`` takes pieces), and a list may be a
generator: one finding's dict in memory at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

INDENT = "  "
_END = object()


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``: what ``pieces`` joins to."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def pieces(value: Any, *, depth: int, level: int = 0) -> Iterator[str]:
    """The text of ``dumps(value)`` in pieces. Containers are opened here down to ``depth``
    levels (a report's findings are at depth 2, a SARIF report's results at 4); each value
    below is dumped whole. Down to ``depth`` a list may be any iterator."""
    if level < depth:
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            pad = "\n" + INDENT * (level + 1)
            opening = "{"
            for key, item in value.items():
                yield f"{opening}{pad}{dumps(key)}: "
                yield from pieces(item, depth=depth, level=level + 1)
                opening = ","
            yield "\n" + INDENT * level + "}"
            return
        if isinstance(value, list | tuple | Iterator):
            items = iter(value)
            first = next(items, _END)
            if first is _END:
                yield "[]"
                return
            pad = "\n" + INDENT * (level + 1)
            yield "[" + pad
            yield from pieces(first, depth=depth, level=level + 1)
            for item in items:
                yield "," + pad
                yield from pieces(item, depth=depth, level=level + 1)
            yield "\n" + INDENT * level + "]"
            return
    text = dumps(value)
    # a JSON string holds no raw newline: each one here starts a line of the layout
    yield text.replace("\n", "\n" + INDENT * level) if level else text
