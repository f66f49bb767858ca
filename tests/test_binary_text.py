"""How binary files are read (``scanner.detect.binary``): one ASCII character a byte; the
UTF-16LE text inside them (a key in a .NET assembly's string literals or in a UTF-16 file
with no byte-order mark is found by scan, staged and history, beside what the bytes
themselves hold, on the line it has in the bytes; a UTF-16 database's deleted rows:
tests/test_sqlite_files.py); the string constants of a compiled Python module, which marshal
writes with no byte between one object and the next; and the tokens a compiled Go program
keeps side by side with its other strings. Every key and file is made at run time; the
modules are compiled by this Python."""

from __future__ import annotations

import io
import json
import py_compile
import random
import re
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep
from support.samples import dotnet_assembly

from scanner.detect import Detector
from scanner.detect.binary import as_ascii, beside, packed_tokens, wide_text
from scanner.models import Fragment, Source, lone_crs_to_lf
from scanner.rules import load_rules
from scanner.rules.templates import checksummed_token

KEY, SECRET = key_id("wide"), secret_key("wide")
PLAIN_KEY, PLAIN_SECRET = key_id("wide-plain"), secret_key("wide-plain")
DETECTOR = Detector(load_rules())
PACKED = [re.compile(r.binary_pattern.encode()) for r in DETECTOR.rules if r.binary_pattern]
LITERALS = ("us-east-1", KEY, SECRET, "uploads")  # as `new BasicAWSCredentials(KEY, SECRET)`


def _found(raw: bytes, path: str = "Acme.dll") -> list[tuple[str, str, int]]:
    return [(f.rule_id, f.secret, f.line) for f in DETECTOR.scan(Fragment(raw, path, Source.FILE))]


def _wide(text: str) -> bytes:
    return text.encode("utf-16-le")


def test_wide_text_is_the_runs_at_their_offsets_and_only_the_line_breaks_besides() -> None:
    raw = b"\x00\x01plain\nstring\x00" + _wide("Wide\r\ntext") + b"\xff\x00\n" + _wide("ok")
    view = wide_text(raw)
    assert view is not None and len(view) == len(raw)
    at = raw.index(b"W")
    assert view[at : at + 10] == b"Wide\r\ntext" and view[at + 10 : at + 20] == b"\x7f" * 10
    assert view[:at] == b"\x7f" * 7 + b"\n" + b"\x7f" * 7  # the plain text is not read twice
    assert view[at + 20 :] == b"\x7f\x7f\n\x7f\x7f\x7f\x7f"  # "ok": under four characters
    # a .NET string's length byte (here "Q", 81) stays out of the run that follows it
    assert (wide_text(b"\x00\x00Q" + _wide("abcd")) or b"").strip(b"\x7f") == b"abcd"
    assert (wide_text(b"\x00\x01)" + _wide("abcd")) or b"").strip(b"\x7f") == b"abcd"
    assert (wide_text(_wide("abcd")) or b"").strip(b"\x7f") == b"abcd"  # at the start


def test_wide_text_is_none_for_text_and_for_binaries_without_it() -> None:
    assert wide_text(b"plain text\n") is None
    assert wide_text(b"\xff\xfe" + _wide("AKIA with a byte-order mark")) is None  # decoded
    assert wide_text(b"\x00\x01\x02 no wide text \x00a\x00b\x00") is None
    assert beside(b"\x00" + _wide("text"), b"", []) == [wide_text(b"\x00" + _wide("text"))]
    assert beside(b"plain text\n", b"plain text\n", []) == []


def test_a_key_among_a_dotnet_assemblys_string_literals_is_found_and_paired() -> None:
    found = DETECTOR.scan(Fragment(dotnet_assembly(*LITERALS), "Acme.dll", Source.FILE))
    assert [(f.rule_id, f.secret) for f in found] == [
        ("aws-access-key-id", KEY),
        ("aws-secret-access-key", SECRET),
    ]
    assert found[0].paired and found[0].paired[0].secret == SECRET
    assert DETECTOR.wants(dotnet_assembly(*LITERALS))  # the prefilter reads the wide text too
    assert _found(dotnet_assembly("us-east-1", "uploads")) == []


