"""SARIF 2.1.0 report, ready for GitHub code scanning (``github/codeql-action/upload-sarif``).

- one ``reportingDescriptor`` per rule that produced a finding: id, name, short and full
  description, help, ``defaultConfiguration.level`` from the rule's severity, and
  ``properties.security-severity`` (GitHub's 0-10 score) plus ``tags``;
- one ``result`` per finding: ruleId/ruleIndex, level, a message with the secret redacted
  (unless ``--show-secrets``), a physical location (relative URI against ``%SRCROOT%``,
  region with start/end line and column, columns counted in Unicode code points),
  ``partialFingerprints["keysweep/v2"]`` (:func:`location_fingerprint`: this secret at this
  place, whatever its line) and ``properties.fingerprint``, the secret's own fingerprint that
  baselines hold;
- errors (``executionSuccessful`` is then false) and notes become tool execution
  notifications, and the skip counts the invocation's ``properties.skipped``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from scanner import __version__
from scanner.models import Finding, ScanResult, Severity, shown_paired, shown_secret
from scanner.report.json import blast_radius_to_dict
from scanner.report.jsontext import pieces

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# A partialFingerprints key names its algorithm and version (SARIF 2.1.0, 3.27.17). v1 hashed
# the rule and the secret only: one secret at two paths gave two results one identity.
FINGERPRINT_KEY = "keysweep/v2"

# severity -> (SARIF level, GitHub security-severity score)
_LEVELS: dict[Severity, tuple[str, str]] = {
    Severity.CRITICAL: ("error", "9.5"),
    Severity.HIGH: ("error", "8.0"),
    Severity.MEDIUM: ("warning", "5.5"),
    Severity.LOW: ("note", "3.0"),
}

_HELP = (
    "Treat the secret as compromised: rotate or deactivate it at its issuer, then remove it "
    "from the code (and from git history if it was committed). Mark a deliberate test value "
    "with an inline `keysweep:allow` comment or add its fingerprint to the baseline."
)


def render(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> str:
    return "".join(render_pieces(result, show_secrets=show_secrets, redact_ids=redact_ids))


def render_pieces(
    result: ScanResult, *, show_secrets: bool, redact_ids: bool = False
) -> Iterator[str]:
    """``render``'s text in pieces (scanner/report/jsontext.py), each result made as it is
    written."""
    yield from pieces(_sarif(result, show_secrets, redact_ids, lazy=True), depth=4)
    yield "\n"


def artifact_uri(path: str) -> str:
    """A relative path as a URI reference (percent-encoded, forward slashes)."""
    posix = path.replace(os.sep, "/")
    # surrogateescape: the bytes of a non-UTF-8 file name are percent-encoded as they are.
    if posix.startswith("/"):
        return "file://" + quote(posix, errors="surrogateescape")
    return quote(posix.removeprefix("./"), errors="surrogateescape")


def location_fingerprint(f: Finding) -> str:
    """One secret at one place, for code scanning to follow across runs: a hash of the rule,
    the secret's fingerprint (never the secret, so a sealed finding gets the same value) and
    the place: the repository of an audit finding, the path as the result's URI gives it, and
    for a secret in a commit or tag message that commit or tag. No line, no column: moving the
    secret within its file keeps the value; the same secret in another file gets another."""
    message = f.message.object_id if f.message is not None else ""
    place = [f.rule_id, f.fingerprint, f.repository or "", artifact_uri(f.path), message]
    text = json.dumps(["keysweep:v2", *place], ensure_ascii=True)  # unambiguous, plain ASCII
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def _rule(f: Finding) -> dict[str, Any]:
    level, score = _LEVELS[f.severity]
    return {
        "id": f.rule_id,
        "name": "".join(part.capitalize() for part in f.rule_id.split("-")),
        "shortDescription": {"text": f.rule_name},
        "fullDescription": {"text": f.description or f.rule_name},
        "help": {"text": f"{f.description} {_HELP}".strip(), "markdown": _HELP},
        "defaultConfiguration": {"level": level},
        "properties": {
            "security-severity": score,
            "precision": "high",
            "tags": ["security", "secret", "external/cwe/cwe-798"],
        },
    }


def _region(f: Finding) -> dict[str, int]:
    if f.end_line > 0 and f.end_column > 0:
        end_line, end_column = f.end_line, f.end_column
    else:
        end_line, end_column = f.line, f.column + len(f.secret)
    return {
        "startLine": max(f.line, 1),
        "startColumn": max(f.column, 1),
        "endLine": max(end_line, f.line, 1),
        "endColumn": max(end_column, 1),
    }


def _message(f: Finding, *, show_secrets: bool, redact_ids: bool) -> str:
    shown = shown_secret(f, show_secrets=show_secrets, redact_ids=redact_ids)
    parts = [f"{f.rule_name}: {shown}"]
    if f.paired:
        p = f.paired[0]
        kind = p.kind.replace("_", " ")
        partner = shown_paired(p, show_secrets=show_secrets)
        parts.append(f"paired with a {kind} {partner} on line {p.line}")
    if f.account_id:
        parts.append(f"AWS account {f.account_id}")
    if f.verification is not None:
        v = f.verification
        parts.append(f"verification: {v.status}" + (f" ({v.arn})" if v.arn else ""))
        if v.used_after_leak:
            parts.append("used after it leaked")
    if f.blast_radius is not None:
        parts.append(f.blast_radius.summary())
    if f.member is not None:
        parts.append(f"in {f.member} line {f.line}, inside {f.file_path}")
    parts.extend(_history(f))
    return "; ".join(parts)


def _history(f: Finding) -> list[str]:
    """Where a history finding lives: its path may not exist in the analysed checkout, so
    the message says when it was committed and whether HEAD still has it."""
    parts: list[str] = []
    if f.message is not None and f.message.kind == "tag":
        parts.append(f"in the message of tag {f.message.ref or f.message.object_id[:12]}")
    elif f.commit is not None:
        c = f.commit
        where = "in the message of commit" if f.message is not None else "committed in"
        parts.append(f"{where} {c.sha[:12]} on {c.date[:10]} by {c.author_name}")
    removed = f.history.removed_in if f.history is not None else None
    if f.in_head is True:
        parts.append("still in HEAD")
    elif removed is not None:
        parts.append(f"removed from HEAD in {removed.sha[:12]}, still in the git history")
    elif f.in_head is False:
        parts.append("never on the default branch, still in the git history")
    return parts


def _result(f: Finding, rule_index: int, *, show_secrets: bool, redact_ids: bool) -> dict[str, Any]:
    level, _ = _LEVELS[f.severity]
    # A file inside an archive or database is no file of the repository: the result points
    # at the archive (its first line: code scanning needs a region), the member in properties.
    uri = artifact_uri(f.file_path)
    location: dict[str, Any] = {"uri": uri}
    if not uri.startswith("file://"):
        location["uriBaseId"] = "%SRCROOT%"
    properties: dict[str, Any] = {
        "fingerprint": f.fingerprint,
        "entropy": round(f.entropy, 3),
        "source": f.source,
    }
    if f.encoding:
        properties["encoding"] = f.encoding
    region = _region(f)
    if f.member is not None:
        properties["member"] = f.member
        properties["memberRegion"] = region
        region = {"startLine": 1}
    if f.confidence is not None:
        properties["confidence"] = f.confidence
    if f.commit is not None:
        properties["commit"] = f.commit.sha
    if f.in_head is not None:
        properties["inHead"] = f.in_head
    if f.history is not None and f.history.refs:
        properties["refs"] = list(f.history.refs)
    if f.history is not None and f.history.removed_in is not None:
        properties["removedIn"] = f.history.removed_in.sha
    if f.message is not None:  # a commit or tag message, not a file
        properties["gitMessage"] = {
            k: v for k, v in dataclasses.asdict(f.message).items() if v is not None
        }
    if f.repository is not None:
        properties["repository"] = f.repository
    if f.verification is not None:
        properties["verification"] = f.verification.status
        aws = {
            k: v
            for k, v in dataclasses.asdict(f.verification).items()
            if k != "status" and v not in (None, "")
        }
        if aws:
            properties["awsVerification"] = aws
    if f.blast_radius is not None:
        properties["blastRadius"] = blast_radius_to_dict(f.blast_radius)
    return {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": _message(f, show_secrets=show_secrets, redact_ids=redact_ids)},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}],
        "partialFingerprints": {FINGERPRINT_KEY: location_fingerprint(f)},
        "properties": properties,
    }


def to_sarif(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> dict[str, Any]:
    return _sarif(result, show_secrets, redact_ids, lazy=False)


def _sarif(
    result: ScanResult, show_secrets: bool, redact_ids: bool, *, lazy: bool
) -> dict[str, Any]:
    """The SARIF document; with ``lazy`` its results are a generator (``render_pieces``)."""
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    for f in sorted(result.findings, key=lambda f: f.rule_id):
        if f.rule_id not in rule_index:
            rule_index[f.rule_id] = len(rules)
            rules.append(_rule(f))
    summary = result.summary
    invocation: dict[str, Any] = {"executionSuccessful": not summary.errors}
    # Errors, then the notes a reader of the table sees on stderr (a binary file over the size
    # limit, a baseline's suppressions, a shallow clone), then what was skipped and why.
    notifications = [
        *({"level": "error", "message": {"text": text}} for text in summary.errors),
        *({"level": "note", "message": {"text": text}} for text in summary.notes),
    ]
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    if summary.skipped:
        invocation["properties"] = {"skipped": dict(summary.skipped)}
    results: Iterable[dict[str, Any]] = (
        _result(f, rule_index[f.rule_id], show_secrets=show_secrets, redact_ids=redact_ids)
        for f in result.findings
    )
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "keysweep",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results if lazy else list(results),
            }
        ],
    }
