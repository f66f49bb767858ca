"""A ref that names a blob or a tree directly (no commit) reaches that content: its secrets
are reported as reachable, with the ref, never held back as "reachable from no ref"
(issue 9, item 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.keys import env_text, key_id
from support.repo import Repo
from support.run import keysweep
from support.spy import count_calls

JSON = ("--format", "json", "--show-secrets")


def _blob(repo: Repo, text: str) -> str:
    loose = repo.path.parent / "loose.env"
    loose.write_text(text)
    return repo.git("hash-object", "-w", str(loose))


def _tree(repo: Repo, name: str, text: str) -> str:
    repo.write({name: text})
    repo.git("add", "--", name)
    tree = repo.git("write-tree")
    repo.git("rm", "-q", "--cached", "--", name)
    (repo.path / name).unlink()
    return tree


def _one(run: Any, secret: str) -> dict[str, Any]:
    found = run.findings_for(secret)
    assert len(found) == 1, (secret, run.report["findings"], run.report["scan"]["notes"])
    result: dict[str, Any] = found[0]
    return result


@pytest.mark.parametrize(
    ("how", "ref"),
    [
        ("lightweight", "refs/tags/key-backup"),
        ("annotated", "refs/tags/key-backup"),
        ("tag-of-tag", "refs/tags/outer"),
        ("plain-ref", "refs/keep/blob"),
    ],
)
def test_blob_named_by_a_ref_is_reachable(tmp_path: Path, how: str, ref: str) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hi\n"}, "start")
    blob = _blob(repo, env_text(f"tagged-{how}"))
    if how == "lightweight":
        repo.git("tag", "key-backup", blob)
    elif how == "annotated":
        repo.git("tag", "-a", "-m", "backup", "key-backup", blob)
    elif how == "tag-of-tag":
        repo.git("tag", "-a", "-m", "backup", "key-backup", blob)
        repo.git("tag", "-a", "-m", "again", "outer", "key-backup")
    else:
        repo.git("update-ref", ref, blob)

    run = keysweep("history", str(repo.path), *JSON)
    assert run.code == 1, run.stderr
    found = _one(run, key_id(f"tagged-{how}"))
    assert found["blob_id"] == blob
    assert found["history"]["unreachable"] is False
    assert ref in found["history"]["refs"]
    assert not any("reachable from no ref" in n for n in run.report["scan"]["notes"])


def test_blob_in_a_tagged_tree_has_its_path(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hi\n"}, "start")
    tree = _tree(repo, "deploy/prod.env", env_text("tagged-tree"))
    repo.git("tag", "snapshot", tree)

    run = keysweep("history", str(repo.path), *JSON)
    assert run.code == 1, run.stderr
    found = _one(run, key_id("tagged-tree"))
    assert found["path"] == "deploy/prod.env"
    assert found["history"]["refs"] == ["refs/tags/snapshot"]


def test_truly_unreachable_blob_is_still_held_back(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hi\n"}, "start")
    repo.git("tag", "unrelated")
    _blob(repo, env_text("loose"))
    run = keysweep("history", str(repo.path), *JSON)
    assert run.findings_for(key_id("loose")) == []
    assert any("reachable from no ref" in n for n in run.report["scan"]["notes"])


def test_commit_named_only_by_a_tag_of_a_tag_is_reachable(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hi\n"}, "start")
    repo.git("checkout", "-q", "-b", "release")
    repo.commit({"deploy.env": env_text("tag-of-tag-commit")}, "release")
    repo.git("tag", "-a", "-m", "inner", "inner")
    repo.git("tag", "-a", "-m", "outer", "outer", "inner")
    repo.git("tag", "-d", "inner")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "release")

    run = keysweep("history", str(repo.path), *JSON)
    assert run.code == 1, run.stderr
    found = _one(run, key_id("tag-of-tag-commit"))
    assert found["path"] == "deploy.env"
    assert found["history"]["refs"] == ["refs/tags/outer"]


def test_tagged_refs_are_read_once_per_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the missing-blob check and the placing of blobs no commit holds share one reading
    from scanner.detect import Detector
    from scanner.rules import load_rules
    from scanner.sources import history

    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hi\n"}, "start")
    repo.git("tag", "snapshot", _tree(repo, "deploy/prod.env", env_text("tagged-once")))
    reads = count_calls(monkeypatch, history, "tagged_blobs")
    result = history.HistoryScan(str(repo.path), messages=False).run(Detector(load_rules()))
    assert reads == [1]
    placed = [f for f in result.findings if f.path == "deploy/prod.env"]
    assert placed and all(f.history is not None for f in placed)
