"""The ingest shortcut (collector/fast_ingest.py, schemas/fast_events.py) against the pydantic path it skips.

Differential: every batch goes through `ingest` + `route_events` twice, with and without the shortcut, and
everything is compared: the record bytes, keys, headers and counts, and every rejection's index, code, reason
and dead-letter payload. The corpus is near-valid events (each field valid or replaced by an awkward value,
unknown and server-owned keys, boundary lengths), under several limits, clocks and skews.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import collector.ingest as ingest_module
import schemas.records as records_module
from collector.body import BodyLimits
from collector.ingest import RequestContext, ingest
from collector.money import FxRates
from collector.pii import PiiHasher
from collector.revenue import MoneyRules
from collector.routing import route_events
from loadtests.events import EventGenerator
from schemas.batch import parse_sent_at
from schemas.events import EVENT_ADAPTER, EVENT_TYPES, format_timestamp
from schemas.fast_events import FAST_TYPES, fast_dumps
from schemas.fast_times import MAX_MS, MIN_MS, format_epoch_ms, iso_ms, plain_time
from schemas.records import EVENTS_HEADERS, encode_events

HASHER = PiiHasher(b"fast-ingest-test-secret-0123456789")
RECEIVED = datetime(2024, 5, 1, 8, 3, 15, 250_123, tzinfo=UTC)
TS_MS = 1_714_550_400_123
RECEIVED_AT_MS = 1_714_550_595_250
NO_FX = MoneyRules()
USD_FX = MoneyRules("CNY", FxRates({"base": "CNY", "rates": {"USD": [{"from": "2024-01-01", "rate": "7.1999"}]}}))


class _NoShortcut:
    @staticmethod
    def of(**_: Any) -> None:
        return None


@contextmanager
def _pydantic_only() -> Iterator[None]:
    with mock.patch.object(ingest_module, "FastBatch", _NoShortcut):
        yield


def _outcome(raw_events: list[Any], sent_at: Any, ctx: RequestContext, limits: BodyLimits, skew: timedelta,
             money: MoneyRules, body_bytes: int | None = None) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    snapshot = copy.deepcopy(raw_events)
    result = ingest(raw_events, sent_at, ctx, limits, HASHER, skew, money, body_bytes=body_bytes)
    assert raw_events == snapshot  # neither path changes what it was given
    records = [(r.topic, r.key, r.headers, r.event_count, r.value) for r in route_events(result.accepted, "t")]
    rejected = [(r.index, r.code, r.reason, r.payload) for r in result.rejected]
    return records, rejected


def _assert_same(raw_events: list[Any], sent_at: Any = None, *, limits: BodyLimits | None = None,
                 received: datetime = RECEIVED, skew: timedelta = timedelta(seconds=60),
                 money: MoneyRules = NO_FX) -> None:
    ctx = RequestContext("app1", received, "10.0.0.1", "ua/1")
    limits = limits or BodyLimits()
    fast = _outcome(copy.deepcopy(raw_events), sent_at, ctx, limits, skew, money)
    # As the route calls it: with the length of the body the events came from (here orjson's own text of them,
    # whose events re-encode to the same bytes), which lets short bodies skip the per-event size check.
    body_bytes = len(orjson.dumps({"events": raw_events}))
    fast_sized = _outcome(copy.deepcopy(raw_events), sent_at, ctx, limits, skew, money, body_bytes)
    with _pydantic_only():
        slow = _outcome(copy.deepcopy(raw_events), sent_at, ctx, limits, skew, money)
    assert fast == slow
    assert fast_sized == slow


# -- the corpus ----------------------------------------------------------------------------------------------

_LENGTHS = (0, 1, 16, 17, 64, 65, 128, 129, 256, 257, 512, 513, 1024, 1025)
awkward = st.sampled_from([
    None, True, False, 0, -1, 3.0, 1e30, 2.0**63, -(2.0**63), 2**63 - 1, "3", "", " ", "a b", "é", "x\n",
    [], {}, [1], {"a": 1}, {"phone": "13800138000"}, "2024-05-01T08:00:00Z",
]) | st.sampled_from(_LENGTHS).map(lambda n: "x" * n) | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([2.0**63, 1e19]) | st.text(max_size=8)
    | st.sampled_from(_LENGTHS).map(lambda n: "y" * n),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


ids = st.sampled_from(["e-1", "a", "Z9_.:-", "x" * 64, "d-" + "9" * 126]) | st.text(st.characters(min_codepoint=33,
                                                                                           max_codepoint=126),
                                                                             min_size=1, max_size=8)
texts = st.sampled_from(["", "a", "wifi", "x" * 16, "iPhone 15", "商品详情", "x" * 64]) | st.text(max_size=6)
_SCENES: dict[str, list[Any]] = {"wechat": [1007, 1000, 9999, "1007"], "alipay": ["0000", "1000"], "douyin": ["021001"],
           "baidu": ["10810008", "NA", "WEB"], "web": []}


def _optional(draw: st.DrawFn, out: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        out[key] = draw(values)


@st.composite
def valid_contexts(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    platform = draw(st.sampled_from(list(_SCENES)))
    if platform != "wechat" or draw(st.booleans()):
        out["platform"] = platform
    scenes = _SCENES[platform]
    with_scene: bool = draw(st.booleans())
    if scenes and with_scene:
        out["scene"] = draw(st.sampled_from(scenes))
    for key in ("app_version", "path", "network"):
        _optional(draw, out, key, st.sampled_from(["1.0", "wifi", "pages/a", "x" * 16]) | st.none())
    _optional(draw, out, "sdk", st.fixed_dictionaries({"name": st.just("sdk"), "version": st.just("1.4.2")}))
    _optional(draw, out, "query", st.dictionaries(st.sampled_from(["utm_source", "gdt_vid", "k" * 64]),
                                                  st.sampled_from(["", "v", "x" * 1024]), max_size=3))
    _optional(draw, out, "campaign", st.fixed_dictionaries({}, optional={"source": texts, "name": texts}))
    _optional(draw, out, "share", st.fixed_dictionaries({}, optional={"from": ids, "depth": st.integers(0, 100)}))
    _optional(draw, out, "device", st.fixed_dictionaries({}, optional={
        "brand": texts, "model": texts, "screen_width": st.integers(0, 100_000), "screen_height": st.none()}))
    _optional(draw, out, "device_seq", st.integers(0, 5) | st.just(2**53 - 1))
    return out


epochs = st.integers(TS_MS - 86_400_000, RECEIVED_AT_MS + 120_000) | st.sampled_from([946_684_800_000,
                                                                                      4_133_980_799_999])
ODD_TIMES = [  # valid or not, all of them pydantic's to judge
    "2024-02-29T12:00:00.000Z", "2023-02-29T12:00:00.000Z", "2024-05-01T24:00:00.000Z", "2024-05-01T08:00:60.000Z",
    "1999-12-31T23:59:59.999Z", "2000-01-01T00:00:00.000Z", "2100-12-31T23:59:59.999Z", "2101-01-01T00:00:00.000Z",
    "2024-05-01T08:00:00Z", "2024-05-01T08:00:00.123+08:00", "2024-05-01T08:00:00.123456Z", "2024-05-01",
    "2024-05-01 08:00:00.123Z", "2024-05-01T08:00:00.123z", "2024-13-01T08:00:00.000Z", "1714550400123",
]
free_properties = st.dictionaries(st.sampled_from(["k", "phone", "title", "x" * 20]), json_values, max_size=4)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    event: dict[str, Any] = {
        "event_id": draw(ids), "type": event_type, "anonymous_id": draw(ids),
        "timestamp": draw(epochs | epochs.map(format_epoch_ms) | st.sampled_from(ODD_TIMES)),
    }
    for key in ("user_id", "openid", "unionid"):
        _optional(draw, event, key, ids | st.none())
    _optional(draw, event, "context", valid_contexts())
    if event_type in ("convert", "repurchase", "refund"):
        key = "amount" if event_type == "refund" else "revenue"
        amounts = ["19.90", "0", "0.00", "0.01", "0.5", "7", "019.9", "19.999", "99999999999999.99", 19.9, 0, 3]
        money = {"order_id": draw(ids), key: draw(st.sampled_from(amounts))}
        _optional(draw, money, "currency", st.sampled_from(["CNY", "USD", "EUR", "usd"]))
        _optional(draw, money, "original_amount", st.sampled_from(["1", None]))
        if event_type == "refund":
            _optional(draw, money, "reason", st.sampled_from(["damaged", "x" * 257]))
        money.update(draw(free_properties))
        event["properties"] = money
    else:
        _optional(draw, event, "properties", free_properties)
    if event_type == "custom":
        event["name"] = draw(st.sampled_from(["add_to_cart", "a", "Z9_.:-", "x" * 64]))
    if event_type == "share":
        _optional(draw, event, "share_id", ids)
        _optional(draw, event, "method", st.sampled_from(["chat", "x" * 64]))
    if event_type == "identify":
        binding = draw(st.sampled_from(["user_id", "unionid", "phone", "phone_hash", None]))
        if binding is not None:
            event[binding] = "+8613800138000"
        _optional(draw, event, "phone", st.sampled_from(["+8613800138000", "13800138000", "１３８００１３８０００"]))
        _optional(draw, event, "traits", free_properties)
    return event


def _slots(node: Any) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _slots(value)


_KEYS = ("bogus", "received_at", "app_id", "phone_hash", "from_", "sdk", "scene", "platform", "context", "type",
         "timestamp", "name", "properties", "device_seq", "x" * 8193)


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with up to two things changed: a value replaced by an awkward one, a key removed or added."""
    # Copies: the strategies hand out shared constants ({"a": 1}), which the changes below must not touch.
    event = copy.deepcopy(draw(valid_events()))
    for _ in range(draw(st.integers(0, 2))):
        node, key = draw(st.sampled_from(list(_slots(event))))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            node[key] = copy.deepcopy(draw(awkward))
        elif action == "delete":
            del node[key]
        else:
            node[draw(st.sampled_from(_KEYS))] = copy.deepcopy(draw(awkward | json_values))
    return event


