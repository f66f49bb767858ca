"""What to ask AWS and how (``AwsSettings``): the command line's aws group plus the
``[verify]`` config. Its own module so that the commands that never call AWS (``staged``
above all, the pre-commit hook) parse their options without importing the response pipeline
(``scanner.verify.pipeline``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from scanner.verify.session import AwsOptions

DEFAULT_MAX_CANDIDATES = 3
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 10.0


class AccountLists(Protocol):
    """The ``[verify]`` configuration's account lists (``scanner.config.VerifyConfig``)."""

    @property
    def canary_accounts(self) -> tuple[str, ...]: ...
    @property
    def allow_accounts(self) -> tuple[str, ...]: ...
    @property
    def deny_accounts(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class AwsSettings:
    """What to ask AWS and how: the command line's aws group plus the ``[verify]`` config."""

    verify: bool = False
    exposure: bool = False
    endpoint_url: str | None = None
    region: str = "us-east-1"
    profile: str | None = None
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    canary_accounts: tuple[str, ...] = ()
    allow_accounts: tuple[str, ...] = ()  # when set, only these accounts are checked
    deny_accounts: tuple[str, ...] = ()  # never checked
    keep_verdicts: bool = False  # trust a finding's verification (a report's) instead of asking
    # with keep_verdicts: a kept ``live`` verdict is asked again (ListAccessKeys, operator
    # credentials), so a key deactivated since the report is not analyzed as live
    recheck_live: bool = False
    operator_lookup: bool = False  # keys without a secret: ListAccessKeys, operator credentials
    blast_radius: bool = False  # live keys: principal, policies, MFA (operator credentials)
    blast_radius_required: bool = False  # unusable operator credentials: an error, not a note

    def with_config(self, config: AccountLists | None) -> AwsSettings:
        """Add the canary/allow/deny account lists of the ``[verify]`` configuration."""
        if config is None:
            return self
        return dataclasses.replace(
            self,
            canary_accounts=(*self.canary_accounts, *config.canary_accounts),
            allow_accounts=(*self.allow_accounts, *config.allow_accounts),
            deny_accounts=(*self.deny_accounts, *config.deny_accounts),
        )

    def aws(self) -> AwsOptions:
        return AwsOptions(
            region=self.region,
            endpoint_url=self.endpoint_url,
            profile=self.profile,
            connect_timeout=min(5.0, self.timeout),
            read_timeout=self.timeout,
            total_timeout=self.timeout,
        )
