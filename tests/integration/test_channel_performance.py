"""The channel performance view and the report API over it, on hand-built credits and spend.

Day 2026-11-02, app `shop` (all figures worked out by hand below):
  R1 register u1   linear: douyin/A/cr1 0.5, wechat_share 0.5      first_touch: douyin/A/cr1 1
  R2 register u2   linear: douyin/A/cr2 1                          first_touch: douyin/A/cr2 1
  R3 register u3   linear: douyin/B/'' 1                           first_touch: douyin/B/'' 1
  R4 register u4   v1 tencent_ads 1 (superseded), v2 douyin/A/cr2 1 under both models
  R5 register u5   v1 douyin/A/cr1 1, then tombstoned at v2: must not count
  O1 convert u1 ¥100   linear: douyin/A/cr1 0.5 (¥50), wechat_share 0.5 (¥50)   first_touch: douyin/A/cr1 1 (¥100)
Spend 2026-11-02: douyin channel-level ¥100, douyin/A campaign-level ¥60, douyin/A/cr1 ¥10, tencent_ads ¥40
(no acquisitions: stays on its channel row); 2026-11-03: douyin ¥30 with nothing to allocate to.
Another app's credits and spend must not leak in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.harness import SQL_AUTH
from tests.integration.report_server import ANALYST_KEY, serve_reports

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
CREDIT_COLUMNS = (
    "app_id", "conversion_id", "conversion_type", "conversion_time", "user_key", "model", "touchpoint_id",
    "touch_time", "touch_index", "touch_count", "channel_type", "channel", "campaign", "creative", "credit",
    "revenue_credit", "currency", "version", "deleted", "_partition", "_offset",
)
PEOPLE = {"O1": "u-R1", "R6": "u-R1"}  # O1 is R1's person's order; R6 a second registration after a merge
CONVERSION_COLUMNS = ("app_id", "conversion_id", "event_id", "user_key", "conversion_type", "conversion_time",
                      "revenue", "currency", "version", "deleted")
CHANNEL_TYPES = {"douyin": "paid", "wechat_share": "social", "tencent_ads": "paid", "direct": "direct"}


def credit(conversion: str, kind: str, model: str, channel: str, share: float, *, campaign: str = "",
           creative: str = "", revenue: str = "0", version: int = 1, deleted: int = 0, app: str = "shop",
           index: int = 0) -> list[Any]:
    return [app, conversion, kind, DAY, PEOPLE.get(conversion, "u-" + conversion), model,
            f"tp-{conversion}-{index}", DAY, index, 2,
            CHANNEL_TYPES[channel], channel, campaign, creative, share, Decimal(revenue), "CNY", version, deleted,
            0, 0]


def seed(client: Any) -> None:
    rows = []
    for model in ("linear", "first_touch"):
        rows += [
            credit("R2", "register", model, "douyin", 1, campaign="A", creative="cr2"),
            credit("R3", "register", model, "douyin", 1, campaign="B"),
            credit("R4", "register", model, "tencent_ads", 1, version=1),
            credit("R4", "register", model, "douyin", 1, campaign="A", creative="cr2", version=2),
            credit("R5", "register", model, "douyin", 1, campaign="A", creative="cr1", version=1),
            credit("R5", "register", model, "douyin", 1, campaign="A", creative="cr1", version=2, deleted=1),
            credit("X1", "register", model, "douyin", 1, campaign="A", creative="cr1", app="other"),
        ]
    rows += [
        credit("R1", "register", "linear", "douyin", 0.5, campaign="A", creative="cr1"),
        credit("R1", "register", "linear", "wechat_share", 0.5, index=1),
        credit("O1", "convert", "linear", "douyin", 0.5, campaign="A", creative="cr1", revenue="50"),
        credit("O1", "convert", "linear", "wechat_share", 0.5, revenue="50", index=1),
        credit("R1", "register", "first_touch", "douyin", 1, campaign="A", creative="cr1"),
        credit("O1", "convert", "first_touch", "douyin", 1, campaign="A", creative="cr1", revenue="100"),
    ]
    client.insert("attribution_credits", rows, column_names=list(CREDIT_COLUMNS))
    # The conversions behind the credits, one row per version (the credit rows carry what they need).
    conversions = {(r[0], r[1], r[17]): [r[0], r[1], "ev-" + r[1], r[4], r[2], r[3], Decimal(0), "CNY", r[17], r[18]]
                   for r in rows}
    conversions[("shop", "O1", 1)][6] = Decimal(100)
    client.insert("conversions", list(conversions.values()), column_names=list(CONVERSION_COLUMNS))
    spend_columns = ["app_id", "date", "channel", "campaign", "creative", "source", "spend", "currency",
                     "spend_reporting", "reporting_currency", "fx_rate", "received_at", "version", "_partition",
                     "_offset"]

    def spend(day: date, channel: str, campaign: str, creative: str, amount: str, app: str = "shop") -> list[Any]:
        value = Decimal(amount)
        return [app, day, channel, campaign, creative, "api", value, "CNY", value, "CNY", Decimal(1), DAY, 1, 0, 0]

    nov2, nov3 = date(2026, 11, 2), date(2026, 11, 3)
    client.insert("ad_spend", [
        spend(nov2, "douyin", "", "", "100"),
        spend(nov2, "douyin", "A", "", "60"),
        spend(nov2, "douyin", "A", "cr1", "10"),
        spend(nov2, "tencent_ads", "", "", "40"),
        spend(nov3, "douyin", "", "", "30"),
        spend(nov2, "douyin", "", "", "999", app="other"),
    ], column_names=spend_columns)
    client.insert("channel_catalog", [["tencent_ads", "paid", "Tencent Ads", 1], ["douyin", "paid", "Douyin", 1]],
                  column_names=["channel", "channel_type", "name", "taxonomy_version"])


def performance(client: Any, model: str, acquisition: str = "register", allocation: str = "acquisitions"
                ) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    sql = (
        "SELECT toString(day), channel, campaign, creative, acquisitions, conversions, orders, revenue, spend, cac "
        f"FROM channel_performance(app='shop', date_from='2026-11-01', date_to='2026-11-30', model='{model}', "
        f"acquisition='{acquisition}', allocation='{allocation}')"
    )
    return {tuple(r[:4]): tuple(r[4:]) for r in client.query(sql).result_rows}


def test_channel_level_spend_is_allocated_by_acquisitions_and_sums_back(clickhouse: Any) -> None:
    seed(clickhouse)
    rows = performance(clickhouse, "linear")
    nov2 = "2026-11-02"
    # douyin weights (register credits): cr1 0.5 (R1), cr2 2 (R2 + R4 v2), B 1 → channel 3.5, campaign A 2.5.
    acq, conv, orders, revenue, spend, cac = rows[(nov2, "douyin", "A", "cr1")]
    assert (acq, conv, orders, revenue) == (0.5, 1.0, 0.5, 50.0)
    assert spend == pytest.approx(10 + 60 * 0.5 / 2.5 + 100 * 0.5 / 3.5)  # 36.285714
    assert cac == pytest.approx(spend / 0.5)
    assert rows[(nov2, "douyin", "A", "cr2")][4] == pytest.approx(60 * 2 / 2.5 + 100 * 2 / 3.5)  # 105.142857
    assert rows[(nov2, "douyin", "B", "")][4] == pytest.approx(100 * 1 / 3.5)  # 28.571429
    # The channel and campaign rows keep nothing: all of it went down.
    assert rows[(nov2, "douyin", "", "")][4] == pytest.approx(0)
    assert rows[(nov2, "douyin", "A", "")][4] == pytest.approx(0)
    douyin = sum(v[4] for k, v in rows.items() if k[0] == nov2 and k[1] == "douyin")
    assert douyin == pytest.approx(170)  # 100 + 60 + 10
    # Nothing to allocate by: the spend stays where it was reported, CAC undefined.
    assert rows[(nov2, "tencent_ads", "", "")][3:6] == (0.0, 40.0, None)
    assert rows[("2026-11-03", "douyin", "", "")][4] == 30.0
    assert rows[(nov2, "wechat_share", "", "")][:5] == (0.5, 1.0, 0.5, 50.0, 0.0)
    assert sum(v[4] for v in rows.values()) == pytest.approx(240)  # 100 + 60 + 10 + 40 + 30; not the other app's
    # R4 counts once at its current version (cr2), R5 not at all (tombstoned).
    assert sum(v[0] for v in rows.values()) == pytest.approx(4)  # R1 + R2 + R3 + R4


def test_allocation_by_credit_and_acquisition_by_first_order(clickhouse: Any) -> None:
    seed(clickhouse)
    by_credit = performance(clickhouse, "linear", allocation="credit")
    nov2 = "2026-11-02"
    # Weights are all conversions' credit: cr1 1.0 (R1 0.5 + O1 0.5), cr2 2, B 1 → channel 4, campaign A 3.
    assert by_credit[(nov2, "douyin", "A", "cr1")][4] == pytest.approx(10 + 60 * 1 / 3 + 100 * 1 / 4)  # 55
    assert by_credit[(nov2, "douyin", "A", "cr2")][4] == pytest.approx(60 * 2 / 3 + 100 * 2 / 4)  # 90
    assert by_credit[(nov2, "douyin", "B", "")][4] == pytest.approx(25)
    first_orders = performance(clickhouse, "first_touch", acquisition="convert")
    # Only O1 acquires under 'convert': all of douyin's ¥170 lands on cr1, whose CAC is 170 / 1.
    assert first_orders[(nov2, "douyin", "A", "cr1")][0] == 1.0
    assert first_orders[(nov2, "douyin", "A", "cr1")][4] == pytest.approx(170)
    assert first_orders[(nov2, "douyin", "A", "cr1")][5] == pytest.approx(170)
    assert first_orders[(nov2, "douyin", "A", "cr2")][4] == pytest.approx(0)


@pytest.fixture
def report_server(clickhouse: Any) -> Iterator[str]:
    seed(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        yield base


def get(base: str, report: str, key: str = ANALYST_KEY, **params: str) -> httpx.Response:
    return httpx.get(f"{base}/v1/reports/{report}", params=params, headers={"Authorization": f"Bearer {key}"})


def test_channels_report_per_model(report_server: str) -> None:
    first = get(report_server, "channels", app="shop", model="first_touch", **{"from": "2026-11-01"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["currency"] == "CNY"
    rows = {r["channel"]: r for r in body["rows"]}
    # first_touch, channel level: douyin acquisitions R1 + R2 + R3 + R4 = 4, revenue ¥100 (O1), spend 170 + 30.
    assert rows["douyin"] == {"channel_type": "paid", "channel": "douyin", "acquisitions": 4.0, "conversions": 5.0,
                              "orders": 1.0, "gross_revenue": 100.0, "refunds": 0.0, "revenue": 100.0, "spend": 200.0,
                              "cac": 50.0, "roas": 0.5, "roi": -0.5}
    assert rows["tencent_ads"]["spend"] == 40.0
    assert rows["tencent_ads"]["cac"] is None
    assert [r["channel"] for r in body["rows"]] == ["douyin", "tencent_ads"]  # by spend, descending
    assert body["totals"] == {"acquisitions": 4.0, "conversions": 5.0, "orders": 1.0, "gross_revenue": 100.0,
                              "refunds": 0.0, "revenue": 100.0, "spend": 240.0, "cac": 60.0, "roas": 0.4167,
                              "roi": -0.5833}
    linear = get(report_server, "channels", app="shop", model="linear", level="channel_type",
                 **{"from": "2026-11-01"}).json()
    types = {r["channel_type"]: r for r in linear["rows"]}
    # linear: social (wechat_share) gets half of R1 and half of O1's ¥100.
    assert types["social"]["acquisitions"] == 0.5
    assert types["social"]["revenue"] == 50.0
    assert types["paid"]["acquisitions"] == 3.5


def test_trend_is_zero_filled_per_day(report_server: str) -> None:
    body = get(report_server, "trend", app="shop", model="linear", **{"from": "2026-11-01", "to": "2026-11-04"}).json()
    assert body["rows"] == [
        {"day": "2026-11-01", "spend": 0.0, "revenue": 0.0, "acquisitions": 0.0, "conversions": 0.0},
        {"day": "2026-11-02", "spend": 210.0, "revenue": 100.0, "acquisitions": 4.0, "conversions": 5.0},
        {"day": "2026-11-03", "spend": 30.0, "revenue": 0.0, "acquisitions": 0.0, "conversions": 0.0},
        {"day": "2026-11-04", "spend": 0.0, "revenue": 0.0, "acquisitions": 0.0, "conversions": 0.0},
    ]


def test_meta_lists_models_and_the_key_guards_the_app(report_server: str) -> None:
    meta = get(report_server, "meta", app="shop").json()
    assert meta["models"] == ["first_touch", "linear"]
    assert meta["date_to"] == "2026-11-30"
    assert meta["date_from"] == "2026-11-01"  # 30 days ending "today"
    assert get(report_server, "meta", app="other").status_code == 403
    unknown = get(report_server, "meta", key="not-a-key-at-all-000", app="shop")
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{report_server}/v1/reports/meta?app=shop").status_code == 401
    bad = get(report_server, "channels", app="shop", model="x'; DROP TABLE events --")
    assert bad.status_code == 400
    assert "model" in bad.json()["error"]
    assert get(report_server, "nope", app="shop").status_code == 404


def test_report_command_prints_the_same_figures(report_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    from touchstream.cli import main

    code = main(["report", "channels", "--app", "shop", "--model", "first_touch", "--from", "2026-11-01",
                 "--url", report_server, "--key", "analyst-key-0123456789", "--format", "csv"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "channel_type,channel,acquisitions,conversions,orders,gross_revenue,refunds,revenue,spend,cac,roas,roi"
    )
    assert lines[1] == "paid,douyin,4.0,5.0,1.0,100.0,0.0,100.0,200.0,50.0,0.5,-0.5"
    assert main(["report", "channels", "--app", "other", "--url", report_server,
                 "--key", "analyst-key-0123456789"]) == 1
    assert "403: this analyst key does not cover app 'other'" in capsys.readouterr().err


def test_a_channel_keeps_one_type_without_the_catalog(clickhouse: Any) -> None:
    seed(clickhouse)
    clickhouse.command("TRUNCATE TABLE channel_catalog")
    rows = performance(clickhouse, "linear")
    types = clickhouse.query(
        "SELECT channel, groupUniqArray(channel_type) FROM channel_performance(app='shop', date_from='2026-11-01', "
        "date_to='2026-11-30', model='linear', acquisition='register', allocation='acquisitions') GROUP BY channel "
        "ORDER BY channel").result_rows
    # douyin's 11-03 spend has no credits that day: its type still comes from the credits of 11-02. tencent_ads
    # has only spend and no catalog row: 'unknown', said once.
    assert types == [("douyin", ["paid"]), ("tencent_ads", ["unknown"]), ("wechat_share", ["social"])]
    assert rows[("2026-11-03", "douyin", "", "")][4] == 30.0


def test_unknown_models_and_tombstones_are_not_models(report_server: str, clickhouse: Any) -> None:
    # The processor's tombstones carry no model: meta must not offer '' as one.
    tombstone = credit("R2", "register", "", "direct", 0, version=9, deleted=1)
    clickhouse.insert("attribution_credits", [tombstone], column_names=list(CREDIT_COLUMNS))
    assert get(report_server, "meta", app="shop").json()["models"] == ["first_touch", "linear"]
    typo = get(report_server, "channels", app="shop", model="linaer")
    assert typo.status_code == 400
    assert typo.json()["error"] == "model 'linaer' has no credits for app 'shop'; models: first_touch, linear"


def test_the_query_server_answers_only_to_its_own_names(report_server: str) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: refused before any route runs.
    rebound = httpx.post(
        f"{report_server}/v1/query", json={"sql": "SELECT 1"}, headers={"Host": "evil.example", **SQL_AUTH}
    )
    assert rebound.status_code == 400
    assert httpx.post(f"{report_server}/v1/query", json={"sql": "SELECT 1"}, headers=SQL_AUTH).json()["rows"] == [[1]]

