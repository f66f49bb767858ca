"""History clean-up after a leak: ``keysweep remediate REPORT.json``.

    report -> targets (the plain secrets re-read from the repository's own blobs)
        -> plan (refs, HEAD, commits to rewrite, steps)  -> [apply: mirror, filter-repo, re-scan]

``plan`` builds the plan and writes the git-filter-repo expressions file; ``apply`` carries it
out on a fresh mirror clone, never on the user's repository. Both take a detector
(:class:`~scanner.models.FragmentScanner`) from the CLI, which wires the rules.
"""

from __future__ import annotations

from scanner.remediate.apply import ApplyResult, apply_plan, filter_repo_available
from scanner.remediate.plan import Plan, Target, build_plan, expressions_text

__all__ = [
    "ApplyResult",
    "Plan",
    "Target",
    "apply_plan",
    "build_plan",
    "expressions_text",
    "filter_repo_available",
]
