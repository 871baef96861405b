"""The postback decision across processor restarts: state comes back from ClickHouse (stream/postbacks/restore.py).

A click seen before a restart still decides the conversion after it (with the click's integration and
callback, read back from `events`); an intent decided before a restart is not decided again after it, and a
re-attribution after a second restart marks that same intent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from schemas.events import format_timestamp
from stream.channels import default_taxonomy
from stream.consumer import StreamRunner
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.metrics import StreamMetrics
from stream.postbacks.decide import intent_id_of
from stream.postbacks.hook import JourneyFactory
from stream.postbacks.load import load_postbacks
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import collector_client, send, stream_settings, wait_rows
from tests.integration.test_postbacks_e2e import TX_TOKEN, write_apps

pytestmark = pytest.mark.integration
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def ts(minutes: float) -> str:
    return format_timestamp(START + timedelta(minutes=minutes))


@contextlib.asynccontextmanager
async def running(kafka_bootstrap: str, topics: dict[str, str], writer: ClickHouseWriter, apps: Path
                  ) -> AsyncIterator[StreamRunner]:
    taxonomy, config = default_taxonomy(), AttributionConfig()
    engines = JourneyFactory(lambda app: AppEngine(app, config, taxonomy), load_postbacks(apps))
    runner = StreamRunner(stream_settings(kafka_bootstrap, topics), writer, StreamMetrics(), engines)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(runner.ready.wait(), 60)
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)  # a graceful stop: flushed and committed


async def intents(writer: ClickHouseWriter) -> list[tuple[Any, ...]]:
    return await writer.query(
        "SELECT intent_id, callback, openid, value_fen, reattributed FROM postback_intents ORDER BY version")


async def test_clicks_and_intents_survive_restarts(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, tmp_path
) -> None:
    apps = write_apps(tmp_path / "apps.json")
    writer = ClickHouseWriter(clickhouse)
    callback = "https://api.e.qq.com/v3.0/user_actions/add?cb=abc&conv_id=9"
    async with collector_client(kafka_bootstrap, topics, collector_apps_file=apps) as client:
        async with running(kafka_bootstrap, topics, writer, apps):
            hook = (f"/v1/webhooks/tx-pb/click?token={TX_TOKEN}&click_id=ck-r&click_time={int(START.timestamp())}"
                    f"&callback={quote(callback, safe='')}")
            assert (await client.get(hook)).status_code == 200
            await send(client, "shop", [
                {"event_id": "v-r", "type": "enter", "timestamp": ts(1), "anonymous_id": "d-r", "openid": "o-r",
                 "context": {"scene": 1045, "query": {"gdt_vid": "ck-r"}}}])
            await wait_rows(writer, "SELECT count() FROM touchpoints", 1)
        # Restarted: the click and the visit are state read back from ClickHouse; the order decides now.
        async with running(kafka_bootstrap, topics, writer, apps):
            await send(client, "shop", [
                {"event_id": "b-r", "type": "convert", "timestamp": ts(5), "anonymous_id": "d-r", "openid": "o-r",
                 "properties": {"order_id": "R-1", "revenue": "0.29", "currency": "CNY"}}])
            await wait_rows(writer, "SELECT count() FROM postback_intents", 1)
        expected = intent_id_of("shop", "tx-pb", "order:R-1", "COMPLETE_ORDER")
        assert await intents(writer) == [(expected, callback, "o-r", 29, 0)]
        # Restarted again: the intent is restored; a late share visit re-attributes the order and marks it.
        async with running(kafka_bootstrap, topics, writer, apps):
            await send(client, "shop", [
                {"event_id": "s-r", "type": "enter", "timestamp": ts(3), "anonymous_id": "d-r", "openid": "o-r",
                 "context": {"scene": 1007, "share": {"from": "friend", "depth": 1}}}])
            await wait_rows(writer, "SELECT count() FROM postback_intents", 2)
            await send(client, "shop", [  # a later page view of the same person: nothing new to decide
                {"event_id": "p-r", "type": "page_view", "timestamp": ts(9), "anonymous_id": "d-r", "openid": "o-r"}])
            await wait_rows(writer, "SELECT count() FROM events WHERE event_id = 'p-r'", 1)
    assert await intents(writer) == [(expected, callback, "o-r", 29, 0), (expected, callback, "o-r", 29, 1)]
