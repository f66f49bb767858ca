"""Private keys written as base64 DER without the PEM armour (``private-key-der-base64``, and
``private-key-der-base64-encrypted`` for keys under a password and PKCS#12 bundles): the
``der-private-key`` and ``der-encrypted-private-key`` checks on keys made by the
``cryptography`` library, and the rules end to end. Every key is made at run time."""

from __future__ import annotations

import base64
import datetime
import random
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import load_rules
from scanner.rules.checks import der_encrypted_private_key, der_private_key
from scanner.rules.templates import DER_KEY_KINDS, der_key, tlv

RULE = "private-key-der-base64"
ENCRYPTED_RULE = "private-key-der-base64-encrypted"
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
    assert der_private_key(value) is (kind not in ("enc", "p12", "public", "cert"))
    assert der_encrypted_private_key(value) is (kind in ("enc", "p12"))


def _under_password() -> list[tuple[str, bytes]]:
    password = serialization.BestAvailableEncryption(b"correct horse")
    pbes1 = tlv(  # PKCS#12 PBE with SHA-1 and 3DES, as `openssl pkcs8 -v1 PBE-SHA1-3DES` writes
        0x30,
        tlv(0x30, bytes.fromhex("060a2a864886f70d010c0103") + tlv(0x30, tlv(0x04, b"s" * 8)))
        + tlv(0x04, bytes(range(256)) * 3),
    )
    cert = x509.load_der_x509_certificate(_certificate())
    return [
        ("PBES2 RSA", _RSA.private_bytes(DER, PKCS8, password)),
        ("PBES2 EC", _EC.private_bytes(DER, PKCS8, password)),
        ("PBES2 Ed25519", ed25519.Ed25519PrivateKey.generate().private_bytes(DER, PKCS8, password)),
        ("PBES1", pbes1),
        ("PKCS#12", pkcs12.serialize_key_and_certificates(b"ci", _RSA, cert, None, password)),
        (
            "PKCS#12, EC key only",
            pkcs12.serialize_key_and_certificates(b"ci", _EC, None, None, password),
        ),
        (
            "PKCS#12, no password",
            pkcs12.serialize_key_and_certificates(b"ci", _RSA, cert, None, NO_PASSWORD),
        ),
    ]


@pytest.mark.parametrize(("what", "data"), _under_password(), ids=[w for w, _ in _under_password()])
def test_keys_under_a_password_and_pkcs12_bundles(what: str, data: bytes) -> None:
    assert der_encrypted_private_key(_b64(data)), what
    assert not der_private_key(_b64(data)), what  # one rule each: never both
    assert not der_encrypted_private_key(_b64(data[:-1]))
    assert not der_encrypted_private_key(_b64(data + b"\x00"))


@pytest.mark.parametrize(("what", "data"), _not_keys()[:4], ids=[w for w, _ in _not_keys()[:4]])
def test_certificates_and_public_keys_are_not_encrypted_keys(what: str, data: bytes) -> None:
    assert not der_encrypted_private_key(_b64(data)), what


def test_other_schemes_and_versions_are_refused() -> None:
    data = _RSA.private_bytes(DER, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    pbes2 = bytes.fromhex("2a864886f70d01050d")
    assert der_encrypted_private_key(_b64(data))
    other = data.replace(pbes2, bytes.fromhex("2a864886f70d01010b"), 1)  # sha256WithRSA
    assert not der_encrypted_private_key(_b64(other))
    bundle = pkcs12.serialize_key_and_certificates(b"ci", _EC, None, None, NO_PASSWORD)
    version = bundle.index(b"\x02\x01\x03")
    assert not der_encrypted_private_key(
        _b64(bundle[:version] + b"\x02\x01\x02" + bundle[version + 3 :])
    )


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


def test_bundles_and_encrypted_keys_are_found_by_their_own_rule() -> None:
    password = serialization.BestAvailableEncryption(b"pw")
    bundle = _b64(pkcs12.serialize_key_and_certificates(b"ci", _EC, None, None, password))
    encrypted = _b64(_RSA.private_bytes(DER, PKCS8, password))
    text = f"BUILD_CERTIFICATE_BASE64={bundle}\nP12_KEY={encrypted}\n"
    assert _found(text, "ci/ios.env") == [(ENCRYPTED_RULE, bundle), (ENCRYPTED_RULE, encrypted)]


def test_certificates_and_public_keys_beside_a_key_name_are_silent() -> None:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    public = _b64(_RSA.public_key().public_bytes(DER, spki))
    text = f"TLS_KEY_CERT={_b64(_certificate())}\nJWT_PUBLIC_KEY={public}\n"
    assert _found(text, ".env") == []
