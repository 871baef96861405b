"""The processor's query app (SQL, reports, dashboard) served on a free port in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import uvicorn
from starlette.applications import Starlette

from stream.query_server import create_query_app
from tests.integration.harness import TEST_SQL_KEY, free_port

ANALYST_KEY = "analyst-key-0123456789"


@contextmanager
def serve_app(app: Starlette) -> Iterator[str]:
    """Runs `app` under uvicorn on a free loopback port in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start within 10 s"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve_reports(client: Any, today: date, apps: tuple[str, ...] = ("shop",)) -> Iterator[str]:
    app = create_query_app(
        client, 10_000, 30, analyst_keys={ANALYST_KEY: apps}, today=lambda: today, sql_key=TEST_SQL_KEY
    )
    with serve_app(app) as base:
        yield base
