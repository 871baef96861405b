"""Refunds through the pure processing step: counted once by event id, rejected ones written to `bad_events` with
the reason while their neighbours apply, refund parts filled on the credit rows, and the stored-order lookup keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stream.refund_rows import REFUND_REJECTED
from stream.rows import BAD_EVENT_COLUMNS, CONVERSION_COLUMNS, CREDIT_COLUMNS
from tests.unit.stream.test_processor import column, event, processor, record

D = Decimal


def at(minute: int) -> dict[str, str]:
    text = f"2026-11-20T10:{minute:02d}:00.000Z"
    return {"timestamp": text, "event_time": text, "received_at": text}


def order(event_id: str, order_id: str, revenue: str, minute: int) -> dict[str, Any]:
    return event(event_id, "convert", properties={"order_id": order_id, "revenue": revenue, "currency": "CNY"},
                 **at(minute))


def refund(event_id: str, order_id: str, amount: str, minute: int) -> dict[str, Any]:
    return event(event_id, "refund", properties={"order_id": order_id, "amount": amount, "currency": "CNY"},
                 **at(minute))


def visit(event_id: str, source: str, minute: int) -> dict[str, Any]:
    return event(event_id, "enter", context={"query": {"utm_source": source}}, **at(minute))


def current_linear(out_credits: list[tuple[Any, ...]]) -> list[tuple[Decimal, Decimal]]:
    rows = [r for r in out_credits if r[CREDIT_COLUMNS.index("model")] == "linear"]
    top = max(r[CREDIT_COLUMNS.index("version")] for r in rows)
    return [(r[CREDIT_COLUMNS.index("revenue_credit")], r[CREDIT_COLUMNS.index("refund_credit")])
            for r in rows if r[CREDIT_COLUMNS.index("version")] == top]


def test_a_refund_counts_once_and_an_over_refund_is_a_bad_event_beside_good_ones() -> None:
    p = processor()
    out = p.process([
        record(0, [visit("t1", "douyin", 0), visit("t2", "weibo", 1), order("o1", "o1", "100.00", 2)]),
        record(1, [refund("r1", "o1", "30.00", 3), refund("r1", "o1", "30.00", 3)]),
        record(2, [refund("r1", "o1", "30.00", 3), refund("r2", "o1", "70.01", 4), refund("r3", "o1", "10.00", 5)]),
    ])
    assert out.duplicates == 2
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "code") == [REFUND_REJECTED]
    assert column(out.bad_events, BAD_EVENT_COLUMNS, "stage") == ["attribution"]
    [reason] = column(out.bad_events, BAD_EVENT_COLUMNS, "reason")
    assert "70.01" in reason and "above its revenue 100.00" in reason and "already refunded: 30.00" in reason
    assert '"event_id":"r2"' in column(out.bad_events, BAD_EVENT_COLUMNS, "payload")[0]
    # 100.00 - 30.00 - 10.00 = 60.00 net, 40.00 refunded, split 50/50.
    assert current_linear(out.credits) == [(D("30.00"), D("20.00")), (D("30.00"), D("20.00"))]
    conversions = [dict(zip(CONVERSION_COLUMNS, r, strict=True)) for r in out.conversions]
    assert [(c["revenue"], c["refunded"], c["_offset"]) for c in conversions] == [
        (D("100.00"), D(0), 0), (D("100.00"), D("30.00"), 1), (D("100.00"), D("40.00"), 2)
    ]


def test_refund_events_are_looked_up_like_conversions_and_name_their_orders() -> None:
    p = processor()
    records = [record(0, [refund("r1", "o1", "1.00", 0), refund("r2", "o2", "1.00", 0), event("x")])]
    questions = p.questions(records)
    assert questions.conversions == {("shop", "r1"), ("shop", "r2")}
    assert questions.refund_orders(frozenset({("shop", "r2")})) == {("shop", "order:o1")}
    p.process(records)
    assert p.questions(records).refund_orders(frozenset()) == set()  # seen now: a replay of them asks nothing
    assert p.questions(records).conversions == frozenset()
