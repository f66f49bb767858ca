"""The benchmark commands the README and bench/README.md give still run, on a small repository.

They are how every speed figure is produced; none of them is timed here. Each runs as
documented, in a new interpreter, with its reports in the test's own directory (``--work``),
never in the checkout.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.keys import env_text
from support.repo import Repo
from support.run import keysweep

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _bench(script: str, *args: str | Path, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def leaky(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit({"app.py": "print('hello')\n"}, "start")
    repo.commit({".env": env_text("bench-scripts")}, "configure")
    return repo


def _line(out: str, start: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith(start)]
    return line


def test_bench_history_measures_keysweep_against_cat_file(leaky: Repo, tmp_path: Path) -> None:
    work = tmp_path / "work"
    out = _bench(
        "bench_history.py", "--repo", leaky.path, "--runs", "1", "--no-peers", "--no-pure",
        "--work", work, cwd=tmp_path,
    )  # fmt: skip
    assert "ratio  1.00" in _line(out, "git cat-file (baseline)")
    assert "exit 1" in _line(out, "keysweep history")  # found the key: exit 1, not 2
    assert _line(out, "issue 10 targets:")
    assert (work / "bench_history-repo.json").is_file()


def test_bench_scan_measures_a_tree(leaky: Repo, tmp_path: Path) -> None:
    work = tmp_path / "work"
    out = _bench(
        "bench_scan.py", "--tree", leaky.path, "--repeat", "1", "--work", work, cwd=tmp_path
    )
    assert "2 findings" in _line(out, "keysweep scan:")
    assert (work / "keysweep-report.json").is_file()


def test_bench_phases_splits_a_history_run(leaky: Repo, tmp_path: Path) -> None:
    out = _bench("bench_phases.py", leaky.path, cwd=tmp_path)
    summary = _line(out, "repo: keysweep history")
    assert "2 findings" in summary and "exit 1" in summary
    phases = out.splitlines()[-1].split()
    assert phases[0::2] == ["read", "prefilter", "match", "confirm", "decode", "attribute", "other"]


def test_bench_line_screen_counts_quiet_blobs(leaky: Repo, tmp_path: Path) -> None:
    out = _bench("bench_line_screen.py", leaky.path, "--top", "3", cwd=tmp_path)
    assert _line(out, f"{leaky.path}:").endswith("2 blobs, 0 MiB")
    # app.py says nothing a rule needs; the .env's key ID is the core of a rule
    assert _line(out, "quiet blobs:").startswith("quiet blobs: 1 (")
    assert "made loud by core of aws-access-key-id" in out


def test_bench_report_memory_writes_both_formats_in_pieces(tmp_path: Path) -> None:
    out = _bench("bench_report_memory.py", "--findings", "300", "--runs", "1", cwd=tmp_path)
    for name in ("json", "sarif"):
        line = _line(out, name)
        assert "json.dumps (baseline)" in line and "ratios: time" in line


@pytest.mark.parametrize("kind", ["dumps", "tokens"])
def test_make_secrets_repo_builds_a_history_full_of_secrets(tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.git"
    _bench(
        "make_secrets_repo.py", "--kind", kind, "--commits", "3", "--size", "6000",
        "--out", out, cwd=tmp_path,
    )  # fmt: skip
    run = keysweep("history", str(out), "-f", "json", "--show-secrets")
    assert run.code == 1, run.stderr
    reported = {f["secret"] for f in run.report["findings"]}
    # every value the files hold is reported: dumps in commits 0 and 2 (a key ID and its
    # secret a row; commit 1 is text without any), tokens in every commit
    names = (
        ["dump0.json", "dump2.json"] if kind == "dumps" else [f"tokens{i}.txt" for i in (0, 1, 2)]
    )
    shape = (
        r'"aws_(?:access_key_id|secret_access_key)": "([^"]+)"' if kind == "dumps" else r"= (\S+)"
    )
    planted = set()
    for name in names:
        text = subprocess.run(
            ["git", "--git-dir", str(out), "show", f"HEAD:{name}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        planted |= set(re.findall(shape, text))
    assert len(planted) >= 8 * len(names)
    assert planted <= reported
