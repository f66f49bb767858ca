"""The CI gate end to end, as a team adopting keysweep would try it.

A real git repository in tmp_path holds old, accepted secrets. The team writes a baseline,
commits it, and from then on the gate (scan, history, staged) fails only on NEW secrets.
keysweep runs as a subprocess (``python -m scanner``), exactly as CI runs it. Every key is
built at run time (tests/support/keys.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.keys import env_text, key_id, secret_key
from support.repo import Repo
from support.run import Run, keysweep_process

BASELINE = ".keysweep-baseline.jsonl"


# --------------------------------------------------------------------------- helpers


def git(repo: Path, *args: str) -> str:
    return Repo(repo, init=False).git(*args)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def new_repo(path: Path) -> Path:
    return Repo(path).path


def keysweep(cwd: Path, *args: str) -> Run:
    """``python -m scanner ARGS`` in ``cwd``, exactly as CI runs it."""
    return keysweep_process(cwd, *args)


def assert_no_secret_leaked(text: str, *seeds: int) -> None:
    """No secret access key in ``text`` (key IDs are identifiers: reports show them)."""
    for seed in seeds:
        assert secret_key(seed) not in text


@pytest.fixture
def adopted(tmp_path: Path) -> Path:
    """A repository with two old accepted credentials, a config and a committed baseline."""
    repo = new_repo(tmp_path / "repo")
    (repo / "deploy").mkdir()
    (repo / "deploy" / "old.env").write_text("# legacy, rotated in 2023\n" + env_text(1))
    (repo / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key_id(2)}"\nDEBUG = False\n')
    (repo / "README.md").write_text("demo\n")
    commit_all(repo, "old code with old keys")

    created = keysweep(repo, "baseline", "create", ".", "--output", BASELINE)
    assert created.code == 0, created.stderr
    (repo / ".keysweep.toml").write_text(f'[baseline]\npath = "{BASELINE}"\n')
    commit_all(repo, "adopt keysweep with a baseline")
    return repo


# --------------------------------------------------------------------------- the gate


@pytest.mark.parametrize(
    "order",
    [("--history", "."), (".", "--history"), ("--output", "h.jsonl", "--history", ".")],
)
def test_options_before_or_after_the_path(adopted: Path, order: tuple[str, ...]) -> None:
    """``baseline create --history .`` said "unrecognized arguments: ." (the one positional
    list took ``create`` and left the path over)."""
    args = order if "--output" in order else (*order, "--output", "h.jsonl")
    run = keysweep(adopted, "baseline", "create", *args)
    assert run.code == 0, run.stderr
    assert len((adopted / "h.jsonl").read_text().splitlines()) > 1  # a header, then entries


def test_baseline_file_holds_no_secret_and_no_line_numbers(adopted: Path) -> None:
    text = (adopted / BASELINE).read_text()
    assert_no_secret_leaked(text, 1, 2)
    assert key_id(1) not in text and key_id(2) not in text
    lines = text.splitlines()
    assert lines[0] == '{"keysweep_baseline": 1}'
    entries = [json.loads(line) for line in lines[1:]]
    assert entries, "the old keys must be listed"
    assert {e["path"] for e in entries} == {"deploy/old.env", "settings.py"}
    assert all(set(e) == {"path", "rule_id", "fingerprint"} for e in entries)
    assert lines[1:] == sorted(lines[1:], key=lambda s: (json.loads(s)["path"], s))


def test_gate_is_quiet_on_accepted_secrets(adopted: Path) -> None:
    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 0, scan.stderr
    assert scan.findings == []
    assert any("suppressed" in note for note in scan.report["scan"]["notes"])
    history = keysweep(adopted, "history", ".", "--format", "json")
    assert history.code == 0, history.stderr
    assert history.findings == []
    # the table's reader sees what was held back too, on stderr before the summary line
    table = keysweep(adopted, "history", ".")
    lines = table.stderr.strip().splitlines()
    assert lines[-2].startswith("keysweep: note: baseline "), lines
    assert "3 known finding(s) suppressed" in lines[-2], lines  # key IDs and the secret
    clean = keysweep(adopted, "scan", "README.md")  # nothing held back: nothing to note
    assert "note:" not in clean.stderr, clean.stderr


def test_without_baseline_the_old_keys_are_reported(adopted: Path) -> None:
    (adopted / ".keysweep.toml").unlink()
    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 1
    assert scan.paths() == {"deploy/old.env", "settings.py"}


def test_new_key_on_a_branch_fails_only_for_the_new_key(adopted: Path) -> None:
    git(adopted, "checkout", "-q", "-b", "feature")
    (adopted / "service.py").write_text(f'KEY = "{key_id(3)}"\nSECRET = "{secret_key(3)}"\n')
    commit_all(adopted, "feature with a new key")

    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 1, scan.stderr
    assert scan.paths() == {"service.py"}
    assert_no_secret_leaked(scan.stdout + scan.stderr, 1, 2, 3)

    history = keysweep(adopted, "history", ".", "--format", "json")
    assert history.code == 1, history.stderr
    assert history.paths() == {"service.py"}

    ranged = keysweep(adopted, "history", ".", "--since", "main", "--format", "json")
    assert ranged.code == 1, ranged.stderr
    assert ranged.paths() == {"service.py"}

    github = keysweep(adopted, "history", ".", "--since", "main", "--format", "github")
    assert github.code == 1
    annotations = [line for line in github.stdout.splitlines() if line.startswith("::")]
    assert annotations and all("file=service.py" in line for line in annotations)


def test_scan_from_outside_the_repository_uses_root_relative_paths(adopted: Path) -> None:
    outside = keysweep(adopted.parent, "scan", str(adopted), "--format", "json")
    assert outside.code == 0, outside.stderr + outside.stdout


def test_moving_code_keeps_the_gate_quiet(adopted: Path) -> None:
    old = adopted / "deploy" / "old.env"
    old.write_text("# moved around\n\n\nREGION=eu-west-1\n" + old.read_text() + "EXTRA=1\n")
    settings = adopted / "settings.py"
    settings.write_text("import os\n\n\n" + settings.read_text())
    commit_all(adopted, "move code")
    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 0, scan.stdout
    history = keysweep(adopted, "history", ".", "--format", "json")
    assert history.code == 0, history.stdout


def test_different_secret_on_a_listed_line_is_reported(adopted: Path) -> None:
    settings = adopted / "settings.py"
    settings.write_text(settings.read_text().replace(key_id(2), key_id(4)))
    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 1
    (finding,) = scan.findings
    assert finding["path"] == "settings.py" and finding["line"] == 1
    assert finding["fingerprint"] not in (adopted / BASELINE).read_text()


def test_same_secret_at_a_new_path_is_reported_with_a_note(adopted: Path) -> None:
    (adopted / "copy.py").write_text((adopted / "settings.py").read_text())
    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 1
    (finding,) = scan.findings
    assert finding["path"] == "copy.py"
    assert finding["notes"] == [
        "same secret already known in the baseline at settings.py; it has spread"
    ]


def test_expired_entry_speaks_again_with_a_note(adopted: Path) -> None:
    path = adopted / BASELINE
    lines = path.read_text().splitlines()
    edited = [lines[0]]
    for line in lines[1:]:
        entry = json.loads(line)
        if entry["path"] == "settings.py":
            entry.update(reason="rotated", owner="ops", expires="2020-01-01")
        else:
            entry.update(reason="rotated", owner="ops", expires="2999-01-01")
        edited.append(json.dumps(entry))
    path.write_text("\n".join(edited) + "\n")
    scan = keysweep(adopted, "scan", ".", "--format", "json")
    assert scan.code == 1
    (finding,) = scan.findings
    assert finding["path"] == "settings.py"
    assert finding["notes"] == ["baseline entry expired on 2020-01-01 (owner: ops)"]


def test_update_keeps_metadata_and_prune_drops_gone_secrets(adopted: Path) -> None:
    path = adopted / BASELINE
    lines = path.read_text().splitlines()
    first = json.loads(lines[1])
    first.update(reason="accepted", owner="sec", expires="2999-12-31")
    lines[1] = json.dumps(first)
    path.write_text("\n".join(lines) + "\n")

    (adopted / "new.env").write_text(env_text(5))
    updated = keysweep(adopted, "baseline", "update", ".")  # file from the config
    assert updated.code == 0, updated.stderr
    text = path.read_text()
    assert '"reason": "accepted"' in text and '"owner": "sec"' in text
    assert '"new.env"' in text
    assert_no_secret_leaked(text, 1, 2, 5)
    assert keysweep(adopted, "scan", ".", "--format", "json").code == 0

    (adopted / "settings.py").write_text("DEBUG = False\n")
    pruned = keysweep(adopted, "baseline", "prune", ".")
    assert pruned.code == 0, pruned.stderr
    text = path.read_text()
    assert '"settings.py"' not in text
    assert '"new.env"' in text and '"deploy/old.env"' in text
    assert "removed" in pruned.stderr


def test_create_refuses_to_overwrite(adopted: Path) -> None:
    again = keysweep(adopted, "baseline", "create", ".", "--output", BASELINE)
    assert again.code == 2
    assert "already exists" in again.stderr
    forced = keysweep(adopted, "baseline", "create", ".", "--output", BASELINE, "--force")
    assert forced.code == 0


def test_create_force_replaces_only_a_baseline(adopted: Path) -> None:
    """``--output`` naming the scanned credential file by mistake: --force replaced it with
    the baseline, and the only copy of the credential was gone."""
    scanned = adopted / "deploy" / "old.env"
    before = scanned.read_bytes()
    forced = keysweep(adopted, "baseline", "create", ".", "--output", "deploy/old.env", "--force")
    assert forced.code == 2, forced.stderr
    assert "deploy/old.env exists and is not a keysweep baseline" in forced.stderr
    assert scanned.read_bytes() == before
    (adopted / "empty.jsonl").write_text("")  # an empty file holds nothing to lose
    emptied = keysweep(adopted, "baseline", "create", ".", "--output", "empty.jsonl", "--force")
    assert emptied.code == 0, emptied.stderr


def test_baseline_from_history(adopted: Path) -> None:
    (adopted / "settings.py").write_text("DEBUG = False\n")  # removed, but still in history
    commit_all(adopted, "remove key")
    tree = keysweep(adopted, "baseline", "create", ".", "--output", "tree.jsonl")
    assert tree.code == 0, tree.stderr
    hist = keysweep(adopted, "baseline", "create", ".", "--history", "--output", "hist.jsonl")
    assert hist.code == 0, hist.stderr
    assert '"settings.py"' not in (adopted / "tree.jsonl").read_text()
    assert '"settings.py"' in (adopted / "hist.jsonl").read_text()
    gate = keysweep(adopted, "history", ".", "--baseline", "hist.jsonl", "--format", "json")
    assert gate.code == 0, gate.stdout


def test_staged_honours_the_baseline(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / "old.env").write_text(env_text(6))
    assert keysweep(repo, "baseline", "create", ".", "--output", BASELINE).code == 0
    git(repo, "add", "-A")
    unfiltered = keysweep(repo, "staged", "--format", "json")
    assert unfiltered.code == 1
    staged = keysweep(repo, "staged", "--format", "json", "--baseline", BASELINE)
    assert staged.code == 0, staged.stdout + staged.stderr
    without = keysweep(repo, "staged", "--format", "json", "--baseline", os.devnull)
    assert without.code == 2  # an empty file is not a baseline: never silently ignored
    git(repo, "commit", "-q", "-m", "old")
    (repo / "new.env").write_text(env_text(7))
    git(repo, "add", "new.env")
    staged = keysweep(repo, "staged", "--format", "json", "--baseline", BASELINE)
    assert staged.code == 1
    assert staged.paths() == {"new.env"}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json\n", "line 1: invalid JSON"),
        ('{"version": 1}\n', "not a keysweep baseline"),
        ('{"keysweep_baseline": 1}\n{"path": "x"}\n', "line 2"),
        ("", "empty file"),
    ],
)
def test_malformed_baseline_exits_2_with_one_line(
    adopted: Path, content: str, expected: str
) -> None:
    (adopted / BASELINE).write_text(content)
    for command in (["scan", "."], ["history", "."], ["staged"]):
        run = keysweep(adopted, *command)
        assert run.code == 2, (command, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("keysweep: error: baseline ")
        assert expected in lines[0]
        assert "Traceback" not in run.stderr


def test_missing_baseline_named_on_the_command_line(adopted: Path) -> None:
    run = keysweep(adopted, "scan", ".", "--baseline", "nope.jsonl")
    assert run.code == 2
    assert run.stderr.strip() == "keysweep: error: baseline nope.jsonl: file not found"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[scan]\nmax_file_sise = 10\n", "key 'scan.max_file_sise': unknown key"),
        ('[baseline]\npath = "/etc/baseline.jsonl"\n', "key 'baseline.path': absolute paths"),
        ("[scan\n", "invalid TOML"),
        ('[rules]\ndisable = ["no-such-rule"]\n', "key 'rules.disable'"),
        ('[rules]\npacks = ["missing.yaml"]\n', "key 'rules.packs[0]': rule pack"),
    ],
)
def test_malformed_config_exits_2_with_one_line(adopted: Path, config: str, expected: str) -> None:
    (adopted / ".keysweep.toml").write_text(config)
    for command in (
        ["scan", "."],
        ["history", "."],
        ["staged"],
        ["baseline", "update", ".", "-o", BASELINE],
    ):
        run = keysweep(adopted, *command)
        assert run.code == 2, (command, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("keysweep: error: config file ")
        assert ".keysweep.toml" in lines[0] and expected in lines[0]


# --------------------------------------------------------------------------- merging


def _branch_adds_key(repo: Path, branch: str, filename: str, seed: int) -> None:
    git(repo, "checkout", "-q", "-b", branch, "main")
    (repo / filename).write_text(env_text(seed))
    run = keysweep(repo, "baseline", "update", ".")
    assert run.code == 0, run.stderr
    commit_all(repo, f"accept {filename}")
    git(repo, "checkout", "-q", "main")


def _merge(repo: Path, branch: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "merge", "--no-edit", "-q", branch],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=Repo(repo, init=False).env(),
    )


def test_two_branches_updating_the_baseline_merge_cleanly(adopted: Path) -> None:
    # New files sort into different places of the baseline: a plain merge has no conflict.
    _branch_adds_key(adopted, "team-a", "alpha.env", 10)
    _branch_adds_key(adopted, "team-b", "zulu.env", 11)
    for branch in ("team-a", "team-b"):
        merged = _merge(adopted, branch)
        assert merged.returncode == 0, merged.stdout + merged.stderr
    text = (adopted / BASELINE).read_text()
    assert '"alpha.env"' in text and '"zulu.env"' in text
    run = keysweep(adopted, "scan", ".", "--format", "json")
    assert run.code == 0, run.stdout + run.stderr


def test_same_spot_additions_merge_with_the_documented_union_attribute(adopted: Path) -> None:
    # Both branches append right after the last entry: with `merge=union` in .gitattributes
    # (as docs/configuration.md says) git keeps both lines and the baseline stays valid.
    (adopted / ".gitattributes").write_text(f"{BASELINE} merge=union\n")
    commit_all(adopted, "union merge for the baseline")
    _branch_adds_key(adopted, "team-a", "zz-a.env", 12)
    _branch_adds_key(adopted, "team-b", "zz-b.env", 13)
    for branch in ("team-a", "team-b"):
        merged = _merge(adopted, branch)
        assert merged.returncode == 0, merged.stdout + merged.stderr
    text = (adopted / BASELINE).read_text()
    assert "<<<<<<<" not in text
    assert '"zz-a.env"' in text and '"zz-b.env"' in text
    run = keysweep(adopted, "scan", ".", "--format", "json")
    assert run.code == 0, run.stdout + run.stderr
    history = keysweep(adopted, "history", ".", "--format", "json")
    assert history.code == 0, history.stdout + history.stderr


# --------------------------------------------------------------------------- inline allows


def test_inline_allow_markers_and_audit_mode(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / "markers.py").write_text(
        f'A = "{key_id(20)}"  # keysweep:allow\n'
        f'B = "{key_id(21)}"  # gitleaks:allow\n'
        f'C = "{key_id(22)}"  # pragma: allowlist secret\n'
    )
    quiet = keysweep(repo, "scan", ".", "--format", "json")
    assert quiet.code == 0, quiet.stdout
    audit = keysweep(repo, "scan", ".", "--no-inline-allow", "--format", "json")
    assert audit.code == 1
    assert sorted(f["line"] for f in audit.findings) == [1, 2, 3]
    commit_all(repo, "markers")
    assert keysweep(repo, "history", ".", "--format", "json").code == 0
    audit_history = keysweep(repo, "history", ".", "--no-inline-allow", "--format", "json")
    assert audit_history.code == 1
    assert len(audit_history.findings) == 3


# --------------------------------------------------------------------------- config effects


def test_config_skip_paths_allowlist_and_disabled_rules(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / "tests" / "fixtures").mkdir(parents=True)
    (repo / "tests" / "fixtures" / "keys.env").write_text(env_text(30))
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text(f"key: {key_id(31)}\n")
    (repo / "app.py").write_text(f'KEY = "{key_id(32)}"\n')
    (repo / "notes.txt").write_text(f"id {key_id(33)} dummy-key\n")
    everything = keysweep(repo, "scan", ".", "--format", "json")
    assert everything.paths() == {"tests/fixtures/keys.env", "docs/guide.md", "app.py", "notes.txt"}

    (repo / ".keysweep.toml").write_text(
        '[scan]\nskip_paths = ["tests/fixtures/"]\n'
        '[allowlist]\npaths = ["docs/**"]\n'
        f'regexes = [{{ regex = "{key_id(33)[-6:]}$", target = "secret" }}]\n'
    )
    configured = keysweep(repo, "scan", ".", "--format", "json")
    assert configured.paths() == {"app.py"}
    assert configured.report["scan"]["skipped"].get("config_skip_paths") == 1

    (repo / ".keysweep.toml").write_text(
        '[allowlist]\nregexes = [{ regex = "dummy", target = "line" }]\n'
    )
    line_target = keysweep(repo, "scan", ".", "--format", "json")
    assert "notes.txt" not in line_target.paths()

    rule_ids = {f["rule_id"] for f in everything.findings if f["path"] == "app.py"}
    disable = ", ".join(f'"{rule}"' for rule in sorted(rule_ids))
    (repo / ".keysweep.toml").write_text(f"[rules]\ndisable = [{disable}]\n")
    disabled = keysweep(repo, "scan", ".", "--format", "json")
    assert "app.py" not in disabled.paths()

    explicit = tmp_path / "elsewhere.toml"
    explicit.write_text('[scan]\nskip_paths = ["app.py"]\n')
    other = keysweep(repo, "scan", ".", "--config", str(explicit), "--format", "json")
    assert "app.py" not in other.paths()
    assert "tests/fixtures/keys.env" in other.paths()


def test_gitlab_format_end_to_end(adopted: Path) -> None:
    (adopted / "fresh.env").write_text(env_text(40))
    run = keysweep(adopted, "scan", ".", "--format", "gitlab")
    assert run.code == 1
    data = json.loads(run.stdout)
    assert data["scan"]["type"] == "secret_detection"
    assert {v["location"]["file"] for v in data["vulnerabilities"]} == {"fresh.env"}
    assert_no_secret_leaked(run.stdout, 40)


def test_config_rule_pack_is_relative_to_the_config_file(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / "ci").mkdir()
    (repo / "ci" / "internal.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: acme-internal-token\n"
        "    name: ACME internal token\n"
        "    description: Grants access to ACME's internal API.\n"
        "    severity: high\n"
        "    keywords: [acmetok_]\n"
        "    regex: '(?P<secret>acmetok_[a-z0-9]{24})'\n"
        "    min_entropy: 3.0\n"
        "    examples:\n"
        "      - 'token = acmetok_{{lower:24}}'\n"
        "    negative_examples:\n"
        "      - 'token = acmetok_short'\n"
    )
    (repo / "ci" / "keysweep.toml").write_text('[rules]\npacks = ["internal.yaml"]\n')
    token = "acmetok_" + secret_key(60).lower().replace("/", "q").replace("+", "z")[:24]
    (repo / "app.txt").write_text(f"token = {token}\n")  # not a config file: no generic rule
    plain = keysweep(repo, "scan", ".", "--format", "json")
    assert plain.code == 0, plain.stdout + plain.stderr
    run = keysweep(repo, "scan", ".", "--config", "ci/keysweep.toml", "--format", "json")
    assert run.code == 1, run.stdout + run.stderr
    assert [f["rule_id"] for f in run.findings] == ["acme-internal-token"]
