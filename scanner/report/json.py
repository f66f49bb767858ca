"""JSON report, version 1: the documented machine format, and the one keysweep reads back.

``render`` writes it; ``load_report`` / ``findings_from_json`` read it back for
``keysweep verify REPORT.json`` and ``deactivate``. Reading validates every field it uses and
raises :class:`InputError` naming the report, the finding and the key on malformed input.
Verification needs the real secrets, so ``load_report(..., require_secrets=True)`` refuses a
report written without ``--show-secrets``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from scanner import __version__
from scanner.errors import InputError
from scanner.models import (
    CONFIDENCE_LEVELS,
    CommitInfo,
    Finding,
    HistoryInfo,
    PairedSecret,
    ScanResult,
    ScanSummary,
    Severity,
    Verification,
    redact,
)

FORMAT_VERSION = 1


# -- writing --------------------------------------------------------------------------------
def render(result: ScanResult, *, show_secrets: bool) -> str:
    return (
        json.dumps(to_dict(result, show_secrets=show_secrets), indent=2, ensure_ascii=False) + "\n"
    )


def to_dict(result: ScanResult, *, show_secrets: bool) -> dict[str, Any]:
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
        "findings": [finding_to_dict(f, show_secrets=show_secrets) for f in result.findings],
    }


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


def finding_to_dict(f: Finding, *, show_secrets: bool) -> dict[str, Any]:
    v = f.verification
    h = f.history
    out = _finding_dict(f, v, h, show_secrets=show_secrets)
    if f.confidence is not None:  # printed only when set: older reports stay byte-identical
        out["confidence"] = f.confidence
    return out


def _finding_dict(
    f: Finding, v: Verification | None, h: HistoryInfo | None, *, show_secrets: bool
) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "severity": f.severity.value,
        "description": f.description,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "secret": f.secret if show_secrets else f.redacted,
        "secret_redacted": not show_secrets,
        "fingerprint": f.fingerprint,
        "entropy": round(f.entropy, 3),
        "source": f.source,
        "blob_id": f.blob_id,
        "encoding": f.encoding,
        "paired": [
            {
                "kind": p.kind,
                "rule_id": p.rule_id,
                "secret": p.secret if show_secrets else redact(p.secret),
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
    }


# -- reading --------------------------------------------------------------------------------
class _Reader:
    """Typed access to one JSON object, with errors that say where the problem is."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{where}: expected a JSON object")
        self.data: Mapping[str, Any] = data
        self.where = where

    def _get(self, key: str, types: tuple[type, ...], what: str, *, optional: bool) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise InputError(f"{self.where}: missing key {key!r}")
        value = self.data[key]
        if value is None and optional:
            return None
        # bool is an int in Python; a JSON true is never a valid line number.
        if isinstance(value, bool) and bool not in types:
            raise InputError(f"{self.where}: {key!r} must be {what}")
        if not isinstance(value, types):
            raise InputError(f"{self.where}: {key!r} must be {what}")
        return value

    def get_str(self, key: str) -> str:
        value: str = self._get(key, (str,), "a string", optional=False)
        return value

    def opt_str(self, key: str) -> str | None:
        value: str | None = self._get(key, (str,), "a string or null", optional=True)
        return value

    def get_int(self, key: str, default: int | None = None) -> int:
        if default is not None and key not in self.data:
            return default
        value: int = self._get(key, (int,), "an integer", optional=False)
        return value

    def get_float(self, key: str) -> float:
        value = self._get(key, (int, float), "a number", optional=True)
        return float(value) if value is not None else 0.0

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self._get(key, (bool,), "true or false", optional=True)
        return default if value is None else bool(value)

    def opt_bool(self, key: str) -> bool | None:
        value: bool | None = self._get(key, (bool,), "true, false or null", optional=True)
        return value

    def get_list(self, key: str) -> list[Any]:
        value = self._get(key, (list,), "a list", optional=True)
        return list(value) if value is not None else []

    def strs(self, key: str) -> tuple[str, ...]:
        items = self.get_list(key)
        if not all(isinstance(x, str) for x in items):
            raise InputError(f"{self.where}: {key!r} must be a list of strings")
        return tuple(items)

    def obj(self, key: str) -> _Reader | None:
        value = self._get(key, (Mapping,), "an object or null", optional=True)
        return None if value is None else _Reader(value, f"{self.where}: {key}")


def _read_commit(r: _Reader | None) -> CommitInfo | None:
    if r is None:
        return None
    return CommitInfo(
        sha=r.get_str("sha"),
        author_name=r.get_str("author_name"),
        author_email=r.get_str("author_email"),
        date=r.get_str("date"),
        subject=r.opt_str("subject") or "",
    )


