"""Rule packs: the built-in packs test themselves, and malformed packs fail loudly."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

import scanner
from scanner.allowlist import Allowlist, AllowRegex
from scanner.detect import Detector
from scanner.errors import RuleError
from scanner.models import Fragment
from scanner.rules import (
    Example,
    Rule,
    builtin_pack_paths,
    load_pack,
    load_rules,
    parse_allowlist,
)
from scanner.rules.checks import CHECKS, ENRICHMENTS
from scanner.rules.lint import regex_problems
from scanner.rules.templates import expand_template

RULES = load_rules()
DETECTORS = {
    "hyperscan": Detector(RULES, use_hyperscan=None),
    "python": Detector(RULES, use_hyperscan=False),
}


def _example_cases() -> list[tuple[Rule, str, int, Example]]:
    cases: list[tuple[Rule, str, int, Example]] = []
    for rule in RULES:
        cases += [(rule, "examples", i, ex) for i, ex in enumerate(rule.examples)]
        cases += [(rule, "negative_examples", i, ex) for i, ex in enumerate(rule.negative_examples)]
    return cases


CASES = _example_cases()


@pytest.mark.parametrize("backend", list(DETECTORS))
@pytest.mark.parametrize(
    ("rule", "kind", "index", "example"),
    CASES,
    ids=[f"{r.id}-{k}-{i}" for r, k, i, _ in CASES],
)
def test_builtin_examples_through_the_whole_pipeline(
    backend: str, rule: Rule, kind: str, index: int, example: Example
) -> None:
    detector = DETECTORS[backend]
    raw = example.text.encode()
    findings = detector.scan(Fragment.from_text(example.text, example.path))
    mine = [f for f in findings if f.rule_id == rule.id]
    if kind == "examples":
        assert detector.wants(raw, example.path)
        assert len(mine) == 1, f"{rule.id} {kind}[{index}]: {example.source!r}"
    else:
        assert mine == [], f"{rule.id} {kind}[{index}]: {example.source!r}"


def test_builtin_packs_are_found_and_well_formed() -> None:
    names = [p.name for p in builtin_pack_paths()]
    assert names == [
        "aws.yaml",
        "ai.yaml",
        "cloud.yaml",
        "credential-files.yaml",
        "databases.yaml",
        "devtools.yaml",
        "generic.yaml",
        "private-keys.yaml",
        "saas.yaml",
    ]
    assert len(RULES) >= 60
    assert len(set(RULES.ids)) == len(RULES.ids)
    aws = [r.id for r in RULES if Path(r.pack).name == "aws.yaml"]
    assert aws == [
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws-secret-access-key-s3cfg",
        "aws-session-token",
        "aws-bedrock-api-key",
        "aws-bedrock-short-term-api-key",
    ]
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.id)
        assert len(rule.examples) >= 2 and len(rule.negative_examples) >= 2, rule.id
        assert len(rule.description) > 40, rule.id
        # keywords, or (a key file known by its name) paths that say where the rule runs
        assert rule.keywords or rule.paths, rule.id
        assert all(k == k.lower() and k.isascii() for k in rule.keywords)


def test_builtin_rules_bound_every_quantifier() -> None:
    for rule in RULES:
        patterns = [rule.regex.pattern]
        patterns += [p.pattern for p in rule.context.regexes] if rule.context else []
        patterns += [a.pattern.pattern for a in rule.allowlist.regexes]
        for pattern in patterns:
            assert regex_problems(pattern) == [], (rule.id, pattern)


def test_context_regex_matches_contain_a_keyword() -> None:
    """The detector searches context-gated rules only around their keywords, so every
    context regex match must contain one (checked on all examples of all rules)."""
    texts = [ex.text for rule in RULES for ex in (*rule.examples, *rule.negative_examples)]
    texts += ["S3.SECRET s3a-secret Secret-Access-Key session.token SECURITY TOKEN"]
    for rule in RULES:
        if rule.context is None:
            continue
        for pattern in rule.context.regexes:
            for text in texts:
                for m in pattern.finditer(text):
                    low = m.group(0).lower()
                    assert any(k in low for k in rule.keywords), (rule.id, pattern.pattern, low)


def test_no_realistic_secret_in_the_packs() -> None:
    """The YAML holds templates, not keys: the project scans itself clean."""
    detector = DETECTORS["hyperscan"]
    for path in builtin_pack_paths():
        raw = path.read_bytes()
        assert detector.scan(Fragment(raw=raw, path=str(path))) == []
    assert "{{aws_secret}}" in (builtin_pack_paths()[0]).read_text()


@pytest.mark.parametrize(
    ("key", "name"),
    [("checks", name) for name in CHECKS] + [("enrich", name) for name in ENRICHMENTS],
)
def test_the_loader_accepts_exactly_the_registered_names(
    tmp_path: Path, key: str, name: str
) -> None:
    """The loader reads the registry the detector runs: no second list to keep in step."""
    rule = GOOD_RULE.replace("examples:", f"{key}: [{name}]\n    examples:", 1)
    (loaded,) = load_rules([write_pack(tmp_path, "version: 1\nrules:\n" + rule)], builtin=False)
    assert getattr(loaded, key) == (name,)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"a+", "unbounded"),
        (r"a*b", "unbounded"),
        (r"x{3,}", "unbounded"),
        (r"(?:a{1,3}){1,9}", "nested"),
        (r"(?:(?:ab)+c)", "unbounded"),
        (r"(?P<secret>[a-z]{1,4}|(?=x)y*)", "unbounded"),
    ],
)
def test_regex_problems_flags_risky_quantifiers(pattern: str, problem: str) -> None:
    assert any(problem in p for p in regex_problems(pattern))


@pytest.mark.parametrize(
    "pattern", [r"[a-z]{40}", r"(?:AKIA|ASIA)[A-Z2-7]{16}", r"(?:-[0-9]{1,3})?x"]
)
def test_regex_problems_accepts_bounded(pattern: str) -> None:
    assert regex_problems(pattern) == []


# ----------------------------------------------------------------------- templates


def test_templates_are_deterministic_and_filtered() -> None:
    text = "{{aws_key_id}} {{aws_key_id|base64}} {{aws_secret}} {{aws_secret#2}} {{hex:8}}"
    once = expand_template(text, "seed")
    assert once == expand_template(text, "seed")
    assert once != expand_template(text, "other-seed")
    key, key64, sec, sec2, hx = once.split(" ")
    assert re.fullmatch(r"AKIA[Q-Z2-7][A-Z2-7]{15}", key)
    import base64

    assert base64.b64decode(key64).decode() == key
    assert len(sec) == 40 and sec != sec2
    assert re.fullmatch(r"[0-9a-f]{8}", hx)
    assert expand_template("{{aws_key_id:ASIA}}", "s").startswith("ASIA")
    assert "%" in expand_template("{{base64:200|percent}}", "s")
    assert expand_template("{{aws_secret|json}}", "s") == expand_template(
        "{{aws_secret}}", "s"
    ).replace("/", "\\/")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{nope}}", "unknown template"),
        ("{{hex}}", "needs a length"),
        ("{{hex:4|rot13}}", "unknown template filter"),
        ("{{supabase_jwt:admin}}", "unknown kind"),
        ("{{bedrock_api_key:mid}}", "unknown kind"),
    ],
)
def test_template_errors(text: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        expand_template(text, "s")


# ----------------------------------------------------------------------- malformed packs

GOOD_RULE = """\
  - id: demo-token
    name: Demo token
    description: A demo token that grants nothing.
    severity: low
    keywords: [demo_]
    regex: 'demo_(?P<secret>[a-z0-9]{16})'
    examples: ['demo_{{hex:16}}']
