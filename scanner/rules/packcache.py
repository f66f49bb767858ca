"""Validated rule packs kept on disk, so that a pre-commit hook does not parse them again.

Loading a pack reads its YAML, validates every key, checks every regex for backtracking and
expands the examples' templates: 0.1-0.2 s for the built-in packs on a slow machine, paid on
every commit. Once loaded, a pack's rules are kept pickled in keysweep's cache directory
(:mod:`scanner.cache`), named by the SHA-256 of the pack's path and bytes, the Python version
and keysweep's own source (the name, size and modification time of every module of the
package: an edited loader never gets back rules it would no longer build). A pack that does
not load is never kept, so its error is raised every time.

A cache file is unpickled by :class:`_RuleUnpickler`, which builds only the rule types and
compiled regexes: anything else in the file, or a file that does not unpickle into a list of
rules, is a miss, and the pack is loaded from its YAML.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import scanner
from scanner import cache
from scanner.allowlist import Allowlist, AllowRegex, AllowTarget
from scanner.models import Confidence, PairKind, Severity
from scanner.rules.model import Context, Example, PairSpec, Rule

SUFFIX = ".rules"

# What a pickled list of rules refers to: the rule types, and ``re._compile`` (how a
# compiled pattern pickles).
_TYPES = (Rule, Context, PairSpec, Example, Allowlist, AllowRegex, AllowTarget)
_ENUMS = (Severity, Confidence, PairKind)
_ALLOWED = frozenset(
    {(kind.__module__, kind.__qualname__) for kind in (*_TYPES, *_ENUMS)} | {("re", "_compile")}
)


class _RuleUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a rule")
        return super().find_class(module, name)


@functools.cache
def _source_stamp() -> bytes:
    """The name, size and modification time of every module of the keysweep package."""
    root = Path(scanner.__file__).parent
    stamps: list[tuple[str, int, int]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                stamps.append((os.path.join(folder, name), info.st_size, info.st_mtime_ns))
    return repr((scanner.__version__, sys.version, stamps)).encode()


def key(path: Path, data: bytes) -> str:
    """The cache name of the rules that the pack at ``path`` holding ``data`` loads into."""
    digest = hashlib.sha256(_source_stamp())
    name = str(path).encode("utf-8", "surrogateescape")
    digest.update(len(name).to_bytes(8, "little"))
    digest.update(name)
    digest.update(data)
    return digest.hexdigest()


def load(name: str) -> list[Rule] | None:
    """The rules kept as ``name`` (from ``key``), or None."""
    data = cache.read(name + SUFFIX)
    if data is None:
        return None
    try:
        rules = _RuleUnpickler(io.BytesIO(data)).load()
    except Exception:  # a corrupt or foreign file, whatever it raises: a miss
        return None
    if not isinstance(rules, list) or not all(isinstance(rule, Rule) for rule in rules):
        return None
    return rules


def store(name: str, rules: list[Rule]) -> None:
    """Keep ``rules`` as ``name``; never fails."""
    cache.write(name + SUFFIX, pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL))
