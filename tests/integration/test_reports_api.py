"""The report API over the behaviour views, on the hand-checked data sets of their view tests.

The figures asserted here are the ones worked out by hand in test_funnel_path_views.py and
test_user_retention_views.py; this file checks the API carries them through unchanged and shaped as documented.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from tests.integration.report_server import ANALYST_KEY, serve_reports
from tests.integration.test_funnel_path_views import (
    CONVERSION_COLUMNS,
    CREDIT_COLUMNS,
    conversion,
    credit,
    event,
    funnel_data,
    insert_events,
)
from tests.integration.test_user_retention_views import layers_data, retention_data, rfm_data, share_data

pytestmark = pytest.mark.integration


def get(base: str, report: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/v1/reports/{report}", params=params,
                         headers={"Authorization": f"Bearer {ANALYST_KEY}"}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_funnel_report(clickhouse: Any) -> None:
    funnel_data(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        body = get(base, "funnel", app="shop", window_hours="1", **{"from": "2026-11-10", "to": "2026-11-12"})
        custom = httpx.get(f"{base}/v1/reports/funnel", params={"app": "shop", "steps": "enter,teleport"},
                           headers={"Authorization": f"Bearer {ANALYST_KEY}"})
    assert body["steps"] == ["exposure", "click", "enter", "register", "activate", "convert", "repurchase"]
    assert [entry["channel"] for entry in body["rows"]] == ["all", "direct", "wechat_moments_ads", "wechat_share"]
    everyone = body["rows"][0]["steps"]
    # Levels p1 7, p2 4, p3 1, p4 2, p5 3 (window 3600 s): reached step k = people with level >= k.
    assert [s["users"] for s in everyone] == [5, 4, 3, 2, 1, 1, 1]
    assert [s["step_conversion"] for s in everyone] == [None, 0.8, 0.75, 0.6667, 0.5, 1.0, 1.0]
    assert [s["drop_off"] for s in everyone] == [0, 1, 1, 1, 1, 0, 0]
    assert custom.status_code == 400
    assert "teleport" in custom.json()["error"]


def test_retention_report(clickhouse: Any) -> None:
    retention_data().insert(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        body = get(base, "retention", app="shop", model="time_decay", **{"from": "2026-11-01", "to": "2026-11-10"})
    rows = {(r["cohort"], r["channel"]): r for r in body["rows"]}
    # 11-01: A and B; d1 A only (1/2), d7 both, d30 A only. 11-10: C, whose day 30 is not observable yet.
    assert rows[("2026-11-01", "all")] == {"cohort": "2026-11-01", "channel": "all", "users": 2.0, "d1": 0.5,
                                           "d7": 1.0, "d30": 0.5}
    assert rows[("2026-11-01", "douyin")]["users"] == 0.6
    assert rows[("2026-11-10", "all")]["d30"] is None


def test_rfm_report(clickhouse: Any) -> None:
    rfm_data().insert(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        body = get(base, "rfm", app="shop", **{"from": "2026-11-01", "to": "2026-11-30"})
    # hibernating: P6 + P7, revenue 5 + 8, recency (29 + 25) / 2; then the singletons by name.
    assert body["segments"][0] == {"segment": "hibernating", "users": 2, "revenue": 13.0, "avg_recency": 27.0,
                                   "avg_frequency": 1.0, "avg_monetary": 6.5}
    assert [s["segment"] for s in body["segments"][1:]] == [
        "champions", "need_attention", "new_customers", "potential_loyalists"]


def test_layers_in_the_rfm_report(clickhouse: Any) -> None:
    layers_data().insert(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        body = get(base, "rfm", app="shop", **{"from": "2026-11-01", "to": "2026-11-30"})
    # As of 11-30: new L1; active L2, L8; dormant L3, L4; churned L5, L7. 'all' first, layers in lifecycle order.
    assert [(x["layer"], x["channel"], x["users"]) for x in body["layers"]][:4] == [
        ("new", "all", 1), ("active", "all", 2), ("dormant", "all", 2), ("churned", "all", 2)]
    assert {(x["layer"], x["channel"]): x["users"] for x in body["layers"][4:]} == {
        ("churned", "douyin"): 1, ("new", "douyin"): 1, ("active", "qr_code"): 1, ("dormant", "unattributed"): 2,
        ("churned", "unattributed"): 1, ("active", "wechat_share"): 1}


def test_shares_report(clickhouse: Any) -> None:
    share_data().insert(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        body = get(base, "shares", app="shop", limit="2", **{"from": "2026-11-01", "to": "2026-11-30"})
    # depth 1: V3, S1, V7, V5; depth 2: V1, V2, V6; depth 3: V4.
    assert body["depths"] == [{"depth": 1, "users": 4}, {"depth": 2, "users": 3}, {"depth": 3, "users": 1}]
    # S2 brought V2 (¥30) and S1 (¥200); S3 brought V1 (¥100 + ¥50) and V3; limit 2.
    assert body["top_sharers"] == [
        {"sharer_key": "uS2", "users_brought": 2, "converted_users": 2, "revenue": 230.0},
        {"sharer_key": "uS3", "users_brought": 2, "converted_users": 1, "revenue": 150.0},
    ]


def test_paths_report(clickhouse: Any) -> None:
    """a and b leave at the cart; c enters and buys (¥20, credited to douyin then wechat_share under linear)."""
    insert_events(clickhouse, [
        event("a1", "enter", "11-10 10:00:00", "a"),
        event("a2", "page_view", "11-10 10:01:00", "a", path="/pages/cart"),
        event("b1", "enter", "11-10 11:00:00", "b"),
        event("b2", "page_view", "11-10 11:01:00", "b", path="/pages/cart"),
        event("c1", "enter", "11-10 12:00:00", "c"),
        event("c2", "convert", "11-10 12:05:00", "c"),
    ])
    clickhouse.insert("conversions", [conversion("oc", "11-10 12:05:00", "20", 1)], column_names=CONVERSION_COLUMNS)
    clickhouse.insert("attribution_credits", [
        credit("oc", "linear", 0, 2, "douyin", 1, when="11-10 12:05:00"),
        credit("oc", "linear", 1, 2, "wechat_share", 1, when="11-10 12:05:00"),
    ], column_names=CREDIT_COLUMNS)
    with serve_reports(clickhouse, date(2026, 11, 30)) as base:
        body = get(base, "paths", app="shop", **{"from": "2026-11-10", "to": "2026-11-10"})
        registrations = get(base, "paths", app="shop", conversion_types="register",
                            **{"from": "2026-11-10", "to": "2026-11-10"})
        bad = httpx.get(f"{base}/v1/reports/paths", params={"app": "shop", "conversion_types": "purchase"},
                        headers={"Authorization": f"Bearer {ANALYST_KEY}"})
    assert body["conversion_types"] == ["convert"]
    assert body["conversion_paths"] == [{"path": ["douyin", "wechat_share"], "conversions": 1, "revenue": 20.0}]
    assert registrations["conversion_paths"] == []  # oc is an order, not a registration
    assert bad.status_code == 400
    assert "conversion_types must be" in bad.json()["error"]
    assert body["behaviour_paths"] == [{"path": ["enter", "convert"], "users": 1}]
    # a and b (nobody else without an order) both stop at the cart; no touchpoints: channel direct.
    assert body["exit_points"] == [
        {"channel": "all", "step": "page_view:/pages/cart", "users": 2, "share": 1.0},
        {"channel": "direct", "step": "page_view:/pages/cart", "users": 2, "share": 1.0},
    ]
