"""A file name that is not UTF-8 is written the same way by ``scan``, ``history`` and the
staged hook, in every format, and reads back to the same bytes (issue 9, item 8).

In memory a name is ``os.fsdecode`` text (surrogateescape); JSON writes each undecodable
byte as the escape ``\\udcXX`` (read back by any JSON reader as the same string, which
``os.fsencode`` turns back into the bytes); SARIF URIs percent-encode the bytes (``%FF``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from support.keys import make_credential
from support.repo import git, init_repo
from support.run import run_keysweep

NAME = b"cr\xffds.env"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "repo")
    cred = make_credential("nonutf8")
    (path / os.fsdecode(NAME)).write_text(cred.env_text())
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "add")
    return path


@pytest.mark.parametrize("command", [("scan", "."), ("history", "."), ("staged",)])
def test_name_reads_back_in_json_and_sarif(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    if command == ("staged",):
        (repo / os.fsdecode(NAME)).write_text(make_credential("nonutf8-staged").env_text())
        git(repo, "add", "-A")
    home = tmp_path / "home"
    as_json = run_keysweep([*command, "--format", "json"], cwd=repo, home=home)
    assert as_json.returncode == 1, as_json.stderr
    assert b"\\\\xff" not in as_json.stdout  # never the literal text \xff
    paths = {f["path"] for f in json.loads(as_json.stdout)["findings"]}
    assert paths and all(os.fsencode(p).endswith(NAME) for p in paths), paths

    as_sarif = run_keysweep([*command, "--format", "sarif"], cwd=repo, home=home)
    assert as_sarif.returncode == 1, as_sarif.stderr
    results = json.loads(as_sarif.stdout)["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris and all(unquote_to_bytes(u).endswith(NAME) for u in uris), uris
    assert all("%FF" in u and "%5C" not in u for u in uris), uris


def test_history_and_scan_agree(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    scanned = run_keysweep(["scan", ".", "--format", "json"], cwd=repo, home=home)
    history = run_keysweep(["history", ".", "--format", "json"], cwd=repo, home=home)
    norm = lambda out: {f["path"].removeprefix("./") for f in json.loads(out)["findings"]}  # noqa: E731
    assert norm(scanned.stdout) == norm(history.stdout)
