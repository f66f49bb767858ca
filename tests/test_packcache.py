"""Loaded rule packs kept on disk: the same rules, never trusted blindly, regexes compiled late.

A pre-commit hook loads every built-in pack on every commit; once a pack is in the cache it
is unpickled instead of parsed (no YAML, no validation, no regex compiled until a rule is
met). These tests hold the cache to giving exactly what parsing gives.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from support.keys import env_text
from support.repo import Repo
from support.run import probe
from support.spy import count_calls

from scanner import cache
from scanner.detect import Detector
from scanner.errors import RuleError
from scanner.models import Fragment
from scanner.rules import builtin_pack_paths, load_pack, load_rules, packcache
from scanner.rules import load as load_mod

PACK = """\
version: 1
rules:
  - id: acme-token
    name: ACME token
    description: An ACME API token.
    severity: high
    keywords: [acme_]
    regex: '(?<![a-z0-9_])(?P<secret>acme_[a-z0-9]{20})(?![a-z0-9])'
    examples: ['token = acme_0123456789abcdefghij']
"""


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A cache directory of the test's own, and no pack remembered by this process."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(directory))
    monkeypatch.setattr(load_mod, "_PACK_CACHE", {})
    return directory


def _new_process(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Forget what this process loaded (as a new process would); count the packs parsed."""
    monkeypatch.setattr(load_mod, "_PACK_CACHE", {})
    return count_calls(monkeypatch, load_mod, "_parse_pack")


def test_cached_packs_load_exactly_the_parsed_rules(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = {path: load_pack(path) for path in builtin_pack_paths()}
    assert len(list(fresh.glob("*.rules"))) == len(parsed)
    parses = _new_process(monkeypatch)
    for path, rules in parsed.items():
        cached = load_pack(path)
        assert cached == rules  # every field: ids, patterns, examples, allowlists, contexts
        assert [r.examples for r in cached] == [r.examples for r in rules]
    assert parses == []
    for entry in fresh.glob("*.rules"):
        assert entry.stat().st_mode & 0o777 == 0o600


def test_a_cached_rule_compiles_its_regex_when_first_used(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_rules()
    _new_process(monkeypatch)
    rules = load_rules()
    assert not any("regex" in vars(rule) for rule in rules)
    detector = Detector(rules, use_hyperscan=False)
    assert detector.scan(Fragment.from_text("print('hello')\n", "app.py")) == []
    assert not any("regex" in vars(rule) for rule in rules)  # no keyword, no rule met
    found = detector.scan(Fragment.from_text(env_text("packcache"), ".env"))
    assert {f.rule_id for f in found} >= {"aws-access-key-id", "aws-secret-access-key"}
    compiled = {rule.id for rule in rules if "regex" in vars(rule)}
    assert "aws-access-key-id" in compiled and len(compiled) < len(rules) // 2
    # a pickled rule (a worker's copy, the cache) carries its pattern, not the compiled regex
    aws = next(rule for rule in rules if rule.id == "aws-access-key-id")
    copy = pickle.loads(pickle.dumps(aws))
    assert "regex" not in vars(copy) and copy == aws and copy.regex.pattern == aws.pattern


def test_an_edited_pack_or_keysweep_misses_the_cache(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = tmp_path / "acme.yaml"
    pack.write_text(PACK)
    assert [r.name for r in load_pack(pack)] == ["ACME token"]
    pack.write_text(PACK.replace("name: ACME token", "name: ACME API token"))
    parses = _new_process(monkeypatch)
    assert [r.name for r in load_pack(pack)] == ["ACME API token"]
    assert parses == [1]
    # another keysweep (its source edited, or another release) never reads these entries
    parses = _new_process(monkeypatch)
    monkeypatch.setattr(packcache, "_source_stamp", lambda: b"another keysweep")
    assert [r.name for r in load_pack(pack)] == ["ACME API token"]
    assert parses == [1]


def test_a_corrupt_foreign_or_untrusted_cache_file_is_not_used(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = tmp_path / "acme.yaml"
    pack.write_text(PACK)
    expected = load_pack(pack)
    (entry,) = fresh.glob("*.rules")

    entry.write_bytes(b"not a pickle")
    parses = _new_process(monkeypatch)
    assert load_pack(pack) == expected and parses == [1]

    marker = tmp_path / "ran"

    class Payload:  # unpickling it would create ``marker``
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    entry.write_bytes(pickle.dumps([Payload()]))
    parses = _new_process(monkeypatch)
    assert load_pack(pack) == expected and parses == [1]
    assert not marker.exists()

    entry.write_bytes(pickle.dumps(["a list of something else"]))
    parses = _new_process(monkeypatch)
    assert load_pack(pack) == expected and parses == [1]

    entry.unlink()
    fresh.chmod(0o777)  # others may write here: nothing in it is read, nothing written
    try:
        load_pack(pack)  # would be written, were the directory trusted
        parses = _new_process(monkeypatch)
        assert load_pack(pack) == expected and parses == [1]
        assert not list(fresh.glob("*.rules"))
    finally:
        fresh.chmod(0o700)


def test_a_pack_that_does_not_load_is_never_cached(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = tmp_path / "acme.yaml"
    pack.write_text(PACK.replace("severity: high", "severity: dire"))
    for _ in range(2):
        _new_process(monkeypatch)
        with pytest.raises(RuleError, match=r"acme-token.*severity.*dire"):
            load_pack(pack)
    assert not fresh.exists() or not list(fresh.glob("*.rules"))


PROBE = """
import json, sys
from scanner.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "yaml": "yaml" in sys.modules}))
"""


def test_a_pre_commit_hook_parses_no_yaml_once_the_packs_are_cached(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write({".env": env_text("hook")})
    repo.git("add", ".env")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        cache.ENV: str(tmp_path / "cache"),
    }

    def run() -> dict[str, object]:
        result, stdout = probe(PROBE, ["staged"], cwd=repo.path, env=env)
        assert "aws-access-key-id" in stdout
        return result

    assert run() == {"code": 1, "yaml": True}  # the packs are parsed, and kept
    assert run() == {"code": 1, "yaml": False}  # the same finding, from the kept rules
