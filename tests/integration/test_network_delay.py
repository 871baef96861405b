"""Network delay must not reorder a device's events (issue 11, part 6), through the real collector (in process, on
the real Kafka sink), the real broker, the stream processor and chDB.

Two devices, each with a paid visit and then an order, whose visit batch reaches the collector after its order
batch although it was sent first:
* A, a correct clock: the visit batch stalled 5 s in transit (`sent_at` 5 s before it is received). Corrected
  by the offset, as every `sent_at` was before the 60 s threshold, the visit would land 5 s late, after the
  order, and the order would be credited to direct.
* B, a clock 10 minutes behind (corrected: beyond the threshold) with `context.device_seq`: the visit batch
  measured with 5 s more transit than the order batch is corrected to after the order; its lower device_seq
  puts it back at the order's time at the latest (stream/device_order.py), so it is still credited.
Credits are known by definition: a single touch before a conversion gets all of it under every model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from schemas.events import format_timestamp
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import KEYS, MODELS, collector_client, start_stream, stream_settings, wait_rows

pytestmark = pytest.mark.integration

S = timedelta(seconds=1)


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]], sent_at: datetime) -> None:
    response = await client.post(
        "/v1/batch", json={"sent_at": format_timestamp(sent_at), "events": events},
        headers={"X-Write-Key": KEYS["shop"]},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": len(events), "rejected": []}


def visit(event_id: str, anon: str, at: datetime, source: str, **context: Any) -> dict[str, Any]:
    query = {"utm_source": source, "utm_medium": "cpc", "utm_campaign": f"c-{source}"}
    return {"event_id": event_id, "type": "enter", "timestamp": format_timestamp(at), "anonymous_id": anon,
            "context": {"query": query, **context}}


def order(event_id: str, anon: str, at: datetime, order_id: str, revenue: str, **context: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "convert", "timestamp": format_timestamp(at), "anonymous_id": anon,
            "properties": {"order_id": order_id, "revenue": revenue, "currency": "CNY"}, "context": context}


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ms(value: datetime) -> datetime:
    """As stored: DateTime64(3), sub-millisecond digits truncated."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


async def test_a_visit_delayed_in_transit_still_precedes_its_order_and_is_credited(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse
) -> None:
    p = f"nd{datetime.now(UTC):%H%M%S%f}"
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        async with collector_client(kafka_bootstrap, topics) as client:
            now = datetime.now(UTC)
            behind = timedelta(minutes=10)  # device B's clock
            # The order batches go first, on time (sent_at = the device's now).
            await post(client, [order(f"{p}-a2", f"{p}A", now - 3 * S, f"{p}-oa", "88.00")], sent_at=now)
            await post(client, [order(f"{p}-b2", f"{p}B", now - behind - 3 * S, f"{p}-ob", "42.50", device_seq=8)],
                       sent_at=datetime.now(UTC) - behind)
            # Then the visit batches, sent 1 s after their visit and received ~5 s after they were sent.
            await post(client, [visit(f"{p}-a1", f"{p}A", now - 6 * S, "douyin")], sent_at=now - 5 * S)
            await post(client, [visit(f"{p}-b1", f"{p}B", now - behind - 6 * S, "kuaishou", device_seq=7)],
                       sent_at=now - behind - 5 * S)
        credited = (
            f"SELECT count() FROM attribution_credits_current WHERE conversion_id IN ('order:{p}-oa', "
            f"'order:{p}-ob') AND channel != 'direct'"
        )
        await wait_rows(writer, credited, 2 * len(MODELS), timeout=45)
        rows = await writer.query(
            "SELECT conversion_id, model, touchpoint_id, channel, credit, revenue_credit "
            "FROM attribution_credits_current WHERE conversion_id IN ({a:String}, {b:String})",
            {"a": f"order:{p}-oa", "b": f"order:{p}-ob"},
        )
        got = {(c, m, t, ch, float(credit), Decimal(r)) for c, m, t, ch, credit, r in rows}
        want = {(f"order:{p}-oa", m, f"{p}-a1", "douyin", 1.0, Decimal("88.00")) for m in MODELS}
        want |= {(f"order:{p}-ob", m, f"{p}-b1", "kuaishou", 1.0, Decimal("42.50")) for m in MODELS}
        assert got == want

        times = {e: (utc(t), c) for e, t, c in await writer.query(
            "SELECT event_id, event_time, clock_corrected FROM events FINAL WHERE event_id LIKE {p:String}",
            {"p": f"{p}-%"},
        )}
        # A: within the threshold nothing is corrected: the device times stand, the visit 3 s before the order.
        assert times[f"{p}-a1"] == (ms(now - 6 * S), 0)
        assert times[f"{p}-a2"] == (ms(now - 3 * S), 0)
        # B: both corrected (10 min off); the visit (seq 7) is placed at the order's (seq 8) time, not after it.
        assert times[f"{p}-b1"][1] == 1
        assert times[f"{p}-b2"][1] == 1
        assert times[f"{p}-b1"][0] == times[f"{p}-b2"][0]
    finally:
        await stream.close()
        writer.close()
