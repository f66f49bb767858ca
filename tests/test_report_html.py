"""``--format html``: parsed back, checked for escaping, redaction and self-containment, and
rendered by headless Chromium (Debian's ``chromium``; the test skips when it is missing)."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.keys import env_text, key_id, secret_key
from support.repo import Repo
from support.run import keysweep

from scanner.models import (
    CommitInfo,
    Finding,
    HistoryInfo,
    MessageLocation,
    ScanResult,
    ScanSummary,
    Severity,
    Verification,
)
from scanner.report import html

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_DIR = "<script>alert(1)</script>"
HOSTILE_FILE = "x\"'><img src=x onerror=alert(1)>.env"
HOSTILE_SUBJECT = "<script>fetch('https://evil.example')</script> \"quoted\" & 'single'"


class Page(HTMLParser):
    """Every tag with its attributes, and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    return page


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hello\n"}, "start")
    repo.commit({f"{HOSTILE_DIR}/{HOSTILE_FILE}": env_text("hostile")}, HOSTILE_SUBJECT)
    repo.commit({"deploy/.env": env_text("removed")}, "deploy settings")
    repo.commit({"deploy/.env": None}, "remove them")
    return repo


def test_history_report_is_escaped_redacted_and_self_contained(
    hostile_repo: Repo, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    run = keysweep("history", str(hostile_repo.path), "--format", "html", "--output", str(out))
    assert run.code == 1, run.stderr
    document = out.read_text("utf-8")
    page = parse(document)
    findings = keysweep("history", str(hostile_repo.path), "--format", "json", "--show-secrets")

    # Every finding's key ID is shown; no secret value is, anywhere in the file.
    key_ids = {f["secret"] for f in findings.findings if f["rule_id"] == "aws-access-key-id"}
    assert key_ids == {key_id("hostile"), key_id("removed")}
    for value in key_ids:
        assert value in page.all_text
    for value in (secret_key("hostile"), secret_key("removed")):
        assert value not in document

    # Markup from paths and commit subjects is text, never markup.
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert "<script" not in document and "<img" not in document
    assert HOSTILE_SUBJECT in page.all_text
    assert f"{HOSTILE_DIR}/{HOSTILE_FILE}" in page.all_text
    assert not [attrs for _, attrs in page.tags if any(k.startswith("on") for k in attrs)]

    # Nothing is fetched: no src, no external href, no url() or @import in the CSS.
    for _, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (name, value)
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css
    policy = next(
        a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert policy is not None and policy.startswith("default-src 'none'")


# The template's own vocabulary: anything else came from the data.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2", "h3", "p",
    "main", "section", "svg", "text", "rect", "table", "tr", "td", "ul", "li", "code", "span",
    "article", "line", "dl", "dt", "dd", "strong", "footer",
}  # fmt: skip


def test_scan_report_and_summary(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text(env_text("scan-a"))
    (tmp_path / "b.env").write_text(env_text("scan-b"))
    run = keysweep("scan", str(tmp_path), "--format", "html")
    assert run.code == 1, run.stderr
    page = parse(run.stdout)
    text = page.all_text
    assert "4 findings" in text.replace("\n", " ")
    assert "2 files scanned" in text
    assert "aws-access-key-id 2" in text and "aws-secret-access-key 2" in text
    assert key_id("scan-a") in text and key_id("scan-b") in text
    assert secret_key("scan-a") not in run.stdout


def _finding(**changes: object) -> Finding:
    base = Finding(
        rule_id="aws-access-key-id",
        rule_name="AWS access key ID",
        severity=Severity.CRITICAL,
        description="",
        path="app.env",
        line=1,
        column=1,
        secret=key_id("unit"),
        entropy=3.5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _result(*findings: Finding) -> ScanResult:
    return ScanResult(findings=findings, summary=ScanSummary(mode="history", target="repo"))


NOW = datetime(2026, 1, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"verification": Verification(status="live", arn="arn:aws:iam::1:user/ci",
                                        used_after_leak=True)},
         ["key is LIVE: deactivate or rotate it", "used after leak YES", "1 live keys"]),
        ({"verification": Verification(status="invalid")}, ["key no longer works (invalid)"]),
        # the key ID is known to AWS; only the secret beside it is not its own
        ({"verification": Verification(status="invalid", detail="SignatureDoesNotMatch: x")},
         ["the key exists, this secret is not its own: treat it as live"]),
        ({}, ["not verified: treat it as live, revoke or rotate it"]),
        ({"verification": Verification(status="unknown")},
         ["verification unknown: treat it as live, revoke or rotate it"]),
        ({"in_head": True}, ["still in HEAD"]),
        ({"in_head": False, "history": HistoryInfo(removed_in=CommitInfo("b" * 40, "", "", ""))},
         ["removed from HEAD, still in history: keysweep remediate"]),
        ({"in_head": False, "history": HistoryInfo(refs=("refs/tags/v1",))},
         ["never on the default branch, still in history: keysweep remediate"]),
        ({"message": MessageLocation("commit", "c" * 40, None)},
         ["in a commit message: only a history rewrite removes it"]),
        ({"message": MessageLocation("tag", "d" * 40, "refs/tags/v1")},
         ["in a tag message: delete the tag (and make it anew)"]),
        ({"canary": True}, ["canary token: its owner was alerted if it was used"]),
    ],
)  # fmt: skip
def test_remediation_status(changes: dict[str, object], expected: list[str]) -> None:
    text = parse(html.render(_result(_finding(**changes)), show_secrets=False, now=NOW)).all_text
    for phrase in expected:
        assert phrase in text
    verified = changes.get("verification")
    answered = isinstance(verified, Verification) and verified.status != "unknown"
    answered = answered and not (isinstance(verified, Verification) and verified.wrong_secret)
    if answered or changes.get("canary"):
        assert "treat it as live" not in text  # AWS answered: no guess


