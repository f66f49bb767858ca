"""One allowlist for rules and project, and the typed-getter helper every file format uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.allowlist import Allowlist, AllowRegex, AllowTarget, parse_allowlist
from scanner.config import load_config
from scanner.errors import RuleError
from scanner.rules import load_pack
from scanner.schema import Node, Problem

RULE = """\
version: 1
rules:
  - id: demo-token
    name: Demo token
    description: test
    severity: low
    keywords: [demo_]
    regex: '(?P<secret>demo_[a-z0-9]{{16}})'
    examples: ['demo_{{{{hex:16}}}}']
{extra}"""


def _pack(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(RULE.format(extra=extra), encoding="utf-8")
    return path


def test_rule_and_config_allowlists_are_one_type_from_one_schema(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        "    allowlist:\n"
        "      regexes: ['FAKE$', {regex: '^# ex', target: line}]\n"
        "      stopwords: [Dummy]\n"
        "      paths: ['docs/*.md']\n",
    )
    (rule,) = load_pack(pack)
    (tmp_path / ".keysweep.toml").write_text(
        '[allowlist]\nregexes = ["FAKE$", { regex = "^# ex", target = "line" }]\n'
        'stopwords = ["Dummy"]\npaths = ["docs/*.md"]\n'
    )
    config = load_config(None, tmp_path)
    assert isinstance(config.allowlist, Allowlist)
    assert rule.allowlist == config.allowlist
    assert rule.allowlist.regexes[1] == AllowRegex(rule.allowlist.regexes[1].pattern, "line")
    assert rule.allowlist.stopwords == ("dummy",)


def test_old_pattern_key_is_an_alias_with_a_deprecation_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _pack(tmp_path, "    allowlist:\n      regexes: [{pattern: 'FAKE$', target: match}]\n")
    (rule,) = load_pack(pack)
    assert [(a.pattern.pattern, a.target) for a in rule.allowlist.regexes] == [("FAKE$", "match")]
    err = capsys.readouterr().err
    assert "deprecated" in err and "'allowlist.regexes[0].pattern'" in err and str(pack) in err
    assert err.count("\n") == 1


def test_regex_and_pattern_together_is_an_error(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "    allowlist:\n      regexes: [{pattern: 'a', regex: 'b'}]\n")
    with pytest.raises(RuleError, match=r"key 'allowlist\.regexes\[0\]\.pattern'.*not both"):
        load_pack(pack)


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("docs/*.md", "docs/x.md", True),
        ("docs/*.md", "docs/sub/x.md", False),  # `*` stays within one name (was fnmatch)
        ("docs/**/*.md", "docs/sub/x.md", True),
        ("*.lock", "deep/dir/poetry.lock", True),
        ("tests/fixtures/*", "tests/fixtures/a/b.txt", True),  # a directory covers its files
        ("fixtures", "src/tests/fixtures/a", True),  # no `/`: a name at any depth
        ("/abs", "abs", None),  # absolute: an error
    ],
)
def test_rule_paths_and_allowlist_paths_use_the_config_glob_dialect(
    tmp_path: Path, glob: str, path: str, expected: bool | None
) -> None:
    pack = _pack(tmp_path, f"    paths: ['{glob}']\n    allowlist: {{paths: ['{glob}']}}\n")
    if expected is None:
        with pytest.raises(RuleError, match="absolute paths are not allowed"):
            load_pack(pack)
        return
    (rule,) = load_pack(pack)
    assert rule.allowlist.path_allowed(path) is expected
    assert Allowlist(paths=(glob,)).path_allowed(path) is expected


# --------------------------------------------------------------------------- schema.Node


def _fail(key: str, problem: Problem) -> Exception:
    return ValueError(f"{key}|{problem.kind}|{problem}")


def _read(value: Any) -> dict[str, Any]:
    top = Node(value, "top", _fail).table({"n", "s", "xs", "kind"})
    return {
        "n": top.at("n").integer(lo=1, hi=9, default=5),
        "s": top.at("s").string(),
        "xs": top.at("xs").strings(),
        "kind": top.at("kind").choice(AllowTarget, default=AllowTarget.SECRET),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"s": "x"}, {"n": 5, "s": "x", "xs": (), "kind": "secret"}),
        (
            {"s": "x", "n": 2, "xs": ["a"], "kind": "line"},
            {"n": 2, "s": "x", "xs": ("a",), "kind": "line"},
        ),
        ([], "top|type|expected a table, got an empty list"),
        ({"s": "x", "m": 1}, "top.m|unknown|unknown key (known: kind, n, s, xs)"),
        ({}, "top.s|missing|required key missing"),
        ({"s": ""}, "top.s|type|expected a non-empty string, got a string"),
        ({"s": "x", "n": True}, "top.n|type|expected an integer, got a boolean"),
        ({"s": "x", "n": 10}, "top.n|type|expected an integer, got an integer"),
        ({"s": "x", "xs": ["a", 3]}, "top.xs[1]|type|expected a non-empty string, got an integer"),
        (
            {"s": "x", "kind": "file"},
            "top.kind|value|unknown kind 'file' (must be one of secret, match, line)",
        ),
    ],
)
def test_node_getters_name_the_dotted_key(value: Any, expected: object) -> None:
    if isinstance(expected, dict):
        assert _read(value) == expected
        return
    with pytest.raises(ValueError) as caught:
        _read(value)
    assert str(caught.value) == expected


def test_parse_allowlist_on_a_node_reports_through_its_format() -> None:
    node = Node({"stopwords": "x"}, "allowlist", _fail)
    with pytest.raises(ValueError, match=r"allowlist\.stopwords\|type"):
        parse_allowlist(node)


@pytest.mark.parametrize(
    ("module", "allowed"),
    [("scanner/schema.py", set()), ("scanner/allowlist.py", {"scanner.schema"})],
)
def test_schema_and_allowlist_sit_at_the_bottom(module: str, allowed: set[str]) -> None:
    import ast

    tree = ast.parse((Path(__file__).resolve().parents[1] / module).read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scanner")
    }
    assert imported <= allowed
