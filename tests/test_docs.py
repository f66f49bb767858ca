"""The documentation: a short README, and no relative link that points nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300
# [text](target) and ![alt](target); the target ends at whitespace or ')'.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def doc_pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pages += [ROOT / name for name in ("CHANGELOG.md", "CONTRIBUTING.md", "bench/README.md")]
    return [page for page in pages if page.exists()]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def link_targets(text: str) -> list[str]:
    """Link targets that are paths or anchors (not URLs), with their #anchor if any."""
    return [
        target
        for line in prose_lines(text)
        for target in LINK.findall(line)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    ]


def relative_links(text: str) -> list[str]:
    """Link targets that are paths (not URLs or same-page anchors), without their #anchor."""
    return [target.split("#", 1)[0] for target in link_targets(text) if not target.startswith("#")]


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, '-' for ' '."""
    slugs: set[str] = set()
    for line in prose_lines(text):
        heading = re.match(r"#{1,6} (.*)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            slugs.add(slug)
    return slugs


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("## Exit codes", "exit-codes"),
        (
            "## History: `keysweep history` vs `git cat-file`",
            "history-keysweep-history-vs-git-cat-file",
        ),
        ("## The pipeline (`scanner/verify/`)", "the-pipeline-scannerverify"),
        (
            "### Baseline: accept what is there, gate on what is new",
            "baseline-accept-what-is-there-gate-on-what-is-new",
        ),
    ],
)
def test_anchors_follow_github(heading: str, anchor: str) -> None:
    assert anchors(heading) == {anchor}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see [rules](docs/rules.md#pack-schema)", ["docs/rules.md"]),
        ("![shot](html-report.png) and [up](../README.md)", ["html-report.png", "../README.md"]),
        ("[site](https://example.com/x.md), [here](#exit-codes)", []),
        ("```\n[not a link](nowhere.md)\n```\n[a link](there.md)", ["there.md"]),
    ],
)
def test_relative_links_are_found(text: str, expected: list[str]) -> None:
    assert relative_links(text) == expected


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES})"


def test_readme_links_every_docs_page() -> None:
    readme = set(relative_links((ROOT / "README.md").read_text()))
    unlisted = [
        f"docs/{page.name}"
        for page in sorted((ROOT / "docs").glob("*.md"))
        if f"docs/{page.name}" not in readme
    ]
    assert not unlisted, f"not in the README's Documentation list: {unlisted}"


@pytest.mark.parametrize("page", doc_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    broken = [
        target for target in relative_links(page.read_text()) if not (page.parent / target).exists()
    ]
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files: {broken}"


@pytest.mark.parametrize("page", doc_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_anchors_point_at_existing_headings(page: Path) -> None:
    broken = []
    for target in link_targets(page.read_text()):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path) if path else page
        checkable = anchor and linked.suffix == ".md" and linked.exists()
        if checkable and anchor not in anchors(linked.read_text()):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing headings: {broken}"


def test_every_scan_mode_is_documented() -> None:
    # `audit` reports carry scan.mode "audit"; the field's documentation did not list it.
    from scanner.models import ScanMode

    row = next(
        line
        for line in (ROOT / "docs" / "report-formats.md").read_text("utf-8").splitlines()
        if line.startswith("| `scan.mode` |")
    )
    for mode in ScanMode:
        assert f"`{mode.value}`" in row, mode
