"""Rules: rule packs as validated data, and everything that reads or tests them.

- :mod:`scanner.rules.model`: the data types (Rule, RuleSet, Context, PairSpec, Example).
- :mod:`scanner.rules.load`: reading and validating packs; discovery of the built-in packs.
- :mod:`scanner.rules.checks`: the registry of named checks and enrichments rules ask for.
- :mod:`scanner.rules.templates`: the template language of rule examples, AWS-shaped fakes.
- :mod:`scanner.rules.lint`: regex lint of a loaded rule.
- :mod:`scanner.rules.check`: ``rules check``, every example through the whole detector
  (it imports ``scanner.detect``, so it is not imported here).

Layering: models/errors/entropy/schema/allowlist/aws_ids -> rules -> detect.
"""

from __future__ import annotations

from scanner.rules.load import builtin_pack_paths, load_pack, load_rules, parse_allowlist
from scanner.rules.model import DEFAULT_CONFIDENCE, Context, Example, PairSpec, Rule, RuleSet

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Context",
    "Example",
    "PairSpec",
    "Rule",
    "RuleSet",
    "builtin_pack_paths",
    "load_pack",
    "load_rules",
    "parse_allowlist",
]
