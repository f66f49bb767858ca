"""The CI examples (examples/ci/), docs/ci.md that shows them, and the project's own gate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.keys import env_text
from support.repo import identity_env

from scanner.config import load_config
from scanner.ignore.baseline import load_baseline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "ci"
EXAMPLE_FILES = (
    "github-actions.yml",
    "gitlab-ci.yml",
    "keysweep-gate.sh",
    "pre-commit-config.yaml",
)
GIT_DATE = "2024-02-03T04:05:06+00:00"


def load_yaml(name: str) -> Any:
    return yaml.safe_load((EXAMPLES / name).read_text())


def readme_section(name: str) -> str:
    text = (ROOT / "docs" / "ci.md").read_text()
    start = text.index(f"<!-- section:{name} -->")
    return text[start : text.index(f"<!-- /section:{name} -->")]


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_readme_shows_each_example_verbatim(name: str) -> None:
    section = readme_section("ci")
    assert f"(../examples/ci/{name})" in section
    assert (EXAMPLES / name).read_text() in section


def test_github_actions_workflow() -> None:
    workflow = load_yaml("github-actions.yml")
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "pull_request"}
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["keysweep"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    runs = [s["run"] for s in steps if "run" in s]
    assert any("keysweep history . $KEYSWEEP_SINCE --format github" in r for r in runs)
    assert any("--format sarif --output keysweep.sarif" in r for r in runs)
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "keysweep.sarif"


def _range_step() -> str:
    steps = load_yaml("github-actions.yml")["jobs"]["keysweep"]["steps"]
    step = next(s for s in steps if s.get("name") == "Commit range of this push or pull request")
    assert "github.event.pull_request.base.sha" in step["env"]["BASE"]
    script: str = step["run"]
    return script


@pytest.mark.parametrize("case", ["known", "zeros", "empty", "unknown"])
def test_github_range_step_really_picks_the_base(tmp_path: Path, case: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, **identity_env(GIT_DATE)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True, env=env
    )
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    base = {"known": head, "zeros": "0" * 40, "empty": "", "unknown": "1" * 40}[case]
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    subprocess.run(
        ["bash", "-e", "-c", _range_step()],
        cwd=repo,
        check=True,
        env={**env, "BASE": base, "GITHUB_ENV": str(github_env)},
    )
    expected = f"KEYSWEEP_SINCE=--since={head}\n" if case == "known" else ""
    assert github_env.read_text() == expected


def test_github_range_step_fails_in_a_shallow_clone(tmp_path: Path) -> None:
    """fetch-depth 1: the pushed range is not in the clone, and a full-history fallback would
    scan one commit and pass; the step fails the job instead."""
    env = {**os.environ, **identity_env(GIT_DATE)}
    origin = tmp_path / "origin"
    origin.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=origin, check=True, env=env)
    for message in ("one", "two"):
        subprocess.run(
            ["git", "commit", "-q", "--allow-empty", "-m", message], cwd=origin, check=True, env=env
        )
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth=1", f"file://{origin}", str(clone)], check=True, env=env
    )
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    done = subprocess.run(
        ["bash", "-e", "-c", _range_step()],
        cwd=clone,
        env={**env, "BASE": "1" * 40, "GITHUB_ENV": str(github_env)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "::error::" in done.stdout and "fetch-depth: 0" in done.stdout
    assert github_env.read_text() == ""


def test_gitlab_ci_job() -> None:
    job = load_yaml("gitlab-ci.yml")["keysweep"]
    assert job["variables"]["GIT_DEPTH"] == "0"
    script = "\n".join(job["script"])
    assert "$CI_MERGE_REQUEST_DIFF_BASE_SHA" in script
    assert "--is-shallow-repository" in script
    assert "--format gitlab --output gl-secret-detection-report.json" in script
    assert job["artifacts"]["reports"]["secret_detection"] == "gl-secret-detection-report.json"
    assert job["artifacts"]["when"] == "always"


def _pre_commit(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_pre_commit_example_is_a_valid_config() -> None:
    config = load_yaml("pre-commit-config.yaml")
    (repo,) = config["repos"]
    assert [hook["id"] for hook in repo["hooks"]] == ["keysweep"]
    done = _pre_commit("validate-config", str(EXAMPLES / "pre-commit-config.yaml"), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert "keysweep" in [hook["id"] for hook in hooks]


# --------------------------------------------------------------------------- shell gate


def _shim_env(tmp_path: Path) -> dict[str, str]:
    """PATH with a `keysweep` that runs this checkout (as `pip install` would provide)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "keysweep"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scanner "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        **identity_env(GIT_DATE),
    }


