"""``keysweep deactivate``: turn live leaked AWS keys off — safely, reversibly, audited.

Dry run by default. ``--apply`` asks for a typed confirmation per key (``--yes`` skips it).
Only ``live`` long-term ``AKIA`` keys of IAM users are touched, with
``iam:UpdateAccessKey Status=Inactive`` (never a delete), and only when the operator is in the
key's account. Every decision is appended to the audit log.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scanner.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS
from scanner.cli.aws_options import AwsSettings, add_aws_connection_options, aws_settings
from scanner.errors import UsageError, VerifyError
from scanner.models import Finding

if TYPE_CHECKING:
    from scanner.config import VerifyConfig

HELP = "deactivate live leaked AWS keys (dry run unless --apply)"
DESCRIPTION = """\
Deactivate the live AWS access keys of a JSON report (written with --show-secrets) or of a
fresh scan (--scan PATH...). Dry run by default: prints the plan (key, account, user, last
used) and changes nothing. --apply asks you to type each key id (or 'deactivate') before
calling iam:UpdateAccessKey Status=Inactive — reversible, never a delete — and confirms the
new status with iam:ListAccessKeys.

Safety: only keys that STS says are live and that are long-term AKIA keys of IAM users are
planned. The operator (--aws-profile, or the AWS_* environment) must be in the key's account:
keysweep checks with sts:GetCallerIdentity and refuses otherwise. Root keys and temporary ASIA
keys are refused with guidance. Every action (planned, applied, refused, failed) is appended
to the audit log (JSON lines, no secrets). Undo: keysweep reactivate KEY_ID.

--use-leaked-key signs the deactivation with the leaked key itself, for when no operator
credentials are available. It often fails: a leaked key rarely has iam:UpdateAccessKey on
itself, and AWS attaches the AWSCompromisedKeyQuarantine(V2/V3) policy to keys it finds
exposed, which denies exactly that.

examples:
  keysweep history . --verify -f json --show-secrets -o leaks.json
  keysweep deactivate leaks.json --aws-profile prod-admin            # dry run: the plan
  keysweep deactivate leaks.json --aws-profile prod-admin --apply    # asks per key
  keysweep deactivate --scan .env --aws-profile prod-admin --apply --yes

