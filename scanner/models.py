"""The values that flow through keysweep: Fragment in, Finding out.

    sources -> Fragment -> detect -> Finding -> ignore/baseline -> verify -> report -> exit code

Everything here is frozen. Later stages derive new values with ``dataclasses.replace``.
This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Protocol


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Source(StrEnum):
    """Where a fragment (and so a finding) was read from."""

    FILE = "file"
    STDIN = "stdin"
    STAGED = "staged"
    HISTORY = "history"


class PairKind(StrEnum):
    """What the other half of an access key ID is."""

    SECRET_ACCESS_KEY = "secret_access_key"
    SESSION_TOKEN = "session_token"


class ScanMode(StrEnum):
    """Which command produced a scan result."""

    SCAN = "scan"
    HISTORY = "history"
    AUDIT = "audit"  # many repositories' history scans, consolidated
    STAGED = "staged"
    STDIN = "stdin"
    VERIFY = "verify"


class Confidence(StrEnum):
    """How sure a rule is that a match is a secret (surest first)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


CONFIDENCE_LEVELS = tuple(level.value for level in Confidence)  # surest first
# Findings less sure than this are not reported unless --min-confidence / scan.min_confidence
# says otherwise; chosen by measurement on clean trees (docs/rules.md, "Confidence").
DEFAULT_MIN_CONFIDENCE = Confidence.MEDIUM


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
    UTF-16/32 when a BOM says so), so a prefilter can reject ``raw`` without decoding it.
    """

    raw: bytes
    path: str
    source: Source = Source.FILE
    blob_id: str | None = None

    @cached_property
    def text(self) -> str:
        return decode_bytes(self.raw)

    @classmethod
    def from_text(cls, text: str, path: str = "<text>", source: Source = Source.FILE) -> Fragment:
        frag = cls(raw=text.encode("utf-8", "surrogatepass"), path=path, source=source)
        frag.__dict__["text"] = text
        return frag


# Byte-order marks keysweep decodes, longest first (the UTF-32 LE mark starts with UTF-16 LE's).
TEXT_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_LONE_CR = re.compile(r"\r(?!\n)")
_LONE_CR_BYTES = re.compile(rb"\r(?!\n)")


def lone_crs_to_lf(data: bytes) -> bytes:
    """``data`` with each CR that no LF follows made an LF (one byte for one)."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return _LONE_CR_BYTES.sub(b"\n", data)
    return data


_BOM_LEADS = frozenset(bom[0] for bom, _ in TEXT_BOMS)


def bom_of(raw: bytes) -> tuple[bytes, str] | None:
    """The byte-order mark ``raw`` starts with and its codec, or ``None``. Asked of every
    file and blob, several times (prefilter, detector): most start with no mark's first byte."""
    if not raw or raw[0] not in _BOM_LEADS:
        return None
    for bom, codec in TEXT_BOMS:
        if raw.startswith(bom):
            return bom, codec
    return None


BINARY_SNIFF_BYTES = 8192  # how much of a file or blob tells text from binary


def is_binary(head: bytes) -> bool:
    """True for content that is not text: a NUL byte in its first 8 KiB, except in UTF-16/32
    with a BOM. ``head`` may be the whole content (nothing is copied)."""
    return head.find(0, 0, BINARY_SNIFF_BYTES) >= 0 and bom_of(head) is None


# Printable ASCII, 16 bytes in a row: never in UTF-16 or UTF-32 text (each ASCII character
# there comes with a NUL byte), and as short as the shortest secret the rules report.
_EIGHT_BIT_RUN = re.compile(rb"[\x21-\x7e]{16}")


def eight_bit_body(raw: bytes) -> bytes | None:
    """The bytes after a UTF-16 or UTF-32 byte-order mark when they hold a run of printable
    ASCII, which decoding by the mark would garble: a file that only starts like UTF-16 (an
    ASCII file appended to one, or a mark put there to hide what follows). Scanned as bytes
    too, beside the decoded text; None for every other input."""
    found = bom_of(raw)
    if found is None or found[1] == "utf-8":
        return None
    body = raw[len(found[0]) :]
    return body if _EIGHT_BIT_RUN.search(body) else None