"""


def write_pack(tmp_path: Path, body: str, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_good_user_pack_loads(tmp_path: Path) -> None:
    path = write_pack(tmp_path, "version: 1\nrules:\n" + GOOD_RULE)
    (rule,) = load_pack(path)
    assert rule.id == "demo-token" and rule.pack == str(path)
    assert rule.negative_examples == () and rule.min_entropy == 0.0
    ruleset = load_rules([path])
    assert ruleset.get("demo-token") is not None and len(ruleset) == len(RULES) + 1


@pytest.mark.parametrize(
    ("mutation", "rule_id", "key", "problem"),
    [
        (
            ("examples:", "negative_exmaples: []\n    examples:"),
            "demo-token",
            "negative_exmaples",
            "unknown key",
        ),
        (
            ("(?P<secret>[a-z0-9]{16})", "(?P<secret>[a-z0-9{16})"),
            "demo-token",
            "regex",
            "bad regex",
        ),
        (("(?P<secret>[a-z0-9]{16})", "([a-z0-9]{16})"), "demo-token", "regex", "secret"),
        (("id: demo-token", "id: Demo_Token"), "Demo_Token", "id", "kebab-case"),
        (("severity: low", "severity: urgent"), "demo-token", "severity", "must be one of"),
        (("keywords: [demo_]", "keywords: demo_"), "demo-token", "keywords", "list"),
        (("    name: Demo token\n", ""), "demo-token", "name", "required"),
        (("examples: ['demo_{{hex:16}}']", "examples: []"), "demo-token", "examples", "non-empty"),
        (("examples:", "min_entropy: high\n    examples:"), "demo-token", "min_entropy", "number"),
        (
            ("examples:", "allowlist: {regexes: [{pattern: 'x', target: file}]}\n    examples:"),
            "demo-token",
            "allowlist.regexes[0].target",
            "must be one of",
        ),
        (
            ("examples:", "allowlist: {regex: ['x']}\n    examples:"),
            "demo-token",
            "allowlist.regex",
            "unknown key",
        ),
        (
            ("examples:", "checks: [is-real]\n    examples:"),
            "demo-token",
            "checks",
            "unknown check",
        ),
        (
            ("examples:", "enrich: [aws-account]\n    examples:"),
            "demo-token",
            "enrich",
            "unknown enrichment",
        ),
        (
            ("examples:", "context: {near_rules: [no-such-rule], within_lines: 2}\n    examples:"),
            "demo-token",
            "context.near_rules",
            "unknown rule",
        ),
        (
            ("examples:", "pair: [{rule: demo-token, kind: password}]\n    examples:"),
            "demo-token",
            "pair[0].kind",
            "must be one of",
        ),
        (
            ("examples: ['demo_{{hex:16}}']", "examples: ['{{bogus}}']"),
            "demo-token",
            "examples[0]",
            "unknown template",
        ),
        (
            ("examples:", "binary_regex: 'demo_[a-z0-9{16}'\n    examples:"),
            "demo-token",
            "binary_regex",
            "bad regex",
        ),
        (
            ("examples:", "binary_regex: 'démo_[a-z0-9]{16}'\n    examples:"),
            "demo-token",
            "binary_regex",
            "must be ASCII",
        ),
    ],
)
def test_malformed_rule_errors_name_file_rule_and_key(
    tmp_path: Path, mutation: tuple[str, str], rule_id: str, key: str, problem: str
) -> None:
    old, new = mutation
    assert old in GOOD_RULE
    path = write_pack(tmp_path, "version: 1\nrules:\n" + GOOD_RULE.replace(old, new, 1))
    with pytest.raises(RuleError) as caught:
        load_rules([path], builtin=False)
    message = str(caught.value)
    assert str(path) in message
    assert f"rule {rule_id!r}" in message
    assert f"key {key!r}" in message
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("rules: [\n", "not valid YAML"),
        ("- just a list\n", "must be a mapping"),
        ("version: 1\n", "non-empty list"),
        ("version: 2\nrules:\n" + GOOD_RULE, "unsupported pack version"),
        ("version: 1\nname: x\nrules:\n" + GOOD_RULE, "unknown key"),
        ("version: 1\nrules:\n" + GOOD_RULE + GOOD_RULE, "duplicate rule id"),
    ],
)
def test_malformed_pack_errors(tmp_path: Path, body: str, problem: str) -> None:
    path = write_pack(tmp_path, body)
    with pytest.raises(RuleError, match=problem) as caught:
        load_pack(path)
    assert str(path) in str(caught.value)


def test_missing_pack_and_cross_pack_duplicates(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read"):
        load_pack(tmp_path / "missing.yaml")
    first = write_pack(tmp_path, "rules:\n" + GOOD_RULE, "one.yaml")
    second = write_pack(tmp_path, "rules:\n" + GOOD_RULE, "two.yaml")
    with pytest.raises(RuleError, match="already defined in"):
        load_rules([first, second], builtin=False)
    # the same pack named twice (or a built-in named again) loads once
    assert len(load_rules([first, first], builtin=False)) == 1
    assert len(load_rules(builtin_pack_paths())) == len(RULES)


def test_disabled_rules(tmp_path: Path) -> None:
    ruleset = load_rules(disabled=["github-token", "aws-session-token"])
    assert "github-token" not in ruleset.ids and "aws-session-token" not in ruleset.ids
    assert len(ruleset) == len(RULES) - 2
    with pytest.raises(RuleError, match="unknown rule"):
        load_rules(disabled=["no-such-rule"])


def test_allowlist_parsing_and_matching() -> None:
    allow = parse_allowlist(
        {
            "regexes": [
                "^FAKE",
                {"pattern": "fixture", "target": "line"},
                {"pattern": "=", "target": "match"},
            ],
            "stopwords": ["Dummy"],
            "paths": ["tests/fixtures/*", "*.lock"],
        },
        source=".keysweep.toml",
    )
    assert allow.regexes[1] == AllowRegex(allow.regexes[1].pattern, "line")
    assert allow.allows("FAKEKEY", "k", "line")
    assert allow.allows("x", "k", "a fixture line")
    assert allow.allows("x", "k=x", "line")
    assert allow.allows("aDUMMYb", "k", "line")
    assert not allow.allows("real", "k", "line")
    assert allow.path_allowed("tests/fixtures/a/b.txt")
    assert allow.path_allowed("deep/dir/poetry.lock")
    assert not allow.path_allowed("src/app.py")
    assert Allowlist().empty and not allow.empty
    with pytest.raises(RuleError, match=r"key 'allowlist\.stopwords'"):
        parse_allowlist({"stopwords": "x"}, source="cfg")


def _crc_cases() -> list[tuple[str, bool]]:
    import random

    from scanner.rules.templates import checksummed_token

    good = checksummed_token(random.Random(7), "ghp")
    other = checksummed_token(random.Random(8), "npm")
    return [
        (good, True),
        (other, True),
        (good[:-1] + ("A" if good[-1] != "A" else "B"), False),  # last checksum char changed
        (good[:10] + other[10:], False),  # body and checksum from different tokens
        ("ghs_" + "a" * 60, True),  # longer formats are not checked
    ]


@pytest.mark.parametrize(("token", "valid"), _crc_cases())
def test_crc32_base62_suffix_check(token: str, valid: bool) -> None:
    assert CHECKS["crc32-base62-suffix"](token) is valid


def _supabase_cases() -> list[tuple[str, bool]]:
    def jwt(kind: str) -> str:
        return expand_template(f"{{{{supabase_jwt:{kind}}}}}", kind)

    header, payload, signature = jwt("service").split(".")
    role_first = {"role": "service_role", "iss": "supabase", "ref": "x"}
    other = base64.urlsafe_b64encode(json.dumps(role_first).encode()).decode().rstrip("=")
    listed = base64.urlsafe_b64encode(b'["service_role", "supabase"]').decode().rstrip("=")
    return [
        (jwt("service"), True),
        (jwt("selfhost"), True),
        (f"{header}.{other}.{signature}", True),  # claims in any order
        (jwt("anon"), False),  # public by design
        (jwt("demo"), False),  # the self-hosting example's documented key
        (f"{header}.{listed}.{signature}", False),  # a JSON array, not claims
        (f"{header}.{payload[:-3]}.{signature}", False),  # cut: no longer base64 of JSON
        (f"{header}.{payload}", False),  # no signature part
    ]


@pytest.mark.parametrize(("token", "valid"), _supabase_cases())
def test_supabase_service_role_check(token: str, valid: bool) -> None:
    assert CHECKS["supabase-service-role"](token) is valid


_BELOW_RULES = {"scanner", "scanner.models", "scanner.errors", "scanner.entropy"}
_BELOW_RULES |= {"scanner.schema", "scanner.allowlist", "scanner.aws_ids"}


@pytest.mark.parametrize(
    "module", sorted(p.name for p in (Path(scanner.__file__).parent / "rules").glob("*.py"))
)
def test_rules_package_sits_below_detect(module: str) -> None:
    """models/errors/entropy -> rules -> detect: only ``rules check`` runs the detector."""
    import ast

    tree = ast.parse((Path(scanner.__file__).parent / "rules" / module).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        if name == "scanner" or name.startswith("scanner.")
    }
    allowed = _BELOW_RULES | {"scanner.detect"} if module == "check.py" else _BELOW_RULES
    assert {m for m in imported if not m.startswith("scanner.rules")} <= allowed
    if module == "__init__.py":
        assert "scanner.rules.check" not in imported


@pytest.mark.parametrize(
    "old", ["scanner/rulepack.py", "scanner/rulecheck.py", "scanner/templates.py"]
)
def test_old_rule_modules_are_gone(old: str) -> None:
    assert not (Path(scanner.__file__).parent.parent / old).exists()
