"""The wheel is what users install: build it, install it in a fresh venv, scan with it.

This proves the rule packs ship inside the package (``scanner/packs``) and that the installed
``keysweep`` works without the source checkout. Dependencies come from the package index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.keys import key_id
from support.samples import env_text

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(argv: list[str], *, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_wheel_installs_and_scans_with_packaged_rules(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheels = list(dist.glob("keysweep-*.whl"))
    assert len(wheels) == 1

    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bin_dir = venv / "bin"
    installed = run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-2000:]

    # The installed package, not this checkout, and its rules are inside it.
    where = run(
        [
            str(bin_dir / "python"),
            "-c",
            "import pathlib, scanner; p = pathlib.Path(scanner.__file__).parent / 'packs';"
            "print(p); print(sorted(x.name for x in p.glob('*.yaml')))",
        ],
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    packs_dir, names = where.stdout.splitlines()
    assert packs_dir.startswith(str(venv))
    assert names != "[]"

    target = tmp_path / "project"
    target.mkdir()
    (target / ".env").write_text(env_text(7), encoding="utf-8")
    (target / "clean.py").write_text("print('hello')\n", encoding="utf-8")

    scan = run(
        [str(bin_dir / "keysweep"), "scan", str(target), "--format", "json", "--show-secrets"],
        cwd=tmp_path,
    )
    assert scan.returncode == 1, scan.stderr
    report = json.loads(scan.stdout)
    assert key_id(7) in {f["secret"] for f in report["findings"]}
    assert report["scan"]["files_scanned"] == 2

    # The HTML template ships inside the package (and Jinja2 comes with it).
    page = run([str(bin_dir / "keysweep"), "scan", str(target), "--format", "html"], cwd=tmp_path)
    assert page.returncode == 1, page.stderr
    assert key_id(7) in page.stdout and "</html>" in page.stdout

    clean = run([str(bin_dir / "keysweep"), "scan", str(target / "clean.py")], cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr

    rules = run([str(bin_dir / "keysweep"), "rules", "list"], cwd=tmp_path)
    assert rules.returncode == 0, rules.stderr
    assert "aws" in rules.stdout.lower()

    version = run([str(bin_dir / "keysweep"), "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("keysweep ")


# What the tests read besides tests/ itself (tests/support/ holds every shared helper; the
# engine equivalence test runs the AWS detection benchmark's corpus from bench/).
SDIST_NEEDS = (
    "examples",
    ".ci/run",
    ".gitattributes",
    ".keysweep.toml",
    ".keysweep-baseline.jsonl",
    ".pre-commit-config.yaml",
    ".pre-commit-hooks.yaml",
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "docs",
    "bench/README.md",
    "bench/bench_detection.py",
    "rules",
)


def test_sdist_ships_what_the_tests_read(tmp_path: Path) -> None:
    import tarfile

    dist = tmp_path / "dist"
    built = run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(REPO)], cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (sdist,) = dist.glob("keysweep-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(
        ["git", "ls-files", "tests", *SDIST_NEEDS],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "tests/support/repo.py" in tracked
    missing = sorted(path for path in tracked if path not in names)
    assert not missing, f"not in the sdist: {missing}"
