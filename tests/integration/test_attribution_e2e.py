"""Scripted journeys through the collector, the real broker and the real ClickHouse engine, with credits known
by hand: an identity merge, a late ad click, a repurchase, a direct registration; then the same journeys with
a processor that crashes mid-flush, and with two processors in one consumer group."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from runtime.kafka_admin import ensure_topics
from stream.errors import StoreUnavailable
from stream.store import connect
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import (
    collector_client,
    produce_raw,
    send,
    start_stream,
    stream_settings,
    wait_rows,
)

pytestmark = pytest.mark.integration


def ev(event_id: str, type_: str, at: str, anon: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "timestamp": f"2026-11-{at}Z", "anonymous_id": anon, **fields}


def script(prefix: str) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    """Batches in sending order, and the ad click the webhook delivers after all of them."""
    p = prefix
    batches = [
        [
            ev(f"{p}a1", "enter", "01T10:00:00", f"{p}A", context={"scene": 1007}),  # share card → social
            ev(f"{p}a2", "enter", "03T10:00:00", f"{p}A",
               context={"query": {"utm_source": "douyin", "utm_medium": "cpc", "utm_campaign": "spring"}}),
            ev(f"{p}c1", "convert", "04T10:00:00", f"{p}A",
               properties={"order_id": f"{p}o1", "revenue": "100.00", "currency": "CNY"}),
        ],
        [
            ev(f"{p}c0", "enter", "02T10:00:00", f"{p}C", context={"scene": 1089}),  # direct entry
            ev(f"{p}r0", "register", "02T10:05:00", f"{p}C"),
            ev(f"{p}b1", "enter", "05T09:00:00", f"{p}B", context={"scene": 1045, "query": {"gdt_vid": f"{p}clk"}}),
            ev(f"{p}b2", "identify", "05T09:05:00", f"{p}B", user_id=f"{p}U"),
        ],
        [
            ev(f"{p}a3", "identify", "06T10:00:00", f"{p}A", user_id=f"{p}U"),  # merges A and B
            # The client calls it "convert"; the person's order history makes it a repurchase.
            ev(f"{p}b3", "convert", "06T12:00:00", f"{p}B",
               properties={"order_id": f"{p}o2", "revenue": "50.00", "currency": "CNY"}),
        ],
    ]
    ad_click = {
        "event_id": f"{p}w1", "type": "ad_click", "app_id": "shop", "anonymous_id": "",
        "timestamp": "2026-11-05T08:59:00.000Z", "event_time": "2026-11-05T08:59:00.000Z",
        "received_at": "2026-11-07T00:00:00.000Z", "click_id": f"{p}clk", "platform": "tencent_ads",
        "channel": "tencent_ads", "channel_type": "paid", "campaign": "camp-7", "creative": "cr-3",
        "context": {}, "properties": {},
    }
    return batches, ad_click


async def run_script(bootstrap: str, topics: dict[str, str], prefix: str) -> None:
    batches, ad_click = script(prefix)
    async with collector_client(bootstrap, topics) as client:
        for batch in batches:
            await send(client, "shop", batch)
    await produce_raw(bootstrap, topics["KAFKA_EVENTS_TOPIC"], "shop", [ad_click])


async def credits(writer: ClickHouseWriter, conversion: str, model: str) -> dict[str, tuple[float, Decimal, str]]:
    rows = await writer.query(
        "SELECT touchpoint_id, credit, revenue_credit, campaign FROM attribution_credits_current "
        "WHERE conversion_id = {c:String} AND model = {m:String}",
        {"c": conversion, "m": model},
    )
    return {tp: (credit, revenue, campaign) for tp, credit, revenue, campaign in rows}


async def assert_hand_computed(writer: ClickHouseWriter, p: str) -> None:
    o1, o2 = f"order:{p}o1", f"order:{p}o2"
    # o1 (day 4, 100.00): touches a1 (day 1, share card) and a2 (day 3, douyin). b1 comes later.
    assert await credits(writer, o1, "first_touch") == {f"{p}a1": (1.0, Decimal("100.00"), "")}
    assert await credits(writer, o1, "last_touch") == {f"{p}a2": (1.0, Decimal("100.00"), "spring")}
    assert await credits(writer, o1, "linear") == {
        f"{p}a1": (0.5, Decimal("50.00"), ""), f"{p}a2": (0.5, Decimal("50.00"), "spring")
    }
    decay = await credits(writer, o1, "time_decay")
    # Ages 3 and 1 days, half-life 7: weights 2^(-3/7) and 2^(-1/7), so a1 gets 1 / (1 + 2^(2/7)).
    share_a1 = 1 / (1 + 2 ** (2 / 7))
    assert math.isclose(decay[f"{p}a1"][0], share_a1, rel_tol=1e-9)
    assert math.isclose(decay[f"{p}a2"][0], 1 - share_a1, rel_tol=1e-9)
    # 100 × 0.4548… = 45.48…: the cent split rounds to 45.48 / 54.52, which must add up to exactly 100.00.
    assert decay[f"{p}a1"][1] + decay[f"{p}a2"][1] == Decimal("100.00")
    assert decay[f"{p}a1"][1] == Decimal(str(round(100 * share_a1, 2)))
    assert await credits(writer, o1, "position_based") == {
        f"{p}a1": (0.5, Decimal("50.00"), ""), f"{p}a2": (0.5, Decimal("50.00"), "spring")
    }

    # o2 (day 6 12:00, 50.00) after A and B merged: touches a1, a2, b1 (all within 7 days).
    # b1 arrived with only a click id; the late ad click gave it campaign camp-7: the visit and the click are ONE
    # touchpoint. Linear: 50/3 = 16.666… → 16.66 each + 2 cents to the earliest ties → 16.67, 16.67, 16.66.
    assert await credits(writer, o2, "linear") == {
        f"{p}a1": (1 / 3, Decimal("16.67"), ""),
        f"{p}a2": (1 / 3, Decimal("16.67"), "spring"),
        f"{p}b1": (1 / 3, Decimal("16.66"), "camp-7"),
    }
    assert await credits(writer, o2, "last_touch") == {f"{p}b1": (1.0, Decimal("50.00"), "camp-7")}
    # Position-based, 3 touches: 40 / 20 / 40.
    position = await credits(writer, o2, "position_based")
    assert {k: v[1] for k, v in position.items()} == {
        f"{p}a1": Decimal("20.00"), f"{p}a2": Decimal("10.00"), f"{p}b1": Decimal("20.00")
    }

    kinds = dict(await writer.query(
        "SELECT conversion_id, conversion_type FROM conversions_current WHERE conversion_id LIKE {p:String}",
        {"p": f"%{p}%"},
    ))
    assert kinds == {o1: "convert", o2: "repurchase", f"register:{p}r0": "register"}
    owners = await writer.query(
        "SELECT uniqExact(user_key) FROM conversions_current WHERE conversion_id IN ({a:String}, {b:String})",
        {"a": o1, "b": o2},
    )
    assert owners == [(1,)]  # one person after the merge
    direct = await credits(writer, f"register:{p}r0", "linear")
    assert direct == {"": (1.0, Decimal("0.0000"), "")}

    # Whole-table invariants: current credits sum to 1 and to the revenue for every conversion and model.
    bad = await writer.query(
        "SELECT c.conversion_id, c.model, sum(c.credit) AS s, sum(c.revenue_credit) AS r, any(v.revenue) "
        "FROM attribution_credits_current AS c INNER JOIN conversions_current AS v USING (app_id, conversion_id) "
        "GROUP BY c.conversion_id, c.model HAVING abs(s - 1) > 1e-9 OR r != any(v.revenue)"
    )
    assert bad == []
    by_channel = dict(await writer.query(
        "SELECT channel, round(sum(credit), 9) FROM attribution_credits_current WHERE model = 'linear' "
        "AND conversion_id LIKE {p:String} GROUP BY channel", {"p": f"%{p}%"},
    ))
    assert by_channel == {
        "wechat_share": round(0.5 + 1 / 3, 9), "douyin": round(0.5 + 1 / 3, 9),
        "tencent_ads": round(1 / 3, 9), "direct": 1.0,
    }


async def wait_for_script(writer: ClickHouseWriter, p: str) -> None:
    await wait_rows(writer, f"SELECT count() FROM events WHERE event_id LIKE '{p}%'", 10)
    await wait_rows(
        writer,
        f"SELECT count() FROM attribution_credits_current WHERE conversion_id = 'order:{p}o2' "
        "AND model = 'last_touch' AND campaign = 'camp-7'",
        1,
    )


async def test_scripted_journeys_get_hand_computed_credits(kafka_bootstrap, topics, clickhouse) -> None:  # type: ignore[no-untyped-def]
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        await run_script(kafka_bootstrap, topics, "j")
        await wait_for_script(writer, "j")
        await assert_hand_computed(writer, "j")
    finally:
        await stream.close()
        writer.close()


class Crash(Exception):
    """Not a StreamError: the runner stops at once without writing or committing anything more."""


class CrashingWriter(ClickHouseWriter):
    def __init__(self, client: Any, crash_after_inserts: int, lane_clients: Any = ()) -> None:
        super().__init__(client, lane_clients)
        self.left = crash_after_inserts
        self.lanes_used: set[int] = set()

    async def insert(self, table: str, columns: Any, rows: Any, token: str, lane: int = 0) -> None:
        if rows:
            self.lanes_used.add(lane)
        await super().insert(table, columns, rows, token, lane)
        if rows:
            self.left -= 1
            if self.left == 0:
                raise Crash(f"crashed after inserting into {table}")


async def assert_stored_once(writer: ClickHouseWriter, events: list[tuple[str, int]]) -> None:
    """Nothing doubled anywhere, not only in the current views: each app's events once, no credit row twice."""
    assert await writer.query(
        "SELECT app_id, count(), uniqExact(event_id) FROM events GROUP BY app_id ORDER BY app_id"
    ) == [(app, n, n) for app, n in events]
    dupes = await writer.query(
        "SELECT count() FROM (SELECT app_id, conversion_id, version, model, touch_index, count() AS n "
        "FROM attribution_credits GROUP BY ALL HAVING n > 1)"
    )
    assert dupes == [(0,)]


