"""``keysweep history``: every blob of a repository's history scanned once, then attributed.

1. Enumerate blobs once from the object database (``catfile``): all of them, or with ``since``
   only those that commits in the range introduced (``rev-list --objects A..B``) or put at a
   path (``readded_blobs``: a copy or a restore of a blob older than the range); and the path
   of each blob (``commitlog.blob_paths``: one ordered ``git log --raw`` pass, its output kept
   in a temporary file for step 3). The listing and the paths are read side by side.
2. Scan every blob (``blobscan``: the detector's keyword pass first).
3. Only if something was found: the kept ``git log --raw`` walk (``commitlog``) replayed,
   tracking just those blobs (``attribution``), then one finding per (rule, secret, path) with
   the commit that first introduced it, how many commits and which refs hold it, whether HEAD
   still has it and, if not, which commit on the default branch removed it.

A blob that commits put at one path is scanned under that path, exactly as it is reported, so
path-dependent rules (config-file rules, key files found by path) and allowlists apply at once.
A blob at several paths, or at none (unreachable, or named only by a tag), is scanned with every
rule first; the few of those with findings are scanned again once per path they appear at.
Blobs that no ref reaches (left by force-pushes, dropped stashes) are scanned too but only
reported with ``include_unreachable``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import chain

from scanner.errors import GitError, UsageError
from scanner.models import (
    CommitInfo,
    Finding,
    Fragment,
    FragmentScanner,
    HistoryInfo,
    ScanMode,
    ScanResult,
    ScanSummary,
    Source,
    redact_subjects,
    with_pairs_of,
)
from scanner.parallel import in_worker
from scanner.sources import commitlog
from scanner.sources.attribution import Attribution, Introduction, attribute
from scanner.sources.blobscan import BlobScan, Packed, Progress, default_workers, scan_feed
from scanner.sources.catfile import list_all_blobs, listing_of, read_blobs
from scanner.sources.gitproc import (
    WALK_MEMORY_LIMITS,
    Git,
    clone_mirror,
    first_line,
    redact_url,
)
from scanner.sources.messages import scan_messages
from scanner.sources.tagged import peel_refs, tagged_blobs

_NULL_OID = re.compile(r"^0+$")
_SCP_URL = re.compile(r"^[\w.+-]+@[\w.-]+:")


@dataclass(frozen=True)
class RepoFacts:
    bare: bool
    shallow: bool
    partial: bool
    head: str | None  # the default branch's commit (HEAD), None when unborn/empty
    tips: dict[str, str]  # ref name -> commit
    # (type, object id, ref) of each ref that leads to no commit (``git tag NAME <tree>``)
    named: tuple[tuple[str, str, str], ...] = ()


def is_remote(target: str) -> bool:
    """A URL (or scp-style ``user@host:path``) to clone, rather than a local path."""
    if "://" in target:
        return True
    return bool(_SCP_URL.match(target)) and not os.path.exists(target)


@contextmanager
def open_repository(target: str) -> Iterator[tuple[Git, str]]:
    """A Git for ``target``: a local repository as is, anything else mirrored into a temp dir."""
    if not is_remote(target):
        if not os.path.exists(target):
            raise UsageError(f"{target}: no such file or directory")
        yield Git(target), target
        return
    label = redact_url(target)
    with tempfile.TemporaryDirectory(prefix="keysweep-clone-") as tmp:
        dest = os.path.join(tmp, "mirror.git")
        clone_mirror(target, dest)
        git = Git(dest)
        git.label = label
        yield git, label


def repo_facts(git: Git) -> RepoFacts:
    probe = git.run(
        "rev-parse", "--git-dir", "--is-bare-repository", "--is-shallow-repository", check=False
    )
    if probe.returncode != 0:
        message = first_line(probe.stderr)
        if "not a git repository" in message:
            message = "not a git repository"
        raise GitError(f"{git.label}: {message}")
    _, bare, shallow = probe.stdout.decode().split()[:3]
    head_probe = git.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    head = head_probe.stdout.decode().strip() or None if head_probe.returncode == 0 else None
    detached = git.run("symbolic-ref", "-q", "HEAD", check=False).returncode != 0
    promisor = git.run(
        "config", "--get-regexp", r"^(extensions\.partialclone|remote\..*\.promisor)$", check=False
    ).stdout.strip()
    tips, named = _refs(git, head if detached else None)
    return RepoFacts(
        bare=bare == "true",
        shallow=shallow == "true",
        partial=bool(promisor),
        head=head,
        tips=tips,
        named=named,
    )


def ref_tips(git: Git, detached_head: str | None) -> dict[str, str]:
    """Every ref that leads to a commit (tags peeled), plus stash reflog entries."""
    return _refs(git, detached_head)[0]


def _refs(
    git: Git, detached_head: str | None
) -> tuple[dict[str, str], tuple[tuple[str, str, str], ...]]:
    """``ref_tips``, and ``(type, object id, ref)`` of each ref that leads to something else
    (a blob or a tree; an empty type when a tag cannot be peeled)."""
    # Only tags are peeled, in one more process: ``%(*objectname)`` peeled every ref in
    # for-each-ref itself (getmoto/moto's 7,305 refs, 2 of them tags: 0.07 s -> 0.01 s).
    out = git.out(
        "for-each-ref",
        "--format=%(objecttype) %(objectname) %(refname)",
        what=f"{git.label}: cannot list refs",
    ).decode("utf-8", "surrogateescape")
    tips: dict[str, str] = {}
    tags: list[str] = []
    named: list[tuple[str, str, str]] = []
    for line in out.splitlines():
        kind, oid, ref = line.split(" ", 2)
        if kind == "commit":
            tips[ref] = oid
        elif kind == "tag":
            tags.append(ref)
        else:
            named.append((kind, oid, ref))
    for kind, oid, ref in peel_refs(git, tags):
        if kind == "commit":
            tips[ref] = oid
        else:
            named.append((kind, oid, ref))
    if "refs/stash" in tips:
        stashes = git.run("log", "-g", "--format=%H", "refs/stash", "--", check=False)
        for i, sha in enumerate(stashes.stdout.decode().split()):
            if i:
                tips[f"refs/stash@{{{i}}}"] = sha
    if detached_head is not None:
        tips["HEAD"] = detached_head
    return tips, tuple(named)


# Blob (and commit) ids the commits of a range introduced, one a line; "?<id>" for one a partial
# clone lacks (``--missing=print`` never fetches it).
_LIST_BLOBS = (
    *WALK_MEMORY_LIMITS,
    "rev-list",
    "--objects",
    "--missing=print",
    "--filter=object:type=blob",
    "--no-object-names",
)


def absent_blobs(
    walked: Iterable[str], tagged: Iterable[str], present: Container[str]
) -> frozenset[str]:
    """The blobs history holds that the object database lacks: those in ``walked`` (every
    blob the walk saw in a commit's tree) or ``tagged`` (under a ref that names a blob or a
    tree), and not ``present`` (every blob the database lists)."""
    return frozenset(oid for oid in chain(walked, tagged) if oid not in present)


def range_blobs(git: Git, revisions: Sequence[str]) -> tuple[list[str], frozenset[str]]:
    """Blob ids introduced by the commits of a range (and the missing ones, if partial)."""
    present: list[str] = []
    missing: set[str] = set()
    with git.stream(*_LIST_BLOBS, *revisions, "--") as stream:
        for line in stream.stdout:
            oid = line.strip().decode("ascii")
            if oid.startswith("?"):
                missing.add(oid[1:])
            elif oid:
                present.append(oid)  # commits too: cat-file answers them, the reader skips them
        stream.finish(f"{git.label}: cannot list the range {' '.join(revisions)}")
    return present, frozenset(missing)


# Which of the blob ids on standard input the object database has, one a line. rev-list never
# fetches a missing object (``--missing``) and skips it (``--ignore-missing``; newer git may
# print it as "?<id>"), where ``cat-file`` on a partial clone dies trying to fetch it.
_PRESENT_BLOBS = (
    "rev-list",
    "--objects",
    "--no-walk",
    "--ignore-missing",
    "--missing=print",
    "--no-object-names",
    "--stdin",
)


def readded_blobs(
    git: Git, paths: Iterable[str], listed: Sequence[str], missing: Container[str]
) -> tuple[list[str], frozenset[str]]:
    """The blobs the range's commits put at a path (``paths``: the range walk's) that
    ``range_blobs`` did not list because they exist before the range (a file copied to a new
    path, a deleted secret restored), split into present and missing. rev-list leaves out
    every blob the range's boundary trees hold, yet such a change is the push's doing: gitleaks
    reads it in the range's patches."""
    known = set(listed)
    wanted = sorted(oid for oid in paths if oid not in known and oid not in missing)
    if not wanted:
        return [], frozenset()
    present = present_blobs(git, wanted)
    return [o for o in wanted if o in present], frozenset(o for o in wanted if o not in present)


