"""The plan as text: what holds each secret, then the steps in the order they must run."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from scanner.remediate.apply import ApplyResult, filter_repo_args
from scanner.remediate.plan import Plan, Target
from scanner.report.table import printable

_SHOWN_COMMITS = 3

# Copies a rewrite of this repository does not reach, and what to do about each.
OUT_OF_REACH = (
    "     - forks and other clones keep the old commits: ask their owners to delete them or",
    "       re-clone;",
    "     - pull/merge-request refs (refs/pull/*, refs/merge-requests/*) and the host's cached",
    "       views of old commits: ask the host's support to purge them and garbage-collect;",
    "     - CI logs and artifacts that printed or packaged the secret: delete those jobs'",
    "       logs and artifacts;",
    "     - packages and images built from the old commits: yank them, rebuild, republish.",
)


def _q(text: str) -> str:
    return shlex.quote(text)


def push_refspecs(refs: Sequence[str]) -> list[str]:
    """Refspecs that put rewritten refs back on the remote, as the rewritten mirror names
    them: branches, tags and notes under their own names, and a remote-tracking
    ``refs/remotes/origin/X`` as branch X (git-filter-repo moves it to ``refs/heads/X`` in a
    fresh clone; ``refs/remotes/origin/X`` no longer exists to push from). The stash and other
    remotes' refs stay local."""
    specs: dict[str, None] = {}
    prefix = "refs/remotes/origin/"
    for ref in refs:
        if ref.startswith(("refs/heads/", "refs/tags/", "refs/notes/")):
            specs.setdefault(ref)
        elif ref.startswith(prefix) and ref != prefix + "HEAD":
            specs.setdefault("refs/heads/" + ref[len(prefix) :])
    return list(specs)


def _behind_lines(behind: Sequence[str]) -> list[str]:
    """The warning for ``Plan.behind``, the branches behind their remote."""
    return [
        f"BRANCH BEHIND ITS REMOTE: {', '.join(behind)}: origin has commits the local branch "
        "lacks.",
        "  git-filter-repo keeps the local branch and drops origin's, so the rewritten mirror",
        "  loses those commits and the force-push would delete them from the remote. Merge or",
        "  rebase first (git pull), run keysweep history again, then remediate (--apply refuses).",
    ]


def push_command(into: str, remote: str | None, refs: Sequence[str]) -> str:
    url = remote or "YOUR-REMOTE-URL"
    specs = " ".join(_q(s) for s in push_refspecs(refs))
    return f"git -C {_q(into)} push --force {_q(url)} {specs}".rstrip()


def _target_lines(index: int, target: Target) -> list[str]:
    f = target.finding
    lines = [f"finding {index}: {printable(f.rule_id)} {printable(target.label)}"]
    for extra in target.secrets[1:]:
        lines.append(f"  with:        {extra.rule_id} {extra.label}")
    if f.message is not None:  # a commit's or a tag's message, not a file
        holder = f.message.ref or f.message.object_id[:12]
        lines.append(
            f"  message:     line {f.line} of {f.message.kind} {printable(holder)}'s message"
        )
    else:
        where = f"{printable(f.path)}:{f.line}"
        if target.blob_id:
            where += f" (blob {target.blob_id[:12]})"
        lines.append(f"  file:        {where}")
    if f.commit is not None:
        c = f.commit
        who = printable(f"{c.date[:10]} by {c.author_name}: {c.subject}")
        lines.append(f"  leaked in:   {c.sha[:12]} {who}")
    if target.problem is not None:
        lines.append(f"  CANNOT REMOVE: {target.problem}")
        return lines
    head: dict[bool | None, str] = {
        True: "yes (the rewrite replaces it in HEAD's files too)",
        False: "no",
    }
    if f.message is None:
        lines.append(f"  in HEAD:     {head.get(target.in_head, 'unknown')}")
    refs = printable(", ".join(target.refs)) if target.refs else "(none)"
    lines.append(f"  refs:        {refs}")
    if target.commits:
        shown = ", ".join(c[:12] for c in target.commits[:_SHOWN_COMMITS])
        more = len(target.commits) - _SHOWN_COMMITS
        lines.append(
            f"  rewrite:     {len(target.commits)} commit(s): {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    elif f.message is not None and f.message.kind == "tag":
        lines.append(f"  rewrite:     the tag {printable(f.message.ref or '')} (its message)")
    else:
        lines.append(
            "  rewrite:     no commit (only in unreachable objects: a fresh clone drops them)"
        )
    return lines


def render_plan(plan: Plan, *, report: str, expressions: str, into: str) -> str:
    out = [f"keysweep remediate: {len(plan.targets)} finding(s) in {plan.repo}", ""]
    for i, target in enumerate(plan.targets, 1):
        out += [*_target_lines(i, target), ""]
    n = len(plan.secrets)
    remote = plan.remote_url
    if not n:
        out.append("no value could be re-read from the repository: nothing to rewrite.")
        return "\n".join(out) + "\n"
    out += [
        "steps, in this order:",
        "  1. Deactivate or rotate every key first: rewriting history does not un-leak a key",
        "     (anyone may already have a copy). AWS keys: dry run, then apply:",
        f"       keysweep deactivate {_q(report)} --aws-profile PROFILE [--apply]",
        "     other tokens: revoke them where they were issued.",
        f"  2. {n} value(s) to replace are in {expressions} (mode 0600).",
        "     THAT FILE HOLDS THE PLAIN SECRETS: keep it private and delete it when done (step 7).",
        "  3. Rewrite a fresh mirror clone, never your working repository:",
        f"       git clone --mirror --no-local {_q(plan.repo)} {_q(into)}",
        f"       git -C {_q(into)} filter-repo {' '.join(map(_q, filter_repo_args(expressions)))}",
        f"     or let keysweep do both and check the result: keysweep remediate {_q(report)} "
        f"--apply --into {_q(into)}",
        f"  4. Check: keysweep history {_q(into)} --include-unreachable (none of these values)",
        "  5. Force-push every rewritten ref"
        + (
            f" ({len(plan.rewritten_refs)}: {', '.join(plan.rewritten_refs)})"
            if plan.rewritten_refs
            else ""
        )
        + ":",
        f"       {push_command(into, remote, plan.rewritten_refs)}",
        "     then have every collaborator re-clone (a pull would merge the old history back).",
        "  6. What cannot be rewritten from here:",
        *OUT_OF_REACH,
        f"  7. Delete the expressions file: shred -u {_q(expressions)}",
    ]
    if plan.problems:
        out += ["", f"{len(plan.problems)} finding(s) cannot be removed by this plan (see above)."]
    if plan.behind:
        out += ["", *_behind_lines(plan.behind)]
    return "\n".join(out) + "\n"


def render_applied(plan: Plan, result: ApplyResult, *, expressions: str) -> str:
    out = [
        f"rewrote {len(result.rewritten_refs)} ref(s) in {result.into}; "
        f"history scan of {result.blobs_scanned} blob(s):",
    ]
    if result.remaining:
        out.append(f"  STILL PRESENT: {', '.join(result.remaining)}")
    else:
        out.append(f"  none of the {len(plan.secrets)} remediated value(s) remain")
    out += [
        "",
        "push the rewritten refs (after deactivating the keys), then have collaborators re-clone:",
        f"  {push_command(result.into, plan.remote_url, result.rewritten_refs)}",
        "then delete the expressions file (it holds the plain secrets):",
        f"  shred -u {_q(expressions)}",
    ]
    return "\n".join(out) + "\n"
