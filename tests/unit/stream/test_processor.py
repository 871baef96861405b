"""The pure processing step: dedup, poison records, dead letters, spend rows, and the checkpoint rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson

from schemas.records import DEADLETTER_HEADERS, EVENTS_HEADERS, PRIVACY_FORMAT, Headers
from stream.channels import default_taxonomy
from stream.checkpoint import Range, batch_end, pending_end
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.processor import PartitionProcessor, SourceRecord
from stream.rows import BAD_EVENT_COLUMNS, DUPLICATE_COLUMNS, EVENT_COLUMNS


def processor() -> PartitionProcessor:
    taxonomy = default_taxonomy()
    return PartitionProcessor(
        "ev", "dl", timedelta(hours=1), 1000, lambda app: AppEngine(app, AttributionConfig(), taxonomy)
    )


def event(event_id: str, type_: str = "page_view", **fields: Any) -> dict[str, Any]:
    at = "2026-11-20T10:00:00.000Z"
    return {"event_id": event_id, "type": type_, "app_id": "shop", "anonymous_id": "d1", "timestamp": at,
            "event_time": at, "received_at": at, "sent_at": None, "context": {}, "properties": {}, **fields}


def record(offset: int, items: Any, topic: str = "ev", headers: Headers | None = None) -> SourceRecord:
    """A record as the collector writes it: keyed by the app, with its topic's format header by default."""
    if headers is None:
        headers = DEADLETTER_HEADERS if topic == "dl" else EVENTS_HEADERS
    return SourceRecord(topic, 0, offset, orjson.dumps(items), 1_795_000_000_000, b"shop", headers)


def column(rows: list[tuple[Any, ...]], columns: tuple[str, ...], name: str) -> list[Any]:
    return [r[columns.index(name)] for r in rows]


def test_events_are_written_once_across_records_and_within_one() -> None:
    p = processor()
    out = p.process([record(0, [event("a"), event("b"), event("a")]), record(1, [event("b"), event("c")])])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["a", "b", "c"]
    assert column(out.events, EVENT_COLUMNS, "_offset") == [0, 0, 1]
    assert out.duplicates == 2


def test_a_poison_record_becomes_a_bad_event_and_the_partition_flows_on() -> None:
    p = processor()
    broken = SourceRecord("ev", 0, 5, b'[{"app_id":"shop","event_id":"x"', 1_795_000_000_000, b"shop", EVENTS_HEADERS)
    wrong_type = record(6, [event("y", event_time=12345)])  # an event_time that is not a string
    out = p.process([broken, wrong_type, record(7, [event("z")])])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["z"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "code") == ["poison", "poison"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "app_id") == ["shop", "shop"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "_offset") == [5, 6]
    # The poison record left no trace in the dedup state: its ids can still arrive correctly later.
    assert column(p.process([record(8, [event("y")])]).events, EVENT_COLUMNS, "event_id") == ["y"]


def test_a_record_of_an_unknown_format_is_a_poison_bad_event_under_its_key() -> None:
    p = processor()
    future = record(3, [event("f")], headers=(("format", b"events-json-array/2"),))
    crossed = record(4, [event("g")], headers=DEADLETTER_HEADERS)  # a dead-letter record on the events topic
    not_array = record(5, event("h"))
    out = p.process([future, crossed, not_array, record(6, [event("z")])])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["z"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "code") == ["poison"] * 3
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "_offset") == [3, 4, 5]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "reason") == [
        "RecordFormatError: record format 'events-json-array/2' is not 'events-json-array/1', the format of this topic",
        "RecordFormatError: record format 'deadletter-json/1' is not 'events-json-array/1', the format of this topic",
        "RecordFormatError: an events record must hold a JSON array, got a JSON object",
    ]
    # The whole record is kept, so it can be replayed once the format is known.
    assert orjson.loads(column(out.bad_events, BAD_EVENT_COLUMNS, "payload")[0]) == [event("f")]
    assert column(p.process([record(7, [event("f")])]).events, EVENT_COLUMNS, "event_id") == ["f"]


def test_a_poison_record_is_reported_under_its_key_not_what_its_bytes_say() -> None:
    p = processor()
    lying = SourceRecord("ev", 0, 9, b'[{"app_id":"other","event_id":', 1_795_000_000_000, b"shop", EVENTS_HEADERS)
    (row,) = p.process([lying]).bad_events
    assert row[BAD_EVENT_COLUMNS.index("app_id")] == "shop"


def test_records_without_a_format_header_from_earlier_versions_still_land() -> None:
    p = processor()
    dead = {"app_id": "shop", "source": "sdk", "received_at": "2026-11-20T10:00:00.000Z", "code": "invalid",
            "reason": "r", "payload": "{}"}
    out = p.process([record(0, [event("old")], headers=()), record(1, dead, topic="dl", headers=())])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["old"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "stage") == ["collector"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "reason") == ["r"]


def test_a_malformed_event_goes_to_bad_events_and_its_neighbours_land() -> None:
    p = processor()
    bad_revenue = event("o", "convert", properties={"order_id": "A1", "revenue": "not-a-number"})
    out = p.process([record(0, [bad_revenue, event("n")])])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["n"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "stage") == ["stream"]
    assert '"event_id":"o"' in column(out.bad_events, BAD_EVENT_COLUMNS, "payload")[0]


