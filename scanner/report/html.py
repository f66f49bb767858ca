"""HTML report: one self-contained file for the people who decide.

A summary (targets, commits, blobs or files, findings by severity and rule, live keys), then
one card per leaked value with its timeline: first leaked, removed or still in HEAD, exposure
in days, author, verification, use after the leak, blast radius and remediation status when
the finding carries them.

No network: inline CSS and SVG only, no script, font or image is fetched. Rendered by Jinja2
with autoescaping from ``templates/report.html.j2`` (package data), so a path or commit
subject holding markup is shown as text. Jinja2 is imported here, inside :func:`render`, so
``keysweep staged`` never imports it. Values are redacted as in every other format.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from scanner import __version__
from scanner.models import (
    Finding,
    ScanResult,
    Severity,
    shown_paired,
    shown_secret,
    subjects_shown,
)
from scanner.report.table import _size, nothing_found, verification_text

TEMPLATE = "templates/report.html.j2"
_SEVERITIES = [s.value for s in Severity]  # most severe first


@dataclass(frozen=True)
class Mark:
    """A point on a card's timeline: ``x`` in 0..1000 along the report's time axis."""

    x: float
    label: str
    kind: str  # leaked | removed | used | now


@dataclass(frozen=True)
class Card:
    """One finding as the template shows it (all text still unescaped: Jinja2 escapes)."""

    anchor: str
    severity: str
    rule_id: str
    rule_name: str
    value: str
    description: str
    location: str
    facts: list[tuple[str, str]]
    status: list[tuple[str, str]]  # (css class, text): key and code remediation status
    blast_radius: list[tuple[str, str]]
    admin: bool
    marks: list[Mark] = field(default_factory=list)
    bar: tuple[float, float] | None = None  # exposure from x1 to x2
    exposure: str = ""


def render(
    result: ScanResult, *, show_secrets: bool, redact_ids: bool = False, now: datetime | None = None
) -> str:
    import jinja2

    source = resources.files("scanner.report").joinpath(TEMPLATE).read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(source)
    return template.render(
        **context(result, show_secrets=show_secrets, redact_ids=redact_ids, now=now)
    )


def context(
    result: ScanResult,
    *,
    show_secrets: bool,
    redact_ids: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything the template shows, computed here (the template only lays it out)."""
    now = now or datetime.now(UTC)
    s = result.summary
    findings = subjects_shown(result.findings, show_secrets=show_secrets, redact_ids=redact_ids)
    severities = Counter(f.severity.value for f in findings)
    rules = Counter(f.rule_id for f in findings)
    # an audit names every repository it was given, with what became of it
    repositories = [
        {
            "label": r.label,
            "failed": r.status != "ok",
            "state": f"failed: {(r.error or 'unknown error').removeprefix(r.label + ': ')}"
            if r.status != "ok"
            else f"{r.findings} finding{'s' if r.findings != 1 else ''}",
        }
        for r in s.repositories
    ]
    if repositories:
        targets = [s.target]
    else:
        targets = sorted({s.target, *(t for f in findings if (t := _repository(f)))})
    leaked = [d for f in findings if (d := _date(f.commit.date if f.commit else None))]
    start = min(leaked, default=now)
    span = max((now - start).total_seconds(), 1.0)
    cards = [
        _card(
            i,
            f,
            show_secrets=show_secrets,
            redact_ids=redact_ids,
            now=now,
            start=start,
            span=span,
        )
        for i, f in enumerate(sorted(findings, key=_urgency), 1)
    ]
    worst = max((severities[v] for v in _SEVERITIES), default=0) or 1
    return {
        "version": __version__,
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "mode": s.mode,
        "targets": targets,
        "repositories": repositories,
        "unit": f"{s.unit}s",
        "scanned": s.files_scanned,
        "size": _size(s.bytes_scanned),
        "duration": f"{s.duration_s:.2f}s",
        "commits": len({f.commit.sha for f in findings if f.commit}),
        "total": len(findings),
        "live": sum(1 for f in findings if _status(f) == "live"),
        "used_after_leak": sum(
            1 for f in findings if f.verification is not None and f.verification.used_after_leak
        ),
        "in_head": sum(1 for f in findings if f.in_head),
        "severities": [(v, severities[v], 100 * severities[v] / worst) for v in _SEVERITIES],
        "rules": rules.most_common(),
        "cards": cards,
        "axis_start": start.strftime("%Y-%m-%d"),
        "axis_end": now.strftime("%Y-%m-%d"),
        "notes": list(s.notes),
        "errors": list(s.errors),
        "nothing_found": nothing_found(result, "below"),
        "redacted": not show_secrets,
        "redact_ids": redact_ids,
    }


