"""Archives read as the files they hold (scanner/archives.py): the reader's formats and bounds,
and a key inside a committed zip or tarball found by scan, staged, history and both engines,
then refused by remediate (--replace-text cannot rewrite compressed bytes). Every archive and
key is made at run time."""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import json
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep
from support.samples import android_dex, java_class, sample_result, validate_sarif

from scanner import archives
from scanner.detect import Detector
from scanner.models import Fragment, Source
from scanner.report import github, gitlab
from scanner.report.json import findings_from_json, render
from scanner.report.sarif import to_sarif
from scanner.rules import load_rules

KEY, SECRET = key_id("archive"), secret_key("archive")
CODE = (
    f'client = boto3.client("s3", aws_access_key_id="{KEY}",\n'
    f'    aws_secret_access_key="{SECRET}")\n'
)


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _tar(files: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _members(raw: bytes, name: str = "a") -> dict[str, bytes]:
    return dict(archives.members(raw, name))


FILES = {"handler.py": CODE.encode(), "conf/app.ini": b"[app]\nname = demo\n"}


@pytest.mark.parametrize(
    ("name", "raw", "kind"),
    [
        ("lambda.zip", _zip(FILES), "zip"),
        ("release.tar", _tar(FILES), "tar"),
        ("release.tar.gz", _tar(FILES, "w:gz"), "gz"),
        ("release.tar.bz2", _tar(FILES, "w:bz2"), "bz2"),
        ("release.tar.xz", _tar(FILES, "w:xz"), "xz"),
    ],
)
def test_every_format_gives_its_files(name: str, raw: bytes, kind: str) -> None:
    assert archives.kind(raw) == kind
    assert _members(raw, name) == FILES  # a compressed tarball is one archive, not two


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("deploy.log.gz", gzip.compress(CODE.encode())),
        ("deploy.log.bz2", bz2.compress(CODE.encode())),
        ("deploy.log.xz", lzma.compress(CODE.encode())),
        ("dir/deploy.log.gz", gzip.compress(CODE.encode())),
    ],
)
def test_one_compressed_file_is_named_for_what_it_was(name: str, raw: bytes) -> None:
    assert _members(raw, name) == {"deploy.log": CODE.encode()}


def test_text_and_other_binaries_are_no_archives() -> None:
    assert archives.kind(CODE.encode()) is None
    assert archives.kind(b"PK is a prefix, not a header") is None
    assert archives.kind(b"\x89PNG\r\n\x1a\n" + bytes(300)) is None
    assert _members(b"PK\x03\x04" + b"not a zip at all") == {}  # damaged: nothing, no error


def test_binary_members_are_read_as_bytes() -> None:
    """As binary files are: a key compiled into a jar's class or an Android package's
    classes.dex is found at the member."""
    constants = ("AWS_ACCESS_KEY_ID", KEY, "AWS_SECRET_ACCESS_KEY", SECRET)
    jar = _zip(
        {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"}
        | {"com/acme/Config.class": java_class("Config", *constants)}
    )
    apk = _zip({"AndroidManifest.xml": b"\x03\x00\x08\x00", "classes.dex": android_dex(*constants)})
    assert _members(jar)["com/acme/Config.class"].startswith(b"\xca\xfe\xba\xbe")
    detector = Detector(load_rules())
    for raw, name, member in [
        (jar, "app.jar", "com/acme/Config.class"),
        (apk, "app.apk", "classes.dex"),
    ]:
        found = detector.scan(Fragment(raw, name, Source.FILE))
        assert [(f.rule_id, f.member) for f in found] == [
            ("aws-access-key-id", member),
            ("aws-secret-access-key", member),
        ]
        assert found[0].paired and found[0].paired[0].secret == SECRET


def test_members_in_utf16_with_a_byte_order_mark_are_text() -> None:
    """Binary or text is decided as for files: a BOM explains the NUL bytes of UTF-16."""
    text = CODE.encode("utf-16")
    assert _members(_zip({"creds.ps1": text})) == {"creds.ps1": text}
    found = Detector(load_rules()).scan(Fragment(_zip({"creds.ps1": text}), "ops.zip"))
    assert {f.rule_id for f in found} == {"aws-access-key-id", "aws-secret-access-key"}


def test_archives_inside_archives_are_read_one_level_deep() -> None:
    inner = _zip({"handler.py": CODE.encode()})
    middle = _zip({"lambda.zip": inner, "top.txt": b"top\n"})
    assert _members(middle) == {"lambda.zip!handler.py": CODE.encode(), "top.txt": b"top\n"}
    outer = _zip({"bundle.zip": middle})
    assert _members(outer) == {"bundle.zip!top.txt": b"top\n"}  # the third level stays shut


def test_a_zip_bomb_costs_a_bounded_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1 << 16)
    monkeypatch.setattr(archives, "MAX_TOTAL_BYTES", 1 << 18)
    big = b"a" * (1 << 20)
    raw = _zip({f"part{i}.txt": big for i in range(64)} | {"small.txt": b"ok\n"})
    assert _members(raw) == {}  # every member over the limit; the budget spent by the 5th
    assert _members(_zip({"small.txt": b"ok\n", "big.txt": big})) == {"small.txt": b"ok\n"}


