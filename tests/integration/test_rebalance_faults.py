"""Rebalances and restarts in the middle of flushes (issue 10, items 3 and 5): the real broker, the real chDB,
real processes for the kill -9 test. Oracle: every acknowledged event stored exactly once (count vs
uniqExact without FINAL), and credits equal to what the attribution models give by definition."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from runtime.kafka_admin import ensure_topics
from schemas import EVENT_ADAPTER
from schemas.enrich import enrich
from stream.errors import StoreUnavailable
from stream.writer import ClickHouseWriter
from tests.integration.harness import Service, pipeline_env, scalar, wait_for
from tests.integration.ledger import Ledger, check_stored, page_views
from tests.integration.pipeline import (
    KEYS,
    RunningStream,
    SlowWriter,
    collector_client,
    doubled_rows,
    journey,
    journey_credits,
    send,
    start_stream,
    stored_credits,
    stream_settings,
    wait_rows,
)

pytestmark = pytest.mark.integration

SOURCES = ("douyin", "weibo", "xiaohongshu")  # utm sources the default taxonomy names as channels


async def until(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def expect_alive(*streams: RunningStream) -> None:
    for stream in streams:
        if stream.task.done():
            raise AssertionError(f"a processor exited: {stream.task.exception()!r}")


async def stored_ids(writer: ClickHouseWriter) -> list[tuple[str, int]]:
    return [(i, n) for i, n in await writer.query("SELECT event_id, count() FROM events GROUP BY event_id")]


class GatedWriter(ClickHouseWriter):
    """The first insert into `events` waits until the test opens the gate, then fails or goes through."""

    def __init__(self, client: Any, fail: bool) -> None:
        super().__init__(client)
        self.fail = fail
        self.waiting = asyncio.Event()
        self.gate = asyncio.Event()

    async def insert(self, table: str, columns: Any, rows: list[tuple[Any, ...]], token: str, lane: int = 0) -> None:
        if table == "events" and rows and not self.waiting.is_set():
            self.waiting.set()
            await self.gate.wait()
            if self.fail:
                msg = "Code: 210. DB::NetException: Connection refused (the test's gate)"
                raise StoreUnavailable(msg)
        await super().insert(table, columns, rows, token, lane)


def watch_revocations(stream: RunningStream) -> tuple[asyncio.Event, asyncio.Event]:
    """(entered, finished) of the runner's next on_revoked; aiokafka's listener calls it by attribute."""
    entered, finished = asyncio.Event(), asyncio.Event()
    original: Callable[[list[TopicPartition]], Awaitable[None]] = stream.runner.on_revoked

    async def on_revoked(revoked: list[TopicPartition]) -> None:
        entered.set()
        try:
            await original(revoked)
        finally:
            finished.set()

    stream.runner.on_revoked = on_revoked  # type: ignore[method-assign]
    return entered, finished


@pytest.mark.parametrize("insert_fails", [True, False], ids=["insert-fails", "insert-succeeds"])
async def test_a_revocation_while_an_insert_waits(kafka_bootstrap, topics, clickhouse, insert_fails) -> None:  # type: ignore[no-untyped-def]
    # Today's code: the revocation re-flushes the same buffers while the insert waits, finds only duplicates and
    # commits past them. insert-fails: those events are then lost (item 3). insert-succeeds: the first flush
    # resumes on buffers the revocation removed, KeyError, the processor dies (item 5).
    writer = GatedWriter(clickhouse, fail=insert_fails)
    settings = stream_settings(kafka_bootstrap, topics)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    one = start_stream(settings, writer)
    two: RunningStream | None = None
    expected: set[tuple[str, str, str, float, str]] = set()
    acked: list[str] = []
    try:
        await asyncio.wait_for(one.runner.ready.wait(), 60)
        async with collector_client(kafka_bootstrap, topics) as client:
            for i in range(6):
                batch = journey(f"g{i}", SOURCES[i % 3])
                await send(client, "shop", batch)
                acked += [e["event_id"] for e in batch]
                expected |= journey_credits(f"g{i}", SOURCES[i % 3])
                if i == 2:
                    await asyncio.wait_for(writer.waiting.wait(), 30)
                    entered, finished = watch_revocations(one)  # from now: the start-up rebalances are over
                    two = start_stream(settings, writer)  # joins: the group takes every partition from `one`
                    await asyncio.wait_for(entered.wait(), 30)
                    # Today's code finishes revoking while the insert waits; the fixed one waits for the flush.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(finished.wait(), 3)
                    writer.gate.set()
        await wait_rows(writer, "SELECT count() FROM events", len(acked), timeout=60)
        await wait_rows(writer, "SELECT count() FROM attribution_credits_current", len(expected), timeout=30)
        await expect_alive(one, two) if two else await expect_alive(one)
        check_stored(Ledger(acked=set(acked), sent=set(acked)), await stored_ids(writer))
        assert await stored_credits(writer) == expected
        assert await doubled_rows(writer) == [(0,), (0,)]
    finally:
        writer.gate.set()
        for stream in (one, two):
            if stream is not None:
                await stream.close()
        writer.close()


async def test_a_second_processor_joining_and_leaving_twice_under_load(kafka_bootstrap, topics, clickhouse) -> None:  # type: ignore[no-untyped-def]
    writer = SlowWriter(clickhouse, delay_s=0.15)  # about 1 s per partition flush: rebalances land mid-flush
    settings = stream_settings(kafka_bootstrap, topics)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    one = start_stream(settings, writer)
    ledger = Ledger()
    expected: set[tuple[str, str, str, float, str]] = set()
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient, app_id: str) -> None:
        for n in range(400):  # bounded whatever `stop` says
            if stop.is_set():
                return
            prefix, source = f"{app_id}{n}", SOURCES[n % 3]
            events = journey(prefix, source)
            ledger.sent.update(e["event_id"] for e in events)
            response = await client.post("/v1/batch", json={"events": events}, headers={"X-Write-Key": KEYS[app_id]})
            if response.status_code == 200 and response.json()["rejected"] == []:
                ledger.acked.update(e["event_id"] for e in events)
                expected.update(journey_credits(prefix, source))
            await asyncio.sleep(0.05)

    written_by_second = 0.0
    try:
        await asyncio.wait_for(one.runner.ready.wait(), 60)
        async with collector_client(kafka_bootstrap, topics) as client:
            loads = [asyncio.create_task(load(client, app)) for app in ("shop", "news")]
            for _ in range(2):
                await asyncio.sleep(1.5)
                two = start_stream(settings, writer)
                try:
                    await asyncio.wait_for(two.runner.ready.wait(), 30)
                    await asyncio.sleep(2.0)
                    await expect_alive(one, two)
                finally:
                    await two.close()
                assert two.task.exception() is None
                sample = two.runner.metrics.registry.get_sample_value("touchstream_stream_events_written_total")
                written_by_second += sample or 0
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*loads), 30)
        assert len(ledger.acked) >= 300, len(ledger.acked)  # the load really ran through both rebalances
        await wait_rows(writer, "SELECT count() FROM events", len(ledger.acked), timeout=90)
        await wait_rows(writer, "SELECT count() FROM attribution_credits_current", len(expected), timeout=30)
        await expect_alive(one)
        check_stored(ledger, await stored_ids(writer))
        assert await stored_credits(writer) == expected
        assert await doubled_rows(writer) == [(0,), (0,)]
        assert written_by_second > 0  # the second member really owned a partition and wrote to it
    finally:
        stop.set()
        await one.close()
        writer.close()


def enriched(events: list[dict[str, Any]], received_at: datetime) -> list[dict[str, Any]]:
    """What the collector puts in the events topic for these SDK events of app `shop`."""
    return [
        enrich(EVENT_ADAPTER.validate_python(e), app_id="shop", received_at=received_at, sent_at=None, ip=None,
               user_agent=None, max_future_skew=timedelta(minutes=5))
        for e in events
    ]


async def fill_topic(bootstrap: str, topic: str, people: int, per_record: int) -> set[tuple[str, str, str, float, str]]:
    """`people` journeys of 3 events, `per_record` journeys in a record, keyed by app: one partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                max_request_size=8_000_000)
    received_at = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    expected: set[tuple[str, str, str, float, str]] = set()
    await producer.start()
    try:
        for start in range(0, people, per_record):
            events: list[dict[str, Any]] = []
            for n in range(start, min(start + per_record, people)):
                events += journey(f"f{n}", SOURCES[n % 3])
                expected |= journey_credits(f"f{n}", SOURCES[n % 3])
            await producer.send_and_wait(topic, orjson.dumps(enriched(events, received_at)), key=b"shop")
    finally:
        await producer.stop()
    return expected


