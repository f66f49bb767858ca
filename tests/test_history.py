"""``keysweep history`` on real repositories built here: attribution, refs, exposure, edge cases."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from support.keys import env_text, key_id
from support.repo import Repo
from support.run import keysweep
from support.spy import count_calls

from scanner import scanning
from scanner.detect import Detector
from scanner.rules import load_rules
from scanner.sources import blobscan, gitproc
from scanner.sources.history import HistoryScan

JSON = ("--format", "json", "--show-secrets")


def history(target: Path | str, *args: str, **kwargs: Any) -> Any:
    return keysweep("history", str(target), *JSON, *args, **kwargs)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def test_added_then_removed(repo: Repo) -> None:
    repo.commit({"README.md": "hello\n"}, "start")
    added = repo.commit({"deploy/.env": env_text("removed")}, "add deploy settings")
    repo.commit({"deploy/.env": env_text("removed") + "REGION=eu-west-1\n"}, "add region")
    removed = repo.commit({"deploy/.env": None}, "remove secrets")
    repo.commit({"README.md": "hello again\n"}, "later work")

    run = history(repo.path)
    assert run.code == 1, run.stderr
    finding = run.one(key_id("removed"))
    assert finding["path"] == "deploy/.env"
    assert finding["line"] == 1
    assert finding["commit"] == {
        "sha": added,
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.com",
        "date": "2023-11-14T22:15:20+00:00",
        "subject": "add deploy settings",
    }
    assert finding["in_head"] is False
    assert finding["history"]["removed_in"]["sha"] == removed
    assert finding["history"]["removed_in"]["subject"] == "remove secrets"
    # The file held the key in two commits (added, then edited): one finding, two commits.
    assert finding["history"]["commit_count"] == 2
    assert finding["history"]["refs"] == ["refs/heads/main"]
    assert finding["history"]["unreachable"] is False
    assert run.report["scan"]["mode"] == "history"


def test_one_finding_per_path_not_per_commit(repo: Repo) -> None:
    text = env_text("still-here")
    first = repo.commit({"a.env": text}, "add a")
    for i in range(4):
        repo.commit({"a.env": text + f"N={i}\n"}, f"edit {i}")
    repo.commit({"copy/b.env": text}, "copy to b")

    run = history(repo.path)
    found = run.findings_for(key_id("still-here"))
    assert sorted(f["path"] for f in found) == ["a.env", "copy/b.env"]
    by_path = {f["path"]: f for f in found}
    assert by_path["a.env"]["commit"]["sha"] == first
    assert by_path["a.env"]["history"]["commit_count"] == 6
    assert by_path["a.env"]["in_head"] is True
    assert by_path["a.env"]["history"]["removed_in"] is None
    assert by_path["copy/b.env"]["commit"]["subject"] == "copy to b"
    assert by_path["copy/b.env"]["history"]["commit_count"] == 1
    # The same blob at two paths is read once.
    objects = repo.git("cat-file", "--batch-all-objects", "--batch-check").splitlines()
    assert run.report["scan"]["files_scanned"] == sum(" blob " in o for o in objects) == 5


def test_branches_tags_and_merge_conflict_resolution(repo: Repo) -> None:
    repo.commit({"app.cfg": "mode=base\n"}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    feature = repo.commit({"app.cfg": "mode=feature\n", "f.env": env_text("feature")}, "feature")
    repo.git("checkout", "-q", "main")
    repo.commit({"app.cfg": "mode=main\n"}, "main change")
    repo.tick += 1
    repo.git("merge", "-q", "--no-edit", "feature", check=False)  # conflicts in app.cfg
    resolved = "mode=merged\n" + env_text("resolution")
    repo.write({"app.cfg": resolved})
    repo.git("add", "app.cfg")
    merge = repo.commit_staged("Merge branch 'feature'")
    # A tag on a commit no branch reaches.
    repo.git("checkout", "-q", "-b", "release", "feature")
    tagged = repo.commit({"r.env": env_text("tag-only")}, "release candidate")
    repo.git("tag", "-a", "v1.0", "-m", "v1.0")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "release")

    run = history(repo.path)
    assert run.code == 1, run.stderr

    conflict = run.one(key_id("resolution"))
    assert conflict["path"] == "app.cfg"
    assert conflict["line"] == 2
    assert conflict["commit"]["sha"] == merge
    assert conflict["in_head"] is True
    assert conflict["history"]["refs"] == ["refs/heads/main"]

    side = run.one(key_id("feature"))
    assert side["commit"]["sha"] == feature
    assert side["history"]["refs"] == ["refs/heads/feature", "refs/heads/main", "refs/tags/v1.0"]
    # In the feature commit and in the merge (its tree has f.env too).
    assert side["history"]["commit_count"] == 3  # feature, merge, release candidate

    tag_only = run.one(key_id("tag-only"))
    assert tag_only["commit"]["sha"] == tagged
    assert tag_only["history"]["refs"] == ["refs/tags/v1.0"]
    assert tag_only["in_head"] is False
    assert tag_only["history"]["removed_in"] is None  # never on the default branch


def test_deleted_and_renamed_files(repo: Repo) -> None:
    repo.commit({"old/name.env": env_text("renamed"), "gone.env": env_text("deleted")}, "add")
    deleted = repo.commit({"gone.env": None}, "delete gone.env")
    repo.git("mv", "old/name.env", "new/name.env", check=False)
    (repo.path / "new").mkdir(exist_ok=True)
    repo.git("mv", "old/name.env", "new/name.env")
    renamed = repo.commit_staged("rename")

    run = history(repo.path)
    gone = run.one(key_id("deleted"))
    assert gone["path"] == "gone.env"
    assert gone["in_head"] is False
    assert gone["history"]["removed_in"]["sha"] == deleted

    moved = {f["path"]: f for f in run.findings_for(key_id("renamed"))}
    assert set(moved) == {"old/name.env", "new/name.env"}
    assert moved["old/name.env"]["in_head"] is False
    assert moved["old/name.env"]["history"]["removed_in"]["sha"] == renamed
    assert moved["new/name.env"]["in_head"] is True
    assert moved["new/name.env"]["commit"]["sha"] == renamed


def test_bare_clone_and_url_clone(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = repo.commit({"x.env": env_text("bare")}, "add")
    bare = tmp_path / "bare.git"
    Repo(tmp_path, init=False).git("clone", "-q", "--bare", str(repo.path), str(bare))

    run = history(bare)
    assert run.code == 1, run.stderr
    finding = run.one(key_id("bare"))
    assert finding["commit"]["sha"] == added
    assert finding["in_head"] is True

    mirrors = watch_mirrors(tmp_path, monkeypatch)
    url = f"file://{bare}"
    run = history(url)
    assert run.code == 1, run.stderr
    assert run.one(key_id("bare"))["commit"]["sha"] == added
    assert run.report["scan"]["target"] == url
    assert len(mirrors) == 1 and mirrors[0].is_relative_to(tmp_path / "tmp")
    assert not mirrors[0].exists(), "the temporary mirror must be removed"
    assert list((tmp_path / "tmp").iterdir()) == []


def watch_mirrors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Temporary files go to tmp_path/tmp; returns the list of mirrors cloned (real clones)."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    mirrors: list[Path] = []
    real_clone = gitproc.clone_mirror

    def clone_and_record(url: str, dest: str) -> None:
        real_clone(url, dest)
        mirrors.append(Path(dest))

    monkeypatch.setattr("scanner.sources.history.clone_mirror", clone_and_record)
    return mirrors


def git_children() -> list[str]:
    """git processes whose parent is this test process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and name.startswith("git"):
            found.append(stat.parent.name)
    return found