exit codes: 0 plan printed / all planned keys deactivated, 1 some key was refused or not
confirmed, 2 error or a deactivation failed, 130 interrupted
"""


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "deactivate",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="REPORT.json|PATH",
        help="a JSON report written with --show-secrets (or, with --scan, paths to scan)",
    )
    parser.add_argument(
        "--scan",
        action="store_true",
        help="scan the given paths now (files/directories, with --verify) instead of reading "
        "a report",
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="really deactivate (default: dry run that only prints the plan)",
    )
    parser.add_argument(
        "--yes", action="store_true", help="with --apply: do not ask for typed confirmation"
    )
    parser.add_argument(
        "--use-leaked-key",
        action="store_true",
        help="sign the deactivation with the leaked key itself (often denied, see above)",
    )
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        help="append audit records here (default: $XDG_STATE_HOME/keysweep/audit.jsonl, "
        "i.e. ~/.local/state/keysweep/audit.jsonl)",
    )
    parser.add_argument("--config", metavar="FILE", help="configuration (allow/deny lists)")
    group = parser.add_argument_group("aws")
    add_aws_connection_options(group)


def run(ns: argparse.Namespace) -> int:
    return deactivate_command(
        ns.inputs,
        scan=ns.scan,
        apply=ns.apply,
        yes=ns.yes,
        use_leaked_key=ns.use_leaked_key,
        audit_log=ns.audit_log,
        config_path=ns.config,
        settings=aws_settings(ns, always_verify=True),
    )


def _load_findings(
    inputs: Sequence[str], scan: bool, config_path: str | None
) -> tuple[tuple[Finding, ...], VerifyConfig]:
    """Findings from a report (config: --config or the current directory's) or from a fresh
    scan of PATHs (config and allowlists of the scanned project, no baseline: a key accepted
    as a finding is still a key to deactivate)."""
    if scan:
        from scanner.cli.common import CommonOptions, build_detector, detect_all
        from scanner.project import find_root, load_project

        options = CommonOptions(config_file=config_path)
        project = load_project(options, find_root(inputs[0]), use_baseline=False)
        source = project.file_source(list(inputs))
        source.check_paths()
        detector = build_detector(project.options, project)
        return tuple(detect_all(detector, source)), project.config.verify
    if len(inputs) != 1:
        raise UsageError("give one JSON report (or use --scan PATH...)")
    from scanner.config import load_config
    from scanner.report.json import load_report

    config = load_config(Path(config_path) if config_path else None, Path.cwd())
    return load_report(inputs[0], require_secrets=True).findings, config.verify


def deactivate_command(
    inputs: Sequence[str],
    *,
    scan: bool = False,
    apply: bool = False,
    yes: bool = False,
    use_leaked_key: bool = False,
    audit_log: str | None = None,
    config_path: str | None = None,
    settings: AwsSettings,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    from scanner.verify import deactivate as dv
    from scanner.verify.audit import AuditLog
    from scanner.verify.canary import mark_canaries
    from scanner.verify.engine import (
        Verifier,
        VerifyOptions,
        checkable_key_ids,
        is_access_key_finding,
    )

    out = out or sys.stdout
    stdin = stdin or sys.stdin
    if yes and not apply:
        raise UsageError("--yes only makes sense with --apply")
    loaded, config = _load_findings(inputs, scan, config_path)
    aws = settings.aws()
    findings = mark_canaries(
        loaded, frozenset(settings.canary_accounts) | frozenset(config.canary_accounts)
    )
    keys = [f for f in findings if is_access_key_finding(f)]
    snapshot = None
    if not use_leaked_key:
        from scanner.verify.exposure import last_used_snapshot

        try:  # before any STS call: verifying a key is itself a "use" of it
            snapshot = last_used_snapshot(checkable_key_ids(keys), aws)
        except VerifyError as exc:  # informative only; the operator check below decides
            _err(f"exposure check skipped: {exc}")
    unverified = [f for f in keys if f.verification is None]
    if unverified:
        verifier = Verifier(
            VerifyOptions(
                aws=aws,
                max_candidates=settings.max_candidates,
                concurrency=settings.concurrency,
                canary_accounts=frozenset(config.canary_accounts)
                | frozenset(settings.canary_accounts),
                allow_accounts=frozenset(config.allow_accounts),
                deny_accounts=frozenset(config.deny_accounts),
            ),
            log=_err,
        )
        verified = {id(a): b for a, b in zip(unverified, verifier.verify(unverified), strict=True)}
        keys = [verified.get(id(f), f) for f in keys]

    audit = AuditLog(audit_log)
    leaked: dict[str, tuple[str, str | None]] | None = None
    if use_leaked_key:
        leaked = _leaked_secrets(keys)
    if snapshot is not None:
        from scanner.verify.exposure import check_exposure

        keys = list(check_exposure(keys, aws, snapshot=snapshot, log=_err))

    plan = dv.build_plan(keys)
    not_live = len({f.secret for f in keys}) - len(plan)
    if not plan:
        print(f"Nothing to deactivate: no live AWS key ({not_live} key(s) not live).", file=out)
        return EXIT_CLEAN
    deactivator = dv.Deactivator(aws, audit, leaked_secrets=leaked, log=_err)
    operators = deactivator.identify(plan)
    if not use_leaked_key and plan:
        plan = dv.refuse_other_accounts(plan, operators[plan[0].key_id])
    plan = [_apply_lists(item, config.allow_accounts, config.deny_accounts) for item in plan]
    if leaked is not None:
        plan = [
            item
            if item.action != dv.DEACTIVATE or item.key_id in leaked
            else replace(item, action=dv.REFUSE, reason="the secret that verified it is missing")
            for item in plan
        ]

    _print_plan(plan, out, apply=apply, mode=deactivator.mode, not_live=not_live)
    refused = 0
    failed = 0
    for item in plan:
        op = operators.get(item.key_id)
        if item.action == dv.REFUSE:
            refused += 1
            deactivator.record(item, "refused", "refused", op)
            continue
        deactivator.record(item, "planned", "apply" if apply else "dry-run", op)
    if not apply:
        print("\nDry run: nothing changed. Re-run with --apply to deactivate.", file=out)
        print(f"Audit log: {audit.path}", file=out)
        return EXIT_FINDINGS if refused else EXIT_CLEAN

    for item in plan:
        if item.action != dv.DEACTIVATE:
            continue
        op = operators[item.key_id]
        if not yes and not _confirmed(item, stdin, out):
            refused += 1
            deactivator.record(
                replace(item, reason="not confirmed by the operator"),
                "refused",
                "not confirmed",
                op,
            )
            print(f"{item.key_id}: not confirmed; left unchanged", file=out)
            continue
        ok, note = deactivator.apply(item, op)
        if ok:
            print(f"{item.key_id}: deactivated (ListAccessKeys: Inactive)", file=out)
            for command in dv.undo_commands(item):
                print(f"  undo: {command}", file=out)
        else:
            failed += 1
            print(f"{item.key_id}: FAILED: {note}", file=out)
    print(f"Audit log: {audit.path}", file=out)
    if failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if refused else EXIT_CLEAN


def _apply_lists(item: Any, allow: Sequence[str], deny: Sequence[str]) -> Any:
    from scanner.verify.deactivate import DEACTIVATE, REFUSE

    if item.action != DEACTIVATE:
        return item
    if item.account in deny:
        return replace(item, action=REFUSE, reason="account is in verify.deny_accounts")
    if allow and item.account not in allow:
        return replace(item, action=REFUSE, reason="account is not in verify.allow_accounts")
    return item


def _leaked_secrets(keys: Sequence[Finding]) -> dict[str, tuple[str, str | None]]:
    """key id -> (secret, token) that verified it, found by the verifying secret's hash."""
    out: dict[str, tuple[str, str | None]] = {}
    for f in keys:
        v = f.verification
        if v is None or v.status != "live" or v.secret_fingerprint is None:
            continue
        secret = next((p.secret for p in f.paired if p.fingerprint == v.secret_fingerprint), None)
        token = next((p.secret for p in f.paired if p.kind == "session_token"), None)
        if secret is not None:
            out[f.secret] = (secret, token)
    return out


def _print_plan(plan: Sequence[Any], out: TextIO, *, apply: bool, mode: str, not_live: int) -> None:
    from scanner.verify.deactivate import DEACTIVATE

    title = "Deactivation plan" + ("" if apply else " (dry run)")
    signer = "the leaked key itself" if mode == "leaked-key" else "operator credentials"
    print(f"{title}, signed with {signer}:", file=out)
    rows = [("KEY", "ACCOUNT", "USER", "LAST USED", "ACTION")]
    for item in plan:
        rows.append(
            (
                item.key_id,
                item.account or "?",
                item.user or "?",
                item.last_used or "unknown",
                "deactivate" if item.action == DEACTIVATE else "REFUSED",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]), file=out)
    for item in plan:
        if item.action != DEACTIVATE:
            print(f"  refused {item.key_id}: {item.reason}", file=out)
    if not_live:
        print(f"({not_live} AWS key(s) not live: not planned)", file=out)


def _confirmed(item: Any, stdin: TextIO, out: TextIO) -> bool:
    prompt = f"Type {item.key_id} (or 'deactivate') to deactivate it for user {item.user}: "
    print(prompt, end="", file=sys.stderr, flush=True)
    answer = stdin.readline().strip()
    return answer in (item.key_id, "deactivate")


Err = Callable[[str], None]


def _err(line: str) -> None:
    print(f"keysweep: {line}", file=sys.stderr)
