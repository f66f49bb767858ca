"""The clean-up plan for the secrets of a report: what holds each one, and the steps.

A report written without ``--show-secrets`` is enough. For each finding the blob it names
(``blob_id``; else ``COMMIT:PATH``; else ``HEAD:PATH``) is read back from the repository and
scanned again; the finding at the same rule, line and column whose value matches the report's
(in full, or in its redacted form) gives the plain secret, plus the paired secrets found with
it. Those values go into a git-filter-repo ``--replace-text`` expressions file, written with
mode 0600. Nothing is written to the repository: only ``git rev-list``, ``log``, ``rev-parse``,
``for-each-ref`` and ``cat-file`` run there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scanner import archives
from scanner.errors import GitError
from scanner.models import (
    BINARY_SNIFF_BYTES,
    Finding,
    Fragment,
    FragmentScanner,
    MessageLocation,
    Source,
    decode_bytes,
    redact,
    shown_secret,
)
from scanner.sources.catfile import read_blobs
from scanner.sources.gitproc import Git, redact_url
from scanner.sources.history import ref_tips, repo_facts
from scanner.sources.messages import commit_messages, tag_messages

REPLACEMENT = "***REMOVED***"
_EXPRESSION_LINE = re.compile(rf"(?:literal|regex):.*==>{re.escape(REPLACEMENT)}")
_HEX = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


@dataclass(frozen=True)
class Secret:
    """One value to remove from history. ``value`` is never printed; ``label`` is."""

    rule_id: str
    value: str
    label: str


@dataclass(frozen=True)
class Target:
    """One finding of the report, and what its removal involves.

    ``problem`` is set (and ``secrets`` empty) when the value could not be re-read.
    """

    finding: Finding
    secrets: tuple[Secret, ...] = ()
    blob_id: str | None = None
    refs: tuple[str, ...] = ()
    in_head: bool | None = None
    commits: tuple[str, ...] = ()  # commits whose id changes, oldest first
    problem: str | None = None

    @property
    def label(self) -> str:
        if self.secrets:
            return self.secrets[0].label
        return self.finding.secret  # the report's own (redacted) form


@dataclass(frozen=True)
class Plan:
    repo: str
    remote_url: str | None
    targets: tuple[Target, ...]
    rewritten_refs: tuple[str, ...]  # refs whose tip changes, in for-each-ref order
    # branches X whose refs/remotes/origin/X has commits refs/heads/X lacks: git-filter-repo
    # keeps the local branch and drops the remote-tracking one, and the force-push of X would
    # then delete those commits from the remote
    behind: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every distinct value to replace, in report order."""
        seen: dict[str, Secret] = {}
        for target in self.targets:
            for secret in target.secrets:
                seen.setdefault(secret.value, secret)
        return tuple(seen.values())

    @property
    def problems(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.problem is not None)


def build_plan(repo: str, findings: Sequence[Finding], detector: FragmentScanner) -> Plan:
    """The plan for ``findings`` in the repository at ``repo`` (read only)."""
    git = Git(repo)
    facts = repo_facts(git)  # GitError "not a git repository" names the path
    children = _children(git)
    order = _commit_order(git)
    top = _work_tree_top(git)
    targets: list[Target] = []
    for finding in findings:
        target = _recover(git, finding, detector, head=facts.head, top=top)
        if target.problem is None:
            target = _exposure(git, target, children, order, facts.tips, top)
        targets.append(target)
    rewritten = {c for t in targets for c in t.commits}
    tips = ref_tips(git, None)
    refs = tuple(ref for ref, tip in tips.items() if tip in rewritten)
    remote = git.run("config", "--get", "remote.origin.url", check=False).stdout.decode().strip()
    return Plan(
        repo=repo,
        remote_url=redact_url(remote) if remote else None,
        targets=tuple(targets),
        rewritten_refs=refs,
        behind=_behind_origin(git, tips),
    )


def _behind_origin(git: Git, tips: dict[str, str]) -> tuple[str, ...]:
    """The branches X whose ``refs/remotes/origin/X`` holds commits ``refs/heads/X`` does not
    (fetched, not merged): see ``Plan.behind``."""
    prefix = "refs/remotes/origin/"
    behind: list[str] = []
    for ref, tip in tips.items():
        name = ref[len(prefix) :]
        local = tips.get(f"refs/heads/{name}")
        if not ref.startswith(prefix) or local is None or local == tip:
            continue
        ahead = git.run("rev-list", "--count", f"{local}..{tip}", check=False).stdout.strip()
        if ahead != b"0":
            behind.append(name)
    return tuple(behind)


# -- recovering the plain value ---------------------------------------------------------------
def _work_tree_top(git: Git) -> str | None:
    """The top of the repository's work tree (None: a bare repository)."""
    probe = git.run("rev-parse", "--show-toplevel", check=False)
    top = probe.stdout.decode(errors="surrogateescape").strip() if probe.returncode == 0 else ""
    return top or None


