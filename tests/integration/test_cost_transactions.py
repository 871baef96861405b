"""Spend uploads are one Kafka transaction: real broker, real KafkaSink, real processor and ClickHouse engine.

A large upload is several records that a read_committed consumer sees all of; an upload that fails after some
of its records were written is invisible to it (though the records are in the log: a read_uncommitted consumer
sees them), and the next upload works; the spend figures of a large upload reach `ad_spend_current` exactly;
across a broker restart, a ledger of the answers matches the log: every 200 whole, every 503 whole or absent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError

from collector.app import create_app
from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from collector.sinks import KafkaSink
from runtime.kafka_admin import ensure_topics
from stream.writer import ClickHouseWriter
from tests.integration.broker import Broker
from tests.integration.pipeline import start_stream, stream_settings, wait_rows

pytestmark = pytest.mark.integration

ADMIN = "ak_shop_admin_0123456789"
HEADERS = {"X-Admin-Key": ADMIN}


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [
        {"app_id": "shop", "write_keys": ["wk_shop_0123456789"], "admin_keys": [ADMIN], "reporting_currency": "CNY"}
    ]}))
    return path


class FailsOnce(AIOKafkaProducer):  # type: ignore[misc]
    """A real transactional producer whose third send, once, fails: refused before queueing (`enqueue`, as when
    the producer's buffer is full) or failed in delivery (`delivery`, as when a batch expires without a leader).
    The two records sent before it are really written, inside the transaction."""

    def __init__(self, mode: str, **config: Any) -> None:
        super().__init__(**config)
        self.mode = mode
        self.sends = 0

    async def send(  # type: ignore[no-untyped-def]
        self, topic, value=None, key=None, partition=None, timestamp_ms=None, headers=None
    ) -> asyncio.Future[Any]:
        self.sends += 1
        if self.sends == 3:
            if self.mode == "enqueue":
                raise KafkaConnectionError()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(NotLeaderForPartitionError())
            return future
        sent: asyncio.Future[Any] = await super().send(
            topic, value, key=key, partition=partition, timestamp_ms=timestamp_ms, headers=headers
        )
        return sent


@contextlib.asynccontextmanager
async def uploads_collector(
    bootstrap: str, topics: dict[str, str], apps_file: Path, fail_first: str | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, CollectorMetrics]]:
    """The collector on a real KafkaSink; with `fail_first`, its first transactional producer is `FailsOnce`."""
    settings = CollectorSettings(
        kafka_bootstrap_servers=bootstrap, kafka_events_topic=topics["KAFKA_EVENTS_TOPIC"],
        kafka_deadletter_topic=topics["KAFKA_DEADLETTER_TOPIC"], collector_apps_file=apps_file,
    )
    await ensure_topics(bootstrap, settings.topic_specs())
    metrics = CollectorMetrics()
    made: list[AIOKafkaProducer] = []

    def transactional() -> AIOKafkaProducer:
        config = sink.transactional_config()
        producer = FailsOnce(fail_first, **config) if fail_first and not made else AIOKafkaProducer(**config)
        made.append(producer)
        return producer

    sink = KafkaSink(bootstrap, metrics, transactional_factory=transactional)
    await sink.start()
    app = create_app(settings, sink, metrics=metrics, create_topics=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector") as client:
            yield client, metrics
    finally:
        await sink.stop()


def rows(prefix: str, n: int, spend: Callable[[int], str] = lambda i: "10.00") -> dict[str, Any]:
    return {"rows": [
        {"date": f"2026-10-{i % 28 + 1:02d}", "channel": "tencent_ads", "campaign": f"{prefix}-{i}",
         "creative": "cr-1", "spend": spend(i), "source": "tencent_ads"}
        for i in range(n)
    ]}


async def topic_events(
    bootstrap: str, topic: str, isolation: str, until_campaigns: int, polls: int = 100
) -> tuple[int, list[Any]]:
    """(records, events) read from the start of `topic` until `until_campaigns` events of prefix `ok`/`big` were
    seen (they come after any aborted ones in the partition's log), or `polls` polls of at most 200 ms."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False, isolation_level=isolation,
    )
    await consumer.start()
    records, events = 0, []
    try:
        for _ in range(polls):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for record in batch:
                    records += 1
                    events.extend(orjson.loads(record.value))
            if sum(not e["properties"]["campaign"].startswith("aborted-") for e in events) >= until_campaigns:
                break
    finally:
        await consumer.stop()
    return records, events


def campaigns(events: list[Any], prefix: str) -> list[str]:
    return sorted(e["properties"]["campaign"] for e in events if e["properties"]["campaign"].startswith(prefix))


async def test_a_5000_row_upload_is_several_records_that_a_read_committed_consumer_sees_all_of(
    kafka_bootstrap: str, topics: dict[str, str], apps_file: Path
) -> None:
    async with uploads_collector(kafka_bootstrap, topics, apps_file) as (client, _):
        r = await client.post("/v1/costs", json=rows("big", 5000), headers=HEADERS)
        assert (r.status_code, r.json()) == (200, {"accepted": 5000})
    records, events = await topic_events(kafka_bootstrap, topics["KAFKA_EVENTS_TOPIC"], "read_committed", 5000)
    assert records > 1  # ~540 bytes a row: 5,000 rows do not fit one 256 KB record
    assert len(events) == 5000
    assert campaigns(events, "big-") == sorted(f"big-{i}" for i in range(5000))


@pytest.mark.parametrize(("mode", "cause"), [("enqueue", "kafka_refused"), ("delivery", "producer_replaced")])
async def test_an_upload_that_fails_after_two_records_is_invisible_and_the_next_one_is_stored(
    kafka_bootstrap: str, topics: dict[str, str], apps_file: Path, mode: str, cause: str
) -> None:
    async with uploads_collector(kafka_bootstrap, topics, apps_file, fail_first=mode) as (client, metrics):
        failed = await client.post("/v1/costs", json=rows("aborted", 2000), headers=HEADERS)
        assert (failed.status_code, failed.headers["Retry-After"]) == (503, "2")
        assert failed.json()["message"].endswith(
            "KafkaConnectionError" if mode == "enqueue" else "NotLeaderForPartitionError"
        )
        statuses = []
        for _ in range(40):  # bounded: a replacement starts after 0.25 s of back-off
            ok = await client.post("/v1/costs", json=rows("ok", 2000), headers=HEADERS)
            statuses.append(ok.status_code)
            if ok.status_code == 200:
                break
            assert ok.json()["error"] == "unavailable"
            await asyncio.sleep(0.25)
        assert statuses[-1] == 200
        if mode == "enqueue":
            assert statuses == [200]  # aborted cleanly: the same producer took the next upload
        replaced = metrics.registry.get_sample_value(
            "touchstream_collector_producer_replacements_total", {"cause": "producer_replaced"}
        )
        assert replaced == (1.0 if mode == "delivery" else None)
        assert metrics.registry.get_sample_value("touchstream_collector_unavailable_total", {"cause": cause}) == 1

    topic = topics["KAFKA_EVENTS_TOPIC"]
    _, committed = await topic_events(kafka_bootstrap, topic, "read_committed", 2000)
    assert campaigns(committed, "ok-") == sorted(f"ok-{i}" for i in range(2000))
    assert campaigns(committed, "aborted-") == []
    assert len(committed) == 2000
    # The failed upload's first records are in the log all the same: only the transaction hides them.
    _, everything = await topic_events(kafka_bootstrap, topic, "read_uncommitted", 2000)
    assert 0 < len(campaigns(everything, "aborted-")) < 2000


async def test_the_spend_of_a_large_upload_reaches_ad_spend_current_exactly_and_an_aborted_one_never(
    kafka_bootstrap: str, topics: dict[str, str], apps_file: Path, clickhouse: Any
) -> None:
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        async with uploads_collector(kafka_bootstrap, topics, apps_file, fail_first="enqueue") as (client, _):
            failed = await client.post("/v1/costs", json=rows("aborted", 3000, lambda i: "999.99"), headers=HEADERS)
            assert failed.status_code == 503
            ok = await client.post("/v1/costs", json=rows("ok", 3000, lambda i: f"{i}.25"), headers=HEADERS)
            assert (ok.status_code, ok.json()) == (200, {"accepted": 3000})
        await wait_rows(writer, "SELECT count() FROM ad_spend_current", 3000, timeout=60)
        # sum(i + 0.25 for i in 0..2999) = 2999 * 3000 / 2 + 3000 * 0.25 = 4,498,500 + 750
        totals = await writer.query(
            "SELECT sum(spend), sum(spend_reporting), uniqExact(campaign) FROM ad_spend_current"
        )
        assert totals == [(Decimal("4499250.0000"), Decimal("4499250.0000"), 3000)]
        assert await writer.query("SELECT count() FROM ad_spend WHERE campaign LIKE 'aborted-%'") == [(0,)]
    finally:
        await stream.close()
        writer.close()


async def test_uploads_across_a_broker_restart_are_stored_whole_or_not_at_all(
    tmp_path: Path, topics: dict[str, str], apps_file: Path
) -> None:
    broker = Broker(tmp_path / "kafka")
    await asyncio.to_thread(broker.run, "up")
    ledger: dict[str, tuple[int, str]] = {}  # upload prefix -> (status, message)
    n = 1000
    try:
        async with uploads_collector(broker.bootstrap, topics, apps_file) as (client, _):

            async def upload(prefix: str) -> int:
                # A guard against a hang (the upload deadline is 5 s, a first start 7 s), not a timing assert.
                r = await asyncio.wait_for(client.post("/v1/costs", json=rows(prefix, n), headers=HEADERS), 30)
                ledger[prefix] = (r.status_code, r.json().get("message", ""))
                return r.status_code

            assert await upload("before") == 200
            await asyncio.to_thread(broker.run, "down")
            assert await upload("during") == 503
            await asyncio.to_thread(broker.run, "up")
            for attempt in range(60):  # bounded: 60 tries 0.25 s apart, each answered within its deadlines
                if await upload(f"after{attempt}") == 200:
                    break
                await asyncio.sleep(0.25)
            print("upload answers:", {prefix: status for prefix, (status, _) in ledger.items()})  # -s shows it
            assert list(ledger.values())[-1][0] == 200  # uploads work again, without a restart of the collector
        # Read until every row that may be there was seen (or 25 polls: an ambiguous upload may well be absent).
        may_be_stored = sum(status == 200 or "may be stored" in message for status, message in ledger.values())
        _, events = await topic_events(
            broker.bootstrap, topics["KAFKA_EVENTS_TOPIC"], "read_committed", may_be_stored * n, polls=25
        )
    finally:
        await asyncio.to_thread(broker.run, "down")
    stored: dict[str, int] = {}
    for e in events:
        prefix = e["properties"]["campaign"].rsplit("-", 1)[0]
        stored[prefix] = stored.get(prefix, 0) + 1
    assert set(stored) <= set(ledger)  # nothing that was never uploaded
    for prefix, (status, message) in ledger.items():
        if status == 200:
            assert stored.get(prefix) == n, prefix  # acknowledged: all of it, once
        elif "may be stored" in message:
            assert stored.get(prefix, 0) in (0, n), prefix  # the commit was under way: whole or not at all
        else:
            assert prefix not in stored, (prefix, message)  # refused: none of it
