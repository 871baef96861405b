"""In-process pipeline parts for integration tests: the real collector app on a real Kafka sink, and stream
runners on the session's chDB, each in its own database. Everything talks to the real broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from collector.app import create_app
from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from collector.sinks import KafkaSink
from runtime.kafka_admin import ensure_topics
from stream.channels import default_taxonomy
from stream.consumer import StreamRunner
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.metrics import StreamMetrics
from stream.settings import StreamSettings
from stream.writer import ClickHouseWriter

WRITE_KEYS = "shop:wk_shop_0123456789,news:wk_news_0123456789"
KEYS = {"shop": "wk_shop_0123456789", "news": "wk_news_0123456789"}


def stream_settings(bootstrap: str, topics: dict[str, str], **overrides: Any) -> StreamSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_events_topic": topics["KAFKA_EVENTS_TOPIC"],
        "kafka_deadletter_topic": topics["KAFKA_DEADLETTER_TOPIC"],
        "stream_group_id": topics["STREAM_GROUP_ID"],
        "stream_flush_interval_s": 0.2,
    }
    return StreamSettings(**(values | overrides))


@contextlib.asynccontextmanager
async def collector_client(
    bootstrap: str, topics: dict[str, str], **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_events_topic": topics["KAFKA_EVENTS_TOPIC"],
        "kafka_deadletter_topic": topics["KAFKA_DEADLETTER_TOPIC"],
        "collector_write_keys": WRITE_KEYS,
    }
    settings = CollectorSettings(**(values | overrides))
    await ensure_topics(bootstrap, settings.topic_specs())
    metrics = CollectorMetrics()
    sink = KafkaSink(bootstrap, metrics)
    await sink.start()
    app = create_app(settings, sink, metrics=metrics, create_topics=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector") as client:
            yield client
    finally:
        await sink.stop()


async def send(client: httpx.AsyncClient, app_id: str, events: list[dict[str, Any]]) -> None:
    response = await client.post("/v1/batch", json={"events": events}, headers={"X-Write-Key": KEYS[app_id]})
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [], response.json()


async def produce_raw(bootstrap: str, topic: str, app_id: str, events: list[dict[str, Any]]) -> None:
    """What the ad-platform webhook produces: an enriched ad_click event in the events topic, keyed by app."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, orjson.dumps(events), key=app_id.encode())
    finally:
        await producer.stop()


@dataclass
class RunningStream:
    runner: StreamRunner
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 30)


def start_stream(
    settings: StreamSettings, writer: ClickHouseWriter, config: AttributionConfig | None = None
) -> RunningStream:
    taxonomy = default_taxonomy()
    attribution = config or AttributionConfig()
    runner = StreamRunner(settings, writer, StreamMetrics(), lambda app: AppEngine(app, attribution, taxonomy))
    stop = asyncio.Event()
    return RunningStream(runner, stop, asyncio.create_task(runner.run(stop)))


async def wait_rows(writer: ClickHouseWriter, sql: str, want: Any, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    got: Any = None
    while asyncio.get_running_loop().time() < deadline:
        got = (await writer.query(sql))[0][0]
        if got == want:
            return got
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {timeout}s for {sql!r} == {want!r}, last {got!r}")


# -- for the rebalance fault tests ----------------------------------------------------------------------------

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")


class SlowWriter(ClickHouseWriter):
    """ClickHouse that takes `delay_s` longer for every insert, so rebalances land while a flush writes."""

    def __init__(self, client: Any, delay_s: float) -> None:
        super().__init__(client)
        self.delay_s = delay_s
        self.inserts = 0

    async def insert(self, table: str, columns: Any, rows: list[tuple[Any, ...]], token: str, lane: int = 0) -> None:
        if rows:
            self.inserts += 1
            await asyncio.sleep(self.delay_s)
        await super().insert(table, columns, rows, token, lane)


def journey(prefix: str, source: str) -> list[dict[str, Any]]:
    """One person: a visit from `source` (utm), a registration, an order: two conversions on one touch."""
    def ev(n: str, type_: str, minute: int, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"{prefix}-{n}", "type": type_, "timestamp": f"2026-11-20T10:{minute:02d}:00.000Z",
                "anonymous_id": f"anon-{prefix}", **fields}

    return [
        ev("enter", "enter", 0, context={"query": {"utm_source": source, "utm_medium": "cpc"}}),
        ev("register", "register", 1),
        ev("order", "convert", 2, properties={"order_id": f"{prefix}-o", "revenue": "10.00", "currency": "CNY"}),
    ]


def journey_credits(prefix: str, source: str) -> set[tuple[str, str, str, float, str]]:
    """By definition: one touch before each conversion gets all of its credit in every model."""
    touch = f"{prefix}-enter"
    return {
        (conversion, model, touch, 1.0, source)
        for conversion in (f"register:{prefix}-register", f"order:{prefix}-o")
        for model in MODELS
    }


async def stored_credits(writer: ClickHouseWriter) -> set[tuple[str, str, str, float, str]]:
    rows = await writer.query(
        "SELECT conversion_id, model, touchpoint_id, credit, channel FROM attribution_credits_current"
    )
    return {(c, m, t, float(credit), ch) for c, m, t, credit, ch in rows}


async def doubled_rows(writer: ClickHouseWriter) -> list[tuple[Any, ...]]:
    """Events stored twice (raw table, no FINAL) and credits written twice for one conversion version."""
    events = await writer.query("SELECT count() - uniqExact(app_id, event_id) FROM events")
    credits = await writer.query(
        "SELECT count() FROM (SELECT conversion_id, version, model, touch_index, count() AS n "
        "FROM attribution_credits GROUP BY ALL HAVING n > 1)"
    )
    return [events[0], credits[0]]
