"""Fake Tencent Ads and Ocean Engine HTTPS servers on loopback, with scripted answers and a ledger.

One server plays both platforms (they differ by path): Tencent callback URLs point at `/tx/<case>` on it, the
click-id API at `/v3.0/user_actions/add`, Ocean Engine's conversion API at `/api/v2/conversion` (scripted by the
event's callback). Every request that reaches a handler is in the ledger before it is answered, so a worker
killed while waiting for an answer has still delivered. TLS with a self-signed certificate for 127.0.0.1, made
by the openssl command line (the worker trusts it through POSTBACK_CA_FILE).
"""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"code": 0, "message": "ok"})
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer late (a timeout on the worker's side)
    hold: threading.Event | None = None  # answer only once this is set (at most 60 s)


@dataclass(frozen=True)
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival


class FakePlatforms:
    def __init__(self, cert: Path, key: Path) -> None:
        self.ledger: list[Received] = []
        self.scripts: dict[str, list[Reply]] = {}  # case -> replies, in order; then 200 code 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    body = raw.decode("utf-8", "replace")
                received = Received(parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()}, body,
                                    time.monotonic())
                reply = fake._take(received)
                if reply.hold is not None:
                    reply.hold.wait(60)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                # The caller may have given up (a timeout) or been killed: its request is on record all the same.
                with contextlib.suppress(OSError):
                    payload = orjson.dumps(reply.body) if not isinstance(reply.body, bytes) else reply.body
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def case_of(self, r: Received) -> str:
        if r.path.startswith("/tx/"):
            return r.path.removeprefix("/tx/")
        if r.path == "/api/v2/conversion" and isinstance(r.body, dict):
            return str(r.body.get("context", {}).get("ad", {}).get("callback", ""))
        return r.path

    def _take(self, received: Received) -> Reply:
        with self._lock:
            self.ledger.append(received)
            replies = self.scripts.get(self.case_of(received), [])
            return replies.pop(0) if replies else Reply()

    def received(self, case: str) -> list[Received]:
        with self._lock:
            return [r for r in self.ledger if self.case_of(r) == case]

    def wait_for(self, case: str, count: int, timeout_s: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.received(case)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"the fake got {len(self.received(case))} requests for {case!r}, wanted {count}")


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "fake.crt", directory / "fake.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@contextmanager
def fake_platforms(directory: Path) -> Iterator[tuple[FakePlatforms, Path]]:
    cert, key = self_signed(directory)
    fake = FakePlatforms(cert, key)
    fake.thread.start()
    try:
        yield fake, cert
    finally:
        fake.server.shutdown()
        fake.server.server_close()
