"""attribution_health (schemas/views/26) and the data-driven channels report on real chDB, on hand-built rows.

Every expected figure below is counted by hand from the rows each test inserts (see the docstrings).
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stream.reports.queries import HEALTH_COLUMNS
from stream.reports.sqltext import view_call
from tests.integration.report_server import ANALYST_KEY, serve_reports

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {ANALYST_KEY}"}
EVENT_COLUMNS = ["app_id", "event_id", "type", "event_time", "timestamp", "received_at", "properties",
                 "clock_corrected", "clock_clamped", "arrived_late"]
TOUCH_COLUMNS = ["app_id", "touchpoint_id", "user_key", "touch_time", "kind", "channel_type", "channel", "click_id",
                 "shared_click", "version"]
CONVERSION_COLUMNS = ["app_id", "conversion_id", "event_id", "user_key", "conversion_type", "conversion_time",
                      "revenue", "currency", "touch_count", "version", "deleted"]
CREDIT_COLUMNS = ["app_id", "conversion_id", "conversion_type", "conversion_time", "user_key", "model",
                  "touchpoint_id", "touch_index", "touch_count", "channel_type", "channel", "credit", "revenue_credit",
                  "currency", "version", "deleted"]
DUPLICATE_COLUMNS = ["app_id", "event_id", "type", "event_time", "received_at", "_partition", "_offset", "event_index"]


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def ev(event_id: str, day: int, *, type_: str = "page_view", click: str = "", corrected: int = 0,
       clamped: int = 0, late: int = 0, app: str = "shop") -> list[Any]:
    properties = f'{{"click_id": "{click}"}}' if click else "{}"
    return [app, event_id, type_, at(day), at(day), at(day), properties, corrected, clamped, late]


def visit(touchpoint_id: str, day: int, click: str, *, shared: int = 0, version: int = 1, app: str = "shop",
          user: str = "u", channel: str = "tencent_ads") -> list[Any]:
    return [app, touchpoint_id, user, at(day), "click", "paid", channel, click, shared, version]


def conv(conversion_id: str, day: int, touches: int, *, version: int = 1, deleted: int = 0, app: str = "shop",
         user: str = "u", revenue: str = "0", hour: int = 10) -> list[Any]:
    return [app, conversion_id, f"ev-{conversion_id}", user, "convert", at(day, hour), Decimal(revenue), "CNY",
            touches, version, deleted]


def dup(day: int, partition: int, offset: int, index: int, app: str = "shop") -> list[Any]:
    return [app, f"dup-{partition}-{offset}-{index}", "page_view", at(day), at(day), partition, offset, index]


def health_data(clickhouse: Any) -> None:
    """App shop, 1..3 Nov 2026 (and app news, which must not count).

    11-01 events e1 (clock corrected), e2 (corrected and clamped), e3 (arrived late), e4, ad clicks c1 (K1), c2 (K2)
          visits t1 K1, t2 K9 (no webhook for K9 ever), t3 K1 of another person (shared_click at version 2),
          t4 without a click id; conversions v1 direct (0 touches), v2 (2 touches), v3 direct at version 1 and
          re-attributed to 1 touch at version 2, v4 direct but tombstoned; duplicates (0,10,0), (0,10,1) and
          (0,10,0) again (a replayed flush)
    11-02 events e5 (stored twice, as before a merge), c3 (K2 again: the click id counts once, on 11-01),
          c4 (K3); duplicate (1,20,3)
    11-03 visit t5 K3 (so K3 is matched)
    news: a visit carrying K2 on 11-01 and a duplicate: neither is shop's.
    """
    clickhouse.insert("events", [
        ev("e1", 1, corrected=1), ev("e2", 1, corrected=1, clamped=1), ev("e3", 1, late=1), ev("e4", 1),
        ev("c1", 1, type_="ad_click", click="K1"), ev("c2", 1, type_="ad_click", click="K2"),
        ev("e5", 2), ev("e5", 2), ev("c3", 2, type_="ad_click", click="K2"), ev("c4", 2, type_="ad_click", click="K3"),
        ev("n1", 1, corrected=1, app="news"),
    ], column_names=EVENT_COLUMNS)
    clickhouse.insert("touchpoints", [
        visit("t1", 1, "K1"), visit("t2", 1, "K9"), visit("t3", 1, "K1", user="w"),
        visit("t3", 1, "K1", user="w", shared=1, version=2), visit("t4", 1, "", channel="wechat_share"),
        visit("t5", 3, "K3"), visit("n-t1", 1, "K2", app="news"),
    ], column_names=TOUCH_COLUMNS)
    clickhouse.insert("conversions", [
        conv("v1", 1, 0), conv("v2", 1, 2), conv("v3", 1, 0), conv("v3", 1, 1, version=2),
        conv("v4", 1, 0), conv("v4", 1, 0, version=2, deleted=1), conv("n-v1", 1, 0, app="news"),
    ], column_names=CONVERSION_COLUMNS)
    clickhouse.insert("duplicate_events", [
        dup(1, 0, 10, 0), dup(1, 0, 10, 1), dup(1, 0, 10, 0), dup(2, 1, 20, 3), dup(1, 0, 11, 0, app="news"),
    ], column_names=DUPLICATE_COLUMNS)


EXPECTED = [
    # day, events, corrected (share), clamped (share), late (share), duplicates, ad_clicks, unmatched,
    # click_visits, without webhook, shared visits, reused ids, conversions, direct (share)
    (date(2026, 11, 1), 6, 2, 2 / 6, 1, 1 / 6, 1, 1 / 6, 2, 2, 1, 3, 1, 1, 1, 3, 1, 1 / 3),
    (date(2026, 11, 2), 3, 0, 0.0, 0, 0.0, 0, 0.0, 1, 1, 0, 0, 0, 0, 0, 0, 0, None),
    (date(2026, 11, 3), 0, 0, None, 0, None, 0, None, 0, 0, 0, 1, 0, 0, 0, 0, 0, None),
]


def test_attribution_health_counts_each_day(clickhouse: Any) -> None:
    health_data(clickhouse)
    call = view_call("attribution_health", app="shop", date_from=date(2026, 11, 1), date_to=date(2026, 11, 3))
    result = clickhouse.query(f"SELECT * FROM {call}")
    assert tuple(result.column_names) == HEALTH_COLUMNS
    rows = [tuple(row) for row in result.result_rows]
    assert rows == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in EXPECTED]
    # A one-day range is one row; a day outside every figure is all zeros, its shares NULL.
    single = view_call("attribution_health", app="shop", date_from=date(2026, 10, 5), date_to=date(2026, 10, 5))
    assert [tuple(r) for r in clickhouse.query(f"SELECT * FROM {single}").result_rows] == [
        (date(2026, 10, 5), 0, 0, None, 0, None, 0, None, 0, 0, 0, 0, 0, 0, 0, 0, 0, None)]


def test_health_report_is_served_under_the_analyst_key_rules(clickhouse: Any) -> None:
    health_data(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        url = f"{base}/v1/reports/health"
        params = {"app": "shop", "from": "2026-11-01", "to": "2026-11-03"}
        body = httpx.get(url, params=params, headers=AUTH, timeout=30).json()
        other = httpx.get(url, params={**params, "app": "news"}, headers=AUTH, timeout=30)
        anonymous = httpx.get(url, params=params, timeout=30)
    assert body["app"] == "shop" and (body["date_from"], body["date_to"]) == ("2026-11-01", "2026-11-03")
    first = body["rows"][0]
    assert first == {
        "day": "2026-11-01", "events": 6, "clock_corrected": 2, "clock_corrected_share": 0.3333, "clock_clamped": 1,
        "clock_clamped_share": 0.1667, "late_events": 1, "late_share": 0.1667, "duplicates_absorbed": 2,
        "ad_clicks": 2, "unmatched_clicks": 1, "click_visits": 3, "visits_without_click": 1,
        "shared_click_visits": 1, "reused_click_ids": 1, "conversions": 3, "direct_conversions": 1,
        "direct_share": 0.3333,
    }
    assert [row["day"] for row in body["rows"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert body["rows"][2]["clock_corrected_share"] is None
    assert other.status_code == 403
    assert anonymous.status_code == 401


def reference_d01(clickhouse: Any, *, registration: bool = True) -> None:
    """Reference dataset D01 as current rows: P1, P2 google -> convert ¥10; P3 mail -> ¥100; P4 google, mail ->
    ¥60; P5 google, no conversion. P1..P4's touches precede their conversions (so none of them is a
    non-converting path); P6 registered (a type not modelled; left out with registration=False).
    Spend: google ¥50, mail ¥20, qr_code ¥5 (11-02)."""
    journeys = {"P1": (["google"], "10"), "P2": (["google"], "10"), "P3": (["mail"], "100"),
                "P4": (["google", "mail"], "60")}
    touches, conversions, credits = [], [], []
    types = {"google": "paid", "mail": "owned"}
    for user, (path, revenue) in journeys.items():
        for i, channel in enumerate(path):
            touches.append(visit(f"{user}-{i}", 1, "", user=user, channel=channel))
            credits.append(["shop", f"order:{user}", "convert", at(2, 10), user, "linear", f"{user}-{i}", i,
                            len(path), types[channel], channel, 1 / len(path), Decimal(revenue) / len(path), "CNY",
                            1, 0])
        conversions.append(conv(f"order:{user}", 2, len(path), user=user, revenue=revenue))
    touches.append(visit("P5-0", 1, "", user="P5", channel="google"))
    if registration:
        reg = conv("register:P6", 2, 1, user="P6")
        reg[4] = "register"
        conversions.append(reg)
        credits.append(["shop", "register:P6", "register", at(2, 10), "P6", "linear", "P6-0", 0, 1, "paid",
                        "google", 1.0, Decimal(0), "CNY", 1, 0])
    clickhouse.insert("touchpoints", touches, column_names=TOUCH_COLUMNS)
    clickhouse.insert("conversions", conversions, column_names=CONVERSION_COLUMNS)
    clickhouse.insert("attribution_credits", credits, column_names=CREDIT_COLUMNS)
    clickhouse.insert("ad_spend", [
        ["shop", date(2026, 11, 2), channel, Decimal(amount), 1]
        for channel, amount in (("google", "50"), ("mail", "20"), ("qr_code", "5"))
    ], column_names=["app_id", "date", "channel", "spend_reporting", "version"])


@pytest.mark.parametrize(("model", "google", "mail"), [
    # Reference D01: Markov conversions 2.4 / 1.6, value 108 / 72; Shapley (Zhao) 2.5 / 1.5, value 50 / 130.
    ("markov", (2.4, 108.0), (1.6, 72.0)),
    ("shapley", (2.5, 50.0), (1.5, 130.0)),
])
def test_data_driven_channels_report_on_reference_d01(
    clickhouse: Any, model: str, google: tuple[float, float], mail: tuple[float, float]
) -> None:
    reference_d01(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        params = {"app": "shop", "from": "2026-11-01", "to": "2026-11-03", "model": model, "acquisition": "convert"}
        body = httpx.get(f"{base}/v1/reports/channels", params=params, headers=AUTH, timeout=60).json()
        trend = httpx.get(f"{base}/v1/reports/trend", params=params, headers=AUTH, timeout=60)
        campaign = httpx.get(f"{base}/v1/reports/channels", params={**params, "level": "campaign"}, headers=AUTH)
    rows = {row["channel"]: row for row in body["rows"]}
    assert list(rows) == ["google", "mail", "qr_code"]  # by spend
    for channel, (conversions, revenue), spend, kind in (
        ("google", google, 50.0, "paid"), ("mail", mail, 20.0, "owned"),
    ):
        row = rows[channel]
        assert row["channel_type"] == kind
        assert (row["acquisitions"], row["conversions"], row["orders"], row["revenue"], row["spend"]) == (
            conversions, conversions, conversions, revenue, spend)
        assert row["roas"] == round(revenue / spend, 4)
    assert rows["qr_code"]["conversions"] == 0.0 and rows["qr_code"]["spend"] == 5.0
    assert body["totals"]["conversions"] == 4.0 and body["totals"]["revenue"] == 180.0
    assert body["totals"]["spend"] == 75.0
    summary = body["population"]
    assert summary["conversion_types"] == ["convert"]
    assert summary["left_out"] == {"converting_paths": 0, "conversions": 0.0, "revenue": 0.0, "open_paths": 0,
                                   "open_journeys": 0.0}
    if model == "markov":
        assert summary["conversion_probability"] == 0.8
        assert summary["removal_effects"] == {"google": 0.75, "mail": 0.5}
    else:
        assert summary["removal_effects"] is None
    assert trend.status_code == 400 and "population model" in trend.json()["error"]
    assert campaign.status_code == 400 and "level=channel" in campaign.json()["error"]


def test_the_command_line_prints_markov_credits_and_the_health_days(
    clickhouse: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from touchstream.cli import main as cli_main

    reference_d01(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        common = ["--app", "shop", "--from", "2026-11-01", "--to", "2026-11-03", "--url", base, "--key", ANALYST_KEY,
                  "--format", "csv"]
        assert cli_main(["report", "channels", "--model", "markov", "--acquisition", "convert", *common]) == 0
        channels = capsys.readouterr().out
        health_data(clickhouse)
        assert cli_main(["report", "health", *common]) == 0
        health = capsys.readouterr().out
    lines = channels.splitlines()
    assert lines[0] == "# Channels by channel under markov (CNY)"
    assert lines[1].split(",")[:9] == ["channel_type", "channel", "acquisitions", "conversions", "orders",
                                       "gross_revenue", "refunds", "revenue", "spend"]
    # No refunds in D01: the gross revenue is the net revenue.
    assert lines[2].split(",")[:9] == ["paid", "google", "2.4", "2.4", "2.4", "108.0", "0.0", "108.0", "50.0"]
    assert lines[3].split(",")[:9] == ["owned", "mail", "1.6", "1.6", "1.6", "72.0", "0.0", "72.0", "20.0"]
    population = next(csv.DictReader(lines[lines.index("# Population") + 1:]))
    assert (population["conversion_types"], population["conversion_probability"]) == ("convert", "0.8")
    assert population["removal_effects"] == "google 0.75; mail 0.5"
    assert population["left_out_conversions"] == "0.0"
    rows = [line.split(",") for line in health.splitlines()]
    assert rows[0][:3] == ["day", "events", "clock_corrected"]
    assert [row[0] for row in rows[1:]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert rows[1][rows[0].index("duplicates_absorbed")] == "2"