def present_blobs(git: Git, oids: Sequence[str]) -> frozenset[str]:
    """Those of ``oids`` the object database has, without fetching any (partial clones)."""
    out = git.run(
        *WALK_MEMORY_LIMITS,
        *_PRESENT_BLOBS,
        input=listing_of(oids),
        what=f"{git.label}: cannot look up the blobs the range puts at a path",
    ).stdout
    lines = out.decode("ascii").split()
    return frozenset(line for line in lines if not line.startswith("?"))


def since_range(git: Git, since: str, *, shallow: bool = False) -> list[str]:
    """``REF`` -> ``REF..HEAD``; ``A..B`` as is. A null sha (new branch in CI) -> all of HEAD."""
    base, dots, end = since.partition("..")
    if dots and end.startswith("."):
        raise UsageError(f"--since {since}: use A..B (symmetric A...B ranges are not supported)")
    end = end or "HEAD"
    for rev in (base, end):
        if rev and not _NULL_OID.match(rev):
            probe = git.run("rev-parse", "-q", "--verify", f"{rev}^{{commit}}", check=False)
            if probe.returncode != 0:
                where = "this shallow clone" if shallow else "this repository"
                raise GitError(f"{git.label}: --since: unknown revision {rev} (not in {where})")
    if not base or _NULL_OID.match(base):
        return [end]
    return [f"{base}..{end}"]