def test_a_secret_only_on_a_tag_was_never_removed_from_head(tmp_path: Path) -> None:
    # A key committed on a branch that only a release tag keeps was never in HEAD: the card
    # said "removed from HEAD".
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hello\n"}, "start")
    repo.git("checkout", "-q", "-b", "release")
    repo.commit({"deploy.env": env_text("tag-only")}, "release settings")
    repo.git("tag", "v1.0")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-D", "release")
    run = keysweep("history", str(repo.path), "--format", "html")
    assert run.code == 1, run.stderr
    text = parse(run.stdout).all_text
    assert "never on the default branch, still in history" in text
    assert "removed from HEAD, still in history" not in text


@pytest.mark.parametrize(
    ("leaked", "removed", "in_head", "exposure"),
    [
        ("2026-01-01T00:00:00+00:00", None, True, "exposed 30 days and counting (still in HEAD)"),
        ("2025-12-01T12:00:00Z", "2025-12-02T13:00:00+00:00", False, "exposed 1 day in HEAD"),
    ],
)
def test_exposure_in_days(leaked: str, removed: str | None, in_head: bool, exposure: str) -> None:
    from scanner.models import CommitInfo, HistoryInfo

    def commit(date: str) -> CommitInfo:
        return CommitInfo(sha="a" * 40, author_name="Ada", author_email="a@x", date=date)

    history = HistoryInfo(commit_count=2, removed_in=commit(removed) if removed else None)
    finding = _finding(commit=commit(leaked), in_head=in_head, history=history)
    text = parse(html.render(_result(finding), show_secrets=False, now=NOW)).all_text
    assert exposure in text


def test_blast_radius_is_rendered_generically() -> None:
    radius = {
        "principal_kind": "iam-user",
        "admin_equivalent": True,
        "policies": ["AdministratorAccess", "<b>inline-ci</b>"],
        "mfa": False,
    }
    finding = _finding(blast_radius=radius)  # any mapping renders too (models.BlastRadius: below)
    document = html.render(_result(finding), show_secrets=False, now=NOW)
    text = parse(document).all_text
    assert "Blast radius: admin-equivalent" in text
    assert "principal kind iam-user" in text
    assert "policies AdministratorAccess, <b>inline-ci</b>" in text
    assert "mfa no" in text
    assert "<b>inline-ci" not in document


