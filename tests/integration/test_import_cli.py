"""`touchstream import` as a real process against the real collector process, the real broker, the stream
processor and chDB: a gzip NDJSON history imported in two runs (the first stopped after some batches), a third
run after a lost progress file, and a CSV of orders imported twice. A ledger of the file's lines is checked
against `events`: every good line stored exactly once, every bad one in the rejects file, and the command's
new / already-sent counts as the runs happened."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from stream.writer import ClickHouseWriter
from tests.conftest import free_port
from tests.integration.harness import ROOT, Service, wait_for
from tests.integration.pipeline import start_stream, stream_settings, wait_rows
from touchstream.import_lines import order_event_id

pytestmark = pytest.mark.integration

WRITE_KEY = "wk_import_test_0123456789"
GOOD = 45  # events in the NDJSON file


@pytest.fixture
async def collector(tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    env = {**topics, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "COLLECTOR_WRITE_KEYS": f"shop:{WRITE_KEY}",
           "COLLECTOR_PORT": str(port)}
    service = Service("collector", env, tmp_path / "collector.log").start()
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(
            wait_for, lambda: httpx.get(f"{base}/readyz").status_code == 200, 60, "collector ready", service)
        yield base
    finally:
        service.stop()


def history(path: Path) -> tuple[set[str], set[int]]:
    """A gzip NDJSON file: GOOD events of 9 people, with a bad JSON line, a non-object, an event the collector
    rejects and a blank line among them. Returns the good event ids and the line numbers that must be rejected."""
    lines: list[bytes] = []
    good: set[str] = set()
    bad: set[int] = set()
    for n in range(GOOD):
        person = n % 9
        kind = ("enter", "page_view", "register")[n % 3]
        lines.append(orjson.dumps({"event_id": f"h-{n}", "type": kind, "timestamp": f"2026-06-{1 + n % 28:02d}T08:"
                                   f"{n % 60:02d}:00Z", "anonymous_id": f"p-{person}"}))
        good.add(f"h-{n}")
        if n == 7:
            bad.add(len(lines) + 1)  # line 9
            lines.append(b'{"event_id": "h-broken", ')
        if n == 20:
            lines.append(b"")  # line 23: blank, no line of data
        if n == 30:
            bad.add(len(lines) + 1)  # line 34
            lines.append(b'["not", "an", "event"]')
        if n == 40:
            bad.add(len(lines) + 1)  # line 45
            lines.append(orjson.dumps({"event_id": "h-x", "type": "teleport", "timestamp": "2026-06-01T00:00:00Z",
                                       "anonymous_id": "p-1"}))
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return good, bad


async def import_cmd(path: Path, base: str, *extra: str) -> tuple[int, str, str]:
    argv = [sys.executable, "-m", "touchstream.cli", "import", str(path), "--collector", base, "--batch-size", "8",
            *extra]
    env = {"TOUCHSTREAM_WRITE_KEY": WRITE_KEY, "PATH": "/usr/bin:/bin"}
    done = await asyncio.to_thread(subprocess.run, argv, cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def rejected_lines(path: Path) -> list[int]:
    return [orjson.loads(line)["line"] for line in path.read_bytes().splitlines()]


async def stored(writer: ClickHouseWriter, prefix: str) -> dict[str, int]:
    rows = await writer.query(
        "SELECT event_id, count() FROM events WHERE event_id LIKE {p:String} GROUP BY event_id", {"p": prefix})
    return {event_id: int(n) for event_id, n in rows}


async def test_an_interrupted_import_resumes_and_stores_every_line_once(
    tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str], clickhouse: Any, collector: str
) -> None:
    path = tmp_path / "history.ndjson.gz"
    good, bad_lines = history(path)
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        # Run 1: stopped after 3 batches of 8 events: h-0..h-23 on lines 1..26 with line 9 rejected and line 23
        # blank (no line of data): 25 lines answered.
        code, out, err = await import_cmd(path, collector, "--max-batches", "3")
        assert (code, err) == (3, "")
        assert out == (f"import {path}: 25 lines, 24 new, 0 already sent, 1 rejected (see {path}.rejects.ndjson); "
                       "stopped after 3 batches (--max-batches); re-run to continue\n")
        progress = tmp_path / "history.ndjson.gz.progress.json"
        after_first = progress.read_bytes()

        # Run 2: the rest. 23 lines remain: 21 good, the non-object (34) and the teleport (45) rejected.
        code, out, err = await import_cmd(path, collector)
        assert (code, err) == (1, "")
        assert out.startswith(f"import {path}: 48 lines, 21 new, 25 already sent, 2 rejected")
        assert rejected_lines(tmp_path / "history.ndjson.gz.rejects.ndjson") == sorted(bad_lines)
        assert WRITE_KEY not in out + err

        # Run 3, as after a crash that lost run 2's progress: run 2's lines are sent again; their ids dedup them.
        progress.write_bytes(after_first)
        code, out, _ = await import_cmd(path, collector)
        assert code == 1
        assert out.startswith(f"import {path}: 48 lines, 21 new, 25 already sent, 2 rejected")

        # The ledger: every good line exactly once in the raw table (no FINAL), nothing else.
        await wait_rows(writer, "SELECT uniqExact(event_id) FROM events WHERE event_id LIKE 'h-%'", GOOD)
        await wait_rows(writer, "SELECT count() FROM bad_events WHERE reason LIKE '%teleport%'", 2)
        assert await stored(writer, "h-%") == dict.fromkeys(good, 1)

        # A CSV of orders, imported twice from scratch (progress deleted): deterministic ids, stored once.
        orders = tmp_path / "orders.csv"
        orders.write_text("order_id,revenue,currency,time,user_id\n"
                          "SO-1,199.90,CNY,2026-06-02T10:00:00Z,u-1\n"
                          "SO-2,abc,CNY,2026-06-03T10:00:00Z,u-2\n"
                          "SO-3,5.00,,2026-06-04T10:00:00Z,u-3\n")
        for _ in range(2):
            (tmp_path / "orders.csv.progress.json").unlink(missing_ok=True)
            code, out, err = await import_cmd(orders, collector)
            assert (code, err) == (1, "")
            assert out.startswith(f"import {orders}: 3 lines, 2 new, 0 already sent, 1 rejected")
            assert rejected_lines(tmp_path / "orders.csv.rejects.ndjson") == [3]
        await wait_rows(writer, "SELECT count() FROM events WHERE type = 'convert'", 2)
        rows = await writer.query("SELECT event_id, revenue, currency, user_id, count() FROM events "
                                  "WHERE type = 'convert' GROUP BY ALL")
        assert {(e, Decimal(r), c, u, int(n)) for e, r, c, u, n in rows} == {
            (order_event_id("SO-1"), Decimal("199.90"), "CNY", "u-1", 1),
            (order_event_id("SO-3"), Decimal("5.00"), "CNY", "u-3", 1),  # no currency cell: the contract's CNY
        }
    finally:
        await stream.close()
        writer.close()