def _tree_paths(finding: Finding, top: str | None) -> list[str]:
    """Where the finding's file may sit in the repository's tree: its path as the report gives
    it (a scan run at the top of the working tree), else that path as it resolves from here,
    relative to the work tree's ``top`` (a scan run elsewhere: ``scan repo`` names
    ``repo/.env``, ``scan /abs/repo`` an absolute path). A file inside an archive
    (``ARCHIVE!MEMBER``) sits where its archive does."""
    paths: list[str] = []
    for path in dict.fromkeys((finding.file_path, finding.path, _outer(finding.path))):
        if not os.path.isabs(path):
            paths.append(path[2:] if path.startswith("./") else path)
        if top:
            inside = os.path.relpath(os.path.realpath(path), os.path.realpath(top))
            if inside != os.pardir and not inside.startswith(os.pardir + os.sep):
                paths.append(inside.replace(os.sep, "/"))
    return list(dict.fromkeys(paths))


def _blob_of(git: Git, finding: Finding, head: str | None, top: str | None) -> str | None:
    if finding.blob_id and _HEX.match(finding.blob_id):
        return finding.blob_id
    paths = _tree_paths(finding, top)
    for rev in (finding.commit.sha if finding.commit else None, head):
        for path in paths if rev is not None else ():
            probe = git.run("rev-parse", "-q", "--verify", f"{rev}:{path}", check=False)
            if probe.returncode == 0:
                return probe.stdout.decode().strip()
    return None


def _message_of(git: Git, where: MessageLocation) -> bytes | None:
    """The commit or tag message a message finding names, as the history scan read it."""
    if where.kind == "commit":
        found = commit_messages(git, [f"{where.object_id}^!"], use_stdin=False)
    else:
        found = (m for m in tag_messages(git) if m.object_id == where.object_id)
    return next((m.raw for m in found), None)


def _recover(
    git: Git, finding: Finding, detector: FragmentScanner, *, head: str | None, top: str | None
) -> Target:
    if finding.message is not None:
        where = finding.message
        try:
            raw = _message_of(git, where)
        except GitError as exc:
            raw, reason = None, f" ({exc})"
        else:
            reason = ""
        if raw is None:
            return Target(finding, problem=f"{where.kind} {where.object_id} cannot be read{reason}")
        return _recovered(finding, detector, raw, f"the {where.kind} message", None)
    blob = _blob_of(git, finding, head, top)
    if blob is None:
        return Target(
            finding,
            problem="not committed (not in HEAD nor in the report's commit): nothing in history "
            "to rewrite; remove it from the file",
        )
    try:
        raw = read_blobs(git, [blob]).get(blob)
    except GitError as exc:
        return Target(finding, blob_id=blob, problem=f"blob {blob} cannot be read ({exc})")
    if raw is None:
        return Target(finding, blob_id=blob, problem=f"blob {blob} is not in this repository")
    return _recovered(finding, detector, raw, f"blob {blob}", blob)


def _recovered(
    finding: Finding, detector: FragmentScanner, raw: bytes, what: str, blob: str | None
) -> Target:
    """The plain value(s) of ``finding`` re-read from ``raw`` (a blob, or a message)."""
    kept = _kept_as_is(raw)
    if kept is not None:
        archive = finding.member is None and archives.kind(raw) is not None
        inside = _outer(finding.path) if archive else finding.file_path
        return Target(
            finding,
            blob_id=blob,
            problem=f"{what} is {kept} ({inside}): git filter-repo --replace-text leaves it as "
            "it is; remove the file from history (git filter-repo --invert-paths "
            f"--path {inside}) or rebuild it without the secret, and rotate the secret",
        )
    candidates = [
        c
        for c in detector.scan(Fragment(raw, finding.path, Source.HISTORY, blob))
        if c.rule_id == finding.rule_id and finding.secret in (c.secret, c.redacted)
    ]
    exact = [c for c in candidates if (c.line, c.column) == (finding.line, finding.column)]
    chosen = exact[:1] or (candidates if len({c.secret for c in candidates}) == 1 else [])
    if not chosen:
        return Target(
            finding,
            blob_id=blob,
            problem=f"{what} holds no {finding.rule_id} value matching the report "
            "(a report from another repository, or other rules?)",
        )
    found = chosen[0]
    secrets = [Secret(found.rule_id, found.secret, shown_secret(found, show_secrets=False))]
    if found.encoding:
        # Found after decoding: what the blob holds is the encoded span; replace that too.
        span = _span_text(decode_bytes(raw), found)
        if span and span.encode("utf-8", "surrogatepass") in raw:
            secrets.append(Secret(found.rule_id, span, f"{found.encoding}-encoded span"))
    secrets += (Secret(p.rule_id, p.secret, redact(p.secret)) for p in found.paired)
    return Target(finding, secrets=tuple(secrets), blob_id=blob)


