"""The decoding layers on their own: what decodes, what does not, and the bounds."""

from __future__ import annotations

import base64
import random

import pytest
from support.keys import key_id, secret_key
from support.samples import nested_encodings

from scanner.detect import Detector
from scanner.detect.decoding import (
    MAX_DEPTH,
    MAX_SPANS_PER_LAYER,
    DecodedSpan,
    SpanFinder,
    build_views,
    decode_base64,
    decode_hex_escapes,
    decode_html_references,
    decode_json_escapes,
    decode_percent,
    substitute,
)
from scanner.models import Fragment
from scanner.rules import load_rules


def finder(encoded: bool = False) -> SpanFinder:
    return SpanFinder(["aws", "secret"], lambda text: encoded)


def test_decode_base64_only_accepts_printable_text() -> None:
    assert decode_base64(base64.b64encode(b"hello world, plain text").decode()) == (
        "hello world, plain text"
    )
    assert decode_base64(base64.b64encode(bytes(range(256))).decode()) is None
    assert decode_base64("abc") is None
    assert decode_base64("A" * 17) is None  # length 1 mod 4 cannot be base64
    unpadded = base64.b64encode(b"no padding here!!").decode().rstrip("=")
    assert decode_base64(unpadded) == "no padding here!!"


def test_decode_percent_and_json() -> None:
    assert decode_percent("a%2Fb%2Bc%3D") == "a/b+c="
    assert decode_percent("plain") is None
    assert decode_percent("%ff%fe") is None  # not UTF-8
    assert decode_json_escapes("a\\/b\\u002Bc") == "a/b+c"
    assert decode_json_escapes("abc") is None
    assert decode_hex_escapes("\\x41\\x4BIA\\x2f") == "AKIA/"
    assert decode_hex_escapes("\\x0a\\x00") is None  # control characters are left as they are
    assert decode_hex_escapes("abc") is None
    assert decode_html_references("a&#x2F;b&#X2b;c&#61;&#x002f;&#043;") == "a/b+c=/+"
    assert decode_html_references("&#10;&#x0a;&#127;&#31;") is None  # not printable ASCII
    assert decode_html_references("&amp;&lt;") is None  # named references are not read
    assert decode_html_references("abc") is None


def test_spans_map_back_to_the_encoded_text() -> None:
    value = secret_key("dec", slash=True)
    encoded = base64.b64encode(value.encode()).decode()
    text = f"first line\nAWS_SECRET: {encoded}\nlast"
    (span,) = finder().find(text, encoded_keyword=False)
    assert text[span.start : span.end] == encoded
    assert span.decoded == value and span.encoding == "base64"
    (view,) = build_views(text, [span], lines_before=1)
    assert view.text == f"first line\nAWS_SECRET: {value}"
    region = view.regions[0]
    assert view.text[region.view_start : region.view_end] == value
    assert view.region_of(region.view_start, region.view_end) is region
    assert view.region_of(0, 3) is None


def test_base64_needs_a_trigger() -> None:
    encoded = base64.b64encode(f"key {key_id('t')}".encode()).decode()
    assert finder().find(f"blob: {encoded}", encoded_keyword=False) == []
    assert len(finder(True).find(f"blob: {encoded}", encoded_keyword=True)) == 1
    assert len(finder().find(f"aws: {encoded}", encoded_keyword=False)) == 1


def test_nesting_is_labelled_and_bounded() -> None:
    inner = "aws_secret=" + "x\\/y" * 5
    once = base64.b64encode(inner.encode()).decode()
    (span,) = finder(True).find(f"v: {once}", encoded_keyword=True)
    assert span.encoding == "base64+json-escape" and "\\/" not in span.decoded
    # four levels (base64 x3 around the escapes): MAX_DEPTH (3) are decoded, not the fourth
    thrice = base64.b64encode(base64.b64encode(once.encode())).decode()
    (span,) = finder(True).find(f"v: {thrice}", encoded_keyword=True)
    assert span.encoding == "+".join(["base64"] * MAX_DEPTH) and "\\/" in span.decoded


def test_span_count_is_capped() -> None:
    rng = random.Random(1)
    words = [
        base64.b64encode(f"aws word {i} {'z' * rng.randrange(8, 20)}".encode()).decode()
        for i in range(MAX_SPANS_PER_LAYER * 3)
    ]
    spans = finder(True).find(" ".join(words), encoded_keyword=True)
    assert 0 < len(spans) <= MAX_SPANS_PER_LAYER


def test_substitute() -> None:
    spans = [DecodedSpan(2, 4, "XY", "percent"), DecodedSpan(6, 7, "Z", "percent")]
    assert substitute("ab%%cd!ef", spans) == "abXYcdZef"


def test_a_jwt_inside_base64_is_also_read_whole() -> None:
    """The decoded claims for what they hold, and a second reading with the JWT kept whole
    (a view of its own), for rules that match the token itself."""
    claims = base64.urlsafe_b64encode(b'{"sub":"ci-runner","aws":"nothing here"}').decode()
    jwt = f"eyJhbGciOiJIUzI1NiJ9.{claims.rstrip('=')}.{'s' * 43}"
    encoded = base64.b64encode(jwt.encode()).decode()
    text = f"line one\naws_token: {encoded} # end\n"
    (span,) = finder().find(text, encoded_keyword=False)
    assert span.encoding == "base64+jwt" and "ci-runner" in span.decoded and jwt not in span.decoded
    assert span.token_reading == DecodedSpan(span.start, span.end, jwt, "base64")
    claimed, whole = build_views(text, [span], lines_before=1)
    assert claimed.text == f"line one\naws_token: {span.decoded} # end"
    assert whole.text == f"line one\naws_token: {jwt} # end"
    assert whole.regions[0].span is span.token_reading
    # nothing decoded inside it: one reading, one view
    wrapped = base64.b64encode(b"aws_secret=abcdefgh").decode()
    (plain,) = finder().find(f"aws: {wrapped}", encoded_keyword=False)
    assert plain.token_reading is None
    assert len(build_views("x", [DecodedSpan(0, 1, "y", "base64")], lines_before=0)) == 1


_NESTED_SECRET = secret_key("nested")
_DETECTOR = Detector(load_rules())


@pytest.mark.parametrize(
    ("text", "encoding"),
    [pytest.param(text, enc, id=name) for name, text, enc in nested_encodings(_NESTED_SECRET)],
)
def test_nested_encodings_through_the_detector(text: str, encoding: str | None) -> None:
    """Found down to MAX_DEPTH levels and reported at the outermost encoded text."""
    findings = [f for f in _DETECTOR.scan(Fragment.from_text(text)) if f.secret == _NESTED_SECRET]
    if encoding is None:
        assert findings == []
        return
    (finding,) = findings
    outer = text.split(": ", 1)[1].rstrip("\n")
    assert finding.encoding == encoding
    assert (finding.line, finding.column) == (1, text.index(outer) + 1)
    assert finding.end_column == text.index(outer) + len(outer) + 1
