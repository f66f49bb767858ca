"""Verification engine: which findings to check, with which candidate secrets, how often.

- Offline first: canary accounts are never contacted; allow/deny lists mark ``skipped``.
- One STS call per distinct (key id, secret, session token), cached by a hash of the triple,
  shared between threads (a second finding of the same key waits for the first call).
- At most ``concurrency`` calls in flight (a thread pool), each with bounded connect/read
  timeouts, retried with full-jitter exponential backoff on throttling, 5xx and network errors.
- Anything that is not a clear answer from AWS is ``unknown`` — never ``invalid``: a timeout,
  a body that is not STS XML, any exception at all (the report is always written), and a
  ``200`` that names an account other than the one the key ID encodes (real STS never does;
  the detail starts with ``account mismatch:``).
- Circuit breaker: after ``breaker_threshold`` calls in a row found the endpoint unreachable
  (refused, reset, timed out), no further call is made; the remaining keys are ``unknown``
  with the reason, instead of each going through every retry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from scanner.aws_ids import ACCESS_KEY_ID, STS_CHECKABLE_PREFIXES, TEMPORARY_PREFIX
from scanner.models import Finding, Verification, is_redacted, redact
from scanner.rules.aws_account import account_id_from_key_id
from scanner.verify import CANARY, EXPIRED, INVALID, LIVE, NOT_CHECKED, SKIPPED, UNKNOWN
from scanner.verify.canary import account_of, is_canary_account
from scanner.verify.session import AwsOptions
from scanner.verify.sts import StsOutcome

Checker = Callable[[str, str, "str | None", AwsOptions], StsOutcome]
Log = Callable[[str], None]


@dataclass(frozen=True)
class VerifyOptions:
    aws: AwsOptions = field(default_factory=AwsOptions)
    max_candidates: int = 3  # secrets tried per key id, nearest first
    concurrency: int = 4  # STS calls in flight at once
    max_attempts: int = 3  # per call, for throttling / 5xx / network errors
    backoff_base: float = 0.5  # seconds; full jitter: sleep U(0, min(cap, base * 2**n))
    backoff_cap: float = 8.0
    breaker_threshold: int = 5  # consecutive unreachable calls before no more are made
    canary_accounts: frozenset[str] = frozenset()  # user-added honeytoken accounts
    allow_accounts: frozenset[str] = frozenset()  # when set, only these accounts are checked
    deny_accounts: frozenset[str] = frozenset()  # never checked


def is_access_key_finding(finding: Finding) -> bool:
    return ACCESS_KEY_ID.fullmatch(finding.secret) is not None


@dataclass(frozen=True)
class _Candidate:
    secret: str
    token: str | None
    fingerprint: str  # of the paired secret, reported instead of the secret


def candidates_for(finding: Finding, max_candidates: int) -> list[_Candidate]:
    """Candidate (secret, token) pairs for a key id finding, nearest first, capped."""
    secrets = [
        p for p in finding.paired if p.kind == "secret_access_key" and not is_redacted(p.secret)
    ]
    if not finding.secret.startswith(TEMPORARY_PREFIX):
        return [_Candidate(p.secret, None, p.fingerprint) for p in secrets[:max_candidates]]
    tokens = [p for p in finding.paired if p.kind == "session_token"]
    pairs = [_Candidate(s.secret, t.secret, s.fingerprint) for s in secrets for t in tokens]
    return pairs[:max_candidates]


class _CallCache:
    """hash(key id, secret, token) -> Future of the one call made for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Future[StsOutcome]] = {}
        self.calls_made = 0

    def get(self, key_id: str, cand: _Candidate, make: Callable[[], StsOutcome]) -> StsOutcome:
        digest = hashlib.sha256(
            "\0".join((key_id, cand.secret, cand.token or "")).encode()
        ).hexdigest()
        with self._lock:
            fut = self._calls.get(digest)
            owner = fut is None
            if fut is None:
                fut = Future()
                self._calls[digest] = fut
                self.calls_made += 1
        if owner:
            try:
                fut.set_result(make())
            except BaseException as exc:  # keep waiters from hanging, then re-raise
                fut.set_exception(exc)
                raise
        return fut.result()