def _outer(path: str) -> str:
    """The archive of ``ARCHIVE!MEMBER`` in a report that names no ``member`` (an older one)."""
    return path.split("!", 1)[0]


def _kept_as_is(raw: bytes) -> str | None:
    """What ``raw`` is when ``--replace-text`` cannot take a secret out of it, or None: an
    archive or database (the secret is compressed, or inside a structure a byte replacement
    would break), or a file with a NUL byte in its first 8 KiB, which git filter-repo passes
    over as binary (UTF-16 text included)."""
    found = archives.kind(raw)
    if found is not None:
        return archives.described(found)
    return "a binary file" if b"\0" in raw[:BINARY_SNIFF_BYTES] else None


def _span_text(text: str, f: Finding) -> str:
    """``text`` from (line, column) to (end_line, end_column), 1-based, end exclusive."""
    starts = [0]
    for i, char in enumerate(text):
        if char == "\n":
            starts.append(i + 1)
    if not (0 < f.line <= len(starts) and 0 < f.end_line <= len(starts)):
        return ""
    begin = starts[f.line - 1] + f.column - 1
    end = starts[f.end_line - 1] + f.end_column - 1
    return text[begin:end] if begin < end else ""


# -- where it lives --------------------------------------------------------------------------
def _children(git: Git) -> dict[str, list[str]]:
    out = git.out("rev-list", "--all", "--parents", what=f"{git.label}: cannot list commits")
    children: dict[str, list[str]] = {}
    for line in out.decode("ascii").splitlines():
        sha, *parents = line.split()
        children.setdefault(sha, [])
        for parent in parents:
            children.setdefault(parent, []).append(sha)
    return children


def _commit_order(git: Git) -> dict[str, int]:
    """Commit -> position, parents before children."""
    out = git.out("rev-list", "--all", "--topo-order", "--reverse", what=git.label)
    return {sha: i for i, sha in enumerate(out.decode("ascii").split())}


def _descendants(starts: Iterable[str], children: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [s for s in starts if s in children]
    while todo:
        sha = todo.pop()
        if sha in seen:
            continue
        seen.add(sha)
        todo.extend(children[sha])
    return seen


def _exposure(
    git: Git,
    target: Target,
    children: dict[str, list[str]],
    order: dict[str, int],
    tips: dict[str, str],
    top: str | None,
) -> Target:
    """Commits that added the blob (or carry the message), everything built on them, and
    the refs that hold it."""
    finding = target.finding
    if target.blob_id is None:  # a message: its commit (none for a tag's, whose ref holds it)
        added = [finding.message.object_id] if finding.message and finding.commit else []
    else:
        added = git.run(
            "log", "--all", "--no-ext-diff", "--no-textconv", "--format=%H",
            f"--find-object={target.blob_id}", check=False,
        ).stdout.decode("ascii").split()  # fmt: skip
    starts = {*added, *([finding.commit.sha] if finding.commit else [])}
    commits = sorted(_descendants(starts, children), key=lambda sha: order.get(sha, 0))
    if finding.history is not None and finding.history.refs:
        refs = finding.history.refs
    else:
        rewritten = set(commits)
        refs = tuple(sorted(ref for ref, tip in tips.items() if tip in rewritten))
    in_head = finding.in_head
    if in_head is None and finding.source == "file":
        in_head = any(
            git.run("rev-parse", "-q", "--verify", f"HEAD:{path}", check=False).stdout.strip()
            == (target.blob_id or "").encode()
            for path in _tree_paths(finding, top)
        )
    return Target(
        finding,
        secrets=target.secrets,
        blob_id=target.blob_id,
        refs=refs,
        in_head=in_head,
        commits=tuple(commits),
    )


# -- the expressions file ------------------------------------------------------------------------
def expressions_text(secrets: Iterable[Secret]) -> str:
    """git-filter-repo ``--replace-text`` lines: ``literal:VALUE==>***REMOVED***``.

    filter-repo splits a line at its last ``==>``, so a value holding ``==>`` is still read
    whole; a value spanning lines (a private key) becomes an escaped ``regex:``. The format
    has no comments (every line is an expression), so the warning that the file holds the
    plain secrets is printed by the command instead.
    """
    lines: list[str] = []
    for secret in secrets:
        if "\n" in secret.value or "\r" in secret.value:
            pattern = re.escape(secret.value).replace("\\\n", "\\n").replace("\\\r", "\\r")
            pattern = pattern.replace("\n", "\\n").replace("\r", "\\r")
            lines.append(f"regex:{pattern}==>{REPLACEMENT}")
        else:
            lines.append(f"literal:{secret.value}==>{REPLACEMENT}")
    return "\n".join(lines) + "\n"


def holds_only_expressions(data: bytes) -> bool:
    """Whether ``data`` reads as ``expressions_text`` wrote it (an empty file too): the one
    kind of existing file that remediate may write over."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(_EXPRESSION_LINE.fullmatch(line) for line in text.splitlines() if line)
