"""Refunds in the journey engine (stream/journeys/refunds.py): applied to the order in state, to a stored order,
or waiting for an order not seen yet; over-refunds rejected alone. Golden amounts are computed by hand from the
definitions (largest remainder in cents, ties to the earlier touch; time decay 2^(-age/7d) normalised)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from stream.journeys import refunds
from stream.journeys.config import AttributionConfig
from stream.journeys.outputs import ConversionRow, CreditRow
from stream.journeys.refunds import StoredOrder, refund_stored, rescale_credits
from tests.unit.stream.journeys.conftest import (
    APP,
    Recorder,
    credits_by_model,
    day,
    ev,
    latest_conversions,
    make_engine,
)

D = Decimal
MODELS = ("first_touch", "last_touch", "linear", "position_based", "time_decay")


def refund(event_id: str, at: Any, order_id: str, amount: str, anonymous_id: str = "A", **ids: Any) -> dict[str, Any]:
    event = ev(event_id, "refund", at, anonymous_id, **ids)
    event["properties"] = {"order_id": order_id, "amount": amount, "currency": "CNY", "reason": "damaged"}
    return event


def two_touches_and_order(revenue: str = "100.00") -> list[dict[str, Any]]:
    return [
        ev("t1", "enter", day(1), query={"utm_source": "douyin"}),
        ev("t2", "enter", day(2), query={"utm_source": "weibo"}),
        ev("o1", "convert", day(3), order_id="o1", revenue=revenue),
    ]


def parts(rows: list[CreditRow]) -> list[tuple[str, Decimal, Decimal]]:
    return [(r.touchpoint_id, r.revenue_credit, r.refund_credit) for r in rows]


def current(run: Recorder) -> dict[str, list[CreditRow]]:
    return credits_by_model(run.total.credits, "order:o1")


def test_two_partial_refunds_rewrite_every_model_on_the_net_revenue_cent_exact(run: Recorder) -> None:
    run.feed(two_touches_and_order())
    first_version = run.version
    run(refund("r1", day(4), "o1", "30.00"))
    by_model = current(run)
    assert {r.version for rows in by_model.values() for r in rows} == {run.version}
    assert run.version > first_version
    assert parts(by_model["time_decay"]) == [("t1", D("33.27"), D("14.26")), ("t2", D("36.73"), D("15.74"))]

    run(refund("r2", day(5), "o1", "25.55"))
    by_model = current(run)
    assert sorted(by_model) == sorted(MODELS)
    for model, rows in by_model.items():
        assert sum(r.revenue_credit for r in rows) == D("44.45"), model
        assert sum(r.refund_credit for r in rows) == D("55.55"), model
    assert parts(by_model["linear"]) == [("t1", D("22.23"), D("27.78")), ("t2", D("22.22"), D("27.77"))]
    assert parts(by_model["position_based"]) == parts(by_model["linear"])
    assert parts(by_model["time_decay"]) == [("t1", D("21.13"), D("26.40")), ("t2", D("23.32"), D("29.15"))]
    assert parts(by_model["first_touch"]) == [("t1", D("44.45"), D("55.55"))]
    assert parts(by_model["last_touch"]) == [("t2", D("44.45"), D("55.55"))]
    conversion = latest_conversions(run.total.conversions)["order:o1"]
    assert (conversion.revenue, conversion.refunded, conversion.version) == (D("100.00"), D("55.55"), run.version)


def test_a_refund_above_the_remaining_revenue_is_rejected_alone(run: Recorder) -> None:
    run.feed(two_touches_and_order())
    run(refund("r1", day(4), "o1", "60.00"))
    out = run(refund("r2", day(4, 1), "o1", "40.01"))
    assert out.credits == [] and out.conversions == []
    assert [r.event["event_id"] for r in out.rejections] == ["r2"]
    assert "40.01" in out.rejections[0].reason and "'o1'" in out.rejections[0].reason
    assert "above its revenue 100.00" in out.rejections[0].reason
    out = run(refund("r3", day(4, 2), "o1", "40.00"))  # exactly the rest: the order's net revenue is 0
    assert out.rejections == []
    assert {sum(r.revenue_credit for r in rows) for rows in current(run).values()} == {D("0.00")}


def test_a_refund_before_its_order_waits_and_the_order_is_written_once_on_its_net_revenue(run: Recorder) -> None:
    run.feed(two_touches_and_order()[:2])
    out = run(refund("r1", day(2, 12), "o1", "30.00"))
    assert (out.credits, out.conversions, out.rejections) == ([], [], [])
    out = run(two_touches_and_order()[2])
    versions = {r.version for r in out.credits}
    assert versions == {run.version}  # one set of credits, already net: never a gross one first
    by_model = current(run)
    assert parts(by_model["linear"]) == [("t1", D("35.00"), D("15.00")), ("t2", D("35.00"), D("15.00"))]
    assert latest_conversions(out.conversions)["order:o1"].refunded == D("30.00")


def test_a_waiting_refund_whose_order_never_comes_is_rejected_past_the_allowed_lateness() -> None:
    run = Recorder(make_engine(AttributionConfig(allowed_lateness=timedelta(days=1))))
    run(refund("r1", day(1), "o9", "5.00"))
    assert run(ev("p1", "page_view", day(1, 23))).rejections == []
    out = run(ev("p2", "page_view", day(2, 1)))  # the watermark passes the refund's time + 1 day
    assert [(r.event["event_id"], "not seen within the allowed lateness" in r.reason) for r in out.rejections] == [
        ("r1", True)
    ]
    assert run.engine.refunds.pending == {} and run.engine.refunds.count == 0
    assert run(ev("o9", "convert", day(2, 2), order_id="o9", revenue="50.00")).rejections == []
    assert latest_conversions(run.total.conversions)["order:o9"].refunded == D(0)


def test_a_refund_of_an_unknown_order_already_past_the_lateness_is_rejected_at_once() -> None:
    run = Recorder(make_engine(AttributionConfig(allowed_lateness=timedelta(days=1))))
    run(ev("p1", "page_view", day(5)))
    out = run(refund("r1", day(2), "o9", "5.00"))
    assert len(out.rejections) == 1 and "nothing to wait for" in out.rejections[0].reason
    assert run.engine.refunds.count == 0


def test_waiting_refunds_are_bounded(monkeypatch: pytest.MonkeyPatch, run: Recorder) -> None:
    monkeypatch.setattr(refunds, "MAX_PENDING", 2)
    run.feed([refund("r1", day(1), "o1", "1.00"), refund("r2", day(1), "o2", "1.00")])
    out = run(refund("r3", day(1), "o3", "1.00"))
    assert [r.event["event_id"] for r in out.rejections] == ["r3"]
    assert "2 refunds are already" in out.rejections[0].reason


def test_a_refund_of_a_final_order_still_in_state_rewrites_it() -> None:
    run = Recorder(make_engine(AttributionConfig(allowed_lateness=timedelta(days=1))))
    run.feed(two_touches_and_order())
    run(ev("p1", "page_view", day(3, 23.8)))  # hourly eviction runs here: the order is not final yet, it stays
    run(ev("p2", "page_view", day(3, 24.2)))  # final now, and still in state (the next eviction is due at 24.8 h)
    assert run.engine.refunds.count == 0 and any("order:o1" in p.conversions for p in run.engine.persons.values())
    run(refund("r1", day(3, 24.3), "o1", "10.00"))
    by_model = current(run)
    assert {r.version for rows in by_model.values() for r in rows} == {run.version}
    assert parts(by_model["linear"]) == [("t1", D("45.00"), D("5.00")), ("t2", D("45.00"), D("5.00"))]


def test_a_refund_found_by_another_id_of_the_buyer(run: Recorder) -> None:
    """A server sends the refund with the buyer's user id and its own anonymous id: the order is still found."""
    run(ev("t1", "enter", day(1), query={"utm_source": "douyin"}, user_id="U1"))
    run(ev("o1", "convert", day(2), order_id="o1", revenue="20.00", user_id="U1"))
    run(refund("r1", day(3), "o1", "5.00", anonymous_id="server", user_id="U1"))
    assert parts(current(run)["linear"]) == [("t1", D("15.00"), D("5.00"))]
    run(refund("r2", day(3), "o1", "5.00", anonymous_id="other-device"))  # no common id: found by the order's own id
    assert parts(current(run)["linear"]) == [("t1", D("10.00"), D("10.00"))]


