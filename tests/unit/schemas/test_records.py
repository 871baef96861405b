"""The Kafka record format: encoder and decoder round trip, the split bound, the format header checks, header-less
records of earlier versions, and the typed producers read back by the stream's row functions."""

from __future__ import annotations

import datetime
from datetime import UTC
from decimal import Decimal
from typing import Any, cast

import orjson
import pytest

from collector.auth import Integration
from collector.cost_routes import spend_event
from collector.costs import CostRow
from collector.webhooks.events import ad_touch_event
from collector.webhooks.platforms import AdTouch
from schemas.records import (
    DEADLETTER_HEADERS,
    EVENTS_HEADERS,
    MAX_RECORD_BYTES,
    DeadLetter,
    RecordFormatError,
    SpendEvent,
    decode_dead_letters,
    decode_events,
    encode_dead_letters,
    encode_events,
)
from stream.rows import AD_SPEND_COLUMNS, EVENT_COLUMNS, ad_spend_row, event_row

RECEIVED = datetime.datetime(2026, 11, 20, 10, 0, 0, 123_000, tzinfo=UTC)


def item(i: int, app_id: str = "shop") -> dict[str, Any]:
    return {"event_id": f"e{i}", "app_id": app_id}  # 33 bytes of JSON for one digit and "shop"


def test_the_headers_are_the_documented_ones() -> None:
    assert EVENTS_HEADERS == (("format", b"events-json-array/1"),)
    assert DEADLETTER_HEADERS == (("format", b"deadletter-json/1"),)
    assert MAX_RECORD_BYTES == 256_000  # README: "split only past 256 KB"


def test_events_round_trip_one_record_per_app_in_the_order_sent() -> None:
    events = [item(0, "shop"), item(1, "blog"), item(2, "shop"), item(3, "blog"), item(4, "shop")]
    records = encode_events(events, "t.events")
    assert [(r.topic, r.key, r.headers, r.event_count) for r in records] == [
        ("t.events", b"shop", EVENTS_HEADERS, 3),
        ("t.events", b"blog", EVENTS_HEADERS, 2),
    ]
    assert records[1].value == b'[{"event_id":"e1","app_id":"blog"},{"event_id":"e3","app_id":"blog"}]'
    assert [decode_events(r.value, r.headers) for r in records] == [
        [item(0), item(2), item(4)],
        [item(1, "blog"), item(3, "blog")],
    ]


@pytest.mark.parametrize(
    ("max_record_bytes", "counts"),
    [
        (70, [2, 1]),  # "[" 33 "," 33 "]" is 69 bytes: two fit (a comma is reserved per item)
        (69, [1, 1, 1]),  # at exactly 69 the encoder is one byte conservative
        (104, [3]),  # 2 + 3 * 34
        (35, [1, 1, 1]),
        (10, [1, 1, 1]),  # an item larger than the bound still travels, alone
    ],
)
def test_the_split_bound(max_record_bytes: int, counts: list[int]) -> None:
    records = encode_events([item(0), item(1), item(2)], "t", max_record_bytes)
    assert [r.event_count for r in records] == counts
    assert [e for r in records for e in decode_events(r.value, r.headers)] == [item(0), item(1), item(2)]
    for r in records:
        assert len(r.value) <= max_record_bytes or r.event_count == 1


def test_the_default_bound_splits_a_large_request() -> None:
    events = [{"event_id": f"e{i:04d}", "app_id": "shop", "pad": "x" * 200} for i in range(2_000)]
    records = encode_events(events, "t")
    # Each item is 245 bytes, 246 with its comma: 1,040 fit (2 + 1,040 * 246 = 255,842), 960 go to a second record.
    assert [r.event_count for r in records] == [1_040, 960]
    assert all(len(r.value) <= 256_000 for r in records)
    assert [e for r in records for e in decode_events(r.value, r.headers)] == events


def test_nothing_to_encode_is_no_record() -> None:
    assert encode_events([], "t") == []
    assert encode_dead_letters([], "shop", "t.dl") == []


def test_dead_letters_round_trip() -> None:
    letters: list[DeadLetter] = [
        {"app_id": "shop", "source": "sdk", "received_at": "2026-11-20T10:00:00.123Z", "index": 2,
         "code": "invalid", "reason": "type: ...", "payload": "{}", "ip": "1.2.3.4", "user_agent": "ua"},
        {"app_id": "shop", "source": "kafka", "received_at": "2026-11-20T10:00:00.123Z", "code": "poison",
         "reason": "r", "payload": "[]"},
    ]
    (record,) = encode_dead_letters(letters, "shop", "t.dl")
    assert (record.key, record.headers, record.event_count) == (b"shop", DEADLETTER_HEADERS, 2)
    assert decode_dead_letters(record.value, record.headers) == letters


