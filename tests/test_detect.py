"""The detector engine: prefilter (both backends), pipeline order, robustness, de-duplication."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest
from support.keys import key_id, secret_key

from scanner.allowlist import Allowlist, AllowRegex
from scanner.detect import Detector, account_id_from_key_id
from scanner.detect import prefilter as prefilter_module
from scanner.detect.prefilter import Prefilter, base64_forms
from scanner.models import Finding, Fragment
from scanner.rules import load_pack, load_rules

RULES = load_rules()
K = key_id("engine")
S = secret_key("engine")


@pytest.fixture(scope="module", params=["hyperscan", "re2"])
def detector(request: pytest.FixtureRequest) -> Detector:
    det = Detector(RULES, use_hyperscan=None if request.param == "hyperscan" else False)
    assert det.prefilter_backend == request.param
    return det


# ----------------------------------------------------------------------- prefilter


def test_wants_is_a_keyword_prefilter(detector: Detector) -> None:
    assert not detector.wants(b"")
    assert not detector.wants(b"def main():\n    return 42\n" * 1000)
    assert detector.wants(b"x = 1\n" * 1000 + b"aws_access_key_id = ...")
    assert detector.wants(b"AWS_SESSION_TOKEN=")
    assert detector.wants(b"GhP_")  # case-insensitive
    # only a base64 form of a keyword: the decoding layer may still find something
    import base64

    encoded = base64.b64encode(f"id={K}".encode())
    assert b"AKIA" not in encoded.upper()
    assert detector.wants(encoded)
    assert [f.secret for f in detector.scan(Fragment(raw=b"v: " + encoded, path="x"))] == [K]


def test_wants_false_means_scan_finds_nothing(detector: Detector) -> None:
    rng = random.Random(7)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        if not detector.wants(raw):
            assert detector.scan(Fragment(raw=raw, path="x.bin")) == []


def test_fallback_is_used_when_hyperscan_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter_module, "_hyperscan", lambda: None)
    det = Detector(RULES)
    assert det.prefilter_backend == "re2"
    text = f"AWS_ACCESS_KEY_ID={K}\nAWS_SECRET_ACCESS_KEY={S}\n"
    assert det.wants(text.encode())
    assert [f.rule_id for f in det.scan(Fragment.from_text(text))] == [
        "aws-access-key-id",
        "aws-secret-access-key",
    ]
    with pytest.raises(ImportError):
        Prefilter([["x"]], use_hyperscan=True)


def test_prefilter_backends_agree() -> None:
    keywords = [r.keywords for r in RULES]
    fast, slow = Prefilter(keywords), Prefilter(keywords, use_hyperscan=False)
    rng = random.Random(3)
    samples = [b"", b"AKIA", b"session-TOKEN", b"xoxb-", b"Private Key-----", b"QUtJQ" + b"x" * 10]
    samples += [bytes(rng.choice(b"akiasecrt_-QUJtx ") for _ in range(60)) for _ in range(300)]
    for raw in samples:
        assert fast.wants(raw) == slow.wants(raw), raw
        assert fast.hits(raw) == slow.hits(raw), raw


def test_prefilter_remembers_keyword_sets_without_changing_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``hits`` keeps one KeywordHits per set of ids found; with room for three sets it
    # forgets and remakes them, and every answer stays the one read off the keywords.
    monkeypatch.setattr(prefilter_module, "KNOWN_HITS", 3)
    keywords = [r.keywords for r in RULES]
    always = {i for i, rule_keywords in enumerate(keywords) if not rule_keywords}
    words = [*sorted({k for rule_keywords in keywords for k in rule_keywords}), "%2f", "x"]
    rng = random.Random(5)
    samples = [" ".join(rng.sample(words, rng.randint(0, 4))) for _ in range(60)]
    for use_hyperscan in (None, False):
        kept = Prefilter(keywords, use_hyperscan=use_hyperscan)
        for text in samples + samples[::-1]:
            low = text.lower()
            got = kept.hits(text.encode())
            named = {i for i, words_of in enumerate(keywords) if any(k in low for k in words_of)}
            assert got.rules == always | named, text
            assert got.present == {k for k in words[:-2] if k in low}, text
            assert ("percent" in (got.signals or ())) == ("%2f" in low), text
        assert 0 < len(kept._known) <= 3


def test_base64_forms_cover_every_alignment() -> None:
    import base64

    forms = base64_forms("AKIA")
    assert len(forms) == 3
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + b"AKIA" + b"yz").decode()
        assert any(form in encoded for form in forms)


def test_detector_pickles(detector: Detector) -> None:
    clone = pickle.loads(pickle.dumps(detector))
    text = f"aws_secret_access_key = {S}"
    assert [f.secret for f in clone.scan(Fragment.from_text(text))] == [S]
    if detector._cores.available:  # built databases travel serialized, gates included
        detector._cores.build()
        built = pickle.loads(pickle.dumps(detector))
        assert built._cores.built
        assert built._cores._gate_dbs.keys() == detector._cores._gate_dbs.keys() != set()
        assert built._cores._rule_dbs.keys() == detector._cores._rule_dbs.keys()
        assert [f.secret for f in built.scan(Fragment.from_text(text))] == [S]


# ----------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 1000,
        b"\xff\xfe\xfd" * 500,
        b"AKIA\x00" + K.encode() + b"\x00\xff",
        b"\r\n" * 5000,
        b"%2F" * 3000 + b"aws_secret",
        b"\\/" * 3000 + b"aws_secret",
        b"QUtJQ" * 5000,
        b"aws_secret_access_key=" + b"A" * 100_000,
        b"-----BEGIN RSA PRIVATE KEY-----" + b"a" * 20_000,
    ],
)
def test_never_raises_on_odd_input(detector: Detector, raw: bytes) -> None:
    assert isinstance(detector.scan(Fragment(raw=raw, path="odd")), list)


def test_random_bytes_never_raise(detector: Detector) -> None:
    rng = random.Random(11)
    alphabet = b"AKIASaws_secret=:%2F\\/+QUtJQ\n\r\x00\xff0123456789"
    for _ in range(300):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 600)))
        assert isinstance(detector.scan(Fragment(raw=raw, path="fuzz")), list)


def test_invalid_utf8_nul_and_crlf_around_a_key(detector: Detector) -> None:
    raw = b"ok\xff\xfe\x00garbage\x00\r\nAWS_ACCESS_KEY_ID=" + K.encode() + b"\r\n\x80\x81"
    (finding,) = detector.scan(Fragment(raw=raw, path="weird.env"))
    assert finding.secret == K and finding.line == 2 and finding.column == 19


def test_utf16_file_with_bom(detector: Detector) -> None:
    raw = f"aws_secret_access_key = {S}\n".encode("utf-16")
    assert detector.wants(raw)
    assert [f.secret for f in detector.scan(Fragment(raw=raw, path="u16.txt"))] == [S]


def test_megabyte_single_line_finds_key_at_the_end(detector: Detector) -> None:
    line = ("a+b/c=d;" * 131072) + f" key={K}"
    findings = detector.scan(Fragment.from_text(line, "bundle.js"))
    assert [(f.secret, f.line, f.column) for f in findings] == [(K, 1, len(line) - 19)]


# ----------------------------------------------------------------------- pipeline


def test_inline_allow_markers_can_be_disabled() -> None:
    text = f"AWS_ACCESS_KEY_ID={K}  # keysweep:allow\n"
    assert Detector(RULES).scan(Fragment.from_text(text)) == []
    assert [
        f.secret for f in Detector(RULES, inline_allow=False).scan(Fragment.from_text(text))
    ] == [K]


def test_global_allowlist() -> None:
    text = f"AWS_ACCESS_KEY_ID={K}\nAWS_SECRET_ACCESS_KEY={S}\n"
    frag = Fragment.from_text(text, "tests/fixtures/creds.env")
    assert Detector(RULES, allowlist=Allowlist(paths=("tests/fixtures/*",))).scan(frag) == []
    by_stopword = Detector(RULES, allowlist=Allowlist(stopwords=(K[6:12],))).scan(frag)
    assert [f.rule_id for f in by_stopword] == ["aws-secret-access-key"]
    by_line = Detector(
        RULES,
        allowlist=Allowlist(regexes=(AllowRegex(__import__("re").compile("^AWS_SECRET"), "line"),)),
    ).scan(frag)
    assert [f.rule_id for f in by_line] == ["aws-access-key-id"]


def _user_pack(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "user.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_rule_path_scope_and_entropy(tmp_path: Path) -> None:
    pack = _user_pack(
        tmp_path,
        """\
