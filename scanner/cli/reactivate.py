"""``keysweep reactivate KEY_ID``: undo ``keysweep deactivate`` (Status=Active), audited.

Needs only the key id: the user is looked up with the operator's credentials. The update,
the ListAccessKeys confirmation and the audit record are ``verify.deactivate.set_status``,
shared with ``deactivate``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from scanner.cli import EXIT_CLEAN, EXIT_ERROR
from scanner.cli.aws_options import add_aws_connection_options, aws_settings
from scanner.errors import UsageError
from scanner.verify.settings import AwsSettings

if TYPE_CHECKING:
    from scanner.verify.operator import Operator

HELP = "re-enable an access key that keysweep deactivated (undo)"
DESCRIPTION = """\
Set an IAM access key back to Active with iam:UpdateAccessKey, using operator credentials
(--aws-profile or the AWS_* environment), then confirm with iam:ListAccessKeys. The key's
user is looked up with iam:GetAccessKeyLastUsed unless --user is given. Asks you to type the
key id unless --yes; a key ListAccessKeys already shows Active is left alone, without
asking. The action is appended to the audit log.

Equivalent AWS CLI call:
  aws iam update-access-key --user-name USER --access-key-id KEY_ID --status Active

Only reactivate a leaked key once you are sure it must keep working (prefer rotating it).

exit codes: 0 reactivated (or already Active: nothing to do), 2 error, 130 interrupted
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key_id", metavar="KEY_ID", help="the access key id (AKIA...)")
    parser.add_argument("--user", metavar="NAME", help="the key's IAM user (default: look up)")
    parser.add_argument("--yes", action="store_true", help="do not ask for typed confirmation")
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        help="append the audit record here (default: $XDG_STATE_HOME/keysweep/audit.jsonl)",
    )
    add_aws_connection_options(parser.add_argument_group("aws"))


def run(ns: argparse.Namespace) -> int:
    return reactivate_command(
        ns.key_id,
        user=ns.user,
        yes=ns.yes,
        audit_log=ns.audit_log,
        settings=aws_settings(ns, always_verify=True),
    )


def reactivate_command(
    key_id: str,
    *,
    user: str | None = None,
    yes: bool = False,
    audit_log: str | None = None,
    settings: AwsSettings,
) -> int:
    from scanner.aws_ids import LONG_TERM_KEY_ID
    from scanner.verify.audit import AuditLog
    from scanner.verify.deactivate import Reactivation, reactivate

    if not LONG_TERM_KEY_ID.fullmatch(key_id):
        raise UsageError(f"{key_id!r} is not a long-term access key id (AKIA + 16 characters)")

    def confirm(key: str, owner: str | None, op: Operator) -> bool:
        if yes:
            return True
        prompt = f"Type {key} to reactivate it for user {owner} (operator {op.arn}): "
        print(prompt, end="", file=sys.stderr, flush=True)
        return sys.stdin.readline().strip() == key

    audit = AuditLog(audit_log)
    done, note = reactivate(key_id, settings.aws(), audit, user=user, confirm=confirm)
    if done == Reactivation.REACTIVATED:
        print(f"{key_id}: reactivated (ListAccessKeys: Active)")
    elif done == Reactivation.ALREADY_ACTIVE:
        print(f"{key_id}: {note}")
    else:
        print(f"{key_id}: FAILED: {note}")
    print(f"Audit log: {audit.path}")
    return EXIT_ERROR if done == Reactivation.FAILED else EXIT_CLEAN