class _Breaker:
    """Opens after ``threshold`` consecutive calls found the endpoint unreachable."""

    def __init__(self, threshold: int) -> None:
        self._lock = threading.Lock()
        self.threshold = max(1, threshold)
        self._consecutive = 0
        self.open = False

    def record(self, outcome: StsOutcome) -> None:
        with self._lock:
            if outcome.unreachable:
                self._consecutive += 1
                if self._consecutive >= self.threshold:
                    self.open = True
            else:
                self._consecutive = 0

    def refusal(self) -> StsOutcome:
        return StsOutcome(
            UNKNOWN,
            detail=f"not checked: the endpoint was unreachable {self.threshold} times in a row "
            "(verification stopped early)",
            unreachable=True,
        )


class Verifier:
    """Verify AWS key findings. Reusable; ``calls_made`` counts distinct STS calls."""

    def __init__(
        self,
        options: VerifyOptions | None = None,
        *,
        checker: Checker | None = None,
        log: Log | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or VerifyOptions()
        if checker is None:
            from scanner.verify.sts import get_caller_identity

            checker = get_caller_identity
        self._checker = checker
        self._log = log
        self._sleep = sleep
        self._cache = _CallCache()
        self._breaker = _Breaker(self.options.breaker_threshold)
        self._log_lock = threading.Lock()

    @property
    def calls_made(self) -> int:
        return self._cache.calls_made

    def verify(self, findings: Iterable[Finding]) -> tuple[Finding, ...]:
        """Return the findings with ``verification`` set on every access key ID finding.

        Order and number of findings are preserved; other findings pass through unchanged.
        """
        items = list(findings)
        results: dict[int, Verification] = {}
        to_check: dict[tuple[str, tuple[_Candidate, ...]], list[int]] = {}
        for index, finding in enumerate(items):
            if not is_access_key_finding(finding):
                continue
            offline = self._offline_verdict(finding)
            if offline is not None:
                results[index] = offline
                continue
            cands = tuple(candidates_for(finding, self.options.max_candidates))
            to_check.setdefault((finding.secret, cands), []).append(index)

        if to_check:
            workers = max(1, min(self.options.concurrency, len(to_check)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
                futures = {job: pool.submit(self._check_key, job[0], job[1]) for job in to_check}
                for job, fut in futures.items():
                    try:
                        verdict = fut.result()
                    except Exception as exc:  # one key's failure is that key's alone
                        verdict = Verification(
                            UNKNOWN, detail=f"verification failed ({type(exc).__name__})"
                        )
                    for index in to_check[job]:
                        results[index] = verdict

        out = []
        for index, finding in enumerate(items):
            found = results.get(index)
            if found is not None:
                finding = dataclasses.replace(finding, verification=found)
            out.append(finding)
        return tuple(out)

    def _offline_verdict(self, finding: Finding) -> Verification | None:
        opts = self.options
        key_id = finding.secret
        account = account_of(finding)
        if finding.canary or is_canary_account(account, opts.canary_accounts):
            return Verification(
                CANARY,
                account=account,
                detail="honeytoken (canary) account: not sent to AWS, using it would alert "
                "its owner",
            )
        if account is not None and account in opts.deny_accounts:
            return Verification(SKIPPED, account=account, detail="account is in the deny list")
        if opts.allow_accounts and account not in opts.allow_accounts:
            why = (
                "account is not in the allow list"
                if account
                else "account cannot be decoded from this key id and an allow list is set"
            )
            return Verification(SKIPPED, account=account, detail=why)
        if not key_id.startswith(STS_CHECKABLE_PREFIXES):
            return Verification(
                NOT_CHECKED, account=account, detail=f"STS cannot check {key_id[:4]} keys"
            )
        if not any(p.kind == "secret_access_key" for p in finding.paired):
            return Verification(
                NOT_CHECKED, account=account, detail="no secret access key found near the key id"
            )
        if not candidates_for(finding, 1):
            return Verification(
                NOT_CHECKED, account=account, detail="the secret is redacted in the report"
            )
        if key_id.startswith(TEMPORARY_PREFIX) and not any(
            p.kind == "session_token" for p in finding.paired
        ):
            return Verification(
                NOT_CHECKED,
                account=account,
                detail="temporary (ASIA) key without a session token nearby",
            )
        return None

    def _check_key(self, key_id: str, cands: Sequence[_Candidate]) -> Verification:
        outcomes: list[StsOutcome] = []
        for cand in cands:
            outcome = self._cache.get(key_id, cand, functools.partial(self._call, key_id, cand))
            outcomes.append(outcome)
            if outcome.status == LIVE:
                decoded = account_id_from_key_id(key_id)
                if decoded is not None and outcome.account != decoded:
                    detail = (
                        f"account mismatch: the endpoint answered for account {outcome.account} "
                        f"but the key ID belongs to account {decoded}; AWS never answers so, "
                        "the answer is not trusted"
                    )
                    self._say(f"verify: {redact(key_id)} unknown ({detail})")
                    return Verification(
                        UNKNOWN,
                        account=decoded,
                        arn=outcome.arn,
                        detail=detail,
                        secret_fingerprint=cand.fingerprint,
                    )
                self._say(f"verify: {redact(key_id)} live ({outcome.arn})")
                return Verification(
                    LIVE,
                    account=outcome.account,
                    arn=outcome.arn,
                    user_id=outcome.user_id,
                    detail=outcome.detail,
                    secret_fingerprint=cand.fingerprint,
                )
            if outcome.status == EXPIRED:
                self._say(f"verify: {redact(key_id)} expired")
                return Verification(
                    EXPIRED, detail=outcome.detail, secret_fingerprint=cand.fingerprint
                )
            if outcome.status == INVALID and outcome.detail.startswith("InvalidClientTokenId"):
                break  # the key id itself is unknown to AWS: no other secret can help
        tried = f"{len(outcomes)} candidate secret(s) tried"
        unknown = [o for o in outcomes if o.status != INVALID]
        if unknown:
            self._say(f"verify: {redact(key_id)} unknown ({unknown[0].detail})")
            return Verification(UNKNOWN, detail=f"{unknown[0].detail} ({tried})")
        self._say(f"verify: {redact(key_id)} invalid")
        first = outcomes[0].detail if outcomes else "no candidates"
        return Verification(INVALID, detail=f"{first} ({tried})")

    def _attempt(self, key_id: str, cand: _Candidate) -> StsOutcome:
        """One call, unless the breaker is open; any exception is ``unknown``."""
        if self._breaker.open:
            return self._breaker.refusal()
        try:
            outcome = self._checker(key_id, cand.secret, cand.token, self.options.aws)
        except Exception as exc:  # never lose the report to one key
            outcome = StsOutcome(UNKNOWN, detail=f"verification failed ({type(exc).__name__})")
        self._breaker.record(outcome)
        return outcome

    def _call(self, key_id: str, cand: _Candidate) -> StsOutcome:
        opts = self.options
        outcome = self._attempt(key_id, cand)
        attempt = 1
        while outcome.retryable and attempt < opts.max_attempts and not self._breaker.open:
            delay = random.uniform(0, min(opts.backoff_cap, opts.backoff_base * 2**attempt))
            why = outcome.detail
            self._say(f"verify: {redact(key_id)} retry {attempt} in {delay:.1f}s ({why})")
            self._sleep(delay)
            outcome = self._attempt(key_id, cand)
            attempt += 1
        if outcome.retryable and not self._breaker.open:
            outcome = dataclasses.replace(
                outcome, detail=f"{outcome.detail}; gave up after {attempt} attempt(s)"
            )
        return outcome

    def _say(self, line: str) -> None:
        if self._log is not None:
            with self._log_lock:  # one whole line at a time from the verify threads
                self._log(line)


def unknown_summary(findings: Iterable[Finding]) -> str | None:
    """``verification incomplete: N key(s) unknown ...`` or None when every checked key got
    an answer. Said on stderr and in the report's notes; unknown keys do not change the exit
    code (1 for findings, 3 only for a key STS confirmed live)."""
    unknown = {
        f.secret: f.verification.detail
        for f in findings
        if f.verification is not None and f.verification.status == UNKNOWN
    }
    if not unknown:
        return None
    stopped = sum(1 for d in unknown.values() if d.startswith("not checked: the endpoint"))
    why = f", {stopped} not tried after the endpoint stopped answering" if stopped else ""
    return (
        f"verification incomplete: {len(unknown)} key(s) unknown{why} "
        "(see each finding's verification detail)"
    )
