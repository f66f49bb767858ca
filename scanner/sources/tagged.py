"""Blobs that a ref reaches without any commit: a tag (or any ref) pointing straight at a blob
or a tree, as ``git tag key-backup <blob>`` or ``git tag snapshot <tree>`` make.

The commit walk never sees them, yet any clone fetches them with the tags: they are reachable,
not "reachable from no ref". Read once in a full history scan: for the check of missing
blobs, and to place the blobs with findings that no commit holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.sources.gitproc import Git


def tagged_blobs(
    git: Git, named: Iterable[tuple[str, str, str]]
) -> dict[str, list[tuple[str, str]]]:
    """Blob id -> ``(ref, path)`` for every blob a ref leads to without a commit; ``path`` is
    the blob's path inside a tagged tree, or ``""`` for a ref that names the blob itself.
    ``named`` holds ``(type, object id, ref)`` of what each such ref finally names (the refs
    are listed, and tags peeled, once: ``history.repo_facts``)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for kind, oid, ref in named:
        if kind == "blob":
            found.setdefault(oid, []).append((ref, ""))
        elif kind == "tree":
            listing = git.run("ls-tree", "-r", "-z", "--full-tree", oid, check=False).stdout
            for entry in listing.split(b"\0"):
                meta, _, path = entry.partition(b"\t")
                parts = meta.split()
                if len(parts) == 3 and parts[1] == b"blob":
                    blob = parts[2].decode("ascii")
                    found.setdefault(blob, []).append(
                        (ref, path.decode("utf-8", "surrogateescape"))
                    )
    return found


def peel_refs(git: Git, refs: list[str]) -> list[tuple[str, str, str]]:
    """``(type, object id, ref)`` of what each ref finally names: annotated tags (and tags of
    tags) peeled down to the object they name, in one ``cat-file`` process. A ref git
    cannot peel comes back with an empty type."""
    if not refs:
        return []
    peeled = git.run(
        "cat-file",
        "--batch-check=%(objecttype) %(objectname) %(rest)",
        input="".join(f"{ref}^{{}} {ref}\n" for ref in refs).encode("utf-8", "surrogateescape"),
        what=f"{git.label}: cannot read tags",
    ).stdout.decode("utf-8", "surrogateescape")
    out: list[tuple[str, str, str]] = []
    for line in peeled.splitlines():
        kind, oid, ref = [*line.split(" ", 2), "", ""][:3]
        out.append((kind, oid, ref) if ref else ("", "", kind.removesuffix("^{}")))
    return out
