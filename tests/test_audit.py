"""``keysweep audit`` on real repositories, a real Dask cluster, git daemon and moto, all on
127.0.0.1: findings equal the union of single ``history`` runs, failures carry reasons, a
killed worker or client loses nothing that finished."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.dask_cluster import LocalDaskCluster
from support.keys import env_text, key_id
from support.repo import Repo, isolated_git_env
from support.run import keysweep

from scanner.audit.inputs import discover, read_repos_file, repo_input
from scanner.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_LIVE_KEY
from scanner.errors import UsageError

JSON = ("--format", "json", "--show-secrets")
Key = tuple[str, str, str, int, str, str]  # repository, rule, path, line, secret, commit


# -- a fleet of generated repositories ------------------------------------------------------
def _clean(repo: Repo, n: int) -> None:
    for i in range(1 + n % 3):
        repo.commit({f"src/m{i}.py": f"print({n}, {i})\n" * (i + 1)}, f"clean {i}")


def _history_only(repo: Repo, n: int) -> None:
    repo.commit({"README.md": f"project {n}\n"}, "start")
    repo.commit({"deploy/.env": env_text(f"hist-{n}")}, "add settings")
    repo.commit({"deploy/.env": None}, "remove settings")


def _in_head(repo: Repo, n: int) -> None:
    repo.commit({"README.md": f"service {n}\n"}, "start")
    repo.commit({"config/.env": env_text(f"head-{n}")}, "add config")
    if n % 2:
        repo.commit({"shared/.env": env_text("shared")}, "the key every team copied")


def _corrupt(repo: Repo) -> None:
    repo.commit({"a.txt": "some content that git will not be able to read back\n"}, "one")
    blob = repo.git("rev-parse", "HEAD:a.txt")
    path = repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    path.chmod(0o644)
    path.write_bytes(b"not a zlib stream")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """22 repositories under two team directories: 8 clean, 6 with keys only in history,
    6 with keys in HEAD (3 share one key), 1 bare mirror, 1 corrupt. A repository nested in
    another one's work tree must not be found separately."""
    root = tmp_path_factory.mktemp("fleet")
    for n in range(8):
        _clean(Repo(root / "team-a" / f"clean{n:02d}"), n)
    for n in range(6):
        _history_only(Repo(root / "team-b" / f"hist{n:02d}"), n)
    for n in range(6):
        _in_head(Repo(root / "team-b" / "svc" / f"head{n:02d}"), n)
    source = root / "team-a" / "clean00"
    subprocess.run(
        ["git", "clone", "-q", "--mirror", str(root / "team-b" / "hist00"), "mirror.git"],
        cwd=root / "team-a",
        env=isolated_git_env(),
        check=True,
    )
    nested = Repo(source / "vendor" / "lib")  # inside clean00's work tree: not a 23rd repo
    nested.commit({"x.env": env_text("nested")}, "nested")
    _corrupt(Repo(root / "zz-corrupt"))
    return root


def all_repos(fleet: Path) -> list[Path]:
    return sorted(
        p.parent if p.name == ".git" else p
        for p in fleet.rglob("*")
        if (p.name == ".git" and "vendor" not in p.parts) or p.name == "mirror.git"
    )


def keys_of(findings: list[dict[str, Any]], repository: str | None = None) -> set[Key]:
    return {
        (
            repository or f["repository"],
            f["rule_id"],
            f["path"],
            f["line"],
            f["secret"],
            f["commit"]["sha"] if f["commit"] else "",
        )
        for f in findings
    }


@pytest.fixture(scope="module")
def expected(fleet: Path) -> set[Key]:
    """The union of single-repository ``keysweep history`` runs (the corrupt one fails)."""
    union: set[Key] = set()
    for path in all_repos(fleet):
        if path.name == "zz-corrupt":
            continue
        run = keysweep("history", str(path), *JSON)
        assert run.code in (0, 1), run.stderr
        union |= keys_of(run.findings, os.path.normpath(str(path)))
    assert len({k[0] for k in union}) == 13, "6 history-only + 6 in HEAD + the mirror"
    return union


def missing_url(tmp_path: Path) -> str:
    return (tmp_path / "no-such-repo.git").as_uri()


