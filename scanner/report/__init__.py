"""Report formats. Each module renders a ScanResult to text.

A reporter module defines ``render(result: ScanResult, *, show_secrets: bool) -> str``; it may
also define ``render_terminal(result, *, show_secrets, width) -> str`` for a prettier form when
stdout is a terminal (the table uses rich there). Register a new format by adding one line to
``REPORTERS``: the CLI's ``--format`` choices come from this dict. No discovery, no plugins.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from scanner.errors import UsageError

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


def reporter(name: str) -> ModuleType:
    """The module that renders format ``name``."""
    try:
        module_path = REPORTERS[name]
    except KeyError:
        choices = ", ".join(REPORTERS)
        raise UsageError(f"unknown report format {name!r} (choose from {choices})") from None
    return importlib.import_module(module_path)
