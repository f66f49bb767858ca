"""JSON report, version 1: the documented machine format, and the one keysweep reads back.

``render`` writes it; ``load_report`` / ``findings_from_json`` read it back for
``keysweep verify REPORT.json`` and ``deactivate``. Reading validates every field it uses and
raises :class:`InputError` naming the report, the finding and the key on malformed input.
Verification needs the real secrets, so ``load_report(..., require_secrets=True)`` refuses a
report written without ``--show-secrets``; deactivation needs only the key IDs, which a
default report shows (``"identifier": true``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from scanner import __version__
from scanner.errors import InputError
from scanner.models import (
    BlastRadius,
    CommitInfo,
    Confidence,
    Finding,
    HistoryInfo,
    MessageLocation,
    PairedSecret,
    PairKind,
    PrincipalKind,
    ScanMode,
    ScanResult,
    ScanSummary,
    Severity,
    Source,
    Verification,
    VerificationStatus,
    identifier_shown,
    shown_paired,
    shown_secret,
    subjects_shown,
)
from scanner.report.jsontext import pieces
from scanner.schema import Node, Problem

FORMAT_VERSION = 1


# -- writing --------------------------------------------------------------------------------
def render(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> str:
    return "".join(render_pieces(result, show_secrets=show_secrets, redact_ids=redact_ids))


def render_pieces(
    result: ScanResult, *, show_secrets: bool, redact_ids: bool = False
) -> Iterator[str]:
    """``render``'s text in pieces, each finding's dict made as it is written."""
    findings = _finding_dicts(result, show_secrets=show_secrets, redact_ids=redact_ids)
    return document_pieces(_document(result, findings))


def document_pieces(doc: dict[str, Any]) -> Iterator[str]:
    """A report document (``to_dict``'s, or one that adds to it: audit's) as the report's text,
    in pieces (scanner/report/jsontext.py): one finding at a time."""
    yield from pieces(doc, depth=2)
    yield "\n"


def to_dict(result: ScanResult, *, show_secrets: bool, redact_ids: bool = False) -> dict[str, Any]:
    findings = _finding_dicts(result, show_secrets=show_secrets, redact_ids=redact_ids)
    return _document(result, list(findings))


def _document(result: ScanResult, findings: Iterable[dict[str, Any]]) -> dict[str, Any]:
    s = result.summary
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "keysweep", "version": __version__},
        "scan": {
            "mode": s.mode,
            "target": s.target,
            "files_scanned": s.files_scanned,
            "bytes_scanned": s.bytes_scanned,
            "skipped": dict(sorted(s.skipped.items())),
            "duration_s": round(s.duration_s, 3),
            "notes": list(s.notes),
            "errors": list(s.errors),
        },
        "findings": findings,
    }


def _finding_dicts(
    result: ScanResult, *, show_secrets: bool, redact_ids: bool
) -> Iterator[dict[str, Any]]:
    for f in subjects_shown(result.findings, show_secrets=show_secrets, redact_ids=redact_ids):
        yield finding_to_dict(f, show_secrets=show_secrets, redact_ids=redact_ids)


def _commit(c: CommitInfo | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "sha": c.sha,
        "author_name": c.author_name,
        "author_email": c.author_email,
        "date": c.date,
        "subject": c.subject,
    }


def finding_to_dict(f: Finding, *, show_secrets: bool, redact_ids: bool = False) -> dict[str, Any]:
    """One finding. ``identifier`` is written (true) only when ``secret`` is an identifier
    shown in full; ``secret_redacted`` says whether the report redacts secret values."""
    v = f.verification
    h = f.history
    data: dict[str, Any] = {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "severity": f.severity.value,
        "description": f.description,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "secret": shown_secret(f, show_secrets=show_secrets, redact_ids=redact_ids),
        "secret_redacted": not show_secrets or f.sealed is not None,
        "fingerprint": f.fingerprint,
        "entropy": round(f.entropy, 3),
        "source": f.source,
        "blob_id": f.blob_id,
        "encoding": f.encoding,
        "paired": [
            {
                "kind": p.kind,
                "rule_id": p.rule_id,
                "secret": shown_paired(p, show_secrets=show_secrets),
                "fingerprint": p.fingerprint,
                "line": p.line,
                "distance": p.distance,
            }
            for p in f.paired
        ],
        "account_id": f.account_id,
        "canary": f.canary,
        "commit": _commit(f.commit),
        "in_head": f.in_head,
        "history": None
        if h is None
        else {
            "commit_count": h.commit_count,
            "refs": list(h.refs),
            "removed_in": _commit(h.removed_in),
            "unreachable": h.unreachable,
        },
        "verification": None
        if v is None
        else {
            "status": v.status,
            "account": v.account,
            "arn": v.arn,
            "user_id": v.user_id,
            "detail": v.detail,
            "secret_fingerprint": v.secret_fingerprint,
            "last_used_date": v.last_used_date,
            "last_used_region": v.last_used_region,
            "last_used_service": v.last_used_service,
            "used_after_leak": v.used_after_leak,
        },
        "notes": list(f.notes),
        # Only for secrets in commit and tag messages: older reports stay byte-identical.
        **(
            {}
            if f.message is None
            else {
                "message": {
                    "kind": f.message.kind,
                    "object_id": f.message.object_id,
                    "ref": f.message.ref,
                }
            }
        ),
    }
    if f.repository is not None:
        data["repository"] = f.repository
    if identifier_shown(f, show_secrets=show_secrets, redact_ids=redact_ids):
        data["identifier"] = True
    if f.blast_radius is not None:
        data["blast_radius"] = blast_radius_to_dict(f.blast_radius)
    if f.confidence is not None:  # written only when set: older reports stay byte-identical
        data["confidence"] = f.confidence
    if f.member is not None:  # a file inside an archive or database (path: FILE!MEMBER)
        data["member"] = f.member
    return data


def blast_radius_to_dict(b: BlastRadius) -> dict[str, Any]:
    """The ``blast_radius`` object (written only when set: older reports stay identical)."""
    optional = b.high_risk_actions_allowed, b.other_active_keys
    return {
        "principal": b.principal.value,
        "arn": b.arn,
        "user": b.user,
        "groups": list(b.groups),
        "attached_policies": list(b.attached_policies),
        "inline_policies": list(b.inline_policies),
        "admin_equivalent": b.admin_equivalent,
        "grants": list(b.grants),
        "high_risk_actions_allowed": None if optional[0] is None else list(optional[0]),
        "mfa_enabled": b.mfa_enabled,
        "other_active_keys": None if optional[1] is None else list(optional[1]),
        "errors": list(b.errors),
    }


# -- reading --------------------------------------------------------------------------------
_ANY = (-math.inf, math.inf)


def _node(data: object, where: str) -> Node:
    """A JSON object read with errors naming ``where`` (the report, the finding) and the key."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")

    def fail(key: str, problem: Problem) -> InputError:
        parent, _, leaf = key.rpartition(".")
        at = f"{where}: {parent}" if parent else where
        if problem.kind == "missing":
            return InputError(f"{at}: missing key {leaf!r}")
        if problem.kind == "type":
            if not key:
                return InputError(f"{where}: expected {problem.expected}")
            return InputError(f"{at}: {leaf!r} must be {problem.expected}")
        return InputError(f"{at}: {problem}")

    return Node(data, "", fail)


