"""Running the real services as subprocesses, and waiting on what they write: the one harness of the end-to-end
tests and of the load tests (loadtests/ imports it, so nothing here needs pytest).

Everything listens on loopback only, on free ports; every wait is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# Every processor the harness starts opens POST /v1/query to this deployment SQL key (all apps); sql() sends it.
TEST_SQL_KEY = "test-sql-key-0123456789abcdef"
SQL_AUTH = {"Authorization": f"Bearer {TEST_SQL_KEY}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """`python -m <module> <command>` in a subprocess (optionally pinned with taskset), output kept in a log file
    for failure messages."""

    def __init__(
        self, command: str, env: dict[str, str], log_path: Path, *, cpus: str | None = None,
        module: str = "touchstream.cli",
    ) -> None:
        self.command = command
        self.module = module
        self.env = {**os.environ, "LOG_JSON": "false", "TOUCHSTREAM_ENV": "test", "STREAM_SQL_KEY": TEST_SQL_KEY, **env}
        self.log_path = log_path
        self.cpus = cpus
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path = ROOT) -> Service:
        """Starts the service; `python -m` imports from `cwd`, so another checkout's tree runs from its own."""
        argv = [sys.executable, "-m", self.module, self.command]
        if self.cpus is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", self.cpus, *argv]  # taskset execs the command: the pid stays the service's
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(argv, env=self.env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            msg = f"{self.command} was not started"
            raise RuntimeError(msg)
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def logs(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_for(
    probe: Callable[[], T | None], timeout: float, what: str, service: Service | None = None, *,
    interval: float = 0.2,
) -> T:
    """Calls `probe` until it returns something truthy, at most `timeout` seconds; fails early if `service` exits.

    Raises AssertionError, so that pytest reports a wait that ran out as a failed check.
    """
    deadline = time.monotonic() + timeout
    last: T | Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if service is not None and not service.alive():
            raise AssertionError(f"{service.command} exited while waiting for {what}:\n{service.logs()}")
        time.sleep(interval)
    detail = f"\n{service.logs()}" if service is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){detail}")


def wait_http_ok(url: str, timeout: float, service: Service | None = None) -> None:
    """Waits until GET `url` answers 200 (a service's /readyz or /healthz)."""
    wait_for(lambda: httpx.get(url, timeout=2).status_code == 200, timeout, url, service)


def sql(endpoint: str, query: str, timeout: float = 30) -> list[list[Any]]:
    response = httpx.post(endpoint, content=orjson.dumps({"sql": query}), headers=SQL_AUTH, timeout=timeout)
    body = response.json()
    if response.status_code != 200:
        raise AssertionError(f"query failed ({response.status_code}): {body}")
    return list(body["rows"])


def scalar(endpoint: str, query: str) -> Any:
    return sql(endpoint, query)[0][0]


def pipeline_env(
    tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str], write_key: str
) -> tuple[dict[str, str], str, str]:
    """The environment of a collector and a stream processor on the test broker (one app, `shop`), with the
    collector's base URL and the processor's query endpoint."""
    collector_port, query_port = free_port(), free_port()
    env = {
        **topics,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CLICKHOUSE_URL": f"chdb://{tmp_path / 'clickhouse'}",
        "COLLECTOR_WRITE_KEYS": f"shop:{write_key}",
        "COLLECTOR_PORT": str(collector_port),
        "STREAM_QUERY_PORT": str(query_port),
        "STREAM_FLUSH_INTERVAL_S": "0.3",
    }
    return env, f"http://127.0.0.1:{collector_port}", f"http://127.0.0.1:{query_port}/v1/query"


@contextlib.contextmanager
def running_pipeline(env: dict[str, str], base: str, endpoint: str, logs: Path) -> Iterator[tuple[Service, Service]]:
    """The collector and the stream processor as real processes, ready; both stopped at the end."""
    collector = Service("collector", env, logs / "collector.log").start()
    stream = Service("stream", env, logs / "stream.log").start()
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 60, "collector ready", collector)
        wait_for(lambda: scalar(endpoint, "SELECT 1") == 1, 60, "stream query endpoint", stream)
        yield collector, stream
    finally:
        collector.stop()
        stream.stop()