def test_revenue_the_events_table_cannot_hold_is_one_bad_event_not_a_failed_insert() -> None:
    p = processor()
    odd = [event(name, "convert", properties={"order_id": name, "revenue": value})
           for name, value in (("nan", "NaN"), ("inf", "Infinity"), ("big", "100000000000000"))]
    fits = event("ok", "convert", properties={"order_id": "ok", "revenue": "99999999999999.9999"})
    out = p.process([record(0, [*odd, fits])])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["ok"]
    assert column(out.events, EVENT_COLUMNS, "revenue") == [Decimal("99999999999999.9999")]
    assert len(out.bad_events) == 3
    assert "not a finite amount that fits Decimal(18, 4)" in column(out.bad_events, BAD_EVENT_COLUMNS, "reason")[0]


def test_an_event_that_breaks_attribution_goes_to_bad_events_but_is_kept() -> None:
    p = processor()
    no_revenue = event("o", "convert", properties={"order_id": "A1"})  # the engine needs the revenue
    out = p.process([record(0, [no_revenue, event("n")])])
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["o", "n"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "stage") == ["attribution"]


def test_dead_letters_and_spend_go_to_their_own_tables() -> None:
    p = processor()
    dead = {"app_id": "shop", "source": "sdk", "received_at": "2026-11-20T10:00:00.000Z", "index": 3,
            "code": "invalid", "reason": "type: ...", "payload": "{}", "ip": "1.2.3.4", "user_agent": "ua"}
    spend = event("s", "ad_spend", properties={
        "date": "2026-11-19", "channel": "douyin", "campaign": "c", "creative": "", "source": "csv",
        "spend": "10.5000", "currency": "USD", "spend_reporting": "74.5500", "reporting_currency": "CNY",
        "fx_rate": "7.10",
    })
    out = p.process([record(0, [dead], topic="dl"), record(1, [spend])])
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "stage") == ["collector"]
    assert out.events == []
    (row,) = out.ad_spend
    assert row[1].isoformat() == "2026-11-19" and row[6] == Decimal("10.5000") and row[8] == Decimal("74.5500")


def test_checkpoint_ranges_reform_exactly_after_a_crash() -> None:
    rng = Range("ev", 2, 100, 180)
    assert rng.token("events") == "ev:2:100-180:events"
    assert pending_end(rng.pending_marker()) == 180
    assert pending_end("") is None and pending_end("pending:x") is None
    # Without a marker everything buffered goes; with one, the range ends exactly there, or waits for it.
    assert batch_end([100, 150, 200], None) == 200
    assert batch_end([100, 150, 200], 180) == 180
    assert batch_end([100, 150], 180) is None
    assert batch_end([], None) is None


def test_which_conversions_are_looked_up_depends_on_the_dedup_set_only() -> None:
    # A re-sent order past the dedup window is asked about even while the engine still knows its order id:
    # engine state differs between a live and a restored processor, the question must not.
    later = "2026-11-20T12:00:00.000Z"
    order = event("buy1", "convert", properties={"order_id": "o1", "revenue": "10", "currency": "CNY"})
    p = processor()
    p.process([record(0, [order])])
    assert p.questions([record(1, [order])]).conversions == set()  # still in the dedup window
    p.process([record(1, [event("pv", received_at=later, event_time=later, timestamp=later)])])
    assert "order:o1" in p.engines["shop"].conversion_ids  # the engine remembers the order ...
    assert p.questions([record(2, [order])]).conversions == {("shop", "buy1")}  # ... and it is asked
    assert p.questions([record(3, [event("pv2")])]).conversions == set()  # not a conversion type


def test_a_range_asks_only_about_the_new_conversions_of_records_it_can_read() -> None:
    p = processor()
    order = event("buy1", "convert", properties={"order_id": "o1", "revenue": "10", "currency": "CNY"})
    signup = event("reg1", "register")
    broken = SourceRecord("ev", 0, 2, b'[{"type":"convert","app_id":"shop","event_id":"b"', 0, b"shop", EVENTS_HEADERS)
    buy2 = event("buy2", "convert", properties={"order_id": "o2", "revenue": "5", "currency": "CNY"})
    odd = record(3, [7, {"type": "convert"}, buy2])
    dead = record(4, [event("buy3", "convert")], topic="dl")  # a dead letter is no conversion of the range
    privacy = record(5, {"type": "erase", "app_id": "shop"}, headers=(("format", PRIVACY_FORMAT),))
    records = [record(0, [order, event("pv")]), record(1, [signup]), broken, odd, dead, privacy]
    assert p.questions(records).conversions == {("shop", "buy1"), ("shop", "reg1"), ("shop", "buy2")}
    # What ClickHouse says is stored is dropped as a duplicate, and only that.
    out = p.process(records, stored={("shop", "buy1")})
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["pv", "reg1", "buy2"]
    assert column(out.duplicate_events, DUPLICATE_COLUMNS, "event_id") == ["buy1"]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "_offset") == [2, 3, 3, 4, 5]
    # A replay asks again only about the one ClickHouse had: what this range wrote is in the dedup set now.
    assert p.questions(records).conversions == {("shop", "buy1")}