@pytest.mark.parametrize("crash_after", [1, 3, 5])
async def test_a_crash_mid_flush_replays_without_doubling(kafka_bootstrap, topics, clickhouse, crash_after) -> None:  # type: ignore[no-untyped-def]
    # 1: only `events` written (W2); 3: halfway; 5: every table written, the commit not done (W3).
    crashing = CrashingWriter(clickhouse, crash_after)
    first = start_stream(stream_settings(kafka_bootstrap, topics, stream_flush_interval_s=5.0), crashing)
    await run_script(kafka_bootstrap, topics, "k")
    with pytest.raises(Crash):
        await asyncio.wait_for(first.task, 60)
    writer = ClickHouseWriter(clickhouse)
    second = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        await wait_for_script(writer, "k")
        await assert_hand_computed(writer, "k")
        await assert_stored_once(writer, [("shop", 10)])  # 9 SDK events and the ad click
    finally:
        await second.close()
        writer.close()
        crashing.close()


@pytest.mark.parametrize("crash_after", [2, 6])
async def test_a_crash_while_two_lanes_write_replays_without_doubling(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, chdb_path, crash_after
) -> None:
    # Two apps on two partitions, so one flush writes both ranges at once, one per lane; the crash lands while
    # the other lane writes (2: early, 6: both partly written). The replay runs on one lane: the tokens are the
    # ranges', whichever lane wrote them first.
    assert _partition_of("shop") != _partition_of("news"), "the test needs the two apps on different partitions"
    second_lane = connect(f"chdb://{chdb_path}", clickhouse.test_database)
    crashing = CrashingWriter(clickhouse, crash_after, [second_lane])
    assert crashing.lanes == 2
    # Both apps' records in the first flush: it comes 5 s after the first record.
    settings = stream_settings(kafka_bootstrap, topics, stream_flush_interval_s=5.0, stream_flush_min_interval_s=5.0)
    first = start_stream(settings, crashing)
    await run_script(kafka_bootstrap, topics, "k")
    async with collector_client(kafka_bootstrap, topics) as client:
        await send(client, "news", [
            ev("m1", "enter", "10T10:00:00", "M", context={"query": {"utm_source": "weibo"}}),
            ev("m2", "convert", "10T11:00:00", "M", properties={"order_id": "mo1", "revenue": "9.90"}),
        ])
    with pytest.raises(Crash):
        await asyncio.wait_for(first.task, 60)
    assert crashing.lanes_used == {0, 1}
    writer = ClickHouseWriter(clickhouse)
    second = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        await wait_for_script(writer, "k")
        await wait_rows(writer, "SELECT count() FROM conversions_current WHERE app_id = 'news'", 1)
        await assert_hand_computed(writer, "k")
        await assert_stored_once(writer, [("news", 2), ("shop", 10)])
    finally:
        await second.close()
        writer.close()
        crashing.close()
        second_lane.close()


