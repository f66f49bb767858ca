"""Commit messages and annotated tag messages as Fragments: "rotated creds: AKIA..." is a leak
too, and it is in every clone.

- Commit messages: one ``git log -z --format=%H %ct%x00%B`` pass over the commits the history
  walk covers (all ref tips, or the ``--since`` range), streamed; git re-encodes each raw body to
  UTF-8 (``--encoding``).
- Tag messages: the annotated tags under ``refs/`` (full scans only), read with one
  ``git cat-file --batch``; the message is what follows the tag header (a PGP signature, if
  any, is part of it and is scanned too).

Each message becomes a ``Fragment`` at path ``<commit message>`` or ``<tag message>``; its
finding names the commit (``Finding.commit``) or the tag (``Finding.message``; the commit in
``Finding.message`` too). The same secret in many commit messages (cherry-picks, rebases) is one
finding per (rule, secret), at the oldest commit, with ``history.commit_count`` saying how many
carry it. Notes are blobs: the blob scan already covers them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from scanner.models import (
    COMMIT_MESSAGE_PATH,
    TAG_MESSAGE_PATH,
    Finding,
    Fragment,
    FragmentScanner,
    HistoryInfo,
    MessageLocation,
    Source,
)
from scanner.sources import commitlog
from scanner.sources.gitproc import Git


@dataclass(frozen=True)
class Message:
    kind: str  # commit | tag
    object_id: str
    raw: bytes
    time: int  # committer or tagger timestamp: the oldest carrier is reported
    ref: str | None = None  # the tag's ref name


def commit_messages(git: Git, revisions: Sequence[str], *, use_stdin: bool) -> Iterator[Message]:
    """Every commit message reachable from ``revisions`` (tips, or ``A..B`` ranges)."""
    args = ["-z", *commitlog.LOG_FLAGS, "--format=%H %ct%x00%B"]
    what = "cannot read commit messages"
    tokens = commitlog.log_tokens(git, args, revisions, use_stdin=use_stdin, what=what)
    for header in tokens:
        body = next(tokens, b"")
        sha, _, when = header.strip().decode("ascii", "replace").partition(" ")
        yield Message("commit", sha, body, int(when) if when.isdigit() else 0)


def tag_messages(git: Git) -> Iterator[Message]:
    """The message of every annotated tag a ref points at."""
    refs = git.out(
        "for-each-ref",
        "--format=%(objecttype) %(objectname) %(refname)",
        what=f"{git.label}: cannot list tags",
    ).decode("utf-8", "surrogateescape")
    tags: dict[str, str] = {}
    for line in refs.splitlines():
        kind, oid, ref = line.split(" ", 2)
        if kind == "tag":
            tags.setdefault(oid, ref)
    if not tags:
        return
    out = git.run(
        "cat-file",
        "--batch",
        input="".join(f"{oid}\n" for oid in tags).encode(),
        what=f"{git.label}: cannot read tags",
    ).stdout
    pos = 0
    while pos < len(out):
        newline = out.index(b"\n", pos)
        oid, kind, size = out[pos:newline].decode("ascii").split(" ")
        start = newline + 1
        end = start + int(size)
        header, _, body = out[start:end].partition(b"\n\n")
        when = 0
        for field in header.split(b"\n"):
            if field.startswith(b"tagger "):
                stamp = field.rsplit(b" ", 2)
                when = int(stamp[1]) if len(stamp) == 3 and stamp[1].isdigit() else 0
        if kind == "tag":
            yield Message("tag", oid, body, when, tags[oid])
        pos = end + 1  # the object is followed by a newline


def scan_messages(
    git: Git,
    scanner: FragmentScanner,
    revisions: Sequence[str],
    *,
    use_stdin: bool,
    tags: bool,
) -> tuple[list[Finding], int, int]:
    """Findings in commit (and, with ``tags``, annotated tag) messages, plus how many
    messages and bytes were read."""
    chosen: dict[tuple[str, str, str], tuple[Message, Finding]] = {}
    carriers: dict[tuple[str, str, str], set[str]] = {}
    count = nbytes = 0
    sources: list[Iterator[Message]] = []
    if revisions:
        sources.append(commit_messages(git, revisions, use_stdin=use_stdin))
    if tags:
        sources.append(tag_messages(git))
    for source in sources:
        for message in source:
            count += 1
            nbytes += len(message.raw)
            if not message.raw or not scanner.wants(message.raw):
                continue
            path = COMMIT_MESSAGE_PATH if message.kind == "commit" else TAG_MESSAGE_PATH
            for finding in scanner.scan(Fragment(message.raw, path, Source.HISTORY)):
                key = (finding.rule_id, finding.secret, message.kind)
                carriers.setdefault(key, set()).add(message.object_id)
                best = chosen.get(key)
                if best is None or message.time < best[0].time:
                    chosen[key] = (message, finding)
    if not chosen:
        return [], count, nbytes
    shas = sorted({m.object_id for m, _ in chosen.values() if m.kind == "commit"})
    infos = commitlog.commit_infos(git, shas)
    findings: list[Finding] = []
    for key, (message, finding) in chosen.items():
        findings.append(
            replace(
                finding,
                source=Source.HISTORY,
                commit=infos.get(message.object_id) if message.kind == "commit" else None,
                history=HistoryInfo(commit_count=len(carriers[key]))
                if message.kind == "commit"
                else HistoryInfo(refs=(message.ref,) if message.ref else ()),
                message=MessageLocation(message.kind, message.object_id, message.ref),
            )
        )
    findings.sort(key=lambda f: (f.path, f.message.object_id if f.message else "", f.line))
    return findings, count, nbytes
