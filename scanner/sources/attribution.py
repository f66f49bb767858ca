"""Which commits, paths and refs hold the blobs that have findings: one pass over the commit graph.

Run only when the blob scan found something, and it only tracks those blobs ("hit" blobs).
Commits arrive parents first, each with its changes against its first parent, so

    at(c) = at(first parent of c) updated by changes(c)        (path -> hit blob)

is exact for every commit; commits that change no tracked path share their parent's mapping.
From it:

- an *introduction* is a change that puts a hit blob at a path (the commit, the path, the blob,
  and the blob it replaced — so a later edit of a file that already held the secret is not taken
  for the commit that introduced it);
- ``commit_count[(path, blob)]`` counts the commits whose tree has ``blob`` at ``path``;
- ``reach[c]`` is a bit set of the (path, blob) pairs introduced by ``c`` or any ancestor, so the
  refs whose history exposes a pair are the refs whose tip has its bit;
- the mappings along the default branch's first-parent chain tell whether a pair is in HEAD and,
  if it is gone, which commit removed it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from scanner.sources.commitlog import GITLINK_MODE, Commit

PathBlob = tuple[str, str]
_EMPTY: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Introduction:
    commit: str
    order: int  # position in the parents-first walk (tie-breaker for equal times)
    time: int
    path: str
    blob: str
    old: str  # the blob at this path in the first parent ("0"*40 when the path was new)


@dataclass
class Attribution:
    introductions: dict[str, list[Introduction]] = field(default_factory=dict)  # by path
    commit_count: Counter[PathBlob] = field(default_factory=Counter)
    # Bit of each tracked (path, blob) pair, and the pairs each ref's history holds as a bit
    # set: ``refs_of`` answers for the few pairs of the final findings. (Listing the refs of
    # every tracked pair up front was refs x pairs work: 17.6 million entries, 18 s and
    # 700 MB on getmoto/moto's 7,305 refs.)
    bit_of: dict[PathBlob, int] = field(default_factory=dict)
    tip_bits: dict[str, int] = field(default_factory=dict)
    # The default branch, newest first: (commit, path -> hit blob at that commit).
    head_chain: list[tuple[str, Mapping[str, str]]] = field(default_factory=list)
    head_known: bool = False
    submodules: bool = False
    commits: int = 0
    _refs_by_mask: dict[int, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def refs_of(self, pairs: Iterable[PathBlob]) -> tuple[str, ...]:
        """The refs whose history holds any of ``pairs``, sorted. One answer per set of pairs'
        bits, shared: a file of thousands of secrets asks the same for each of them (refs x
        findings: 504,736 findings of one repository, every one with its own tuple)."""
        mask = 0
        for pair in pairs:
            bit = self.bit_of.get(pair)
            if bit is not None:
                mask |= 1 << bit
        known = self._refs_by_mask.get(mask)
        if known is None:
            known = tuple(sorted(ref for ref, bits in self.tip_bits.items() if bits & mask))
            self._refs_by_mask[mask] = known
        return known


def attribute(
    commits: Iterable[Commit],
    hit_blobs: set[str] | frozenset[str],
    *,
    head: str | None,
    tips: Mapping[str, str],
) -> Attribution:
    """Walk ``commits`` (parents first) tracking only ``hit_blobs``; ``tips`` is ref -> commit."""
    result = Attribution()
    at: dict[str, dict[str, str]] = {}
    parents_of: dict[str, str] = {}
    reach: dict[str, int] = {}
    bit_of = result.bit_of
    order = 0
    for commit in commits:
        order += 1
        first = commit.parents[0] if commit.parents else None
        mapping = at.get(first, _EMPTY) if first else _EMPTY
        shared = True  # copy-on-write: most commits keep their parent's mapping object
        own = 0
        for change in commit.changes:
            if change.new_mode == GITLINK_MODE:
                result.submodules = True
            if change.new in hit_blobs and change.new_mode != GITLINK_MODE:
                if shared:
                    mapping, shared = dict(mapping), False
                mapping[change.path] = change.new
                key = (change.path, change.new)
                bit = bit_of.setdefault(key, len(bit_of))
                own |= 1 << bit
                result.introductions.setdefault(change.path, []).append(
                    Introduction(
                        commit.sha, order, commit.time, change.path, change.new, change.old
                    )
                )
            elif change.path in mapping:
                if shared:
                    mapping, shared = dict(mapping), False
                del mapping[change.path]
        at[commit.sha] = mapping
        if first:
            parents_of[commit.sha] = first
        bits = own
        for parent in commit.parents:
            bits |= reach.get(parent, 0)
        if bits:
            reach[commit.sha] = bits
        for path, blob in mapping.items():
            result.commit_count[(path, blob)] += 1
    result.commits = order

    for ref, tip in tips.items():
        bits = reach.get(tip, 0)
        if bits:
            result.tip_bits[ref] = bits

    if head is not None and head in at:
        result.head_known = True
        sha: str | None = head
        while sha is not None and sha in at:  # a range walk stops at its boundary
            result.head_chain.append((sha, at[sha]))
            sha = parents_of.get(sha)
    return result