def _str(node: Node) -> str:
    return node.string(empty_ok=True)


def _opt_str(node: Node) -> str | None:
    return node.string(default=None, empty_ok=True)


def _read_commit(node: Node | None) -> CommitInfo | None:
    if node is None:
        return None
    return CommitInfo(
        sha=_str(node.at("sha")),
        author_name=_str(node.at("author_name")),
        author_email=_str(node.at("author_email")),
        date=_str(node.at("date")),
        subject=_opt_str(node.at("subject")) or "",
    )


def _read_paired(p: Node, *, redacted: bool) -> PairedSecret:
    """A paired secret; read back from a redacted report it is sealed: its fingerprint is
    the real secret's, not the placeholder's."""
    p.table(expected="a JSON object")
    return PairedSecret(
        kind=p.at("kind").choice(PairKind),
        rule_id=_str(p.at("rule_id")),
        secret=_str(p.at("secret")),
        line=p.at("line").integer(),
        distance=p.at("distance").integer(default=0),
        sealed=_opt_str(p.at("fingerprint")) if redacted else None,
    )


def _read_history(h: Node | None) -> HistoryInfo | None:
    if h is None:
        return None
    return HistoryInfo(
        commit_count=h.at("commit_count").integer(default=0),
        refs=h.at("refs").strings(empty_ok=True),
        removed_in=_read_commit(h.at("removed_in").optional_table()),
        unreachable=h.at("unreachable").boolean(default=False),
    )