def test_shell_gate_script_runs_for_real(tmp_path: Path) -> None:
    env = _shim_env(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)

    sh("git", "init", "-q", "-b", "main")
    (repo / "app.py").write_text("print('hello')\n")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "clean")
    base = sh("git", "rev-parse", "HEAD").stdout.strip()
    gate = str(EXAMPLES / "keysweep-gate.sh")
    clean = sh("sh", gate, base)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    (repo / "prod.env").write_text(env_text(50))
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "oops")
    dirty = sh("sh", gate, base)
    assert dirty.returncode == 1, dirty.stdout + dirty.stderr
    assert "prod.env" in dirty.stdout

    broken = sh("sh", gate, "no-such-ref")
    assert broken.returncode == 2

    shallow = tmp_path / "shallow"
    sh("git", "clone", "-q", "--depth=1", f"file://{repo}", str(shallow))
    cut = subprocess.run(
        ["sh", gate], cwd=shallow, env=env, capture_output=True, text=True, check=False
    )
    assert cut.returncode == 2, cut.stdout + cut.stderr
    assert "shallow clone" in cut.stderr


# --------------------------------------------------------------------------- dogfood


def test_project_pre_commit_config_runs_the_local_hook(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    assert repo["repo"] == "local"
    (hook,) = repo["hooks"]
    shipped = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    assert hook["entry"] == shipped["entry"] == "keysweep staged --hook"
    assert hook["language"] in ("system", "python")
    assert hook.get("pass_filenames", True) is shipped["pass_filenames"] is True

    # The real pre-commit framework, the project's own config, a throwaway repository.
    env = _shim_env(tmp_path)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, env=env, check=True)
    shutil.copy(ROOT / ".pre-commit-config.yaml", work / ".pre-commit-config.yaml")
    (work / "ok.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "-A"], cwd=work, env=env, check=True)
    passed = _pre_commit("run", "keysweep", cwd=work, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    (work / "leak.env").write_text(env_text(51))
    subprocess.run(["git", "add", "leak.env"], cwd=work, env=env, check=True)
    blocked = _pre_commit("run", "keysweep", cwd=work, env=env)
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "leak.env" in blocked.stdout


def test_project_config_and_baseline_are_valid() -> None:
    config = load_config(None, ROOT)
    assert config.source == ROOT / ".keysweep.toml"
    assert config.baseline == ROOT / ".keysweep-baseline.jsonl"
    load_baseline(config.baseline)  # raises when malformed
    attributes = (ROOT / ".gitattributes").read_text()
    assert ".keysweep-baseline.jsonl merge=union" in attributes


def test_ci_run_dogfoods_scan_and_history_with_the_project_config() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    pytest_at = script.index("pytest")
    for line in (
        "python3 -m scanner scan . --config .keysweep.toml",
        "python3 -m scanner history . --config .keysweep.toml",
    ):
        assert line in script
        assert script.index(line) > pytest_at  # after the tests
    assert "set -euo pipefail" in script


@pytest.mark.parametrize(
    "command",
    [
        "python3 -m ruff check scanner tests bench",
        "python3 -m ruff format --check scanner tests bench",
        "python3 -m mypy",
    ],
)
def test_ci_run_lints_and_type_checks(command: str) -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert command in script.splitlines()
    assert script.index(command) > script.index("pytest")  # after the install and the tests


def test_project_working_tree_scans_clean_with_its_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", ".", "--config", ".keysweep.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlab_script_after_a_force_push_scans_all_history(tmp_path: Path) -> None:
    """A force-push: CI_COMMIT_BEFORE_SHA is the old tip, which the runner never fetched.
    The job scans all history (as the GitHub example does); it exited 2 ("unknown revision")
    on every force-push, a gate no re-run could get past."""
    env = _shim_env(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    (repo / "prod.env").write_text(env_text("gitlab-force-push"))
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "oops"], cwd=repo, env=env, check=True)
    script = "\n".join(load_yaml("gitlab-ci.yml")["keysweep"]["script"])
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=repo,
        env={**env, "CI_MERGE_REQUEST_DIFF_BASE_SHA": "", "CI_COMMIT_BEFORE_SHA": "1" * 40},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = (repo / "gl-secret-detection-report.json").read_text()
    assert "prod.env" in report
