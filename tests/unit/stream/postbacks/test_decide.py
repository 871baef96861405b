"""The postback decision, through the pure processor and the real journey engine (no I/O)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from schemas.events import format_timestamp
from schemas.postback_config import parse_postback
from schemas.records import EVENTS_HEADERS
from stream.channels import default_taxonomy
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.postbacks.decide import PostbackIntent
from stream.postbacks.hook import JourneyFactory
from stream.processor import PartitionProcessor, SourceRecord
from stream.rows import POSTBACK_INTENT_COLUMNS

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TX = {"wechat_app_id": "wx0123456789abcdef", "access_token_env": "TX_TOKEN", "rule": {"click_window_days": 2}}


def processor(**oe: Any) -> PartitionProcessor:
    taxonomy = default_taxonomy()
    configs = {"shop": {
        "tx-main": parse_postback(TX, "tx-main", "shop", "tencent_ads", "t"),
        "oe-main": parse_postback(oe, "oe-main", "shop", "ocean_engine", "o"),
    }}
    factory = JourneyFactory(lambda app: AppEngine(app, AttributionConfig(), taxonomy), configs)
    return PartitionProcessor("ev", "dl", timedelta(hours=1), 1000, factory)


def at(minutes: float) -> str:
    return format_timestamp(T0 + timedelta(minutes=minutes))


def event(event_id: str, type_: str, minutes: float, device: str = "d1", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "app_id": "shop", "anonymous_id": device, "timestamp": at(minutes),
            "event_time": at(minutes), "received_at": at(minutes), "sent_at": None, "openid": f"o-{device}",
            "context": {"platform": "wechat"}, "properties": {}} | fields


def visit(event_id: str, minutes: float, query: dict[str, str], device: str = "d1") -> dict[str, Any]:
    return event(event_id, "enter", minutes, device, context={"platform": "wechat", "scene": 1045, "query": query})


def order(event_id: str, minutes: float, revenue: str, device: str = "d1", order_id: str = "") -> dict[str, Any]:
    props = {"order_id": order_id or f"o-{event_id}", "revenue": revenue, "currency": "CNY"}
    return event(event_id, "convert", minutes, device, properties=props)


def click(click_id: str, minutes: float, integration: str = "tx-main", platform: str = "tencent_ads") -> dict[str, Any]:
    return {"event_id": f"{integration}:click:{click_id}", "type": "ad_click", "app_id": "shop", "anonymous_id": "",
            "timestamp": at(minutes), "event_time": at(minutes), "received_at": at(minutes), "sent_at": None,
            "click_id": click_id, "platform": platform, "channel": platform, "channel_type": "paid",
            "campaign": "c1", "creative": "k1", "openid": "", "context": {},
            "properties": {"integration_id": integration, "callback": f"https://cb.example/{click_id}"}}


def records(*batches: list[dict[str, Any]], start: int = 0) -> list[SourceRecord]:
    return [
        SourceRecord("ev", 0, start + i, orjson.dumps(b), 0, b"shop", EVENTS_HEADERS) for i, b in enumerate(batches)
    ]


def intents(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(POSTBACK_INTENT_COLUMNS, r, strict=True)) for r in rows]


def expected_id(integration: str, conversion_id: str, action: str) -> str:
    return hashlib.blake2b(f"shop\x1f{integration}\x1f{conversion_id}\x1f{action}".encode(), digest_size=16).hexdigest()


def test_an_order_after_a_tencent_click_makes_one_intent_with_the_amount_in_fen() -> None:
    p = processor()
    out = p.process(records([click("C1", 0)], [visit("v1", 1, {"gdt_vid": "C1"})], [order("b1", 30, "19.99")]))
    [row] = intents(out.postback_intents)
    assert row["intent_id"] == expected_id("tx-main", "order:o-b1", "COMPLETE_ORDER")
    assert (row["integration_id"], row["platform"], row["mode"], row["action_type"]) == (
        "tx-main", "tencent_ads", "callback", "COMPLETE_ORDER")
    assert (row["conversion_id"], row["event_id"], row["conversion_type"]) == ("order:o-b1", "b1", "convert")
    assert (row["click_id"], row["callback"], row["openid"]) == ("C1", "https://cb.example/C1", "o-d1")
    assert row["revenue"] == Decimal("19.99") and row["value_fen"] == 1999
    assert (row["state"], row["reattributed"], row["_offset"]) == ("open", False, 2)
    assert row["click_time"] == T0 and row["conversion_time"] == T0 + timedelta(minutes=30)


def test_a_click_arriving_after_the_visit_and_the_conversion_decides_then() -> None:
    p = processor()
    first = p.process(records([visit("v1", 1, {"gdt_vid": "C1"})], [event("r1", "register", 5)]))
    assert first.postback_intents == []  # the visit waits for its click
    later = p.process(records([click("C1", 0)], start=2))
    [row] = intents(later.postback_intents)
    assert (row["action_type"], row["conversion_id"], row["value_fen"]) == ("REGISTER", "register:r1", None)


def test_ocean_engine_gets_its_event_type_and_no_fen() -> None:
    p = processor()
    out = p.process(records([click("K9", 0, "oe-main", "ocean_engine")], [visit("v1", 1, {"clickid": "K9"})],
                            [order("b1", 3, "5.00")]))
    [row] = intents(out.postback_intents)
    assert (row["integration_id"], row["action_type"], row["value_fen"]) == ("oe-main", "active_pay", None)
    assert row["revenue"] == Decimal("5.00")


def test_reattribution_marks_the_intent_and_never_makes_a_second() -> None:
    p = processor()
    out = p.process(records([click("C1", 0)], [visit("v1", 1, {"gdt_vid": "C1"})], [order("b1", 30, "8")]))
    [first] = intents(out.postback_intents)
    # A share visit between the click and the order, arriving late: the order's last touch is now the share.
    share = event("v2", "enter", 20, context={"platform": "wechat", "scene": 1007, "share": {"from": "x", "depth": 1}})
    out = p.process(records([share], start=3))
    [mark] = intents(out.postback_intents)
    assert mark["intent_id"] == first["intent_id"]
    assert (mark["reattributed"], mark["state"], mark["version"] > first["version"]) == (True, "open", True)
    again = p.process(records([event("pv", "page_view", 40)], start=4))
    assert again.postback_intents == []


def test_a_shared_click_id_is_never_reported() -> None:
    p = processor()
    batches = [click("C1", 0)], [visit("v1", 1, {"gdt_vid": "C1"})], [visit("v2", 2, {"gdt_vid": "C1"}, "d2")], \
        [order("b2", 9, "30", "d2")]
    assert p.process(records(*batches)).postback_intents == []  # d2 carried d1's click (a forwarded link)


def test_windows_bound_the_rule() -> None:
    p = processor()
    late_order = records([click("C1", 0)], [visit("v1", 1, {"gdt_vid": "C1"})], [order("b1", 3 * 24 * 60, "1")])
    assert p.process(late_order).postback_intents == []  # 3 days after the click; the window is 2
    q = processor(window_days=1)
    # Ocean Engine's click is known 30 hours after the order (the app's clock is then at 30 h): past the 1-day
    # postback window, so nothing is sent, though the order is credited to the click.
    slow = records([visit("v1", 1, {"clickid": "K1"})], [order("b1", 10, "1")],
                   [event("pv", "page_view", 30 * 60, "d9"), click("K1", 0, "oe-main", "ocean_engine")])
    assert q.process(slow).postback_intents == []


def test_a_tombstoned_conversion_cancels_its_intent() -> None:
    p = processor()
    # d1 registers after a Tencent click; d2 registered earlier; a login joins them: d2's registration is the
    # person's first, d1's stops counting (a tombstone).
    batches = ([click("C1", 0)], [visit("v1", 1, {"gdt_vid": "C1"})], [event("r1", "register", 5)],
               [event("r2", "register", 3, "d2")], [event("i1", "identify", 6, user_id="u1")],
               [event("i2", "identify", 7, "d2", user_id="u1")])
    out = p.process(records(*batches))
    rows = intents(out.postback_intents)
    # d2's registration is now the person's first, and its journey ends at d1's click visit: an intent of its own.
    assert [(r["conversion_id"], r["state"]) for r in rows] == [
        ("register:r1", "open"), ("register:r1", "cancelled"), ("register:r2", "open")]
    assert rows[0]["intent_id"] == rows[1]["intent_id"] != rows[2]["intent_id"]
    assert rows[1]["version"] > rows[0]["version"]


def test_a_replay_from_restored_state_decides_nothing_twice() -> None:
    batches = ([click("C1", 0)], [visit("v1", 1, {"gdt_vid": "C1"})], [order("b1", 30, "8")])
    first = processor().process(records(*batches))
    again = processor().process(records(*batches))
    assert again.postback_intents == first.postback_intents  # the same rows: the insert token drops them
    restored = processor()
    book = restored.postbacks
    assert book is not None
    [row] = intents(first.postback_intents)
    book.restore_intent(PostbackIntent(**{k: v for k, v in row.items() if not k.startswith("_")}))
    # Re-emitting the same conversion (a late page view of the same person re-attributes nothing): no new intent.
    out = restored.process(records(*batches))
    assert out.postback_intents == []
