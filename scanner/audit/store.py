"""Audit results on disk: ``DIR/repos/<key>.json`` per repository, written atomically as each
completes, and ``DIR/report.json`` at the end. A repository file is a ``history`` JSON report
(findings sealed unless --show-secrets) plus an ``audit_repository`` object; ``--resume``
reads back the ones that finished under the same settings and rescans only the rest."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.atomic import write_output
from scanner.audit.inputs import RepoInput
from scanner.audit.task import OK, RepoOutcome
from scanner.errors import InputError, OutputError
from scanner.report import json as json_report


def repository_summary(outcome: RepoOutcome) -> dict[str, Any]:
    s = outcome.result.summary
    return {
        "repository": outcome.repo.label,
        "status": outcome.status,
        "duration_s": round(outcome.duration_s, 3),
        "blobs": s.files_scanned,
        "bytes": s.bytes_scanned,
        "findings": outcome.findings,
        "error": outcome.error,
        "resumed": outcome.resumed,
    }


class ResultStore:
    def __init__(self, directory: str | Path, settings_identity: str) -> None:
        self.directory = Path(directory)
        self.repos = self.directory / "repos"
        self.identity = settings_identity
        try:
            self.repos.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"--output-dir {self.directory}: cannot create: {exc.strerror or exc}"
            ) from None

    def path_for(self, repo: RepoInput) -> Path:
        return self.repos / f"{repo.key}.json"

    def save(self, outcome: RepoOutcome, *, show_secrets: bool) -> None:
        data = json_report.to_dict(outcome.result, show_secrets=show_secrets)
        data["audit_repository"] = repository_summary(outcome) | {"settings": self.identity}
        _write(self.path_for(outcome.repo), data, private=show_secrets)

    def finished(self, repo: RepoInput) -> RepoOutcome | None:
        """The stored outcome of ``repo`` if it finished (status ok) under these settings."""
        path = self.path_for(repo)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            return None  # a damaged file: scan again
        meta = data.get("audit_repository") if isinstance(data, dict) else None
        if not isinstance(meta, dict) or meta.get("status") != OK:
            return None
        if meta.get("settings") != self.identity:
            return None
        try:
            result = json_report.result_from_json(data, where=str(path))
        except InputError:
            return None
        findings = tuple(replace(f, repository=repo.label) for f in result.findings)
        return RepoOutcome(
            repo=repo,
            status=OK,
            duration_s=float(meta.get("duration_s") or 0.0),
            result=replace(result, findings=findings),
            resumed=True,
        )

    def save_report(self, data: dict[str, Any], *, show_secrets: bool) -> None:
        _write(self.directory / "report.json", data, private=show_secrets)


def _write(path: Path, data: dict[str, Any], *, private: bool) -> None:
    """One JSON file, atomically; mode 0600 when it holds plain secrets (``--show-secrets``),
    as every report keysweep writes."""
    write_output(path, json_report.document_pieces(data), private=private)