def shallow_cut(git: Git, revisions: Sequence[str]) -> str | None:
    """A commit of the range at a shallow clone's boundary (git has none of its parents), or
    None: the range is whole. Past such a commit the range's older commits are not in the clone,
    so a secret they added and a later commit removed cannot be seen."""
    where = git.out("rev-parse", "--path-format=absolute", "--git-path", "shallow")
    try:
        with open(where.decode("utf-8", "surrogateescape").strip(), "rb") as handle:
            boundary = set(handle.read().decode("ascii").split())
    except FileNotFoundError:
        return None
    listed = git.out("rev-list", *revisions, "--", what=f"{git.label}: cannot list the range")
    return next((sha for sha in listed.decode("ascii").split() if sha in boundary), None)


@dataclass
class HistoryScan:
    target: str
    since: str | None = None
    include_unreachable: bool = False
    max_size: int | None = None
    workers: int | None = None  # scanning processes; None: one per core for large histories
    messages: bool = True  # commit and annotated tag messages too (scanner.sources.messages)

    def run(self, scanner: FragmentScanner, progress: Progress | None = None) -> ScanResult:
        started = time.monotonic()
        with (
            open_repository(self.target) as (git, label),
            tempfile.TemporaryFile(prefix="keysweep-walk-") as walk_file,
            contextlib.ExitStack() as stack,  # the message scan's worker, if one is started
        ):
            facts = repo_facts(git)
            notes: list[str] = []
            skipped: dict[str, int] = {}
            revisions = since_range(git, self.since, shallow=facts.shallow) if self.since else None
            cut = shallow_cut(git, revisions) if revisions and facts.shallow else None
            if cut is not None:
                # The gate must not pass a range it cannot see whole (fail closed).
                raise GitError(
                    f"{label}: --since: shallow clone: the range reaches commit {cut[:12]}, "
                    "whose parents were not fetched; fetch the whole history (actions/checkout "
                    'fetch-depth: 0, GitLab GIT_DEPTH: "0") or pass a base inside the clone'
                )

            errors: list[str] = []
            missing: frozenset[str] = frozenset()
            tagged: dict[str, list[tuple[str, str]]] = {}  # read once, in a full scan
            kept = commitlog.Kept(walk_file)
            if revisions is not None:
                oids, missing = range_blobs(git, revisions)
                paths, walk_error = self._blob_paths(git, facts, revisions, kept)
                readded, absent = readded_blobs(git, paths, oids, missing)
                oids, missing = oids + readded, missing | absent
                feed, count, total, too_large = listing_of(oids), len(oids), 0, 0
                sizes: Sequence[int] = ()
            else:
                # Two git passes side by side (threads wait on git processes; both have ended
                # before the scan forks its workers): each blob's path (the ordered walk,
                # kept) here, and the listing of every blob in a side thread. The walk names
                # every blob any commit's tree holds, so the blobs the object database lacks
                # (a partial clone's promised blobs, or damage) are those the listing does not
                # have: no third pass (``rev-list --objects --all``, 0.7 s of getmoto/moto's
                # CPU before the scan could start).
                with ThreadPoolExecutor(1) as side:
                    listing_run = side.submit(list_all_blobs, git, max_size=self.max_size)
                    paths, walk_error = self._blob_paths(git, facts, revisions, kept)
                listing = listing_run.result()
                feed, count, total = listing.feed, listing.count, listing.total_bytes
                sizes = listing.sizes
                too_large = listing.too_large
                if walk_error is None:
                    tagged = tagged_blobs(git, facts.named)
                    # a damaged object is named once, below, not again as missing
                    missing = absent_blobs(paths, tagged, listing.present | listing.unreadable)
                if listing.unreadable:
                    errors.append(
                        f"{label}: {len(listing.unreadable)} object(s) could not be read "
                        f"(damaged object database: {listing.error or 'unknown error'})"
                    )
            if walk_error is not None:  # commits or trees unreadable: damage, say so
                errors.append(str(walk_error))

            workers = default_workers(total) if self.workers is None else self.workers
            # the message scan, started once: when a blob worker goes idle, else after the scan
            start_messages = functools.cache(
                functools.partial(
                    self._messages_later, stack, git, facts, revisions, scanner, workers
                )
            )

            if progress is not None:
                progress.start(count, total)
            try:
                blob_scan = scan_feed(
                    git,
                    feed,
                    scanner,
                    max_size=self.max_size,
                    progress=progress,
                    workers=workers,
                    paths=paths,
                    several=paths.several,
                    sizes=sizes,
                    when_idle=start_messages,
                )
            finally:
                if progress is not None:
                    progress.stop()
            errors += (f"{label}: {error}" for error in blob_scan.read_errors)
            if blob_scan.missing:
                errors.append(f"{label}: {blob_scan.missing} listed object(s) could not be read")

            too_large += blob_scan.too_large
            if too_large:
                skipped["too_large"] = too_large
            if missing:
                skipped["missing_blob"] = len(missing)
                if facts.partial:
                    notes.append(
                        f"partial clone: {len(missing)} blob(s) are not in the local object "
                        "database and were not scanned (keysweep never fetches them)"
                    )
                else:
                    named = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
                    errors.append(
                        f"{label}: {len(missing)} blob(s) reachable from the scanned refs are "
                        f"missing from the object database: {named}"
                    )
            if facts.shallow and revisions is None:  # a range was checked whole above
                notes.append("shallow clone: history is truncated at the shallow boundary")
            if facts.head is None and not facts.tips:
                notes.append("the repository has no commits")

            messages = start_messages()
            findings: list[Finding] = []
            if blob_scan.hits and walk_error is not None:
                # History could not be read: report what the blobs hold, unattributed
                findings = blob_findings(list(blob_scan.hits), blob_scan.hits, reachable=None)
            elif blob_scan.hits:
                try:
                    findings = self._attribute(
                        git, facts, revisions, blob_scan, scanner, notes, paths, kept, tagged
                    )
                except GitError as exc:
                    # Commits or trees cannot be read (damaged repository): still report what
                    # the blobs hold, unattributed, and fail the run (exit 2).
                    errors.append(str(exc))
                    findings = blob_findings(list(blob_scan.hits), blob_scan.hits, reachable=None)
            elif self._has_submodules(git, facts):
                notes.append("submodules are not followed: scan their repositories separately")
            blob_scan.drop_findings()  # reported now: held no longer than they are needed
            if messages is not None:
                try:
                    findings += messages()
                except GitError as exc:
                    errors.append(str(exc))
            findings = redact_subjects(findings)

            summary = ScanSummary(
                mode=ScanMode.HISTORY,
                target=label,
                files_scanned=blob_scan.blobs,
                bytes_scanned=blob_scan.nbytes,
                skipped=skipped,
                duration_s=round(time.monotonic() - started, 3),
                notes=tuple(notes),
                errors=tuple(errors),
            )
        return ScanResult(tuple(findings), summary)

    @staticmethod
    def _read(facts: RepoFacts, revisions: list[str] | None) -> tuple[list[str], bool]:
        """What the history passes read, and whether the whole history: every ref's tip (on
        standard input, there may be thousands), or the ``--since`` range."""
        if revisions is not None:
            return revisions, False
        return sorted(set(facts.tips.values())), True

    def _blob_paths(
        self, git: Git, facts: RepoFacts, revisions: list[str] | None, kept: commitlog.Kept
    ) -> tuple[commitlog.BlobPaths, GitError | None]:
        """Each blob's one path ("" for several), and the walk's failure when history cannot
        be read (then every blob is scanned under no path and reported unattributed). The walk
        is kept for attribution (``_walk``)."""
        read, whole = self._read(facts, revisions)
        if not read:
            return commitlog.BlobPaths(), None
        try:
            return commitlog.blob_paths(git, read, use_stdin=whole, keep=kept), None
        except GitError as exc:
            return commitlog.BlobPaths(), exc

    def _walk(
        self,
        git: Git,
        facts: RepoFacts,
        revisions: list[str] | None,
        kept: commitlog.Kept,
        tracked: frozenset[str],
    ) -> Iterator[commitlog.Commit]:
        """The ordered walk of history, with the changes that can matter to the ``tracked``
        blobs: replayed when ``_blob_paths`` kept it whole."""
        if kept.complete:
            return kept.replay(tracked)
        read, whole = self._read(facts, revisions)
        return commitlog.walk(git, read, use_stdin=whole, tracked=tracked) if read else iter(())

    def _messages(
        self, git: Git, facts: RepoFacts, revisions: list[str] | None, scanner: FragmentScanner
    ) -> list[Finding]:
        read, whole = self._read(facts, revisions)
        found, _, _ = scan_messages(git, scanner, read, use_stdin=whole, tags=whole)
        return found

    def _messages_later(
        self,
        stack: contextlib.ExitStack,
        git: Git,
        facts: RepoFacts,
        revisions: list[str] | None,
        scanner: FragmentScanner,
        workers: int,
    ) -> Callable[[], list[Finding]] | None:
        """The commit-message findings, to ask for after attribution (None: not wanted). With
        workers, a forked process scans the messages meanwhile, at the lowest priority: it
        starts when a worker of the blob scan has no share left (``scan_feed``'s
        ``when_idle``), on the core that worker leaves idle while the last share is scanned,
        then beside attribution. Started after the blob scan, it made the tail of localstack's
        history 0.6 s instead of 0.35 s; started with it, the process tree 37 MB larger; forked
        before the history is read and started here, 7-10 MB larger on localstack and boto3
        (its pages part from the parent's as the parent works). Forked here it shares what the
        parent holds by then, little since the blob findings are held packed (``Packed``: a
        history of 504,736 findings, 87 MB; 418 MB when they were held as objects)."""
        if not self.messages:
            return None
        task = functools.partial(self._messages, git, facts, revisions, scanner)
        return stack.enter_context(in_worker(task, niceness=19)) if workers > 1 else task

    @staticmethod
    def _has_submodules(git: Git, facts: RepoFacts) -> bool:
        if facts.head is None:
            return False
        return git.run("cat-file", "-e", f"{facts.head}:.gitmodules", check=False).returncode == 0

    def _attribute(
        self,
        git: Git,
        facts: RepoFacts,
        revisions: list[str] | None,
        blob_scan: BlobScan,
        scanner: FragmentScanner,
        notes: list[str],
        paths: dict[str, str],
        kept: commitlog.Kept,
        tagged: dict[str, list[tuple[str, str]]],
    ) -> list[Finding]:
        """Findings of the blobs with hits, attributed to commits; ``tagged`` (``tagged_blobs``,
        read for the missing-blob check of a full scan) places those no commit holds."""
        hit_blobs = frozenset(blob_scan.hits)
        commits = self._walk(git, facts, revisions, kept, hit_blobs)
        attribution = attribute(commits, hit_blobs, head=facts.head, tips=facts.tips)
        if attribution.submodules or self._has_submodules(git, facts):
            notes.append("submodules are not followed: scan their repositories separately")

        rescan = _PathScanner(git, scanner, blob_scan.hits, full=revisions is None)
        for blob, found in blob_scan.hits.items():
            if paths.get(blob):  # scanned under its one path: these are its findings there
                rescan.cache[(blob, paths[blob])] = found
        rescan.cache.update(blob_scan.at_paths)  # blobs at several paths, scanned at each
        located = build_findings(attribution, rescan)
        if not attribution.head_known and facts.head is not None and revisions is None:
            notes.append("HEAD was not reached by the history walk: in_head is unknown")
        shas = sorted({sha for loc in located for sha in (loc.commit, loc.removed_in) if sha})
        infos = commitlog.commit_infos(git, shas)
        seen = {i.blob for intros in attribution.introductions.values() for i in intros}
        unreachable = [oid for oid in blob_scan.hits if oid not in seen]
        rescan.keep_only(unreachable)  # what is read below; the located hold their own
        findings = resolve_all(located, infos)

        if unreachable and revisions is None:
            findings += tagged_findings(tagged, unreachable, rescan)
            unreachable = [oid for oid in unreachable if oid not in rescan.tagged]
        if unreachable and revisions is None:
            if self.include_unreachable:
                findings += blob_findings(unreachable, blob_scan.hits, reachable=False)
            else:
                notes.append(
                    f"{len(unreachable)} blob(s) with findings are reachable from no ref and were "
                    "not reported (use --include-unreachable)"
                )
        return findings


