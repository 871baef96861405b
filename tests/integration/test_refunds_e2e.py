"""Refunds end to end: the real collector app on the real broker, the stream processor (restarted in between) on
chDB, and the analyst views.

App `shop`, 2026-11-20, allowed lateness 1 hour (figures by hand, largest remainder in cents, ties to the earlier
touch; time decay 2^(-age / 7 days), normalised):
  person B: 08:00 visit from xiaohongshu, 08:10 order o2 of 7.00 USD = 49.70 CNY (rate 7.10)
  person A: 11:00 visit from douyin (t1), 11:10 visit from weibo (t2), 11:20 order o1 of 100.00 CNY
  11:30 refund r1 of o1, 30.00; 11:31 refund r-over of o1, 80.00 (above the 70.00 left: rejected alone)
  11:32 person C visits from newsite; 11:33 refund r4 of o3, 5.00, before the order: it waits
  -- the processor restarts: o1 is open (restored with its 30.00 refunded), o2 is final and out of state, r4 waits --
  11:40 refund r2 of o1, 25.55 (and r1 sent again: counted once); 11:45 refund r3 of o2, 2.00 USD = 14.20 CNY;
  11:35 order o3 of 20.00 by C (late in the partition, within the lateness): r4 is applied to its first credits
o1: net 44.45, refunded 55.55. linear and position_based: t1 22.23 + 27.78, t2 22.22 + 27.77;
    time_decay (ages 20 and 10 minutes, shares 0.49983 / 0.50017): t1 22.22 + 27.77, t2 22.23 + 27.78;
    first_touch t1 44.45 + 55.55; last_touch t2 44.45 + 55.55.
o2 (stored path, rescaled): one touch, 35.50 net + 14.20 refunded under every model; o3: 15.00 + 5.00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.kafka_admin import ensure_topics
from stream.journeys.config import AttributionConfig
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import MODELS, collector_client, send, start_stream, stream_settings, wait_rows

pytestmark = pytest.mark.integration

D = Decimal
CONFIG = AttributionConfig(allowed_lateness=timedelta(hours=1))
RATES = {"base": "CNY", "rates": {"USD": [{"from": "2026-01-01", "rate": "7.10"}]}}


def ev(event_id: str, type_: str, at: str, anon: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "timestamp": f"2026-11-20T{at}:00.000Z", "anonymous_id": anon,
            **fields}


def visit(event_id: str, at: str, anon: str, source: str) -> dict[str, Any]:
    return ev(event_id, "enter", at, anon, context={"query": {"utm_source": source}})


def refund(event_id: str, at: str, order_id: str, amount: str, currency: str = "CNY") -> dict[str, Any]:
    return ev(event_id, "refund", at, "A",
              properties={"order_id": order_id, "amount": amount, "currency": currency, "reason": "damaged"})


async def credits(writer: ClickHouseWriter, conversion_id: str) -> dict[str, list[tuple[str, Decimal, Decimal]]]:
    rows = await writer.query(
        "SELECT model, touchpoint_id, revenue_credit, refund_credit FROM attribution_credits_current "
        f"WHERE app_id = 'shop' AND conversion_id = '{conversion_id}' ORDER BY model, touch_index"
    )
    out: dict[str, list[tuple[str, Decimal, Decimal]]] = {}
    for model, touch, net, refunded in rows:
        out.setdefault(model, []).append((touch, net, refunded))
    return out


async def test_partial_refunds_over_refund_and_a_final_order_end_to_end(
    kafka_bootstrap: str, topics: dict[str, str], clickhouse: Any, tmp_path: Path
) -> None:
    rates = tmp_path / "fx.json"
    rates.write_bytes(orjson.dumps(RATES))
    writer = ClickHouseWriter(clickhouse)
    settings = stream_settings(kafka_bootstrap, topics)
    await ensure_topics(kafka_bootstrap, settings.topic_specs())
    first = start_stream(settings, writer, CONFIG)
    second = None
    try:
        async with collector_client(kafka_bootstrap, topics, collector_fx_rates_file=str(rates)) as client:
            await send(client, "shop", [
                visit("t3", "08:00", "B", "xiaohongshu"),
                ev("o2", "convert", "08:10", "B", properties={"order_id": "o2", "revenue": "7.00", "currency": "USD"}),
            ])
            await wait_rows(writer, "SELECT count() FROM conversions_current WHERE app_id = 'shop'", 1)
            await send(client, "shop", [
                visit("t1", "11:00", "A", "douyin"), visit("t2", "11:10", "A", "weibo"),
                ev("o1", "convert", "11:20", "A", properties={"order_id": "o1", "revenue": "100.00"}),
            ])
            await wait_rows(writer, "SELECT count() FROM conversions_current WHERE app_id = 'shop'", 2)
            await send(client, "shop", [refund("r1", "11:30", "o1", "30.00")])
            await send(client, "shop", [refund("r-over", "11:31", "o1", "80.00"), ev("p1", "page_view", "11:31", "A")])
            await send(client, "shop", [visit("t4", "11:32", "C", "newsite"), refund("r4", "11:33", "o3", "5.00")])
            await wait_rows(writer, "SELECT count() FROM bad_events WHERE code = 'refund_rejected'", 1)
            await wait_rows(writer, "SELECT count() FROM events WHERE event_id IN ('p1', 'r4')", 2)
            await first.close()

            second = start_stream(settings, writer, CONFIG)
            await send(client, "shop", [refund("r2", "11:40", "o1", "25.55"), refund("r1", "11:30", "o1", "30.00")])
            await send(client, "shop", [refund("r3", "11:45", "o2", "2.00", currency="USD")])
            o3 = ev("o3", "convert", "11:35", "C", properties={"order_id": "o3", "revenue": "20"})
            await send(client, "shop", [o3])
            total = "SELECT sum(refunded) = toDecimal64('74.75', 4) FROM conversions_current WHERE app_id = 'shop'"
            await wait_rows(writer, total, 1)  # 55.55 + 14.20 + 5.00

        conversions = await writer.query(
            "SELECT conversion_id, revenue, refunded, net_revenue FROM conversions_current WHERE app_id = 'shop' "
            "ORDER BY conversion_id"
        )
        assert conversions == [("order:o1", D("100"), D("55.55"), D("44.45")),
                               ("order:o2", D("49.70"), D("14.20"), D("35.50")),
                               ("order:o3", D("20"), D("5.00"), D("15.00"))]
        o1 = await credits(writer, "order:o1")
        assert sorted(o1) == sorted(MODELS)
        for model, rows in o1.items():
            assert sum(net for _, net, _ in rows) == D("44.45"), model
            assert sum(refunded for _, _, refunded in rows) == D("55.55"), model
        assert o1["linear"] == [("t1", D("22.23"), D("27.78")), ("t2", D("22.22"), D("27.77"))]
        assert o1["position_based"] == o1["linear"]
        assert o1["time_decay"] == [("t1", D("22.22"), D("27.77")), ("t2", D("22.23"), D("27.78"))]
        assert o1["first_touch"] == [("t1", D("44.45"), D("55.55"))]
        assert o1["last_touch"] == [("t2", D("44.45"), D("55.55"))]
        o2 = await credits(writer, "order:o2")
        assert o2 == {model: [("t3", D("35.50"), D("14.20"))] for model in MODELS}
        # The refund that waited (across the restart) for o3 is in its first credits: only one version of them.
        assert await credits(writer, "order:o3") == {model: [("t4", D("15.00"), D("5.00"))] for model in MODELS}
        assert await writer.query(
            "SELECT uniqExact(version) FROM attribution_credits WHERE conversion_id = 'order:o3'"
        ) == [(1,)]
        # Every rewrite is a complete set at a higher version: nothing doubled in the raw table.
        assert await writer.query(
            "SELECT count() FROM (SELECT conversion_id, version, model, touch_index, count() AS n "
            "FROM attribution_credits GROUP BY ALL HAVING n > 1)"
        ) == [(0,)]
        [(reason, payload)] = await writer.query(
            "SELECT reason, payload FROM bad_events WHERE code = 'refund_rejected'"
        )
        assert "above its revenue 100" in reason and "already refunded: 30" in reason
        assert orjson.loads(payload)["event_id"] == "r-over"
        # The stored refund keeps what was sent.
        [(sent,)] = await writer.query("SELECT properties FROM events WHERE event_id = 'r3'")
        assert {k: orjson.loads(sent)[k] for k in ("amount", "currency", "original_amount", "original_currency")} == {
            "amount": "14.20", "currency": "CNY", "original_amount": "2.00", "original_currency": "USD"
        }

        spend_columns = ["app_id", "date", "channel", "campaign", "creative", "source", "spend", "currency",
                         "spend_reporting", "reporting_currency", "fx_rate", "received_at", "version", "_partition",
                         "_offset"]
        clickhouse.insert("ad_spend", [[
            "shop", date(2026, 11, 20), "douyin", "", "", "api", D(10), "CNY", D(10), "CNY", D(1),
            datetime(2026, 11, 20, 12, tzinfo=UTC), 1, 0, 0,
        ]], column_names=spend_columns)
        rows = await writer.query(
            "SELECT channel, gross_revenue, refunds, revenue, spend, roas, roi FROM channel_performance(app='shop', "
            "date_from='2026-11-20', date_to='2026-11-20', model='linear', acquisition='convert', "
            "allocation='acquisitions') ORDER BY channel"
        )
        got: dict[str, tuple[Any, ...]] = {
            r[0]: tuple(round(v, 6) if v is not None else None for v in r[1:]) for r in rows
        }
        assert got == {
            "douyin": (50.01, 27.78, 22.23, 10.0, 2.223, 1.223),  # ROI on net: (22.23 - 10) / 10
            "weibo": (49.99, 27.77, 22.22, 0.0, None, None),
            "xiaohongshu": (49.70, 14.20, 35.50, 0.0, None, None),
            "newsite": (20.0, 5.0, 15.0, 0.0, None, None),
        }
    finally:
        await first.close()
        if second is not None:
            await second.close()
        writer.close()