def decode_bytes(raw: bytes) -> str:
    """Decode file content for scanning: BOM-aware (UTF-8/16/32), never raises.

    Lone CR line ends (classic Mac) become LF, one for one, so offsets stay put and line
    and column numbers count lines the way an editor does.
    """
    found = bom_of(raw)
    if found is None:
        # CR is one byte of UTF-8 that no other character's bytes contain: changing it in the
        # bytes gives the same text without a second copy of the text (four bytes a
        # character once one lies outside the BMP: 15 MB for one 4 MB file of aws/aws-cli)
        return lone_crs_to_lf(raw).decode("utf-8", "replace")
    bom, codec = found
    text = raw[len(bom) :].decode(codec, "replace")
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        text = _LONE_CR.sub("\n", text)
    return text


@dataclass(frozen=True, slots=True)
class PairedSecret:
    """A secret found near an access key ID: the other half of the credential.

    ``distance`` is in lines (0 = same line); candidates are ordered nearest first.
    """

    kind: PairKind
    rule_id: str
    secret: str
    line: int
    distance: int
    sealed: str | None = None  # see Finding.sealed

    @property
    def fingerprint(self) -> str:
        return self.sealed or fingerprint_of(self.rule_id, self.secret)

    @property
    def redacted(self) -> str:
        return self.secret if self.sealed else redact(self.secret)

    def seal(self) -> PairedSecret:
        return (
            self
            if self.sealed
            else replace(self, secret=redact(self.secret), sealed=self.fingerprint)
        )


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    date: str  # ISO 8601, author date
    subject: str = ""


@dataclass(frozen=True, slots=True)
class HistoryInfo:
    """Where a secret lives in history, beyond the commit that introduced it."""

    commit_count: int = 0
    refs: tuple[str, ...] = ()
    removed_in: CommitInfo | None = None
    unreachable: bool = False


class VerificationStatus(StrEnum):
    """What AWS said about a key (see scanner.verify for each state)."""

    LIVE = "live"
    INVALID = "invalid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    CANARY = "canary"
    SKIPPED = "skipped"
    NOT_CHECKED = "not_checked"


COMMIT_MESSAGE_PATH = "<commit message>"
TAG_MESSAGE_PATH = "<tag message>"


@dataclass(frozen=True)
class MessageLocation:
    """A secret in a commit message or an annotated tag's message, not in a file.

    ``kind`` is ``commit`` or ``tag``; ``object_id`` is the commit or the tag object; ``ref`` is
    the tag's ref name (``refs/tags/v1``) for a tag message. The finding's ``path`` is
    ``<commit message>`` or ``<tag message>`` and its line and column count within the message
    (line 1 is the subject).
    """

    kind: str
    object_id: str
    ref: str | None = None


@dataclass(frozen=True)
class Verification:
    """Outcome of asking AWS about a key (see scanner.verify)."""

    status: VerificationStatus
    account: str | None = None
    arn: str | None = None
    user_id: str | None = None
    detail: str = ""
    secret_fingerprint: str | None = None  # which paired secret verified (never the secret)
    last_used_date: str | None = None
    last_used_region: str | None = None
    last_used_service: str | None = None
    used_after_leak: bool | None = None

    @property
    def wrong_secret(self) -> bool:
        """``invalid`` because the secret beside the key ID is not its secret
        (SignatureDoesNotMatch): AWS knows the key, which may well be live with its own."""
        return self.status == "invalid" and self.detail.startswith("SignatureDoesNotMatch")


