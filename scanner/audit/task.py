"""One audit task: the history scan of one repository, isolated in a child process.

:func:`scan_repository` runs in the child (``python -m scanner.audit.task``): the same
pipeline as ``keysweep history REPO`` (:meth:`Project.scan_history` with the repository's own
config, then its baseline), every finding tagged with its repository and, unless the secrets
are needed (--show-secrets, --verify), sealed: redacted, fingerprint kept. :func:`run_isolated`
is what an engine runs: it starts that child, feeds it the spec, and turns a crash, a hang past
the timeout or a scanner error into a failed outcome with a one-line reason. The child has no
terminal and its stderr is discarded: nothing it could say reaches an engine's logs.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from scanner.audit.inputs import RepoInput
from scanner.errors import ScannerError, how_ended
from scanner.models import ScanMode, ScanResult, ScanSummary
from scanner.project import ProjectOptions
from scanner.scanning import scan_history

OK = "ok"
FAILED = "failed"


@dataclass(frozen=True)
class ScanSettings(ProjectOptions):
    """The options every task of one audit shares (what ``history`` takes on its command
    line): the project's (:class:`ProjectOptions`) and the history scan's."""

    since: str | None = None
    include_unreachable: bool = False
    keep_secrets: bool = False  # --show-secrets or --verify: findings travel unsealed
    # Where a cloned URL's config is looked for (``history URL`` uses its working directory):
    # the directory the audit was started in, not the worker's.
    url_config_root: str | None = None

    def located(self, *, clones: bool) -> ScanSettings:
        """These settings with full paths, for tasks that run in another directory or on
        another machine; with ``clones`` (URLs among the repositories), a cloned URL's config
        is looked for in this directory. Without, the directory is no setting: a resumed audit
        started elsewhere reuses every result."""

        def full(path: str | None) -> str | None:
            return None if path is None else str(Path(path).absolute())

        return replace(
            self,
            rule_packs=tuple(str(Path(p).absolute()) for p in self.rule_packs),
            config_file=full(self.config_file),
            baseline_file=full(self.baseline_file),
            url_config_root=(self.url_config_root or str(Path.cwd())) if clones else None,
        )

    def identity(self) -> str:
        """What makes two audits' results interchangeable (``--resume`` reuses a result only
        when this matches)."""
        return repr(replace(self, keep_secrets=False))


@dataclass(frozen=True)
class RepoSpec:
    repo: RepoInput
    settings: ScanSettings
    timeout: float | None = None


@dataclass(frozen=True)
class RepoOutcome:
    """What a task returns: small, picklable, secrets sealed unless asked for."""

    repo: RepoInput
    status: str  # ok | failed
    duration_s: float
    result: ScanResult
    error: str | None = None
    resumed: bool = False
    attempts: tuple[str, ...] = field(default=())

    @property
    def findings(self) -> int:
        return len(self.result.findings)


def _empty(repo: RepoInput) -> ScanResult:
    return ScanResult(findings=(), summary=ScanSummary(mode=ScanMode.HISTORY, target=repo.label))


def failed(repo: RepoInput, reason: str, duration_s: float = 0.0) -> RepoOutcome:
    return RepoOutcome(repo, FAILED, duration_s, _empty(repo), error=reason)


def scan_repository(spec: RepoSpec) -> RepoOutcome:
    """The history scan of one repository, in this process (the child's body)."""
    from scanner.project import load_project, project_root
    from scanner.sources.history import is_remote

    repo, settings = spec.repo, spec.settings
    started = time.monotonic()
    try:
        if is_remote(repo.target) and settings.url_config_root:
            root = Path(settings.url_config_root)
        else:
            root = project_root(repo.target)
        project, settings = load_project(settings, root)
        result = scan_history(
            repo.target,
            settings,
            project,
            since=settings.since,
            include_unreachable=settings.include_unreachable,
            jobs=1,  # the audit's parallelism is across repositories
        )
        result = project.apply(result)
    except ScannerError as exc:  # messages are one line, URLs redacted, no secret
        return failed(repo, str(exc).replace(repo.target, repo.label), time.monotonic() - started)
    findings = tuple(
        replace(f, repository=repo.label)
        if settings.keep_secrets
        else replace(f, repository=repo.label).seal()
        for f in result.findings
    )
    summary = replace(result.summary, target=repo.label)
    elapsed = time.monotonic() - started
    if summary.errors:  # a corrupt object, a blob that could not be read
        reason = summary.errors[0].replace(repo.target, repo.label)
        return RepoOutcome(repo, FAILED, elapsed, ScanResult(findings, summary), error=reason)
    return RepoOutcome(repo, OK, elapsed, ScanResult(findings, summary))


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


STOP_GRACE_S = 5.0  # how long a scan process gets to remove its clone before SIGKILL


def stop_running() -> None:
    """End every child this process started (Ctrl-C: the waiting threads then return)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    _signal_groups(live, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while any(p.poll() is None for p in live) and time.monotonic() < deadline:
        time.sleep(0.02)
    _signal_groups([p for p in live if p.poll() is None], signal.SIGKILL)


def _signal_groups(procs: list[subprocess.Popen[bytes]], sig: signal.Signals) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def run_isolated(spec: RepoSpec) -> RepoOutcome:
    """Run :func:`scan_repository` in a child process (its own session, so Ctrl-C reaches
    only the audit, which ends it). Never raises for a repository's own failure."""
    started = time.monotonic()
    payload = pickle.dumps(spec)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner.audit.task"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        out, _ = proc.communicate(payload, timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return failed(spec.repo, f"timed out after {spec.timeout:g} s", time.monotonic() - started)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    if proc.returncode != 0 or not out:
        how = how_ended(proc.returncode)
        return failed(spec.repo, f"scan process died ({how})", time.monotonic() - started)
    outcome = pickle.loads(out)
    if not isinstance(outcome, RepoOutcome):
        return failed(spec.repo, "scan process returned no result", time.monotonic() - started)
    return outcome


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the child and what it started: SIGTERM first, so the child stops its clone (which
    runs in a process group of its own) and removes the temporary mirror; SIGKILL after
    :data:`STOP_GRACE_S`."""
    _signal_groups([proc], signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_groups([proc], signal.SIGKILL)
        proc.wait()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # A stop from the audit: unwind like Ctrl-C, so clone_mirror stops git and cleans up.
    raise KeyboardInterrupt


def _child() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    spec = pickle.load(sys.stdin.buffer)
    # Nothing but the pickled outcome goes to the parent: the result gets its own descriptor
    # and fd 1 becomes stderr (discarded), for this process and any git it starts.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        outcome = scan_repository(spec)
    except Exception as exc:  # a bug must fail this repository, not the audit
        outcome = failed(spec.repo, f"internal error: {type(exc).__name__}")
    with out:
        out.write(pickle.dumps(outcome))
    return 0


if __name__ == "__main__":
    # Through the imported module, so pickled classes are scanner.audit.task's, not __main__'s.
    from scanner.audit.task import _child as child

    raise SystemExit(child())