def test_entries_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MAX_MEMBERS", 10)
    raw = _zip({f"f{i:02}.txt": b"x\n" for i in range(50)})
    assert sorted(_members(raw)) == [f"f{i:02}.txt" for i in range(10)]


def test_a_cut_archive_gives_what_was_read_before_the_cut() -> None:
    raw = _tar({"a.txt": b"first\n" * 100, "b.txt": b"second\n" * 100})
    assert _members(raw[:1536]) == {"a.txt": b"first\n" * 100}
    assert _members(gzip.compress(CODE.encode())[:-12], "x.gz") == {}


def test_encrypted_zip_members_are_passed_over() -> None:
    raw = bytearray(_zip({"secret.txt": b"hidden\n", "plain.txt": b"open\n"}))
    first = raw.index(b"PK\x03\x04")  # the general-purpose flags: local and central headers
    raw[first + 6] |= 0x01
    central = raw.index(b"PK\x01\x02")
    raw[central + 8] |= 0x01
    assert _members(bytes(raw)) == {"plain.txt": b"open\n"}


@pytest.mark.parametrize("hyperscan", [None, False], ids=["hyperscan", "python"])
def test_both_engines_find_the_key_inside(hyperscan: bool | None) -> None:
    detector = Detector(load_rules(), use_hyperscan=hyperscan)
    raw = _zip({"src/handler.py": CODE.encode()})
    assert detector.wants(raw, "lambda.zip")
    found = detector.scan(Fragment(raw, "lambda.zip", Source.FILE))
    assert [(f.rule_id, f.path, f.line) for f in found] == [
        ("aws-access-key-id", "lambda.zip!src/handler.py", 1),
        ("aws-secret-access-key", "lambda.zip!src/handler.py", 2),
    ]
    assert found[0].paired and found[0].paired[0].secret == SECRET


def _report(stdout: str) -> list[dict[str, object]]:
    findings: list[dict[str, object]] = json.loads(stdout)["findings"]
    return findings


def test_scan_reads_archives_as_their_files_and_other_binaries_as_bytes(tmp_path: Path) -> None:
    (tmp_path / "lambda.zip").write_bytes(_zip({"handler.py": CODE.encode()}))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log.gz").write_bytes(gzip.compress(CODE.encode()))
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100) + CODE.encode())
    run = keysweep("scan", str(tmp_path), "--all-files", "-f", "json")
    assert run.code == 1, run.stderr
    paths = {Path(str(f["path"])).relative_to(tmp_path).as_posix() for f in _report(run.stdout)}
    assert paths == {"lambda.zip!handler.py", "logs/app.log.gz!app.log", "image.png"}
    assert "skipped" not in run.stderr


def test_a_staged_archive_blocks_the_commit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    (repo.path / "release.tar.gz").write_bytes(_tar({"app/settings.py": CODE.encode()}, "w:gz"))
    repo.git("add", "release.tar.gz")
    run = keysweep("staged", "-f", "json", cwd=repo.path)
    assert run.code == 1, run.stderr
    assert {f["path"] for f in _report(run.stdout)} == {"release.tar.gz!app/settings.py"}


def test_history_attributes_a_key_in_a_removed_zip(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "demo\n"}, "start")
    (repo.path / "lambda.zip").write_bytes(_zip({"handler.py": CODE.encode()}))
    repo.git("add", "lambda.zip")
    added = repo.commit_staged("add the deployment package")
    repo.git("rm", "-q", "lambda.zip")
    removed = repo.commit_staged("drop the package")
    run = keysweep("history", str(repo.path), "-f", "json")
    assert run.code == 1, run.stderr
    findings = _report(run.stdout)
    assert {f["rule_id"] for f in findings} == {"aws-access-key-id", "aws-secret-access-key"}
    for f in findings:
        assert f["path"] == "lambda.zip!handler.py"
        assert f["in_head"] is False
        assert f["commit"]["sha"] == added  # type: ignore[index]
        assert f["history"]["removed_in"]["sha"] == removed  # type: ignore[index]


