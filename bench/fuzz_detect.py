"""Coverage-guided fuzzing of the detector with atheris (libFuzzer for Python).

    pip install -e '.[fuzz]'                 # atheris; not part of the test extra
    python bench/fuzz_detect.py -atheris_runs=200000 [CORPUS_DIR ...]

Every input goes through ``Detector.scan`` as raw bytes (so the UTF-8/UTF-16 decoding path is
fuzzed too) with all built-in rules. Besides "never raises", each finding is checked:

- its position lies inside the input (line within the line count, column >= 1, end after start);
- its secret is non-empty and, unless it was found after decoding, occurs in the input text;
- its redacted form does not contain the secret; its fingerprint is 32 hex digits;
- paired secrets have the same properties.

Without a corpus directory (or with an empty one) a seed corpus is generated at run time
(AWS-shaped values built from a fixed seed, never stored). A crash prints the input and libFuzzer
writes it to ``crash-<sha1>``; re-run it with ``python bench/fuzz_detect.py crash-<sha1>``.
"""

from __future__ import annotations

import base64
import random
import string
import sys
import tempfile
import urllib.parse
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from scanner.detect import Detector
    from scanner.models import Finding, Fragment
    from scanner.rules import load_rules

_DETECTOR = Detector(load_rules())
_HEX = frozenset("0123456789abcdef")


def _seed_corpus() -> list[bytes]:
    rng = random.Random(20261129)
    b32 = string.ascii_uppercase + "234567"
    alphabet = string.ascii_letters + string.digits + "/+"
    seeds: list[bytes] = []
    for prefix in ("AKIA", "ASIA", "ABIA", "ACCA"):
        key_id = prefix + rng.choice("QRSTUVWXYZ") + "".join(rng.choices(b32, k=15))
        secret = "".join(rng.choices(alphabet, k=40))
        token = base64.b64encode(rng.randbytes(240)).decode()
        escaped = secret.replace("/", "\\/")
        env = (
            f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n"
            f"AWS_SESSION_TOKEN={token}\n"
        )
        seeds += [
            env.encode(),
            env.replace("\n", "\r\n").encode(),
            b"\xff\xfe" + env.encode("utf-16-le"),
            f'{{"aws_secret_access_key": "{escaped}", "id": "{key_id}"}}'.encode(),
            f"https://s3.amazonaws.com/b?AWSAccessKeyId={key_id}&Signature=x".encode(),
            f"url = https://{key_id}:{urllib.parse.quote(secret, safe='')}@host/".encode(),
            f"data:\n  credentials: {base64.b64encode(env.encode()).decode()}\n".encode(),
            f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n".encode(),
            f"{key_id} {secret}  # keysweep:allow\n".encode(),
        ]
    return seeds


def _check(finding: Finding, text: str, n_lines: int) -> None:
    assert finding.secret, finding
    assert 1 <= finding.line <= n_lines, (finding.line, n_lines)
    assert finding.column >= 1, finding.column
    if finding.end_line:
        assert finding.end_line >= finding.line, finding
    if finding.encoding is None:
        assert finding.secret in text, "secret not in input"
    if len(finding.secret) >= 16:
        assert finding.secret not in finding.redacted, "redaction shows the secret"
    assert len(finding.fingerprint) == 32 and set(finding.fingerprint) <= _HEX
    for paired in finding.paired:
        assert paired.secret, paired
        assert 1 <= paired.line <= n_lines, (paired.line, n_lines)
        assert paired.distance >= 0, paired


def test_one_input(data: bytes) -> None:
    fragment = Fragment(raw=data, path="fuzz.env")
    findings = _DETECTOR.scan(fragment)
    if findings:
        text = fragment.text
        n_lines = max(text.count("\n"), text.count("\r")) + 1
        for finding in findings:
            _check(finding, text, n_lines)
    if not _DETECTOR.wants(data):
        assert not findings, "wants() said no but scan() found something"


def main() -> None:
    argv = list(sys.argv)
    dirs = [Path(arg) for arg in argv[1:] if not arg.startswith("-")]
    if not dirs:
        dirs = [Path(tempfile.mkdtemp(prefix="keysweep-fuzz-detect-"))]
        argv.append(str(dirs[0]))
    if dirs[0].is_dir() and not any(dirs[0].iterdir()):
        for i, seed in enumerate(_seed_corpus()):
            (dirs[0] / f"seed-{i:03d}").write_bytes(seed)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
