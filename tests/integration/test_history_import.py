"""A randomized history sent live through the collector, the real broker and chDB twice: in time order and in
person order (one person's whole history after another, as an export has it). Every row of
`attribution_credits_current` and `conversions_current` must be the same (docs/attribution.md, "History
imports"); and a copied ad landing query counted as a share, with the processor's metric."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from stream.store import connect, migrate
from stream.writer import ClickHouseWriter
from tests.conftest import unique
from tests.histories import Step, person_order, random_history, sdk_event, time_order, webhook_click
from tests.integration.pipeline import collector_client, send, start_stream, stream_settings, wait_rows

pytestmark = pytest.mark.integration

APP = "shop"
CREDIT_COLUMNS = (
    "conversion_id, conversion_type, conversion_time, user_key, model, touchpoint_id, touch_time, touch_index, "
    "touch_count, channel_type, channel, campaign, creative, credit, revenue_credit, currency"
)
CONVERSION_COLUMNS = (
    "conversion_id, event_id, user_key, conversion_type, conversion_time, order_id, revenue, touch_count"
)


def new_topics() -> dict[str, str]:
    return {"KAFKA_EVENTS_TOPIC": unique("events"), "KAFKA_DEADLETTER_TOPIC": unique("deadletter"),
            "STREAM_GROUP_ID": unique("group")}


@pytest.fixture
def second_clickhouse(chdb_path: Path) -> Iterator[Any]:
    database = unique("t")
    client = connect(f"chdb://{chdb_path}", database)
    migrate(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {database}")


async def send_in_order(bootstrap: str, topics: dict[str, str], steps: list[Step]) -> None:
    """SDK events through the collector in batches, ad clicks as the webhook route writes them, in `steps` order
    (each part is acknowledged before the next is sent, so the partition holds them in this order)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        async with collector_client(bootstrap, topics) as client:
            batch: list[dict[str, Any]] = []
            for step in steps:
                if step.type != "ad_click":
                    batch.append(sdk_event(step))
                    if len(batch) < 100:
                        continue
                if batch:
                    await send(client, APP, batch)
                    batch = []
                if step.type == "ad_click":
                    value = orjson.dumps([webhook_click(step, APP)])
                    await producer.send_and_wait(topics["KAFKA_EVENTS_TOPIC"], value, key=APP.encode())
            if batch:
                await send(client, APP, batch)
    finally:
        await producer.stop()


async def run_once(
    bootstrap: str, client: Any, steps: list[Step], restart_at: int | None = None
) -> tuple[ClickHouseWriter, Any]:
    """All `steps` through one processor; with `restart_at`, a second processor takes over after that many,
    from what the first one stored (the restore of late touches, conversions, clicks and claims)."""
    topics = new_topics()
    writer = ClickHouseWriter(client)
    settings = stream_settings(bootstrap, topics)
    stream = start_stream(settings, writer)
    if restart_at is not None:
        await send_in_order(bootstrap, topics, steps[:restart_at])
        await wait_rows(writer, "SELECT count() FROM events", restart_at, timeout=60)
        await stream.close()
        stream = start_stream(settings, writer)
        steps, sent = steps[restart_at:], restart_at
    else:
        sent = 0
    await send_in_order(bootstrap, topics, steps)
    await wait_rows(writer, "SELECT count() FROM events", sent + len(steps), timeout=60)
    # The flush that wrote the last events writes their credits right after them: wait until nothing moves.
    counts: list[Any] = []
    for _ in range(60):
        counts.append(await writer.query("SELECT count() FROM attribution_credits"))
        if len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]:
            break
        await asyncio.sleep(0.3)
    return writer, stream


async def rows(writer: ClickHouseWriter, sql: str) -> dict[str, list[tuple[Any, ...]]]:
    result: dict[str, list[tuple[Any, ...]]] = {}
    for row in await writer.query(sql):
        result.setdefault(row[0], []).append(tuple(row))
    return {k: sorted(v) for k, v in result.items()}


@pytest.mark.parametrize("restart", [False, True], ids=["one-processor", "restarted-mid-import"])
async def test_a_history_sent_person_by_person_gets_the_credits_of_time_order(  # type: ignore[no-untyped-def]
    kafka_bootstrap, clickhouse, second_clickhouse, restart
) -> None:
    history = random_history(2026, people=40)
    by_time, by_person = time_order(history), person_order(history, 2026)
    timed, timed_stream = await run_once(kafka_bootstrap, clickhouse, by_time)
    restart_at = len(by_person) // 2 if restart else None
    personal, personal_stream = await run_once(kafka_bootstrap, second_clickhouse, by_person, restart_at)
    try:
        credits_sql = f"SELECT {CREDIT_COLUMNS} FROM attribution_credits_current"
        conversions_sql = f"SELECT {CONVERSION_COLUMNS} FROM conversions_current"
        want, got = await rows(timed, credits_sql), await rows(personal, credits_sql)
        assert len(want) > 40
        same = sum(1 for c in want if got.get(c) == want[c])
        assert (same, len(got)) == (len(want), len(want)), f"{same} of {len(want)} conversions alike"
        assert await rows(personal, conversions_sql) == await rows(timed, conversions_sql)
        # Sent in time order nothing arrives late; person by person, most people do.
        late_sql = "SELECT countIf(arrived_late = 1), count() FROM events"
        assert (await timed.query(late_sql))[0][0] == 0
        late, total = (await personal.query(late_sql))[0]
        assert total == len(by_person) and late > total // 2
        late_touches = await personal.query("SELECT countIf(arrived_late = 1) FROM touchpoints")
        assert late_touches[0][0] > 0
    finally:
        for stream in (timed_stream, personal_stream):
            await stream.close()
        timed.close()
        personal.close()


async def test_a_copied_ad_landing_is_a_share_and_is_counted(kafka_bootstrap, topics, clickhouse) -> None:  # type: ignore[no-untyped-def]
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    landing = {"query": {"gdt_vid": "kk-1"}}
    try:
        async with collector_client(kafka_bootstrap, topics) as client:
            await send(client, APP, [
                {"event_id": "s-a1", "type": "enter", "timestamp": "2026-11-10T10:00:00.000Z",
                 "anonymous_id": "s-A", "context": {"scene": 1045, **landing}},
                {"event_id": "s-f1", "type": "enter", "timestamp": "2026-11-10T12:00:00.000Z",
                 "anonymous_id": "s-F", "context": {"scene": 1007, "share": {"from": "s-A", "depth": 1}, **landing}},
                {"event_id": "s-f2", "type": "convert", "timestamp": "2026-11-10T12:05:00.000Z",
                 "anonymous_id": "s-F", "properties": {"order_id": "s-of", "revenue": "30.00", "currency": "CNY"}},
            ])
        await wait_rows(writer, "SELECT count() FROM attribution_credits_current WHERE conversion_id = 'order:s-of'", 5)
        touches = await writer.query(
            "SELECT touchpoint_id, channel, shared_click, click_id FROM touchpoints_current ORDER BY touchpoint_id"
        )
        assert touches == [("s-a1", "tencent_ads", 0, "kk-1"), ("s-f1", "wechat_share", 1, "kk-1")]
        channels = await writer.query(
            "SELECT DISTINCT channel FROM attribution_credits_current WHERE conversion_id = 'order:s-of'"
        )
        assert channels == [("wechat_share",)]
        shared = stream.runner.metrics.registry.get_sample_value("touchstream_stream_shared_click_visits_total")
        assert shared == 1.0
    finally:
        await stream.close()
        writer.close()