def test_remediate_names_the_archive_it_cannot_rewrite(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    (repo.path / "lambda.zip").write_bytes(_zip({"handler.py": CODE.encode()}))
    repo.git("add", "lambda.zip")
    repo.commit_staged("add the deployment package")
    report = tmp_path / "report.json"
    assert keysweep("history", str(repo.path), "-f", "json", "-o", str(report)).code == 1
    run = keysweep("remediate", str(report), "--repo", str(repo.path))
    assert run.code == 2, run.stdout
    assert "is an archive (lambda.zip): git filter-repo --replace-text leaves it" in run.stdout
    assert "--invert-paths --path lambda.zip" in run.stdout
    assert SECRET not in run.stdout + run.stderr


def test_globs_see_the_archive_and_the_member(tmp_path: Path) -> None:
    """``*.zip`` covers every file inside ``lambda.zip`` (history reads blobs, then drops the
    skipped paths), and a rule scoped to ``.env`` reads a ``.env`` inside an archive."""
    repo = Repo(tmp_path / "repo")
    (repo.path / "lambda.zip").write_bytes(_zip({"handler.py": CODE.encode()}))
    (repo.path / "config.zip").write_bytes(_zip({".env": b"DB_PASSWORD=Xk29!mQz7#vLp4Rw\n"}))
    repo.git("add", "lambda.zip", "config.zip")
    repo.commit_staged("packages")
    run = keysweep("history", str(repo.path), "-f", "json", "--min-confidence", "low")
    assert {f["path"] for f in _report(run.stdout)} == {"lambda.zip!handler.py", "config.zip!.env"}
    (repo.path / ".keysweep.toml").write_text('[scan]\nskip_paths = ["lambda.zip"]\n')
    run = keysweep("history", str(repo.path), "-f", "json", "--min-confidence", "low")
    assert {f["path"] for f in _report(run.stdout)} == {"config.zip!.env"}
    (repo.path / ".keysweep.toml").write_text('[allowlist]\npaths = ["*.zip"]\n')
    run = keysweep("scan", str(repo.path), "-f", "json", "--min-confidence", "low")
    assert run.code == 0, run.stdout


# --- where a file inside an archive is reported ----------------------------------------------


def test_a_member_finding_names_its_member_and_its_file() -> None:
    detector = Detector(load_rules())
    inner = _zip({"handler.py": CODE.encode()})
    for raw, path, member, outer in [
        (_zip({"handler.py": CODE.encode()}), "lambda.zip", "handler.py", "lambda.zip"),
        (_zip({"lambda.zip": inner}), "b!nd.zip", "lambda.zip!handler.py", "b!nd.zip"),
    ]:
        found = detector.scan(Fragment(raw, path, Source.FILE))
        assert {(f.path, f.member, f.file_path) for f in found} == {
            (f"{path}!{member}", member, outer)
        }
    plain = detector.scan(Fragment(CODE.encode(), "odd!name.py", Source.FILE))
    assert {(f.member, f.file_path) for f in plain} == {(None, "odd!name.py")}


def test_reports_point_at_the_archive_and_name_the_member(tmp_path: Path) -> None:
    """SARIF, GitHub and GitLab locate a finding at a file of the repository: the archive
    (line 1), with the member and its line in the message and properties; JSON keeps the
    member and reads it back; a plain file's report has no ``member`` at all."""

    (tmp_path / "lambda.zip").write_bytes(_zip({"src/handler.py": CODE.encode()}))
    run = keysweep("scan", str(tmp_path / "lambda.zip"), "-f", "json")
    assert run.code == 1, run.stderr
    assert {(f["path"], f["member"]) for f in _report(run.stdout)} == {
        (f"{tmp_path}/lambda.zip!src/handler.py", "src/handler.py")
    }
    found = Detector(load_rules()).scan(
        Fragment((tmp_path / "lambda.zip").read_bytes(), "lambda.zip", Source.FILE)
    )
    base = sample_result()
    result = dataclasses.replace(base, findings=tuple(found) + base.findings)
    doc = to_sarif(result, show_secrets=False)
    validate_sarif(doc)
    first = doc["runs"][0]["results"][0]
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "lambda.zip"
    assert location["region"] == {"startLine": 1}
    assert first["properties"]["member"] == "src/handler.py"
    assert first["properties"]["memberRegion"]["startLine"] == 1
    assert "in src/handler.py line 1, inside lambda.zip" in first["message"]["text"]
    plain = doc["runs"][0]["results"][-1]
    assert "member" not in plain["properties"]
    assert plain["locations"][0]["physicalLocation"]["region"]["startColumn"] >= 1

    line = github.annotation(found[1])
    assert line.startswith("::error file=lambda.zip,line=1,title=")
    assert "in src/handler.py line 2" in line
    vuln = gitlab.vulnerability(found[1])
    assert vuln["location"]["file"] == "lambda.zip"
    assert (vuln["location"]["start_line"], vuln["location"]["end_line"]) == (1, 1)
    assert "Found in src/handler.py, line 2, inside this file." in vuln["description"]

    again = findings_from_json(json.loads(render(result, show_secrets=True)))
    assert [f.member for f in again] == [f.member for f in result.findings]
    assert [f.member for f in again][-1] is None
    assert '"member"' not in render(base, show_secrets=True)


def test_a_tag_on_an_archive_blob_keeps_the_member(tmp_path: Path) -> None:
    """A blob a ref names itself has no path (``<blob OID>``); its member stays in the path."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "demo\n"}, "start")
    (tmp_path / "lambda.zip").write_bytes(_zip({"handler.py": CODE.encode()}))
    blob = repo.git("hash-object", "-w", str(tmp_path / "lambda.zip")).strip()
    repo.git("tag", "package", blob)
    run = keysweep("history", str(repo.path), "-f", "json")
    assert run.code == 1, run.stderr
    assert {(f["path"], f["member"]) for f in _report(run.stdout)} == {
        (f"<blob {blob}>!handler.py", "handler.py")
    }
