"""``keysweep deactivate``: parse, print, confirm, exit code (the logic: verify/deactivate)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS
from scanner.cli.aws_options import add_aws_connection_options, aws_settings, stderr
from scanner.cli.options import add_config_option
from scanner.cli.project import project_config, project_root
from scanner.errors import NoOperatorCredentials, UsageError
from scanner.models import Finding
from scanner.verify.settings import AwsSettings

if TYPE_CHECKING:
    from scanner.config import VerifyConfig
    from scanner.verify.deactivate import PlanItem

HELP = "deactivate live leaked AWS keys (dry run unless --apply)"
DESCRIPTION = """\
Deactivate the live AWS access keys of a JSON report (a default, redacted report is enough:
it shows key IDs) or of a fresh scan (--scan PATH...). Dry run by default: prints the plan
(key, account, user, last used). --apply asks you to type each key id (or 'deactivate'), calls
iam:UpdateAccessKey Status=Inactive (reversible, never a delete) and confirms the new status
with iam:ListAccessKeys. Undo: keysweep reactivate KEY_ID.

Live means: the report's verification when it has one, else STS with the key's own secret
when the report holds it, else Active in iam:ListAccessKeys (operator credentials). Only
long-term AKIA keys of IAM users, in the operator's account (--aws-profile or the AWS_*
environment; checked with sts:GetCallerIdentity), are planned; root and temporary ASIA keys
are refused with guidance. Every action is appended to the audit log (JSON lines, no secrets).

--use-leaked-key signs with the leaked key itself (needs a report written with
--show-secrets). It often fails: a leaked key rarely has iam:UpdateAccessKey on itself, and
AWS attaches AWSCompromisedKeyQuarantine(V2/V3) to keys it finds exposed, which denies it.

examples:
  keysweep history . -f json -o leaks.json
  keysweep deactivate leaks.json --aws-profile prod-admin            # dry run: the plan
  keysweep deactivate leaks.json --aws-profile prod-admin --apply    # asks per key
  keysweep deactivate --scan .env --aws-profile prod-admin --apply --yes

exit codes: 0 plan printed / all planned keys deactivated (or no key live), 1 some key was
refused, not confirmed or unknown (not told live or not), 2 error, a deactivation failed, or
every key was unknown (nothing could be planned), 130 interrupted
"""
LEAKED_KEY_HINT = (
    "--use-leaked-key signs with the leaked secret: drop it to act with operator credentials, "
    "or write the report with --show-secrets"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag = parser.add_argument
    flag("inputs", nargs="+", metavar="REPORT.json|PATH", help="a JSON report (or --scan PATHs)")
    flag("--scan", action="store_true", help="scan the given paths now instead of a report")
    flag("--apply", action="store_true", help="really deactivate (default: dry run)")
    flag("--yes", action="store_true", help="with --apply: do not ask for typed confirmation")
    flag("--use-leaked-key", action="store_true", help="sign with the leaked key (see above)")
    audit = "append audit records here (default: $XDG_STATE_HOME/keysweep/audit.jsonl)"
    flag("--audit-log", metavar="FILE", help=audit)
    add_config_option(parser)  # [verify] allow/deny account lists
    add_aws_connection_options(parser.add_argument_group("aws"))


def run(ns: argparse.Namespace) -> int:
    if ns.yes and not ns.apply:
        raise UsageError("--yes only makes sense with --apply")
    findings, config = _load(ns.inputs, ns.scan, ns.config_file, ns.use_leaked_key)
    return deactivate_command(
        findings,
        aws_settings(ns, config, always_verify=True),
        apply=ns.apply,
        yes=ns.yes,
        use_leaked_key=ns.use_leaked_key,
        audit_log=ns.audit_log,
    )


def _load(
    inputs: Sequence[str], scan: bool, config_path: str | None, leaked: bool
) -> tuple[tuple[Finding, ...], VerifyConfig]:
    """Findings and [verify] config of a report (config: --config or the project root's)
    or of a fresh scan of PATHs (the project's config, no baseline: a key is still a key)."""
    if scan:
        from scanner.cli.options import CommonOptions
        from scanner.cli.project import load_project
        from scanner.scanning import scan_files

        options = CommonOptions(config_file=config_path)
        project, options = load_project(options, project_root(inputs[0]), use_baseline=False)
        return scan_files(list(inputs), options, project).findings, project.config.verify
    if len(inputs) != 1:
        raise UsageError("give one JSON report (or use --scan PATH...)")
    from scanner.report.json import load_report

    config = project_config(config_path)
    report = load_report(inputs[0], require_secrets=leaked, hint=LEAKED_KEY_HINT)
    return report.findings, config.verify


def deactivate_command(
    findings: Sequence[Finding],
    settings: AwsSettings,
    *,
    apply: bool = False,
    yes: bool = False,
    use_leaked_key: bool = False,
    audit_log: str | None = None,
) -> int:
    from scanner.verify.audit import AuditLog
    from scanner.verify.deactivate import apply_plan, plan_deactivation, plan_lines

    audit = AuditLog(audit_log)
    try:
        deactivator, plan = plan_deactivation(
            findings, settings, audit, use_leaked_key=use_leaked_key, log=stderr
        )
    except NoOperatorCredentials as exc:  # deactivate alone can sign with the leaked key
        raise NoOperatorCredentials(f"{exc} (or --use-leaked-key, see --help)") from None
    print("\n".join(plan_lines(plan, apply=apply, mode=deactivator.mode)))
    if not plan.items:  # 2 when every key is unknown (nothing decided), 1 when only some
        if plan.every_key_unknown:
            return EXIT_ERROR
        return EXIT_FINDINGS if plan.unknown else EXIT_CLEAN
    deactivator.record_plan(plan, apply=apply)
    refused, failed = plan.refused, 0
    if apply:
        confirm = (lambda item: True) if yes else _confirm
        refused, failed = apply_plan(plan, deactivator, confirm=confirm, say=print)
    else:
        print("\nDry run: nothing changed. Re-run with --apply to deactivate.")
    print(f"Audit log: {audit.path}")
    return EXIT_ERROR if failed else EXIT_FINDINGS if refused or plan.unknown else EXIT_CLEAN


def _confirm(item: PlanItem) -> bool:
    """Ask on stderr for the key id (or 'deactivate'), read the answer from stdin."""
    prompt = f"Type {item.key_id} (or 'deactivate') to deactivate it for user {item.user}: "
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip() in (item.key_id, "deactivate")