# -- stored orders (final and out of the engine's state) ------------------------------------------------------


def stored_order(
    revenue: str, shares: dict[str, list[float]], currency: str = "CNY", refunded: str = "0"
) -> StoredOrder:
    conversion = ConversionRow(
        APP, "order:o7", "e7", "anon:A", "u1", "convert", day(1), "o7", D(revenue), currency, 3, 100, False,
        arrived_late=False, refunded=D(refunded),
    )
    credits = []
    for model, model_shares in shares.items():
        for i, share in enumerate(model_shares):
            credits.append(CreditRow(
                APP, "order:o7", "convert", day(1), "u1", model, f"t{i}", day(1), i, len(model_shares), "paid",
                f"ch{i}", "", "", share, D("-1"), currency, 100, False,
            ))
    return StoredOrder(conversion, tuple(credits))


def test_rescale_splits_the_net_and_the_refunds_by_the_stored_shares_with_the_remainder_rule() -> None:
    order = stored_order("100.00", {"linear": [1 / 3, 1 / 3, 1 / 3], "position_based": [0.4, 0.2, 0.4]})
    rows = rescale_credits(order.credits, D("90.01"), D("9.99"), 200)
    got = [(r.model, r.revenue_credit, r.refund_credit, r.version) for r in rows]
    # 9001 cents / 3 = 3000 r 1: the earlier touch gets the cent; 999 / 3 = 333 each.
    # 0.4 / 0.2 / 0.4 of 9001: 3600.4, 1800.2, 3600.4 -> 3600, 1800, 3600 + 1 to the first of the tied .4 remainders.
    # of 999: 399.6, 199.8, 399.6 -> 399, 199, 399 + 2 left to the two .6 remainders (.8 is larger: 199 first).
    assert got == [
        ("linear", D("30.01"), D("3.33"), 200), ("linear", D("30.00"), D("3.33"), 200),
        ("linear", D("30.00"), D("3.33"), 200),
        ("position_based", D("36.01"), D("4.00"), 200), ("position_based", D("18.00"), D("2.00"), 200),
        ("position_based", D("36.00"), D("3.99"), 200),
    ]


