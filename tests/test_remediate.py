"""``keysweep remediate``: plans from default (redacted) reports, and git-filter-repo really run
on a mirror clone, on real repositories built here. The user's repository must not change."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from support.keys import env_text, key_id, secret_key
from support.repo import Repo, isolated_git_env
from support.run import keysweep

from scanner.remediate.plan import REPLACEMENT, Secret, expressions_text
from scanner.remediate.steps import push_refspecs

needs_filter_repo = pytest.mark.skipif(
    shutil.which("git-filter-repo") is None, reason="git-filter-repo is not installed"
)


def snapshot(repo: Path) -> str:
    """A hash of every ref, every object (reachable or not), the config and the work tree."""
    env = isolated_git_env()

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(repo), *args], env=env, capture_output=True, check=True
        ).stdout

    digest = hashlib.sha256()
    digest.update(git("for-each-ref", "--format=%(objectname) %(refname)"))
    digest.update(git("cat-file", "--batch-all-objects", "--batch-check"))
    digest.update(git("status", "--porcelain", "--ignored"))
    digest.update((repo / ".git" / "config").read_bytes())
    for path in sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def all_object_bytes(repo: Path) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
        env=isolated_git_env(),
        capture_output=True,
        check=True,
    ).stdout


@pytest.fixture
def leaky(tmp_path: Path) -> Repo:
    """Two credentials: one removed before the tag, one still in HEAD on a side branch too;
    an origin remote with a token in its URL and a remote-tracking branch."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"README.md": "hello\n"}, "start")
    repo.commit({"deploy/.env": env_text("gone")}, "add deploy settings")
    repo.commit({"deploy/.env": None}, "remove secrets")
    repo.git("tag", "-a", "v1.0", "-m", "release")
    repo.commit({"app.cfg": f"aws_access_key_id = {key_id('kept')}\n"}, "config")
    repo.git("branch", "side")
    repo.git("update-ref", "refs/remotes/origin/feature", "HEAD~1")
    remote = "https://builder:hunter2@git.example.com/org/app.git"  # keysweep:allow (fake)
    repo.git("remote", "add", "origin", remote)
    repo.commit({"README.md": "hello again\n"}, "later work")
    return repo


def history_report(repo: Repo, tmp_path: Path) -> Path:
    report = tmp_path / "leaks.json"
    run = keysweep("history", str(repo.path), "--format", "json", "--output", str(report))
    assert run.code == 1, run.stderr
    return report


