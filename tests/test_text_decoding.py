"""Line ends and byte-order marks: a key is found, at the right line and column, whatever
the editor that saved the file (issue 9, items 10 and 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep

from scanner.models import decode_bytes

JSON = ("--format", "json", "--show-secrets")
KEY_LINE = "aws_access_key_id = {kid}"
SECRET_LINE = "  aws_secret_access_key = {secret}"


def _content(kid: str, secret: str, eol: str) -> str:
    return eol.join(["[default]", "", KEY_LINE.format(kid=kid), SECRET_LINE.format(secret=secret)])


@pytest.mark.parametrize(
    ("eol", "codec", "bom"),
    [
        ("\n", "utf-8", b""),
        ("\r\n", "utf-8", b""),
        ("\r", "utf-8", b""),  # classic Mac line ends
        ("\r", "utf-8", b"\xef\xbb\xbf"),
        ("\n", "utf-16-le", b"\xff\xfe"),
        ("\n", "utf-16-be", b"\xfe\xff"),
        ("\n", "utf-32-le", b"\xff\xfe\x00\x00"),
        ("\r\n", "utf-32-be", b"\x00\x00\xfe\xff"),
        ("\r", "utf-32-le", b"\xff\xfe\x00\x00"),
    ],
)
def test_key_found_at_its_line_and_column(tmp_path: Path, eol: str, codec: str, bom: bytes) -> None:
    kid, secret = key_id(f"eol-{codec}"), secret_key(f"eol-{codec}")
    target = tmp_path / "credentials"
    target.write_bytes(bom + _content(kid, secret, eol).encode(codec))
    run = keysweep("scan", str(target), *JSON)
    assert run.code == 1, run.stderr
    assert run.report["scan"]["skipped"] == {}
    where = {f["secret"]: (f["line"], f["column"], f["end_line"]) for f in run.findings}
    assert where[kid] == (3, len("aws_access_key_id = ") + 1, 3)
    assert where[secret] == (4, len("  aws_secret_access_key = ") + 1, 4)


def test_utf32_in_history(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    kid, secret = key_id("utf32-history"), secret_key("utf32-history")
    (repo.path / "creds.txt").write_bytes(
        b"\xff\xfe\x00\x00" + _content(kid, secret, "\n").encode("utf-32-le")
    )
    repo.git("add", "creds.txt")
    repo.commit_staged("add creds")
    run = keysweep("history", str(repo.path), *JSON)
    assert run.code == 1, run.stderr
    assert {f["secret"] for f in run.findings} >= {kid, secret}


@pytest.mark.parametrize(
    "head",
    [
        b"\xff\xfe bad \xc3\x28\n",  # a UTF-16 mark before ASCII text: it hid the key
        b"\xfe\xff\n",
        b"\xff\xfe\x00\x00\n",
        "notes\n".encode("utf-16"),  # ASCII appended to a UTF-16 file
    ],
)
@pytest.mark.parametrize("command", ["scan", "staged", "history"])
def test_ascii_after_a_utf16_mark_is_scanned(tmp_path: Path, head: bytes, command: str) -> None:
    """Decoding by the mark turns the ASCII that follows into CJK characters; the bytes after
    it are scanned as well, and each key is reported once."""
    kid, secret = key_id("fake-bom"), secret_key("fake-bom")
    repo = Repo(tmp_path / "repo")
    (repo.path / "creds.txt").write_bytes(head + _content(kid, secret, "\n").encode())
    repo.git("add", "creds.txt")
    if command == "history":
        repo.commit_staged("add creds")
    args = ("scan", str(repo.path / "creds.txt")) if command == "scan" else (command,)
    run = keysweep(*args, *JSON, cwd=repo.path)
    assert run.code == 1, run.stderr
    assert sorted(f["secret"] for f in run.findings) == sorted([kid, secret])


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"a\rb\r\nc\nd", "a\nb\r\nc\nd"),
        (b"\r\r", "\n\n"),
        (b"\xff\xfe\x00\x00" + "x\ry".encode("utf-32-le"), "x\ny"),
        (b"\xff\xfe" + "x\ry".encode("utf-16-le"), "x\ny"),
        (b"\xef\xbb\xbfplain", "plain"),
    ],
)
def test_decode_bytes(raw: bytes, text: str) -> None:
    assert decode_bytes(raw) == text