def test_ctrl_c_exits_130_and_cleans_up(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(6):
        repo.commit({f"f{i}.txt": f"content {i}\n" * 100}, f"commit {i}")
    mirrors = watch_mirrors(tmp_path, monkeypatch)
    real_build = scanning.build_detector
    seen: list[int] = []

    class InterruptedDetector:
        """The real detector, with Ctrl-C pressed while the third blob is being scanned."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def wants(self, raw: bytes, path: str | None = None) -> bool:
            return bool(self.inner.wants(raw, path))

        def scan(self, fragment: Any) -> Any:
            seen.append(len(fragment.raw))
            if len(seen) == 3:
                assert git_children(), "git must still be streaming blobs here"
                raise KeyboardInterrupt
            return self.inner.scan(fragment)

        @property
        def prefilter_backend(self) -> str:
            return str(self.inner.prefilter_backend)

    monkeypatch.setattr(
        "scanner.scanning.build_detector",
        lambda *a, **k: InterruptedDetector(real_build(*a, **k)),
    )
    run = keysweep("history", f"file://{repo.path}")
    assert run.code == 130
    assert run.stdout == ""
    assert run.stderr.strip() == "keysweep: interrupted"
    assert len(seen) == 3
    assert git_children() == [], "every git child process must be ended and reaped"
    assert mirrors and not mirrors[0].exists(), "the temporary mirror must be removed"


def test_shallow_clone_says_history_is_truncated(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"old.env": env_text("before-boundary")}, "old")
    repo.commit({"old.env": None}, "remove old")
    repo.commit({"new.env": env_text("after-boundary")}, "new")
    shallow = tmp_path / "shallow"
    Repo(tmp_path, init=False).git(
        "clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow)
    )

    run = history(shallow)
    assert run.code == 1, run.stderr
    assert run.one(key_id("after-boundary"))["in_head"] is True
    assert run.findings_for(key_id("before-boundary")) == []
    assert any("shallow" in note and "truncated" in note for note in run.report["scan"]["notes"])


def test_partial_clone_missing_blobs_are_counted_not_fetched(repo: Repo, tmp_path: Path) -> None:
    repo.git("config", "uploadpack.allowFilter", "true")
    repo.commit({"big.txt": "x" * 5000 + "\n" + env_text("in-big-blob")}, "big")
    repo.commit({"small.env": env_text("in-small-blob")}, "small")
    clone = tmp_path / "partial"
    Repo(tmp_path, init=False).git(
        "clone", "-q", "--bare", "--filter=blob:limit=1k", f"file://{repo.path}", str(clone)
    )
    objects_before = sorted(p.name for p in (clone / "objects" / "pack").iterdir())

    run = history(clone)
    assert run.code == 1, run.stderr
    assert run.one(key_id("in-small-blob"))["in_head"] is True
    assert run.findings_for(key_id("in-big-blob")) == []
    assert run.report["scan"]["skipped"]["missing_blob"] == 1
    assert any("partial clone" in note for note in run.report["scan"]["notes"])
    assert sorted(p.name for p in (clone / "objects" / "pack").iterdir()) == objects_before


def test_empty_repository_is_clean(repo: Repo) -> None:
    run = history(repo.path)
    assert run.code == 0, run.stderr
    assert run.report["findings"] == []
    assert "the repository has no commits" in run.report["scan"]["notes"]


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    run = keysweep("history", str(plain), env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert run.code == 2
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [f"keysweep: error: {plain}: not a git repository"]


def test_since_scans_only_what_later_commits_introduced(repo: Repo) -> None:
    repo.commit({"a.env": env_text("old")}, "old key")
    base = repo.commit({"notes.txt": "x\n"}, "base")
    # Editing the file that already holds the old key must not report the old key.
    repo.commit({"a.env": env_text("old") + "REGION=eu-west-1\n"}, "edit a.env")
    new = repo.commit({"b.env": env_text("new")}, "new key")

    for since in (base, f"{base}..HEAD", f"{base}..main"):
        run = history(repo.path, "--since", since)
        assert run.code == 1, run.stderr
        assert run.findings_for(key_id("old")) == [], since
        finding = run.one(key_id("new"))
        assert finding["commit"]["sha"] == new
        assert finding["in_head"] is True

    run = history(repo.path, "--since", new)
    assert run.code == 0, run.stderr
    assert run.report["findings"] == []

    # A new branch in CI: GitHub sends an all-zero "before"; everything on HEAD is scanned.
    run = history(repo.path, "--since", "0" * 40)
    assert {f["secret"] for f in run.report["findings"]} >= {key_id("old"), key_id("new")}

    run = keysweep("history", str(repo.path), "--since", "no-such-ref")
    assert run.code == 2
    assert "no-such-ref" in run.stderr


def test_stash_and_unreachable_blobs(repo: Repo) -> None:
    repo.commit({"app.env": "A=1\n"}, "start")
    repo.write({"app.env": "A=1\n" + env_text("stashed")})
    repo.git("stash", "-q")
    repo.commit({"dangling.env": env_text("dangling")}, "oops")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.git("reflog", "expire", "--expire=now", "--all")

    run = history(repo.path)
    stashed = run.one(key_id("stashed"))
    assert stashed["history"]["refs"] == ["refs/stash"]
    assert run.findings_for(key_id("dangling")) == []
    assert any("--include-unreachable" in note for note in run.report["scan"]["notes"])

    run = history(repo.path, "--include-unreachable")
    dangling = run.one(key_id("dangling"))
    assert dangling["history"]["unreachable"] is True
    assert dangling["commit"] is None
    assert dangling["blob_id"] in dangling["path"]


def test_nothing_is_written_to_the_scanned_repository(repo: Repo) -> None:
    repo.commit({"a.env": env_text("untouched")}, "add")
    git_dir = repo.path / ".git"

    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in [*git_dir.rglob("*"), *repo.path.glob("*")]
        }

    before = snapshot()
    assert history(repo.path).code == 1
    assert history(repo.path, "--since", "HEAD~0").code == 0
    assert snapshot() == before


def test_worktree(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"a.txt": "a\n"}, "start")
    repo.git("branch", "wt")
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", str(worktree), "wt")
    wt = Repo(worktree, init=False)
    wt.tick = 5
    added = wt.commit({"w.env": env_text("worktree")}, "in worktree")

    run = history(worktree)
    finding = run.one(key_id("worktree"))
    assert finding["commit"]["sha"] == added
    assert finding["history"]["refs"] == ["refs/heads/wt"]
    # The default branch of the repository is what HEAD of the worktree names.
    assert finding["in_head"] is True


@pytest.mark.skipif(shutil.which("git") is None, reason="git is required")
def test_oversized_blobs_are_skipped_and_counted(repo: Repo) -> None:
    repo.commit({"huge.env": env_text("huge") + "#" * 4096 + "\n"}, "huge")
    run = history(repo.path, "--max-file-size", "1K")
    assert run.code == 0, run.stderr
    assert run.report["scan"]["skipped"]["too_large"] == 1
    assert os.environ.get("GIT_DIR") is None


def test_parallel_workers_find_the_same(repo: Repo) -> None:
    """Large histories are scanned by one worker process per core: same findings as serial."""
    for i in range(8):
        repo.commit({f"svc{i}/.env": env_text(f"worker-{i}"), "filler.txt": "x\n" * i}, f"c{i}")
    repo.commit({"svc3/.env": None}, "remove svc3")
    serial = history(repo.path, "--jobs", "1")
    parallel = history(repo.path, "--jobs", "2")
    assert serial.code == parallel.code == 1

    def key(f: dict[str, Any]) -> tuple[Any, ...]:
        return (f["rule_id"], f["secret"], f["path"], f["line"], f["commit"]["sha"], f["in_head"])

    assert sorted(map(key, parallel.report["findings"])) == sorted(
        map(key, serial.report["findings"])
    )
    # each worker reads its own shares of the blobs: every blob still read and counted once
    for field in ("files_scanned", "bytes_scanned", "errors"):
        assert parallel.report["scan"][field] == serial.report["scan"][field]
    assert len(parallel.findings_for(key_id("worker-5"))) == 1


def test_without_hyperscan_workers_read_lean_and_find_the_same(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without Hyperscan the workers trade git's speed for memory (a smaller delta cache,
    large blocks mapped on their own): the findings are those of the Hyperscan run."""
    from scanner.sources import catfile

    for i in range(8):
        repo.commit({f"svc{i}/.env": env_text(f"lean-{i}"), "filler.txt": "x\n" * i}, f"c{i}")
    fast = history(repo.path, "--jobs", "2")
    seen = tmp_path / "limits"  # the readers are made in the forked workers
    reader_init = catfile.BlobReader.__init__

    def spy(self: Any, git: Any, feed: bytes, *, lean: bool = False) -> None:
        reader_init(self, git, feed, lean=lean)
        with seen.open("a") as out:
            out.write(" ".join(self._limits) + "\n")

    real_build = scanning.build_detector
    monkeypatch.setattr(catfile.BlobReader, "__init__", spy)
    monkeypatch.setattr(
        "scanner.scanning.build_detector",
        lambda *a, **k: real_build(*a, **{**k, "use_hyperscan": False}),
    )
    lean = history(repo.path, "--jobs", "2")
    assert fast.code == lean.code == 1
    assert sorted(map(str, lean.report["findings"])) == sorted(map(str, fast.report["findings"]))
    assert set(seen.read_text().splitlines()) == {" ".join(gitproc.LEAN_READER_MEMORY_LIMITS)}


@pytest.mark.parametrize("kept", ["a third", "ten bytes"])
def test_a_corrupt_blob_is_reported_and_the_rest_still_scanned(repo: Repo, kept: str) -> None:
    """Named once: an object whose header no longer reads was also called missing."""
    rng = random.Random(5)
    filler = "".join(rng.choice("abcdefghij \n") for _ in range(200_000))
    repo.commit({"a.env": env_text("before"), "big.txt": filler, "z.env": env_text("after")}, "x")
    blob = repo.git("rev-parse", "HEAD:big.txt")
    loose = repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    data = loose.read_bytes()
    # a third: the header still reads, the content does not; ten bytes: neither reads
    loose.write_bytes(data[: len(data) // 3] if kept == "a third" else data[:10])

    run = history(repo.path)
    assert run.code == 2, run.stderr  # findings, but something could not be read
    assert {f["secret"] for f in run.report["findings"]} >= {key_id("before"), key_id("after")}
    (error,) = run.report["scan"]["errors"]
    assert blob in error
    assert blob in run.stderr


def test_path_scoped_rules_see_each_blobs_real_paths(repo: Repo) -> None:
    # env-plain-password applies to .env-style files only. A blob seen at one path is scanned
    # under that path; a blob at two paths is found only where the rule applies.
    only_env = "DB_PASSWORD=" + "Qx7v" + "plumtree41\n"
    only_docs = "DB_PASSWORD=" + "Wz3k" + "orchard58\n"
    both = "DB_PASSWORD=" + "Rt9m" + "meadow77\n"
    repo.commit({"svc/.env": only_env, "docs/setup.txt": only_docs}, "add settings")
    repo.git("checkout", "-q", "-b", "copy")
    repo.commit({"notes.txt": both}, "notes")
    repo.git("checkout", "-q", "main")
    repo.commit({"deploy/.env": both}, "deploy settings")

    run = history(repo.path, "--min-confidence", "low")
    found = {(f["secret"], f["path"]) for f in run.findings}
    assert (only_env.split("=")[1].strip(), "svc/.env") in found
    assert (both.split("=")[1].strip(), "deploy/.env") in found
    assert not any(path in ("docs/setup.txt", "notes.txt") for _, path in found), found
    assert {path for _, path in found} == {"svc/.env", "deploy/.env"}
    by_path = {f["path"]: f for f in run.findings}
    assert by_path["deploy/.env"]["history"]["refs"] == ["refs/heads/main"]
    assert by_path["svc/.env"]["history"]["refs"] == ["refs/heads/copy", "refs/heads/main"]


def test_the_ordered_walk_runs_once_and_is_replayed(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.detect import Detector
    from scanner.rules import load_rules
    from scanner.sources import commitlog
    from scanner.sources.history import repo_facts

    repo.commit({"app.cfg": "mode=base\n", "a.env": env_text("kept-a")}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"app.cfg": "mode=feature\n", "f.env": env_text("kept-f")}, "feature")
    repo.git("checkout", "-q", "main")
    repo.commit({"a.env": "gone\n"}, "main change")
    repo.tick += 1
    repo.git("merge", "-q", "--no-edit", "feature")

    git = gitproc.Git(str(repo.path))
    starts = sorted(set(repo_facts(git).tips.values()))
    with tempfile.TemporaryFile() as file:
        kept = commitlog.Kept(file)
        paths = commitlog.blob_paths(git, starts, use_stdin=True, keep=kept)
        assert kept.complete
        assert paths == commitlog.blob_paths(git, starts, use_stdin=True)  # kept or not
        assert {blob for blob, path in paths.items() if path == "a.env"} == {
            repo.git("rev-parse", "HEAD~2:a.env").strip(),
            repo.git("rev-parse", "HEAD~1:a.env").strip(),
        }
        assert list(kept.replay()) == list(commitlog.walk(git, starts, use_stdin=True))
        # tracking a.env's first blob: its change, the later change at its path, nothing else
        first = repo.git("rev-parse", "HEAD~2:a.env").strip()
        tracked = [(c.path, c.new) for commit in kept.replay([first]) for c in commit.changes]
        assert tracked == [("a.env", first), ("a.env", repo.git("rev-parse", "HEAD~1:a.env"))]
        assert len(list(kept.replay([first]))) == len(list(kept.replay()))  # every commit

    walks = count_calls(monkeypatch, commitlog, "walk")
    detector = Detector(load_rules())
    replayed = HistoryScan(str(repo.path)).run(detector)
    assert walks == [] and len(replayed.findings) == 4  # a key ID and a secret per file
    monkeypatch.setattr(commitlog, "MAX_KEPT_BYTES", 100)  # too long to keep: walked again
    walked = HistoryScan(str(repo.path)).run(detector)
    assert walks == [1]
    assert walked.findings == replayed.findings


def test_git_output_crosses_a_wide_pipe(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    from scanner.sources import catfile, commitlog

    getsize = getattr(fcntl, "F_GETPIPE_SZ", None)
    if getsize is None or int(Path("/proc/sys/fs/pipe-max-size").read_text()) < gitproc.PIPE_BYTES:
        pytest.skip("the kernel does not allow a 1 MiB pipe here")
    sizes: list[int] = []
    widen = gitproc.widen_pipe

    def seen(pipe: Any) -> None:
        widen(pipe)
        sizes.append(fcntl.fcntl(pipe.fileno(), getsize))

    monkeypatch.setattr(gitproc, "widen_pipe", seen)
    repo.commit({"a.txt": "hello\n"}, "one")
    git = gitproc.Git(str(repo.path))
    listing = catfile.list_all_blobs(git, max_size=None)
    assert [data for _, data in catfile.BlobReader(git, listing.feed)] == [b"hello\n"]
    paths = commitlog.blob_paths(git, ["HEAD"], use_stdin=False)
    assert list(paths.values()) == ["a.txt"]
    assert sizes == [gitproc.PIPE_BYTES] * 3  # the listing, the reader, the walk


def test_workers_share_the_listing_by_bytes(repo: Repo) -> None:
    from scanner.sources import catfile

    rng = random.Random(4)
    files = {f"f{i}.txt": "x" * rng.choice([10, 100, 5000, 40000]) + f"{i}\n" for i in range(60)}
    repo.commit(files, "many sizes")
    git = gitproc.Git(str(repo.path))
    listing = catfile.list_all_blobs(git, max_size=None)
    sizes = {oid: len(data) for oid, data in catfile.BlobReader(git, listing.feed)}
    assert list(listing.sizes) == [sizes[line.decode()] for line in listing.feed.split()]
    shares = blobscan._shares(listing.feed, 8, listing.sizes)
    assert b"".join(shares) == listing.feed  # contiguous, each blob once, in order
    assert len(shares) == 8
    # the k-th share ends with the blob whose bytes take the total past k/8 of all of them
    total, largest, filled = sum(listing.sizes), max(listing.sizes), 0
    for k, share in enumerate(shares[:-1], start=1):
        filled += sum(sizes[line.decode()] for line in share.split())
        assert k * total / 8 <= filled < k * total / 8 + largest
    # without sizes (a --since range): equal blob counts
    counted = blobscan._shares(listing.feed, 8, ())
    assert b"".join(counted) == listing.feed
    assert len({len(share) for share in counted[:-1]}) == 1


def test_a_key_id_twice_in_one_blob_keeps_the_pairs_of_both(repo: Repo) -> None:
    """A Lambda environment dump names the key ID twice (AWS_ACCESS_KEY, AWS_ACCESS_KEY_ID)
    and the secret a dozen lines below: the block gives the secret to the nearer occurrence.
    History reports the secret once, at its first place, which had no pair, so --verify
    could not check it (localstack's recorded snapshots)."""
    from support.keys import secret_key, session_token

    from scanner.detect import Detector
    from scanner.rules import load_rules

    key, secret, token = key_id(41, "ASIA"), secret_key(41), session_token(41)
    other = "".join(f'    "AWS_SETTING_{i}": "value-{i}",\n' for i in range(10))
    dump = (
        '{\n  "environment": {\n'
        f'    "AWS_ACCESS_KEY": "{key}",\n'
        f'    "AWS_ACCESS_KEY_ID": "{key}",\n'
        f"{other}"
        f'    "AWS_SECRET_ACCESS_KEY": "{secret}",\n'
        f'    "AWS_SESSION_TOKEN": "{token}"\n'
        "  }\n}\n"
    )
    repo.commit({"snapshot.json": dump}, "record a snapshot")
    found = HistoryScan(str(repo.path)).run(Detector(load_rules())).findings
    (key_finding,) = [f for f in found if f.secret == key]
    assert key_finding.line == 3  # its first place
    assert {(p.kind, p.secret) for p in key_finding.paired} == {
        ("secret_access_key", secret),
        ("session_token", token),
    }


def test_a_blob_at_several_paths_is_scanned_at_each_while_it_is_read(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the worker that reads it scans it again under each of its paths, so attribution
    # reads and scans nothing more (a .pgpass line is a secret only in a .pgpass file)
    from scanner.sources import catfile, commitlog, history

    line = "db.internal:5432:app:admin:Wq8rT2vLx9Kp4Zm7\n"
    text = env_text("several") + line
    repo.commit({"deploy/.pgpass": text, "backup/pgpass.txt": text, "a.txt": "x\n"}, "copies")
    git = gitproc.Git(str(repo.path))
    paths = commitlog.blob_paths(git, ["HEAD"], use_stdin=False)
    (blob,) = paths.several
    assert paths[blob] == "" and sorted(paths.several[blob]) == [
        "backup/pgpass.txt",
        "deploy/.pgpass",
    ]
    detector = Detector(load_rules())
    listing = catfile.list_all_blobs(git, max_size=None)
    found = blobscan.scan_feed(
        git,
        listing.feed,
        detector,
        max_size=None,
        progress=None,
        paths=paths,
        several=paths.several,
    )
    assert set(found.at_paths) == {(blob, "backup/pgpass.txt"), (blob, "deploy/.pgpass")}
    rules = {
        p: {f.rule_id for f in found.at_paths[(blob, p)].unpack()} for p in paths.several[blob]
    }
    assert "pgpass-password" in rules["deploy/.pgpass"]
    assert "pgpass-password" not in rules["backup/pgpass.txt"]
    # a history run reads no blob again after the blob scan
    reads = count_calls(monkeypatch, history, "read_blobs")
    result = history.HistoryScan(str(repo.path), workers=1).run(detector)
    assert {(f.path, f.rule_id) for f in result.findings} >= {
        ("deploy/.pgpass", "pgpass-password"),
        ("backup/pgpass.txt", "aws-access-key-id"),
    }
    assert "pgpass-password" not in {f.rule_id for f in result.findings if f.path.startswith("b")}
    assert reads == []


def test_blob_paths_read_off_the_raw_entries_are_those_of_the_parsed_walk(repo: Repo) -> None:
    # blob_paths reads only the raw entries of the walk (one regex per chunk); the paths are
    # those the full parse of the same walk gives, whatever the names hold
    from scanner.sources import commitlog
    from scanner.sources.history import repo_facts

    odd = ["a:b.txt", "spa ce.txt", "line\nbreak.txt", "caf\u00e9.txt", "d/:100644 x.txt"]
    repo.commit({name: f"{name}\n" for name in odd}, "odd names")
    repo.commit({"copy/one.txt": "same\n", "copy/two.txt": "same\n", "a:b.txt": None}, "copies")
    repo.git("mv", "spa ce.txt", "moved.txt")
    repo.commit_staged("rename")
    blob = repo.git("rev-parse", "HEAD:copy/one.txt").strip()
    commit = repo.git("rev-parse", "HEAD").strip()
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{commit},sub")
    repo.commit_staged("a submodule")
    repo.git("update-index", "--add", "--cacheinfo", f"100644,{blob},sub2/x.txt")
    repo.commit_staged("one more")
    git = gitproc.Git(str(repo.path))
    starts = sorted(set(repo_facts(git).tips.values()))
    expected: dict[str, set[str]] = {}
    for parsed in commitlog.walk(git, starts, use_stdin=True):
        for change in parsed.changes:
            if change.new_mode != commitlog.GITLINK_MODE and set(change.new) != {"0"}:
                expected.setdefault(change.new, set()).add(change.path)
    paths = commitlog.blob_paths(git, starts, use_stdin=True)
    assert {oid: {p} if p else set(paths.several[oid]) for oid, p in paths.items()} == expected
    assert set(paths.several) == {oid for oid, held in expected.items() if len(held) > 1}
    assert "line\nbreak.txt" in paths.values() and "caf\u00e9.txt" in paths.values()


def test_raw_entries_cut_anywhere_between_two_reads_are_found_once_each(repo: Repo) -> None:
    # git's output reaches the parser in pieces of any length: an entry cut between two
    # reads is found once, whole, and in order, as in one read of the whole output
    import io

    from scanner.sources import commitlog
    from scanner.sources.history import repo_facts

    names = ["a:b.txt", "d/:100644 100644 x.txt", "caf\u00e9.txt", "plain.txt"]
    for round_ in range(3):
        repo.commit({name: f"{name} {round_}\n" for name in names}, f"round {round_}")
    git = gitproc.Git(str(repo.path))
    starts = sorted(set(repo_facts(git).tips.values()))
    with tempfile.TemporaryFile() as file:
        kept = commitlog.Kept(file)
        commitlog.blob_paths(git, starts, use_stdin=True, keep=kept)
        file.seek(0)
        output = file.read()
    assert kept.complete and output
    whole = [e for part in commitlog._raw_entries(io.BytesIO(output).read) for e in part]
    changes = [c for commit in commitlog.walk(git, starts, use_stdin=True) for c in commit.changes]
    assert [(e[1].decode(), e[2].decode()) for e in whole] == [(c.new, c.path) for c in changes]
    for size in (1, 5, 29, 97, 160):
        stream = io.BytesIO(output)
        pieces = commitlog._raw_entries(lambda n, s=stream, k=size: s.read(min(n, k)))
        assert [e for part in pieces for e in part] == whole, size


def test_when_idle_is_called_once_when_a_worker_finds_no_share_left(repo: Repo) -> None:
    # (history starts its message scan then, on the core that worker leaves idle)
    from scanner.sources import catfile

    repo.commit({f"f{i}.txt": f"{i}\n" * (200 + i) for i in range(40)}, "files")
    git = gitproc.Git(str(repo.path))
    listing = catfile.list_all_blobs(git, max_size=None)
    calls: list[int] = []
    found = blobscan.scan_feed(
        git,
        listing.feed,
        Detector(load_rules()),
        max_size=None,
        progress=None,
        workers=2,
        sizes=listing.sizes,
        when_idle=lambda: calls.append(1),
    )
    assert found.blobs == listing.count == 40
    assert calls == [1]


def test_a_blob_scan_sends_each_blobs_findings_as_it_finds_them(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a worker holds one blob's findings at a time, not its share's: each blob with findings
    # is a part of its own, the counts come in parts of their own, and the parts add up to
    # what one process finds
    from scanner.sources import catfile

    monkeypatch.setattr(blobscan, "PART_BLOBS", 4)
    files = {f"f{i}.txt": f"{i}\n" * (200 + i) for i in range(20)}
    files.update({f"leak{i}.env": env_text(f"part-{i}") for i in range(3)})
    repo.commit(files, "files")
    git = gitproc.Git(str(repo.path))
    listing = catfile.list_all_blobs(git, max_size=None)
    detector = Detector(load_rules())
    reader = catfile.BlobReader(git, listing.feed)
    parts = list(blobscan.scan_parts(iter(reader), detector, max_size=None))
    with_hits = [part for part in parts if part.hits]
    assert len(with_hits) == 3
    assert all(len(part.hits) == 1 and not part.blobs for part in with_hits)
    counts = [part.blobs for part in parts if not part.hits]
    assert sum(counts) == 23 and max(counts) == 4
    whole = blobscan.scan_feed(git, listing.feed, detector, max_size=None, progress=None)
    assert set(whole.hits) == {oid for part in with_hits for oid in part.hits}
    shared = blobscan.scan_feed(
        git, listing.feed, detector, max_size=None, progress=None, workers=2
    )
    assert list(shared.hits) == list(whole.hits)
    assert all(shared.hits[oid].unpack() == found.unpack() for oid, found in whole.hits.items())
    # held pickled until attribution reads them: a fifth of their size as objects
    assert all(isinstance(found, blobscan.Packed) for found in whole.hits.values())
    assert (shared.blobs, shared.nbytes) == (whole.blobs, whole.nbytes) == (23, listing.total_bytes)


def test_secrets_of_one_rule_on_one_line_are_reported_in_the_order_they_stand(
    repo: Repo,
) -> None:
    # findings are ordered by path, line and rule; those that tie (several key IDs on one
    # line) stay in the order they stand on the line, however attribution collects them
    ids = [key_id(f"tie-{i}") for i in range(6)]
    repo.commit({"ids.txt": "allowed = [" + ", ".join(f'"{k}"' for k in ids) + "]\n"}, "ids")
    repo.commit({"ids.txt": "allowed = []\n", "b.txt": " ".join(reversed(ids)) + "\n"}, "swap")
    found = HistoryScan(str(repo.path), workers=1).run(Detector(load_rules())).findings
    for path, order in (("ids.txt", ids), ("b.txt", ids[::-1])):
        here = [f for f in found if f.path == path and f.rule_id == "aws-access-key-id"]
        assert [f.secret for f in here] == order
        assert [f.column for f in here] == sorted(f.column for f in here)


def test_a_file_of_many_secrets_shares_its_refs_and_keeps_one_copy(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one tuple of refs for every finding with the same refs (it was a tuple each, and the
    # refs were listed again for each finding), and the blob scan's own findings released
    # once located, before their copies are made: with a file of thousands of secrets those
    # copies were most of memory
    from scanner.sources import history

    dump = "".join(env_text(f"many-{i}") + "\n" for i in range(60))
    repo.commit({"dump.env": dump}, "add a dump")
    repo.git("branch", "keep")
    repo.commit({"dump.env": dump + "TAIL=1\n"}, "edit the dump")
    held: list[int] = []
    real_expect, real_keep = history._PathScanner.expect, history._PathScanner.keep_only

    def expect(self: history._PathScanner, uses: Counter[tuple[str, str]]) -> None:
        held.append(len(self.hits))
        real_expect(self, uses)

    def keep_only(self: history._PathScanner, blobs: Iterable[str]) -> None:
        held.append(len(self.hits) + len(self.cache))
        real_keep(self, blobs)

    monkeypatch.setattr(history._PathScanner, "expect", expect)
    monkeypatch.setattr(history._PathScanner, "keep_only", keep_only)
    found = HistoryScan(str(repo.path), workers=1).run(Detector(load_rules())).findings
    assert len({f.secret for f in found if f.identifier}) == 60
    # the two versions of the dump, let go as attribution reads them, before the copies
    assert held == [2, 0]
    refs = {f.history.refs for f in found if f.history is not None}
    assert len(refs) == 1 and len(next(iter(refs))) == 2  # main and keep
    assert len({id(f.history.refs) for f in found if f.history is not None}) == 1
    assert all(f.history is not None and f.history.commit_count == 2 for f in found)
