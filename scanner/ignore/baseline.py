"""Content-bound baselines: accepted findings that a CI gate should not report again.

A baseline file is JSON Lines: a header line, then one entry per line, sorted by path,
rule id and fingerprint::

    {"keysweep_baseline": 1}
    {"path": "config/old.env", "rule_id": "aws-access-key-id", "fingerprint": "3f0c…",
     "reason": "rotated 2024-03", "owner": "ops", "expires": "2027-01-01"}

(each entry is ONE line in the file; wrapped here for reading).

An entry is bound to the secret's CONTENT (``fingerprint`` = hash of rule id and secret,
never the secret itself) and to the file it lives in. There are no line numbers and no
timestamps, so moving code within a file never revives a finding, a different secret on a
listed line is still reported, and two branches adding entries touch different lines of a
sorted file (add ``<file> merge=union`` to ``.gitattributes`` and even entries landing at the
same spot merge cleanly: the loader accepts any order and identical duplicates).

Matching a finding against the baseline:

- same fingerprint and path, not expired  -> suppressed;
- same fingerprint and path, expired      -> reported, note "baseline entry expired on …";
- same fingerprint at other paths only    -> reported, note "already known in the baseline
  at …" (the secret has spread).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from scanner.atomic import write_output
from scanner.errors import BaselineError
from scanner.models import Finding
from scanner.schema import Node, Problem

FORMAT_VERSION = 1
HEADER_KEY = "keysweep_baseline"
DEFAULT_FILENAME = ".keysweep-baseline.jsonl"
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{32}")
_REQUIRED = ("path", "rule_id", "fingerprint")
_OPTIONAL = ("reason", "owner", "expires")
_MAX_SPREAD_PATHS = 3


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted secret in one file. Holds a hash, never the secret."""

    path: str
    rule_id: str
    fingerprint: str
    reason: str | None = None
    owner: str | None = None
    expires: date | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.fingerprint, self.path)

    def sort_key(self) -> tuple[str, str, str]:
        return (self.path, self.rule_id, self.fingerprint)

    def expired(self, today: date) -> bool:
        """An entry stops suppressing on its ``expires`` date."""
        return self.expires is not None and today >= self.expires

    def to_json(self) -> str:
        data: dict[str, str] = {
            "path": self.path,
            "rule_id": self.rule_id,
            "fingerprint": self.fingerprint,
        }
        if self.reason is not None:
            data["reason"] = self.reason
        if self.owner is not None:
            data["owner"] = self.owner
        if self.expires is not None:
            data["expires"] = self.expires.isoformat()
        return json.dumps(data, ensure_ascii=False)


@dataclass(frozen=True)
class Baseline:
    entries: tuple[BaselineEntry, ...] = ()
    source: Path | None = None

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.entries, key=BaselineEntry.sort_key))
        object.__setattr__(self, "entries", ordered)

    def dumps(self) -> str:
        lines = [json.dumps({HEADER_KEY: FORMAT_VERSION})]
        lines.extend(entry.to_json() for entry in self.entries)
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BaselineOutcome:
    """Findings left to report after a baseline, and what the baseline did."""

    findings: tuple[Finding, ...]
    suppressed: int = 0
    expired: int = 0
    spread: int = 0


# --------------------------------------------------------------------------- paths


def normalize_path(path: str) -> str:
    """The form paths take in a baseline: ``/`` separators, no leading ``./``."""
    normal = path.replace("\\", "/")
    while normal.startswith("./"):
        normal = normal[2:]
    return normal


PathKey = Callable[[Finding], str]
"""How a finding's path is keyed in the baseline (the CLI makes file paths root-relative)."""


def finding_path(finding: Finding) -> str:
    return normalize_path(finding.path)


# --------------------------------------------------------------------------- reading


def load_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file. Any problem is a one-line :class:`BaselineError`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BaselineError(f"baseline {path}: file not found") from None
    except UnicodeDecodeError:
        raise BaselineError(f"baseline {path}: not UTF-8 text") from None
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot read: {exc.strerror or exc}") from None
    return parse_baseline(text, path)


