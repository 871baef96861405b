"""Restoring a partition's state from the real ClickHouse engine (chDB) gives the state the processor had.

Each test folds events through a `PartitionProcessor`, writes its rows to chDB the way the consumer does
(one insert per table, deterministic tokens), then builds a fresh processor from those rows with
`stream.restore_state` and compares: what the restored one holds, and what it writes next.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest

from runtime.kafka_admin import ensure_topics
from stream.channels import default_taxonomy
from stream.checkpoint import Range
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.processor import Output, PartitionProcessor, SourceRecord
from stream.restore_state import restore_engines, restore_seen_ids, stored_event_ids_of
from stream.rows import CONVERSION_COLUMNS
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import produce_raw, start_stream, stream_settings, wait_rows
from tests.unit.stream.journeys.conftest import APP, ad_click, day, ev

pytestmark = pytest.mark.integration

TOPIC = "touchstream.events"
WINDOW_S = 3_600


class Partition:
    """One partition's processor, its next offset, and the chDB it writes to."""

    def __init__(
        self, writer: ClickHouseWriter, config: AttributionConfig, max_ids: int = 100_000, partition: int = 0
    ) -> None:
        self.writer, self.config, self.max_ids, self.partition = writer, config, max_ids, partition
        self.offset = 0
        self.processor = self.fresh()

    def fresh(self) -> PartitionProcessor:
        taxonomy = default_taxonomy()
        return PartitionProcessor(
            TOPIC, "dl", timedelta(seconds=WINDOW_S), self.max_ids,
            lambda app: AppEngine(app, self.config, taxonomy),
        )

    async def flush(self, *records: list[dict[str, Any]], processor: PartitionProcessor | None = None) -> Output:
        """Each argument is one Kafka record (a list of events); processed and written as the consumer does."""
        p = processor or self.processor
        sources = []
        for events in records:
            for e in events:
                e.setdefault("app_id", APP)
            sources.append(SourceRecord(TOPIC, self.partition, self.offset, orjson.dumps(events), 0))
            self.offset += 1
        first = sources[0].offset
        asked = {self.partition: (first, p.questions(sources).conversions)}
        stored = (await stored_event_ids_of(self.writer, asked)).get(self.partition, frozenset())
        out = p.process(sources, stored)
        rng = Range(TOPIC, self.partition, first, self.offset - 1)
        for table, columns, rows in out.tables():
            await self.writer.insert(table, columns, rows, rng.token(table))
        return out

    async def restored(self) -> PartitionProcessor:
        p = self.fresh()
        await restore_seen_ids(self.writer, p, 0, self.offset, WINDOW_S, self.max_ids)
        await restore_engines(self.writer, 0, self.offset, p.engine)
        return p


@pytest.fixture
def writer(clickhouse: Any) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(clickhouse)
    yield w
    w.close()


def kinds(out: Output) -> list[tuple[str, str, bool]]:
    index = {name: CONVERSION_COLUMNS.index(name) for name in ("conversion_id", "conversion_type", "deleted")}
    return [(r[index["conversion_id"]], r[index["conversion_type"]], r[index["deleted"]]) for r in out.conversions]


async def test_the_dedup_set_restored_holds_the_newest_ids_of_the_window(writer: ClickHouseWriter) -> None:
    # 30 events one second apart; the set may hold 10: the live set keeps the last 10, so must the restored one.
    part = Partition(writer, AttributionConfig(), max_ids=1_000)
    for i in range(30):
        await part.flush([ev(f"e{i:02d}", "page_view", day(1, hours=i / 3600))])
    part.max_ids = 10
    restored = await part.restored()
    assert len(restored.seen) == 10
    assert all((APP, f"e{i:02d}") in restored.seen for i in range(20, 30))
    assert (APP, "e19") not in restored.seen
    # So the retry of the newest batch right after the restart is dropped, not written twice.
    out = await part.flush([ev("e29", "page_view", day(1, hours=29 / 3600))], processor=restored)
    assert out.events == [] and out.duplicates == 1


