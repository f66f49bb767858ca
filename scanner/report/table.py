"""Human-readable table: one row per finding, secrets redacted unless ``--show-secrets``.

``render`` is plain text (for pipes and ``--output``); ``render_terminal`` draws the same
rows with rich when stdout is a terminal. ``summary_line`` is the one-line footer the CLI
prints on stderr whatever the format.
"""

from __future__ import annotations

import io
import re

from scanner.models import (
    Finding,
    ScanResult,
    ScanSummary,
    Verification,
    shown_paired,
    shown_secret,
)

HEADERS = ("SEVERITY", "RULE", "LOCATION", "SECRET", "DETAILS")


# C0/C1 controls (newline, ESC, ...), line/paragraph separators, bidi overrides and the lone
# surrogates that stand for undecodable bytes in file names.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    char = m.group(0)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte of a non-UTF-8 name
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe for one line of a terminal: control characters, bidi overrides and
    undecodable bytes are shown as backslash escapes (a file named ``a\\nb`` cannot break a
    row in two, and ``ESC[31m`` in a name cannot colour the screen)."""
    return _UNPRINTABLE.sub(_escape, text)


def _location(f: Finding) -> str:
    where = f"{f.path}:{f.line}:{f.column}"
    if f.commit is not None:
        where = f"{f.commit.sha[:12]}:{where}"
    elif f.message is not None and f.message.ref is not None:  # an annotated tag's message
        where = f"{f.message.ref.removeprefix('refs/tags/')}:{where}"
    if f.repository is not None:
        where = f"{f.repository} {where}"
    return where


def _details(f: Finding, *, show_secrets: bool) -> str:
    parts: list[str] = []
    if f.paired:
        p = f.paired[0]
        partner = shown_paired(p, show_secrets=show_secrets)
        parts.append(f"paired {p.kind.replace('_', ' ')} {partner} (line {p.line})")
        if len(f.paired) > 1:
            parts.append(f"+{len(f.paired) - 1} more candidate(s)")
    if f.account_id:
        parts.append(f"account {f.account_id}")
    if f.canary:
        parts.append("canary token")
    if f.encoding:
        parts.append(f"{f.encoding}-encoded")
    if f.confidence is not None:
        parts.append(f"{f.confidence} confidence")
    if f.verification is not None:
        parts.append(verification_text(f.verification))
    if f.blast_radius is not None:
        parts.append(f.blast_radius.summary())
    if f.commit is not None:  # history: how long it has been exposed, and by whom
        parts.append(f"leaked {f.commit.date[:10]} by {f.commit.author_name}")
    if f.in_head is True:
        parts.append("still in HEAD")
    elif f.in_head is False:
        removed = f.history.removed_in if f.history is not None else None
        parts.append(f"removed in {removed.sha[:12]}" if removed else "not in HEAD")
    parts.extend(f.notes)  # e.g. "baseline entry expired on 2026-01-31"
    return "; ".join(parts)


def verification_text(v: Verification) -> str:
    """``verified: live as ARN; last used DATE (service, region); USED AFTER LEAK``."""
    text = f"verified: {v.status}"
    if v.wrong_secret:
        text += " (the key exists; the secret beside it is not its secret: it may be live)"
    if v.status == "live" and v.arn:
        text += f" as {v.arn}"
    if v.last_used_date:
        where = ", ".join(x for x in (v.last_used_service, v.last_used_region) if x)
        text += f"; last used {v.last_used_date}" + (f" ({where})" if where else "")
    elif v.status == "live" and v.used_after_leak is False:
        text += "; never used"
    if v.used_after_leak:
        text += "; USED AFTER LEAK"
        if v.last_used_service == "sts":
            text += " (sts: may be a verification call)"
    return text


def rows(
    result: ScanResult, *, show_secrets: bool, redact_ids: bool = False
) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            f.severity.value,
            printable(f.rule_id),
            printable(_location(f)),
            printable(shown_secret(f, show_secrets=show_secrets, redact_ids=redact_ids)),
            printable(_details(f, show_secrets=show_secrets)),
        )
        for f in result.findings
    ]


def nothing_found(result: ScanResult, listed: str = "on stderr") -> str:
    """What a report with no finding says: "No secrets found." only when everything was
    read; a scan with errors (exit 2) found nothing in what it could read, and says so (the
    errors are ``listed`` there)."""
    errors = len(result.summary.errors)
    if not errors:
        return "No secrets found."
    return (
        f"No secrets found in what was read; {errors} error(s) left the rest unscanned "
        f"(listed {listed})."
    )


def render(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> str:
    body = rows(result, show_secrets=show_secrets, redact_ids=redact_ids)
    if not body:
        return nothing_found(result) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(HEADERS[:-1])]
    lines = []
    for row in [HEADERS, *body]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


# Below this many columns a five-column table shows empty, one-letter cells (COLUMNS=10).
MIN_TABLE_WIDTH = 60
# Values no wider than this (an access key ID, a redacted value, a 40-character secret) are
# never folded: a key ID broken over two lines cannot be copied. Longer ones (a session token
# under --show-secrets) fold.
_UNBROKEN = 40
_ROOM = 12  # the least the location and details columns get each
_FRAME = 16  # five columns' borders and padding


def _unbroken_widths(body: list[tuple[str, str, str, str, str]]) -> dict[str, int]:
    """The width each of the severity, rule and secret columns needs so that none of its
    cells is folded."""
    return {
        HEADERS[i]: max((len(row[i]) for row in body if len(row[i]) <= _UNBROKEN), default=0)
        for i in (0, 1, 3)
    }


_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def render_terminal(
    result: ScanResult, *, show_secrets: bool, width: int, redact_ids: bool = False
) -> str:
    """The same table drawn by rich, with ANSI colours, for an interactive terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    body = rows(result, show_secrets=show_secrets, redact_ids=redact_ids)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width, highlight=False)
    if not body:
        clean = not result.summary.errors
        console.print(Text(nothing_found(result), style="green" if clean else "yellow"))
        return buffer.getvalue()
    least = _unbroken_widths(body)
    if width < max(MIN_TABLE_WIDTH, _FRAME + sum(least.values()) + 2 * _ROOM):
        # too narrow for five columns that keep a key ID whole: one block per finding
        for severity, *rest in body:
            console.print(Text(severity, style=_SEVERITY_STYLE.get(severity, "")))
            for header, cell in zip(HEADERS[1:], rest, strict=True):
                if cell:
                    console.print(Text(f"  {header.lower()}: {cell}"), overflow="fold")
        return buffer.getvalue()
    table = Table(show_lines=False, header_style="bold")
    for header in HEADERS:
        table.add_column(header, overflow="fold", min_width=least.get(header) or None)
    for severity, *rest in body:
        # Text() never interprets markup, so a path like "[red]x" is shown as written.
        table.add_row(Text(severity, style=_SEVERITY_STYLE.get(severity, "")), *map(Text, rest))
    console.print(table)
    return buffer.getvalue()


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - loop always returns


def summary_line(result: ScanResult) -> str:
    s: ScanSummary = result.summary
    n = len(result.findings)
    found = "1 finding" if n == 1 else f"{n} findings"
    files = f"1 {s.unit}" if s.files_scanned == 1 else f"{s.files_scanned} {s.unit}s"
    line = f"keysweep: {found} in {files} ({_size(s.bytes_scanned)}) in {s.duration_s:.2f}s"
    skipped = {k: v for k, v in sorted(s.skipped.items()) if v}
    if skipped:
        line += "; skipped " + ", ".join(f"{k} {v}" for k, v in skipped.items())
    if s.errors:
        line += f"; {len(s.errors)} error(s)"
    return line