async def test_fresh_processors_on_a_filled_topic_with_rebalances_in_first_flushes(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse
) -> None:
    people = 10_000  # 30,000 events in 100 records of 300 events
    # One record a flush, slowed inserts: each start is still catching up, a few flushes in, when the group
    # changes; ten starts take part of the topic, a processor without the slowdown then does the rest.
    writer = SlowWriter(clickhouse, delay_s=0.25)
    settings = stream_settings(kafka_bootstrap, topics, stream_max_poll_records=1, stream_flush_rows=1)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    expected = await fill_topic(kafka_bootstrap, topics["KAFKA_EVENTS_TOPIC"], people, per_record=100)
    plain = ClickHouseWriter(clickhouse)
    try:
        for start in range(10):
            inserts = writer.inserts
            fresh = start_stream(settings, writer)
            await until(lambda: writer.inserts > inserts or fresh.task.done(), 30, f"start {start}: a flush")  # noqa: B023
            other = start_stream(settings, writer)  # joins while the fresh processor writes its first flush
            try:
                await asyncio.wait_for(other.runner.ready.wait(), 60)
                await expect_alive(fresh, other)
            finally:
                # Even starts: the second member leaves again, then the fresh one stops. Odd: the fresh one is
                # cancelled mid-work (no final flush, like a crash) while the other still runs.
                if start % 2:
                    fresh.task.cancel()
                    await asyncio.gather(fresh.task, return_exceptions=True)
                    await other.close()
                else:
                    await other.close()
                    await fresh.close()
            assert other.task.exception() is None
            if start % 2 == 0:
                assert fresh.task.exception() is None
        assert await writer.query("SELECT count() < 30000 FROM events") == [(1,)]  # the starts left work
        last = start_stream(stream_settings(kafka_bootstrap, topics), plain)
        try:
            await wait_rows(writer, "SELECT count() FROM events", 3 * people, timeout=120)
            await wait_rows(writer, "SELECT count() FROM attribution_credits_current", len(expected), timeout=60)
            await expect_alive(last)
        finally:
            await last.close()
        assert await writer.query("SELECT count(), uniqExact(event_id) FROM events") == [(3 * people, 3 * people)]
        assert await stored_credits(writer) == expected
        assert await doubled_rows(writer) == [(0,), (0,)]
    finally:
        writer.close()
        plain.close()