class _PathScanner:
    """Findings of a blob under a given path, scanned once per (blob, path).

    After a full scan every present blob has been seen, so a blob without hits has no findings.
    After a range scan the blobs that changes replaced were not seen: they are read here.
    """

    def __init__(
        self, git: Git, scanner: FragmentScanner, hits: dict[str, Packed], *, full: bool
    ) -> None:
        self.git = git
        self.scanner = scanner
        self.hits = hits
        self.full = full
        self.contents: dict[str, bytes] = {}
        self.cache: dict[tuple[str, str], Packed] = {}
        self.tagged: set[str] = set()  # blobs reported through a ref that names them or their tree
        self._last: tuple[tuple[str, str], list[Finding]] | None = None  # see ``findings``
        self._uses: Counter[tuple[str, str]] = Counter()  # see ``expect``
        self._blob_uses: Counter[str] = Counter()

    def keep_only(self, blobs: Iterable[str]) -> None:
        """Forget the findings and bytes of every blob but ``blobs`` (and so the blob scan's:
        ``hits`` is its dict)."""
        kept = set(blobs)
        for held in (self.hits, self.contents):
            for blob in [b for b in held if b not in kept]:
                del held[blob]
        for key in [k for k in self.cache if k[0] not in kept]:
            del self.cache[key]
        self._last = None

    def prefetch(self, pairs: set[tuple[str, str]]) -> None:
        """Read, in one pass, the blobs of the ``(blob, path)`` pairs not scanned yet."""
        wanted = {b for b, path in pairs if (b, path) not in self.cache and not _NULL_OID.match(b)}
        if self.full:
            wanted &= self.hits.keys()
        if wanted:
            try:
                self.contents.update(read_blobs(self.git, wanted))
            except GitError:
                # Only possible for a range scan of a partial clone whose older blobs are
                # missing: such a blob counts as not holding the secret.
                self.contents.update(read_blobs(self.git, wanted & self.hits.keys()))

    def expect(self, uses: Counter[tuple[str, str]]) -> None:
        """How many times ``findings`` will be asked for each ``(blob, path)``: after the
        last, its packed findings are let go (and the blob's, after its last path), so that
        they never sit beside all the findings unpacked from them (4 files of 10 MB of
        session tokens: 24 MB more at the peak)."""
        self._uses = uses
        self._blob_uses = Counter()
        for (blob, _), count in uses.items():
            self._blob_uses[blob] += count

    def findings(self, blob: str, path: str) -> list[Finding]:
        """Unpacked when asked (a caller keeps what it needs, and the rest goes), and the last
        one kept: attribution asks for a version of a file as the change that made it, then
        as the one the next change replaced."""
        key = (blob, path)
        if self._last is not None and self._last[0] == key:
            found = self._last[1]
        else:
            cached = self.cache.get(key)
            if cached is None:
                raw = self.contents.get(blob)
                found = (
                    []
                    if raw is None
                    else self.scanner.scan(Fragment(raw, path, Source.HISTORY, blob))
                )
                self.cache[key] = Packed.of(found)
            else:
                found = cached.unpack()
            self._last = (key, found)
        self._used(key)
        return found

    def _used(self, key: tuple[str, str]) -> None:
        if not self._uses.get(key):
            return
        self._uses[key] -= 1
        if not self._uses[key]:
            del self._uses[key], self.cache[key]
        blob = key[0]
        self._blob_uses[blob] -= 1
        if not self._blob_uses[blob]:
            del self._blob_uses[blob]
            self.hits.pop(blob, None)
            self.contents.pop(blob, None)