def _urgency(f: Finding) -> tuple[bool, bool, int, bool, str]:
    """Most urgent first: live keys, used after the leak, severity, still in HEAD, then the
    oldest leak."""
    used = f.verification is not None and bool(f.verification.used_after_leak)
    date = f.commit.date if f.commit else ""
    return (
        _status(f) != "live",
        not used,
        _SEVERITIES.index(f.severity.value),
        not f.in_head,
        date,
    )


def _repository(f: Finding) -> str | None:
    value = getattr(f, "repository", None)  # set by multi-repository audits
    return value if isinstance(value, str) else None


def _status(f: Finding) -> str | None:
    return f.verification.status if f.verification is not None else None


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _card(
    index: int,
    f: Finding,
    *,
    show_secrets: bool,
    redact_ids: bool,
    now: datetime,
    start: datetime,
    span: float,
) -> Card:
    facts: list[tuple[str, str]] = []
    for p in f.paired:
        partner = shown_paired(p, show_secrets=show_secrets)
        facts.append((p.kind.replace("_", " "), f"{partner} (line {p.line})"))
    if f.account_id:
        facts.append(("AWS account", f.account_id))
    if f.encoding:
        facts.append(("encoding", f"{f.encoding}-encoded"))
    if f.canary:
        facts.append(("canary", "honeytoken: never sent to AWS"))
    if f.commit is not None:
        facts.append(("author", f"{f.commit.author_name} <{f.commit.author_email}>"))
        facts.append(("commit", f"{f.commit.sha[:12]} {f.commit.subject}"))
    if f.history is not None and f.history.refs:
        facts.append(("refs", _refs(f.history.refs)))
    if f.history is not None and f.history.commit_count:
        facts.append(("commits holding it", str(f.history.commit_count)))
    v = f.verification
    if v is not None:
        facts.append(("verification", verification_text(v)))
        if v.used_after_leak is not None:
            facts.append(("used after leak", "YES" if v.used_after_leak else "no"))

    marks: list[Mark] = []
    bar: tuple[float, float] | None = None
    exposure = ""

    def x_of(when: datetime) -> float:
        return round(1000 * min(max((when - start).total_seconds() / span, 0.0), 1.0), 1)

    leaked = _date(f.commit.date if f.commit else None)
    if leaked is not None:
        removed_commit = f.history.removed_in if f.history is not None else None
        removed = _date(removed_commit.date) if removed_commit else None
        end = removed or now
        days = max((end - leaked).days, 0)
        exposure = f"{days} day{'s' if days != 1 else ''}"
        if f.in_head:
            exposure += " and counting (still in HEAD)"
        elif removed is not None:
            exposure += " in HEAD (still in the history)"
        marks.append(Mark(x_of(leaked), f"leaked {leaked:%Y-%m-%d}", "leaked"))
        if removed is not None:
            marks.append(Mark(x_of(removed), f"removed {removed:%Y-%m-%d}", "removed"))
        used = _date(v.last_used_date) if v is not None else None
        if used is not None:
            marks.append(Mark(x_of(used), f"last used {used:%Y-%m-%d}", "used"))
        bar = (x_of(leaked), x_of(end))

    radius, admin = _blast_radius(f.blast_radius)
    where = f"{f.path}:{f.line}:{f.column}"
    if f.repository is not None:  # audit: many repositories in one report
        where = f"{f.repository} {where}"
    return Card(
        anchor=f"finding-{index}",
        severity=f.severity.value,
        rule_id=f.rule_id,
        rule_name=f.rule_name,
        value=shown_secret(f, show_secrets=show_secrets, redact_ids=redact_ids),
        description=f.description,
        location=where,
        facts=facts,
        status=_remediation(f),
        blast_radius=radius,
        admin=admin,
        marks=marks,
        bar=bar,
        exposure=exposure,
    )