class PrincipalKind(StrEnum):
    """Who a live key acts as (from its verification ARN)."""

    ROOT = "root"
    IAM_USER = "iam-user"
    ASSUMED_ROLE = "assumed-role"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BlastRadius:
    """What a live AWS key can do, read with the operator's credentials (verify.blast_radius).

    ``attached_policies``/``inline_policies`` name each policy, with ``(group G)`` or
    ``(role R)`` when it reaches the key through a group or role. ``grants`` lists what makes
    the key admin-equivalent (``POLICY: Action on Resource``); ``high_risk_actions_allowed``
    are the actions iam:SimulatePrincipalPolicy allowed. ``None`` means not known (the call
    failed: see ``errors``, one line per failed call).
    """

    principal: PrincipalKind
    arn: str | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    attached_policies: tuple[str, ...] = ()
    inline_policies: tuple[str, ...] = ()
    admin_equivalent: bool | None = False  # None: the policies could not all be read
    grants: tuple[str, ...] = ()
    high_risk_actions_allowed: tuple[str, ...] | None = None
    mfa_enabled: bool | None = None
    other_active_keys: tuple[str, ...] | None = None
    errors: tuple[str, ...] = ()

    @property
    def raises_severity(self) -> bool:
        """A root key or an admin-equivalent key: the finding is critical."""
        return self.principal == PrincipalKind.ROOT or self.admin_equivalent is True

    def summary(self) -> str:
        """One line for table, SARIF, GitHub and GitLab: ``blast radius: ROOT KEY; ...``."""
        if self.principal == PrincipalKind.ROOT:
            head = "ROOT KEY (no policy can limit it)"
        elif self.admin_equivalent:
            head = "ADMIN-EQUIVALENT: " + ", ".join(self.grants)
        elif self.admin_equivalent is None:
            head = f"{self.principal}, admin-equivalent UNKNOWN (its policies were not all read)"
        else:
            head = f"{self.principal}, not admin-equivalent"
        parts = [f"blast radius: {head}"]
        if self.raises_severity:
            parts.append("severity raised to critical")
        if self.groups:
            parts.append("groups " + ", ".join(self.groups))
        if self.high_risk_actions_allowed:
            parts.append("allows " + ", ".join(self.high_risk_actions_allowed))
        if self.mfa_enabled is not None:
            parts.append("MFA on" if self.mfa_enabled else "no MFA")
        if self.other_active_keys:
            parts.append("other active keys " + ", ".join(self.other_active_keys))
        if self.errors:
            parts.append(f"incomplete: {len(self.errors)} error(s)")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret at one location.

    ``secret`` holds the real value; reporters show it through :func:`shown_secret`.
    ``identifier`` comes from the rule (``identifier: true`` in its pack): the value names a
    credential without granting anything (an AWS access key ID), so reports show it in full.
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
    source: Source = Source.FILE
    blob_id: str | None = None
    # set when found after decoding: base64 | percent | json-escape | hex-escape | html-entity
    # | jwt, or nested (base64+json-escape)
    encoding: str | None = None
    paired: tuple[PairedSecret, ...] = ()
    account_id: str | None = None  # decoded offline from an AWS key ID, when possible
    canary: bool = False
    commit: CommitInfo | None = None
    in_head: bool | None = None
    history: HistoryInfo | None = None
    verification: Verification | None = None
    notes: tuple[str, ...] = field(default=())
    identifier: bool = False
    message: MessageLocation | None = None  # set for secrets in commit and tag messages
    repository: str | None = None  # audit: the repository path or URL (user-info redacted)
    # The real secret's fingerprint when ``secret`` holds only its redacted form: a finding
    # that crossed a process or disk boundary without --show-secrets (audit results).
    sealed: str | None = None
    blast_radius: BlastRadius | None = None
    confidence: str | None = None  # high | medium | low: the rule's (see Confidence)
    # Set for a file inside an archive or database: ``path`` is FILE!MEMBER, and ``line`` and
    # ``column`` count in the member (``lambda.zip!handler.py``: member ``handler.py``).
    member: str | None = None

    @property
    def file_path(self) -> str:
        """The file that holds the finding: ``path`` without the member inside it."""
        if self.member and self.path.endswith("!" + self.member):
            return self.path[: -len(self.member) - 1]
        return self.path

    @property
    def fingerprint(self) -> str:
        return self.sealed or fingerprint_of(self.rule_id, self.secret)

    @property
    def redacted(self) -> str:
        return self.secret if self.sealed else redact(self.secret)

    def seal(self) -> Finding:
        """This finding with its secrets redacted and their fingerprints kept (for dedup,
        baselines and SARIF); a sealed finding can be reported but not verified."""
        if self.sealed:
            return self
        if self.identifier:  # an access key ID is shown in reports anyway: keep it
            return replace(self, paired=tuple(p.seal() for p in self.paired))
        return replace(
            self,
            secret=self.redacted,
            sealed=self.fingerprint,
            paired=tuple(p.seal() for p in self.paired),
        )


