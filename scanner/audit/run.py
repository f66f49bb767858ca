"""The audit itself: resume what finished, run the rest on an engine, store each result as it
arrives, consolidate everything into one report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scanner.audit.engines import Engine
from scanner.audit.inputs import RepoInput
from scanner.audit.store import ResultStore, repository_summary
from scanner.audit.task import FAILED, RepoOutcome, RepoSpec, ScanSettings
from scanner.models import Finding, RepositoryStatus, ScanMode, ScanResult, ScanSummary


class AuditProgress(Protocol):
    def start(self, total: int) -> None: ...
    def done(self, outcome: RepoOutcome) -> None: ...


@dataclass(frozen=True)
class AuditReport:
    """One ScanResult for the reporters (mode ``audit``; a failed repository is one error
    line), plus the per-repository outcomes in input order."""

    result: ScanResult
    outcomes: tuple[RepoOutcome, ...]

    @property
    def failed(self) -> tuple[RepoOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == FAILED)

    def with_findings(self, findings: Sequence[Finding]) -> AuditReport:
        from dataclasses import replace

        return replace(self, result=replace(self.result, findings=tuple(findings)))

    def to_dict(self, *, show_secrets: bool, redact_ids: bool = False) -> dict[str, Any]:
        """The ``history`` JSON schema, plus ``repositories`` and ``totals``."""
        from scanner.report.json import to_dict

        data = to_dict(self.result, show_secrets=show_secrets, redact_ids=redact_ids)
        findings = self.result.findings
        data["repositories"] = [repository_summary(o) for o in self.outcomes]
        data["totals"] = {
            "repositories": len(self.outcomes),
            "failed": len(self.failed),
            "findings": len(findings),
            "by_rule": dict(sorted(Counter(f.rule_id for f in findings).items())),
            "by_severity": dict(sorted(Counter(f.severity.value for f in findings).items())),
        }
        return data


def consolidate(outcomes: Sequence[RepoOutcome], target: str, duration_s: float) -> AuditReport:
    findings: list[Finding] = []
    skipped: Counter[str] = Counter()
    notes: list[str] = []
    errors: list[str] = []
    blobs = nbytes = 0
    for outcome in outcomes:
        summary = outcome.result.summary
        findings.extend(outcome.result.findings)
        skipped.update(summary.skipped)
        blobs += summary.files_scanned
        nbytes += summary.bytes_scanned
        notes.extend(f"{outcome.repo.label}: {note}" for note in summary.notes)
        if outcome.status == FAILED:
            error = outcome.error or "failed"
            label = outcome.repo.label
            errors.append(error if error.startswith(f"{label}: ") else f"{label}: {error}")
    summary = ScanSummary(
        mode=ScanMode.AUDIT,
        target=target,
        files_scanned=blobs,
        bytes_scanned=nbytes,
        skipped=dict(skipped),
        duration_s=duration_s,
        notes=tuple(notes),
        errors=tuple(errors),
        repositories=tuple(
            RepositoryStatus(o.repo.label, o.status, len(o.result.findings), o.error)
            for o in outcomes
        ),
    )
    return AuditReport(ScanResult(tuple(findings), summary), tuple(outcomes))


def run_audit(
    repos: Sequence[RepoInput],
    settings: ScanSettings,
    engine: Engine,
    *,
    store: ResultStore | None = None,
    resume: bool = False,
    timeout: float | None = None,
    show_secrets: bool = False,
    progress: AuditProgress | None = None,
) -> AuditReport:
    """Audit ``repos``; each result is stored as it completes, so an interrupted audit
    (KeyboardInterrupt propagates) keeps what finished and ``resume`` rescans none of it."""
    started = time.monotonic()
    outcomes: dict[str, RepoOutcome] = {}
    if progress is not None:
        progress.start(len(repos))
    todo: list[RepoSpec] = []
    for repo in repos:
        previous = store.finished(repo) if store is not None and resume else None
        if previous is not None:
            outcomes[repo.key] = previous
            if progress is not None:
                progress.done(previous)
        else:
            todo.append(RepoSpec(repo, settings, timeout))

    def on_done(outcome: RepoOutcome) -> None:
        outcomes[outcome.repo.key] = outcome
        if store is not None:
            store.save(outcome, show_secrets=show_secrets)
        if progress is not None:
            progress.done(outcome)

    if todo:
        engine.run(todo, on_done)
    ordered = [outcomes[r.key] for r in repos]
    target = f"{len(repos)} repositories" if len(repos) != 1 else repos[0].label
    return consolidate(ordered, target, time.monotonic() - started)
