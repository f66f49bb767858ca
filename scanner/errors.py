"""The exception tree. Only the CLI maps these to exit codes (see scanner.cli)."""

from __future__ import annotations


def how_ended(returncode: int | None) -> str:
    """How a child process that failed ended, for an error line: ``killed by signal 9`` (the
    out-of-memory killer's, say) or ``exit status 1``."""
    if returncode is not None and returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class ScannerError(Exception):
    """Root of every error keysweep raises on purpose.

    The message is one line, names the thing (file, rule, key, ref) and the problem,
    and never contains a secret value.
    """


class UsageError(ScannerError):
    """Bad command-line usage or a missing/unsuitable input path."""


class InputError(ScannerError):
    """Input that exists but cannot be read or is not what the command needs."""


class RuleError(ScannerError):
    """A malformed rule pack (names file, rule id and key)."""


class ConfigError(ScannerError):
    """A malformed project configuration file (names file and key)."""


class BaselineError(ScannerError):
    """A malformed or unreadable baseline file."""


class GitError(ScannerError):
    """git failed, a path is not a repository, or objects could not be read."""


class VerifyError(ScannerError):
    """Verification or deactivation could not run (never for a key that is merely invalid)."""


class NoOperatorCredentials(VerifyError):
    """No AWS credentials of the operator's own (each command says what else it can use)."""


class OperatorUnreachable(VerifyError):
    """STS did not answer the operator's identity call (network, endpoint, timeout)."""


class OutputError(ScannerError):
    """A report, baseline or audit log could not be written."""


class DetectionError(ScannerError):
    """The detector itself failed on an input: a bug in keysweep, never swallowed silently
    (a silent failure would be a silent false negative)."""


class WorkerError(ScannerError):
    """A worker process died before it answered (the out-of-memory killer, say): what it was
    scanning is unknown, so the run fails rather than report it clean."""
