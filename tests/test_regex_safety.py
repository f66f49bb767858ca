"""Regular-expression safety: no built-in rule backtracks its way into a hang.

Python's ``re`` backtracks, so a crafted file can turn a careless pattern quadratic or
worse. Every built-in rule's regexes (the rule itself, its allowlist and its context) are

- linted: no unbounded and no nested quantifiers (``scanner.schema.regex_problems``);
- run against adversarial inputs (long runs of near-matches, long base64 lines, repeated
  keyword fragments, megabytes without a newline) at two sizes, and the time must grow
  linearly: a ratio measured in the same run, never an absolute time.

The detector as a whole gets the same ratio check at 1 MB and 4 MB. ``rules check`` warns about
risky quantifiers in a user's pack.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from support.keys import BASE32, BASE64, make_credential
from support.run import REPO_ROOT, run_keysweep

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import Rule, load_rules
from scanner.rules.lint import regex_hazards, regex_problems

# Linear growth gives a ratio near 4 for 4x the input; quadratic gives 16.
MAX_RATIO = 8.0
# Below this many seconds a measurement is noise: the ratio is taken against this floor.
FLOOR_S = 0.02
DETECTOR_FLOOR_S = 0.1  # whole-detector timings are noisier (allocation, caches)
# Address space for the child that scans 4 MB inputs (findings included).
MEMORY_LIMIT = 3 << 30

RULES = load_rules()


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _near_key_ids(size: int) -> str:
    rng = random.Random(1)
    # AKIA + 15 base32 characters: one short of a key ID, again and again.
    return _repeat(" ".join("AKIA" + "".join(rng.choices(BASE32, k=15)) for _ in range(64)), size)


def _glued_key_ids(size: int) -> str:
    rng = random.Random(2)
    return _repeat("".join("AKIA" + "".join(rng.choices(BASE32, k=15)) for _ in range(64)), size)


def _bad_digit_key_ids(size: int) -> str:
    rng = random.Random(3)
    return _repeat(
        " ".join("ASIA" + "".join(rng.choices(BASE32, k=15)) + "8" for _ in range(64)), size
    )


def _base64_line(size: int) -> str:
    rng = random.Random(4)
    return "".join(rng.choices(BASE64, k=size))


def _base64_runs_of_40(size: int) -> str:
    rng = random.Random(5)
    return _repeat(" ".join("".join(rng.choices(BASE64, k=40)) for _ in range(64)), size)


def _keywords_repeated(size: int) -> str:
    return _repeat("aws_secret_access_key=", size)


def _keywords_quoted(size: int) -> str:
    return _repeat('aws_secret_access_key = "', size)


def _keyword_then_spaces(size: int) -> str:
    return "AWS_SECRET_ACCESS_KEY" + " " * (size - 42) + "=" + "a" * 20


def _keyword_then_value(size: int) -> str:
    rng = random.Random(6)
    return "AWS_SESSION_TOKEN=" + "".join(rng.choices(BASE64, k=size - 18))


def _all_keywords(size: int) -> str:
    words = sorted({kw for rule in RULES for kw in rule.keywords})
    return _repeat(" = ".join(words) + " : ", size)


def _percent(size: int) -> str:
    return _repeat("%2B%2F", size)


def _json_escapes(size: int) -> str:
    return _repeat("\\/\\u0041", size)


def _one_letter(size: int) -> str:
    return "a" * size


def _url_userinfo(size: int) -> str:
    return "https://" + "a:" * ((size - 20) // 2) + "@example.com"


def _dense_credentials(size: int) -> str:
    """Whole credentials packed on one line: pairing must not go quadratic."""
    units = []
    for i in range(64):
        cred = make_credential(f"dense-{i}")
        units.append(f"{cred.key_id} aws_secret_access_key={cred.secret}")
    return _repeat(" ".join(units) + " ", size)


def _dense_credential_lines(size: int) -> str:
    units = []
    for i in range(64):
        cred = make_credential(f"dense-lines-{i}")
        units.append(f"AWS_ACCESS_KEY_ID={cred.key_id}\nAWS_SECRET_ACCESS_KEY={cred.secret}\n")
    return _repeat("".join(units), size)


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "near-key-ids": _near_key_ids,
    "glued-key-ids": _glued_key_ids,
    "bad-digit-key-ids": _bad_digit_key_ids,
    "base64-line": _base64_line,
    "base64-runs-of-40": _base64_runs_of_40,
    "keywords-repeated": _keywords_repeated,
    "keywords-quoted": _keywords_quoted,
    "keyword-then-spaces": _keyword_then_spaces,
    "keyword-then-value": _keyword_then_value,
    "all-keywords": _all_keywords,
    "percent": _percent,
    "json-escapes": _json_escapes,
    "one-letter": _one_letter,
    "url-userinfo": _url_userinfo,
    "dense-credentials": _dense_credentials,
    "dense-credential-lines": _dense_credential_lines,
}


def _patterns(rule: Rule) -> list[tuple[str, re.Pattern[str]]]:
    found = [("regex", rule.regex)]
    found += [(f"allowlist[{i}]", a.pattern) for i, a in enumerate(rule.allowlist.regexes)]
    if rule.context is not None:
        found += [(f"context[{i}]", p) for i, p in enumerate(rule.context.regexes)]
    if rule.binary_pattern:
        found.append(("binary_regex", re.compile(rule.binary_pattern)))
    return found


def _best_of(runs: int, action: Callable[[str | bytes], object], arg: str | bytes) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action(arg)
        best = min(best, time.perf_counter() - start)
    return best


def _count_matches(pattern: re.Pattern[str], text: str | bytes) -> int:
    assert isinstance(text, str)
    return sum(1 for _ in pattern.finditer(text))


def _scan_bytes(detector: Detector, raw: str | bytes) -> int:
    assert isinstance(raw, bytes)
    return len(detector.scan(Fragment(raw=raw, path="adversarial.txt")))


def _ratio(small: float, large: float, floor: float = FLOOR_S) -> float:
    return large / max(small, floor)


def test_there_are_builtin_rules() -> None:
    assert len(RULES) >= 3


@pytest.mark.parametrize("rule", list(RULES), ids=lambda r: r.id)
def test_builtin_regexes_have_bounded_quantifiers(rule: Rule) -> None:
    problems = {name: regex_problems(p.pattern) for name, p in _patterns(rule)}
    assert {k: v for k, v in problems.items() if v} == {}


def test_regex_lint_catches_the_classics() -> None:
    """The lint that the test above relies on does flag what it must."""
    assert regex_problems(r"(?P<secret>(a+)+)")
    assert regex_problems(r"key\s*=\s*(?P<secret>\w+)")
    assert regex_problems(r"(?P<secret>(?:ab|a){1,30}){2,9}")
    assert not regex_problems(r"key\s{0,5}=\s{0,5}(?P<secret>[A-Z2-7]{16})")


@pytest.mark.slow
@pytest.mark.parametrize("rule", list(RULES), ids=lambda r: r.id)
def test_builtin_regexes_run_in_linear_time(rule: Rule) -> None:
    small_size, large_size = 64 * 1024, 256 * 1024
    slow: list[str] = []
    for case, make in ADVERSARIAL.items():
        small, large = make(small_size), make(large_size)
        for name, pattern in _patterns(rule):
            count = partial(_count_matches, pattern)
            t_small, t_large = _best_of(2, count, small), _best_of(2, count, large)
            if _ratio(t_small, t_large) > MAX_RATIO:
                slow.append(f"{name} on {case}: {t_small:.3f}s -> {t_large:.3f}s")
    assert slow == [], f"{rule.id}: super-linear regex time: {slow}"


def measure_detector(sizes: tuple[int, int]) -> dict[str, tuple[float, float]]:
    """Seconds to scan each adversarial input at both sizes (best of two runs each)."""
    detector = Detector(RULES)
    timings: dict[str, tuple[float, float]] = {}
    for case, make in ADVERSARIAL.items():
        small, large = make(sizes[0]).encode(), make(sizes[1]).encode()
        scan = partial(_scan_bytes, detector)
        t_small, t_large = _best_of(2, scan, small), _best_of(2, scan, large)
        timings[case] = (t_small, t_large)
    return timings


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.slow
def test_detector_runs_in_linear_time() -> None:
    """1 MB and 4 MB of each adversarial input, same run: the ratio stays linear.

    Measured in a child process with a memory cap and a timeout, so a regression (say,
    pairing every key with every secret on a line) fails this test instead of the machine.
    """
    mb = 1024 * 1024
    code = (
        "import json, sys; sys.path.insert(0, 'tests'); import test_regex_safety as t;"
        f"print(json.dumps(t.measure_detector(({mb}, {4 * mb}))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_limit_memory,
        check=False,
    )
    assert proc.returncode == 0, (
        f"detector failed under a {MEMORY_LIMIT >> 20} MB cap: {proc.stderr[-2000:]}"
    )
    timings: dict[str, list[float]] = json.loads(proc.stdout)
    report = [f"{case}: 1 MB {a:.3f}s, 4 MB {b:.3f}s" for case, (a, b) in timings.items()]
    print("\n".join(report))
    slow = [
        line
        for line, (a, b) in zip(report, timings.values(), strict=True)
        if _ratio(a, b, DETECTOR_FLOOR_S) > MAX_RATIO
    ]
    assert slow == [], f"super-linear detection: {slow}"


def test_detector_survives_adversarial_inputs_quickly() -> None:
    """A cheap version for every run: each input at 64 KB, no exception, sane findings."""
    detector = Detector(RULES)
    for case, make in ADVERSARIAL.items():
        text = make(64 * 1024)
        findings = detector.scan(Fragment(raw=text.encode(), path="adversarial.txt"))
        for finding in findings:
            assert finding.secret in text or finding.encoding, (case, finding.rule_id)
        if case.startswith("dense-"):
            assert findings, f"{case}: the planted credentials were not found"


# --- rules check on a user's pack -----------------------------------------------------------

USER_PACK = """\
version: 1
rules:
  - id: internal-token
    name: Internal token
    description: Grants access to the internal API.
    severity: high
    keywords: [itok_]
    regex: 'itok_(?P<secret>[a-z0-9]+)'
    examples:
      - 'token = itok_{{lower:24}}'
  - id: internal-password
    name: Internal password
    description: Grants access to the internal database.
    severity: medium
    keywords: [dbpass]
    regex: 'dbpass\\s*=\\s*(?P<secret>[A-Za-z0-9]{12,40})'
    examples:
      - 'dbpass = {{alnum:20}}'
  - id: internal-safe
    name: Internal safe
    description: Bounded everywhere.
    severity: low
    keywords: [isafe_]
    regex: 'isafe_(?P<secret>[a-z0-9]{24})'
    examples:
      - 'isafe_{{lower:24}}'