def test_utf16_text_without_a_byte_order_mark_reads_as_with_one() -> None:
    text = f'$env:AWS_ACCESS_KEY_ID = "{KEY}"\r\n$env:AWS_SECRET_ACCESS_KEY = "{SECRET}"\r\n'
    found = [
        [(f.rule_id, f.secret, f.line, f.column) for f in DETECTOR.scan(Fragment(raw, "a.ps1"))]
        for raw in (b"\xff\xfe" + _wide(text), _wide(text))
    ]
    assert found[0] == found[1] and len(found[0]) == 2
    # big-endian at a binary file's end, the secret last: no NUL follows its last character
    ended = f"AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}"
    raw = b"\x00\x01\xff\x00" + ended.encode("utf-16-be")
    assert [(rule, secret) for rule, secret, _ in _found(raw)] == [
        ("aws-access-key-id", KEY),
        ("aws-secret-access-key", SECRET),
    ]


@given(
    before=st.binary(max_size=300),
    after=st.binary(max_size=300),
    glue=st.sampled_from([b"\n", b"\x00", b"\xff", b" ", b"\xc3\xa9", b"\x80\x80"]),
)
@settings(max_examples=60, deadline=None)
def test_binary_bytes_read_as_ascii_find_what_their_decoded_text_holds(
    before: bytes, after: bytes, glue: bytes
) -> None:
    """A binary input that is not UTF-8 is read one ASCII character a byte (bytes above 0x7F
    as DEL), not decoded: the same keys on the same lines as in its decoded text."""
    raw = b"\x00\xff" + before + glue + KEY.encode() + glue + SECRET_LINE + glue + after
    detector = DETECTOR
    fast = detector.scan(Fragment(raw, "blob.bin", Source.FILE))
    decoded = raw.decode("utf-8", "replace").encode()  # valid UTF-8: read the usual way
    slow = detector.scan(Fragment(decoded, "blob.bin", Source.FILE))
    assert [(f.rule_id, f.secret, f.line) for f in fast] == [
        (f.rule_id, f.secret, f.line) for f in slow
    ]
    assert {KEY, SECRET} <= {f.secret for f in fast}


SECRET_LINE = f"\naws_secret_access_key = {SECRET}".encode()


def test_a_plain_key_that_one_letter_strings_follow_is_still_found() -> None:
    """The end of a plain string followed by a NUL and a few one-letter strings looks like
    the start of UTF-16 text: the bytes are read as they are, the key in them whole."""
    raw = b"\x00\x01" + f"aws_access_key_id={PLAIN_KEY}".encode() + b"\x00x\x00y\x00z\x00"
    assert ("aws-access-key-id", PLAIN_KEY, 1) in _found(raw)


@given(
    before=st.binary(max_size=200),
    after=st.binary(max_size=200),
    glue=st.sampled_from([b"", b"\x00", b"\n", b"Q", b"\xff", b"\x00\x00"]),
)
@settings(max_examples=60, deadline=None)
def test_plain_and_wide_keys_in_one_binary_are_both_found(
    before: bytes, after: bytes, glue: bytes
) -> None:
    plain = f"aws_access_key_id={PLAIN_KEY}\naws_secret_access_key={PLAIN_SECRET}\n".encode()
    wide = _wide(f"aws_access_key_id={KEY}\naws_secret_access_key={SECRET}\n")
    raw = b"\x00" + before + glue + plain + glue + wide + glue + after
    found = _found(raw, "blob.bin")
    assert {KEY, SECRET, PLAIN_KEY, PLAIN_SECRET} <= {secret for _, secret, _ in found}
    lines = lone_crs_to_lf(raw)  # a lone CR ends a line
    plain_line = lines[: lines.index(PLAIN_KEY.encode())].count(b"\n") + 1
    assert ("aws-access-key-id", PLAIN_KEY, plain_line) in found
    wide_line = lines[: lines.index(KEY.encode("utf-16-le"))].count(b"\n") + 1
    assert ("aws-access-key-id", KEY, wide_line) in found


def _nupkg(dll: bytes) -> bytes:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Acme.nuspec", "<package/>\n")
        archive.writestr("lib/net8.0/Acme.dll", dll)
    return package.getvalue()