def _read_verification(v: Node | None) -> Verification | None:
    if v is None:
        return None
    return Verification(
        status=v.at("status").choice(VerificationStatus),
        account=_opt_str(v.at("account")),
        arn=_opt_str(v.at("arn")),
        user_id=_opt_str(v.at("user_id")),
        detail=_opt_str(v.at("detail")) or "",
        secret_fingerprint=_opt_str(v.at("secret_fingerprint")),
        last_used_date=_opt_str(v.at("last_used_date")),
        last_used_region=_opt_str(v.at("last_used_region")),
        last_used_service=_opt_str(v.at("last_used_service")),
        used_after_leak=v.at("used_after_leak").boolean(default=None),
    )


def _opt_strings(node: Node) -> tuple[str, ...] | None:
    """A list of strings, or None when absent or null (``null`` means "not known")."""
    return None if node.value is None or not node.present else node.strings(empty_ok=True)


def _read_blast_radius(b: Node | None) -> BlastRadius | None:
    if b is None:
        return None
    return BlastRadius(
        principal=b.at("principal").choice(PrincipalKind),
        arn=_opt_str(b.at("arn")),
        user=_opt_str(b.at("user")),
        groups=b.at("groups").strings(empty_ok=True),
        attached_policies=b.at("attached_policies").strings(empty_ok=True),
        inline_policies=b.at("inline_policies").strings(empty_ok=True),
        admin_equivalent=b.at("admin_equivalent").boolean(default=None),
        grants=b.at("grants").strings(empty_ok=True),
        high_risk_actions_allowed=_opt_strings(b.at("high_risk_actions_allowed")),
        mfa_enabled=b.at("mfa_enabled").boolean(default=None),
        other_active_keys=_opt_strings(b.at("other_active_keys")),
        errors=b.at("errors").strings(empty_ok=True),
    )


def _read_finding(r: Node) -> Finding:
    severity = r.at("severity").choice(Severity)
    redacted = r.at("secret_redacted").boolean(default=False)
    identifier = r.at("identifier").boolean(default=False)
    paired = tuple(_read_paired(p, redacted=redacted) for p in r.at("paired").items())
    rule_id = _str(r.at("rule_id"))
    return Finding(
        rule_id=rule_id,
        rule_name=_opt_str(r.at("rule_name")) or rule_id,
        severity=severity,
        description=_opt_str(r.at("description")) or "",
        path=_str(r.at("path")),
        line=r.at("line").integer(),
        column=r.at("column").integer(),
        secret=_str(r.at("secret")),
        entropy=r.at("entropy").number(lo=_ANY[0], hi=_ANY[1], default=0.0),
        end_line=r.at("end_line").integer(default=0),
        end_column=r.at("end_column").integer(default=0),
        source=r.at("source").choice(Source, default=Source.FILE),
        blob_id=_opt_str(r.at("blob_id")),
        encoding=_opt_str(r.at("encoding")),
        paired=paired,
        account_id=_opt_str(r.at("account_id")),
        confidence=r.at("confidence").choice(Confidence, default=None),
        canary=r.at("canary").boolean(default=False),
        commit=_read_commit(r.at("commit").optional_table()),
        in_head=r.at("in_head").boolean(default=None),
        history=_read_history(r.at("history").optional_table()),
        verification=_read_verification(r.at("verification").optional_table()),
        notes=r.at("notes").strings(empty_ok=True),
        identifier=identifier,
        blast_radius=_read_blast_radius(r.at("blast_radius").optional_table()),
        message=_read_message(r.at("message").optional_table()),
        repository=_opt_str(r.at("repository")),
        member=_opt_str(r.at("member")),
        # a redacted secret keeps the real one's fingerprint (an identifier is shown in full)
        sealed=_opt_str(r.at("fingerprint")) if redacted and not identifier else None,
    )


