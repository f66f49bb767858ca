"""A misbehaving "AWS" on 127.0.0.1: throttles, fails with 5xx, or hangs past the timeout.

Used to prove that anything but a clear answer from AWS comes out ``unknown`` (never
``invalid``), with bounded retries, and that nothing is lost from the report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THROTTLE_BODY = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender'
    b"</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>1</RequestId></ErrorResponse>"
)
SERVER_ERROR_BODY = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Receiver'
    b"</Type><Code>InternalFailure</Code><Message>oops</Message></Error>"
    b"<RequestId>2</RequestId></ErrorResponse>"
)


IDENTITY_BODY = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAEXAMPLEUSERID</UserId>"
    b"<Account>{account}</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>3</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


class StubAws:
    def __init__(self, mode: str, hang_s: float = 2.0) -> None:
        # throttle | 5xx | hang | expired | reflect | drip | oops | garbage | truncated | close
        # | identity
        self.mode = mode
        self.identity = (b"", b"")  # (account, arn) that "identity" answers with
        self.reflect = b""
        self.delay_s = 0.0  # wait this long before answering (any mode)
        self.in_flight = 0
        self.max_in_flight = 0
        self.hang_s = hang_s
        self.hits = 0
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.stopped = threading.Event()  # set when the stub shuts down: dripping ends


@contextmanager
def stub_aws(mode: str, hang_s: float = 2.0) -> Iterator[tuple[str, StubAws]]:
    state = StubAws(mode, hang_s)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state._lock:
                state.hits += 1
                state.bodies.append(body)
                state.headers.append(dict(self.headers))
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.delay_s)
                self._answer()
            finally:
                with state._lock:
                    state.in_flight -= 1

        def _raw(self, status: int, payload: bytes, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(payload) if length is None else length))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def _answer(self) -> None:
            if state.mode == "hang":
                time.sleep(state.hang_s)
                return
            if state.mode == "close":  # accept, then hang up without a word
                self.close_connection = True
                return
            try:
                if state.mode == "drip":  # a valid answer, one byte per 0.2 s
                    self._raw(200, b"", length=len(IDENTITY_BODY))
                    for byte in IDENTITY_BODY[: int(state.hang_s / 0.2)]:
                        if state.stopped.is_set():
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                if state.mode == "oops":
                    self._raw(500, b"oops!")
                    return
                if state.mode == "garbage":
                    self._raw(200, b"\x00\x01garbage <not xml")
                    return
                if state.mode == "truncated":  # promises more than it sends, then hangs up
                    body = IDENTITY_BODY.replace(b"{account}", b"123456789012")
                    self._raw(200, body[: len(body) // 2], length=len(body))
                    self.close_connection = True
                    return
                if state.mode == "identity":
                    account, arn = state.identity
                    body = IDENTITY_BODY.replace(b"{account}", account).replace(b"{arn}", arn)
                    self._raw(200, body)
                    return
            except OSError:
                return
            if state.mode == "throttle":
                status, payload = 400, THROTTLE_BODY
            elif state.mode == "expired":
                status = 400
                payload = THROTTLE_BODY.replace(b"Throttling", b"ExpiredToken").replace(
                    b"Rate exceeded", b"The security token included in the request is expired"
                )
            elif state.mode == "reflect":
                # A hostile or buggy endpoint that puts a secret into its error message.
                status, payload = (
                    403,
                    THROTTLE_BODY.replace(b"Throttling", b"Odd").replace(
                        b"Rate exceeded", state.reflect
                    ),
                )
            else:
                status, payload = 503, SERVER_ERROR_BODY
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
