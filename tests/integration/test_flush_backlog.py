"""The flush policy's backlog rule on the real broker: whether a flush read the past is judged by the Kafka
timestamps the collector's producer gave its records, against the processor's wall clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream.flush_policy import FlushWindow
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import collector_client, send, start_stream, stream_settings, wait_rows

pytestmark = pytest.mark.integration

INTERVAL_S = 1.0  # the backlog threshold is three of these: 3 s


class RecordingWindow(FlushWindow):
    """The runner's flush window, keeping each flush's verdict."""

    def __init__(self, window: FlushWindow) -> None:
        super().__init__(window.policy)
        self.judged: list[bool] = []

    def flushed(self, started: float, ended: float, behind: bool = False) -> None:
        self.judged.append(behind)
        super().flushed(started, ended, behind)


async def judged(window: RecordingWindow, flushes: int) -> list[bool]:
    """The verdicts once `flushes` flushes have ended (the rows are visible before a flush returns)."""
    for _ in range(300):
        if len(window.judged) >= flushes:
            break
        await asyncio.sleep(0.05)
    return window.judged


def view(event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "type": "page_view", "timestamp": "2026-11-10T10:00:00Z", "anonymous_id": "A"}


async def test_records_written_before_the_threshold_are_a_backlog_and_fresh_ones_are_not(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse
) -> None:
    async with collector_client(kafka_bootstrap, topics) as client:
        await send(client, "shop", [view("old1"), view("old2")])
        await asyncio.sleep(4 * INTERVAL_S)  # the records are now over three intervals old: a backlog
        writer = ClickHouseWriter(clickhouse)
        stream = start_stream(stream_settings(kafka_bootstrap, topics, stream_flush_interval_s=INTERVAL_S), writer)
        window = stream.runner._window = RecordingWindow(stream.runner._window)
        try:
            await wait_rows(writer, "SELECT count() FROM events", 2)
            assert await judged(window, 1) == [True]
            assert window.interval_s == INTERVAL_S  # the full interval after a backlog
            await send(client, "shop", [view("new1")])  # written now, flushed within about an interval
            await wait_rows(writer, "SELECT count() FROM events", 3)
            assert await judged(window, 2) == [True, False]
            assert stream.runner.metrics.registry.get_sample_value("touchstream_stream_backlog_flushes_total") == 1
        finally:
            await stream.close()
            writer.close()