def _read_message(node: Node | None) -> MessageLocation | None:
    if node is None:
        return None
    kind = _str(node.at("kind"))
    if kind not in ("commit", "tag"):
        raise node.at("kind").fail("'kind' must be commit or tag")
    return MessageLocation(
        kind=kind, object_id=_str(node.at("object_id")), ref=_opt_str(node.at("ref"))
    )


def _check_version(top: Node, where: str) -> None:
    version = top.at("version").integer()
    if version != FORMAT_VERSION:
        raise InputError(
            f"{where}: unsupported report version {version} (this keysweep reads version "
            f"{FORMAT_VERSION})"
        )


REDACTED_HINT = (
    "re-run the scan with --show-secrets --format json --output FILE to write one that can be "
    "verified"
)


def findings_from_json(
    data: object, *, where: str = "report", require_secrets: bool = False, hint: str = REDACTED_HINT
) -> tuple[Finding, ...]:
    """The findings of a parsed version-1 report.

    With ``require_secrets`` a finding whose secret was redacted is an error, since a redacted
    value cannot be verified or deactivated.
    """
    top = _node(data, where)
    _check_version(top, where)
    findings: list[Finding] = []
    for i, item in enumerate(top.at("findings").items(required=True)):
        r = _node(item.value, f"{where}: finding {i + 1}")
        if require_secrets and r.at("secret_redacted").boolean(default=False):
            raise InputError(f"{where}: secrets are redacted in this report; {hint}")
        findings.append(_read_finding(r))
    return tuple(findings)


def result_from_json(
    data: object, *, where: str = "report", require_secrets: bool = False, hint: str = REDACTED_HINT
) -> ScanResult:
    findings = findings_from_json(data, where=where, require_secrets=require_secrets, hint=hint)
    scan = _node(data, where).at("scan")
    if not scan.present:
        raise InputError(f"{where}: missing key 'scan'")
    scan.table(expected="an object")
    skipped = scan.at("skipped").optional_table()
    skipped_counts: dict[str, int] = {}
    if skipped is not None:
        for key in skipped.names():
            skipped_counts[key] = skipped.at(key).integer()
    summary = ScanSummary(
        mode=scan.at("mode").choice(ScanMode),
        target=_str(scan.at("target")),
        files_scanned=scan.at("files_scanned").integer(default=0),
        bytes_scanned=scan.at("bytes_scanned").integer(default=0),
        skipped=skipped_counts,
        duration_s=scan.at("duration_s").number(lo=_ANY[0], hi=_ANY[1], default=0.0),
        notes=scan.at("notes").strings(empty_ok=True),
        errors=scan.at("errors").strings(empty_ok=True),
    )
    return ScanResult(findings=findings, summary=summary)


def load_report(
    path: str | os.PathLike[str], *, require_secrets: bool = False, hint: str = REDACTED_HINT
) -> ScanResult:
    """Read a JSON report written by ``keysweep ... --format json``.

    ``require_secrets``: a redacted report is an error whose message ends with ``hint`` (what
    to do instead). A default report is enough for anything that needs only key IDs.

    Raises InputError (one line, naming the file) when it cannot be read, is not JSON, or is
    not a version-1 keysweep report.
    """
    where = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise InputError(
            f"{where}: cannot read report: {(exc.strerror or str(exc)).lower()}"
        ) from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # Recursion: `[[[[...`
        # The message names the position, never the content (which may hold secrets).
        pos = getattr(exc, "lineno", None)
        at = f" at line {pos}" if pos else ""
        raise InputError(f"{where}: not a JSON report (invalid JSON{at})") from None
    tool = data.get("tool") if isinstance(data, Mapping) else None
    if isinstance(tool, Mapping) and tool.get("name") != "keysweep":
        raise InputError(f"{where}: not a keysweep report")
    if isinstance(data, Mapping) and "runs" in data and "findings" not in data:
        raise InputError(f"{where}: a SARIF report; give a JSON report (--format json)")
    return result_from_json(data, where=where, require_secrets=require_secrets, hint=hint)
