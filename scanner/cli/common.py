"""What scan, history and staged share: their common options and the tail of the pipeline.

    findings -> config/baseline -> verify -> report -> exit code

A command parses its own arguments (:mod:`scanner.cli.options`), builds a ``ScanResult`` from
its source, and hands it to :func:`finish`. A later stage plugs in with one line there.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from scanner.atomic import STDOUT, write_output
from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, EXIT_LIVE_KEY
from scanner.cli.aws_options import apply_aws_stage
from scanner.cli.options import CommonOptions
from scanner.cli.project import Project
from scanner.models import ScanResult
from scanner.report import PieceReporter, TerminalReporter, reporter


def finish(
    result: ScanResult,
    options: CommonOptions,
    project: Project | None = None,
    *,
    on_findings: str | None = None,
) -> int:
    """The tail every scanning command shares: findings -> config/baseline -> verify ->
    report -> exit code. Each stage derives a new ScanResult; nothing is mutated.
    ``on_findings`` goes to stderr when findings remain, whatever the exit code (a staged
    secret beside a file that could not be scanned is still a secret)."""
    if project is not None:
        result = project.apply(result)
    notes = result.summary.notes  # the AWS stage says its own on stderr as it goes
    result = apply_aws_stage(result, options.aws, project.config.verify if project else None)
    write_report(result, options, notes=notes)
    if on_findings is not None and result.findings:
        print(on_findings, file=sys.stderr)
    code = exit_code(result)
    if code == EXIT_LIVE_KEY:  # say what to do now, as verify and analyze do
        from scanner.cli.aws_options import stderr
        from scanner.verify.pipeline import next_step

        written = options.output not in (None, STDOUT) and options.fmt == "json"
        if (line := next_step(result.findings, options.output if written else None)) is not None:
            stderr(line)
    return code


def write_report(
    result: ScanResult,
    options: CommonOptions,
    notes: Sequence[str] = (),
    *,
    document: dict[str, Any] | None = None,
) -> None:
    """Render the report; stdout, or ``--output`` written atomically now that the scan is
    over (a failed run never truncates a previous report). Errors, ``notes`` (what a reader
    of the table would otherwise never see: a baseline's suppressions, a shallow clone) and
    the summary line go to stderr. ``document`` is the JSON report itself when a command's
    adds to the common one (audit's repositories and totals); other formats ignore it."""
    module = reporter(options.fmt)
    target = STDOUT if options.output is None else options.output
    to_terminal = target == STDOUT and sys.stdout is not None and sys.stdout.isatty()
    shown, ids = options.show_secrets, options.redact_ids
    text: Iterable[str]
    if document is not None and options.fmt == "json":
        from scanner.report.json import document_pieces

        text = document_pieces(document)
    elif to_terminal and isinstance(module, TerminalReporter):
        width = shutil.get_terminal_size((120, 24)).columns
        text = [module.render_terminal(result, show_secrets=shown, width=width, redact_ids=ids)]
    elif isinstance(module, PieceReporter):  # written as it is made: never whole in memory
        text = module.render_pieces(result, show_secrets=shown, redact_ids=ids)
    else:
        text = [module.render(result, show_secrets=shown, redact_ids=ids)]
    # A report holding plain secrets is written 0600.
    write_output(target, text, private=shown)
    from scanner.report.table import printable, summary_line

    for error in result.summary.errors:
        print(f"keysweep: error: {printable(error)}", file=sys.stderr)
    for note in notes:
        print(f"keysweep: note: {printable(note)}", file=sys.stderr)
    print(summary_line(result), file=sys.stderr)


def refuse_tracked_output(options: CommonOptions, directory: str) -> None:
    """``--output`` naming a file git tracks in the repository at ``directory`` (``staged
    -o .env``) is a usage error before anything is read: the report would replace it and any
    change not yet committed. (``scan`` refuses every file it reads, tracked or not.)"""
    from scanner.errors import UsageError
    from scanner.sources.gitfiles import tracked_by

    output = options.output
    name = None if output in (None, STDOUT) else tracked_by(directory, output)
    if name is not None:
        raise UsageError(
            f"--output {output} is a file the repository tracks ({name}); write the report "
            "outside its tracked files"
        )


def exit_code(result: ScanResult) -> int:
    """3 for a live AWS key (the most urgent news, even when part of the input could not be
    read: the read errors are still printed), else 2 if anything could not be read, else
    1 for findings, 0 when clean."""
    if any(f.verification is not None and f.verification.status == "live" for f in result.findings):
        return EXIT_LIVE_KEY
    if result.summary.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN
