"""Command-line entry point: parses arguments, runs one command, maps errors to exit codes.

Each command lives in its own module (``scanner.cli.<name>``) with ``add_parser(subparsers)``
and ``run(ns) -> int``. Command modules import heavy dependencies (boto3, rich)
inside functions, so ``keysweep staged`` starts fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType, ModuleType
from typing import Any

from scanner import __version__
from scanner.errors import OutputError, ScannerError

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
    "staged": "scanner.cli.staged",
    "rules": "scanner.cli.rules",
    "verify": "scanner.cli.verify",
    "baseline": "scanner.cli.baseline",
    "deactivate": "scanner.cli.deactivate",
    "reactivate": "scanner.cli.reactivate",
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
            _load(module_path).add_parser(subparsers)
    return parser


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
    with _signals_stop_cleanly():
        try:
            parser = build_parser(only=_command_named(args))
            ns = parser.parse_args(args)
            if not ns.command:
                parser.print_help(sys.stderr)
                return EXIT_ERROR
            module = _load(COMMANDS[ns.command])
            result: int = module.run(ns)
            _flush_stdout()
            return result
        except _UsageExit as exc:
            _error_line(str(exc), args)
            return EXIT_ERROR
        except ScannerError as exc:
            _error_line(f"keysweep: error: {exc}", args)
            return EXIT_ERROR
        except _Stopped as exc:
            _error_line(exc.message(), args)
            return EXIT_SIGNAL_BASE + exc.signum
        except KeyboardInterrupt:
            _error_line("keysweep: interrupted", args)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader of stdout went away (`keysweep scan . | head -1`): nothing left to
            # say and no one to say it to. Exit 2 (the report was not delivered whole), quietly.
            _silence_stdout()
            return EXIT_ERROR
        except OSError as exc:
            if not _stdout_failed(exc):
                _internal_error(exc, args)
                return EXIT_ERROR
            # A command printing straight to stdout (`keysweep rules list > /dev/full`).
            _silence_stdout()
            _error_line(f"keysweep: error: cannot write standard output: {exc.strerror}", args)
            return EXIT_ERROR
        except Exception as exc:  # the last resort: a bug, never "findings"
            _internal_error(exc, args)
            return EXIT_ERROR


def _internal_error(exc: BaseException, args: Sequence[str]) -> None:
    if os.environ.get("KEYSWEEP_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    # The type only: an exception's message may hold a line of scanned input.
    _error_line(f"keysweep: internal error ({type(exc).__name__}); please report it", args)


def _stdout_failed(exc: OSError) -> bool:
    """True when ``exc`` is stdout refusing what a command printed to it: a write error
    naming no file (keysweep wraps every file it writes in OutputError), or a flush that
    fails again."""
    if sys.stdout is None:  # print() to a closed stdout writes nothing: not the cause
        return False
    if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EBADF):
        return True
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    return False


class _Stopped(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP: raised where the program is, so every ``finally`` and
    context manager (temporary clone, git processes, worker pool) cleans up on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def message(self) -> str:
        if self.signum == signal.SIGINT:
            return "keysweep: interrupted"
        return f"keysweep: terminated by {signal.Signals(self.signum).name}"


@contextmanager
def _signals_stop_cleanly() -> Iterator[None]:
    """While a command runs, SIGINT/SIGTERM/SIGHUP raise :class:`_Stopped` (once: a second
    signal during the clean-up is ignored so the clean-up can finish). A signal the caller
    ignores stays ignored; the previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise _Stopped(signum)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT.value, signal.SIGTERM.value, signal.SIGHUP.value):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN or current is None:
            continue
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _flush_stdout() -> None:
    """Flush what commands printed, so a failed write is an error here, not a complaint
    from the interpreter at exit."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        _silence_stdout()
        raise OutputError(f"cannot write standard output: {reason}") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    with suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


# A command-line word that looks like a secret: long, one token of base64/hex-ish characters
# with high entropy, not a path (one that exists, or an absolute one) and not an AWS access
# key ID (an identifier, shown everywhere).
_SECRETISH = re.compile(r"[A-Za-z0-9+/=_\-]{16,}")
_KEY_ID = re.compile(r"(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}")


def _looks_secret(word: str) -> bool:
    from scanner.entropy import shannon_entropy

    if not _SECRETISH.fullmatch(word) or _KEY_ID.fullmatch(word):
        return False
    if word.startswith(("/", "./", "../", "~")):  # a path the user meant to name
        return False
    if not (any(c.isdigit() for c in word) and any(c.isalpha() for c in word)):
        return False
    return shannon_entropy(word) >= 3.5 and not os.path.lexists(word)


def scrub(message: str, args: Sequence[str]) -> str:
    """``message`` with every command-line word that looks like a secret replaced by
    ``<redacted>``: no error line ever echoes a secret pasted by mistake (a secret key given
    as KEY_ID, a token as a path), whichever code path wrote the message."""
    for arg in args:
        for word in (arg, *arg.split("=", 1)[1:]):
            if _looks_secret(word):
                message = message.replace(word, "<redacted>")
    return message


def _error_line(message: str, args: Sequence[str]) -> None:
    with suppress(OSError, ValueError, AttributeError):
        print(scrub(message, args), file=sys.stderr)


def entry() -> None:
    raise SystemExit(main())