def test_a_single_object_dead_letter_is_one_item() -> None:
    assert decode_dead_letters(b'{"code":"invalid"}', DEADLETTER_HEADERS) == [{"code": "invalid"}]


def test_records_without_a_format_header_decode_as_the_first_version() -> None:
    assert decode_events(b'[{"event_id":"a"}]', ()) == [{"event_id": "a"}]
    assert decode_events(b'[{"event_id":"a"}]', (("trace", b"t-1"),)) == [{"event_id": "a"}]
    assert decode_dead_letters(b'[{"code":"x"}]', ()) == [{"code": "x"}]


def test_the_format_header_is_found_among_others() -> None:
    headers = (("trace", b"t-1"), ("format", b"events-json-array/1"))
    assert decode_events(b"[]", headers) == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ((("format", b"events-json-array/2"),),
         "record format 'events-json-array/2' is not 'events-json-array/1', the format of this topic"),
        (DEADLETTER_HEADERS,
         "record format 'deadletter-json/1' is not 'events-json-array/1', the format of this topic"),
        ((("format", b""),), "record format '' is not 'events-json-array/1', the format of this topic"),
    ],
)
def test_a_wrong_format_header_is_refused_before_the_value_is_read(headers: Any, message: str) -> None:
    with pytest.raises(RecordFormatError) as caught:
        decode_events(b"not even json", headers)
    assert str(caught.value) == message


def test_an_events_record_on_the_dead_letter_decoder_is_refused() -> None:
    with pytest.raises(RecordFormatError) as caught:
        decode_dead_letters(b"[]", EVENTS_HEADERS)
    expected = "record format 'events-json-array/1' is not 'deadletter-json/1', the format of this topic"
    assert str(caught.value) == expected


def test_a_long_unknown_format_is_shown_shortened() -> None:
    with pytest.raises(RecordFormatError) as caught:
        decode_events(b"[]", (("format", b"z" * 500),))
    assert str(caught.value) == f"record format {'z' * 64!r} is not 'events-json-array/1', the format of this topic"


@pytest.mark.parametrize(
    ("value", "kind"), [(b'{"event_id":"a"}', "object"), (b'"a"', "string"), (b"3", "number"), (b"null", "null")]
)
def test_an_events_record_must_be_an_array(value: bytes, kind: str) -> None:
    with pytest.raises(RecordFormatError) as caught:
        decode_events(value, EVENTS_HEADERS)
    assert str(caught.value) == f"an events record must hold a JSON array, got a JSON {kind}"


def test_broken_json_is_a_json_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        decode_events(b'[{"event_id":', EVENTS_HEADERS)


# -- both ends: what the collector's typed producers write, the stream's row functions read ------------------


def test_a_spend_row_travels_from_the_upload_to_its_ad_spend_row() -> None:
    row = CostRow(datetime.date(2026, 11, 19), "douyin", "c1", "", Decimal("10.5"), "USD", "csv",
                  Decimal("74.55"), "CNY", Decimal("7.1"))
    (record,) = encode_events([spend_event("shop", row, RECEIVED, 7)], "t")
    (decoded,) = decode_events(record.value, record.headers)
    assert decoded["type"] == "ad_spend"
    spend = ad_spend_row(cast("SpendEvent", decoded), 42, 0, 5)  # as the processor does after this check
    assert dict(zip(AD_SPEND_COLUMNS, spend, strict=True)) == {
        "app_id": "shop", "date": datetime.date(2026, 11, 19), "channel": "douyin", "campaign": "c1",
        "creative": "", "source": "csv", "spend": Decimal("10.5"), "currency": "USD",
        "spend_reporting": Decimal("74.55"), "reporting_currency": "CNY", "fx_rate": Decimal("7.1"),
        "received_at": RECEIVED, "version": 42, "_partition": 0, "_offset": 5,
    }


def test_an_ad_click_travels_from_the_webhook_to_its_events_row() -> None:
    integration = Integration("tx1", "shop", "tencent", "token", "tencent_ads")
    touch = AdTouch("click", "tencent", "gdt-77", campaign_id="c9", ad_id="ad3", ip="1.2.3.4", user_agent="ua")
    (record,) = encode_events([ad_touch_event(touch, integration, RECEIVED)], "t")
    assert record.key == b"shop"
    (decoded,) = decode_events(record.value, record.headers)
    events = dict(zip(EVENT_COLUMNS, event_row(decoded, 0, 5), strict=True))
    assert {k: events[k] for k in ("app_id", "event_id", "type", "received_at", "ip", "user_agent")} == {
        "app_id": "shop", "event_id": "tx1:click:gdt-77", "type": "ad_click", "received_at": RECEIVED,
        "ip": "1.2.3.4", "user_agent": "ua",
    }
    properties = orjson.loads(events["properties"])
    assert (properties["click_id"], properties["campaign"], properties["creative"]) == ("gdt-77", "c9", "ad3")
