"""``keysweep history --since``, the CI gate: a blob older than the range that a commit of the
range puts at a path (a copy, a restore) is the push's doing and is scanned; a secret in a file
the range leaves alone is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.keys import env_text, key_id
from support.repo import Repo, blob_path
from support.run import keysweep

JSON = ("--format", "json", "--show-secrets")


def since(repo: Path, base: str) -> Any:
    return keysweep("history", str(repo), *JSON, "--since", base)


def reported_at(run: Any, seed: str, path: str, commit: str) -> dict[str, Any]:
    """The run failed the gate with the one finding of ``seed``'s key ID, at ``path``, first
    in ``commit`` and still at HEAD."""
    assert run.code == 1, run.stderr
    finding = run.one(key_id(seed))
    assert (finding["path"], finding["commit"]["sha"]) == (path, commit)
    assert finding["in_head"] is True
    return finding


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def test_since_reports_a_secret_copied_to_a_new_path(repo: Repo) -> None:
    base = repo.commit({".env": env_text("copied")}, "add settings")
    copy = repo.commit({"copy.env": env_text("copied")}, "copy settings")

    finding = reported_at(since(repo.path, base), "copied", "copy.env", copy)
    assert finding["history"]["commit_count"] == 1


def _restore_plainly(repo: Repo) -> None:
    """Nothing but the restoring commit after the removal."""


def _restore_after_merging_an_older_branch(repo: Repo) -> None:
    """The push also merges a branch started before the removal, whose tree still has the
    secret: git's range listing leaves out the blobs of that branch point."""
    repo.git("checkout", "-q", "-b", "feature", "HEAD~1")
    repo.commit({"notes.txt": "feature work\n"}, "feature work")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")


@pytest.mark.parametrize(
    "before_restore", [_restore_plainly, _restore_after_merging_an_older_branch]
)
def test_since_reports_a_removed_secret_restored_in_the_range(
    repo: Repo, before_restore: Any
) -> None:
    repo.commit({"README.md": "start\n"}, "start")
    repo.commit({".env": env_text("restored")}, "add settings")
    base = repo.commit({".env": None}, "remove settings")
    before_restore(repo)
    restore = repo.commit({".env": env_text("restored")}, 'Revert "remove settings"')

    reported_at(since(repo.path, base), "restored", ".env", restore)


def test_since_ignores_a_secret_in_a_file_the_range_leaves_alone(repo: Repo) -> None:
    base = repo.commit({".env": env_text("left-alone"), "app.py": "print(1)\n"}, "start")
    repo.commit({"app.py": "print(2)\n"}, "edit the app only")

    run = since(repo.path, base)
    assert run.code == 0, run.stderr
    assert run.report["findings"] == []


def test_since_ignores_an_edit_back_to_older_content_holding_the_same_secret(
    repo: Repo,
) -> None:
    repo.commit({".env": env_text("same")}, "add settings")
    base = repo.commit({".env": env_text("same") + "REGION=eu-west-1\n"}, "add region")
    repo.commit({".env": env_text("same")}, "drop region")  # the older blob, at its old path

    run = since(repo.path, base)
    assert run.code == 0, run.stderr
    assert run.report["findings"] == []


def test_since_a_copied_blob_a_partial_clone_lacks_is_counted_not_fetched(
    repo: Repo, tmp_path: Path
) -> None:
    repo.git("config", "uploadpack.allowFilter", "true")
    big = "x" * 5000 + "\n" + env_text("big-copy")
    base = repo.commit({"big.env": big}, "big settings")
    repo.commit({"copy.env": big}, "copy big settings")
    clone = tmp_path / "partial"
    Repo(tmp_path, init=False).git(
        "clone", "-q", "--bare", "--filter=blob:limit=1k", f"file://{repo.path}", str(clone)
    )
    packs_before = sorted(p.name for p in (clone / "objects" / "pack").iterdir())

    run = since(clone, base)
    assert run.code == 0, run.stderr
    assert run.report["scan"]["skipped"]["missing_blob"] == 1
    assert any("partial clone" in note for note in run.report["scan"]["notes"])
    assert sorted(p.name for p in (clone / "objects" / "pack").iterdir()) == packs_before


def test_since_a_copied_blob_missing_from_the_object_database_is_an_error(repo: Repo) -> None:
    base = repo.commit({"a.txt": "lost content\n"}, "start")
    repo.commit({"b.txt": "lost content\n"}, "copy")
    lost = repo.git("rev-parse", "HEAD:b.txt")
    blob_path(repo.path, lost).unlink()

    run = since(repo.path, base)
    assert run.code == 2, run.stderr
    assert lost in " ".join(run.report["scan"]["errors"])


def _shallow_clone(repo: Repo, dest: Path, depth: int) -> Path:
    Repo(dest.parent, init=False).git(
        "clone", "-q", f"--depth={depth}", f"file://{repo.path}", str(dest)
    )
    return dest


def test_since_fails_closed_when_a_shallow_clone_cuts_the_range(repo: Repo, tmp_path: Path) -> None:
    """A push (``base``..HEAD) that added a secret and removed it, checked out shallower than
    the push: the gate cannot see the secret's commit, so it fails (exit 2), never passes."""
    base = repo.commit({"README": "x\n"}, "pushed before")
    repo.commit({"leak.env": env_text("cut-off")}, "add key")
    repo.commit({"leak.env": None}, "remove key")
    for i in range(3):
        repo.commit({"notes.txt": f"{i}\n"}, f"later {i}")
    shallow = _shallow_clone(repo, tmp_path / "depth2", 2)

    for since_ in ("0" * 40, "HEAD~1"):  # a new branch; a base inside the clone
        run = since(shallow, since_)
        if since_ == "HEAD~1":
            assert run.code == 0, run.stderr  # the range is whole: scanned, no note
            assert run.report["scan"]["notes"] == []
            continue
        assert run.code == 2, run.stderr
        assert run.stdout == ""
        assert "shallow clone: the range reaches commit" in run.stderr
        assert "fetch-depth: 0" in run.stderr

    run = since(shallow, base)  # the push's base is not in the clone at all
    assert run.code == 2, run.stderr
    assert f"unknown revision {base} (not in this shallow clone)" in run.stderr