events = near_valid_events()


# -- the properties ------------------------------------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(events | awkward, max_size=6),
    sent_at=st.sampled_from([None, TS_MS + 3_000, TS_MS - 86_400_000, "2024-05-01T08:00:03Z", "soon", 1.5]),
    limits=st.sampled_from([
        BodyLimits(), BodyLimits(max_string_chars=100), BodyLimits(max_depth=2), BodyLimits(max_depth=3),
        BodyLimits(max_properties=3), BodyLimits(max_event_bytes=700),
    ]),
    received=st.sampled_from([RECEIVED, RECEIVED.astimezone(timezone(timedelta(hours=8))),
                              RECEIVED.replace(microsecond=999_999)]),
    skew=st.sampled_from([timedelta(0), timedelta(seconds=60), timedelta(days=400)]),
    money=st.sampled_from([NO_FX, USD_FX]),
)
def test_the_shortcut_changes_nothing(batch: list[Any], sent_at: Any, limits: BodyLimits, received: datetime,
                                      skew: timedelta, money: MoneyRules) -> None:
    _assert_same(batch, sent_at, limits=limits, received=received, skew=skew, money=money)


def _generated(count: int) -> list[dict[str, Any]]:
    gen = EventGenerator(["app1"], seed=3)
    return gen.batch("app1", count, TS_MS)