"""


def test_rules_check_warns_about_risky_quantifiers(tmp_path: Path) -> None:
    pack = tmp_path / "internal.yaml"
    pack.write_text(USER_PACK)
    proc = run_keysweep(["rules", "check", str(pack)], cwd=tmp_path, home=tmp_path / "home")
    out = (proc.stdout + proc.stderr).decode()
    assert "Traceback" not in out
    warnings = [ln for ln in out.splitlines() if "warning" in ln.lower()]
    assert any("internal-token" in ln and "unbounded" in ln for ln in warnings), out
    assert any("internal-password" in ln and "unbounded" in ln for ln in warnings), out
    assert not any("internal-safe" in ln for ln in warnings), out


# --- exponential shapes are refused at load time (issue 9, item 13) ----------------------------

HAZARD_PACK = """\
version: 1
rules:
  - id: acme-token
    name: ACME token
    description: Grants access to ACME.
    severity: high
    keywords: [acme_]
    regex: '{regex}'
    examples:
      - 'acme_aaab'
"""


@pytest.mark.parametrize(
    ("regex", "problem"),
    [
        (r"(?P<secret>acme_(a+)+b)", "nested quantifier"),
        (r"(?P<secret>acme_(?:[a-z]{1,8}){1,8}b)", "nested quantifier"),
        (r"(?P<secret>acme_(?:a|a)+b)", "overlapping alternation"),
        (r"(?P<secret>acme_(?:a|ab)*c)", "overlapping alternation"),
    ],
)
@pytest.mark.parametrize("command", ["scan", "rules-check"])
def test_exponential_user_rule_is_refused_at_load(
    tmp_path: Path, regex: str, problem: str, command: str
) -> None:
    pack = tmp_path / "acme.yaml"
    pack.write_text(HAZARD_PACK.format(regex=regex))
    # The line that took 35 s with the nested rule: refused before any matching starts.
    (tmp_path / "app.txt").write_text("acme_" + "a" * 31 + "\n")
    args = (
        ["scan", "app.txt", "--rules", str(pack)]
        if command == "scan"
        else ["rules", "check", str(pack)]
    )
    proc = run_keysweep(args, cwd=tmp_path, home=tmp_path / "home")
    stderr = proc.stderr.decode()
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr
    errors = [ln for ln in stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1, stderr
    assert str(pack) in errors[0] and "'acme-token'" in errors[0] and problem in errors[0]


@pytest.mark.parametrize(
    ("pattern", "refused"),
    [
        (r"(a+)+b", True),
        (r"(?:a|a)+b", True),
        (r"(?:foo|bar)+", False),  # alternatives start differently
        (r"(?:\w|\d)+", False),  # one character class after parsing
        (r"a+b", False),  # unbounded but polynomial: warned, not refused
        (r"(?:AKIA|ASIA)[A-Z2-7]{16}", False),
        # whitespace and an escaped "\n" (a backslash first) never start alike: PEM in strings
        (r"(?:\s|\\\\?[nr]){0,6}", False),
        (r"(?:[A-Za-z0-9+/=\s]|\\\\?[nr]){64,16384}?", False),
        (r"(?:\s|[ \t]x){0,6}", True),  # a space can start either branch
        (r"(?:[a-z]|\\?[nr]){1,9}", True),  # "n" alone starts either branch
    ],
)
def test_regex_hazards(pattern: str, refused: bool) -> None:
    assert bool(regex_hazards(pattern)) is refused


def test_config_allowlist_regex_with_nested_quantifier_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".keysweep.toml").write_text('[allowlist]\nregexes = ["^(x+)+$"]\n')
    (tmp_path / "a.txt").write_text("hello\n")
    proc = run_keysweep(["scan", "a.txt"], cwd=tmp_path, home=tmp_path / "home")
    stderr = proc.stderr.decode()
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr and "nested quantifier" in stderr