Key = tuple[str, str, str]  # rule_id, secret, path


@dataclass(frozen=True, slots=True)
class Located:
    """A blob's finding with where history puts it, and the commits still to be described
    (filled in one ``git log`` call): ``resolve`` makes the one reported copy (a copy here
    too held every finding of a history three times: 504,736 findings, 1.3 GB)."""

    finding: Finding
    blob: str
    commit: str
    removed_in: str | None
    in_head: bool | None
    history: HistoryInfo

    def resolve(self, infos: dict[str, CommitInfo]) -> Finding:
        history = self.history
        if self.removed_in is not None:
            history = replace(history, removed_in=infos.get(self.removed_in))
        return replace(
            self.finding,
            source=Source.HISTORY,
            blob_id=self.blob,
            in_head=self.in_head,
            history=history,
            commit=infos.get(self.commit),
        )


def resolve_all(located: list[Located], infos: dict[str, CommitInfo]) -> list[Finding]:
    """``Located.resolve`` of each, in order, taking them out of ``located`` one by one: with
    nothing else holding a blob scan's finding, its copy takes its place in memory (a history
    of 504,736 findings held both: 100 MB more)."""
    located.reverse()
    resolved: list[Finding] = []
    while located:
        resolved.append(located.pop().resolve(infos))
    return resolved


