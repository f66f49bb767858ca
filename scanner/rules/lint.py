"""Regex lint of a rule: the backtracking risks ``keysweep rules check`` warns about.

The regex analysis itself (:func:`scanner.schema.regex_problems`) stays in ``scanner.schema``:
``Node.regex()`` refuses exponential patterns (``regex_hazards``) in every file format keysweep
reads (config allowlists too, not only rule packs), and ``scanner.schema`` sits below this
package and imports nothing of keysweep. This module applies it to a loaded rule.
"""

from __future__ import annotations

from scanner.rules.model import Rule
from scanner.schema import regex_hazards as regex_hazards
from scanner.schema import regex_problems as regex_problems


def lint_rule(rule: Rule) -> list[str]:
    """Warnings for a rule's regexes (unbounded or nested quantifiers)."""
    out: list[str] = []
    patterns = [("regex", rule.pattern)]
    if rule.context is not None:
        patterns += [
            (f"context.regexes[{i}]", p.pattern) for i, p in enumerate(rule.context.regexes)
        ]
    for key, pattern in patterns:
        for problem in regex_problems(pattern):
            out.append(f"{rule.pack}: rule {rule.id!r}: key {key!r}: {problem}")
    return out