def test_a_real_blast_radius_is_rendered_and_admin_styled() -> None:
    from scanner.models import BlastRadius, PrincipalKind
    from scanner.report import reporter

    radius = BlastRadius(
        principal=PrincipalKind.IAM_USER,
        arn="arn:aws:iam::123456789012:user/ci",
        user="ci",
        groups=("deployers",),
        attached_policies=("AdministratorAccess",),
        admin_equivalent=True,
        grants=("AWS managed AdministratorAccess",),
        mfa_enabled=False,
        other_active_keys=(),
    )
    live = Verification(status="live", arn=radius.arn)
    render = reporter("html").render  # what --format html runs
    document = render(_result(_finding(verification=live, blast_radius=radius)), show_secrets=False)
    page = parse(document)
    assert '<div class="blast admin">' in document
    assert "Blast radius: admin-equivalent" in page.all_text
    for row in ("principal iam-user", "user ci", "groups deployers", "mfa enabled no",
                "attached policies AdministratorAccess", "high risk actions allowed unknown",
                "grants AWS managed AdministratorAccess", "other active keys none"):  # fmt: skip
        assert row in page.all_text
    plain = render(_result(_finding(verification=live)), show_secrets=False)
    assert '<div class="blast' not in plain and "Blast radius" not in parse(plain).all_text
    harmless = replace(radius, admin_equivalent=False, grants=())
    calm = render(_result(_finding(verification=live, blast_radius=harmless)), show_secrets=False)
    assert '<div class="blast">' in calm and "admin-equivalent" not in parse(calm).all_text


def test_show_secrets_shows_them_and_says_so() -> None:
    paired_secret = secret_key("unit")
    from scanner.models import PairedSecret

    finding = _finding(paired=(PairedSecret("secret_access_key", "aws-secret-access-key",
                                            paired_secret, 2, 1),))  # fmt: skip
    hidden = html.render(_result(finding), show_secrets=False, now=NOW)
    shown = html.render(_result(finding), show_secrets=True, now=NOW)
    assert paired_secret not in hidden
    assert paired_secret in shown
    assert "THIS REPORT HOLDS PLAIN SECRETS" in shown


def test_staged_never_imports_jinja2(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "app.py").write_text("print('hello')\n")
    subprocess.run([*git, "add", "app.py"], check=True)
    probe = (
        "import json, sys\nfrom scanner.cli import main\ncode = main(['staged'])\n"
        "print(json.dumps([code, 'jinja2' in sys.modules]))"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [0, False], proc.stderr


def _png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    """Width, height and how many distinct byte values the pixel data holds (a blank page
    has a handful)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    data, pos = b"", 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(data)))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
@pytest.mark.parametrize(("width", "height"), [(1200, 1400), (390, 1600)])  # desktop, phone
def test_renders_in_headless_chromium(
    hostile_repo: Repo, tmp_path: Path, width: int, height: int
) -> None:
    page = tmp_path / "report.html"
    run = keysweep("history", str(hostile_repo.path), "--format", "html", "--output", str(page))
    assert run.code == 1, run.stderr
    png = tmp_path / "report.png"
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--screenshot={png}", page.as_uri(),
        ],
        capture_output=True, timeout=180, check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    got_width, got_height, colours = _png_size_and_colours(png.read_bytes())
    assert (got_width, got_height) == (width, height)
    assert colours > 50, "the screenshot is (nearly) blank"
    assert re.search(rb"Leaked credentials report", page.read_bytes())


def test_thousands_of_refs_are_counted_not_listed(tmp_path: Path) -> None:
    # One of localstack's keys is held by 7,795 refs (pull requests): the card listed every
    # one, pages long, and the audit's report was 1.6 MB for 119 findings.
    repo = Repo(tmp_path / "repo")
    repo.commit({"deploy.env": env_text("many-refs")}, "deploy settings")
    repo.git("tag", "v1.0")
    for i in range(40):
        repo.git("update-ref", f"refs/pull/{i}/head", "HEAD")
    run = keysweep("history", str(repo.path), "--format", "html")
    assert run.code == 1, run.stderr
    text = parse(run.stdout).all_text
    assert "refs refs/heads/main, refs/tags/v1.0, refs/pull/" in text
    assert "and 32 more (32 refs/pull/*)" in text
    assert text.count("refs/pull/") == 2 * 9  # two cards: eight by name, one namespace


def test_nothing_found_with_errors_is_not_a_clean_pass() -> None:
    """No finding beside errors says what was not read, as the table does."""
    clean = parse(html.render(_result(), show_secrets=False, now=NOW)).all_text
    assert "No secrets found." in clean and "error(s)" not in clean
    summary = ScanSummary(mode="scan", target=".", errors=("big.sql: cannot read",))
    failed = ScanResult(findings=(), summary=summary)
    text = parse(html.render(failed, show_secrets=False, now=NOW)).all_text
    assert "No secrets found in what was read; 1 error(s) left the rest unscanned" in text
    assert "(listed below)" in text and "big.sql: cannot read" in text
