"""The real pre-commit framework running this project's ``.pre-commit-hooks.yaml``.

A copy of the project (tracked and untracked-but-not-ignored files, as they are now) is
committed into a temporary repository that a test repository's ``.pre-commit-config.yaml``
names with ``repo:``/``rev:``, exactly as users will; ``pre-commit install`` puts the git hook
in place and plain ``git commit`` runs it. The hook environment (a pip install of the copy) is
built once per session and shared through ``PRE_COMMIT_HOME``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.keys import env_text, key_id, secret_key
from support.repo import Repo, isolated_git_env

PROJECT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in out.decode().split("\0") if name and (PROJECT / name).is_file()]


@pytest.fixture(scope="session")
def hook_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    """(hook repository, its commit, PRE_COMMIT_HOME) shared by the tests of this session."""
    base = tmp_path_factory.mktemp("precommit")
    hook_repo = Repo(base / "keysweep-hook")
    for name in _project_files():
        target = hook_repo.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / name, target)
    hook_repo.git("add", "-A")
    rev = hook_repo.commit_staged("keysweep as it is now")
    yield hook_repo.path, rev, base / "pre-commit-home"


def _env(home: Path) -> dict[str, str]:
    env = isolated_git_env()
    env["PRE_COMMIT_HOME"] = str(home)
    env["PRE_COMMIT_COLOR"] = "never"
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture
def project(tmp_path: Path, hook_home: tuple[Path, str, Path]) -> Repo:
    """A repository with the keysweep hook installed the way docs/staged.md says."""
    hook_repo, rev, home = hook_home
    repo = Repo(tmp_path / "project")
    repo.write(
        {
            ".pre-commit-config.yaml": (
                f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: keysweep\n"
            ),
            "README.md": "project\n",
            "settings.env": "REGION=eu-west-1\n",
        }
    )
    repo.git("add", "-A")
    repo.commit_staged("start")
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--install-hooks"],
        cwd=repo.path,
        env=_env(home),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return repo


def commit(repo: Repo, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``git commit ARGS`` with the installed hook, as a developer types it."""
    repo.tick += 1
    return subprocess.run(
        ["git", "commit", *args],
        cwd=repo.path,
        env={**repo.env(), "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"},
        capture_output=True,
        text=True,
        check=False,
    )


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD")


def test_commit_adding_a_key_is_blocked(project: Repo, hook_home: tuple[Path, str, Path]) -> None:
    home = hook_home[2]
    before = head(project)
    project.write({"deploy/prod.env": "# production\n" + env_text("blocked")})
    project.git("add", "deploy/prod.env")
    proc = commit(project, home, "-m", "add production settings")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert head(project) == before, "the commit must not have been made"
    assert "keysweep" in output and "Failed" in output
    assert "deploy/prod.env:2" in output, output  # file and line
    assert "aws-access-key-id" in output, output  # rule
    assert key_id("blocked") in output, "the key ID is an identifier: shown in full"
    assert secret_key("blocked") not in output, "secrets are redacted in hook output"
    assert "keysweep:allow" in output and "baseline" in output, "and how to proceed"


def test_clean_commit_passes(project: Repo, hook_home: tuple[Path, str, Path]) -> None:
    home = hook_home[2]
    project.write({"src/app.py": "print('hello')\n"})
    project.git("add", "src/app.py")
    proc = commit(project, home, "-m", "add app")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert "keysweep (secrets in staged changes)" in output and "Passed" in output
    assert project.git("log", "-1", "--format=%s") == "add app"