_REFS_SHOWN = 10


def _refs(refs: Sequence[str]) -> str:
    """The refs that hold a value, branches and tags first, at most ``_REFS_SHOWN`` by name:
    a repository with pull-request refs lists thousands (7,795 for one of localstack's keys),
    which made one card pages long. The rest are counted by namespace."""
    rank = {"heads": 0, "tags": 1}
    ordered = sorted(refs, key=lambda r: rank.get(r.split("/")[1] if "/" in r else "", 2))
    shown, hidden = ordered[:_REFS_SHOWN], ordered[_REFS_SHOWN:]
    text = ", ".join(shown)
    if hidden:
        spaces = Counter(_namespace(r) for r in hidden)
        counts = ", ".join(f"{n:,} {space}" for space, n in spaces.most_common())
        text += f" and {len(hidden):,} more ({counts})"
    return text


def _namespace(ref: str) -> str:
    parts = ref.split("/")
    return "/".join(parts[:2]) + "/*" if len(parts) > 2 else ref


def _remediation(f: Finding) -> list[tuple[str, str]]:
    """What is known of the clean-up, and the next step: is the key still usable (an
    unverified one is treated as live), is the value still in code, where in history it
    stays."""
    status: list[tuple[str, str]] = []
    key = _status(f)
    if key == "live":
        status.append(("bad", "key is LIVE: deactivate or rotate it"))
    elif f.verification is not None and f.verification.wrong_secret:
        status.append(("warn", "the key exists, this secret is not its own: treat it as live"))
    elif key in ("invalid", "expired"):
        status.append(("good", f"key no longer works ({key})"))
    elif f.canary or key == "canary":
        status.append(("info", "canary token: its owner was alerted if it was used"))
    else:  # never verified, or AWS could not tell: the only safe assumption
        why = "not verified" if key in (None, "not_checked") else f"verification {key}"
        status.append(("warn", f"{why}: treat it as live, revoke or rotate it"))
    h = f.history
    if h is not None and h.unreachable:
        status.append(("warn", "only in unreachable objects (gone on the next gc / fresh clone)"))
    elif f.message is not None and f.message.kind == "tag":
        status.append(("warn", "in a tag message: delete the tag (and make it anew)"))
    elif f.message is not None:  # no file to edit
        status.append(("warn", "in a commit message: only a history rewrite removes it"))
    elif f.in_head is True:
        status.append(("bad", "still in HEAD"))
    elif f.in_head is False and h is not None and h.removed_in is None:
        status.append(("warn", "never on the default branch, still in history: keysweep remediate"))
    elif f.in_head is False:
        status.append(("warn", "removed from HEAD, still in history: keysweep remediate"))
    return status


def _blast_radius(value: object) -> tuple[list[tuple[str, str]], bool]:
    """Any blast-radius object (a dataclass or a mapping) as (label, text) rows, and whether
    it says the key is admin-equivalent. Rendered generically, field by field, so a new field
    of ``models.BlastRadius`` shows up without a template change."""
    if value is None:
        return [], False
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if not isinstance(value, Mapping):
        return [("blast radius", str(value))], False
    rows: list[tuple[str, str]] = []
    admin = False
    for key, item in value.items():
        label = str(key).replace("_", " ")
        if "admin" in str(key).lower() and item is True:
            admin = True
        rows.append((label, _plain(item)))
    return rows, admin


def _plain(item: object) -> str:
    if item is None:
        return "unknown"
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, Mapping):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in item.items()) or "none"
    if isinstance(item, list | tuple | set | frozenset):
        return ", ".join(_plain(x) for x in item) or "none"
    return str(item)
