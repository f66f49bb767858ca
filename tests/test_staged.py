"""``keysweep staged``: exactly the index, only what the commit adds, never a false "clean"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.keys import env_text, key_id, secret_key
from support.repo import Repo, isolated_git_env
from support.run import Run, keysweep

JSON = ("--format", "json", "--show-secrets")


def staged(repo: Repo, *args: str, env: dict[str, str] | None = None) -> Run:
    return keysweep("staged", *JSON, *args, cwd=repo.path, env=env)


def secrets(run: Run) -> set[str]:
    return {f["secret"] for f in run.report["findings"]}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def test_first_commit(repo: Repo) -> None:
    repo.write({"config/.env": "# settings\n" + env_text("first")})
    repo.git("add", "config/.env")
    run = staged(repo)
    assert run.code == 1, run.stderr
    (finding,) = [f for f in run.report["findings"] if f["secret"] == key_id("first")]
    assert (finding["path"], finding["line"], finding["rule_id"]) == (
        "config/.env",
        2,
        "aws-access-key-id",
    )
    assert finding["source"] == "staged"


def test_named_files_when_nothing_is_staged(repo: Repo) -> None:
    """Names narrow what is staged; with nothing staged they are scanned whole. As the hook
    (``--hook``) the names pre-commit passes never narrow what is staged."""
    repo.commit({"old.env": env_text("committed"), "notes.txt": "hi\n"}, "a key already in")
    whole = staged(repo, "old.env", "notes.txt")
    assert whole.code == 1 and secrets(whole) >= {key_id("committed")}, whole.stderr
    assert "nothing is staged" in whole.stderr
    assert staged(repo).code == 0  # nothing staged, nothing named: nothing to scan
    repo.write({"new.env": env_text("staged")})
    repo.git("add", "new.env")
    narrowed = staged(repo, "notes.txt")
    assert narrowed.code == 0 and not narrowed.report["findings"], narrowed.stderr
    hook = staged(repo, "--hook", "notes.txt")
    assert hook.code == 1 and secrets(hook) >= {key_id("staged")}, hook.stderr
    assert key_id("committed") not in secrets(hook)


def test_a_blocked_commit_says_how_to_proceed(repo: Repo) -> None:
    """The table says which file, line and rule; stderr says what to do next."""
    repo.write({"deploy.env": env_text("proceed")})
    repo.git("add", "deploy.env")
    run = keysweep("staged", cwd=repo.path)
    assert run.code == 1
    assert "deploy.env:1" in run.stdout and "aws-access-key-id" in run.stdout
    assert secret_key("proceed") not in run.stdout + run.stderr
    hint = " ".join(run.stderr.strip().splitlines()[-3:])
    assert hint.startswith("keysweep: ") and "git add" in hint, run.stderr
    assert "keysweep:allow" in hint and "keysweep baseline update" in hint, run.stderr
    # A clean run says nothing of the kind.
    repo.git("rm", "-q", "--cached", "deploy.env")
    assert "keysweep:allow" not in keysweep("staged", cwd=repo.path).stderr


def test_index_not_work_tree(repo: Repo) -> None:
    repo.commit({"README.md": "hi\n"}, "start")
    # Staged clean, work tree dirty: clean.
    repo.write({"app.env": "A=1\n"})
    repo.git("add", "app.env")
    repo.write({"app.env": "A=1\n" + env_text("unstaged")})
    run = staged(repo)
    assert run.code == 0, run.stderr
    # Staged dirty, work tree cleaned afterwards: the commit would carry the key.
    repo.git("add", "app.env")
    repo.write({"app.env": "A=1\n"})
    run = staged(repo)
    assert run.code == 1
    assert key_id("unstaged") in secrets(run)


def test_only_secrets_the_commit_adds(repo: Repo) -> None:
    repo.commit({"settings.env": env_text("old"), "other.txt": "x\n"}, "old key")
    # Unrelated edit of a file that already holds a secret: not reported.
    repo.write({"settings.env": "# comment\n" + env_text("old"), "other.txt": "y\n"})
    repo.git("add", "-A")
    run = staged(repo)
    assert run.code == 0, run.report
    # A new key in the same file: only the new one is reported.
    repo.write({"settings.env": "# comment\n" + env_text("old") + env_text("added")})
    repo.git("add", "-A")
    run = staged(repo)
    assert run.code == 1
    assert key_id("added") in secrets(run)
    assert key_id("old") not in secrets(run)


def test_rename_and_delete_add_nothing(repo: Repo) -> None:
    repo.commit({"a/creds.env": env_text("moved"), "b.env": env_text("deleted")}, "start")
    (repo.path / "c").mkdir()
    repo.git("mv", "a/creds.env", "c/creds.env")
    repo.git("rm", "-q", "b.env")
    run = staged(repo)
    assert run.code == 0, run.report
    assert run.report["scan"]["skipped"].get("deleted") == 1


def test_merge_reports_only_what_the_merge_adds(repo: Repo) -> None:
    repo.commit({"app.cfg": "mode=base\n"}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"app.cfg": "mode=feature\n", "feature.env": env_text("branch")}, "feature")
    repo.git("checkout", "-q", "main")
    repo.commit({"app.cfg": "mode=main\n"}, "main")
    repo.git("merge", "-q", "--no-edit", "feature", check=False)  # conflict in app.cfg
    repo.write({"app.cfg": "mode=merged\n" + env_text("resolution")})
    repo.git("add", "app.cfg")

    run = staged(repo)
    assert run.code == 1
    # The key committed on the feature branch is not new to this merge; the resolution's is.
    assert secrets(run) >= {key_id("resolution")}
    assert key_id("branch") not in secrets(run)
    assert any("merge" in n for n in run.report["scan"]["notes"])


def test_unmerged_paths_are_an_error(repo: Repo) -> None:
    repo.commit({"app.cfg": "mode=base\n"}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"app.cfg": "mode=feature\n"}, "feature")
    repo.git("checkout", "-q", "main")
    repo.commit({"app.cfg": "mode=main\n"}, "main")
    repo.git("merge", "-q", "--no-edit", "feature", check=False)
    run = staged(repo)
    assert run.code == 2
    assert run.stdout == ""
    assert "app.cfg" in run.stderr and "unmerged" in run.stderr


def test_git_index_file_is_honoured(repo: Repo, tmp_path: Path) -> None:
    """What `git commit -a` / `git commit PATH` do: a temporary index the hook must read."""
    repo.commit({"a.txt": "a\n", "b.env": "B=1\n"}, "start")
    repo.write({"b.env": "B=1\n" + env_text("partial")})
    index = tmp_path / "commit-index"
    env = {"GIT_INDEX_FILE": str(index)}
    repo.git("read-tree", "HEAD", env=env)
    repo.git("update-index", "--add", "b.env", env=env)

    assert staged(repo).code == 0  # the real index has nothing staged
    run = staged(repo, env=env)
    assert run.code == 1, run.stderr
    assert key_id("partial") in secrets(run)


def test_paths_limit_the_check(repo: Repo) -> None:
    repo.commit({"README.md": "hi\n"}, "start")
    repo.write({"x.env": env_text("x"), "y.env": env_text("y")})
    repo.git("add", "-A")
    run = staged(repo, "y.env")
    assert secrets(run) >= {key_id("y")}
    assert key_id("x") not in secrets(run)


def test_not_a_repository(tmp_path: Path) -> None:
    run = keysweep("staged", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert run.code == 2
    assert run.stderr.strip().splitlines() == [f"keysweep: error: {tmp_path}: not a git repository"]


def test_unreadable_staged_content_is_an_error(repo: Repo) -> None:
    repo.commit({"README.md": "hi\n"}, "start")
    repo.write({"new.env": env_text("lost")})
    repo.git("add", "new.env")
    blob = repo.git("rev-parse", ":new.env")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    run = staged(repo)
    assert run.code == 2, run.stdout
    assert "new.env" in run.stderr


def test_a_blob_over_the_size_cap_is_not_read_whole(repo: Repo) -> None:
    """Over ``--max-file-size`` a staged blob is skipped from its header: only its first
    8 KiB are streamed, to tell text from binary (a 1 GB staged dump took 1 GB of memory to
    be skipped). Here the content is damaged past the header, so reading it would fail: the
    rest is still scanned, and the skip is an error naming the file, not a read failure."""
    repo.commit({"README.md": "hi\n"}, "start")
    repo.write({"dump.sql": "INSERT INTO t VALUES (1);\n" * 4000, "small.env": env_text("cap")})
    repo.git("add", "dump.sql", "small.env")
    blob = repo.git("rev-parse", ":dump.sql")
    loose = repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    data = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(data[: len(data) // 2])
    run = staged(repo, "--max-file-size", "10000")
    assert run.code == 2, run.stderr
    assert secrets(run) >= {key_id("cap")}
    assert run.report["scan"]["skipped"] == {"too_large": 1}
    assert "cannot be read" not in run.stderr
    (error,) = run.report["scan"]["errors"]
    assert error.startswith("dump.sql: staged file not scanned: 104,000 bytes"), error


def test_an_oversized_text_file_fails_the_check_naming_it(repo: Repo) -> None:
    """A gate passes nothing it did not read: a staged text file over the cap exits 2 with one
    line naming it, its size, the limit and the way on; the reports record it for CI."""
    repo.commit({"README.md": "hi\n"}, "start")
    repo.write({"data/dump.sql": "INSERT INTO t VALUES (1);\n" * 800, "app.py": "x = 1\n"})
    repo.git("add", "-A")
    run = staged(repo, "--max-file-size", "10K")
    assert run.code == 2, run.stderr
    (line,) = [x for x in run.stderr.splitlines() if "data/dump.sql" in x]
    assert line == (
        "keysweep: error: data/dump.sql: staged file not scanned: 20,800 bytes, over the size "
        "limit of 10,240 bytes; to scan it raise the limit (--max-file-size 1M, or [scan] "
        "max_file_size), or to commit it unscanned add its path to [scan] skip_paths in "
        ".keysweep.toml"
    )
    scan = run.report["scan"]
    assert scan["skipped"] == {"too_large": 1} and scan["files_scanned"] == 1
    assert scan["errors"] == [line.removeprefix("keysweep: error: ")]
    sarif = keysweep("staged", "--format", "sarif", "--max-file-size", "10K", cwd=repo.path)
    (invocation,) = json.loads(sarif.stdout)["runs"][0]["invocations"]
    assert sarif.code == 2 and invocation["executionSuccessful"] is False
    assert "data/dump.sql" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    table = keysweep("staged", "--max-file-size", "10K", cwd=repo.path)
    assert table.code == 2
    assert table.stdout.startswith("No secrets found in what was read; 1 error(s)")
    # The way on, each: a limit it fits in (option or config), or the path left unscanned.
    assert staged(repo, "--max-file-size", "1M").code == 0
    repo.write({".keysweep.toml": "[scan]\nmax_file_size = 30_000\n"})
    assert staged(repo).code == 0
    repo.write({".keysweep.toml": '[scan]\nmax_file_size = 10_000\nskip_paths = ["data/"]\n'})
    skipped = staged(repo)
    assert skipped.code == 0, skipped.stderr
    assert skipped.report["scan"]["skipped"] == {"config_skip_paths": 1}
    # allowlist.paths drops every finding there: the file is not needed, and is noted.
    allowlist = '[scan]\nmax_file_size = 10_000\n[allowlist]\npaths = ["*.sql"]\n'
    repo.write({".keysweep.toml": allowlist})
    allowed = staged(repo)
    assert allowed.code == 0, allowed.stderr
    assert allowed.report["scan"]["skipped"] == {"too_large": 1}
    (note,) = [n for n in allowed.report["scan"]["notes"] if "dump.sql" in n]
    assert note.endswith("(allowlist.paths)"), note


def test_a_secret_beside_an_oversized_file_still_says_how_to_proceed(repo: Repo) -> None:
    """Exit 2 (a file could not be scanned) does not hide the secrets that were found: the
    hook still says they would be committed and what to do about them."""
    repo.commit({"README.md": "hi\n"}, "start")
    repo.write({"data/dump.sql": "INSERT INTO t VALUES (1);\n" * 800, ".env": env_text("both")})
    repo.git("add", "-A")
    run = staged(repo, "--max-file-size", "10K")
    assert run.code == 2, run.stderr
    assert [f["path"] for f in run.report["findings"]] != []
    assert "keysweep: these secrets would be committed." in run.stderr
    clean = repo.path / ".env"
    clean.write_text("DEBUG=1\n")
    repo.git("add", "-A")
    assert "would be committed" not in staged(repo, "--max-file-size", "10K").stderr


def test_the_oversize_error_names_the_config_file_in_use(repo: Repo) -> None:
    """With the settings in ``pyproject.toml``, the way on names its table there."""
    repo.commit({"pyproject.toml": "[tool.keysweep.scan]\nmax_file_size = 10_000\n"}, "start")
    repo.write({"data/dump.sql": "INSERT INTO t VALUES (1);\n" * 800})
    repo.git("add", "-A")
    run = staged(repo)
    assert run.code == 2, run.stderr
    assert "(--max-file-size 1M, or [tool.keysweep.scan] max_file_size)" in run.stderr
    assert "add its path to [tool.keysweep.scan] skip_paths in pyproject.toml" in run.stderr


def test_skip_paths_are_never_read_when_staged(repo: Repo) -> None:
    """``scan.skip_paths``: a staged file there is not read (counted), as ``scan`` does."""
    repo.commit({".keysweep.toml": '[scan]\nskip_paths = ["vendor/**"]\n'}, "config")
    repo.write({"vendor/lib/creds.env": env_text("vendored"), "app.env": env_text("app")})
    repo.git("add", "-A")
    run = staged(repo)
    assert run.code == 1, run.stderr
    assert secrets(run) >= {key_id("app")} and key_id("vendored") not in secrets(run)
    assert run.report["scan"]["skipped"] == {"config_skip_paths": 1}
    assert run.report["scan"]["files_scanned"] == 1


def test_an_oversized_binary_file_is_noted_not_failed(repo: Repo) -> None:
    """A NUL byte in the first 8 KiB (without a UTF-16/32 byte-order mark) is binary, as
    ``scan`` decides: an image over the cap passes, noted and counted. UTF-16 text is text."""
    repo.commit({"README.md": "hi\n"}, "start")
    (repo.path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(30000))
    repo.git("add", "logo.png")
    run = staged(repo, "--max-file-size", "10K")
    assert run.code == 0, run.stderr
    assert run.report["scan"]["skipped"] == {"too_large": 1}
    assert run.report["scan"]["notes"] == [
        "logo.png: staged binary file not scanned: 30,016 bytes, over the size limit of "
        "10,240 bytes"
    ]
    text = ("\ufeff" + "SETTING=value\n" * 1000).encode("utf-16-le")
    (repo.path / "settings.txt").write_bytes(text)
    repo.git("add", "settings.txt")
    utf16 = staged(repo, "--max-file-size", "10K")
    assert utf16.code == 2, utf16.stderr
    assert [e.split(":")[0] for e in utf16.report["scan"]["errors"]] == ["settings.txt"]


def test_staged_imports_nothing_heavy(repo: Repo) -> None:
    """The hook path must not import boto3, gitpython or rich (start-up time)."""
    repo.commit({"README.md": "hi\n"}, "start")
    repo.write({"k.env": env_text("imports")})
    repo.git("add", "k.env")
    code = (
        "import sys\n"
        "from scanner.cli import main\n"
        "rc = main(['staged', '--format', 'json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'git', "
        "'rich', 'yaml_cffi'})\n"
        "print(json.dumps([rc, heavy]), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        cwd=repo.path,
        env=isolated_git_env(),
        capture_output=True,
        check=False,
    )
    rc, heavy = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert rc == 1
    assert heavy == []


@pytest.mark.parametrize("head_kind", ["commit", "blob", "absent"])
def test_pre_merge_commit_stage_finds_merged_commits_in_the_environment(
    repo: Repo, head_kind: str
) -> None:
    """git's pre-merge-commit hook runs before MERGE_HEAD exists and names each merged
    commit as GITHEAD_<oid>; only real commits count (issue 9, item 6)."""
    repo.commit({"README.md": "base\n"}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    feature = repo.commit({"feature.env": env_text("env-branch")}, "feature")
    repo.git("checkout", "-q", "main")
    repo.commit({"main.txt": "main\n"}, "main")
    # The index of the merge about to be committed, as pre-merge-commit sees it, plus a key
    # that none of the merged commits has.
    repo.git("read-tree", "-m", "main", "feature")
    repo.git("checkout-index", "-a", "-f")
    repo.write({"new.env": env_text("env-new")})
    repo.git("add", "new.env")
    oid = {"commit": feature, "blob": repo.git("rev-parse", "feature:feature.env")}.get(head_kind)
    env = {f"GITHEAD_{oid}": "feature"} if oid else {}

    run = staged(repo, env=env)
    assert run.code == 1, run.stderr
    assert key_id("env-new") in secrets(run)
    assert (key_id("env-branch") in secrets(run)) is (head_kind != "commit")
