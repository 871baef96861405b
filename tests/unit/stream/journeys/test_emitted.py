"""The credit rows of one conversion, field by field (stream/journeys/emitted.py builds them as bare tuples)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stream.attribution.eligibility import Touch
from stream.journeys.emitted import credit_rows
from stream.journeys.outputs import CreditRow
from stream.journeys.state import Conversion

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _conversion(refunded: Decimal = Decimal(0)) -> Conversion:
    return Conversion("conv-1", "ev-1", "openid:o1", "purchase", AT, "o-1", Decimal("10.00"), "CNY", refunded=refunded)


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
