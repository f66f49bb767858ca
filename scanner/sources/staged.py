"""``keysweep staged``: the content about to be committed, and only the secrets it adds.

What is scanned is the index (``GIT_INDEX_FILE`` honoured, so the temporary index of
``git commit -a`` / ``git commit PATH`` is the one read), never the working tree:

    git diff-index --cached -z --raw -M <HEAD or the empty tree>

For every added, modified, type-changed, renamed or copied path the staged blob is scanned. A
finding is reported only if its (rule, secret) is not already in the version the commit replaces:
HEAD's blob at that path (at the source path for a rename), and during a merge also each merged
commit's blob at the path. So an old secret elsewhere in a file does not block unrelated work,
a file moved with ``git mv`` does not re-report what it held, and a merge reports only what the
merge itself adds (a conflict resolution), not what the merged branch already committed.

Which commits are being merged: ``MERGE_HEAD`` when it exists (``git commit`` concluding a
merge, the pre-commit stage). git's ``pre-merge-commit`` hook runs BEFORE git writes
``MERGE_HEAD``; there git names each merged commit in the environment instead, as
``GITHEAD_<full commit id>=<branch name>`` (git 2.24+, one per merged head, octopus too). Those
are used only when ``MERGE_HEAD`` is absent, and only ids that are commits in this repository.
The comparison is on whole files, not diff hunks: a secret spanning context lines, or moved
within the file, is judged by its presence, not by which lines changed.

A staged file over the size cap is not read, and a gate must not pass what it never read: each
one is an error naming the file (exit 2), unless the config ignores its path (``scan.skip_paths``,
never read, or ``allowlist.paths``, whose findings are dropped anyway) or its first 8 KiB say
it is binary (a NUL byte, as ``scan`` decides), which is noted instead. That prefix is streamed
from ``git cat-file blob`` and the process stopped: a 300 MB blob is sniffed in 3 ms.

Deleted paths and submodule entries have no content to add. Unmerged paths are an error: what
would be committed is not known yet. Anything git cannot answer is an error (exit 2), never
"clean".

Files named when nothing at all is staged (``pre-commit run --all-files``, as pre-commit.ci
and CI jobs run hooks; ``pre-commit run --files X``) are scanned whole, as the index holds
them: with no change to compare against, every secret in them is reported (``named``). As the
hook (``narrow=False``) the names pre-commit passes serve only for that: its ``files``,
``exclude`` and ``types`` filters never narrow the check of what is staged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from scanner.errors import GitError
from scanner.models import (
    BINARY_SNIFF_BYTES,
    Finding,
    Fragment,
    FragmentScanner,
    ScanMode,
    ScanResult,
    ScanSummary,
    Source,
    is_binary,
)
from scanner.sources.catfile import listing_of, read_blobs
from scanner.sources.files import SKIP_PATHS_REASON
from scanner.sources.gitproc import Git, first_line

EMPTY_TREE = {
    "sha1": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "sha256": "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}
_CONTENT_STATUSES = frozenset("AMTRC")
_GITLINK = "160000"


@dataclass(frozen=True)
class StagedEntry:
    path: str
    blob: str  # the staged content
    mode: str
    status: str
    before: tuple[str, ...]  # blobs the commit replaces at this path (HEAD, merged commits)
    source_path: str  # where the HEAD version lived (differs for renames and copies)


@dataclass
class StagedChanges:
    entries: list[StagedEntry] = field(default_factory=list)
    deleted: int = 0
    submodules: int = 0
    first_commit: bool = False
    merge: bool = False
    named: bool = False  # nothing staged: the named files, whole (see the module doc)


def staged_changes(git: Git, paths: Sequence[str] = (), *, narrow: bool = True) -> StagedChanges:
    """What the next commit would change, from the index git itself would commit: at
    ``paths`` (``narrow``), or everywhere; the named ``paths`` whole when nothing is staged."""
    # One process: repository kind, object format, where MERGE_HEAD would be, and HEAD (the
    # last line is missing, with exit code 1, when HEAD is unborn: the first commit).
    probe = git.run(
        "rev-parse",
        "--is-bare-repository",
        "--show-object-format",
        "--git-path",
        "MERGE_HEAD",
        "--verify",
        "-q",
        "HEAD^{commit}",
        check=False,
    )
    lines = probe.stdout.decode().splitlines()
    if probe.returncode not in (0, 1) or len(lines) < 3:
        message = first_line(probe.stderr)
        if "not a git repository" in message:
            message = "not a git repository"
        raise GitError(f"{os.getcwd()}: {message}")
    bare, object_format, merge_head_file = lines[:3]
    if bare == "true":
        raise GitError(f"{os.getcwd()}: a bare repository has no staged changes")
    changes = StagedChanges()
    if probe.returncode == 0 and len(lines) > 3:
        base = lines[3].strip()
    else:
        base = EMPTY_TREE.get(object_format, EMPTY_TREE["sha1"])
        changes.first_commit = True

    narrowed = bool(paths) and narrow
    pathspec = ["--", *paths] if narrowed else ["--"]
    raw = git.out(
        "diff-index", "--cached", "-z", "--raw", "-M", "--no-abbrev", base, *pathspec,
        what="cannot read the staged changes",
    )  # fmt: skip
    merged: list[dict[str, str]] = []
    for other in _merge_heads(merge_head_file) or _merge_heads_from_env(git):
        changes.merge = True
        out = git.out(
            "diff-index", "--cached", "-z", "--raw", "--no-renames", "--no-abbrev", other,
            *pathspec, what="cannot compare the staged changes with MERGE_HEAD",
        )  # fmt: skip
        # Paths not listed are identical to the merged commit: that commit already has them.
        merged.append({e[4]: e[0] for e in _raw_entries(out)})

    for old_blob, new_blob, mode, status, path, source in _raw_entries(raw):
        if status == "U":
            raise GitError(f"{path}: unmerged path in the index (resolve the conflict first)")
        if status == "D":
            changes.deleted += 1
            continue
        if status not in _CONTENT_STATUSES:
            continue
        if mode == _GITLINK:
            changes.submodules += 1
            continue
        before = [old_blob] if status != "A" else []
        skip = False
        for versions in merged:
            if path not in versions:
                skip = True  # same content as a merged commit: nothing new here
                break
            before.append(versions[path])
        if skip:
            continue
        entry = StagedEntry(path, new_blob, mode, status, tuple(before), source or path)
        changes.entries.append(entry)
    # an empty diff of the whole index says nothing is staged; a narrowed one must ask
    if paths and not raw and not merged and (not narrowed or _nothing_staged(git, base)):
        changes.named = True
        changes.entries = _indexed(git, ["--", *paths])
    return changes


def _nothing_staged(git: Git, base: str) -> bool:
    probe = git.run("diff-index", "--cached", "--quiet", base, "--", check=False)
    if probe.returncode not in (0, 1):
        raise GitError(f"cannot read the staged changes: {first_line(probe.stderr)}")
    return probe.returncode == 0


def _indexed(git: Git, pathspec: Sequence[str]) -> list[StagedEntry]:
    """The index entries of the named files (not submodules), as if each were added."""
    out = git.out("ls-files", "-s", "-z", *pathspec, what="cannot list the named files")
    entries: list[StagedEntry] = []
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        info, _, path = record.partition("\t")
        if not path:
            continue
        mode, blob, _stage = info.split(" ")
        if mode != _GITLINK:
            entries.append(StagedEntry(path, blob, mode, "A", (), path))
    return entries


_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _merge_heads_from_env(git: Git) -> list[str]:
    """The commits of a merge in progress as git's ``pre-merge-commit`` hook sees them:
    ``GITHEAD_<oid>`` variables (MERGE_HEAD is not written yet at that point)."""
    oids = sorted(
        name.removeprefix("GITHEAD_")
        for name in os.environ
        if name.startswith("GITHEAD_") and _OID.fullmatch(name.removeprefix("GITHEAD_"))
    )
    if not oids:
        return []
    check = git.run(
        "cat-file", "--batch-check=%(objecttype)", input="".join(f"{o}\n" for o in oids).encode()
    )
    kinds = check.stdout.decode("ascii", "replace").split()
    return [oid for oid, kind in zip(oids, kinds, strict=False) if kind == "commit"]


def _merge_heads(merge_head_file: str) -> list[str]:
    try:
        with open(merge_head_file, encoding="ascii") as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError:
        return []


def _raw_entries(raw: bytes) -> list[tuple[str, str, str, str, str, str]]:
    """(old blob, new blob, new mode, status letter, path, source path) from ``-z --raw``."""
    tokens = raw.split(b"\0")
    entries: list[tuple[str, str, str, str, str, str]] = []
    i = 0
    while i < len(tokens) - 1:
        meta = tokens[i].decode("ascii")
        i += 1
        if not meta.startswith(":"):
            continue
        _, new_mode, old_blob, new_blob, status = meta[1:].split(" ")
        letter = status[:1]
        first = tokens[i].decode("utf-8", "surrogateescape")
        i += 1
        if letter in ("R", "C"):
            second = tokens[i].decode("utf-8", "surrogateescape")
            i += 1
            entries.append((old_blob, new_blob, new_mode, letter, second, first))
        else:
            entries.append((old_blob, new_blob, new_mode, letter, first, ""))
    return entries


def scan_staged(
    scanner: FragmentScanner,
    *,
    paths: Sequence[str] = (),
    max_size: int | None = None,
    git: Git | None = None,
    hook: bool = False,
    skip: Callable[[str], bool] | None = None,
    allowed: Callable[[str], bool] | None = None,
    config: tuple[str, str] = ("[scan]", ".keysweep.toml"),
) -> ScanResult:
    """Findings the staged changes add; ``paths`` limits the scan, or as the ``hook`` (the
    file names pre-commit passes) names what to scan only when nothing is staged. Paths that
    ``skip`` covers are never read; a file over ``max_size`` is an error unless ``allowed``
    covers its path (its findings would be dropped) or it is binary (see the module doc);
    the error names the settings' ``config`` table and file (``Config.where``)."""
    git = git or Git(None, keep_redirects=True)
    changes = staged_changes(git, paths, narrow=not hook)
    skipped: dict[str, int] = {}
    notes: list[str] = []
    if changes.submodules:
        notes.append(f"{changes.submodules} submodule change(s) not followed")
    if changes.deleted:
        skipped["deleted"] = changes.deleted
    entries = [e for e in changes.entries if skip is None or not skip(e.path)]
    if len(entries) < len(changes.entries):
        skipped[SKIP_PATHS_REASON] = len(changes.entries) - len(entries)

    blobs = {e.blob for e in entries}
    oversized = _over(git, blobs, max_size) if blobs and max_size is not None else {}
    contents = read_blobs(git, blobs - oversized.keys()) if blobs - oversized.keys() else {}
    findings: list[Finding] = []
    errors: list[str] = []
    binary: dict[str, bool] = {}
    scanned = nbytes = too_large = 0
    for entry in entries:
        if entry.blob in oversized:
            too_large += 1
            size = oversized[entry.blob]
            if allowed is not None and allowed(entry.path):
                notes.append(f"{entry.path}: {_too_large(size, max_size)} (allowlist.paths)")
                continue
            if entry.blob not in binary:  # a blob staged at several paths is sniffed once
                binary[entry.blob] = is_binary(_head(git, entry.blob))
            if binary[entry.blob]:
                notes.append(f"{entry.path}: {_too_large(size, max_size, 'binary file')}")
            else:
                way_on = _proceed(size, config)
                errors.append(f"{entry.path}: {_too_large(size, max_size)}; {way_on}")
            continue
        raw = contents.get(entry.blob)
        if raw is None:
            raise GitError(f"{entry.path}: staged content {entry.blob} cannot be read")
        scanned += 1
        nbytes += len(raw)
        if not scanner.wants(raw, entry.path):
            continue
        found = scanner.scan(Fragment(raw, entry.path, Source.STAGED, entry.blob))
        if found:
            findings += _added_only(git, scanner, entry, found)
    if too_large:
        skipped["too_large"] = too_large
    if changes.first_commit:
        notes.append("first commit: every staged file is new")
    if changes.merge:
        notes.append("merge: only content that none of the merged commits has is reported")
    if changes.named:
        notes.append(
            "nothing is staged: the named files were scanned whole, as the index holds them "
            "(pre-commit run --all-files)"
        )
    summary = ScanSummary(
        mode=ScanMode.STAGED,
        target="staged changes",
        files_scanned=scanned,
        bytes_scanned=nbytes,
        skipped=skipped,
        notes=tuple(notes),
        errors=tuple(errors),
    )
    return ScanResult(tuple(findings), summary)