def test_scan_staged_and_history_find_a_key_in_a_dotnet_assembly(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    (repo.path / "bin").mkdir()
    (repo.path / "bin" / "Acme.dll").write_bytes(dotnet_assembly(*LITERALS))
    (repo.path / "Acme.1.0.0.nupkg").write_bytes(_nupkg(dotnet_assembly(*LITERALS)))
    expected = {
        ("bin/Acme.dll", None, KEY),
        ("bin/Acme.dll", None, SECRET),
        ("Acme.1.0.0.nupkg!lib/net8.0/Acme.dll", "lib/net8.0/Acme.dll", KEY),
        ("Acme.1.0.0.nupkg!lib/net8.0/Acme.dll", "lib/net8.0/Acme.dll", SECRET),
    }

    def located(stdout: str) -> set[tuple[str, object, str]]:
        return {
            (str(f["path"]), f.get("member"), str(f["secret"]))
            for f in json.loads(stdout)["findings"]
        }

    run = keysweep("scan", ".", "-f", "json", "--show-secrets", cwd=repo.path)
    assert run.code == 1, run.stderr
    assert located(run.stdout) == expected
    repo.git("add", ".")
    run = keysweep("staged", "-f", "json", "--show-secrets", cwd=repo.path)
    assert run.code == 1, run.stderr
    assert located(run.stdout) == expected
    repo.commit_staged("add the build output")
    run = keysweep("history", str(repo.path), "-f", "json", "--show-secrets")
    assert run.code == 1, run.stderr
    assert located(run.stdout) == expected
    run = keysweep("scan", ".", cwd=repo.path)  # redacted in human output
    assert SECRET not in run.stdout + run.stderr


def _compiled(tmp_path: Path, source: str) -> bytes:
    """``source`` compiled by this Python, as a committed ``__pycache__`` holds it."""
    module = tmp_path / "settings.py"
    module.write_text(source)
    compiled = tmp_path / "settings.pyc"
    py_compile.compile(str(module), cfile=str(compiled), doraise=True)
    module.unlink()
    return compiled.read_bytes()


SETTINGS = f"""import boto3
AWS_ACCESS_KEY_ID = "{KEY}"
AWS_SECRET_ACCESS_KEY = "{SECRET}"
def client():
    return boto3.client("s3", aws_access_key_id="{KEY}", aws_secret_access_key="{SECRET}")
"""


def test_the_string_constants_of_a_compiled_module_are_read_whole(tmp_path: Path) -> None:
    """marshal writes the next object's type letter right after a string's last character
    (here the function's code object, 'c'): the secret was read as 41 characters."""
    raw = _compiled(tmp_path, SETTINGS)
    assert any(SECRET.encode() + bytes([b]) in raw for b in b"cNz)r")  # joined to a letter
    found = DETECTOR.scan(Fragment(raw, "__pycache__/settings.cpython-311.pyc", Source.FILE))
    assert {(f.rule_id, f.secret) for f in found} == {
        ("aws-access-key-id", KEY),
        ("aws-secret-access-key", SECRET),
    }
    assert all(f.paired and f.paired[0].secret == SECRET for f in found if f.secret == KEY)
    view = as_ascii(raw)
    assert len(view) == len(raw) and view.count(b"\n") == raw.count(b"\n")  # the same lines
    assert view.count(b"\r") == raw.count(b"\r")


def test_only_compiled_modules_are_framed() -> None:
    text = b"\x00" + b"z\x05hello" + b"Xtail of a long printable run"
    assert as_ascii(text) == text  # not a compiled module: as it is
    pyc = b"\xa7\r\r\n" + bytes(12) + b"\xe3" + text
    framed = as_ascii(pyc)
    assert framed.endswith(b"z\x05hello\x7ftail of a long printable run")  # "X" joined it


def test_history_and_staged_find_a_key_in_a_committed_pycache(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    (repo.path / "__pycache__").mkdir()
    compiled = "__pycache__/settings.cpython-311.pyc"
    (repo.path / compiled).write_bytes(_compiled(tmp_path, SETTINGS))
    repo.git("add", compiled)
    run = keysweep("staged", "-f", "json", "--show-secrets", cwd=repo.path)
    assert run.code == 1, run.stderr
    assert {(f["path"], f["secret"]) for f in run.findings} == {(compiled, KEY), (compiled, SECRET)}
    repo.commit_staged("add the compiled settings")
    run = keysweep("history", str(repo.path), "-f", "json", "--show-secrets")
    assert run.code == 1, run.stderr
    assert {(f["path"], f["secret"]) for f in run.findings} == {(compiled, KEY), (compiled, SECRET)}


def _go_program(*strings: str) -> bytes:
    """A compiled Go program's start: ELF marks, then its string data as Go's linker lays it
    out, every string right after the one before it, shortest first."""
    data = "".join(sorted(strings, key=lambda s: (len(s), s))).encode()
    return b"\x7fELF\x02\x01\x01" + bytes(57) + b"\x00Go build ID: \x00" + data + bytes(8)


GO_STRINGS = ("span", "37252902984619140625", "Egyptian_Hieroglyphs", "IDS_Trinary_Operator")


def test_a_key_id_among_a_go_programs_packed_strings_is_found() -> None:
    raw = _go_program(*GO_STRINGS, KEY)
    assert KEY.encode() in raw and f"{KEY}Egyptian".encode() in raw  # joined on both sides
    found = DETECTOR.scan(Fragment(raw, "bootstrap", Source.FILE))
    assert [(f.rule_id, f.secret, f.line) for f in found] == [("aws-access-key-id", KEY, 1)]
    assert found[0].column == raw.index(KEY.encode()) + 1
    token = checksummed_token(random.Random(3), "ghp")
    found = DETECTOR.scan(Fragment(_go_program(*GO_STRINGS, token), "bootstrap", Source.FILE))
    assert [(f.rule_id, f.secret) for f in found] == [("github-token", token)]


def test_packed_tokens_read_only_what_is_joined_and_only_in_binaries() -> None:
    assert packed_tokens(b"\x00 " + KEY.encode() + b" \x00", PACKED) is None  # apart
    view = packed_tokens(b"\x00x" + KEY.encode() + b"\n", PACKED)
    assert view == b"\x7f\x7f" + KEY.encode() + b"\n"
    text = f'token = "x{KEY}"\n'.encode()  # a text file: the rule's own boundaries hold
    assert _found(text, "config.py") == []
    # joined by "_", which the rule's regex allows: found once, not once a reading
    assert _found(b"\x00" + f"AWS_KEY_{KEY}_\n".encode(), "blob.bin") == [
        ("aws-access-key-id", KEY, 1)
    ]


def test_packed_upper_case_words_are_no_key_id() -> None:
    """wget keeps the S/KEY dictionary's four-letter words side by side: "ASIA" and the
    next sixteen letters read as a key ID, but a key ID holds a digit 96 % of the time."""
    words = "ARABARCHAREAARGOARIDARMYARTSARTYASIAASKSATOMAUNTAURAAUTOAVERAVIDAVISAVON"
    assert _found(b"\x7fELF\x00" + words.encode() + b"\x00", "wget") == []


@given(
    body=st.binary(max_size=400),
    pieces=st.lists(
        st.sampled_from([KEY.encode(), KEY.encode("utf-16-le"), b"z\x14", b"\xda(", b"\r\n"]),
        max_size=6,
    ),
    compiled=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_every_reading_of_a_binary_keeps_its_length_and_its_line_breaks(
    body: bytes, pieces: list[bytes], compiled: bool
) -> None:
    """Each view stands at the offsets of the bytes: the same length, every CR and LF byte
    counted once (a UTF-16 run's line breaks move inside the run, never out of it), and
    nothing but DEL where a byte changed."""
    raw = (b"\xa7\r\r\n" + bytes(12) + b"\xe3" if compiled else b"\x00") + body
    raw += b"".join(pieces) + body[::-1]
    read = as_ascii(raw)
    views = [read, *beside(raw, read, PACKED)]
    for view in views:
        assert len(view) == len(raw)
        assert (view.count(b"\n"), view.count(b"\r")) == (raw.count(b"\n"), raw.count(b"\r"))
    assert all(a == b or b == 0x7F for a, b in zip(raw, read, strict=True))
