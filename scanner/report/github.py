"""``--format github``: GitHub Actions workflow-command annotations, one line per finding.

    ::error file=app/settings.py,line=12,col=9,endLine=12,endColumn=29,title=AWS Access Key ID::…

GitHub shows these on the pull request diff and the run summary. Values are escaped as the
Actions runner expects (``%``, CR and LF everywhere; also ``:`` and ``,`` in properties), so a
file name or note can never start a new workflow command. Secrets are redacted unless
``show_secrets`` is set (do not set it in CI: logs are widely readable). For GitHub code scanning,
upload ``--format sarif`` instead.
"""

from __future__ import annotations

import re

from scanner.models import Finding, ScanResult, Severity, shown_secret

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
}


# Other control characters (ESC of a terminal sequence in a file name, C1 CSI) are escaped the
# same way, so a crafted name cannot colour or rewrite the job log.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidi overrides and isolates, direction marks and line/paragraph separators: invisible, yet
# they reorder or break what the log shows ("Trojan Source"). Shown as \uXXXX instead.
_INVISIBLE = re.compile("[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_data(value: str) -> str:
    """Escape the message part of a workflow command."""
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    escaped = _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped)
    return _CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", escaped)


def escape_property(value: str) -> str:
    """Escape a ``key=value`` property of a workflow command."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _level(finding: Finding) -> str:
    try:
        return _LEVELS[Severity(finding.severity)]
    except ValueError:
        return "error"


def annotation(finding: Finding, *, show_secrets: bool = False, redact_ids: bool = False) -> str:
    props = [f"file={escape_property(finding.file_path)}"]
    if finding.member is not None:  # no line of the archive: the annotation is on the file
        props.append("line=1")
    elif finding.line > 0:
        props.append(f"line={finding.line}")
        if finding.column > 0:
            props.append(f"col={finding.column}")
        if finding.end_line >= finding.line:
            props.append(f"endLine={finding.end_line}")
            if finding.end_column > 0:
                props.append(f"endColumn={finding.end_column}")
    props.append(f"title={escape_property(f'keysweep: {finding.rule_name}')}")

    shown = shown_secret(finding, show_secrets=show_secrets, redact_ids=redact_ids)
    parts = [f"{finding.rule_id}: {shown} (fingerprint {finding.fingerprint})"]
    if finding.member is not None:
        parts.append(f"in {finding.member} line {finding.line}")
    if finding.commit is not None:
        parts.append(f"introduced in {finding.commit.sha[:12]} by {finding.commit.author_name}")
    if finding.verification is not None:
        parts.append(f"verification: {finding.verification.status}")
    if finding.blast_radius is not None:
        parts.append(finding.blast_radius.summary())
    parts.extend(finding.notes)
    message = "; ".join(parts)
    return f"::{_level(finding)} {','.join(props)}::{escape_data(message)}"


def render(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> str:
    lines = [
        annotation(f, show_secrets=show_secrets, redact_ids=redact_ids) for f in result.findings
    ]
    count = len(result.findings)
    summary = result.summary
    lines.append(
        f"keysweep: {count} finding{'s' if count != 1 else ''} "
        f"({summary.mode} {escape_data(summary.target)}, {summary.files_scanned} "
        f"{summary.unit}{'s' if summary.files_scanned != 1 else ''} scanned)"
    )
    for error in summary.errors:
        lines.append(f"::error title=keysweep scan error::{escape_data(error)}")
    return "\n".join(lines) + "\n"