def _read_finding(r: _Reader) -> Finding:
    severity_text = r.get_str("severity")
    try:
        severity = Severity(severity_text)
    except ValueError:
        raise InputError(f"{r.where}: unknown severity {severity_text!r}") from None
    confidence = r.opt_str("confidence")
    if confidence is not None and confidence not in CONFIDENCE_LEVELS:
        raise InputError(f"{r.where}: unknown confidence {confidence!r}")
    paired = tuple(
        PairedSecret(
            kind=p.get_str("kind"),
            rule_id=p.get_str("rule_id"),
            secret=p.get_str("secret"),
            line=p.get_int("line"),
            distance=p.get_int("distance", 0),
        )
        for p in (_Reader(x, f"{r.where}: paired[{i}]") for i, x in enumerate(r.get_list("paired")))
    )
    h = r.obj("history")
    v = r.obj("verification")
    return Finding(
        rule_id=r.get_str("rule_id"),
        rule_name=r.opt_str("rule_name") or r.get_str("rule_id"),
        severity=severity,
        description=r.opt_str("description") or "",
        path=r.get_str("path"),
        line=r.get_int("line"),
        column=r.get_int("column"),
        secret=r.get_str("secret"),
        entropy=r.get_float("entropy"),
        end_line=r.get_int("end_line", 0),
        end_column=r.get_int("end_column", 0),
        source=r.opt_str("source") or "file",
        blob_id=r.opt_str("blob_id"),
        encoding=r.opt_str("encoding"),
        paired=paired,
        account_id=r.opt_str("account_id"),
        confidence=confidence,
        canary=r.get_bool("canary"),
        commit=_read_commit(r.obj("commit")),
        in_head=r.opt_bool("in_head"),
        history=None
        if h is None
        else HistoryInfo(
            commit_count=h.get_int("commit_count", 0),
            refs=h.strs("refs"),
            removed_in=_read_commit(h.obj("removed_in")),
            unreachable=h.get_bool("unreachable"),
        ),
        verification=None
        if v is None
        else Verification(
            status=v.get_str("status"),
            account=v.opt_str("account"),
            arn=v.opt_str("arn"),
            user_id=v.opt_str("user_id"),
            detail=v.opt_str("detail") or "",
            secret_fingerprint=v.opt_str("secret_fingerprint"),
            last_used_date=v.opt_str("last_used_date"),
            last_used_region=v.opt_str("last_used_region"),
            last_used_service=v.opt_str("last_used_service"),
            used_after_leak=v.opt_bool("used_after_leak"),
        ),
        notes=r.strs("notes"),
    )


def _check_version(top: _Reader) -> None:
    version = top.get_int("version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"{top.where}: unsupported report version {version} (this keysweep reads version "
            f"{FORMAT_VERSION})"
        )


def findings_from_json(
    data: object, *, where: str = "report", require_secrets: bool = False
) -> tuple[Finding, ...]:
    """The findings of a parsed version-1 report.

    With ``require_secrets`` a finding whose secret was redacted is an error, since a redacted
    value cannot be verified or deactivated.
    """
    top = _Reader(data, where)
    _check_version(top)
    findings: list[Finding] = []
    for i, item in enumerate(top.get_list("findings")):
        r = _Reader(item, f"{where}: finding {i + 1}")
        if require_secrets and r.get_bool("secret_redacted", default=False):
            raise InputError(
                f"{where}: secrets are redacted in this report; re-run the scan with "
                "--show-secrets --format json --output FILE to write one that can be verified"
            )
        findings.append(_read_finding(r))
    return tuple(findings)


def result_from_json(
    data: object, *, where: str = "report", require_secrets: bool = False
) -> ScanResult:
    findings = findings_from_json(data, where=where, require_secrets=require_secrets)
    scan = _Reader(data, where).obj("scan")
    if scan is None:
        raise InputError(f"{where}: missing key 'scan'")
    skipped = scan.obj("skipped")
    skipped_counts: dict[str, int] = {}
    if skipped is not None:
        for key in skipped.data:
            skipped_counts[key] = skipped.get_int(key)
    summary = ScanSummary(
        mode=scan.get_str("mode"),
        target=scan.get_str("target"),
        files_scanned=scan.get_int("files_scanned", 0),
        bytes_scanned=scan.get_int("bytes_scanned", 0),
        skipped=skipped_counts,
        duration_s=scan.get_float("duration_s"),
        notes=scan.strs("notes"),
        errors=scan.strs("errors"),
    )
    return ScanResult(findings=findings, summary=summary)


def load_report(path: str | os.PathLike[str], *, require_secrets: bool = False) -> ScanResult:
    """Read a JSON report written by ``keysweep ... --format json``.

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
    except (ValueError, UnicodeDecodeError) as exc:
        # The message names the position, never the content (which may hold secrets).
        pos = getattr(exc, "lineno", None)
        at = f" at line {pos}" if pos else ""
        raise InputError(f"{where}: not a JSON report (invalid JSON{at})") from None
    tool = data.get("tool") if isinstance(data, Mapping) else None
    if isinstance(tool, Mapping) and tool.get("name") != "keysweep":
        raise InputError(f"{where}: not a keysweep report")
    return result_from_json(data, where=where, require_secrets=require_secrets)
