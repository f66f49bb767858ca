"""The values that flow through keysweep: Fragment in, Finding out.

    sources -> Fragment -> detect -> Finding -> ignore/baseline -> verify -> report -> exit code

Everything here is frozen. Later stages derive new values with ``dataclasses.replace``.
This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


CONFIDENCE_LEVELS = ("high", "medium", "low")  # how sure a rule is that a match is a secret
# Findings less sure than this are not reported unless --min-confidence / scan.min_confidence
# says otherwise; chosen by measurement on clean trees (README, "Confidence").
DEFAULT_MIN_CONFIDENCE = "medium"


def confidence_at_least(confidence: str | None, minimum: str) -> bool:
    """True when ``confidence`` (a finding's or a rule's) is ``minimum`` or surer.

    A finding without a confidence (built before rules had one) always passes.
    """
    if confidence is None:
        return True
    return CONFIDENCE_LEVELS.index(confidence) <= CONFIDENCE_LEVELS.index(minimum)


@dataclass(frozen=True)
class Fragment:
    """A piece of text to scan and where it came from.

    ``raw`` holds the bytes as read. ``text`` is decoded lazily (UTF-8 with replacement,
    UTF-16 when a BOM says so), so a prefilter can reject ``raw`` without decoding it.
    """

    raw: bytes
    path: str
    source: str = "file"  # file | stdin | staged | history
    blob_id: str | None = None

    @cached_property
    def text(self) -> str:
        return decode_bytes(self.raw)

    @classmethod
    def from_text(cls, text: str, path: str = "<text>", source: str = "file") -> Fragment:
        frag = cls(raw=text.encode("utf-8", "surrogatepass"), path=path, source=source)
        frag.__dict__["text"] = text
        return frag


def decode_bytes(raw: bytes) -> str:
    """Decode file content for scanning: BOM-aware, never raises."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", "replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class PairedSecret:
    """A secret found near an access key ID: the other half of the credential.

    ``kind`` is ``secret_access_key`` or ``session_token``. ``distance`` is in lines
    (0 = same line); candidates are ordered nearest first.
    """

    kind: str
    rule_id: str
    secret: str
    line: int
    distance: int

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.rule_id, self.secret)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    date: str  # ISO 8601, author date
    subject: str = ""


@dataclass(frozen=True)
class HistoryInfo:
    """Where a secret lives in history, beyond the commit that introduced it."""

    commit_count: int = 0
    refs: tuple[str, ...] = ()
    removed_in: CommitInfo | None = None
    unreachable: bool = False


@dataclass(frozen=True)
class Verification:
    """Outcome of asking AWS about a key (see scanner.verify).

    status: live | invalid | expired | unknown | canary | skipped | not_checked
    """

    status: str
    account: str | None = None
    arn: str | None = None
    user_id: str | None = None
    detail: str = ""
    secret_fingerprint: str | None = None  # which paired secret verified (never the secret)
    last_used_date: str | None = None
    last_used_region: str | None = None
    last_used_service: str | None = None
    used_after_leak: bool | None = None


@dataclass(frozen=True)
class Finding:
    """One secret at one location.

    ``secret`` holds the real value; reporters redact it unless asked not to.
    ``line`` and ``column`` are 1-based; ``column`` counts characters.
    """

    rule_id: str
    rule_name: str
    severity: Severity
    description: str
    path: str
    line: int
    column: int
    secret: str
    entropy: float
    end_line: int = 0
    end_column: int = 0
    source: str = "file"
    blob_id: str | None = None
    encoding: str | None = None  # set when found after decoding: base64 | percent | json-escape
    paired: tuple[PairedSecret, ...] = ()
    account_id: str | None = None  # decoded offline from an AWS key ID, when possible
    canary: bool = False
    commit: CommitInfo | None = None
    in_head: bool | None = None
    history: HistoryInfo | None = None
    verification: Verification | None = None
    notes: tuple[str, ...] = field(default=())
    confidence: str | None = None  # high | medium | low: the rule's (see CONFIDENCE_LEVELS)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.rule_id, self.secret)

    @property
    def redacted(self) -> str:
        return redact(self.secret)


def fingerprint_of(rule_id: str, secret: str) -> str:
    """Stable content hash of a secret under a rule: no line, no path, no time.

    The same value serves SARIF ``partialFingerprints`` and baseline entries.
    """
    digest = hashlib.sha256(f"keysweep:v1:{rule_id}:{secret}".encode()).hexdigest()
    return digest[:32]


def redact(secret: str) -> str:
    """A short prefix and the length: enough to recognise a key, never enough to use it."""
    shown = min(4, len(secret) // 5)
    return f"{secret[:shown]}…({len(secret)} chars)"


@dataclass(frozen=True)
class ScanSummary:
    """What a scan looked at, for the JSON ``scan`` object and the table footer.

    ``skipped`` counts what was passed over, by reason (binary, too_large, unreadable,
    symlink_outside, missing_blob, ...): nothing is skipped silently.
    ``errors`` are one-line messages for things that could not be read; a scan with
    errors exits 2 even when it also has findings.
    """

    mode: str  # scan | history | staged | stdin | verify
    target: str
    files_scanned: int = 0
    bytes_scanned: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanResult:
    findings: tuple[Finding, ...]
    summary: ScanSummary
