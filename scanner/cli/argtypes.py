"""argparse types shared by the commands' options."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def number(
    kind: Callable[[str], float], low: float, *, above: bool = False
) -> Callable[[str], float]:
    """An argparse type: a number at least ``low`` (``above``: more than ``low``)."""

    def parse(text: str) -> float:
        value = kind(text)  # a ValueError: "invalid int value: 'x'"
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(
                f"must be {'more than' if above else 'at least'} {low:g}, not {text}"
            )
        return value

    parse.__name__ = getattr(kind, "__name__", "number")
    return parse


def path_name(text: str) -> str:
    """A file or directory name (``-`` for stdout where a report goes). Empty (``-o "$UNSET"``)
    is a usage error before anything runs: ``--output ''`` was ``cannot write .: Device or
    resource busy`` after the scan, and ``--config ''``, ``--output-dir ''`` or a REPO of
    ``''`` quietly meant the default or the current directory."""
    if not text:
        raise argparse.ArgumentTypeError("an empty file name")
    return text
