"""The CLI's shape: commands built from HELP/DESCRIPTION/add_arguments, one config discovery
rule, resolved options, typed reporters and states."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support.repo import Repo
from support.samples import sample_result

import scanner.cli as cli
from scanner.cli.options import CommonOptions, add_config_option
from scanner.cli.project import load_project, project_root
from scanner.errors import InputError
from scanner.models import PairKind, ScanMode, Source
from scanner.report import REPORTERS, Reporter, TerminalReporter, reporter
from scanner.report import json as json_report

NEW_SHAPE = ("scan", "history", "audit", "staged", "rules", "baseline")


@pytest.mark.parametrize("name", NEW_SHAPE)
def test_command_modules_give_help_description_and_arguments(name: str) -> None:
    module = importlib.import_module(cli.COMMANDS[name])
    assert isinstance(module.HELP, str) and isinstance(module.DESCRIPTION, str)
    assert not hasattr(module, "add_parser")
    parser = cli.build_parser(only=name)
    (group,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = group.choices[name]
    assert sub.description == module.DESCRIPTION
    assert [c.help for c in group._choices_actions] == [module.HELP]


def test_build_parser_uses_add_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ModuleType("fake_command")
    fake.HELP = "a fake command"  # type: ignore[attr-defined]
    fake.DESCRIPTION = "Fake."  # type: ignore[attr-defined]

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--times", type=int, default=1)

    fake.add_arguments = add_arguments  # type: ignore[attr-defined]
    fake.run = lambda ns: 40 + ns.times  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_command", fake)
    monkeypatch.setitem(cli.COMMANDS, "fake", "fake_command")
    assert cli.main(["fake", "--times", "2"]) == 42
    assert cli.main(["fake", "--nope"]) == cli.EXIT_ERROR


def _layout(tmp_path: Path) -> dict[str, Path]:
    work = Repo(tmp_path / "work").path
    (work / "src" / "deep").mkdir(parents=True)
    bare = tmp_path / "work" / "mirror.git"
    Repo(bare, bare=True)
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    return {"work": work, "bare": bare, "plain": plain}


@pytest.mark.parametrize(
    ("cwd", "target", "expected"),
    [
        ("work", ".", "work"),
        ("work", "src/deep", "work"),
        ("work", "src/deep/missing.txt", "work"),
        ("work", "mirror.git", "bare"),  # a bare repository is its own root
        ("plain", ".", "plain"),  # no repository: the directory itself
        ("work/src/deep", "-", "work"),  # standard input: the repository of the cwd
        ("work/src", "https://example.invalid/repo.git", "work"),  # a clone URL: the same
    ],
)
def test_one_config_discovery_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cwd: str, target: str, expected: str
) -> None:
    places = _layout(tmp_path)
    start = places["plain"] if cwd == "plain" else tmp_path / cwd
    monkeypatch.chdir(start)
    assert project_root(target) == places[expected]


def _config_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    found = [a for a in parser._actions if "--config" in a.option_strings]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _config_actions(sub)
    return found


def test_one_config_option_for_every_command() -> None:
    """``--config`` comes from add_config_option everywhere: one dest, one help, one rule."""
    reference = argparse.ArgumentParser()
    add_config_option(reference)
    (expected,) = _config_actions(reference)
    commands = ("scan", "history", "staged", "baseline", "verify", "deactivate", "analyze")
    for name in (*commands, "remediate", "audit"):
        # baseline's three actions share one parent parser, hence one action object
        (action,) = set(_config_actions(cli.build_parser(only=name)))
        assert (action.dest, action.help) == (expected.dest, expected.help), name


@pytest.mark.parametrize(
    ("given", "explicit", "expected"),
    [(5_000_000, False, 1234), (5_000_000, True, 5_000_000)],
)
def test_load_project_returns_resolved_options(
    tmp_path: Path, given: int, explicit: bool, expected: int
) -> None:
    (tmp_path / ".keysweep.toml").write_text("[scan]\nmax_file_size = 1234\n")
    options = CommonOptions(max_file_size=given, max_file_size_explicit=explicit)
    project, resolved = load_project(options, tmp_path)
    assert resolved.max_file_size == expected == project.max_file_size
    assert options.max_file_size == given  # the caller's value is not changed


@pytest.mark.parametrize("name", list(REPORTERS))
def test_every_format_is_a_reporter(name: str) -> None:
    module = reporter(name)
    assert isinstance(module, Reporter)
    assert isinstance(module, TerminalReporter) is (name == "table")
    assert isinstance(module.render(sample_result(), show_secrets=False), str)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("findings", 0, "source"), "disk", "finding 1: unknown source 'disk'"),
        (("findings", 0, "paired", 0, "kind"), "password", "paired[0]: unknown kind 'password'"),
        (("scan", "mode"), "weekly", "unknown mode 'weekly'"),
    ],
)
def test_states_are_enums_and_reports_must_name_one(
    tmp_path: Path, where: tuple[str | int, ...], value: str, message: str
) -> None:
    result = json_report.result_from_json(
        json.loads(json_report.render(sample_result(), show_secrets=True))
    )
    assert isinstance(result.summary.mode, ScanMode)
    assert all(isinstance(f.source, Source) for f in result.findings)
    assert all(isinstance(p.kind, PairKind) for f in result.findings for p in f.paired)
    data = json.loads(json_report.render(sample_result(), show_secrets=True))
    node = data
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        json_report.load_report(path)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "module",
    sorted(p.name for p in (Path(cli.__file__).parent).glob("*.py")),
)
def test_cli_modules_stay_under_150_lines(module: str) -> None:
    lines = (Path(cli.__file__).parent / module).read_text().count("\n")
    assert lines < 150, f"scanner/cli/{module}: {lines} lines"


def _imported(path: Path) -> set[str]:
    import ast

    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return imported


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_no_command_module_imports_another(name: str) -> None:
    """The scans live below the CLI (scanner/scanning.py): a command never borrows another's."""
    module = cli.COMMANDS[name]
    path = Path(cli.__file__).parent / f"{module.rsplit('.', 1)[-1]}.py"
    assert not _imported(path) & (set(cli.COMMANDS.values()) - {module})


def test_the_scans_sit_below_the_cli() -> None:
    package = Path(cli.__file__).parents[1]
    for path in (package / "scanning.py", *sorted((package / "sources").glob("*.py"))):
        assert not [m for m in _imported(path) if m.startswith("scanner.cli")], path
