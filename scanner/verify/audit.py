"""Append-only JSON-lines audit log of every deactivation action. Never holds a secret.

Default location: ``$XDG_STATE_HOME/keysweep/audit.jsonl``, or
``~/.local/state/keysweep/audit.jsonl`` when XDG_STATE_HOME is unset. Each line is one JSON
object written with a single ``write(2)`` and ``fsync`` (``scanner.atomic.append_line_durably``):

    {"time": "...Z", "tool": "keysweep 0.1.0", "action": "planned|applied|refused|failed|
     reactivated", "result": "...", "key_id": "AKIA...", "account": "...", "user": "...",
     "operator_arn": "...", "mode": "operator|leaked-key", "detail": "..."}
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from scanner import __version__
from scanner.atomic import append_line_durably

ACTIONS = ("planned", "applied", "refused", "failed", "reactivated")


def default_audit_log_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "keysweep" / "audit.jsonl"


class AuditLog:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_audit_log_path()

    def record(
        self,
        *,
        action: str,
        result: str,
        key_id: str,
        account: str | None,
        user: str | None,
        operator_arn: str | None,
        mode: str = "operator",
        detail: str = "",
    ) -> dict[str, str | None]:
        """Append one record (raises OutputError when the log cannot be written)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        entry: dict[str, str | None] = {
            "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tool": f"keysweep {__version__}",
            "action": action,
            "result": result,
            "key_id": key_id,
            "account": account,
            "user": user,
            "operator_arn": operator_arn,
            "mode": mode,
            "detail": detail,
        }
        append_line_durably(self.path, json.dumps(entry, sort_keys=False))
        return entry