@needs_filter_repo
def test_apply_rewrites_a_mirror_and_leaves_the_repository_alone(
    leaky: Repo, tmp_path: Path
) -> None:
    report = history_report(leaky, tmp_path)  # default report: secrets redacted
    before = snapshot(leaky.path)
    values = [key_id("gone"), secret_key("gone"), key_id("kept")]
    assert all(v.encode() in all_object_bytes(leaky.path) for v in values)

    into, expressions = tmp_path / "clean.git", tmp_path / "expr.txt"
    run = keysweep(
        "remediate", str(report), "--repo", str(leaky.path), "--apply",
        "--into", str(into), "--expressions", str(expressions),
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr

    assert snapshot(leaky.path) == before
    assert stat.S_IMODE(expressions.stat().st_mode) == 0o600
    assert sorted(expressions.read_text().splitlines()) == sorted(
        f"literal:{v}==>{REPLACEMENT}" for v in values
    )
    # Gone from every object of the mirror, reachable or not; the history scan agrees.
    data = all_object_bytes(into)
    assert not any(v.encode() in data for v in values)
    assert REPLACEMENT.encode() in data
    rescan = keysweep("history", str(into), "--include-unreachable", "--format", "json")
    assert rescan.code == 0, rescan.stdout
    assert "none of the 3 remediated value(s) remain" in run.stdout
    # The secret access key never reaches the terminal; the key IDs (identifiers) do.
    assert secret_key("gone") not in run.stdout + run.stderr
    assert key_id("gone") in run.stdout
    # Push commands: the remote's URL without its token, every rewritten ref.
    push = next(line for line in run.stdout.splitlines()[::-1] if " push --force " in line)
    assert "hunter2" not in run.stdout
    assert "https://***@git.example.com/org/app.git" in push
    specs = push.split()[6:]
    assert sorted(specs) == [
        "refs/heads/feature", "refs/heads/main", "refs/heads/side", "refs/tags/v1.0"
    ]  # fmt: skip
    for spec in specs:  # each names a ref of the rewritten mirror: the push would work
        mirror_ref = ["git", "-C", str(into), "rev-parse", "-q", "--verify", spec]
        assert subprocess.run(mirror_ref, capture_output=True).returncode == 0, spec


@pytest.mark.parametrize(
    ("secret_seed", "in_head", "refs"),
    [
        ("gone", "no", "refs/heads/main, refs/heads/side, refs/remotes/origin/feature, "
         "refs/tags/v1.0"),
        ("kept", "yes", "refs/heads/main, refs/heads/side"),
    ],
)  # fmt: skip
def test_plan_says_where_each_secret_lives(
    leaky: Repo, tmp_path: Path, secret_seed: str, in_head: str, refs: str
) -> None:
    report = history_report(leaky, tmp_path)
    run = keysweep("remediate", str(report), "--repo", str(leaky.path))
    assert run.code == 0, run.stdout + run.stderr
    block = run.stdout.split(f"aws-access-key-id {key_id(secret_seed)}\n", 1)[1].split("\n\n")[0]
    assert f"in HEAD:     {in_head}" in block
    assert f"refs:        {refs}\n" in block + "\n"
    assert "rewrite:" in block
    # Steps in order: deactivate before rewriting, rewrite before pushing.
    text = run.stdout
    assert text.index("keysweep deactivate") < text.index("filter-repo") < text.index("push")
    assert "HOLDS THE PLAIN SECRETS" in text
    default_expressions = leaky.path.parent / "repo.keysweep-expressions.txt"
    assert stat.S_IMODE(default_expressions.stat().st_mode) == 0o600


@pytest.mark.parametrize("scanned", [".", "from the parent", "absolute"])
def test_plan_from_a_working_tree_scan_report(tmp_path: Path, scanned: str) -> None:
    """A scan report names files as the scan was given them: ``.env`` from the top of the
    working tree, ``repo/.env`` from its parent, ``/abs/repo/.env`` for an absolute path."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"settings.env": env_text("tree")}, "settings")
    report = tmp_path / "scan.json"
    target, cwd = {
        ".": (".", repo.path),
        "from the parent": ("repo", tmp_path),
        "absolute": (str(repo.path), tmp_path),
    }[scanned]
    scan = keysweep("scan", target, "--format", "json", "--output", str(report), cwd=cwd)
    assert scan.code == 1, scan.stderr
    run = keysweep("remediate", str(report), "--repo", str(repo.path), cwd=cwd)
    assert run.code == 0, run.stdout + run.stderr
    assert "in HEAD:     yes" in run.stdout
    assert "refs:        refs/heads/main" in run.stdout


@needs_filter_repo
def test_secrets_in_commit_and_tag_messages_are_rewritten(tmp_path: Path) -> None:
    """A message finding was "CANNOT REMOVE: not committed ... remove it from the file"; the
    rewrite now replaces the values in commit and tag messages too (--replace-message)."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"a.txt": "hello\n"}, f"rotated creds\n\nold one: {env_text('in-commit')}")
    repo.commit({"b.txt": "more\n"}, "later work")
    repo.git("tag", "-a", "v1", "-m", f"release\n\n{env_text('in-tag')}")
    report = history_report(repo, tmp_path)
    plan = keysweep("remediate", str(report), "--repo", str(repo.path))
    assert plan.code == 0, plan.stdout + plan.stderr
    assert "CANNOT REMOVE" not in plan.stdout
    assert "message:     line 3 of commit" in plan.stdout
    assert "rewrite:     the tag refs/tags/v1 (its message)" in plan.stdout
    assert "--replace-message" in plan.stdout
    into = tmp_path / "clean.git"
    args = ("remediate", str(report), "--repo", str(repo.path), "--apply", "--into", str(into))
    applied = keysweep(*args)
    assert applied.code == 0, applied.stdout + applied.stderr
    assert "none of the 4 remediated value(s) remain" in applied.stdout
    values = [key_id("in-commit"), secret_key("in-commit"), key_id("in-tag"), secret_key("in-tag")]
    assert not any(v.encode() in all_object_bytes(into) for v in values)
    assert all(v.encode() in all_object_bytes(repo.path) for v in values)  # only read


def test_report_of_another_repository_cannot_be_planned(leaky: Repo, tmp_path: Path) -> None:
    report = history_report(leaky, tmp_path)
    other = Repo(tmp_path / "other")
    other.commit({"README.md": "nothing here\n"}, "start")
    run = keysweep("remediate", str(report), "--repo", str(other.path))
    assert run.code == 2
    assert "CANNOT REMOVE" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{report}", "--repo", "{repo}", "--apply"), "--apply needs --into DIR"),
        (("{report}", "--repo", "{repo}", "--apply", "--into", "{busy}"),
         "already exists and is not empty"),
        (("{report}", "--repo", "{repo}", "--apply", "--into", "{busy}/file"),
         "already exists and is not a directory"),
        (("{missing}", "--repo", "{repo}"), "cannot read report: no such file or directory"),
        (("{notjson}", "--repo", "{repo}"), "not a JSON report"),
        (("{report}", "--repo", "{busy}"), "not a git repository"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    leaky: Repo, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    report = history_report(leaky, tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    (tmp_path / "notjson.json").write_text("{")
    names = {
        "report": report, "repo": leaky.path, "busy": busy,
        "missing": tmp_path / "missing.json", "notjson": tmp_path / "notjson.json",
    }  # fmt: skip
    run = keysweep("remediate", *(a.format(**names) for a in args))
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_a_relative_report_target_read_elsewhere_asks_for_repo(leaky: Repo, tmp_path: Path) -> None:
    """``history .`` records the target as typed; read from another directory, that "." is not
    the repository, and the error says how to name it."""
    report = tmp_path / "relative.json"
    run = keysweep("history", ".", "-f", "json", "-o", str(report), cwd=leaky.path)
    assert run.code == 1, run.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = keysweep("remediate", str(report), cwd=elsewhere)
    assert run.code == 2
    assert "not a git repository" in run.stderr and "--repo" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.keysweep-expressions.txt"))


def test_missing_filter_repo_is_one_line(leaky: Repo, tmp_path: Path) -> None:
    report = history_report(leaky, tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)
    run = keysweep(
        "remediate", str(report), "--repo", str(leaky.path), "--apply",
        "--into", str(tmp_path / "clean.git"), env={"PATH": str(bin_dir)},
    )  # fmt: skip
    assert run.code == 2
    assert run.stderr.strip().splitlines()[-1].startswith("keysweep: error: git-filter-repo:")
    assert not (tmp_path / "clean.git").exists()


@needs_filter_repo
def test_a_repository_with_a_stash_is_rewritten(leaky: Repo, tmp_path: Path) -> None:
    """The mirror took the stash with it, and git-filter-repo refused it ("not a fresh
    clone"), leaving the mirror with every secret in it and the last line of its message."""
    (leaky.path / "README.md").write_text("work in progress\n")
    leaky.git("stash")
    report = history_report(leaky, tmp_path)
    into = tmp_path / "clean.git"
    args = ("remediate", str(report), "--repo", str(leaky.path), "--apply", "--into", str(into))
    run = keysweep(*args)
    assert run.code == 0, run.stdout + run.stderr
    assert key_id("kept").encode() not in all_object_bytes(into)
    assert leaky.git("stash", "list").strip()  # the user's own stash is left as it was


def test_a_failed_rewrite_removes_the_mirror_and_says_why(leaky: Repo, tmp_path: Path) -> None:
    report = history_report(leaky, tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git-filter-repo"
    fake.write_text(
        "#!/bin/sh\necho 'Aborting: this does not look like a fresh clone.' >&2\n"
        "echo 'anyway, use --force.' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    into = tmp_path / "clean.git"
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    args = ("remediate", str(report), "--repo", str(leaky.path), "--apply", "--into", str(into))
    run = keysweep(*args, env={"PATH": path})
    assert run.code == 2
    assert "does not look like a fresh clone" in run.stderr and "was removed" in run.stderr
    assert not into.exists()


@pytest.mark.parametrize("option", ["--expressions", "--into"])
def test_outputs_inside_the_repository_are_refused(
    leaky: Repo, tmp_path: Path, option: str
) -> None:
    report = history_report(leaky, tmp_path)
    inside = leaky.path / "deploy" / "out"
    run = keysweep("remediate", str(report), "--repo", str(leaky.path), option, str(inside))
    assert run.code == 2
    assert f"{option} {inside}: inside the repository" in run.stderr
    assert not inside.exists()


def test_an_existing_file_is_not_overwritten_by_the_expressions(
    leaky: Repo, tmp_path: Path
) -> None:
    """``--expressions`` naming the report (or any file an earlier plan did not write) would
    lose it; an earlier plan's expressions file is written over."""
    report = history_report(leaky, tmp_path)
    before = report.read_bytes()
    args = ("remediate", str(report), "--repo", str(leaky.path))
    run = keysweep(*args, "--expressions", str(report))
    assert run.code == 2
    assert f"--expressions {report}: already exists and is not an expressions file" in run.stderr
    assert report.read_bytes() == before
    earlier = tmp_path / "expr.txt"
    assert keysweep(*args, "--expressions", str(earlier)).code == 0
    first = earlier.read_bytes()
    again = keysweep(*args, "--expressions", str(earlier))
    assert again.code == 0, again.stderr
    assert earlier.read_bytes() == first


def test_the_printed_steps_name_the_expressions_file_in_full(leaky: Repo, tmp_path: Path) -> None:
    """``git -C DIR filter-repo --replace-text FILE`` runs in DIR: a relative FILE is lost."""
    report = history_report(leaky, tmp_path)
    args = ("remediate", str(report), "--repo", str(leaky.path), "--expressions", "expr.txt")
    run = keysweep(*args, cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert f"--replace-text {tmp_path / 'expr.txt'}" in run.stdout


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain-value", f"literal:plain-value==>{REPLACEMENT}"),
        ("a==>b", f"literal:a==>b==>{REPLACEMENT}"),
        ("line1\nline+2", f"regex:line1\\nline\\+2==>{REPLACEMENT}"),
    ],
)
def test_expression_lines(value: str, line: str) -> None:
    assert expressions_text([Secret("r", value, "label")]) == line + "\n"


@needs_filter_repo
def test_expressions_work_with_the_real_filter_repo(tmp_path: Path) -> None:
    """The awkward values (``==>`` inside, several lines) really leave history."""
    values = ["sk_" + "x" * 8 + "==>tail", "-----BEGIN KEY-----\nab+cd/ef\n-----END KEY-----"]
    repo = Repo(tmp_path / "repo")
    repo.commit({"a.txt": f"one {values[0]} two\n", "b.pem": values[1] + "\n"}, "secrets")
    mirror = tmp_path / "mirror.git"
    env = isolated_git_env()
    subprocess.run(
        ["git", "clone", "-q", "--mirror", "--no-local", str(repo.path), str(mirror)],
        env=env,
        check=True,
    )
    expr = tmp_path / "expr.txt"
    expr.write_text(expressions_text([Secret("r", v, "label") for v in values]))
    subprocess.run(
        ["git-filter-repo", "--quiet", "--replace-text", str(expr)],
        cwd=mirror,
        env=env,
        check=True,
        capture_output=True,
    )
    data = all_object_bytes(mirror)
    assert not any(v.encode() in data for v in values)
    assert data.count(REPLACEMENT.encode()) == 2


def test_a_branch_behind_its_remote_is_named_and_apply_refused(leaky: Repo, tmp_path: Path) -> None:
    """origin/main has a commit main lacks (fetched, not merged): git-filter-repo keeps main
    and drops origin/main, and force-pushing main would delete that commit from the remote."""
    leaky.git("checkout", "-q", "-b", "upstream")
    ahead = leaky.commit({"NEWS": "pushed by a colleague\n"}, "their work")
    leaky.git("checkout", "-q", "main")
    leaky.git("branch", "-q", "-D", "upstream")
    leaky.git("update-ref", "refs/remotes/origin/main", ahead)
    report = history_report(leaky, tmp_path)
    plan = keysweep("remediate", str(report), "--repo", str(leaky.path))
    assert plan.code == 2
    assert "BRANCH BEHIND ITS REMOTE: main" in plan.stdout
    into = tmp_path / "clean.git"
    args = ("remediate", str(report), "--repo", str(leaky.path), "--apply", "--into", str(into))
    applied = keysweep(*args)
    assert applied.code == 2 and "--apply refused: main behind origin" in applied.stderr
    assert not into.exists()


@pytest.mark.parametrize(
    ("refs", "specs"),
    [
        (["refs/heads/main", "refs/tags/v1"], ["refs/heads/main", "refs/tags/v1"]),
        (  # git-filter-repo has moved origin/dev to refs/heads/dev in the mirror
            ["refs/remotes/origin/main", "refs/heads/main", "refs/remotes/origin/dev"],
            ["refs/heads/main", "refs/heads/dev"],
        ),
        (["refs/stash", "refs/remotes/origin/HEAD", "refs/remotes/fork/x"], []),
    ],
)
def test_push_refspecs(refs: list[str], specs: list[str]) -> None:
    assert push_refspecs(refs) == specs


def test_remediate_never_needs_show_secrets(leaky: Repo, tmp_path: Path) -> None:
    """The report keysweep reads holds no plain secret, and neither does anything it prints."""
    report = history_report(leaky, tmp_path)
    assert secret_key("gone") not in report.read_text()
    run = keysweep("remediate", str(report), "--repo", str(leaky.path))
    assert run.code == 0
    assert secret_key("gone") not in run.stdout + run.stderr
    assert os.path.exists(leaky.path.parent / "repo.keysweep-expressions.txt")


@needs_filter_repo
def test_an_encoded_secret_is_removed_in_its_encoded_form(tmp_path: Path) -> None:
    """A credential found only after base64 decoding is in the blob as base64: that span is
    what the rewrite replaces."""
    encoded = base64.b64encode(env_text("b64").encode()).decode()
    repo = Repo(tmp_path / "repo")
    repo.commit({"k8s/secret.yaml": f"kind: Secret\ndata:\n  credentials: {encoded}\n"}, "add")
    repo.commit({"k8s/secret.yaml": None}, "drop")
    report = history_report(repo, tmp_path)
    assert all(f["encoding"] == "base64" for f in json.loads(report.read_text())["findings"])
    into = tmp_path / "clean.git"
    run = keysweep(
        "remediate", str(report), "--repo", str(repo.path), "--apply", "--into", str(into)
    )
    assert run.code == 0, run.stdout + run.stderr
    assert encoded.encode() not in all_object_bytes(into)


def test_plan_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Paths and commit subjects are shown escaped: an ESC sequence or a newline in a file
    name cannot colour the screen or forge a line of the plan."""
    repo = Repo(tmp_path / "repo")
    repo.commit({"evil\x1b[31m\nin HEAD:     no.env": env_text("esc")}, "subject \x1b]0;owned\x07")
    report = history_report(repo, tmp_path)
    run = keysweep("remediate", str(report), "--repo", str(repo.path))
    assert run.code == 0, run.stdout + run.stderr
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    assert "evil\\x1b[31m\\nin HEAD:     no.env:1" in run.stdout
