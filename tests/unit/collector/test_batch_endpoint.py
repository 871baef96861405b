"""POST /v1/batch end to end through the real app, over an in-memory sink: what the client gets back and what
would reach Kafka (the records the sink received, decoded)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from collector.ingest import MAX_DEADLETTER_PAYLOAD
from collector.settings import CollectorSettings
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import (
    BLOG_KEY,
    DEADLETTER_TOPIC,
    EVENTS_TOPIC,
    PII_SECRET,
    RECEIVED_AT_TEXT,
    TS_MS,
    TS_TEXT,
    EventFactory,
    asgi_client,
    auth,
    body,
    build_app,
    dead_letters,
    event_key,
    events_on_topic,
    make_settings,
)

MAX_BODY = 500_000
MAX_EVENT = 32_768
KAFKA_MAX_REQUEST_BYTES = 1_048_576  # KafkaSink's max_request_size (and the broker's default message.max.bytes)
EVENT_RECORD_MAX = 256_000  # routing.route_events' default max_record_bytes (README: "no record exceeds 256 KB")


async def post(client: httpx.AsyncClient, content: Any, **headers: str) -> httpx.Response:
    return await client.post("/v1/batch", content=content, headers={**auth(), **headers})


def padded(doc: Any, size: int) -> bytes:
    """`doc` as JSON, padded with trailing whitespace (legal JSON) to exactly `size` bytes."""
    raw = orjson.dumps(doc)
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def event_of_size(make_event: EventFactory, size: int) -> dict[str, Any]:
    """A valid event whose compact JSON is exactly `size` bytes, with every string under the 8,192-char limit."""
    keys = [f"p{i}" for i in range(8)]
    event = make_event(properties=dict.fromkeys(keys, ""))
    missing = size - len(orjson.dumps(event))
    assert 0 <= missing <= 8 * 8_000
    for key in keys:
        take = min(missing, 8_000)
        event["properties"][key] = "x" * take
        missing -= take
    assert len(orjson.dumps(event)) == size
    return event


def nested(levels: int) -> dict[str, Any]:
    """A dict nested `levels` deep: nested(1) == {"leaf": 1}."""
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"n": node}
    return node


def keys_of(sink: InMemorySink, topic: str) -> list[bytes]:
    return [r.key for r in sink.records if r.topic == topic]


def expected_phone_hash(normalised: str) -> str:
    return hmac.new(PII_SECRET.encode(), normalised.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Partial batches and the dead-letter topic
# ---------------------------------------------------------------------------------------------------------


async def test_partial_batch_accepts_the_good_and_dead_letters_the_bad(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    big = event_of_size(make_event, MAX_EVENT + 1)
    events = [
        make_event(event_id="good-0"),
        make_event(event_id="bad-type", type="purchase"),
        "not an event",
        make_event(event_id="good-3"),
        big,
    ]
    r = await post(client, body(events))

    assert r.status_code == 200
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(x["index"], x["code"]) for x in answer["rejected"]] == [
        (1, "invalid"),
        (2, "not_an_object"),
        (4, "too_large"),
    ]
    reasons = {x["index"]: x["reason"] for x in answer["rejected"]}
    assert "must be one of" in reasons[1]
    assert "'purchase'" in reasons[1]
    assert reasons[2] == "an event must be a JSON object, got str"
    assert reasons[4] == f"the event is {MAX_EVENT + 1} bytes; at most {MAX_EVENT} per event"

    assert [e["event_id"] for e in events_on_topic(sink)] == ["good-0", "good-3"]
    dead = dead_letters(sink)
    assert len([r for r in sink.records if r.topic == DEADLETTER_TOPIC]) == 1  # one record per request
    assert [(d["index"], d["code"], d["reason"]) for d in dead] == [
        (x["index"], x["code"], x["reason"]) for x in answer["rejected"]
    ]
    for d in dead:
        assert d["app_id"] == "shop"
        assert d["source"] == "sdk"
        assert d["received_at"] == RECEIVED_AT_TEXT
        assert d["ip"] == "127.0.0.1"
    payloads = {d["index"]: d["payload"] for d in dead}
    assert orjson.loads(payloads[1]) == events[1]
    assert payloads[2] == '"not an event"'
    # The over-size event is kept, truncated to the first 4 KB of its JSON.
    assert len(payloads[4]) == MAX_DEADLETTER_PAYLOAD
    assert orjson.dumps(big).decode().startswith(payloads[4])


async def test_all_events_rejected_still_answers_200_and_writes_only_the_dead_letter(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await post(client, body([make_event(type="nope"), 42]))
    assert r.status_code == 200
    assert r.json()["accepted"] == 0
    assert [x["index"] for x in r.json()["rejected"]] == [0, 1]
    assert keys_of(sink, EVENTS_TOPIC) == []
    assert keys_of(sink, DEADLETTER_TOPIC) == [b"shop"]


async def test_empty_batch_is_accepted_and_publishes_nothing(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    r = await post(client, body([]))
    assert (r.status_code, r.json()) == (200, {"accepted": 0, "rejected": []})
    assert sink.records == []


async def test_invalid_sent_at_rejects_every_event_with_the_reason(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await post(client, body([make_event(), make_event()], sent_at="yesterday"))
    assert r.status_code == 200
    answer = r.json()
    assert answer["accepted"] == 0
    assert [x["index"] for x in answer["rejected"]] == [0, 1]
    assert all(x["reason"].startswith("sent_at is invalid") for x in answer["rejected"])
    assert len(dead_letters(sink)) == 2


async def test_dead_letter_record_fits_in_one_kafka_request(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    # A realistic poison batch: an SDK with a typo in the event type sends its 2,500-event backlog (~400 KB).
    context = {"sdk": {"name": "touchstream-miniprogram", "version": "1.0.0"}, "path": "pages/pay/result"}
    events = [make_event(type="purchase", anonymous_id=f"anon-{i % 50}", context=context) for i in range(2_500)]
    payload = body(events)
    assert len(payload) < MAX_BODY
    r = await post(client, payload)
    assert r.status_code == 200
    assert len(r.json()["rejected"]) == 2_500
    sizes = [len(rec.value) for rec in sink.records if rec.topic == DEADLETTER_TOPIC]
    assert max(sizes) <= KAFKA_MAX_REQUEST_BYTES


# ---------------------------------------------------------------------------------------------------------
# Limits, at the boundary and one past it
# ---------------------------------------------------------------------------------------------------------


async def test_event_of_exactly_32kb_is_accepted_and_one_byte_more_is_rejected_alone(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    at_limit = event_of_size(make_event, MAX_EVENT)
    over = event_of_size(make_event, MAX_EVENT + 1)
    small = make_event()
    r = await post(client, body([at_limit, over, small]))
    assert r.status_code == 200
    assert r.json()["accepted"] == 2
    assert [(x["index"], x["code"]) for x in r.json()["rejected"]] == [(1, "too_large")]
    assert [e["event_id"] for e in events_on_topic(sink)] == [at_limit["event_id"], small["event_id"]]


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY, 200), (MAX_BODY + 1, 413)])
async def test_body_limit_with_content_length(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, size: int, status: int
) -> None:
    content = padded({"events": [make_event()]}, size)
    r = await post(client, content)
    assert r.request.headers["content-length"] == str(size)
    assert r.status_code == status
    if status == 413:
        assert r.json()["error"] == "payload_too_large"
        assert sink.records == []
    else:
        assert r.json()["accepted"] == 1


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY, 200), (MAX_BODY + 1, 413)])
async def test_body_limit_chunked_without_content_length(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, size: int, status: int
) -> None:
    content = padded({"events": [make_event()]}, size)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 64_000):
            yield content[start : start + 64_000]

    r = await post(client, chunks())
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == status
    if status == 413:
        assert r.json()["error"] == "payload_too_large"
        assert sink.records == []
    else:
        assert r.json()["accepted"] == 1


async def test_chunked_body_far_over_the_limit_is_refused(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1_000):  # 64 MB if it were all read
            yield b" " * 65_536

    r = await post(client, endless())
    assert r.status_code == 413
    assert sink.records == []


@pytest.mark.parametrize(("count", "status"), [(2_500, 200), (2_501, 413)])
async def test_event_count_limit(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, count: int, status: int
) -> None:
    events = [make_event() for _ in range(count)]
    r = await post(client, body(events))
    assert r.status_code == status
    if status == 200:
        assert r.json() == {"accepted": count, "rejected": []}
        forwarded = events_on_topic(sink)
        assert [e["event_id"] for e in forwarded] == [e["event_id"] for e in events]
        assert all(len(rec.value) <= EVENT_RECORD_MAX for rec in sink.records)
        assert len(sink.records) > 1  # ~1.3 MB of enriched events of one device: split into several records
        assert {rec.key for rec in sink.records} == {event_key("shop", "anon-1")}
    else:
        assert r.json()["error"] == "payload_too_large"
        assert "2501 events; at most 2500" in r.json()["message"]
        assert sink.records == []


@pytest.mark.parametrize(("levels", "accepted"), [(12, True), (13, False)])
async def test_json_depth_limit(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, levels: int, accepted: bool
) -> None:
    # The event object itself is level 1, so `properties` nested (levels - 1) deep makes the event `levels` deep.
    event = make_event(properties=nested(levels - 1))
    r = await post(client, body([event, make_event()]))
    assert r.status_code == 200
    if accepted:
        assert r.json() == {"accepted": 2, "rejected": []}
        assert events_on_topic(sink)[0]["properties"] == event["properties"]
    else:
        assert r.json()["accepted"] == 1
        assert r.json()["rejected"] == [
            {"index": 0, "code": "too_deep_or_long", "reason": "the event is nested deeper than 12 levels"}
        ]


@pytest.mark.parametrize(("length", "accepted"), [(8_192, True), (8_193, False)])
@pytest.mark.parametrize("where", ["value", "key", "list item"])
async def test_string_length_limit(
    client: httpx.AsyncClient,
    sink: InMemorySink,
    make_event: EventFactory,
    length: int,
    accepted: bool,
    where: str,
) -> None:
    text = "字" * length  # characters, not bytes, are counted
    properties = {"value": {"s": text}, "key": {text: 1}, "list item": {"l": ["ok", text]}}[where]
    event = make_event(properties=properties)
    r = await post(client, body([event]))
    assert r.status_code == 200
    if accepted:
        assert r.json() == {"accepted": 1, "rejected": []}
        assert events_on_topic(sink)[0]["properties"] == properties
    else:
        assert r.json()["accepted"] == 0
        [rejection] = r.json()["rejected"]
        assert rejection["code"] == "too_deep_or_long"
        assert "longer than 8192 characters" in rejection["reason"]


# ---------------------------------------------------------------------------------------------------------
# Content-Encoding
# ---------------------------------------------------------------------------------------------------------


async def test_gzip_body_is_accepted(client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory) -> None:
    events = [make_event(), make_event()]
    r = await post(client, gzip.compress(body(events)), **{"Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.json() == {"accepted": 2, "rejected": []}
    assert [e["event_id"] for e in events_on_topic(sink)] == [e["event_id"] for e in events]


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY, 200), (MAX_BODY + 1, 413)])
async def test_decompressed_size_limit(
    client: httpx.AsyncClient, make_event: EventFactory, size: int, status: int
) -> None:
    compressed = gzip.compress(padded({"events": [make_event()]}, size))
    assert len(compressed) < 10_000  # the wire size is far below the limit; only the inflated size counts
    r = await post(client, compressed, **{"Content-Encoding": "gzip"})
    assert r.status_code == status


async def test_gzip_bomb_is_refused_without_inflating_it(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    block = b"\0" * 1_000_000
    bomb = b"".join(deflater.compress(block) for _ in range(50)) + deflater.flush()  # 50 MB of zeros
    assert len(bomb) < MAX_BODY
    r = await post(client, bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert r.json() == {"error": "payload_too_large", "message": f"the decompressed body is over {MAX_BODY} bytes"}
    assert sink.records == []


async def test_truncated_gzip_is_400(client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory) -> None:
    whole = gzip.compress(body([make_event()]))
    r = await post(client, whole[: len(whole) - 10], **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert r.json() == {"error": "malformed_body", "message": "the gzip body is truncated"}
    assert sink.records == []


async def test_corrupt_gzip_is_400(client: httpx.AsyncClient) -> None:
    r = await post(client, b"this is not gzip at all", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("the gzip body is corrupt")


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
async def test_unsupported_content_encoding_is_415(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, encoding: str
) -> None:
    r = await post(client, body([make_event()]), **{"Content-Encoding": encoding})
    assert r.status_code == 415
    assert r.json()["error"] == "unsupported_encoding"
    assert "identity or gzip" in r.json()["message"]
    assert sink.records == []


# ---------------------------------------------------------------------------------------------------------
# Bodies that are not a JSON batch: 400, a clear message, never a 500
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        (b'{"events": [', "not valid JSON"),
        (b'{"events": [{"n": NaN}]}', "not valid JSON"),
        (b'{"events": [{"n": Infinity}]}', "not valid JSON"),
        (b'{"events": [{"n": 1e400}]}', "not valid JSON"),
        (b'{"events": [{"s": "\xff\xfe"}]}', "not valid JSON"),
        (b'{"events": [{"s": "\\ud800"}]}', "not valid JSON"),  # a lone surrogate, escaped
        (b'{"events": [{"s": "\xed\xa0\x80"}]}', "not valid JSON"),  # a lone surrogate, UTF-8 encoded
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a byte-order mark
        (b"", "the body is empty"),
        (b'"events"', "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b'{"sent_at": 1}', '"events" must be an array'),
        (b'{"events": {"a": 1}}', '"events" must be an array'),
        (b'{"events": [], "api_key": "x"}', "unknown batch fields ['api_key']"),
        (b"[" * 5_000 + b"]" * 5_000, "not valid JSON"),  # nesting beyond the parser's own limit
    ],
)
async def test_malformed_bodies_are_400_with_a_clear_message(
    client: httpx.AsyncClient, sink: InMemorySink, raw: bytes, message_part: str
) -> None:
    r = await post(client, raw)
    assert r.status_code == 400
    assert r.json()["error"] == "malformed_body"
    assert message_part in r.json()["message"]
    assert sink.records == []


async def test_integer_at_the_64_bit_limit_is_kept_exactly(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    raw = b'{"events": [{"event_id": "e", "type": "click", "timestamp": %d, "anonymous_id": "a",' % TS_MS
    raw += b' "properties": {"n": 18446744073709551615, "m": -9223372036854775808}}]}'
    r = await post(client, raw)
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    assert events_on_topic(sink)[0]["properties"] == {"n": 2**64 - 1, "m": -(2**63)}


@pytest.mark.parametrize("number", [b"18446744073709551616", b"-9223372036854775809", b"1" + b"0" * 30])
async def test_integer_beyond_64_bits_rejects_that_event_only(
    client: httpx.AsyncClient, sink: InMemorySink, number: bytes
) -> None:
    # orjson reads such literals as floats (silently rounded): the event is refused, its neighbour lands.
    raw = b'{"events": [{"event_id": "e", "type": "click", "timestamp": %d, "anonymous_id": "a",' % TS_MS
    raw += b' "properties": {"n": ' + number + b"}},"
    raw += b' {"event_id": "ok", "type": "click", "timestamp": %d, "anonymous_id": "a"}]}' % TS_MS
    r = await post(client, raw)
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    assert [x["index"] for x in r.json()["rejected"]] == [0]
    assert "64 bits" in r.json()["rejected"][0]["reason"]
    assert [e["event_id"] for e in events_on_topic(sink)] == ["ok"]


# ---------------------------------------------------------------------------------------------------------
# Per-event validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason_part"),
    [
        ({"type": "purchase"}, "type: must be one of: exposure, click, enter"),
        ({"type": 7}, "type: must be one of"),
        ({"type": None}, "type"),
        ({"anonymous_id": 123}, "anonymous_id: Input should be a valid string"),
        ({"anonymous_id": ""}, "anonymous_id"),
        ({"event_id": "has space"}, "event_id: must be printable ASCII without spaces"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1_714_550_400}, "epoch seconds instead of epoch milliseconds"),
        ({"context": {"scene": "1045x"}}, "context.scene"),
        ({"context": {"scene": 10_001}}, "context.scene: wechat scenes are integers 1000..9999"),
        ({"context": {"query": {"gdt_vid": 5}}}, "context.query.gdt_vid"),
        ({"properties": []}, "properties"),
        ({"colour": "red"}, "colour: unknown field 'colour'"),
        ({"type": "convert", "properties": {"order_id": "o1", "revenue": "1.005"}}, "properties.revenue"),
        # More than the Decimal(18, 4) money columns hold: refused here, not a bad event in the processor later.
        ({"type": "convert", "properties": {"order_id": "o1", "revenue": "100000000000000"}},
         "properties.revenue: Decimal input should have no more than 14 digits before the decimal point"),
        ({"type": "repurchase", "properties": {"order_id": "o1", "revenue": 1234567890123456}},
         "properties.revenue: Decimal input should have no more than 14 digits before the decimal point"),
        ({"type": "custom"}, "name: required field is missing"),
        ({"type": "identify"}, "at least one of user_id, openid, unionid or phone"),
    ],
)
async def test_wrong_types_and_unknown_types_are_rejected_per_event(
    client: httpx.AsyncClient,
    sink: InMemorySink,
    make_event: EventFactory,
    fields: dict[str, Any],
    reason_part: str,
) -> None:
    bad = make_event(**fields)
    good = make_event()
    r = await post(client, body([good, bad]))
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    [rejection] = r.json()["rejected"]
    assert (rejection["index"], rejection["code"]) == (1, "invalid")
    assert reason_part in rejection["reason"]
    assert [e["event_id"] for e in events_on_topic(sink)] == [good["event_id"]]
    [dead] = dead_letters(sink)
    assert orjson.loads(dead["payload"]) == bad


async def test_missing_type_is_rejected_per_event(client: httpx.AsyncClient, make_event: EventFactory) -> None:
    event = make_event()
    del event["type"]
    r = await post(client, body([event]))
    assert r.status_code == 200
    assert r.json()["rejected"][0]["reason"].startswith("type: required field is missing")


async def test_bare_array_body_is_a_batch_without_sent_at(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await post(client, orjson.dumps([make_event(), make_event()]))
    assert r.json() == {"accepted": 2, "rejected": []}
    assert all(e["sent_at"] is None for e in events_on_topic(sink))


# ---------------------------------------------------------------------------------------------------------
# Server-owned fields and the clock
# ---------------------------------------------------------------------------------------------------------


async def test_server_owned_fields_sent_by_the_client_are_ignored(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    event = make_event(
        received_at="2030-01-01T00:00:00Z",
        app_id="blog",
        ip="6.6.6.6",
        user_agent="forged",
        event_time="2001-01-01T00:00:00Z",
    )
    r = await post(client, body([event]), **{"User-Agent": "MicroMessenger/8.0.47"})
    assert r.json() == {"accepted": 1, "rejected": []}
    [record] = sink.records
    assert record.key == event_key("shop", "anon-1")
    [out] = orjson.loads(record.value)
    assert out["app_id"] == "shop"  # the key's app, not the body's "blog"
    assert out["received_at"] == RECEIVED_AT_TEXT  # the server clock
    assert out["ip"] == "127.0.0.1"  # the ASGI peer
    assert out["user_agent"] == "MicroMessenger/8.0.47"
    assert out["timestamp"] == TS_TEXT
    assert out["event_time"] == TS_TEXT  # no sent_at: device time, not the forged event_time


async def test_key_of_another_app_wins_over_body_app_id(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await client.post("/v1/batch", content=body([make_event(app_id="shop")]), headers=auth(BLOG_KEY))
    assert r.status_code == 200
    [out] = events_on_topic(sink)
    assert out["app_id"] == "blog"
    assert keys_of(sink, EVENTS_TOPIC) == [event_key("blog", "anon-1")]


async def test_clock_skew_is_corrected_from_sent_at(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    # Device 3 h ahead. Received 08:03:15.250 (server). Sent at device 11:03:15.000, event at device 11:03:12.456:
    # event_time = 08:03:15.250 − (11:03:15.000 − 11:03:12.456) = 08:03:15.250 − 2.544 s = 08:03:12.706.
    event = make_event(timestamp="2024-05-01T11:03:12.456Z")
    r = await post(client, body([event], sent_at="2024-05-01T11:03:15.000Z"))
    assert r.json()["accepted"] == 1
    [out] = events_on_topic(sink)
    assert out["timestamp"] == "2024-05-01T11:03:12.456Z"
    assert out["sent_at"] == "2024-05-01T11:03:15.000Z"
    assert out["received_at"] == "2024-05-01T08:03:15.250Z"
    assert out["event_time"] == "2024-05-01T08:03:12.706Z"
    assert (out["clock_corrected"], out["clock_clamped"]) == (True, False)


async def test_clock_skew_device_two_days_behind_in_epoch_ms(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    # Device at 2024-04-29: event 08:00:00.000 (1714377600000), sent 08:03:15.000 (1714377795000).
    # event_time = 2024-05-01T08:03:15.250 − 195 s = 2024-05-01T08:00:00.250.
    event = make_event(timestamp=1_714_377_600_000)
    r = await post(client, body([event], sent_at=1_714_377_795_000))
    assert r.json()["accepted"] == 1
    [out] = events_on_topic(sink)
    assert out["timestamp"] == "2024-04-29T08:00:00.000Z"
    assert out["event_time"] == "2024-05-01T08:00:00.250Z"
    assert (out["clock_corrected"], out["clock_clamped"]) == (True, False)


async def test_device_clock_in_the_future_without_sent_at_is_clamped(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    event = make_event(timestamp="2024-05-01T09:00:00.000Z")  # 56m44.75s after the server's 08:03:15.250
    r = await post(client, body([event]))
    assert r.json()["accepted"] == 1
    [out] = events_on_topic(sink)
    assert out["event_time"] == RECEIVED_AT_TEXT
    assert (out["clock_corrected"], out["clock_clamped"]) == (False, True)


async def test_event_after_its_own_sent_at_is_clamped(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    # sent_at 08:03:10.000 (offset −5.250 s, within the 60 s threshold: not corrected); timestamp 08:03:20.000
    # is 4.75 s after received_at → clamped to 08:03:15.250.
    event = make_event(timestamp="2024-05-01T08:03:20.000Z")
    r = await post(client, body([event], sent_at="2024-05-01T08:03:10.000Z"))
    assert r.json()["accepted"] == 1
    [out] = events_on_topic(sink)
    assert out["event_time"] == RECEIVED_AT_TEXT
    assert (out["clock_corrected"], out["clock_clamped"]) == (False, True)


# ---------------------------------------------------------------------------------------------------------
# PII
# ---------------------------------------------------------------------------------------------------------


async def test_phone_numbers_never_reach_any_record_and_are_hashed_with_hmac(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    accepted = make_event(
        type="identify", user_id="u-1", phone="+8613800138000", traits={"phone": "139-0013-9000", "level": "gold"}
    )
    # Invalid (unknown field), so it goes to the dead-letter topic with its phone numbers.
    rejected = make_event(type="identify", phone="008613700137000", traits={"phone": "136 0013 6000"}, colour="red")
    # Invalid phone (spaces): rejected, and the value must still not be echoed or stored.
    bad_phone = make_event(type="identify", phone="+86 135 0013 5000")
    r = await post(client, body([accepted, rejected, bad_phone]))
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    assert [x["index"] for x in r.json()["rejected"]] == [1, 2]

    digits = [b"13800138000", b"13900139000", b"13700137000", b"13600136000", b"13500135000"]
    spaced = [b"139-0013-9000", b"136 0013 6000", b"135 0013 5000", b"0013"]
    everything = b"".join(rec.value for rec in sink.records) + r.content
    for needle in digits + spaced:
        assert needle not in everything

    [out] = events_on_topic(sink)
    assert "phone" not in out
    assert out["phone_hash"] == expected_phone_hash("13800138000")
    assert out["traits"] == {"phone_hash": expected_phone_hash("13900139000"), "level": "gold"}
    dead = {d["index"]: orjson.loads(d["payload"]) for d in dead_letters(sink)}
    assert dead[1]["phone_hash"] == expected_phone_hash("13700137000")
    assert dead[1]["traits"] == {"phone_hash": expected_phone_hash("13600136000")}
    assert "phone" not in dead[1]
    assert dead[2]["phone_hash"] == expected_phone_hash("13500135000")


async def test_client_sent_phone_hash_is_discarded(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    event = make_event(type="identify", user_id="u-1", phone_hash="forged")
    r = await post(client, body([event]))
    assert r.json()["accepted"] == 1
    assert events_on_topic(sink)[0]["phone_hash"] is None


# ---------------------------------------------------------------------------------------------------------
# Kafka layout
# ---------------------------------------------------------------------------------------------------------


async def test_the_accepted_events_of_a_request_travel_in_one_record_keyed_by_app_in_sent_order(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    events = [
        make_event(event_id="a1", anonymous_id="dev-a"),
        make_event(event_id="b1", anonymous_id="dev-b"),
        make_event(event_id="a2", anonymous_id="dev-a"),
        make_event(event_id="bad", type="nope", anonymous_id="dev-a"),
        make_event(event_id="c1", anonymous_id="dev|c"),
        make_event(event_id="b2", anonymous_id="dev-b"),
        make_event(event_id="a3", anonymous_id="dev-a"),
    ]
    r = await post(client, body(events))
    assert r.json()["accepted"] == 6
    [record] = [rec for rec in sink.records if rec.topic == EVENTS_TOPIC]
    assert record.key == event_key("shop", "dev-a") == event_key("shop", "dev-b")
    assert record.headers == (("format", b"events-json-array/1"),)
    assert record.event_count == 6
    forwarded = orjson.loads(record.value)
    assert [e["event_id"] for e in forwarded] == ["a1", "b1", "a2", "c1", "b2", "a3"]
    # Hence every device's events are in one record, in order.
    assert [e["event_id"] for e in forwarded if e["anonymous_id"] == "dev-a"] == ["a1", "a2", "a3"]
    dead = [rec for rec in sink.records if rec.topic == DEADLETTER_TOPIC]
    assert [(rec.key, rec.headers, rec.event_count) for rec in dead] == [
        (b"shop", (("format", b"deadletter-json/1"),), 1)
    ]


async def test_the_same_event_twice_in_one_batch_is_forwarded_twice(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    # The collector does not deduplicate: both copies go to Kafka and the stream processor drops the second
    # by (app_id, event_id) (README, "Nothing doubled"). This asserts what the code does today.
    event = make_event(event_id="dup-1")
    r = await post(client, body([event, event]))
    assert r.json() == {"accepted": 2, "rejected": []}
    [record] = sink.records
    assert [e["event_id"] for e in orjson.loads(record.value)] == ["dup-1", "dup-1"]
    assert record.event_count == 2


async def test_trusted_proxy_forwarded_for_sets_the_ip(make_event: EventFactory) -> None:
    sink = InMemorySink()
    settings: CollectorSettings = make_settings(collector_trusted_proxies="127.0.0.0/8")
    async with asgi_client(build_app(settings, sink)) as c:
        r = await post(c, body([make_event()]), **{"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
    assert r.status_code == 200
    assert events_on_topic(sink)[0]["ip"] == "203.0.113.7"


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await post(client, body([make_event(), 5]), **{"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 200
    assert events_on_topic(sink)[0]["ip"] == "127.0.0.1"
    assert dead_letters(sink)[0]["ip"] == "127.0.0.1"
