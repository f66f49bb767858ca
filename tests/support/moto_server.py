"""A moto server on 127.0.0.1 with IAM authentication enforced, for the AWS tests.

Imported by tests/test_verify*.py and tests/test_deactivate*.py, and lazily by the ``moto`` and
``aws_env`` fixtures in tests/conftest.py (so other suites do not pay for it). Nothing here
talks to anything but loopback:

- ``aws_env`` (``dummy_aws_env``; the AWS modules use it on every test) sets dummy AWS_*
  variables, an empty config file and AWS_EC2_METADATA_DISABLED so no SDK call can find real
  credentials or reach real AWS;
- every client is built with an explicit ``endpoint_url`` pointing at this server.

The server runs in its own process (``python tests/support/moto_server.py``): moto's authentication
switch and its backends are process-global, so an in-process server would leak "auth on" and
our IAM users into any other suite that starts its own moto in the pytest process.

Authentication: moto authenticates only after ``INITIAL_NO_AUTH_ACTION_COUNT`` actions
(infinity by default). The server process starts with that variable set to the number of
bootstrap calls (admin users in two accounts); we then also switch it to 0 through moto's
``/moto-api/reset-auth`` endpoint (the server-mode twin of ``set_initial_no_auth_action_count``)
so it is on whatever moto counted. From then on every request must be signed by a key moto
knows, with the right secret, and be allowed by the user's policies.

The server records each request's action and the access key id that signed it
(``MotoServer.requests()``), so tests can prove which credential was used, and that no request
was made at all.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

ACCOUNT_A = "123456789012"  # moto's default account
ACCOUNT_B = "210987654321"

ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)

_CRED_RE = re.compile(r"Credential=([A-Z0-9]+)/")


@dataclass(frozen=True)
class Seen:
    action: str
    key_id: str | None


# A region of each partition besides ``aws``: moto keeps one IAM and STS per partition, and
# signs ARNs with it (``arn:aws-cn:...``), as AWS does.
PARTITION_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


@dataclass
class MotoServer:
    endpoint: str
    process: Any
    admins: dict[str, tuple[str, str]] = field(default_factory=dict)  # account -> (key, secret)
    # partition -> (key, secret) of ACCOUNT_A's administrator there (``aws``: admins[ACCOUNT_A])
    partition_admins: dict[str, tuple[str, str]] = field(default_factory=dict)

    def requests(self) -> list[Seen]:
        with urllib.request.urlopen(f"{self.endpoint}{_RECORD_PATH}", timeout=10) as resp:
            return [Seen(action, key_id) for action, key_id in json.loads(resp.read())]

    def client(
        self,
        service: str,
        key_id: str,
        secret: str,
        token: str | None = None,
        region: str = "us-east-1",
    ) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )

    def admin(self, service: str, account: str = ACCOUNT_A, partition: str = "aws") -> Any:
        if partition == "aws":
            key, secret = self.admins[account]
        else:
            assert account == ACCOUNT_A, "partitions other than aws have one account's admin"
            key, secret = self.partition_admins[partition]
        return self.client(service, key, secret, region=PARTITION_REGIONS[partition])

    def new_user(
        self, name: str, account: str = ACCOUNT_A, partition: str = "aws"
    ) -> tuple[str, str]:
        """Create an IAM user with one access key; returns (key id, secret) made by moto."""
        iam = self.admin("iam", account, partition)
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

    def key_status(
        self, user: str, key_id: str, account: str = ACCOUNT_A, partition: str = "aws"
    ) -> str:
        iam = self.admin("iam", account, partition)
        for meta in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            if meta["AccessKeyId"] == key_id:
                return str(meta["Status"])
        raise AssertionError(f"{key_id} not listed for {user}")

    def count(self, predicate: Callable[[Seen], bool] = lambda s: True) -> int:
        return sum(1 for s in self.requests() if predicate(s))


class _RecordingServer(ThreadedMotoServer):
    """ThreadedMotoServer whose WSGI app records (action, signing key id) of every request."""

    def __init__(self, record: list[Seen]) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self._record = record

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        inner = DomainDispatcherApplication(create_backend_app)
        record = self._record

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            path = environ.get("PATH_INFO", "")
            if path == _RECORD_PATH:
                body = json.dumps([[s.action, s.key_id] for s in list(record)]).encode()
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            if path == _CLEAR_PATH:
                record.clear()
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok"]
            if not path.startswith("/moto-api"):
                auth = environ.get("HTTP_AUTHORIZATION", "")
                match = _CRED_RE.search(auth)
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                import io

                environ["wsgi.input"] = io.BytesIO(body)
                action = re.search(rb"Action=([A-Za-z]+)", body)
                record.append(
                    Seen(
                        action=action.group(1).decode() if action else path,
                        key_id=match.group(1) if match else None,
                    )
                )
            return inner(environ, start_response)

        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()


def _post(url: str, data: bytes) -> None:
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def _bootstrap_admin(endpoint: str, account: str, region: str = "us-east-1") -> tuple[str, str]:
    """Create an all-powerful user in ``account`` (in ``region``'s partition) while
    authentication is still off."""
    import boto3

    iam = boto3.client(
        "iam",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )

    def pick_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    iam.meta.events.register("before-send.iam.*", pick_account)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


_shared: MotoServer | None = None
_shared_lock = threading.Lock()
_RECORD_PATH = "/_keysweep_test/requests"
_CLEAR_PATH = "/_keysweep_test/clear"
# create_user + put_user_policy + create_access_key, in two accounts, then in ACCOUNT_A of
# each other partition
_BOOTSTRAP_CALLS = 3 * (2 + len(PARTITION_REGIONS) - 1)


def shared_moto() -> MotoServer:
    """One server process per test session, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _start_moto()
            atexit.register(_stop, _shared)
        return _shared


def _start_moto() -> MotoServer:
    """Start the server process, create admins in two accounts, then enforce authentication."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "proxy" not in k.lower()
    }
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_BOOTSTRAP_CALLS)
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AdministratorAccess & co. (blast radius)
    process = subprocess.Popen(
        [sys.executable, __file__],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"moto server did not start: {line!r}")
    endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
    admins = {acct: _bootstrap_admin(endpoint, acct) for acct in (ACCOUNT_A, ACCOUNT_B)}
    partition_admins = {
        partition: _bootstrap_admin(endpoint, ACCOUNT_A, region)
        for partition, region in PARTITION_REGIONS.items()
        if partition != "aws"
    }
    _post(f"{endpoint}/moto-api/reset-auth", b"0")  # on, whatever moto counted
    _post(f"{endpoint}{_CLEAR_PATH}", b"")
    return MotoServer(endpoint, process, admins, partition_admins)


def _stop(moto: MotoServer) -> None:
    moto.process.terminate()
    try:
        moto.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        moto.process.kill()


def _serve() -> None:
    """Entry point of the server process: print the port, serve until terminated."""
    server = _RecordingServer([])
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    threading.Event().wait()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


_counter = itertools.count(1)


def dummy_aws_env(monkeypatch: Any, tmp_path: Any) -> None:
    """No real credentials, no config, no metadata service, no endpoint from the environment."""
    empty = tmp_path / "aws-empty-config"
    empty.write_text("")
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only(socket.getaddrinfo))


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _loopback_only(real: Callable[..., Any]) -> Callable[..., Any]:
    """A getaddrinfo that fails the test on any name but loopback: no test reaches AWS."""

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK:
            raise AssertionError(f"test tried to reach {name!r}: only loopback is allowed")
        return real(host, *args, **kwargs)

    return guarded


def sign_as(monkeypatch: Any, key: str, secret: str) -> None:
    """The next commands sign with these operator credentials (the AWS_* environment)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)