def test_run_all_files_scans_the_committed_files(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    """``pre-commit run --all-files`` (pre-commit.ci, CI jobs) stages nothing: the hook passed
    a key committed with --no-verify. With nothing staged it scans the named files whole."""
    home = hook_home[2]
    project.write({"deploy/prod.env": env_text("all-files"), "notes.txt": "hello\n"})
    project.git("add", "-A")
    assert commit(project, home, "--no-verify", "-m", "sneak a key in").returncode == 0

    def run_hooks(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "run", *args],
            cwd=project.path,
            env=_env(home),
            capture_output=True,
            text=True,
            check=False,
        )

    proc = run_hooks("--all-files")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Failed" in output, output
    assert "deploy/prod.env:1" in output and key_id("all-files") in output, output
    assert secret_key("all-files") not in output
    assert "nothing is staged" in output
    clean = run_hooks("--files", "notes.txt", "README.md")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_commit_all_scans_the_tracked_changes(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    """`git commit -a` stages tracked changes into a temporary index: the hook must see them."""
    home = hook_home[2]
    before = head(project)
    project.write({"settings.env": "REGION=eu-west-1\n" + env_text("commit-all")})
    project.write({"README.md": "project, updated\n"})
    project.git("add", "README.md")
    # Without -a only README.md is committed: the key in the work tree is not part of it.
    proc = commit(project, home, "-m", "readme only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.git("show", "--name-only", "--format=", "HEAD") == "README.md"
    # With -a the tracked settings.env (and its key) would be committed: blocked.
    before = head(project)
    proc = commit(project, home, "-a", "-m", "everything")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "settings.env:2" in proc.stdout + proc.stderr
    assert head(project) == before


def test_partial_commit_checks_only_the_named_paths(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    """`git commit PATH` commits PATH's work-tree content, whatever else is staged."""
    home = hook_home[2]
    project.write({"keys.env": env_text("partial")})
    project.git("add", "keys.env")
    project.write({"README.md": "project, partial\n"})
    # Only README.md goes into this commit: the staged key stays staged, the commit passes.
    proc = commit(project, home, "-m", "readme", "--", "README.md")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.git("show", "--name-only", "--format=", "HEAD") == "README.md"
    assert project.git("diff", "--cached", "--name-only") == "keys.env"
    # Naming the file with the key: blocked.
    before = head(project)
    proc = commit(project, home, "-m", "keys", "--", "keys.env")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "keys.env:1" in proc.stdout + proc.stderr
    assert head(project) == before
    assert os.path.exists(project.path / "keys.env")


def test_pre_commit_file_filters_do_not_skip_the_hook(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    """The hook scans the index, not pre-commit's file list: a top-level ``exclude`` (or a
    commit of nothing but a symlink) leaves pre-commit no file names, and a hook without
    ``always_run`` was then skipped, "(no files to check)", letting the key through."""
    home = hook_home[2]
    config = (project.path / ".pre-commit-config.yaml").read_text()
    project.write({".pre-commit-config.yaml": "exclude: ^vendor/\n" + config})
    project.git("add", ".pre-commit-config.yaml")
    assert commit(project, home, "-m", "keep formatters off vendor/").returncode == 0
    before = head(project)
    project.write({"vendor/creds.env": env_text("excluded")})
    project.git("add", "vendor/creds.env")
    proc = commit(project, home, "-m", "vendor only")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "vendor/creds.env:1" in output, output
    assert head(project) == before


def test_an_oversized_staged_file_fails_the_commit_visibly(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    """pre-commit hides a passing hook's output: a file skipped for its size went through
    unseen. Now the commit fails naming it; raising the limit, or listing the path in
    ``[scan] skip_paths``, lets it through. A binary file over the limit does not block."""
    home = hook_home[2]
    project.write({".keysweep.toml": "[scan]\nmax_file_size = 10_000\n"})
    project.git("add", ".keysweep.toml")
    assert commit(project, home, "-m", "a small size limit").returncode == 0
    (project.path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(20000))
    project.git("add", "logo.png")
    proc = commit(project, home, "-m", "a large image")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = head(project)
    project.write({"db/dump.sql": "INSERT INTO t VALUES (1);\n" * 800})
    project.git("add", "db/dump.sql")
    proc = commit(project, home, "-m", "a large dump")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and head(project) == before, output
    assert "Failed" in output and "exit code: 2" in output, output
    assert (
        "keysweep: error: db/dump.sql: staged file not scanned: 20,800 bytes, over the size "
        "limit of 10,000 bytes; to scan it raise the limit (--max-file-size 1M"
    ) in output, output
    # Raised for the hook alone (args in .pre-commit-config.yaml): scanned, and it passes.
    config = (project.path / ".pre-commit-config.yaml").read_text()
    project.write({".pre-commit-config.yaml": config + "        args: [--max-file-size, 1M]\n"})
    project.git("add", ".pre-commit-config.yaml")
    proc = commit(project, home, "-m", "a large dump, scanned")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "db/dump.sql" in project.git("show", "--name-only", "--format=", "HEAD")
    # Or the path left unscanned on purpose: listed in [scan] skip_paths.
    project.write({".pre-commit-config.yaml": config, "db/dump.sql": "INSERT (2);\n" * 2000})
    proc = commit(project, home, "-a", "-m", "a larger dump")
    assert proc.returncode != 0 and "db/dump.sql: staged file not scanned" in proc.stderr
    project.write({".keysweep.toml": '[scan]\nmax_file_size = 10_000\nskip_paths = ["db/"]\n'})
    proc = commit(project, home, "-a", "-m", "db/ is never scanned")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- merges (issue 9, item 6) ---------------------------------------------------------------


def _install_merge_hook(project: Repo, home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "-t", "pre-merge-commit"],
        cwd=project.path,
        env=_env(home),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def _git_with_hooks(project: Repo, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    project.tick += 1
    return subprocess.run(
        ["git", *args],
        cwd=project.path,
        env={**project.env(), "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"},
        capture_output=True,
        text=True,
        check=False,
    )


def _branch_with_a_key(project: Repo, seed: str, files: dict[str, str]) -> None:
    """A feature branch that already committed a key (past the hook, as a pushed branch
    from elsewhere would be), and a diverged main, so the merge is a real merge commit."""
    project.git("checkout", "-q", "-b", "feature")
    project.write({"feature.env": env_text(seed), **files})
    project.git("add", "-A")
    project.git("commit", "-q", "--no-verify", "-m", "feature with a key")
    project.git("checkout", "-q", "main")


def test_clean_merge_of_a_branch_that_already_has_a_key_passes(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    """pre-merge-commit runs before git writes MERGE_HEAD: the hook finds the merged commits
    through GITHEAD_<oid> and reports only what the merge itself adds (nothing here)."""
    home = hook_home[2]
    _install_merge_hook(project, home)
    _branch_with_a_key(project, "merged-clean", {"feature.txt": "feature\n"})
    project.write({"main.txt": "main\n"})
    project.git("add", "main.txt")
    assert commit(project, home, "-m", "main moves on").returncode == 0

    proc = _git_with_hooks(project, home, "merge", "--no-ff", "--no-edit", "feature")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "keysweep (secrets in staged changes)" in output and "Passed" in output, output
    assert project.git("rev-list", "--count", "--merges", "HEAD") == "1"


def test_merge_resolution_that_adds_a_key_is_blocked(
    project: Repo, hook_home: tuple[Path, str, Path]
) -> None:
    home = hook_home[2]
    _install_merge_hook(project, home)
    _branch_with_a_key(project, "merged-branch", {"settings.env": "REGION=us-east-1\n"})
    project.write({"settings.env": "REGION=ap-south-1\n"})
    project.git("add", "settings.env")
    assert commit(project, home, "-m", "main region").returncode == 0
    before = head(project)

    proc = _git_with_hooks(project, home, "merge", "--no-edit", "feature")
    assert proc.returncode != 0  # conflict in settings.env: no merge commit yet
    project.write({"settings.env": "REGION=us-east-1\n" + env_text("resolution-key")})
    project.git("add", "settings.env")
    proc = commit(project, home, "--no-edit")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "settings.env:2" in output, output  # the resolution's key
    assert "feature.env" not in output, output  # not the key the branch already had
    assert head(project) == before
