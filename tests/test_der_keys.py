"""Private keys written as base64 DER without the PEM armour (``private-key-der-base64``):
the ``der-private-key`` check on keys made by the ``cryptography`` library, and the rule end to
end. Every key is made at run time."""

from __future__ import annotations

import base64
import datetime
import random
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import load_rules
from scanner.rules.checks import der_private_key
from scanner.rules.templates import DER_KEY_KINDS, der_key

RULE = "private-key-der-base64"
DER = serialization.Encoding.DER
PKCS8 = serialization.PrivateFormat.PKCS8
TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL
NO_PASSWORD = serialization.NoEncryption()

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)
_EC = ec.generate_private_key(ec.SECP256R1())
_KEYS: dict[str, Callable[[], object]] = {
    "rsa": lambda: _RSA,
    "ec-p256": lambda: _EC,
    "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ec-p521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "dsa": lambda: dsa.generate_private_key(key_size=1024),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ed448": ed448.Ed448PrivateKey.generate,
    "x25519": x25519.X25519PrivateKey.generate,
}
_TRADITIONAL = ("rsa", "ec-p256", "ec-p384", "ec-p521", "dsa")  # PKCS#1 RSA, SEC1 EC, DSA


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _private(name: str, fmt: serialization.PrivateFormat) -> bytes:
    key = _KEYS[name]()
    return key.private_bytes(DER, fmt, NO_PASSWORD)  # type: ignore[attr-defined, no-any-return]


def _certificate() -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keysweep.invalid")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_RSA.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(_RSA, hashes.SHA256())
    )
    return cert.public_bytes(DER)


PRIVATE = [(name, PKCS8) for name in _KEYS] + [(name, TRADITIONAL) for name in _TRADITIONAL]


@pytest.mark.parametrize(
    ("name", "fmt"),
    PRIVATE,
    ids=[f"{n}-{'pkcs8' if f is PKCS8 else 'traditional'}" for n, f in PRIVATE],
)
def test_every_private_key_layout_is_a_key(name: str, fmt: serialization.PrivateFormat) -> None:
    data = _private(name, fmt)
    assert der_private_key(_b64(data))
    assert der_private_key(_b64(data).rstrip("="))  # padding is optional
    assert not der_private_key(_b64(data[:-1]))  # cut: the outer length no longer holds
    assert not der_private_key(_b64(data + b"\x00"))  # a byte past the key


def _not_keys() -> list[tuple[str, bytes]]:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return [
        ("certificate", _certificate()),
        ("public key", _RSA.public_key().public_bytes(DER, spki)),
        (
            "PKCS#1 public key",
            _RSA.public_key().public_bytes(DER, serialization.PublicFormat.PKCS1),
        ),
        ("EC public key", _EC.public_key().public_bytes(DER, spki)),
        (
            "encrypted PKCS#8",  # private-key-encrypted's business, as PEM
            _RSA.private_bytes(DER, PKCS8, serialization.BestAvailableEncryption(b"pass")),
        ),
    ]


@pytest.mark.parametrize(("what", "data"), _not_keys(), ids=[w for w, _ in _not_keys()])
def test_other_der_structures_are_not_keys(what: str, data: bytes) -> None:
    assert not der_private_key(_b64(data)), what


def test_lengths_in_a_longer_form_than_needed_are_not_der() -> None:
    data = _private("ed25519", PKCS8)  # 30 2e ...: a short-form outer length
    assert der_private_key(_b64(data))
    longer = b"\x30\x81" + data[1:2] + data[2:]  # the same length written in the long form
    assert not der_private_key(_b64(longer))
    assert not der_private_key(_b64(b"\x30\x82\x00" + data[1:2] + data[2:]))


@pytest.mark.parametrize("kind", DER_KEY_KINDS)
def test_generated_fixture_keys_have_the_layout_of_their_kind(kind: str) -> None:
    value = der_key(random.Random(kind), kind)
    assert der_private_key(value) is (kind not in ("public", "cert"))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=1600), st.sampled_from(sorted(_KEYS)))
def test_every_prefix_of_a_key_is_refused(cut: int, name: str) -> None:
    data = _private(name, PKCS8)
    if cut < len(data):
        assert not der_private_key(_b64(data[:cut]))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_an_answer(data: bytes) -> None:
    assert der_private_key(_b64(data)) in (True, False)
    assert der_private_key(_b64(data)[1:]) in (True, False)  # not base64 of whole bytes


DETECTOR = Detector(load_rules())


def _found(text: str, path: str) -> list[tuple[str, str]]:
    findings = DETECTOR.scan(Fragment.from_text(text, path))
    return [(f.rule_id, f.secret) for f in findings]


def test_keys_in_their_usual_homes_are_found_whole() -> None:
    pkcs8 = _b64(_private("rsa", PKCS8))
    sec1 = _b64(_private("ec-p256", TRADITIONAL))
    escaped = sec1.replace("/", "\\/")
    assert _found(f"SNOWFLAKE_PRIVATE_KEY={pkcs8}\n", ".env") == [(RULE, pkcs8)]
    assert _found(f'{{"apns": {{"authKey": "{escaped}"}}}}\n', "settings.json") == [(RULE, sec1)]
    java = f'static final String SIGNING_KEY = "{pkcs8}";\n'
    assert _found(java, "src/Keys.java") == [(RULE, pkcs8)]


def test_a_pem_key_is_reported_once_by_the_pem_rule() -> None:
    body = _b64(_private("rsa", PKCS8))
    one_line = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    assert [rule for rule, _ in _found(one_line, "key.pem")] == ["private-key"]
    wrapped = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    pem = f"-----BEGIN PRIVATE KEY-----\n{wrapped}\n-----END PRIVATE KEY-----\n"
    assert [rule for rule, _ in _found(pem, "key.pem")] == ["private-key"]


def test_certificates_and_public_keys_beside_a_key_name_are_silent() -> None:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    public = _b64(_RSA.public_key().public_bytes(DER, spki))
    text = f"TLS_KEY_CERT={_b64(_certificate())}\nJWT_PUBLIC_KEY={public}\n"
    assert _found(text, ".env") == []