def test_the_shortcut_takes_the_common_events_and_gives_the_pydantic_dump() -> None:
    raws = _generated(300)
    dumps = fast_dumps(raws)
    taken = [(raw, dump) for raw, dump in zip(raws, dumps, strict=True) if dump is not None]
    assert {raw["type"] for raw, _ in taken} == {raw["type"] for raw in raws} & FAST_TYPES
    assert len(taken) == sum(raw["type"] in FAST_TYPES for raw in raws)
    for raw, dump in taken:
        expected = EVENT_ADAPTER.validate_python(raw).model_dump(mode="json", by_alias=True)
        assert orjson.dumps(dump) == orjson.dumps(expected)  # same values, same key order
    _assert_same(raws, TS_MS + 500)
    _assert_same(raws, TS_MS - 3_600_000)  # a device clock an hour late: corrected


def test_the_sdks_iso_timestamps_take_the_shortcut() -> None:
    # The mini-program SDK sends `new Date().toISOString()`: the shortcut takes that form and keeps its text.
    raws = [{**raw, "timestamp": format_epoch_ms(raw["timestamp"])} for raw in _generated(100)]
    dumps = fast_dumps(raws)
    assert None not in dumps
    for raw, dump in zip(raws, dumps, strict=True):
        assert dump is not None
        assert dump["timestamp"] == raw["timestamp"]
    _assert_same(raws, format_epoch_ms(TS_MS + 900))