# -- sealed findings and the repository field ------------------------------------------------
def test_sealed_findings_keep_fingerprints_through_json_and_print_repository_only_when_set() -> (
    None
):
    from scanner.models import Finding, PairedSecret, ScanResult, ScanSummary, Severity
    from scanner.report import json as json_report

    secret = key_id("sealed")
    paired = PairedSecret("secret_access_key", "aws-secret-access-key", secret[::-1] * 2, 2, 1)
    plain = Finding(
        rule_id="aws-access-key-id",
        rule_name="AWS",
        severity=Severity.CRITICAL,
        description="",
        path=".env",
        line=1,
        column=1,
        secret=secret,
        entropy=3.5,
        paired=(paired,),
    )
    assert "repository" not in json_report.finding_to_dict(plain, show_secrets=False)
    sealed = replace(plain, repository="https://***@host/org/r.git").seal()
    assert (sealed.fingerprint, sealed.redacted) == (plain.fingerprint, plain.redacted)
    assert sealed.paired[0].fingerprint == paired.fingerprint
    assert secret not in repr(sealed) and paired.secret not in repr(sealed)
    result = ScanResult((sealed,), ScanSummary("audit", "t"))
    for show in (False, True):  # a sealed secret stays sealed even with --show-secrets
        data = json.loads(json_report.render(result, show_secrets=show))
        [item] = data["findings"]
        assert item["repository"] == "https://***@host/org/r.git"
        assert (item["secret"], item["secret_redacted"]) == (plain.redacted, True)
        [back] = json_report.result_from_json(data).findings
        assert back == sealed


# -- inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\n# comment\n\n  b  \nc # trailing note\n", ["a", "b", "c"]),
        ("https://host/org/r.git\n#https://host/org/off.git\n", ["https://host/org/r.git"]),
        ("\n\n# nothing\n", []),
    ],
)
def test_repos_file_lines(tmp_path: Path, text: str, expected: list[str]) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text(text)
    assert read_repos_file(str(listing)) == expected


CREDENTIAL_URL = "https://user:tok3n@git.example.com/org/r.git"  # keysweep:allow (a fake)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (CREDENTIAL_URL, "https://git.example.com/org/r.git", True),
        ("https://git.example.com/org/r.git/", "https://git.example.com/org/r.git", True),
        ("https://git.example.com/org/r.git", "https://git.example.com/org/s.git", False),
    ],
)
def test_urls_are_named_without_credentials(first: str, second: str, same: bool) -> None:
    a, b = repo_input(first), repo_input(second)
    assert (a.key == b.key) is same
    assert "tok3n" not in a.label + a.key
    assert a.target == first  # git still gets the credentials


def test_directory_discovery_and_duplicates(fleet: Path) -> None:
    team_b = fleet / "team-b" / "hist00"
    found = discover([str(fleet), str(team_b), f"{team_b}/."])
    assert [r.label for r in found] == [os.path.normpath(str(p)) for p in all_repos(fleet)]
    assert len(found) == 22
    assert not any("vendor" in r.label for r in found)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/keysweep-audit"], "no such file or directory"),
        ([], "no repositories given"),
    ],
)
def test_bad_inputs(args: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        discover(args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume"], "--resume needs --output-dir"),
        (["--engine", "dask"], "--engine dask needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler is for --engine dask"),
        (["--repo-timeout", "0"], "must be more than 0"),
    ],
)
def test_bad_options_are_one_line_exit_2(fleet: Path, args: list[str], message: str) -> None:
    run = keysweep("audit", str(fleet / "team-a" / "clean01"), *args)
    assert run.code == EXIT_ERROR
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


