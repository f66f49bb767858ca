"""Project configuration: discovery, every key, and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import Config, find_config, load_config, path_matches
from scanner.errors import ConfigError

FULL = """\
[rules]
packs = ["packs/internal.yaml"]
disable = ["generic-password"]

[scan]
max_file_size = 2_000_000
skip_paths = ["vendor/**", "tests/fixtures/"]

[allowlist]
paths = ["docs/examples/**"]
stopwords = ["dummy"]
regexes = [
  { regex = "FAKE$", target = "secret" },
  { regex = "^# example", target = "line" },
  "^AKIA0{16}$",
]

[baseline]
path = ".keysweep-baseline.jsonl"

[verify]
canary_accounts = ["111122223333"]
allow_accounts = ["444455556666"]
deny_accounts = ["777788889999"]
"""


def test_no_config_gives_defaults(tmp_path: Path) -> None:
    assert load_config(None, tmp_path) == Config()
    assert find_config(tmp_path) is None


def test_full_config_is_read_and_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    (tmp_path / ".keysweep.toml").write_text(FULL)
    config = load_config(None, tmp_path)
    assert config.source == tmp_path / ".keysweep.toml"
    assert config.rule_packs == (tmp_path / "packs/internal.yaml",)
    assert config.disabled_rules == ("generic-password",)
    assert config.max_file_size == 2_000_000
    assert config.baseline == tmp_path / ".keysweep-baseline.jsonl"
    assert config.allowlist.stopwords == ("dummy",)
    assert [(r.pattern.pattern, r.target) for r in config.allowlist.regexes] == [
        ("FAKE$", "secret"),
        ("^# example", "line"),
        ("^AKIA0{16}$", "secret"),
    ]
    assert config.verify.canary_accounts == ("111122223333",)
    assert config.verify.allow_accounts == ("444455556666",)
    assert config.verify.deny_accounts == ("777788889999",)
    assert config.skips("vendor/lib/a.py")
    assert config.skips("tests/fixtures/keys.env")
    assert not config.skips("src/vendor.py")
    assert config.allows_path("docs/examples/x.md")
    assert not config.allows_path("docs/x.md")


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.keysweep.rules]\ndisable = ["a-rule"]\n'
    )
    config = load_config(None, tmp_path)
    assert config.disabled_rules == ("a-rule",)
    assert config.source == tmp_path / "pyproject.toml"


def test_pyproject_without_table_is_no_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(None, tmp_path) == Config()


def test_dedicated_file_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.keysweep.rules]\ndisable = ["from-pyproject"]\n'
    )
    (tmp_path / ".keysweep.toml").write_text('[rules]\ndisable = ["from-dedicated"]\n')
    assert load_config(None, tmp_path).disabled_rules == ("from-dedicated",)


def test_explicit_config_file(tmp_path: Path) -> None:
    other = tmp_path / "ci" / "keysweep.toml"
    other.parent.mkdir()
    other.write_text('[baseline]\npath = "../baseline.jsonl"\n')
    (tmp_path / ".keysweep.toml").write_text('[rules]\ndisable = ["ignored"]\n')
    config = load_config(other, tmp_path)
    assert config.disabled_rules == ()
    assert config.baseline == other.parent / "../baseline.jsonl"


def test_explicit_pyproject_without_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"no \[tool.keysweep\] table"):
        load_config(path, tmp_path)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[rules]\ndisabel = []\n", "rules.disabel", "unknown key"),
        ("[scna]\n", "scna", "unknown key"),
        ('[scan]\nmax_file_size = "big"\n', "scan.max_file_size", "positive integer"),
        ("[scan]\nmax_file_size = -1\n", "scan.max_file_size", "positive integer"),
        ("[scan]\nmax_file_size = true\n", "scan.max_file_size", "positive integer"),
        ('[scan]\nskip_paths = "tests"\n', "scan.skip_paths", "list of strings"),
        ('[scan]\nskip_paths = ["/abs/path"]\n', "scan.skip_paths[0]", "absolute paths"),
        ('[rules]\npacks = ["/etc/pack.yaml"]\n', "rules.packs[0]", "absolute paths"),
        ('[rules]\npacks = ["C:\\\\packs\\\\x.yaml"]\n', "rules.packs[0]", "absolute paths"),
        ('[rules]\npacks = ["~/x.yaml"]\n', "rules.packs[0]", "absolute paths"),
        ('[baseline]\npath = "/tmp/b.jsonl"\n', "baseline.path", "absolute paths"),
        ("[baseline]\npath = 3\n", "baseline.path", "relative path"),
        ("[rules]\ndisable = [1]\n", "rules.disable[0]", "non-empty string"),
        ('[allowlist]\nregexes = [{ regex = "(" }]\n', "allowlist.regexes[0].regex", "invalid"),
        (
            '[allowlist]\nregexes = [{ regex = "x", target = "file" }]\n',
            "allowlist.regexes[0].target",
            "secret, match, line",
        ),
        ('[allowlist]\nregexes = [{ target = "line" }]\n', "allowlist.regexes[0].regex", "missing"),
        (
            '[allowlist]\nregexes = [{ regex = "x", flags = "i" }]\n',
            "allowlist.regexes[0].flags",
            "unknown key",
        ),
        ('[verify]\ncanary_accounts = ["12345"]\n', "verify.canary_accounts[0]", "12-digit"),
        (
            '[verify]\nallow_accounts = ["111122223333"]\ndeny_accounts = ["111122223333"]\n',
            "verify.deny_accounts",
            "also in allow_accounts",
        ),
        ("rules = 3\n", "rules", "expected a table"),
        ('[scan]\nmin_confidence = "certain"\n', "scan.min_confidence", "high, medium, low"),
        ("[scan]\nmin_confidence = 1\n", "scan.min_confidence", "high, medium, low"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = tmp_path / ".keysweep.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert f"'{key}'" in message
    assert problem in message
    assert "\n" not in message


def test_pyproject_errors_use_full_dotted_key(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.keysweep.scan]\nmax_size = 3\n")
    with pytest.raises(ConfigError, match=r"'tool\.keysweep\.scan\.max_size': unknown key"):
        load_config(None, tmp_path)


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / ".keysweep.toml"
    path.write_text("[rules\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert "invalid TOML" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", tmp_path)


@pytest.mark.parametrize(
    ("path", "glob", "expected"),
    [
        ("tests/fixtures/a.env", "tests/fixtures/**", True),
        ("tests/fixtures/deep/a.env", "tests/fixtures/**", True),
        ("tests/fixtures/a.env", "tests/fixtures", True),
        ("tests/fixtures/a.env", "tests/fixtures/", True),
        ("src/tests/fixtures/a.env", "tests/fixtures/**", False),
        ("a/b/c.min.js", "*.min.js", True),
        ("c.min.js", "*.min.js", True),
        ("a/b/c.js", "*.min.js", False),
        ("docs/x.md", "docs/*.md", True),
        ("docs/sub/x.md", "docs/*.md", False),
        ("docs/sub/x.md", "docs/**/*.md", True),
        ("docs/x.md", "docs/**/*.md", True),
        ("./docs/x.md", "docs/*.md", True),
        ("node_modules/x/y.js", "node_modules", True),
        ("a/node_modules/y.js", "node_modules", True),
        ("file1.txt", "file[0-9].txt", True),
        ("fileA.txt", "file[!0-9].txt", True),
        ("file?.txt", "file?.txt", True),
    ],
)
def test_path_globs(path: str, glob: str, expected: bool) -> None:
    assert path_matches(path, glob) is expected