def test_declined_events_are_left_to_pydantic() -> None:
    base = {"event_id": "e-1", "type": "click", "timestamp": TS_MS, "anonymous_id": "a-1"}
    declined = [
        {**base, "timestamp": "2024-05-01T08:00:00Z"},  # valid, but ISO: pydantic's
        {**base, "context": {"device": {"screen_width": 360.0}}},  # valid in lax mode
        {**base, "type": "identify"},  # no id to bind: the model validator refuses
        {**base, "type": "identify", "user_id": "u-1", "phone_hash": "h"},  # a server field, stripped by pydantic
        {**base, "type": "convert", "properties": {"order_id": "o-1", "revenue": 1}},  # a number: pydantic's
        {**base, "type": "convert", "properties": {"order_id": "o-1", "revenue": "019.9"}},  # not canonical
        {**base, "type": "convert", "properties": {"order_id": "o-1", "revenue": "1", "fx_rate": "1"}},  # server's
        {**base, "type": "refund", "properties": {"order_id": "o-1", "amount": "0.00"}},  # refunds nothing
        {**base, "received_at": "x"},  # a server field, stripped by pydantic's path
        {**base, "context": {"platform": "web", "scene": 1007}},  # the scene rule refuses
        {**base, "nope": 1},
    ]
    assert fast_dumps(declined) == [None] * len(declined)
    taken = [base, {**base, "type": "identify", "phone": "+8613800138000", "traits": {}},
             {**base, "type": "refund", "properties": {"order_id": "o-1", "amount": "0.01", "why": [1]}}]
    assert None not in fast_dumps(taken)
    _assert_same([*declined, base])


def test_money_is_converted_or_refused_as_before() -> None:
    base = {"event_id": "e-1", "type": "convert", "timestamp": TS_MS, "anonymous_id": "a-1"}
    batch = [{**base, "properties": {"order_id": f"o-{i}", "revenue": revenue, "currency": currency}}
             for i, (revenue, currency) in enumerate([("19.90", "USD"), ("1.00", "EUR"), ("0", "CNY")])]
    for money in (NO_FX, USD_FX):
        _assert_same(batch, money=money)


@pytest.mark.parametrize("phone", ["+8613800138000", "", 5, None])
def test_a_phone_in_properties_is_hashed_as_before(phone: Any) -> None:
    event = {"event_id": "e-1", "type": "click", "timestamp": TS_MS, "anonymous_id": "a-1",
             "properties": {"phone": phone, "k": 1}}
    _assert_same([event])


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**13), 2 * 10**14))
def test_format_epoch_ms_is_format_timestamp_and_iso_ms_reads_it_back(ms: int) -> None:
    text = format_epoch_ms(ms)
    assert text == format_timestamp(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))
    assert iso_ms(text) == (ms if MIN_MS <= ms <= MAX_MS else None)


@settings(max_examples=300, deadline=None)
@given(st.integers(MIN_MS - 5, MAX_MS + 5).map(format_epoch_ms) | st.integers(MIN_MS - 5, MAX_MS + 5)
       | st.sampled_from([*ODD_TIMES, "2024-05-01T08:00:00.123Z\n", True, 1.5e12, None]))
def test_plain_sent_at_is_parse_sent_at(raw: Any) -> None:
    plain = plain_time(raw)  # None: declined, pydantic reads or refuses it
    if plain is not None:
        expected = parse_sent_at(raw)
        assert (plain, plain.tzinfo, plain.utcoffset()) == (expected, expected.tzinfo, expected.utcoffset())
    assert plain_time(TS_MS) is not None
    assert plain_time(format_epoch_ms(TS_MS)) is not None


@pytest.mark.parametrize("limit_delta", [-2, -1, 0, 1, 2])
def test_one_record_per_app_is_the_bytes_and_split_of_packing_each_event(limit_delta: int) -> None:
    """encode_events' one-dumps case against `_pack` of the events encoded one by one, around the bound."""
    enriched = [{"app_id": "app1", "n": i, "pad": "z" * (i % 7)} for i in range(20)]
    whole = len(orjson.dumps(enriched))
    for bound in (whole + 1 + limit_delta, 40):
        packed = records_module._pack("t", b"app1", [orjson.dumps(e) for e in enriched], EVENTS_HEADERS, bound)
        assert encode_events(enriched, "t", bound) == packed
        assert (len(packed) == 1) == (bound >= whole + 1)  # the bound really is at the edge
    two_apps = [*enriched, {"app_id": "app2", "n": 0}]
    assert [(r.key, r.event_count) for r in encode_events(two_apps, "t")] == [(b"app1", 20), (b"app2", 1)]
    assert route_events(iter(enriched), "t") == encode_events(enriched, "t")
    assert route_events([], "t") == []
