"""Report formats. Each module renders a ScanResult to text.

A reporter module satisfies :class:`Reporter` (``render(result, *, show_secrets, redact_ids)``);
it may also satisfy :class:`TerminalReporter` (``render_terminal(..., width, redact_ids)``)
for a prettier form when stdout is a terminal (the table uses rich there), and
:class:`PieceReporter` (``render_pieces``) when its text can be written as it is made (JSON and
SARIF: a report of many findings is never whole in memory). Register a new format
by adding one line to ``REPORTERS``: the CLI's ``--format`` choices come from this dict. No
discovery, no plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Protocol, cast, runtime_checkable

from scanner.errors import UsageError
from scanner.models import ScanResult

# format name -> module path; order is the order shown in --help.
REPORTERS: dict[str, str] = {
    "table": "scanner.report.table",
    "json": "scanner.report.json",
    "sarif": "scanner.report.sarif",
    "github": "scanner.report.github",
    "gitlab": "scanner.report.gitlab",
    "html": "scanner.report.html",
}

DEFAULT_FORMAT = "table"


@runtime_checkable
class Reporter(Protocol):
    """What a report format module provides."""

    def render(
        self, result: ScanResult, *, show_secrets: bool, redact_ids: bool = False
    ) -> str: ...


@runtime_checkable
class TerminalReporter(Reporter, Protocol):
    """A format with a richer rendering for a terminal of ``width`` columns."""

    def render_terminal(
        self, result: ScanResult, *, show_secrets: bool, width: int, redact_ids: bool = False
    ) -> str: ...


@runtime_checkable
class PieceReporter(Reporter, Protocol):
    """A format whose text ``render_pieces`` gives in pieces, joined exactly ``render``'s."""

    def render_pieces(
        self, result: ScanResult, *, show_secrets: bool, redact_ids: bool = False
    ) -> Iterator[str]: ...


def reporter(name: str) -> Reporter:
    """The module that renders format ``name``."""
    try:
        module_path = REPORTERS[name]
    except KeyError:
        choices = ", ".join(REPORTERS)
        raise UsageError(f"unknown report format {name!r} (choose from {choices})") from None
    return cast(Reporter, importlib.import_module(module_path))
