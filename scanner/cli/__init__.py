"""Command-line entry point: parses arguments, runs one command, maps errors to exit codes.

Each command lives in its own module (``scanner.cli.<name>``) with ``HELP``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(ns) -> int``; :func:`build_parser` makes the subparsers.
Command modules import heavy dependencies (boto3, rich) inside functions, so ``keysweep staged``
starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from scanner import __version__
from scanner.atomic import flush_stdout, silence_stdout, stdout_reader_gone
from scanner.cli.errorline import error_line, unexpected
from scanner.cli.errorline import scrub as scrub
from scanner.cli.stop import Stopped, signals_stop_cleanly
from scanner.errors import ScannerError

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_LIVE_KEY = 3
EXIT_INTERRUPTED = 130
EXIT_SIGNAL_BASE = 128  # stopped by signal N: 128 + N (SIGINT 130, SIGHUP 129, SIGTERM 143)

# name -> module path. Order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "scan": "scanner.cli.scan",
    "history": "scanner.cli.history",
    "audit": "scanner.cli.audit",
    "staged": "scanner.cli.staged",
    "rules": "scanner.cli.rules",
    "verify": "scanner.cli.verify",
    "baseline": "scanner.cli.baseline",
    "deactivate": "scanner.cli.deactivate",
    "reactivate": "scanner.cli.reactivate",
    "remediate": "scanner.cli.remediate",
    "analyze": "scanner.cli.analyze",
}

DESCRIPTION = """\
Find leaked AWS credentials (and other high-value secrets) in files, .env files,
staged changes and the full history of git repositories.

exit codes: 0 clean, 1 findings, 2 error, 3 live AWS key found (with --verify),
            130 interrupted (128 + N for signal N: 129 SIGHUP, 143 SIGTERM)
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageExit(f"{self.prog}: error: {message}")


class _UsageExit(Exception):
    pass


def _load(module_path: str) -> ModuleType:
    return importlib.import_module(module_path)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one holding just that command.

    Building one command's parser imports one command module: ``keysweep staged`` in a
    pre-commit hook should not pay for importing every other command.
    """
    parser = _Parser(
        prog="keysweep",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"keysweep {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_path in COMMANDS.items():
        if only is None or name == only:
            _add_command(subparsers, name, _load(module_path))
    return parser


def _add_command(subparsers: Any, name: str, module: ModuleType) -> None:
    parser = subparsers.add_parser(
        name,
        help=module.HELP,
        description=module.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)


def _command_named(argv: Sequence[str]) -> str | None:
    """The command a command line names, if its first word is one (no option before it)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; map every outcome to an exit code and at most one line on stderr.

    SIGTERM and SIGHUP take the same path as Ctrl-C (temporary clones removed, git and worker
    processes ended); a reader that goes away (``| head -1``) ends the run quietly; anything
    else that escapes is an internal error, never exit 1 (which means "findings").
    """
    args = list(sys.argv[1:] if argv is None else argv)
    with signals_stop_cleanly():
        try:
            parser = build_parser(only=_command_named(args))
            ns = parser.parse_args(args)
            if not ns.command:
                parser.print_help(sys.stderr)
                return EXIT_ERROR
            module = _load(COMMANDS[ns.command])
            result: int = module.run(ns)
            flush_stdout()
            return result
        except _UsageExit as exc:
            error_line(str(exc), args)
            return EXIT_ERROR
        except ScannerError as exc:
            error_line(f"keysweep: error: {exc}", args)
            return EXIT_ERROR
        except Stopped as exc:
            error_line(exc.message(), args)
            return EXIT_SIGNAL_BASE + exc.signum
        except KeyboardInterrupt:
            error_line("keysweep: interrupted", args)
            return EXIT_INTERRUPTED
        except BrokenPipeError as exc:
            # `| head -1` closed stdout: exit 2 quietly. Any other pipe: a bug, never silence.
            if stdout_reader_gone():
                silence_stdout()
            else:
                unexpected(exc, args)
            return EXIT_ERROR
        except Exception as exc:  # the last resort: a bug, never "findings"
            unexpected(exc, args)
            return EXIT_ERROR


def entry() -> None:
    raise SystemExit(main())