rules:
  - id: internal-token
    name: Internal token
    description: Grants access to the internal admin API.
    severity: medium
    keywords: [itk_]
    regex: 'itk_(?P<secret>[A-Za-z0-9]{20})'
    min_entropy: 3.5
    paths: ['*.cfg', 'deploy/*']
    allowlist: {paths: ['deploy/test/*']}
    examples: [{text: 'itk_{{alnum:20}}', path: app.cfg}]
""",
    )
    det = Detector(load_pack(pack))
    value = "itk_" + secret_key("scope", plain=True)[:20]
    assert len(det.scan(Fragment.from_text(value, "app.cfg"))) == 1
    assert len(det.scan(Fragment.from_text(value, "deploy/prod/x.yaml"))) == 1
    assert det.scan(Fragment.from_text(value, "deploy/test/x.yaml")) == []
    assert det.scan(Fragment.from_text(value, "app.py")) == []
    assert det.scan(Fragment.from_text("itk_aaaaaaaaaaaaaaaaaaaa", "app.cfg")) == []


def test_overlapping_rules_for_one_secret_are_deduplicated(tmp_path: Path) -> None:
    pack = _user_pack(
        tmp_path,
        """\
rules:
  - id: broad-key
    name: Broad key
    description: A broad pattern for the same secret.
    severity: low
    keywords: [akia]
    regex: '(?P<secret>AKIA[A-Z2-7]{16})'
    examples: ['{{aws_key_id}}']