def build_findings(attribution: Attribution, rescan: _PathScanner) -> list[Located]:
    """One finding per (rule, secret, path), with its first introduction and exposure."""
    needed: Counter[tuple[str, str]] = Counter()
    for path, intros in attribution.introductions.items():
        for intro in intros:
            needed[(intro.blob, path)] += 1
            needed[(intro.old, path)] += 1
    rescan.prefetch(set(needed))
    rescan.expect(needed)

    chosen: dict[Key, tuple[Introduction, Finding]] = {}
    # the blobs that hold each key at its path: most keys are in one blob, so a set is made
    # only for a second (a set each cost 216 bytes: 109 MB for 504,736 findings)
    blobs_of: dict[Key, str | set[str]] = {}
    for path, intros in attribution.introductions.items():
        for intro in intros:
            old_keys = {(f.rule_id, f.secret) for f in rescan.findings(intro.old, path)}
            for finding in rescan.findings(intro.blob, path):
                key = (finding.rule_id, finding.secret, path)
                held = blobs_of.setdefault(key, intro.blob)
                if isinstance(held, set):
                    held.add(intro.blob)
                elif held != intro.blob:
                    blobs_of[key] = {held, intro.blob}
                if (finding.rule_id, finding.secret) in old_keys:
                    continue  # the file already held it: this change did not introduce it
                best = chosen.get(key)
                if best is not None and best[0] is intro:
                    # the blob holds it twice (AWS_ACCESS_KEY and AWS_ACCESS_KEY_ID): its first
                    # place, with what either place pairs it with (--verify needs the secret)
                    chosen[key] = (intro, with_pairs_of(best[1], finding))
                elif best is None or (intro.time, intro.order) < (best[0].time, best[0].order):
                    chosen[key] = (intro, finding)

    # each key is taken out as its finding is located: its entries go as the located come
    # (504,736 findings: 170 MB more than the blob scan's findings at the peak, 110 MB now)
    results: list[Located] = []
    while chosen:
        key, (intro, finding) = chosen.popitem()
        path = key[2]
        held = blobs_of.pop(key)
        blobs = held if isinstance(held, set) else {held}
        pairs = [(path, blob) for blob in blobs]
        in_head: bool | None = None
        removed: str | None = None
        if attribution.head_known:
            in_head, removed = _head_state(attribution, path, blobs)
        history = HistoryInfo(
            commit_count=sum(attribution.commit_count[pair] for pair in pairs),
            refs=attribution.refs_of(pairs),
        )
        results.append(Located(finding, intro.blob, intro.commit, removed, in_head, history))
    blobs_of.clear()  # (keys that no change introduced: the range's base already held them)
    results.reverse()  # taken last first: back in the order they were chosen
    results.sort(key=lambda loc: (loc.finding.path, loc.finding.line, loc.finding.rule_id))
    return results


