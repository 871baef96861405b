"""The rows of a touch, a conversion and its credits, field by field (stream/journeys/emitted.py builds them as
bare tuples, so nothing but these tests checks that each value lands in its field)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stream.attribution.eligibility import Touch
from stream.journeys.emitted import conversion_row, credit_rows, touch_row
from stream.journeys.outputs import ConversionRow, CreditRow, TouchpointRow
from stream.journeys.state import Conversion, TouchFacts, Touchpoint
from stream.rows import TOUCHPOINT_COLUMNS

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _conversion(refunded: Decimal = Decimal(0)) -> Conversion:
    return Conversion("conv-1", "ev-1", "openid:o1", "purchase", AT, "o-1", Decimal("10.00"), "CNY", refunded=refunded)


def test_a_touchpoint_row_is_the_touchs_facts_in_their_order_then_app_person_and_version() -> None:
    facts = tuple(f.name for f in fields(TouchFacts))
    assert TouchpointRow._fields == (*facts, "app_id", "user_key", "version")
    assert TOUCHPOINT_COLUMNS[:len(facts)] == tuple("touch_time" if f == "time" else f for f in facts)
    touch = Touchpoint(
        "tp-1", "openid:o1", "anon-1", AT, "click", "enter", "ad", "douyin", "spring", "v1", "clk-1", "douyin",
        "click_id", "1007", matched_click=True, shared_click=False, arrived_late=True,
    )
    row = touch_row("app", touch, "u1", 9)
    assert type(row) is TouchpointRow
    assert row == TouchpointRow(
        touchpoint_id="tp-1", identity="openid:o1", anonymous_id="anon-1", time=AT, kind="click", source="enter",
        channel_type="ad", channel="douyin", campaign="spring", creative="v1", click_id="clk-1",
        click_platform="douyin", signal="click_id", scene="1007", matched_click=True, shared_click=False,
        arrived_late=True, app_id="app", user_key="u1", version=9,
    )


def test_a_conversion_row_carries_the_conversion_its_kind_person_and_version() -> None:
    row = conversion_row("app", _conversion(Decimal("2.50")), "convert", "u1", 3, 11, deleted=False)
    assert type(row) is ConversionRow
    assert row == ConversionRow(
        app_id="app", conversion_id="conv-1", event_id="ev-1", identity="openid:o1", user_key="u1",
        conversion_type="convert", conversion_time=AT, order_id="o-1", revenue=Decimal("10.00"), currency="CNY",
        touch_count=3, version=11, deleted=False, arrived_late=False, refunded=Decimal("2.50"),
    )
    assert conversion_row("app", _conversion(), "", "u1", 0, 12, deleted=True).deleted is True


def test_each_credited_touch_gets_a_complete_row_and_zero_shares_none() -> None:
    early = Touch("t1", AT - timedelta(days=2), "douyin", "click", "ad", "spring", "v1")
    late = Touch("t2", AT - timedelta(hours=1), "share", "click")
    per_model = [
        ("last_touch", [0.0, 1.0], [Decimal("0.00"), Decimal("10.00")]),
        ("linear", [0.5, 0.5], [Decimal("5.00"), Decimal("5.00")]),
    ]
    rows: list[CreditRow] = []
    credit_rows("app", _conversion(), "convert", "u1", [early, late], per_model, 7, rows)
    assert all(type(r) is CreditRow and len(r) == len(CreditRow._fields) for r in rows)
    assert [(r.model, r.touchpoint_id, r.touch_index, r.touch_count, r.credit, r.revenue_credit) for r in rows] == [
        ("last_touch", "t2", 1, 2, 1.0, Decimal("10.00")),
        ("linear", "t1", 0, 2, 0.5, Decimal("5.00")),
        ("linear", "t2", 1, 2, 0.5, Decimal("5.00")),
    ]
    first = rows[1]
    assert (first.app_id, first.conversion_id, first.conversion_type, first.conversion_time, first.user_key) == (
        "app", "conv-1", "convert", AT, "u1",
    )
    assert (first.touch_time, first.channel_type, first.channel, first.campaign, first.creative) == (
        early.time, "ad", "douyin", "spring", "v1",
    )
    assert (first.currency, first.version, first.deleted, first.refund_credit) == ("CNY", 7, False, Decimal(0))


def test_a_conversion_without_touches_is_one_direct_row_per_model_with_its_refunds_split() -> None:
    rows: list[CreditRow] = []
    per_model = [("first_touch", [1.0], [Decimal("7.00")])]
    credit_rows("app", _conversion(Decimal("3.00")), "convert", "u1", [], per_model, 9, rows)
    assert len(rows) == 1
    row = rows[0]
    assert len(row) == len(CreditRow._fields)
    assert (row.touchpoint_id, row.touch_time, row.channel, row.credit, row.revenue_credit, row.refund_credit) == (
        "", None, "direct", 1.0, Decimal("7.00"), Decimal("3.00"),
    )
