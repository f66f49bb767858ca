"""Compiled Hyperscan databases cached on disk: reused, and never trusted blindly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.spy import count_calls

from scanner import cache
from scanner.detect import dbcache
from scanner.detect.corematch import CoreMatcher

hyperscan = pytest.importorskip("hyperscan")

REGEX = re.compile(r"(?<![a-z])(?P<secret>acme_[a-z0-9]{12})(?![a-z0-9])")
TEXT = b"key = acme_0123456789ab\n"


def _ends(directory: Path | str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(cache.ENV, str(directory))
    return CoreMatcher([REGEX], use_hyperscan=True).ends(TEXT)


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts compiles: every compiled database is offered to the cache (``store``)."""
    return count_calls(monkeypatch, dbcache, "store")


def test_a_database_is_compiled_once_then_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    calls = _compiles(monkeypatch)
    first = _ends(cache, monkeypatch)
    assert calls == [1]
    files = list(cache.glob("*.hsdb"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    # the consumed boundary: after the "\n", or ``$`` just before a final newline
    assert _ends(cache, monkeypatch) == first == {0: [23, 24]}
    assert calls == [1]  # loaded, not compiled


def test_a_corrupt_or_foreign_file_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    expected = _ends(cache, monkeypatch)
    (entry,) = cache.glob("*.hsdb")
    entry.write_bytes(b"not a database")
    calls = _compiles(monkeypatch)
    assert _ends(cache, monkeypatch) == expected
    assert calls == [1]
    cache.chmod(0o777)  # others may write here: nothing in it is loaded, nothing written
    entry.unlink()
    assert _ends(cache, monkeypatch) == expected
    assert calls == [1, 1] and not list(cache.glob("*.hsdb"))


def test_a_database_of_another_hyperscan_build_is_never_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One binding release may wrap another library (a source build against the system's),
    # and a fat-runtime library compiles for the CPU it runs on: the key names the build.
    cache = tmp_path / "cache"
    expected = _ends(cache, monkeypatch)
    assert dbcache.library(hyperscan).startswith("Version: ")
    calls = _compiles(monkeypatch)
    other = "Version: 5.4.0 Features: AVX2 Mode: BLOCK"
    monkeypatch.setattr(dbcache, "library", lambda hs: other)
    assert _ends(cache, monkeypatch) == expected
    assert calls == [1] and len(list(cache.glob("*.hsdb"))) == 2


def test_an_empty_setting_turns_the_cache_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _ends("", monkeypatch) == {0: [23, 24]}
    assert cache.cache_dir() is None
    assert not list(tmp_path.rglob("*.hsdb"))


def test_a_cached_rule_set_is_loaded_once_the_text_pays_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pre-commit hook scans a few small files: they are scanned with ``re``, and the rules'
    # cores are never derived (75 ms for the built-in rules). Past CORE_CACHE_AFTER_BYTES the
    # databases are loaded from the disk cache (milliseconds); compiled only past
    # CORE_DB_AFTER_BYTES when the cache does not hold them.
    from scanner.detect import Detector, engine
    from scanner.models import Fragment
    from scanner.rules import load_rules

    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    rules = load_rules()
    small = "aws_region = us-east-1\n"
    cold = Detector(rules)  # (its keyword prefilter is compiled here, and cached)
    calls = _compiles(monkeypatch)
    cold.scan(Fragment.from_text(small, "settings.py"))
    assert not cold._cores.built and cold._cores._core_map is None and calls == []
    assert not cold._cores.build_if_cached()
    cold.regex_fallbacks()  # builds, and so fills the cache
    assert cold._cores.built and calls
    compiled = len(calls)

    warm = Detector(rules)
    warm.scan(Fragment.from_text(small, "settings.py"))
    assert not warm._cores.built and warm._cores._core_map is None
    found = warm.scan(Fragment.from_text(small * (engine.CORE_CACHE_AFTER_BYTES // len(small))))
    assert warm._cores.built and not found
    assert len(calls) == compiled  # loaded, not compiled

    fresh_cache = Detector(rules)
    monkeypatch.setenv(cache.ENV, str(tmp_path / "empty"))
    fresh_cache.scan(Fragment.from_text(small * (engine.CORE_CACHE_AFTER_BYTES // len(small))))
    assert not fresh_cache._cores.built  # not in the cache: not compiled for so little text
    assert len(calls) == compiled