def _head_state(attribution: Attribution, path: str, blobs: set[str]) -> tuple[bool, str | None]:
    """(in HEAD?, the default-branch commit that removed it, if it was there and is gone)."""
    newer: str | None = None
    for sha, mapping in attribution.head_chain:
        if mapping.get(path) in blobs:
            return newer is None, newer
        newer = sha
    return False, None


def blob_findings(
    oids: list[str], hits: dict[str, Packed], *, reachable: bool | None
) -> list[Finding]:
    """Findings of blobs without a path: unreachable ones (``reachable`` False, reported as
    ``history.unreachable``) or, when history could not be read, unattributed ones (None)."""
    results: list[Finding] = []
    for oid in oids:
        seen: set[tuple[str, str]] = set()
        for finding in hits[oid].unpack():
            if (finding.rule_id, finding.secret) in seen:
                continue
            seen.add((finding.rule_id, finding.secret))
            what = "unreachable blob" if reachable is False else "blob"
            results.append(
                replace(
                    finding,
                    path=f"<{what} {oid}>",
                    source=Source.HISTORY,
                    blob_id=oid,
                    history=HistoryInfo(unreachable=True) if reachable is False else None,
                )
            )
    return results


def tagged_findings(
    tagged: dict[str, list[tuple[str, str]]], oids: list[str], rescan: _PathScanner
) -> list[Finding]:
    """Findings of blobs that a ref names directly (or through a tagged tree): reachable, with
    that ref in ``history.refs``. A blob named itself has no path: ``<blob OID>``."""
    wanted = {oid for oid in oids if oid in tagged}
    rescan.prefetch({(oid, path) for oid in wanted for _, path in tagged[oid] if path})
    results: list[Finding] = []
    for oid in sorted(wanted):
        rescan.tagged.add(oid)
        by_path: dict[str, set[str]] = {}
        for ref, path in tagged[oid]:
            by_path.setdefault(path, set()).add(ref)
        for path, refs in sorted(by_path.items()):
            found = rescan.findings(oid, path) if path else rescan.hits[oid].unpack()
            seen: set[tuple[str, str]] = set()
            for finding in found:
                if (finding.rule_id, finding.secret) in seen:
                    continue
                seen.add((finding.rule_id, finding.secret))
                where = path or f"<blob {oid}>"
                results.append(
                    replace(
                        finding,
                        path=f"{where}!{finding.member}" if finding.member else where,
                        source=Source.HISTORY,
                        blob_id=oid,
                        history=HistoryInfo(refs=tuple(sorted(refs))),
                    )
                )
    return results