def with_pairs_of(finding: Finding, other: Finding) -> Finding:
    """``finding`` also paired with what ``other`` (the same secret at another place) pairs
    it with, nearest first."""
    known = {(p.kind, p.secret) for p in finding.paired}
    more = [p for p in other.paired if (p.kind, p.secret) not in known]
    if not more:
        return finding
    paired = sorted([*finding.paired, *more], key=lambda p: p.distance)
    return replace(finding, paired=tuple(paired))


def fingerprint_of(rule_id: str, secret: str) -> str:
    """Stable content hash of a secret under a rule: no line, no path, no time.

    The same value serves baseline entries, the JSON report and SARIF ``properties``; SARIF
    ``partialFingerprints`` adds the place to it (``scanner.report.sarif``).
    """
    digest = hashlib.sha256(f"keysweep:v1:{rule_id}:{secret}".encode()).hexdigest()
    return digest[:32]


def redact(secret: str) -> str:
    """A short prefix and the length: enough to recognise a key, never enough to use it."""
    shown = min(4, len(secret) // 5)
    return f"{secret[:shown]}…({len(secret)} chars)"


def shown_secret(finding: Finding, *, show_secrets: bool, redact_ids: bool = False) -> str:
    """The one redaction rule for every report format.

    Secrets are redacted unless ``show_secrets``; identifiers (an AWS access key ID: AWS shows
    it in the console and in CloudTrail, and a responder needs it) are shown in full unless
    ``redact_ids``. Paired secrets are never identifiers: use :func:`shown_paired`.
    """
    if show_secrets or (finding.identifier and not redact_ids):
        return finding.secret
    return finding.redacted


def shown_paired(secret: PairedSecret, *, show_secrets: bool) -> str:
    """A paired secret (secret access key, session token) as a report shows it."""
    return secret.secret if show_secrets else secret.redacted


def identifier_shown(finding: Finding, *, show_secrets: bool, redact_ids: bool = False) -> bool:
    """True when a report shows ``finding.secret`` in full because it is an identifier."""
    return finding.identifier and (show_secrets or not redact_ids)


def is_redacted(value: str) -> bool:
    """True for what :func:`redact` writes: a value read back from a redacted report is a
    placeholder, never a secret to sign with."""
    head, sep, tail = value.rpartition("…(")
    return bool(sep) and len(head) <= 4 and tail.endswith(" chars)") and tail[:-7].isdigit()


def redact_subjects(findings: Sequence[Finding], *, identifiers: bool = False) -> list[Finding]:
    """``findings`` with every secret they hold redacted in the subjects of their commits
    (``commit`` and ``history.removed_in``): "rotated creds AKIA... wJal..." is a message
    finding's own subject, and a report must not print there what it redacts everywhere else.
    Identifiers (access key IDs) too when ``identifiers`` (``--redact-ids``)."""
    values = {f.secret for f in findings if identifiers or not f.identifier}
    values |= {p.secret for f in findings for p in f.paired}
    secrets = sorted((v for v in values if v and not is_redacted(v)), key=len, reverse=True)
    if not secrets:
        return list(findings)
    scrub = _SubjectScrubber(secrets)
    cleaned: dict[str, CommitInfo] = {}

    def clean(commit: CommitInfo | None) -> CommitInfo | None:
        if commit is None:
            return None
        if commit.sha not in cleaned:
            subject = scrub(commit.subject)
            changed = subject != commit.subject
            cleaned[commit.sha] = replace(commit, subject=subject) if changed else commit
        return cleaned[commit.sha]

    # a finding whose subjects hold no secret is kept as it is: a copy of each would double
    # the findings in memory (a history of 330,000 of them)
    out: list[Finding] = []
    for f in findings:
        history = f.history
        if history is not None and history.removed_in is not None:
            removed_in = clean(history.removed_in)
            if removed_in is not history.removed_in:
                history = replace(history, removed_in=removed_in)
        commit = clean(f.commit)
        same = commit is f.commit and history is f.history
        out.append(f if same else replace(f, commit=commit, history=history))
    return out


class _SubjectScrubber:
    """A subject with each of ``secrets`` in it redacted, a longer one first (it may contain a
    shorter one): what replacing every secret in turn gives, without trying every secret on
    every subject. A history with a secret in each of thousands of commits made that a product
    of two large numbers; the secrets in a subject are found either way, whichever is fewer
    steps: each secret tried on it, or each of its substrings of a secret's length looked up."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._rank = {secret: i for i, secret in enumerate(secrets)}  # the replacing order
        self._lengths = sorted({len(secret) for secret in secrets})

    def __call__(self, subject: str) -> str:
        done = -1
        pending = self._in(subject, done)
        while pending:
            secret = pending.pop(0)
            done = self._rank[secret]
            subject = subject.replace(secret, redact(secret))
            pending = self._in(subject, done)  # the redacted text may complete a shorter one
        return subject

    def _in(self, text: str, after: int) -> list[str]:
        """The secrets in ``text`` ranked after ``after``, in the replacing order."""
        rank = self._rank
        lengths = [n for n in self._lengths if n <= len(text)]
        if len(rank) <= len(text) * len(lengths):
            found = [s for s in rank if s in text]
        else:
            windows = {text[i : i + n] for n in lengths for i in range(len(text) - n + 1)}
            found = [s for s in windows if s in rank]
        return sorted((s for s in found if rank[s] > after), key=rank.__getitem__)


def subjects_shown(
    findings: Sequence[Finding], *, show_secrets: bool, redact_ids: bool = False
) -> Sequence[Finding]:
    """The findings as a report shows their commit subjects: a history scan redacted the
    secrets there already (:func:`redact_subjects`); ``redact_ids`` hides the identifiers too."""
    if redact_ids and not show_secrets:
        return redact_subjects(findings, identifiers=True)
    return findings


@dataclass(frozen=True)
class RepositoryStatus:
    """One repository of an audit, for the reports that list them (``status`` ok or failed)."""

    label: str
    status: str
    findings: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ScanSummary:
    """What a scan looked at, for the JSON ``scan`` object and the table footer.

    ``skipped`` counts what was passed over, by reason (binary, too_large, unreadable,
    symlink_outside, missing_blob, ...): nothing is skipped silently.
    ``errors`` are one-line messages for things that could not be read; a scan with
    errors exits 2 even when it also has findings.
    """

    mode: ScanMode
    target: str
    files_scanned: int = 0
    bytes_scanned: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    repositories: tuple[RepositoryStatus, ...] = ()  # audit: each one, in input order

    @property
    def unit(self) -> str:
        """What ``files_scanned`` counts: ``blob`` for history and audit (each distinct blob is
        read once, whatever paths and commits hold it), else ``file``."""
        return "blob" if self.mode in (ScanMode.HISTORY, ScanMode.AUDIT) else "file"


@dataclass(frozen=True)
class ScanResult:
    findings: tuple[Finding, ...]
    summary: ScanSummary


class FragmentScanner(Protocol):
    """What every source needs from the detector (``scanner.detect.Detector`` is one):
    a cheap prefilter on raw bytes, then the findings of a fragment."""

    def wants(self, raw: bytes, path: str | None = None) -> bool: ...

    def scan(self, fragment: Fragment) -> list[Finding]: ...

    @property
    def prefilter_backend(self) -> str:
        """The per-byte engine: ``hyperscan``, or ``re2`` (about twice as slow a byte)."""
        ...
