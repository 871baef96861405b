"""Running the real services as subprocesses for end-to-end tests, and waiting on what they write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# Every processor a test starts opens POST /v1/query to this deployment SQL key (all apps); sql() sends it.
TEST_SQL_KEY = "test-sql-key-0123456789abcdef"
SQL_AUTH = {"Authorization": f"Bearer {TEST_SQL_KEY}"}


class Service:
    """`touchstream <command>` in a subprocess, with its stderr kept in a log file for failure messages."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = {**os.environ, "LOG_JSON": "false", "TOUCHSTREAM_ENV": "test", "STREAM_SQL_KEY": TEST_SQL_KEY, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "touchstream.cli", self.command],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )
        return self

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
                self.proc.wait(5)
        return self.proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, service: Service | None = None) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        if service is not None and not service.alive():
            raise AssertionError(f"{service.command} exited while waiting for {what}:\n{service.logs()}")
        time.sleep(0.2)
    detail = f"\n{service.logs()}" if service is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){detail}")


def sql(endpoint: str, query: str) -> list[list[Any]]:
    response = httpx.post(endpoint, content=orjson.dumps({"sql": query}), headers=SQL_AUTH, timeout=30)
    body = response.json()
    if response.status_code != 200:
        raise AssertionError(f"query failed ({response.status_code}): {body}")
    return list(body["rows"])


def scalar(endpoint: str, query: str) -> Any:
    return sql(endpoint, query)[0][0]