# -- the local engine -----------------------------------------------------------------------
@pytest.mark.slow
def test_local_audit_equals_union_of_history_runs(
    fleet: Path, expected: set[Key], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    missing = missing_url(tmp_path)
    run = keysweep("audit", str(fleet), missing, *JSON, "--output-dir", str(out), "--jobs", "2")
    assert run.code == EXIT_ERROR, "two repositories failed"
    assert keys_of(run.findings) == expected
    report = json.loads((out / "report.json").read_text())
    assert keys_of(report["findings"]) == expected
    by_repo = {r["repository"]: r for r in report["repositories"]}
    assert len(by_repo) == 23
    corrupt = by_repo[os.path.normpath(str(fleet / "zz-corrupt"))]
    assert corrupt["status"] == "failed" and "corrupt" in corrupt["error"]
    assert by_repo[missing]["status"] == "failed"
    assert "cannot clone" in by_repo[missing]["error"]
    assert sum(r["status"] == "ok" for r in by_repo.values()) == 21
    totals = report["totals"]
    assert totals["findings"] == len(expected)
    assert sum(totals["by_rule"].values()) == sum(totals["by_severity"].values()) == len(expected)
    assert len(list((out / "repos").glob("*.json"))) == 23
    assert f"{missing}: " in run.stderr and "error(s)" in run.stderr


def test_results_are_redacted_without_show_secrets(fleet: Path, tmp_path: Path) -> None:
    repos = [str(fleet / "team-b" / "svc" / f"head0{n}") for n in (1, 2)]
    shown = keysweep("audit", *repos, *JSON)
    out = tmp_path / "out"
    hidden = keysweep("audit", *repos, "--format", "json", "--output-dir", str(out))
    assert shown.code == hidden.code == EXIT_FINDINGS
    # Identifiers (access key IDs, shown in every report once they are marked as such) aside.
    secrets = {f["secret"] for f in shown.findings if not f.get("identifier")}
    assert len(secrets) >= 3
    written = hidden.stdout + "".join(p.read_text() for p in out.rglob("*.json"))
    assert not any(s in written for s in secrets)
    assert all(f["secret_redacted"] for f in hidden.findings)
    fingerprints = sorted(f["fingerprint"] for f in shown.findings)
    assert sorted(f["fingerprint"] for f in hidden.findings) == fingerprints
    for fmt, needle in (("table", "head01"), ("sarif", '"repository"')):
        other = keysweep("audit", *repos, "--format", fmt)
        assert needle in other.stdout
        assert not any(s in other.stdout for s in secrets)
    # files holding plain secrets are the owner's alone, as every report keysweep writes
    plain = tmp_path / "plain"
    assert keysweep("audit", *repos, *JSON, "--output-dir", str(plain)).code == EXIT_FINDINGS
    files = list(plain.rglob("*.json"))
    assert len(files) == 3 and any(s in p.read_text() for p in files for s in secrets)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_json_report_has_the_repositories_and_totals(fleet: Path, tmp_path: Path) -> None:
    """``--format json`` renders what DIR/report.json holds, per-repository summaries included."""
    repos = [str(fleet / "team-b" / "svc" / f"head0{n}") for n in (1, 2)]
    out, report = tmp_path / "out", tmp_path / "audit.json"
    args = ("--format", "json", "--output-dir", str(out), "--output", str(report))
    run = keysweep("audit", *repos, *args)
    assert run.code == EXIT_FINDINGS, run.stderr
    given, kept = (json.loads(p.read_text()) for p in (report, out / "report.json"))
    assert given["totals"] == kept["totals"] and given["totals"]["repositories"] == 2
    assert [r["repository"] for r in given["repositories"]] == [os.path.normpath(r) for r in repos]
    assert given["findings"] == kept["findings"]


def test_min_confidence_reaches_every_task(tmp_path: Path) -> None:
    """``audit --min-confidence low`` scanned at the default (medium): a weak password that
    ``history --min-confidence low`` reports was dropped."""
    repo = Repo(tmp_path / "weak")
    repo.commit({".env": "DB_PASSWORD=admin123\n"}, "settings")
    args = ("--format", "json")
    assert not keysweep("audit", str(repo.path), *args).findings
    low = keysweep("audit", str(repo.path), *args, "--min-confidence", "low")
    history = keysweep("history", str(repo.path), *args, "--min-confidence", "low")
    assert low.code == history.code == EXIT_FINDINGS, low.stderr
    assert [f["rule_id"] for f in low.findings] == [f["rule_id"] for f in history.findings]


def test_html_report_names_repositories_and_hides_secrets(fleet: Path, tmp_path: Path) -> None:
    repos = [str(fleet / "team-b" / "svc" / f"head0{n}") for n in (1, 2)]
    shown = keysweep("audit", *repos, *JSON)
    secrets = {f["secret"] for f in shown.findings if not f.get("identifier")}
    out = tmp_path / "audit.html"
    run = keysweep("audit", *repos, "--format", "html", "--output", str(out))
    assert run.code == EXIT_FINDINGS, run.stderr
    page = out.read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert all(os.path.normpath(r) in page for r in repos)
    assert secrets and not any(s in page for s in secrets)


def test_html_report_lists_every_repository_and_its_fate(fleet: Path, tmp_path: Path) -> None:
    """It named "N repositories" as a target, left out clean repositories and did not say
    which one failed."""
    repos = [
        fleet / "team-a" / "clean00",
        fleet / "team-b" / "svc" / "head01",
        fleet / "zz-corrupt",
    ]
    out = tmp_path / "audit.html"
    run = keysweep("audit", *map(str, repos), "--format", "html", "--output", str(out))
    assert run.code == EXIT_ERROR, run.stderr
    page = out.read_text()
    listed = page[page.index("<h2>Repositories</h2>") :].split("</ul>", 1)[0]
    assert listed.count("<li>") == 3 and "3 repositories" not in listed
    assert "clean00</code> &middot; 0 findings" in listed
    assert re.search(r"head01</code> &middot; \d+ findings", listed)
    assert 'zz-corrupt</code> &middot; <strong class="failed">failed: ' in listed


def test_progress_hears_every_repository_once(fleet: Path, tmp_path: Path) -> None:
    from scanner.audit.engines import LocalEngine
    from scanner.audit.run import run_audit
    from scanner.audit.store import ResultStore
    from scanner.audit.task import RepoOutcome, ScanSettings

    class Recorder:
        def __init__(self) -> None:
            self.total = 0
            self.seen: list[tuple[str, str, bool]] = []

        def start(self, total: int) -> None:
            self.total = total

        def done(self, outcome: RepoOutcome) -> None:
            self.seen.append((outcome.repo.label, outcome.status, outcome.resumed))

    repos = discover([str(fleet / "team-b" / "svc")])
    store = ResultStore(tmp_path / "out", ScanSettings().identity())
    first, second = Recorder(), Recorder()
    report = run_audit(repos, ScanSettings(), LocalEngine(jobs=2), store=store, progress=first)
    again = run_audit(
        repos, ScanSettings(), LocalEngine(jobs=2), store=store, resume=True, progress=second
    )
    labels = sorted(r.label for r in repos)
    assert first.total == second.total == len(repos) == 6
    assert sorted(label for label, _, _ in first.seen) == labels
    assert sorted(second.seen) == [(label, "ok", True) for label in labels]
    assert report.result.findings and again.result.findings == report.result.findings


def test_resume_from_another_directory_reuses_every_result(fleet: Path, tmp_path: Path) -> None:
    """Local repositories only: the directory the audit starts in is no setting (it was, for
    the config of cloned URLs, so every result was scanned again)."""
    repos = [str(fleet / "team-b" / "svc" / f"head0{n}") for n in (1, 2)]
    out = tmp_path / "out"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    args = ("audit", *repos, "--format", "json", "--output-dir", str(out))
    assert keysweep(*args, cwd=first).code == EXIT_FINDINGS
    assert keysweep(*args, "--resume", cwd=second).code == EXIT_FINDINGS
    report = json.loads((out / "report.json").read_text())
    assert [r["resumed"] for r in report["repositories"]] == [True, True]


def test_resume_rescans_a_result_file_nested_too_deep(fleet: Path, tmp_path: Path) -> None:
    """A damaged result is scanned again; one nested 100,000 deep was a RecursionError that
    ended the whole audit as "internal error"."""
    repos = [str(fleet / "team-b" / "svc" / f"head0{n}") for n in (1, 2)]
    out = tmp_path / "out"
    args = ("audit", *repos, "--format", "json", "--output-dir", str(out))
    assert keysweep(*args).code == EXIT_FINDINGS
    damaged = sorted((out / "repos").iterdir())[0]
    damaged.write_text("[" * 100_000)
    run = keysweep(*args, "--resume")
    assert run.code == EXIT_FINDINGS, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert sorted(r["resumed"] for r in report["repositories"]) == [False, True]


# -- a server that accepts and never answers: a clone that hangs ----------------------------
class Silent:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"git://127.0.0.1:{self.sock.getsockname()[1]}/hangs.git"
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        """Stop listening for real: a plain close() would not wake the thread blocked in
        accept(), and that accept() would go on taking connections."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)
        for conn in self.conns:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


def test_repo_timeout_fails_only_that_repository(
    fleet: Path, silent: Silent, tmp_path: Path
) -> None:
    good = str(fleet / "team-b" / "hist01")
    run = keysweep("audit", good, silent.url, *JSON, "--repo-timeout", "2")
    assert run.code == EXIT_ERROR
    assert {f["repository"] for f in run.findings} == {good}
    assert f"{silent.url}: timed out after 2 s" in run.stderr


def test_a_scan_process_that_dies_fails_its_repository_with_the_reason(silent: Silent) -> None:
    from scanner.audit import task

    spec = task.RepoSpec(repo_input(silent.url), task.ScanSettings())
    outcomes: list[task.RepoOutcome] = []
    runner = threading.Thread(target=lambda: outcomes.append(task.run_isolated(spec)), daemon=True)
    runner.start()
    wait_for(lambda: bool(task._LIVE) and bool(silent.conns), "the scan process cloning")
    [child] = list(task._LIVE)
    os.kill(child.pid, signal.SIGKILL)
    runner.join(60)
    [outcome] = outcomes
    assert (outcome.status, outcome.error) == ("failed", "scan process died (killed by signal 9)")
    assert outcome.result.findings == ()


def audit_process(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scanner", "audit", *args],
        cwd=cwd,
        env=isolated_git_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: Any, what: str, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_resume_after_killing_the_client_rescans_nothing_finished(
    fleet: Path, expected: set[Key], silent: Silent, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [str(fleet), silent.url, *JSON, "--output-dir", str(out), "--jobs", "2"]
    proc = audit_process(*args, cwd=tmp_path)
    repos = out / "repos"
    # Everything but the hanging clone finishes; the audit cannot, until it is killed.

    def all_but_one() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the audit ended early: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        return repos.is_dir() and len(list(repos.glob("*.json"))) == 22

    wait_for(all_but_one, "22 results")
    assert proc.poll() is None, "the audit must still be waiting on the hanging clone"
    proc.kill()
    proc.communicate()
    assert not (out / "report.json").exists()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in repos.glob("*.json")}
    silent.close()  # the orphaned clone fails now; so does the same URL on resume

    run = keysweep("audit", *args, "--resume", cwd=tmp_path)
    assert run.code == EXIT_ERROR
    assert keys_of(run.findings) == expected
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in repos.glob("*.json")}
    report = json.loads((out / "report.json").read_text())
    resumed = {r["repository"] for r in report["repositories"] if r["resumed"]}
    rescanned = {r["repository"] for r in report["repositories"] if not r["resumed"]}
    # The corrupt repository failed, so it is tried again; nothing that finished is.
    assert rescanned == {silent.url, os.path.normpath(str(fleet / "zz-corrupt"))}
    assert len(resumed) == 21
    unchanged = {n for n in before if after.get(n) == before[n]}
    assert len(unchanged) == 21, "finished results are not rewritten"


def test_ctrl_c_exits_130_keeps_finished_results_and_ends_its_scans(
    fleet: Path, silent: Silent, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    good = [str(fleet / "team-b" / f"hist0{n}") for n in (3, 4)]
    proc = audit_process(*good, silent.url, "--output-dir", str(out), "--jobs", "3", cwd=tmp_path)
    repos = out / "repos"

    def finished_two() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the audit ended early: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        return repos.is_dir() and len(list(repos.glob("*.json"))) == 2 and bool(silent.conns)

    wait_for(finished_two, "two results and the hanging clone connected")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.decode().strip().splitlines()[-1] == "keysweep: interrupted"
    assert len(list(repos.glob("*.json"))) == 2
    assert not (out / "report.json").exists()
    for conn in silent.conns:  # the clone the audit started was ended, not left behind
        conn.settimeout(30)
        while conn.recv(4096):  # the clone's request, then end of stream (a timeout: alive)
            pass


# -- URLs: file:// and git daemon -------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def git_daemon(fleet: Path) -> Iterator[str]:
    port = free_port()
    base = fleet / "team-b"
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--export-all",
            "--reuseaddr",
            f"--base-path={base}",
            str(base),
        ],
        env=isolated_git_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, "git daemon")
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def test_url_inputs_file_and_git_daemon(fleet: Path, expected: set[Key], git_daemon: str) -> None:
    head = fleet / "team-b" / "svc" / "head01"
    hist = fleet / "team-b" / "hist02"
    urls = [head.as_uri(), f"{git_daemon}/hist02/.git"]
    run = keysweep("audit", *urls, *JSON)
    assert run.code == EXIT_FINDINGS, run.stderr
    want = {
        (url, *k[1:])
        for url, path in zip(urls, (head, hist), strict=True)
        for k in expected
        if k[0] == os.path.normpath(str(path))
    }
    assert want and keys_of(run.findings) == want


# -- verification: one STS call per distinct key ----------------------------------------------
def test_verify_calls_sts_once_per_distinct_key(moto: Any, fleet: Path, tmp_path: Path) -> None:
    from support.moto_server import dummy_aws_env, unique

    mp = pytest.MonkeyPatch()
    try:
        dummy_aws_env(mp, tmp_path)
        key, secret = moto.new_user(unique("audit-live"))
        text = f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n"
        repos = []
        for n in range(3):
            repo = Repo(tmp_path / f"live{n}")
            repo.commit({"ops/.env": text, "other/.env": env_text(f"dead-{n}")}, "leak")
            repos.append(str(repo.path))
        before = moto.count(lambda s: s.key_id == key)
        run = keysweep(
            "audit",
            *repos,
            "--format",
            "json",
            "--verify",
            "--aws-endpoint-url",
            moto.endpoint,
            env={k: os.environ[k] for k in os.environ if k.startswith("AWS")},
        )
    finally:
        mp.undo()
    assert run.code == EXIT_LIVE_KEY, run.stderr
    live = [f for f in run.findings if f["verification"] and f["verification"]["status"] == "live"]
    assert {f["repository"] for f in live} == set(repos)
    assert moto.count(lambda s: s.key_id == key) - before == 1
    assert secret not in run.stdout


# -- the Dask engine ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDaskCluster]:
    pytest.importorskip("distributed")
    with LocalDaskCluster(
        tmp_path_factory.mktemp("dask"), workers=2, env=isolated_git_env()
    ) as cluster:
        yield cluster


@pytest.mark.slow
def test_dask_audit_survives_a_killed_worker(
    cluster: LocalDaskCluster, fleet: Path, expected: set[Key], tmp_path: Path
) -> None:
    from distributed import Client

    with Client(cluster.address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
        pids: dict[str, int] = client.run(os.getpid)
        out = tmp_path / "out"
        proc = audit_process(
            str(fleet),
            missing_url(tmp_path),
            *JSON,
            "--engine",
            "dask",
            "--scheduler",
            cluster.address,
            "--output-dir",
            str(out),
            cwd=tmp_path,
        )
        busy: list[str] = []

        def a_worker_is_busy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the audit ended early: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            processing = client.processing()
            busy[:] = [w for w, keys in processing.items() if keys and w in pids]
            return bool(busy) and (out / "repos").is_dir() and any((out / "repos").iterdir())

        wait_for(a_worker_is_busy, "a worker running a task after a first result")
        assert proc.poll() is None, "the audit must still be running"
        os.kill(pids[busy[0]], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_ERROR, stderr.decode()
    report = json.loads(stdout)
    assert keys_of(report["findings"]) == expected
    failed = {
        r["repository"]
        for r in json.loads((out / "report.json").read_text())["repositories"]
        if r["status"] == "failed"
    }
    assert failed == {missing_url(tmp_path), os.path.normpath(str(fleet / "zz-corrupt"))}


# -- layering -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "module", sorted(p.name for p in (Path(__file__).parents[1] / "scanner" / "audit").glob("*.py"))
)
def test_audit_never_imports_the_cli(module: str) -> None:
    """Tasks run on workers: the audit subsystem sits below the CLI, never the other way."""
    import ast

    tree = ast.parse((Path(__file__).parents[1] / "scanner" / "audit" / module).read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not [m for m in imported if m and m.startswith("scanner.cli")]
