"""Fixture credentials and findings for the CLI and report tests, built at run time.

Nothing realistic is written into the repository: values come from tests/support/keys.py.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.models import (
    CommitInfo,
    Finding,
    HistoryInfo,
    PairedSecret,
    ScanResult,
    ScanSummary,
    Severity,
    Verification,
)
from support import keys as fixture_keys
from support.keys import key_id, secret_key


def env_text(seed: int) -> str:
    """A .env file holding one full AWS credential (key id on line 2, secret on line 3)."""
    return "# deploy settings\n" + fixture_keys.env_text(seed) + "REGION=eu-west-1\n"


def sample_result(seed: int = 1, *, errors: tuple[str, ...] = ()) -> ScanResult:
    """Two findings covering every optional part of a Finding."""
    kid, secret = key_id(seed), secret_key(seed)
    commit = CommitInfo(
        sha="a" * 40,
        author_name="Dev",
        author_email="dev@example.com",
        date="2024-01-01T00:00:00+00:00",
        subject="add config",
    )
    key_finding = Finding(
        rule_id="aws-access-key-id",
        rule_name="AWS access key ID",
        severity=Severity.CRITICAL,
        description="Identifies an AWS access key; with its secret it signs API calls.",
        path="config/prod.env",
        line=2,
        column=19,
        secret=kid,
        entropy=3.9,
        end_line=2,
        end_column=39,
        paired=(
            PairedSecret(
                kind="secret_access_key",
                rule_id="aws-secret-access-key",
                secret=secret,
                line=3,
                distance=1,
            ),
        ),
        account_id="123456789012",
        commit=commit,
        in_head=True,
        history=HistoryInfo(commit_count=2, refs=("refs/heads/main",), removed_in=commit),
        verification=Verification(status="invalid", detail="InvalidClientTokenId"),
        notes=("found twice",),
    )
    secret_finding = Finding(
        rule_id="aws-secret-access-key",
        rule_name="AWS secret access key",
        severity=Severity.HIGH,
        description="Signs AWS API calls together with its access key ID.",
        path="src/app settings/ünïcode.py",
        line=3,
        column=23,
        secret=secret,
        entropy=4.9,
        encoding="base64",
    )
    summary = ScanSummary(
        mode="scan",
        target=".",
        files_scanned=12,
        bytes_scanned=34567,
        skipped={"binary": 2, "too_large": 1},
        duration_s=0.1234,
        notes=("a note",),
        errors=errors,
    )
    return ScanResult(findings=(key_finding, secret_finding), summary=summary)


REPO = Path(__file__).resolve().parents[2]


def sarif_schema() -> dict[str, Any]:
    """The SARIF 2.1.0 schema from shared/ beside the repository (where CI lays it), or the
    file named by $KEYSWEEP_SARIF_SCHEMA. A fresh clone may lack it: skip there, fail in CI."""
    override = os.environ.get("KEYSWEEP_SARIF_SCHEMA")
    default = REPO.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"
    path = Path(override) if override else default
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"SARIF schema not found at {path}")
        pytest.skip(f"SARIF schema not found at {path} (set KEYSWEEP_SARIF_SCHEMA)")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def validate_sarif(doc: dict[str, Any]) -> None:
    schema = sarif_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema).validate(doc)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def nested_encodings(secret: str) -> list[tuple[str, str, str | None]]:
    """(name, text, expected encoding of the secret-access-key finding or None) for encodings
    nested up to four deep around ``aws_secret_access_key=<secret>``; the encoded text always
    stands after a keyword (the decoding gate), except where the case says otherwise."""
    inner = f"aws_secret_access_key={secret}"
    signature = fixture_keys.random_b64("jwt-signature", 43).replace("+", "-").replace("/", "_")
    jwt = ".".join(
        [
            _b64url('{"alg":"HS256","typ":"JWT"}'),
            _b64url(json.dumps({"sub": "ci-runner", "creds": _b64(inner)})),
            signature,
        ]
    )
    plain_jwt = ".".join(
        [_b64url('{"alg":"HS256"}'), _b64url(json.dumps({"creds": inner})), signature]
    )
    return [
        ("base64-x2", f"AWS_SECRET_ACCESS_KEY: {_b64(_b64(inner))}\n", "base64+base64"),
        (
            "base64-x3",
            f"AWS_SECRET_ACCESS_KEY: {_b64(_b64(_b64(inner)))}\n",
            "base64+base64+base64",
        ),
        # base64 in a JWT payload in base64
        ("base64-jwt-base64", f"aws_token: {_b64(jwt)}\n", "base64+jwt+base64"),
        ("jwt-in-base64", f"aws_token: {_b64(plain_jwt)}\n", "base64+jwt"),
        # beyond the depth cap
        ("base64-x4", f"AWS_SECRET_ACCESS_KEY: {_b64(_b64(_b64(_b64(inner))))}\n", None),
        # no keyword before the outer text and no base64 form of one: the gate stays shut
        ("base64-x3-no-keyword", f"blob: {_b64(_b64(_b64(inner)))}\n", None),
    ]


def java_class(*strings: str) -> bytes:
    """A compiled Java class's start: its constant pool's UTF-8 entries (tag, length, bytes)."""
    pool = b"".join(b"\x01" + struct.pack(">H", len(s)) + s.encode() for s in strings)
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + struct.pack(">H", len(strings) + 1) + pool


def dotnet_assembly(*strings: str) -> bytes:
    """A .NET assembly's start as a C# compiler writes it: the PE headers' marks, the metadata
    root, and its ``#US`` heap of string literals (each its length in bytes plus one, as
    one byte below 128, its UTF-16LE characters, a flag byte)."""
    heap = b"\x00" + b"".join(
        bytes([2 * len(s) + 1]) + s.encode("utf-16-le") + b"\x00" for s in strings
    )
    assert all(2 * len(s) + 1 < 0x80 for s in strings)
    header = b"MZ\x90\x00" + bytes(124) + b"PE\x00\x00L\x01\x03\x00" + bytes(56)
    return header + b"BSJB\x01\x00\x01\x00" + bytes(8) + b"#US\x00" + heap + bytes(16)


def android_dex(*strings: str) -> bytes:
    """An Android ``classes.dex``'s string data: each string's length, its bytes, a NUL."""
    data = b"".join(bytes([len(s)]) + s.encode() + b"\x00" for s in strings)
    return b"dex\n035\x00" + bytes(104) + data