def as_operator(monkeypatch: Any, moto: MotoServer, account: str = ACCOUNT_A) -> str:
    """The next commands sign as ``account``'s administrator; returns its key id."""
    key, secret = moto.admins[account]
    sign_as(monkeypatch, key, secret)
    return key


def default_report(path: Any, *findings: Any, redact_ids: bool = False) -> str:
    """``findings`` written at ``path`` as ``keysweep history . -f json -o FILE`` writes them
    (key IDs shown, as detected; no secret); returns the path."""
    import dataclasses

    from scanner.models import ScanResult, ScanSummary
    from scanner.report import json as json_report

    shown = tuple(dataclasses.replace(f, identifier=True) for f in findings)
    result = ScanResult(shown, ScanSummary(mode="history", target="repo"))
    path.write_text(json_report.render(result, show_secrets=False, redact_ids=redact_ids))
    return str(path)


def key_finding(
    key_id: str,
    *secrets: str,
    token: str | None = None,
    account: str | None = None,
    commit_date: str | None = None,
    path: str = "deploy/.env",
) -> Any:
    """A Finding for an AWS key id with its paired secrets (nearest first), as the detector
    produces them; values come from moto or are generated at run time."""
    from scanner.models import CommitInfo, Finding, PairedSecret, Severity
    from scanner.rules.aws_account import account_id_from_key_id

    paired = [
        PairedSecret("secret_access_key", "aws-secret-access-key", s, line=2 + i, distance=1 + i)
        for i, s in enumerate(secrets)
    ]
    if token is not None:
        paired.append(PairedSecret("session_token", "aws-session-token", token, 9, 8))
    commit = (
        CommitInfo("a" * 40, "Dev", "dev@example.com", commit_date, "add config")
        if commit_date
        else None
    )
    return Finding(
        rule_id="aws-access-key-id",
        rule_name="AWS access key ID",
        severity=Severity.CRITICAL,
        description="AWS access key id",
        path=path,
        line=1,
        column=19,
        secret=key_id,
        entropy=3.9,
        paired=tuple(paired),
        account_id=account if account is not None else account_id_from_key_id(key_id),
        commit=commit,
    )


if __name__ == "__main__":
    _serve()
