"""Honeytoken (canary) AWS accounts: keys issued there must never be sent to AWS.

Using a canary key — even for a harmless STS GetCallerIdentity — fires the alert its owner set
up, and tells them their trap was found. So canary keys are recognised offline, from the account
ID encoded in the key ID, and marked ``canary`` instead of being verified.

The built-in list is the union of the account lists public scanners ship (accounts, not code,
were taken from them; all are public):

- trufflesecurity/trufflehog, pkg/detectors/aws/access_keys/canary.go: ``thinkstCanaryList``
  (canarytokens.org / Thinkst) and ``thinkstKnockoffsCanaryList`` (look-alike services)
- mongodb/kingfisher, src/validation/aws.rs: ``BUILTIN_SKIP_ACCOUNT_IDS`` (adds 528757803018,
  538784191382, 729780141977, 893192397702)

Users add their own honeytoken accounts with the ``canary_accounts`` configuration key or
``--canary-account``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable

from scanner.aws_ids import is_sts_checkable_key_id
from scanner.models import Finding

THINKST_ACCOUNTS: frozenset[str] = frozenset(
    {
        "052310077262",
        "171436882533",
        "266735846894",
        "528757803018",
        "534261010715",
        "538784191382",
        "595918472158",
        "717712589309",
        "729780141977",
        "730335385048",
        "819147034852",
        "893192397702",
        "992382622183",
    }
)

LOOKALIKE_ACCOUNTS: frozenset[str] = frozenset(
    {
        "044858866125",
        "251535659677",
        "344043088457",
        "351906852752",
        "390477818340",
        "426127672474",
        "427150556519",
        "439872796651",
        "445142720921",
        "465867158099",
        "637958123769",
        "693412236332",
        "732624840810",
        "735421457923",
        "959235150393",
        "982842642351",
    }
)

BUILTIN_CANARY_ACCOUNTS: frozenset[str] = THINKST_ACCOUNTS | LOOKALIKE_ACCOUNTS


def account_of(finding: Finding) -> str | None:
    """The account a key finding belongs to, decoded offline (None for old AKIAI/AKIAJ keys)."""
    if finding.account_id:
        return finding.account_id
    if not is_sts_checkable_key_id(finding.secret):
        return None
    from scanner.rules.aws_account import account_id_from_key_id

    return account_id_from_key_id(finding.secret)


def is_canary_account(account: str | None, extra: Collection[str] = ()) -> bool:
    return account is not None and (account in BUILTIN_CANARY_ACCOUNTS or account in extra)


def mark_canaries(
    findings: Iterable[Finding], extra_accounts: Collection[str] = ()
) -> tuple[Finding, ...]:
    """Offline enrichment, always on: fill ``account_id`` and set ``canary`` on honeytoken keys."""
    out: list[Finding] = []
    for finding in findings:
        account = account_of(finding)
        canary = finding.canary or is_canary_account(account, extra_accounts)
        if account != finding.account_id or canary != finding.canary:
            finding = dataclasses.replace(finding, account_id=account, canary=canary)
        out.append(finding)
    return tuple(out)