def test_rescale_uses_the_minor_unit_of_the_currency() -> None:
    order = stored_order("1000", {"linear": [0.5, 0.5]}, currency="JPY")
    rows = rescale_credits(order.credits, D("701"), D("299"), 5)
    assert [(r.revenue_credit, r.refund_credit) for r in rows] == [(D("351"), D("150")), (D("350"), D("149"))]


def test_a_refund_of_a_stored_order_writes_its_rows_at_the_refund_version_or_is_rejected() -> None:
    order = stored_order("50.00", {"first_touch": [1.0]}, refunded="10.00")
    after = refund_stored(order, D("15.50"), 300)
    assert isinstance(after, StoredOrder)
    assert (after.conversion.refunded, after.conversion.version, after.conversion.revenue) == (
        D("25.50"), 300, D("50.00")
    )
    assert [(r.revenue_credit, r.refund_credit, r.version) for r in after.credits] == [(D("24.50"), D("25.50"), 300)]
    rejected = refund_stored(after, D("24.51"), 400)
    assert isinstance(rejected, str) and "above its revenue 50.00" in rejected


def test_the_engine_applies_a_refund_to_an_offered_stored_order_and_accumulates(run: Recorder) -> None:
    run.version = 1_000  # this range comes after the stored rows (version 100)
    run(ev("p1", "page_view", day(40)))
    run.engine.refunds.offer([stored_order("80.00", {"linear": [0.5, 0.5]})])
    out = run(refund("r1", day(40, 1), "o7", "20.00"))
    assert [(c.conversion_id, c.refunded, c.version) for c in out.conversions] == [
        ("order:o7", D("20.00"), run.version)
    ]
    assert [(r.revenue_credit, r.refund_credit) for r in out.credits] == [(D("30.00"), D("10.00"))] * 2
    # A lookup of the same order below the range (older) does not undo what this range did.
    run.engine.refunds.offer([stored_order("80.00", {"linear": [0.5, 0.5]})])
    out = run(refund("r2", day(40, 2), "o7", "60.01"))
    assert len(out.rejections) == 1 and "already refunded: 20.00" in out.rejections[0].reason
    out = run(refund("r3", day(40, 3), "o7", "60.00"))
    assert [(r.revenue_credit, r.refund_credit) for r in out.credits] == [(D("0.00"), D("40.00"))] * 2


def test_the_refunded_amount_is_split_over_each_models_rows_like_the_revenue(run: Recorder) -> None:
    run(ev("t1", "enter", day(1), query={"utm_source": "douyin"}))
    run(ev("t2", "enter", day(1, 1), query={"utm_source": "weibo"}))
    run(ev("t3", "enter", day(1, 2), query={"utm_source": "baidu"}))
    run(ev("o1", "convert", day(1, 3), order_id="o1", revenue="10.00"))
    run(refund("r1", day(1, 4), "o1", "1.00"))
    by_model = credits_by_model(run.total.credits, "order:o1")
    # 9.00 net in thirds; 1.00 of refunds in thirds, the extra cent to the earlier touch.
    assert parts(by_model["linear"]) == [("t1", D("3.00"), D("0.34")), ("t2", D("3.00"), D("0.33")),
                                         ("t3", D("3.00"), D("0.33"))]
    assert parts(by_model["first_touch"]) == [("t1", D("9.00"), D("1.00"))]
    # A registration (no revenue, no refunds) carries none.
    run(ev("g1", "register", day(1, 5)))
    assert {r.refund_credit for r in credits_by_model(run.total.credits, "register:g1")["linear"]} == {D(0)}