def _partition_of(app_id: str, partitions: int = 4) -> int:
    return int(DefaultPartitioner()(app_id.encode(), list(range(partitions)), list(range(partitions))))


async def test_two_processors_in_one_group_give_the_same_credits(kafka_bootstrap, topics, clickhouse) -> None:  # type: ignore[no-untyped-def]
    assert _partition_of("shop") != _partition_of("news"), "the test needs the two apps on different partitions"
    writer = ClickHouseWriter(clickhouse)
    settings = stream_settings(kafka_bootstrap, topics)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    one = start_stream(settings, writer)
    two = start_stream(settings, writer)
    try:
        # Let the group settle with both members before any data flows (the first to join gets everything
        # until the second one's join rebalances the partitions).
        for _ in range(300):
            if all(len(r.runner._processors) > 0 for r in (one, two)):
                break
            await asyncio.sleep(0.2)
        await run_script(kafka_bootstrap, topics, "t")
        async with collector_client(kafka_bootstrap, topics) as client:
            await send(client, "news", [
                ev("m1", "enter", "10T10:00:00", "M", context={"query": {"utm_source": "weibo"}}),
                ev("m2", "convert", "10T11:00:00", "M", properties={"order_id": "mo1", "revenue": "9.90"}),
            ])
        await wait_for_script(writer, "t")
        await wait_rows(writer, "SELECT count() FROM conversions_current WHERE app_id = 'news'", 1)
        await assert_hand_computed(writer, "t")
        mall = await writer.query(
            "SELECT channel, credit, revenue_credit FROM attribution_credits_current "
            "WHERE app_id = 'news' AND model = 'linear'"
        )
        assert mall == [("weibo", 1.0, Decimal("9.90"))]
        # Both members really took part: each wrote the events of the app whose partition it owns.
        written = [r.runner.metrics.registry.get_sample_value("touchstream_stream_events_written_total")
                   for r in (one, two)]
        assert all(n and n > 0 for n in written), written
    finally:
        await one.close()
        await two.close()
        writer.close()


