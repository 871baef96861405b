"""Ad-platform webhooks and spend uploads through the collector, the real broker and the real ClickHouse engine."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.webhooks.signing import sign
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import collector_client, send, start_stream, stream_settings, wait_rows

pytestmark = pytest.mark.integration

TOKEN = "tok_3f9a1c7e5b2d4f60"
SIGNED_TOKEN = "tok_signed_0123456789"
SECRET = "whsec_0123456789abcdef"
ADMIN = "ak_shop_admin_0123456789"


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [{
        "app_id": "shop", "write_keys": ["wk_shop_0123456789"], "admin_keys": [ADMIN], "reporting_currency": "CNY",
        "integrations": [
            {"id": "tx-shop-01", "platform": "tencent_ads", "token": TOKEN, "channel": "tencent_ads"},
            {"id": "signed-01", "platform": "generic", "token": SIGNED_TOKEN, "channel": "partner_ads",
             "signing_secrets": [SECRET], "require_signature": True},
        ],
    }]}))
    return path


@pytest.fixture
def fx_file(tmp_path: Path) -> Path:
    path = tmp_path / "fx.json"
    path.write_bytes(orjson.dumps({"base": "CNY", "rates": {"USD": [{"from": "2026-01-01", "rate": "7.10"}]}}))
    return path


def tencent_click(click_id: str, **extra: str) -> str:
    # Tencent's documented click call for a v3.0 ad: campaign and ad id left as unfilled macros.
    params = {
        "token": TOKEN, "click_id": click_id, "click_time": "1794650400", "account_id": "25610001",
        "campaign_id": "__CAMPAIGN_ID__", "adgroup_id": "228691429", "ad_id": "__AD_ID__",
        "dynamic_creative_id": "654321", "ip": "183.226.102.120", "callback": "http://tracking.e.qq.com/conv?cb=x",
        **extra,
    }
    return "/v1/webhooks/tx-shop-01/click?" + "&".join(f"{k}={v}" for k, v in params.items())


async def counts(writer: ClickHouseWriter) -> tuple[int, int]:
    rows = await writer.query("SELECT (SELECT count() FROM events), (SELECT count() FROM bad_events)")
    return rows[0][0], rows[0][1]


async def test_clicks_meet_visits_and_bad_calls_record_nothing(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, apps_file
) -> None:
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        async with collector_client(kafka_bootstrap, topics, collector_apps_file=apps_file) as client:
            # The click arrives first (Tencent calls as the user clicks), twice: it counts once.
            assert (await client.get(tencent_click("24oi6xq2aaakvagnqu7a"))).status_code == 200
            assert (await client.get(tencent_click("24oi6xq2aaakvagnqu7a"))).status_code == 200
            # 2026-11-14 10:00 UTC = 1794650400: the visit five minutes later, then a first order.
            await send(client, "shop", [
                {"event_id": "v1", "type": "enter", "timestamp": "2026-11-14T10:05:00Z", "anonymous_id": "d1",
                 "context": {"scene": 1045, "query": {"gdt_vid": "24oi6xq2aaakvagnqu7a"}}},
                {"event_id": "o1", "type": "convert", "timestamp": "2026-11-14T11:00:00Z", "anonymous_id": "d1",
                 "properties": {"order_id": "A-1", "revenue": "88.00"}},
            ])
            await wait_rows(writer, "SELECT count() FROM conversions_current", 1)
            settled = await counts(writer)
            assert settled == (3, 0)  # one ad click (the repeat dropped by its id), the visit, the order

            # Unfilled click id macro: a 400 the integrator can act on, and a dead letter.
            bad = await client.get(tencent_click("__CLICK_ID__"))
            assert bad.status_code == 400 and "click_id" in bad.json()["message"]
            # Wrong token, unknown integration: 404 and nothing recorded.
            assert (await client.get(tencent_click("x1", token="wrong-token-000000"))).status_code == 404
            assert (await client.get("/v1/webhooks/nope/click?token=" + TOKEN + "&click_id=x2")).status_code == 404

            # A signed integration: valid, tampered, stale, replayed, unsigned.
            body = orjson.dumps({"click_id": "sig-1", "campaign_id": "c-9", "ts": "1794650400"})
            now = int(time.time())
            headers = {"X-Touchstream-Timestamp": str(now), "X-Touchstream-Signature": sign(SECRET, now, body),
                       "Content-Type": "application/json"}
            url = f"/v1/webhooks/signed-01/click?token={SIGNED_TOKEN}"
            assert (await client.post(url, content=body, headers=headers)).status_code == 200
            replay = await client.post(url, content=body, headers=headers)
            assert replay.status_code == 401 and replay.json()["error"] == "signature_replayed"
            tampered = await client.post(url, content=body.replace(b"c-9", b"c-0"), headers=headers)
            assert tampered.status_code == 401 and tampered.json()["error"] == "signature_invalid"
            old = now - 301
            stale_headers = headers | {"X-Touchstream-Timestamp": str(old),
                                       "X-Touchstream-Signature": sign(SECRET, old, body)}
            stale = await client.post(url, content=body, headers=stale_headers)
            assert stale.status_code == 401 and stale.json()["error"] == "signature_stale"
            unsigned = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            assert unsigned.status_code == 401 and unsigned.json()["error"] == "signature_missing"

        await wait_rows(writer, "SELECT count() FROM bad_events", 1)
        await wait_rows(writer, "SELECT count() FROM events", 4)  # + the one valid signed click
        credit = await writer.query(
            "SELECT channel, campaign, creative, revenue_credit FROM attribution_credits_current "
            "WHERE model = 'last_touch'"
        )
        # One touchpoint (visit + click), enriched with the ad (v3.0: the ad group is the campaign level).
        assert credit == [("tencent_ads", "228691429", "654321", Decimal("88.00"))]
        touch = await writer.query("SELECT touchpoint_id, matched_click FROM touchpoints_current")
        assert touch == [("v1", 1)]
        stored = await writer.query(
            "SELECT JSONExtractString(properties, 'callback'), JSONExtractString(properties, 'account_id') "
            "FROM events WHERE type = 'ad_click' AND JSONExtractString(properties, 'integration_id') = 'tx-shop-01'"
        )
        assert stored == [("http://tracking.e.qq.com/conv?cb=x", "25610001")]
        reason = await writer.query("SELECT stage, reason FROM bad_events")
        assert reason[0][0] == "collector" and reason[0][1].startswith("click_id")
    finally:
        await stream.close()
        writer.close()


def spend(day: str, amount: str, **fields: Any) -> dict[str, Any]:
    return {"date": day, "channel": "tencent_ads", "campaign": "228691429", "spend": amount, "source": "tencent_ads",
            **fields}


async def test_spend_is_restated_not_summed_and_bad_uploads_store_nothing(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, apps_file, fx_file
) -> None:
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    admin = {"X-Admin-Key": ADMIN}
    try:
        async with collector_client(
            kafka_bootstrap, topics, collector_apps_file=apps_file, collector_fx_rates_file=fx_file
        ) as client:
            first = await client.post("/v1/costs", json={"rows": [
                spend("2026-11-14", "1200.50"), spend("2026-11-15", "100.00", currency="USD"),
            ]}, headers=admin)
            assert first.status_code == 200 and first.json() == {"accepted": 2}
            await wait_rows(writer, "SELECT count() FROM ad_spend_current", 2)
            # The platform restates the 14th.
            again = await client.post("/v1/costs", json={"rows": [spend("2026-11-14", "1300.00")]}, headers=admin)
            assert again.status_code == 200
            await wait_rows(writer, "SELECT sum(spend) FROM ad_spend_current WHERE date = '2026-11-14'",
                            Decimal("1300.0000"))

            csv = "date,channel,spend\n2026-11-16,douyin,50\n2026-13-01,douyin,1\n2026-11-17,,2\n"
            bad_csv = await client.post("/v1/costs", content=csv, headers=admin | {"Content-Type": "text/csv"})
            assert bad_csv.status_code == 422
            assert {(p["row"], p["field"]) for p in bad_csv.json()["problems"]} == {(2, "date"), (3, "channel")}
            unknown = await client.post("/v1/costs", json={"rows": [spend("2026-11-14", "5", currency="XYZ")]},
                                        headers=admin)
            assert unknown.status_code == 422 and "XYZ" in unknown.json()["problems"][0]["message"]
            as_writer = await client.post("/v1/costs", json={"rows": []}, headers={"X-Admin-Key": "wk_shop_0123456789"})
            assert as_writer.status_code == 401
            good_csv = "date,channel,spend\n2026-11-16,douyin,50.25\n"
            ok = await client.post("/v1/costs", content=good_csv, headers=admin | {"Content-Type": "text/csv"})
            assert ok.status_code == 200
        await wait_rows(writer, "SELECT count() FROM ad_spend_current", 3)
        rows = await writer.query(
            "SELECT date, channel, spend, currency, spend_reporting, source FROM ad_spend_current ORDER BY date"
        )
        assert [(str(d), c, s, cur, rep, src) for d, c, s, cur, rep, src in rows] == [
            ("2026-11-14", "tencent_ads", Decimal("1300.0000"), "CNY", Decimal("1300.0000"), "tencent_ads"),
            # 100 USD at 7.10 CNY per USD.
            ("2026-11-15", "tencent_ads", Decimal("100.0000"), "USD", Decimal("710.0000"), "tencent_ads"),
            ("2026-11-16", "douyin", Decimal("50.2500"), "CNY", Decimal("50.2500"), "csv"),
        ]
    finally:
        await stream.close()
        writer.close()