def parse_baseline(text: str, source: Path) -> Baseline:
    entries: dict[tuple[str, str], tuple[int, BaselineEntry]] = {}
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"baseline {source} line {number}"
        if line.startswith(("<<<<<<<", "=======", ">>>>>>>", "|||||||")):
            raise BaselineError(f"{where}: unresolved merge conflict marker")
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{where}: invalid JSON ({exc.msg})") from None
        except RecursionError:  # `[[[[...` thousands deep: it was "internal error"
            raise BaselineError(f"{where}: invalid JSON (nested too deeply)") from None
        except ValueError:  # a number of 4,301+ digits (Python's int limit)
            raise BaselineError(f"{where}: invalid JSON (a number too long)") from None
        if not header_seen:
            if (
                not isinstance(data, dict)
                or data.get(HEADER_KEY) != FORMAT_VERSION
                or len(data) != 1
            ):
                raise BaselineError(
                    f"{where}: not a keysweep baseline "
                    f'(first line must be {{"{HEADER_KEY}": {FORMAT_VERSION}}})'
                )
            header_seen = True
            continue
        if not isinstance(data, dict):
            raise BaselineError(f"{where}: expected a JSON object")
        if HEADER_KEY in data and len(data) == 1:
            if data[HEADER_KEY] != FORMAT_VERSION:
                raise BaselineError(f"{where}: unsupported baseline version")
            continue  # a repeated header (e.g. after concatenation) is harmless
        entry = _parse_entry(data, where)
        previous = entries.get(entry.key)
        if previous is not None and previous[1] != entry:
            raise BaselineError(
                f"{where}: conflicting entries for fingerprint {entry.fingerprint} at "
                f"{entry.path} (also line {previous[0]}); keep one of them"
            )
        entries.setdefault(entry.key, (number, entry))
    if not header_seen:
        raise BaselineError(f"baseline {source}: empty file (expected a header line)")
    return Baseline(tuple(entry for _, entry in entries.values()), source)


def _parse_entry(data: dict[str, Any], where: str) -> BaselineEntry:
    def fail(key: str, problem: Problem) -> BaselineError:
        if problem.kind == "missing":
            return BaselineError(f"{where}: missing key '{key}'")
        if problem.kind == "unknown":
            return BaselineError(f"{where}: unknown key '{key}'")
        if problem.kind == "type":
            return BaselineError(f"{where}: key '{key}' must be {problem.expected}")
        return BaselineError(f"{where}: key '{key}' {problem}")

    entry = Node(data, "", fail).table((*_REQUIRED, *_OPTIONAL))
    path, rule_id, fingerprint = (entry.at(name).string() for name in _REQUIRED)
    if not _FINGERPRINT_RE.fullmatch(fingerprint):
        raise entry.at("fingerprint").fail("must be 32 lowercase hex digits")
    expires: date | None = None
    if "expires" in entry:
        value = entry.at("expires").value
        try:
            if not isinstance(value, str):
                raise ValueError
            expires = date.fromisoformat(value)
        except ValueError:
            raise entry.at("expires").fail("must be an ISO date (YYYY-MM-DD)") from None
    return BaselineEntry(
        path=normalize_path(path),
        rule_id=rule_id,
        fingerprint=fingerprint,
        reason=entry.at("reason").string(default=None, empty_ok=True),
        owner=entry.at("owner").string(default=None, empty_ok=True),
        expires=expires,
    )


