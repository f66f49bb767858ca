"""Hostile repositories: keysweep never runs code configured in a scanned repository and
never writes to it.

The repository under test configures every mechanism git has for running programs
(fsmonitor, hooks, external diff, textconv, clean/smudge/process filters, ssh command,
pager, GPG, credential helper, ...) to a script that leaves a marker file. After
``scan``, ``history`` (by path and by URL) and ``staged`` no marker may exist, and a
snapshot of the whole repository (work tree and ``.git``: content, mode and mtime of every
entry, so index refreshes and lock files show) is unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.fs import snapshot_diff, tree_snapshot
from support.keys import Credential, make_credential
from support.repo import commit_files, git, init_repo
from support.run import assert_no_traceback, run_keysweep

# Config keys that make git run a program, each pointed at its own marker script.
EVIL_CONFIG = {
    "core.fsmonitor": "fsmonitor",
    "core.hooksPath": None,  # a directory of hooks, set below
    "core.sshCommand": "ssh-command",
    "core.pager": "pager",
    "core.editor": "editor",
    "core.askPass": "askpass",
    "core.gitProxy": "git-proxy",
    "core.alternateRefsCommand": "alternate-refs",
    "diff.external": "diff-external",
    "diff.evil.textconv": "textconv",
    "diff.evil.command": "diff-command",
    "filter.evil.clean": "filter-clean",
    "filter.evil.smudge": "filter-smudge",
    "filter.evil.process": "filter-process",
    "merge.evil.driver": "merge-driver",
    "credential.helper": "credential-helper",
    "gpg.program": "gpg",
    "gpg.openpgp.program": "gpg-openpgp",
    "pager.log": "pager-log",
    "pager.diff": "pager-diff",
    "sequence.editor": "sequence-editor",
}
EVIL_BOOLEANS = {
    "log.showSignature": "true",
    "core.untrackedCache": "true",
    "filter.evil.required": "true",
    "diff.evil.cachetextconv": "true",
    "core.preloadIndex": "true",
}
HOOKS = (
    "pre-commit",
    "post-checkout",
    "post-index-change",
    "reference-transaction",
    "pre-auto-gc",
    "post-merge",
    "post-rewrite",
    "fsmonitor-watchman",
    "pre-push",
    "push-to-checkout",
    "post-update",
)


def _marker_script(bin_dir: Path, markers: Path, name: str) -> Path:
    script = bin_dir / name
    script.write_text(
        f'#!/bin/sh\necho "$0 $*" > "{markers}/{name}"\n'
        # Pass data through (a clean filter or textconv reads stdin or its argument).
        'if [ -n "$1" ] && [ -f "$1" ]; then cat "$1"; else cat; fi\n'
    )
    script.chmod(0o755)
    return script


def _sign(repo: Path, ref: str) -> None:
    """A commit carrying a (fake) PGP signature, so ``log.showSignature`` would call GPG."""
    body = git(repo, "cat-file", "commit", "HEAD")
    headers, _, message = body.partition("\n\n")
    signature = (
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n wsBcBAABCAAQ\n -----END PGP SIGNATURE-----"
    )
    signed = f"{headers}\n{signature}\n\n{message}\n"
    proc = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=repo,
        input=signed,
        capture_output=True,
        text=True,
        check=True,
    )
    git(repo, "update-ref", ref, proc.stdout.strip())


def build_hostile_repo(root: Path) -> tuple[Path, Path, dict[str, Credential]]:
    """A repository with history, a merge, a signed commit and staged changes, whose config
    (written last, so building it ran nothing) would run a marker script at every turn."""
    creds = {name: make_credential(f"hostile-{name}") for name in ("old", "branch", "staged")}
    repo = init_repo(root / "repo")
    markers = root / "markers"
    markers.mkdir()
    bin_dir = root / "bin"
    bin_dir.mkdir()

    commit_files(repo, {".gitattributes": "* diff=evil filter=evil merge=evil\n"}, "attrs")
    commit_files(repo, {"config/app.env": creds["old"].env_text()}, "add key")
    commit_files(repo, {"config/app.env": "# key moved to the vault\n"}, "remove key")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_files(repo, {"deploy/ci.env": creds["branch"].env_text()}, "feature key")
    git(repo, "checkout", "-q", "main")
    commit_files(repo, {"README.md": "main side\n"}, "main work")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    _sign(repo, "refs/heads/signed")
    git(repo, "tag", "-a", "-m", "release", "v1")
    (repo / "staged.env").write_text(creds["staged"].env_text())
    git(repo, "add", "staged.env")
    (repo / "untracked.txt").write_text("an untracked file\n")
    # A tracked file whose stat data no longer matches the index: a refresh would rewrite it.
    os.utime(repo / "README.md", (1_700_000_000, 1_700_000_000))

    hooks = repo / "evil-hooks"
    hooks.mkdir()
    for hook in HOOKS:
        for directory in (hooks, repo / ".git" / "hooks"):
            target = directory / hook
            target.write_text(_marker_script(bin_dir, markers, f"hook-{hook}").read_text())
            target.chmod(0o755)
    for key, name in EVIL_CONFIG.items():
        value = str(hooks) if name is None else str(_marker_script(bin_dir, markers, name))
        git(repo, "config", key, value)
    for key, value in EVIL_BOOLEANS.items():
        git(repo, "config", key, value)
    git(repo, "remote", "add", "origin", "ssh://git.example.invalid/repo.git")
    assert list(markers.iterdir()) == [], "building the fixture ran a marker script"
    return repo, markers, creds


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path, dict[str, Credential]]:
    return build_hostile_repo(tmp_path)


def _check(
    tmp_path: Path, markers: Path, repo: Path, args: list[str], cwd: Path, **env: str
) -> dict[str, object]:
    before = tree_snapshot(repo)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    proc = run_keysweep(
        [*args, "--format", "json", "--show-secrets"],
        cwd=cwd,
        home=tmp_path / "home",
        env={"TMPDIR": str(scratch), **env},
        timeout=120,
    )
    assert_no_traceback(proc)
    fired = sorted(p.name for p in markers.iterdir())
    assert fired == [], f"keysweep {args[0]} ran repository-configured programs: {fired}"
    assert proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr.decode()[-2000:]}"
    assert snapshot_diff(before, tree_snapshot(repo)) == []
    assert list(scratch.iterdir()) == [], "temporary files were left behind"
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def _secrets(data: dict[str, object]) -> set[str]:
    found: set[str] = set()
    findings = data["findings"]
    assert isinstance(findings, list)
    for f in findings:
        found.add(f["secret"])
        found.update(p["secret"] for p in f.get("paired") or ())
    return found


def test_scan_runs_nothing_and_writes_nothing(
    tmp_path: Path, hostile: tuple[Path, Path, dict[str, Credential]]
) -> None:
    repo, markers, creds = hostile
    data = _check(tmp_path, markers, repo, ["scan", "."], cwd=repo)
    assert creds["staged"].secret in _secrets(data)
    assert creds["branch"].secret in _secrets(data)  # merged into main's work tree


def test_history_runs_nothing_and_writes_nothing(
    tmp_path: Path, hostile: tuple[Path, Path, dict[str, Credential]]
) -> None:
    repo, markers, creds = hostile
    data = _check(tmp_path, markers, repo, ["history", str(repo)], cwd=tmp_path)
    assert {creds["old"].secret, creds["branch"].secret} <= _secrets(data)


def test_history_of_a_bare_mirror_runs_nothing(
    tmp_path: Path, hostile: tuple[Path, Path, dict[str, Credential]]
) -> None:
    repo, markers, creds = hostile
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    for key, name in EVIL_CONFIG.items():
        if name is not None:
            git(bare, "config", key, str(tmp_path / "bin" / name))
    git(bare, "config", "log.showSignature", "true")
    assert list(markers.iterdir()) == [], "building the fixture ran a marker script"
    data = _check(tmp_path, markers, bare, ["history", str(bare)], cwd=tmp_path)
    assert {creds["old"].secret, creds["branch"].secret} <= _secrets(data)


def test_history_by_url_runs_nothing(
    tmp_path: Path, hostile: tuple[Path, Path, dict[str, Credential]]
) -> None:
    repo, markers, creds = hostile
    data = _check(tmp_path, markers, repo, ["history", f"file://{repo}"], cwd=tmp_path)
    assert {creds["old"].secret, creds["branch"].secret} <= _secrets(data)


def test_staged_runs_nothing_and_writes_nothing(
    tmp_path: Path, hostile: tuple[Path, Path, dict[str, Credential]]
) -> None:
    repo, markers, creds = hostile
    data = _check(tmp_path, markers, repo, ["staged"], cwd=repo)
    assert creds["staged"].secret in _secrets(data)
    assert creds["old"].secret not in _secrets(data)


def test_staged_with_git_index_file_writes_nothing(
    tmp_path: Path, hostile: tuple[Path, Path, dict[str, Credential]]
) -> None:
    """``git commit -a`` runs hooks with GIT_INDEX_FILE pointing at a temporary index."""
    repo, markers, creds = hostile
    alt_index = repo / ".git" / "index.alt"
    alt_index.write_bytes((repo / ".git" / "index").read_bytes())
    data = _check(tmp_path, markers, repo, ["staged"], cwd=repo, GIT_INDEX_FILE=str(alt_index))
    assert creds["staged"].secret in _secrets(data)


def test_plain_repository_with_stale_index_is_not_written(tmp_path: Path) -> None:
    """No index refresh, no lock file, no untracked cache, even when git would want one."""
    cred = make_credential("stale-index")
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"a.env": cred.env_text(), "b.txt": "text\n"}, "one")
    os.utime(repo / "b.txt", (1_600_000_000, 1_600_000_000))
    (repo / "c.env").write_text(make_credential("stale-untracked").env_text())
    git(repo, "config", "core.untrackedCache", "true")
    git(repo, "config", "index.version", "4")
    markers = tmp_path / "markers"
    markers.mkdir()
    for args, cwd in (
        (["scan", "."], repo),
        (["history", str(repo)], tmp_path),
        (["staged"], repo),
    ):
        if args == ["staged"]:
            (repo / "d.env").write_text(make_credential("stale-staged").env_text())
            git(repo, "add", "d.env")
            os.utime(repo / "b.txt", (1_600_000_000, 1_600_000_000))
        _check(tmp_path, markers, repo, args, cwd=cwd)


def test_the_fixture_is_armed(tmp_path: Path) -> None:
    """Plain git commands in the fixture do run the planted programs, so the tests above
    can fail: keysweep passes them only because it disarms every one."""
    repo, markers, _creds = build_hostile_repo(tmp_path)
    for args in (
        ["status"],
        ["diff", "--cached"],
        ["log", "-p", "-3", "--all"],
        ["log", "-1", "signed"],
    ):
        subprocess.run(["git", *args], cwd=repo, capture_output=True, timeout=60, check=False)
    fired = {p.name for p in markers.iterdir()}
    assert {"fsmonitor", "filter-process"} <= fired, fired
    assert fired & {"gpg", "gpg-openpgp"}, fired
