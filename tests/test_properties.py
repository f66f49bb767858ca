"""Property tests (hypothesis) for the detector and what is derived from its findings.

- the detection pipeline never raises, whatever the bytes (checked on the pipeline itself,
  not only on ``Detector.scan``, which swallows exceptions so one odd file cannot stop a scan
  — a swallowed exception would silently lose findings);
- every finding's position lies inside its input, and points at the secret;
- ``wants(raw) == False`` really means ``scan`` finds nothing;
- redacted output (every report format, default options) never contains a secret;
- fingerprints are stable across runs and machines (golden values, another interpreter
  with another hash seed);
- decoding layers terminate: nested encodings of any depth end, bounded.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import fuzz
from support.keys import Credential, make_credential
from support.run import REPO_ROOT

from scanner.detect import Detector
from scanner.models import (
    Finding,
    Fragment,
    ScanResult,
    ScanSummary,
    fingerprint_of,
)
from scanner.report import REPORTERS, reporter
from scanner.rules import load_rules

DETECTOR = Detector(load_rules())
# The pipeline behind Detector.scan, without its catch-all (see the module docstring).
PIPELINE: Callable[[Fragment], list[Finding]] = getattr(DETECTOR, "_scan", DETECTOR.scan)

CREDS = [make_credential(f"prop-{i}") for i in range(3)] + [
    make_credential("prop-session", temporary=True)
]
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _pieces(creds: list[Credential]) -> list[str]:
    env = creds[0].env_text()
    pieces = [
        "AWS_ACCESS_KEY_ID=",
        "AWS_SECRET_ACCESS_KEY=",
        "aws_secret_access_key",
        "aws_session_token = ",
        "secretAccessKey",
        "export ",
        "[default]\n",
        " = ",
        "=",
        ": ",
        '"',
        "'",
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "keysweep:allow",
        "EXAMPLE",
        "%2B",
        "%2F",
        "\\/",
        "\\n",
        "\x00",
        "\ufeff",
        "é",
        "日本",
        "\U0001f511",
        "İ",  # lower() changes the length of this one
        "AKIA",
        "ASIA",
        "${AWS_SECRET_ACCESS_KEY}",
        base64.b64encode(env.encode()).decode(),
        urllib.parse.quote(env),
        json.dumps(env),
        "-----BEGIN PRIVATE KEY-----\n",
        "-----END PRIVATE KEY-----\n",
        "ghp_",
        "https://",
        "@",
    ]
    for cred in creds:
        pieces += [cred.key_id, cred.secret, cred.secret[:20], cred.key_id[:12]]
        if cred.token:
            pieces.append(cred.token)
    return pieces


aws_text = st.lists(st.sampled_from(_pieces(CREDS)) | st.text(max_size=12), max_size=40).map(
    "".join
)
encodings = st.sampled_from(["utf-8", "utf-16", "utf-16-be", "utf-8-sig", "latin-1"])


@st.composite
def raw_inputs(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=4096))
    text = draw(aws_text)
    encoding = draw(encodings)
    raw = text.encode(encoding, "replace")
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    return raw


def _lines(text: str) -> list[str]:
    return text.split("\n")


def check_finding(finding: Finding, text: str) -> None:
    lines = _lines(text)
    assert finding.secret
    assert 1 <= finding.line <= len(lines), (finding.line, len(lines))
    line = lines[finding.line - 1]
    assert 1 <= finding.column <= len(line) + 1, (finding.column, len(line))
    assert finding.end_line >= finding.line
    assert finding.end_line <= len(lines)
    if finding.encoding is None:
        # The position points at the secret itself.
        start = sum(len(ln) + 1 for ln in lines[: finding.line - 1]) + finding.column - 1
        assert text[start : start + len(finding.secret)] == finding.secret, finding
        if finding.end_line == finding.line:
            assert finding.end_column == finding.column + len(finding.secret)
    for paired in finding.paired:
        assert 1 <= paired.line <= len(lines)
        assert paired.distance == abs(paired.line - finding.line)


@PROPERTY_SETTINGS
@given(raw_inputs())
def test_detector_never_raises_and_spans_are_inside(raw: bytes) -> None:
    fragment = Fragment(raw=raw, path="input.env")
    findings = PIPELINE(fragment)
    for finding in findings:
        check_finding(finding, fragment.text)
    if findings:
        assert DETECTOR.wants(raw), "wants() said no, scan() found something"


@PROPERTY_SETTINGS
@given(aws_text, st.sampled_from(["a.env", "src/settings.py", "k8s/secret.yaml", "x"]))
def test_detector_on_text_fragments(text: str, path: str) -> None:
    fragment = Fragment.from_text(text, path)
    for finding in PIPELINE(fragment):
        check_finding(finding, text)


def test_planted_credentials_are_found_with_exact_spans() -> None:
    """The properties above must not pass vacuously: plain credentials are found."""
    for cred in CREDS:
        text = f"# config\n{cred.env_text()}"
        findings = PIPELINE(Fragment.from_text(text, "app.env"))
        secrets = {f.secret for f in findings}
        assert {cred.key_id, cred.secret} <= secrets, secrets
        for finding in findings:
            check_finding(finding, text)


# --- redaction -----------------------------------------------------------------------------


def _render_all(findings: list[Finding], *, redact_ids: bool = False) -> dict[str, str]:
    result = ScanResult(
        findings=tuple(findings),
        summary=ScanSummary(mode="scan", target="input", files_scanned=1),
    )
    return {
        name: reporter(name).render(result, show_secrets=False, redact_ids=redact_ids)
        for name in REPORTERS
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(CREDS), min_size=1, max_size=3),
    st.lists(st.sampled_from(["\n", " ", "\r\n", "\n\n", "  # note\n", ","]), min_size=3),
    st.sampled_from(["a.env", "dir/ä b.env", "x\ny.env", "weird\x1b[0m.env"]),
)
def test_redacted_output_never_contains_a_secret(
    creds: list[Credential], separators: list[str], path: str
) -> None:
    parts = []
    for i, cred in enumerate(creds):
        sep = separators[i % len(separators)]
        parts.append(
            f"AWS_ACCESS_KEY_ID={cred.key_id}{sep}AWS_SECRET_ACCESS_KEY={cred.secret}{sep}"
        )
        if cred.token:
            parts.append(f"AWS_SESSION_TOKEN={cred.token}{sep}")
    findings = DETECTOR.scan(Fragment.from_text("".join(parts), path))
    assert findings
    assert any(f.identifier for f in findings)  # key IDs: shown by default, hidden on request
    for redact_ids in (False, True):
        for name, out in _render_all(findings, redact_ids=redact_ids).items():
            for finding in findings:
                assert finding.secret not in finding.redacted
                if finding.identifier and not redact_ids:
                    assert finding.secret in out, f"{name} hides the key ID {finding.rule_id}"
                else:
                    assert finding.secret not in out, f"{name} shows {finding.rule_id}'s secret"
                for paired in finding.paired:
                    assert paired.secret not in out, f"{name} shows a paired secret"


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=16, max_size=400))
def test_redact_never_contains_the_value(secret: str) -> None:
    finding = Finding(
        rule_id="r", rule_name="r", severity=load_rules().rules[0].severity, description="",
        path="p", line=1, column=1, secret=secret, entropy=0.0,
    )  # fmt: skip
    assert secret not in finding.redacted


# --- fingerprints --------------------------------------------------------------------------

GOLDEN_INPUT_SEED = "golden-fingerprint"
# fingerprint_of(rule_id, secret) for the credential make_credential(GOLDEN_INPUT_SEED):
# sha256("keysweep:v1:<rule>:<secret>")[:32]. Changing either breaks every baseline.
GOLDEN = {
    "aws-access-key-id": "adb18c8d4d1d80c0f29b4f244c957a7e",
    "aws-secret-access-key": "64d212e0638f52ab2243eace064f2b70",
}


def _golden_findings() -> dict[str, str]:
    cred = make_credential(GOLDEN_INPUT_SEED)
    findings = DETECTOR.scan(Fragment.from_text(cred.env_text(), "golden.env"))
    return {f.rule_id: f.fingerprint for f in findings}


def test_fingerprints_match_golden_values() -> None:
    assert _golden_findings() == GOLDEN
    assert fingerprint_of("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE") == (
        "6951608d29f5468ffb47550339a04050"
    )


def test_fingerprints_are_the_same_in_another_interpreter() -> None:
    code = (
        "import json, sys; sys.path.insert(0, 'tests');"
        "import test_properties as t; print(json.dumps(t._golden_findings()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, check=True
    )
    assert json.loads(proc.stdout) == _golden_findings()


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CREDS), st.sampled_from(["a.env", "b/c.py"]), st.integers(0, 50))
def test_fingerprints_do_not_depend_on_position(cred: Credential, path: str, pad: int) -> None:
    text = "\n" * pad + " " * pad + cred.env_text()
    prints = {f.rule_id: f.fingerprint for f in DETECTOR.scan(Fragment.from_text(text, path))}
    assert prints["aws-access-key-id"] == fingerprint_of("aws-access-key-id", cred.key_id)
    assert prints["aws-secret-access-key"] == fingerprint_of("aws-secret-access-key", cred.secret)


# --- decoding layers -----------------------------------------------------------------------

ENCODERS: dict[str, Callable[[str], str]] = {
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "percent": lambda s: urllib.parse.quote(s, safe=""),
    "json": lambda s: json.dumps(s)[1:-1],
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CREDS),
    st.lists(st.sampled_from(sorted(ENCODERS)), max_size=8),
    st.sampled_from(["", "credentials: ", "aws_secret_access_key: ", "data:\n  aws: "]),
    st.integers(1, 4),
)
def test_decoding_layers_terminate(
    cred: Credential, layers: list[str], prefix: str, copies: int
) -> None:
    value = cred.env_text()
    for layer in layers:
        value = ENCODERS[layer](value)
    text = "\n".join([prefix + value] * copies) + "\n"
    fragment = Fragment.from_text(text, "k8s/secret.yaml")
    first = PIPELINE(fragment)
    again = PIPELINE(Fragment.from_text(text, "k8s/secret.yaml"))
    assert first == again, "decoding is not deterministic"
    assert len(first) <= 16 * copies, f"{len(first)} findings from {copies} credentials"
    for finding in first:
        check_finding(finding, text)
    if not layers:
        assert {cred.key_id, cred.secret} <= {f.secret for f in first}


# --- git output parsers (support.fuzz; bench/fuzz_git_parsers.py runs them under atheris) ---


class HypothesisProvider:
    """The part of atheris' FuzzedDataProvider the fuzz targets use, drawn by hypothesis."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def ConsumeIntInRange(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def ConsumeBytes(self, n: int) -> bytes:
        return self.data.draw(st.binary(max_size=n))

    def PickValueInList(self, values: list[str]) -> str:
        return self.data.draw(st.sampled_from(values))

    def ConsumeUnicodeNoSurrogates(self, n: int) -> str:
        return self.data.draw(st.text(max_size=n))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_log_parser_round_trips_and_fails_only_with_git_error(data: st.DataObject) -> None:
    fuzz.fuzz_log(HypothesisProvider(data))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_cat_file_reader_recovers_from_damaged_objects(data: st.DataObject) -> None:
    fuzz.fuzz_catfile(HypothesisProvider(data))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_clone_urls_are_redacted(data: st.DataObject) -> None:
    fuzz.fuzz_redact_url(HypothesisProvider(data))
