"""Detection: rules in, findings out. See scanner.detect.engine for the pipeline.

Public API (the contract): ``Detector(ruleset, *, allowlist=None, inline_allow=True)``,
``Detector.wants(raw) -> bool`` and ``Detector.scan(fragment) -> list[Finding]``.
"""

from __future__ import annotations

from scanner.detect.engine import INLINE_ALLOW_MARKERS, Detector
from scanner.rules.aws_account import account_id_from_key_id

__all__ = ["INLINE_ALLOW_MARKERS", "Detector", "account_id_from_key_id"]