""",
    )
    det = Detector(tuple(RULES) + tuple(load_pack(pack)))
    findings = det.scan(Fragment.from_text(f"x = {K}\n"))
    assert [f.rule_id for f in findings] == ["aws-access-key-id"]  # critical wins over low


def test_unsafe_user_regex_runs_per_line(tmp_path: Path) -> None:
    pack = _user_pack(
        tmp_path,
        """\
rules:
  - id: loose-token
    name: Loose token
    description: A user rule with an unbounded quantifier.
    severity: low
    keywords: [tok=]
    regex: 'tok=(?P<secret>\\w+)'
    examples: ['tok={{alnum:12}}']
""",
    )
    det = Detector(load_pack(pack))
    findings = det.scan(Fragment.from_text("a\ntok=abc123\n" + "x" * 20000 + " tok=zzz\nb tok=q9"))
    assert [(f.secret, f.line, f.column) for f in findings] == [("abc123", 2, 5), ("q9", 4, 7)]


def test_finding_fields(detector: Detector) -> None:
    text = f"aws_access_key_id = {K}\naws_secret_access_key = {S}\n"
    key, sec = detector.scan(Fragment(raw=text.encode(), path="c", source="history", blob_id="abc"))
    assert key.rule_name == "AWS access key ID" and key.severity.value == "critical"
    assert key.source == "history" and key.blob_id == "abc"
    assert key.account_id == account_id_from_key_id(K)
    assert key.encoding is None and 3.0 < key.entropy <= 5.0
    assert sec.paired == () and key.paired[0].secret == S
    assert (sec.line, sec.column, sec.end_line, sec.end_column) == (2, 25, 2, 65)


def test_keyword_dense_text_falls_back_to_whole_text(detector: Detector) -> None:
    text = "aws region\n" * 6000 + f"aws_secret_access_key = {S}\n"
    assert [(f.secret, f.line) for f in detector.scan(Fragment.from_text(text))] == [(S, 6001)]


def test_context_windows_on_one_huge_line(detector: Detector) -> None:
    filler = "x=1;" * 50_000
    text = (
        f"{filler}aws_secret_access_key='{S}';{filler}id='{K}';{filler}value='{secret_key('far')}'"
    )
    findings = detector.scan(Fragment.from_text(text))
    assert sorted(f.secret for f in findings) == sorted([S, K, secret_key("far")])


def test_unicode_lowercasing_that_changes_length(detector: Detector) -> None:
    text = "İ" * 10 + f"\naws_secret_access_key = {S}\n"
    assert [f.secret for f in detector.scan(Fragment.from_text(text))] == [S]


def test_a_detector_bug_fails_the_run_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crash inside the detector must never turn into a silent "clean" (exit 0)."""
    from scanner.cli import EXIT_ERROR, main
    from scanner.detect.engine import Detector as EngineDetector

    def broken(self: EngineDetector, fragment: Fragment) -> list[Finding]:
        raise IndexError("secret-bearing text must not be echoed")

    target = tmp_path / "app.env"
    target.write_text("AWS_REGION=us-east-1\n")
    monkeypatch.setattr(EngineDetector, "_scan", broken)
    assert main(["scan", str(target), "--format", "json"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "app.env: the detector failed on this input (IndexError)" in err
    assert "secret-bearing" not in err
    assert "Traceback" not in err
