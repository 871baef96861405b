"""Report parameters, literals and shapes: the pure parts of the report API."""

from __future__ import annotations

from datetime import date

import pytest

from stream.reports.params import ReportParamError, parse_params
from stream.reports.shapes import channel_rows, funnel_rows, order_models, trend_rows
from stream.reports.sqltext import quote, view_call
from touchstream.report_cli import render, tables_of

TODAY = date(2026, 11, 23)


def test_defaults_are_the_30_days_ending_today() -> None:
    p = parse_params({"app": "shop"}, TODAY)
    assert (p.date_from, p.date_to) == (date(2026, 10, 25), TODAY)  # 25 Oct .. 23 Nov inclusive = 30 days
    assert (p.model, p.level, p.acquisition, p.allocation, p.grain) == (
        "linear", "channel", "register", "acquisitions", "day")


@pytest.mark.parametrize(("query", "words"), [
    ({}, "app is required"),
    ({"app": "a b"}, "app is required"),
    ({"app": "shop", "from": "2026-11-31"}, "from must be a day"),
    ({"app": "shop", "from": "2026-11-05", "to": "2026-11-01"}, "is after"),
    ({"app": "shop", "from": "2020-01-01", "to": "2026-01-01"}, "longer than"),
    ({"app": "shop", "model": ""}, "model must be"),
    ({"app": "shop", "model": "a\x00b"}, "model must be"),
    ({"app": "shop", "model": "m" * 65}, "model must be"),
    ({"app": "shop\n"}, "app is required"),
    ({"app": "shop", "from": "1900-01-01"}, "from must be between 1970-01-01 and 2149-06-06"),
    ({"app": "shop", "limit": "\u00b2"}, "limit must be"),
    ({"app": "shop", "window_hours": "\u2460"}, "window_hours must be"),
    ({"app": "shop", "level": "country"}, "level must be one of channel, channel_type, campaign, creative"),
    ({"app": "shop", "allocation": "spend"}, "allocation must be one of"),
    ({"app": "shop", "window_hours": "0"}, "window_hours must be a whole number from 1 to 2160"),
    ({"app": "shop", "limit": "-3"}, "limit must be"),
    ({"app": "shop", "steps": "x" * 2001}, "steps is longer"),
])
def test_bad_parameters_are_named(query: dict[str, str], words: str) -> None:
    with pytest.raises(ReportParamError, match=words):
        parse_params(query, TODAY)


def test_literals_are_quoted_whatever_they_hold() -> None:
    assert quote("o'k\\") == "'o\\'k\\\\'"
    assert quote("a\nb\0") == "'a\\nb\\0'"
    assert view_call("v", app="x'y", date_from=date(2026, 1, 2), window_s=60) == (
        "v(app='x\\'y', date_from='2026-01-02', window_s=60)")
    with pytest.raises(ValueError, match="non-negative"):
        view_call("v", n=-1)


def test_totals_recompute_ratios_from_sums() -> None:
    rows = [
        {"channel_type": "paid", "channel": "douyin", "acquisitions": 2.0, "conversions": 3.0, "orders": 1.0,
         "gross_revenue": 100.0, "refunds": 10.0, "revenue": 90.0, "spend": 30.0},
        {"channel_type": "social", "channel": "wechat_share", "acquisitions": 1.0, "conversions": 1.0, "orders": 0.0,
         "revenue": 0.0, "spend": 0.0},
    ]
    shaped, totals = channel_rows(rows, ("channel_type", "channel"))
    assert shaped[0]["cac"] == 15.0  # 30 / 2
    assert (shaped[0]["roas"], shaped[0]["roi"]) == (3.0, 2.0)  # 90 / 30, (90 - 30) / 30
    assert (shaped[1]["cac"], shaped[1]["roas"], shaped[1]["roi"]) == (0.0, None, None)
    # The total CAC is 30 / 3 = 10, not the mean of 15 and 0.
    assert totals == {"acquisitions": 3.0, "conversions": 4.0, "orders": 1.0, "gross_revenue": 100.0,
                      "refunds": 10.0, "revenue": 90.0, "spend": 30.0, "cac": 10.0, "roas": 3.0, "roi": 2.0}


def test_trend_fills_missing_days_and_models_are_ordered() -> None:
    rows = [{"day": date(2026, 11, 2), "spend": 5.0, "revenue": 7.5, "acquisitions": 1.0, "conversions": 2.0}]
    out = trend_rows(rows, date(2026, 11, 1), date(2026, 11, 3))
    assert [r["day"] for r in out] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert out[0]["spend"] == 0.0
    assert out[1]["revenue"] == 7.5
    assert order_models(["zeta", "linear", "first_touch", "alpha", "time_decay"]) == [
        "first_touch", "linear", "time_decay", "alpha", "zeta"]


def test_funnel_rows_group_by_channel_with_all_first() -> None:
    def row(channel: str, index: int, users: int) -> dict[str, object]:
        return {"channel": channel, "step_index": index, "step": f"s{index}", "users": users,
                "step_conversion": None, "overall_conversion": 1.0, "drop_off": 0}

    out = funnel_rows([row("douyin", 2, 1), row("all", 1, 5), row("douyin", 1, 2), row("all", 2, 3)])
    assert [e["channel"] for e in out] == ["all", "douyin"]
    assert [s["users"] for s in out[1]["steps"]] == [2, 1]


def test_cli_renders_channels_as_table_and_csv() -> None:
    payload = {
        "level": "channel", "model": "linear", "currency": "CNY",
        "rows": [{"channel_type": "paid", "channel": "douyin", "acquisitions": 2.0, "spend": 30.0, "cac": 15.0}],
        "totals": {"acquisitions": 2.0, "spend": 30.0, "cac": 15.0},
    }
    title, rows = tables_of("channels", payload)[0]
    assert title == "Channels by channel under linear (CNY)"
    assert rows[-1] == {"channel_type": "total", "channel": "", "acquisitions": 2.0, "spend": 30.0, "cac": 15.0}
    assert render("channels", payload, "csv").splitlines() == [
        "channel_type,channel,acquisitions,spend,cac", "paid,douyin,2.0,30.0,15.0", "total,,2.0,30.0,15.0"]
    table = render("channels", payload, "table")
    assert "douyin" in table
    assert "15" in table


def test_csv_cells_that_a_spreadsheet_would_evaluate_are_text() -> None:
    # Campaign names and launch-query paths come from ad platforms and users: `=HYPERLINK(...)` must stay text.
    payload = {
        "level": "campaign", "model": "linear", "currency": "CNY",
        "rows": [
            {"channel": "=HYPERLINK(\"http://x\")", "campaign": "+cmd|' /C calc'!A0", "spend": -5.0},
            {"channel": "-2+3", "campaign": "@SUM(A1:A9)", "spend": 1.0},
            {"channel": "\tx", "campaign": "plain - name", "spend": 0.0},
        ],
        "totals": {"spend": -4.0},
    }
    assert render("channels", payload, "csv").splitlines() == [
        "channel,campaign,spend",
        "\"'=HYPERLINK(\"\"http://x\"\")\",'+cmd|' /C calc'!A0,-5.0",
        "'-2+3,'@SUM(A1:A9),1.0",
        "'\tx,plain - name,0.0",
        "total,,-4.0",
    ]
    paths = {"conversion_paths": [{"path": ["=1+1", "douyin"], "conversions": 1}], "behaviour_paths": [],
             "exit_points": []}
    assert render("paths", paths, "csv").splitlines()[1:3] == ["path,conversions", "'=1+1 > douyin,1"]