def test_kill9_right_after_a_restart_while_retries_arrive(
    tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    write_key = "wk_test_rebalance_0123456789"
    env, base, endpoint = pipeline_env(tmp_path, kafka_bootstrap, topics, write_key)
    # The dedup set restored after a restart holds 1,000 ids: the newest, or retries of them are doubled.
    env["STREAM_DEDUP_MAX_IDS"] = "1000"
    collector = Service("collector", env, tmp_path / "collector.log").start()
    stream = Service("stream", env, tmp_path / "stream.log").start()

    def post(events: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{base}/v1/batch", json={"events": events}, headers={"X-Write-Key": write_key},
                              timeout=30)
        assert response.status_code == 200 and response.json()["accepted"] == len(events), response.text

    def restarted() -> None:
        stream.start()
        wait_for(lambda: scalar(endpoint, "SELECT 1") == 1, 60, "stream query endpoint", stream)

    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 60, "collector ready", collector)
        wait_for(lambda: scalar(endpoint, "SELECT 1") == 1, 60, "stream query endpoint", stream)
        batches = [page_views(f"r{n}", 100) for n in range(30)]
        for batch in batches:
            post(batch)
        wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") == 3000, 60, "3,000 events", stream)

        last_second = batches[-5:]  # the newest 500 ids: what SDKs retry right after a restart
        stream.kill9()
        restarted()
        for batch in last_second:  # retries arriving while the restarted processor restores and catches up
            post(batch)
        time.sleep(0.5)
        stream.kill9()  # right after the restart, with the retries in flight
        restarted()
        for batch in last_second:
            post(batch)
        post(page_views("sentinel", 1))
        landed = "SELECT count() FROM events WHERE event_id = 'sentinel-0'"
        wait_for(lambda: scalar(endpoint, landed) == 1, 60, "the sentinel", stream)

        # All of the app's records are in one partition, in order: the retries were handled before the sentinel.
        assert scalar(endpoint, "SELECT count() FROM events") == 3001
        assert scalar(endpoint, "SELECT uniqExact(event_id) FROM events") == 3001
        # The same, without depending on when ClickHouse merges parts: this process dropped the 500 retries.
        metrics = httpx.get(endpoint.replace("/v1/query", "/metrics"), timeout=10).text
        dropped = next(line for line in metrics.splitlines()
                       if line.startswith("touchstream_stream_duplicates_dropped_total "))
        assert float(dropped.split()[1]) >= 500, dropped
    finally:
        collector.stop()
        stream.stop()