class FlakyWriter(ClickHouseWriter):
    """ClickHouse that refuses every write and read while `down` is set, as a stopped server would."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.down = True
        self.attempts = 0

    async def insert(self, table: str, columns: Any, rows: Any, token: str, lane: int = 0) -> None:
        self.attempts += 1
        if self.down:
            raise StoreUnavailable("Code: 210. DB::NetException: Connection refused")
        await super().insert(table, columns, rows, token, lane)

    async def query(self, sql: str, parameters: Any = None) -> Any:
        self.attempts += 1 if self.down else 0  # a flush reads too (stored conversion ids), as do restores
        if self.down:
            raise StoreUnavailable("Code: 210. DB::NetException: Connection refused")
        return await super().query(sql, parameters)


async def test_clickhouse_down_stops_commits_backs_off_and_catches_up(kafka_bootstrap, topics, clickhouse) -> None:  # type: ignore[no-untyped-def]
    flaky = FlakyWriter(clickhouse)
    flaky.down = False
    settings = stream_settings(kafka_bootstrap, topics, stream_retry_max_s=2.0)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    stream = start_stream(settings, flaky)
    try:
        await asyncio.wait_for(stream.runner.ready.wait(), 60)
        flaky.down = True
        await run_script(kafka_bootstrap, topics, "f")
        await asyncio.sleep(4)  # ClickHouse stays down for a while
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(topics["STREAM_GROUP_ID"])
        finally:
            await admin.close()
        events_topic = topics["KAFKA_EVENTS_TOPIC"]
        events_offsets = {tp.partition: m.offset for tp, m in offsets.items() if tp.topic == events_topic}
        assert all(o <= 0 for o in events_offsets.values()), events_offsets  # nothing committed while down
        # Back-off, not a hot loop: 0.5 s doubling to 2 s gives a handful of cycles in 4 s (each a failed flush
        # and a failed restore, a few calls apiece), not thousands of calls.
        assert 1 <= flaky.attempts <= 24, flaky.attempts
        flaky.down = False
        await wait_for_script(flaky, "f")
        await assert_hand_computed(flaky, "f")
        assert await flaky.query("SELECT count(), uniqExact(event_id) FROM events") == [(10, 10)]
    finally:
        await stream.close()
        flaky.close()