def require_baseline_to_replace(path: Path) -> None:
    """``baseline create --force`` replaces a baseline, never another file: one whose first
    line is no baseline header (the scanned ``.env``, named by mistake) is refused. It was
    replaced, and a credential file kept nowhere else was lost. An empty or unreadable file
    is left to the writer."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8-sig", "replace")
    except OSError:
        return
    first = next((line.strip() for line in head.splitlines() if line.strip()), "")
    try:
        header = json.loads(first) if first else {HEADER_KEY: FORMAT_VERSION}
    except ValueError:
        header = None
    if not isinstance(header, dict) or HEADER_KEY not in header:
        raise BaselineError(
            f"baseline {path} exists and is not a keysweep baseline; --force replaces only "
            "a baseline (delete the file first to replace it)"
        )


def write_baseline(path: Path, baseline: Baseline) -> None:
    """Write atomically: a reader sees the old baseline or the new one."""
    write_output(path, baseline.dumps())


# --------------------------------------------------------------------------- building


def entries_for(
    findings: Iterable[Finding], *, path_key: PathKey = finding_path
) -> list[BaselineEntry]:
    seen: dict[tuple[str, str], BaselineEntry] = {}
    for finding in findings:
        entry = BaselineEntry(
            path=path_key(finding), rule_id=finding.rule_id, fingerprint=finding.fingerprint
        )
        seen.setdefault(entry.key, entry)
    return list(seen.values())


def create_baseline(findings: Iterable[Finding], *, path_key: PathKey = finding_path) -> Baseline:
    return Baseline(tuple(entries_for(findings, path_key=path_key)))


def update_baseline(
    baseline: Baseline, findings: Iterable[Finding], *, path_key: PathKey = finding_path
) -> tuple[Baseline, int]:
    """Add entries for new findings; existing entries keep reason/owner/expires.

    Returns the new baseline and the number of entries added.
    """
    known = {entry.key for entry in baseline.entries}
    added = [e for e in entries_for(findings, path_key=path_key) if e.key not in known]
    return Baseline(baseline.entries + tuple(added), baseline.source), len(added)


def rebuild_baseline(
    existing: Baseline | None, findings: Iterable[Finding], action: str, path_key: PathKey
) -> tuple[Baseline, str]:
    """``create`` (no ``existing``), ``update`` or ``prune`` a baseline from a scan's findings;
    returns the new baseline and a note saying how many entries it has."""
    if existing is None:
        baseline = create_baseline(findings, path_key=path_key)
        return baseline, f"{len(baseline.entries)} entries"
    if action == "prune":
        baseline, removed = prune_baseline(existing, findings, path_key=path_key)
        return baseline, f"{len(baseline.entries)} entries ({removed} removed)"
    baseline, added = update_baseline(existing, findings, path_key=path_key)
    return baseline, f"{len(baseline.entries)} entries ({added} added)"


def prune_baseline(
    baseline: Baseline, findings: Iterable[Finding], *, path_key: PathKey = finding_path
) -> tuple[Baseline, int]:
    """Drop entries whose secret no longer appears at their path. Returns (baseline, removed)."""
    present = {entry.key for entry in entries_for(findings, path_key=path_key)}
    kept = tuple(entry for entry in baseline.entries if entry.key in present)
    return Baseline(kept, baseline.source), len(baseline.entries) - len(kept)


# --------------------------------------------------------------------------- applying


def today_utc() -> date:
    return datetime.now(UTC).date()


def apply_baseline(
    findings: Sequence[Finding],
    baseline: Baseline,
    *,
    today: date | None = None,
    path_key: PathKey = finding_path,
) -> BaselineOutcome:
    """Suppress what the baseline accepts; annotate expired and spread secrets."""
    day = today or today_utc()
    by_key = {entry.key: entry for entry in baseline.entries}
    paths_by_fingerprint: dict[str, list[str]] = {}
    for entry in baseline.entries:
        paths_by_fingerprint.setdefault(entry.fingerprint, []).append(entry.path)

    kept: list[Finding] = []
    suppressed = expired = spread = 0
    for finding in findings:
        fingerprint = finding.fingerprint
        path = path_key(finding)
        listed = by_key.get((fingerprint, path))
        if listed is not None:
            if not listed.expired(day):
                suppressed += 1
                continue
            expired += 1
            note = f"baseline entry expired on {listed.expires}"
            if listed.owner:
                note += f" (owner: {listed.owner})"
            kept.append(replace(finding, notes=(*finding.notes, note)))
            continue
        elsewhere = paths_by_fingerprint.get(fingerprint)
        if elsewhere:
            spread += 1
            shown = ", ".join(elsewhere[:_MAX_SPREAD_PATHS])
            more = len(elsewhere) - _MAX_SPREAD_PATHS
            if more > 0:
                shown += f" and {more} more"
            note = f"same secret already known in the baseline at {shown}; it has spread"
            kept.append(replace(finding, notes=(*finding.notes, note)))
            continue
        kept.append(finding)
    return BaselineOutcome(tuple(kept), suppressed=suppressed, expired=expired, spread=spread)