def _over(git: Git, blobs: set[str], max_size: int) -> dict[str, int]:
    """The sizes of the blobs larger than ``max_size``, from their headers: a staged 1 GB dump
    is skipped without being read (it took 1 GB of memory and 1.6 s to learn its size). A
    blob git cannot describe is left to the read, which reports it."""
    check = git.run(
        "cat-file",
        "--batch-check=%(objectname) %(objectsize)",
        input=listing_of(sorted(blobs)),
        what="cannot read the staged changes",
    )
    over: dict[str, int] = {}
    for line in check.stdout.decode("ascii", "replace").splitlines():
        oid, _, size = line.partition(" ")
        if size.isdigit() and int(size) > max_size:
            over[oid] = int(size)
    return over


def _head(git: Git, blob: str) -> bytes:
    """The first 8 KiB of a blob: ``cat-file blob`` streams it, and is stopped there. Nothing
    read (git failed) is not binary: the file is then reported, never passed."""
    with git.stream("cat-file", "blob", blob) as stream:
        return stream.stdout.read(BINARY_SNIFF_BYTES)


def _too_large(size: int, limit: int | None, what: str = "file") -> str:
    return f"staged {what} not scanned: {_bytes(size)}, over the size limit of {_bytes(limit or 0)}"


def _bytes(n: int) -> str:
    return f"{n:,} bytes ({n / 2**20:.1f} MiB)" if n >= 2**20 else f"{n:,} bytes"


def _proceed(size: int, config: tuple[str, str]) -> str:
    """How to get past it: scan it (a limit it fits in, in whole MiB), or leave it unread."""
    fits = -(-size // 2**20)
    return (
        f"to scan it raise the limit (--max-file-size {fits}M, or {config[0]} max_file_size), "
        f"or to commit it unscanned add its path to {config[0]} skip_paths in {config[1]}"
    )


def _added_only(
    git: Git, scanner: FragmentScanner, entry: StagedEntry, found: list[Finding]
) -> list[Finding]:
    """Drop findings whose (rule, secret) the replaced version(s) of the file already held."""
    before = [b for b in entry.before if b.strip("0")]
    if not before:
        return found
    known: set[tuple[str, str]] = set()
    for blob, raw in read_blobs(git, before).items():
        fragment = Fragment(raw, entry.source_path, Source.STAGED, blob)
        known.update((f.rule_id, f.secret) for f in scanner.scan(fragment))
    return [f for f in found if (f.rule_id, f.secret) not in known]