def long_history() -> list[list[dict[str, Any]]]:
    """400 days: 'old' people active only in the first weeks, 'recent' ones until the end, merges in both."""
    records: list[list[dict[str, Any]]] = []
    for n in range(8):
        records.append([
            ev(f"old{n}-enter", "enter", day(1 + n), f"old-dev{n}", query={"utm_source": "douyin"}),
            ev(f"old{n}-reg", "register", day(2 + n), f"old-dev{n}", user_id=f"old-u{n}"),
            ev(f"old{n}-buy", "convert", day(3 + n), f"old-dev{n}", user_id=f"old-u{n}", revenue="10"),
        ])
    for week in range(57):
        batch = []
        for n in range(5):
            t = day(1 + 7 * week, hours=n)
            batch.append(ev(f"r{n}-w{week}", "enter", t, f"rec-dev{n}", query={"utm_source": "wechat"}))
            if week == 1:
                batch.append(ev(f"r{n}-login", "register", t + timedelta(minutes=5), f"rec-dev{n}",
                                user_id=f"rec-u{n}", openid=f"rec-o{n}"))
            if week in (2, 30):
                batch.append(ev(f"r{n}-buy{week}", "convert", t + timedelta(minutes=9), f"rec-dev{n}",
                                user_id=f"rec-u{n}", revenue="25.5"))
        records.append(batch)
    return records


async def test_a_restart_on_a_long_history_holds_the_same_people_and_ids_as_the_live_state(
    writer: ClickHouseWriter,
) -> None:
    part = Partition(writer, AttributionConfig())
    for record in long_history():
        await part.flush(record)
    live = part.processor.engines[APP]
    restored = (await part.restored()).engines[APP]
    assert restored.watermark == live.watermark
    assert live.watermark is not None
    for engine in (live, restored):
        engine.evict(live.watermark)  # both as of one eviction: live state evicts hourly, restore as of now
    # By hand: 8 'old' people went idle before day 220 (400 - 180) and are gone; the 5 recent ones stay with
    # their device, login and openid (15 ids).
    assert sorted(restored.persons) == sorted(live.persons)
    assert len(live.persons) == 5
    assert len(restored.graph) == len(live.graph) == 15
    for key, person in live.persons.items():
        assert restored.persons[key].last_seen == person.last_seen
        assert restored.persons[key].firsts == person.firsts


async def test_purchase_history_survives_a_restart_when_first_orders_are_not_a_conversion_type(
    writer: ClickHouseWriter,
) -> None:
    # Only repurchases are conversions: a first order writes no conversion rows, yet it makes the next a repurchase.
    part = Partition(writer, AttributionConfig(conversion_types=frozenset({"register", "repurchase"})))
    await part.flush([ev("buy1", "convert", day(1), "dev1", user_id="u1", revenue="10")])
    restored = await part.restored()
    out = await part.flush([ev("buy2", "convert", day(2), "dev1", user_id="u1", revenue="20")], processor=restored)
    assert kinds(out) == [("order:o-buy2", "repurchase", False)]


async def test_an_order_resent_after_its_person_was_evicted_writes_nothing_new(writer: ClickHouseWriter) -> None:
    part = Partition(writer, AttributionConfig())
    order = ev("buy1", "convert", day(1), "dev1", user_id="u1", query={"utm_source": "douyin"}, revenue="99")
    first = await part.flush([ev("in1", "enter", day(1) - timedelta(minutes=5), "dev1",
                                  query={"utm_source": "douyin"}), order])
    assert kinds(first) == [("order:o-buy1", "convert", False)]
    # 200 days of someone else's traffic: dev1/u1 and the order's id leave state (180 days of retention).
    for week in range(29):
        await part.flush([ev(f"other-{week}", "enter", day(8 + 7 * week), "dev2")])
    engine = part.processor.engines[APP]
    assert engine.graph.key_of("uid:u1") is None and "order:o-buy1" not in engine.conversion_ids
    for processor in (part.processor, await part.restored()):
        out = await part.flush([dict(order)], processor=processor)
        assert out.conversions == [] and out.credits == [] and out.events == []
        assert out.duplicates == 1


