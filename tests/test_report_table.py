"""Table report: plain for pipes and files, rich on a terminal, redacted by default."""

from __future__ import annotations

from support.samples import sample_result

from scanner.models import ScanResult, ScanSummary, Verification, VerificationStatus
from scanner.report import REPORTERS, reporter, table


def test_plain_table_rows_and_redaction() -> None:
    result = sample_result()
    text = table.render(result, show_secrets=False)
    lines = text.splitlines()
    assert lines[0].split() == ["SEVERITY", "RULE", "LOCATION", "SECRET", "DETAILS"]
    key, secret = result.findings
    assert "critical" in lines[1] and "aws-access-key-id" in lines[1]
    assert "aaaaaaaaaaaa:config/prod.env:2:19" in lines[1]
    assert key.redacted in lines[1]
    assert "account 123456789012" in lines[1]
    assert f"paired secret access key {secret.redacted} (line 3)" in lines[1]
    assert "verified: invalid" in lines[1]
    assert "base64-encoded" in lines[2]
    assert key.secret not in text and secret.secret not in text
    assert "\x1b[" not in text  # no colour codes in plain output


def test_show_secrets_prints_them() -> None:
    result = sample_result()
    text = table.render(result, show_secrets=True)
    assert result.findings[0].secret in text
    assert result.findings[1].secret in text


def test_terminal_table_uses_rich_and_redacts() -> None:
    result = sample_result()
    text = table.render_terminal(result, show_secrets=False, width=200)
    assert "\x1b[" in text
    assert "aws-access-key-id" in text
    assert result.findings[0].secret not in text


def test_clean_result_and_summary_line() -> None:
    clean = ScanResult(
        findings=(),
        summary=ScanSummary(mode="scan", target=".", files_scanned=1, bytes_scanned=2048),
    )
    assert table.render(clean, show_secrets=False) == "No secrets found.\n"
    failed = ScanResult(
        findings=(),
        summary=ScanSummary(mode="scan", target=".", errors=("big.sql: staged file not scanned",)),
    )
    expected = "No secrets found in what was read; 1 error(s) left the rest unscanned"
    assert table.render(failed, show_secrets=False).startswith(expected)
    assert expected in table.render_terminal(failed, show_secrets=False, width=200)
    assert table.summary_line(clean) == "keysweep: 0 findings in 1 file (2.0 KiB) in 0.00s"
    line = table.summary_line(sample_result(errors=("x: cannot read: permission denied",)))
    assert line.startswith("keysweep: 2 findings in 12 files (33.8 KiB)")
    assert line.endswith("; skipped binary 2, too_large 1; 1 error(s)")


def test_registry_resolves_every_format() -> None:
    for name in REPORTERS:
        assert callable(reporter(name).render)


def test_hostile_names_stay_on_one_line_and_never_reach_the_terminal_raw() -> None:
    assert table.printable("new\nline.env") == "new\\nline.env"
    assert table.printable("esc\x1b[31mred\x1b[0m.env") == "esc\\x1b[31mred\\x1b[0m.env"
    assert table.printable("latin-\udce9\udcff.env") == "latin-\\xe9\\xff.env"  # undecodable bytes
    assert table.printable("evil\u202etxt.env") == "evil\\u202etxt.env"  # bidi override
    assert table.printable("ключи/é-日本.env") == "ключи/é-日本.env"  # printable: untouched


def test_history_details_say_when_and_whether_still_exposed() -> None:
    """An incident responder reads, per finding: when it leaked, by whom, is it still there."""
    from dataclasses import replace

    from scanner.models import CommitInfo, HistoryInfo

    result = sample_result()
    key, secret = result.findings
    leak = CommitInfo("a" * 40, "Dana Dev", "dana@example.com", "2024-03-05T10:00:00+00:00")
    gone = CommitInfo("b" * 40, "Sam Ops", "sam@example.com", "2024-04-01T09:00:00+00:00")
    removed = replace(key, commit=leak, in_head=False, history=HistoryInfo(removed_in=gone))
    present = replace(secret, commit=leak, in_head=True)
    text = table.render(replace(result, findings=(removed, present)), show_secrets=False)
    first, second = text.splitlines()[1:3]
    assert "leaked 2024-03-05 by Dana Dev" in first and "removed in bbbbbbbbbbbb" in first
    assert "leaked 2024-03-05 by Dana Dev" in second and "still in HEAD" in second


def test_a_last_use_by_sts_after_the_leak_may_be_a_verification_call() -> None:
    """keysweep's own STS check of an earlier run is a use of the key: "used after leak"
    alone would read it as the attacker's."""

    def live(service: str) -> Verification:
        return Verification(
            VerificationStatus.LIVE,
            last_used_date="2026-11-30T10:00:00+00:00",
            last_used_service=service,
            used_after_leak=True,
        )

    by_sts, by_s3 = live("sts"), live("s3")
    assert table.verification_text(by_sts).endswith(
        "USED AFTER LEAK (sts: may be a verification call)"
    )
    assert table.verification_text(by_s3).endswith("; USED AFTER LEAK")


def test_an_invalid_signature_says_the_key_exists() -> None:
    """SignatureDoesNotMatch: AWS knows the key ID, only the secret beside it is not its own
    (a responder reading "invalid" took the key for dead)."""
    mismatch = Verification("invalid", detail="SignatureDoesNotMatch: ... (1 candidate(s) tried)")
    unknown_id = Verification("invalid", detail="InvalidClientTokenId: ... (1 candidate(s) tried)")
    assert "the key exists; the secret beside it is not its secret" in table.verification_text(
        mismatch
    )
    assert table.verification_text(unknown_id) == "verified: invalid"