async def test_ad_impressions_in_state_are_restored_like_ad_clicks(writer: ClickHouseWriter) -> None:
    part = Partition(writer, AttributionConfig())
    impression = {**ad_click("imp1", day(1), "imp-77", channel="tencent_ads"), "type": "ad_impression"}
    click = ad_click("clk1", day(1, hours=1), "clk-88", channel="ocean_engine")
    for e in (impression, click):
        e.update(received_at=e["event_time"], timestamp=e["event_time"])
    await part.flush([impression, click])
    live = part.processor.engines[APP]
    restored = (await part.restored()).engines[APP]
    assert sorted(live.ad_clicks) == ["clk-88", "imp-77"]
    assert restored.ad_clicks == live.ad_clicks


async def test_the_stored_id_lookup_sees_only_rows_below_the_range(writer: ClickHouseWriter) -> None:
    part = Partition(writer, AttributionConfig())
    await part.flush([ev("r1", "register", day(1), "dev1")])  # offset 0
    await part.flush([ev("r2", "register", day(1), "dev2")])  # offset 1
    keys = {(APP, "r1"), (APP, "r2"), (APP, "never")}
    assert await stored_event_ids_of(writer, {0: (2, keys)}) == {0: {(APP, "r1"), (APP, "r2")}}
    # A replay of the range starting at 1 must not see its own half-written rows.
    assert await stored_event_ids_of(writer, {0: (1, keys)}) == {0: {(APP, "r1")}}
    assert await stored_event_ids_of(writer, {1: (2, keys)}) == {}


async def test_one_lookup_for_a_flush_answers_each_partition_below_its_own_range(writer: ClickHouseWriter) -> None:
    zero, one = Partition(writer, AttributionConfig()), Partition(writer, AttributionConfig(), partition=1)
    await zero.flush([ev("m1", "register", day(1), "dev1")])  # partition 0, offset 0
    await zero.flush([ev("m2", "register", day(1), "dev2")])  # partition 0, offset 1
    await one.flush([ev("n1", "register", day(1), "dev3")])  # partition 1, offset 0
    await one.flush([ev("n2", "register", day(1), "dev4")])  # partition 1, offset 1
    ids = {(APP, i) for i in ("m1", "m2", "n1", "n2", "never")}
    # Each partition sees its own rows only, and only below its range's first offset (1 for both here).
    assert await stored_event_ids_of(writer, {0: (1, ids), 1: (1, ids)}) == {0: {(APP, "m1")}, 1: {(APP, "n1")}}
    assert await stored_event_ids_of(writer, {0: (2, ids), 1: (0, ids)}) == {0: {(APP, "m1"), (APP, "m2")}}
    assert await stored_event_ids_of(writer, {0: (2, set()), 1: (2, {(APP, "n2")})}) == {1: {(APP, "n2")}}
    assert await stored_event_ids_of(writer, {}) == {}


async def test_the_running_processor_drops_an_order_resent_after_its_person_was_evicted(
    kafka_bootstrap: str, topics: dict[str, str], writer: ClickHouseWriter,
) -> None:
    # Through the real consumer and broker: the stored-id lookup sits in the flush, not only in this file's mimic.
    settings = stream_settings(kafka_bootstrap, topics)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    events_topic = topics["KAFKA_EVENTS_TOPIC"]
    order = {**ev("buy1", "convert", day(1), "dev1", user_id="u1", revenue="99"), "app_id": APP}
    stream = start_stream(settings, writer)
    try:
        await produce_raw(kafka_bootstrap, events_topic, APP, [order])
        await wait_rows(writer, "SELECT count() FROM conversions", 1)
        later = [{**ev(f"other-{w}", "enter", day(8 + 7 * w), "dev2"), "app_id": APP} for w in range(29)]
        await produce_raw(kafka_bootstrap, events_topic, APP, later)
        await wait_rows(writer, "SELECT count() FROM events", 30)
        await produce_raw(kafka_bootstrap, events_topic, APP, [dict(order)])
        sentinel = {**ev("sentinel", "enter", day(210), "dev3"), "app_id": APP}
        await produce_raw(kafka_bootstrap, events_topic, APP, [sentinel])
        await wait_rows(writer, "SELECT count() FROM events WHERE event_id = 'sentinel'", 1)
    finally:
        await stream.close()
    rows = await writer.query("SELECT conversion_type, version, deleted FROM conversions ORDER BY version")
    assert [(kind, deleted) for kind, _, deleted in rows] == [("convert", False)]
    assert await writer.query("SELECT count() FROM events WHERE event_id = 'buy1'") == [(1,)]
