"""The dashboard in a real headless Chromium, over the real report API on a hand-built data set.

App `shop`, October 2026 (range 2026-10-01 .. 2026-10-31), currency CNY. Six people (user_key anon:dN):

  d1 10-01  touches: douyin click 09:00 (autumn/video-a), wechat_share enter 10:00
            events: exposure 08:00, click 09:00, enter 10:00, register 11:00 (logs in as uid alice), activate
            11:30, convert o1 ¥300 12:00, repurchase o2 ¥60 18:00; page views 10-02, 10-08, 10-31 (D1, D7, D30)
  d2 10-02  touches: wechat_share enter 09:00, douyin click 10:00
            events: exposure 08:00, enter 09:00, click 10:00, enter 10:00:05, register 11:00, activate 11:30,
            convert o3 ¥100 12:00; page view 10-03 (D1)
  d3 10-03  touch: tencent_ads click 09:00
            events: exposure 08:00, click 09:00, enter 09:00:05, register 10:00, activate 10:30, convert o4 ¥75
            11:00; page view 10-10 (D7)
  d4 10-01  touch: douyin click 08:30. events: exposure 08:00, click 08:30, enter 09:00, register 10:00
  d5 10-02  touches: wechat_share enter 07:30, douyin click 09:00
            events: exposure 07:00, enter 07:30, click 09:00, enter 09:00:05, register 09:30
  d6 10-04  touch: douyin click 09:00. events: exposure 08:00, click 09:00 (never enters); exposure 11-01 08:00

Every conversion's credits are written for first_touch (the first touch), last_touch (the last) and linear
(1/n each), as the processor would. Spend (CNY): douyin 10-01 ¥200, 10-02 ¥80 restated to ¥100 (version 2),
and ¥999 on 09-30 / ¥555 on 11-01 outside the range; wechat_share 10-02 ¥40; tencent_ads 10-03 ¥50.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request
from starlette.applications import Starlette

from stream.channels.taxonomy import default_taxonomy
from stream.dashboard.routes import STATIC_DIR
from stream.query_server import create_query_app
from stream.store import write_channel_catalog
from tests.browser.conftest import serve
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.browser]

APP = "shop"
KEY = "test-analyst-key"
RANGE = "from=2026-10-01&to=2026-10-31"
CHANNEL_TYPES = {"douyin": "paid", "tencent_ads": "paid", "wechat_share": "social"}
MODELS = ("first_touch", "last_touch", "linear")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Touch:
    touchpoint_id: str
    time: datetime
    kind: str
    channel: str
    campaign: str = ""
    creative: str = ""


@dataclass(frozen=True)
class Event:
    type: str
    time: datetime
    order_id: str = ""
    revenue: str = "0"


@dataclass(frozen=True)
class Person:
    device: str
    touches: tuple[Touch, ...]
    events: tuple[Event, ...]
    login: str = ""  # a user_id carried from the registration on
    user_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_key", f"anon:{self.device}")


PEOPLE = (
    Person("d1", (Touch("tp-d1-1", at(1, 9), "click", "douyin", "autumn", "video-a"),
                  Touch("tp-d1-2", at(1, 10), "enter", "wechat_share")),
           (Event("exposure", at(1, 8)), Event("click", at(1, 9)), Event("enter", at(1, 10)),
            Event("register", at(1, 11)), Event("activate", at(1, 11, 30)),
            Event("convert", at(1, 12), "o1", "300"), Event("repurchase", at(1, 18), "o2", "60"),
            Event("page_view", at(2, 9)), Event("page_view", at(8, 9)), Event("page_view", at(31, 9))),
           login="alice"),
    Person("d2", (Touch("tp-d2-1", at(2, 9), "enter", "wechat_share"),
                  Touch("tp-d2-2", at(2, 10), "click", "douyin", "autumn", "video-b")),
           (Event("exposure", at(2, 8)), Event("enter", at(2, 9)), Event("click", at(2, 10)),
            Event("enter", at(2, 10, 0, 5)), Event("register", at(2, 11)), Event("activate", at(2, 11, 30)),
            Event("convert", at(2, 12), "o3", "100"), Event("page_view", at(3, 9)))),
    Person("d3", (Touch("tp-d3-1", at(3, 9), "click", "tencent_ads", "launch"),),
           (Event("exposure", at(3, 8)), Event("click", at(3, 9)), Event("enter", at(3, 9, 0, 5)),
            Event("register", at(3, 10)), Event("activate", at(3, 10, 30)),
            Event("convert", at(3, 11), "o4", "75"), Event("page_view", at(10, 9)))),
    Person("d4", (Touch("tp-d4-1", at(1, 8, 30), "click", "douyin", "autumn", "video-a"),),
           (Event("exposure", at(1, 8)), Event("click", at(1, 8, 30)), Event("enter", at(1, 9)),
            Event("register", at(1, 10)))),
    Person("d5", (Touch("tp-d5-1", at(2, 7, 30), "enter", "wechat_share"),
                  Touch("tp-d5-2", at(2, 9), "click", "douyin", "autumn", "video-b")),
           (Event("exposure", at(2, 7)), Event("enter", at(2, 7, 30)), Event("click", at(2, 9)),
            Event("enter", at(2, 9, 0, 5)), Event("register", at(2, 9, 30)))),
    Person("d6", (Touch("tp-d6-1", at(4, 9), "click", "douyin", "autumn", "video-a"),),
           (Event("exposure", at(4, 8)), Event("click", at(4, 9)),
            # An ad view on 11-01, after the range: the app's last event day, so 10-31 is a complete day.
            Event("exposure", at(31, 8) + timedelta(days=1)))),
)
CONVERSION_TYPES = ("register", "convert", "repurchase")


def event_id(person: Person, index: int) -> str:
    return f"ev-{person.device}-{index:02d}"


def credit_rows(person: Person, conversion_id: str, kind: str, time: datetime, revenue: Decimal) -> list[list[Any]]:
    touches = person.touches
    assert all(t.time <= time for t in touches), "every touch must precede the conversion in this data set"
    n = len(touches)
    chosen = {
        "first_touch": [(0, Decimal(1))],
        "last_touch": [(n - 1, Decimal(1))],
        "linear": [(i, Decimal(1) / n) for i in range(n)],
    }
    rows = []
    for model, shares in chosen.items():
        for index, share in shares:
            touch = touches[index]
            revenue_credit = revenue * share
            assert revenue_credit == revenue_credit.quantize(Decimal("0.01")), "revenues split into whole cents"
            rows.append([APP, conversion_id, kind, time, person.user_key, model, touch.touchpoint_id, touch.time,
                         index, n, CHANNEL_TYPES[touch.channel], touch.channel, touch.campaign, touch.creative,
                         float(share), revenue_credit, "CNY", 1, 0, 0, 0])
    return rows


def seed(client: Any) -> None:
    events, identities, touchpoints, conversions, credits = [], [], [], [], []
    for person in PEOPLE:
        identities.append([APP, person.user_key, person.user_key, person.events[0].time, 1, 0, 0])
        if person.login:
            identities.append([APP, f"uid:{person.login}", person.user_key, person.events[3].time, 1, 0, 0])
        logged_in = False
        for i, ev in enumerate(person.events):
            logged_in = logged_in or (bool(person.login) and ev.type == "register")
            revenue = Decimal(ev.revenue) if ev.order_id else None
            events.append([APP, event_id(person, i), ev.type, "", ev.time, ev.time, ev.time, person.device,
                           person.login if logged_in else "", "/pages/home" if ev.type == "page_view" else "",
                           ev.order_id, revenue, "CNY" if ev.order_id else ""])
            if ev.type in CONVERSION_TYPES:
                conversion_id = f"order:{ev.order_id}" if ev.order_id else f"register:{event_id(person, i)}"
                conversions.append([APP, conversion_id, event_id(person, i), person.user_key, person.user_key,
                                    ev.type, ev.time, ev.order_id, Decimal(ev.revenue), "CNY",
                                    len(person.touches), 1, 0, 0, 0])
                credits += credit_rows(person, conversion_id, ev.type, ev.time, Decimal(ev.revenue))
        for touch in person.touches:
            touchpoints.append([APP, touch.touchpoint_id, person.user_key, person.device, person.user_key,
                                touch.time, touch.kind, "sdk", CHANNEL_TYPES[touch.channel], touch.channel,
                                touch.campaign, touch.creative, "", "", "utm", 0, 0, 1, 0, 0])
    client.insert("events", events, column_names=[
        "app_id", "event_id", "type", "name", "event_time", "timestamp", "received_at", "anonymous_id", "user_id",
        "path", "order_id", "revenue", "currency"])
    client.insert("identities", identities, column_names=[
        "app_id", "typed_id", "user_key", "first_seen", "version", "_partition", "_offset"])
    client.insert("touchpoints", touchpoints, column_names=[
        "app_id", "touchpoint_id", "identity", "anonymous_id", "user_key", "touch_time", "kind", "source",
        "channel_type", "channel", "campaign", "creative", "click_id", "click_platform", "signal", "scene",
        "matched_click", "version", "_partition", "_offset"])
    client.insert("conversions", conversions, column_names=[
        "app_id", "conversion_id", "event_id", "identity", "user_key", "conversion_type", "conversion_time",
        "order_id", "revenue", "currency", "touch_count", "version", "deleted", "_partition", "_offset"])
    client.insert("attribution_credits", credits, column_names=[
        "app_id", "conversion_id", "conversion_type", "conversion_time", "user_key", "model", "touchpoint_id",
        "touch_time", "touch_index", "touch_count", "channel_type", "channel", "campaign", "creative", "credit",
        "revenue_credit", "currency", "version", "deleted", "_partition", "_offset"])

    def spend(day: date, channel: str, amount: str, version: int = 1) -> list[Any]:
        value = Decimal(amount)
        received = datetime(day.year, day.month, day.day, 23, tzinfo=UTC) + timedelta(hours=version)
        return [APP, day, channel, "", "", "api", value, "CNY", value, "CNY", Decimal(1), received, version, 0, 0]

    client.insert("ad_spend", [
        spend(date(2026, 10, 1), "douyin", "200"),
        spend(date(2026, 10, 2), "douyin", "80"),
        spend(date(2026, 10, 2), "douyin", "100", version=2),  # the platform restated the day
        spend(date(2026, 9, 30), "douyin", "999"),
        spend(date(2026, 11, 1), "douyin", "555"),
        spend(date(2026, 10, 2), "wechat_share", "40"),
        spend(date(2026, 10, 3), "tencent_ads", "50"),
    ], column_names=["app_id", "date", "channel", "campaign", "creative", "source", "spend", "currency",
                     "spend_reporting", "reporting_currency", "fx_rate", "received_at", "version", "_partition",
                     "_offset"])
    # The processor writes the channel catalog at start; spend on a day without credits takes its type from it.
    write_channel_catalog(client, default_taxonomy())


# --- the figures, by hand ------------------------------------------------------------------------------------
# first_touch credits: douyin ← d1 register, o1 ¥300, o2 ¥60, d4 register; wechat_share ← d2 register, o3 ¥100,
# d5 register; tencent_ads ← d3 register, o4 ¥75. Spend in range: douyin 200 + 100 (restated, not 80) = 300,
# wechat_share 40, tencent_ads 50; rows by spend descending.
#   douyin       acquisitions 2, orders 2, revenue 360, CAC 300/2 = 150,  ROI 360/300 = 1:1.20
#   tencent_ads  acquisitions 1, orders 1, revenue 75,  CAC 50/1 = 50,    ROI 75/50 = 1:1.50
#   wechat_share acquisitions 2, orders 1, revenue 100, CAC 40/2 = 20,    ROI 100/40 = 1:2.50
#   total        acquisitions 5, orders 4, revenue 535, spend 390, CAC 390/5 = 78, ROI 535/390 = 1.3718 = 1:1.37
CHANNELS_FIRST_TOUCH = [
    ["douyin", "paid", "2", "2", "360.00 CNY", "300.00 CNY", "150.00 CNY", "1:1.20"],
    ["tencent_ads", "paid", "1", "1", "75.00 CNY", "50.00 CNY", "50.00 CNY", "1:1.50"],
    ["wechat_share", "social", "2", "1", "100.00 CNY", "40.00 CNY", "20.00 CNY", "1:2.50"],
    ["Total", "", "5", "4", "535.00 CNY", "390.00 CNY", "78.00 CNY", "1:1.37"],
]
# last_touch: douyin ← d2 register, o3 ¥100, d4 register, d5 register; wechat_share ← d1 register, o1, o2.
#   douyin       acquisitions 3, orders 1, revenue 100, CAC 300/3 = 100, ROI 100/300 = 0.3333 = 1:0.33
#   wechat_share acquisitions 1, orders 2, revenue 360, CAC 40/1 = 40,   ROI 360/40 = 1:9.00
#   tencent_ads and the totals as under first_touch.
CHANNELS_LAST_TOUCH = [
    ["douyin", "paid", "3", "1", "100.00 CNY", "300.00 CNY", "100.00 CNY", "1:0.33"],
    ["tencent_ads", "paid", "1", "1", "75.00 CNY", "50.00 CNY", "50.00 CNY", "1:1.50"],
    ["wechat_share", "social", "1", "2", "360.00 CNY", "40.00 CNY", "40.00 CNY", "1:9.00"],
    ["Total", "", "5", "4", "535.00 CNY", "390.00 CNY", "78.00 CNY", "1:1.37"],
]
# Funnel, all channels, in order within 168 h: exposure d1-d6 = 6; click 6; enter 5 (d6 never entered);
# register 5; activate d1 d2 d3 = 3; convert 3; repurchase d1 = 1.
# Step conversion 6/6, 5/6 = 83.3%, 5/5, 3/5 = 60%, 3/3, 1/3 = 33.3%; overall 5/6 = 83.3%, 3/6 = 50%, 1/6 = 16.7%.
FUNNEL = [
    ["exposure", "6", "—", "0", "100.0%"],
    ["click", "6", "100.0%", "0", "100.0%"],
    ["enter", "5", "83.3%", "1", "83.3%"],
    ["register", "5", "100.0%", "0", "83.3%"],
    ["activate", "3", "60.0%", "2", "50.0%"],
    ["convert", "3", "100.0%", "0", "50.0%"],
    ["repurchase", "1", "33.3%", "2", "16.7%"],
]
# Retention by registration day; the app's last event day is 11-01 (d6's exposure), so the last complete day is
# 10-31 and day 30 is observable only for 10-01.
#   10-01: d1, d4. d1 active 10-02, 10-08, 10-31 → D1 D7 D30 = 1/2 each.
#   10-02: d2, d5. d2 active 10-03 → D1 1/2, D7 0/2, D30 not observable (11-01 > 10-31).
#   10-03: d3 active 10-10 → D1 0/1, D7 1/1, D30 not observable.
RETENTION = [
    ["2026-10-01", "2", "50.0%", "50.0%", "50.0%"],
    ["2026-10-02", "2", "50.0%", "0.0%", ""],
    ["2026-10-03", "1", "0.0%", "100.0%", ""],
]
# Paths to first orders (linear credits' touches in order; revenue as recorded): douyin > wechat_share: o1 ¥300
# (o2 is a repurchase); wechat_share > douyin: o3 ¥100; tencent_ads: o4 ¥75. One each: ties by path text.
PATHS = [
    ["douyin → wechat_share", "1", "300.00 CNY", ""],
    ["tencent_ads", "1", "75.00 CNY", ""],
    ["wechat_share → douyin", "1", "100.00 CNY", ""],
]
# Trend per day (both models): spend 10-01 200, 10-02 100 + 40 = 140, 10-03 50; revenue 10-01 300 + 60 = 360,
# 10-02 100, 10-03 75; every other day of the 31 is 0.
TREND_DAYS = [f"2026-10-{d:02d}" for d in range(1, 32)]
TREND_SPEND = [200, 140, 50] + [0] * 28
TREND_REVENUE = [360, 100, 75] + [0] * 28

READ_TABLE = """(testid) => Array.from(
  document.querySelectorAll(`[data-testid="${testid}"] tbody tr, [data-testid="${testid}"] tfoot tr`),
  (tr) => Array.from(tr.cells, (cell) => cell.textContent.trim()))"""

READ_CHART = """(testid) => {
  const canvas = document.querySelector(`[data-testid="${testid}"]`);
  const chart = Chart.getChart(canvas);
  if (!chart) return null;
  // Read a copy, so the test's pixel reads do not make Chrome warn about the page's own canvas.
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext("2d", { willReadFrequently: true });
  context.drawImage(canvas, 0, 0);
  const pixels = context.getImageData(0, 0, copy.width, copy.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
  return { type: chart.config.type, labels: chart.data.labels, data: chart.data.datasets.map((d) => d.data),
           inked, area: canvas.width * canvas.height };
}"""


def query_app(client: Any) -> Starlette:
    return create_query_app(client, 10_000, 30, analyst_keys={KEY: [APP]})


@pytest.fixture
def seeded_server(clickhouse: Any) -> Iterator[str]:
    seed(clickhouse)
    yield from serve(query_app(clickhouse))


@pytest.fixture
def empty_server(clickhouse: Any) -> Iterator[str]:
    yield from serve(query_app(clickhouse))


class Watched:
    """A page with its console errors, uncaught exceptions and requests recorded."""

    def __init__(self, browser: Browser, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[Request] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("request", lambda request: self.requests.append(request))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def wait_state(self, state: str, model: str | None = None) -> None:
        selector = f'[data-testid="dashboard"][data-state="{state}"]'
        if model:
            selector += f'[data-model="{model}"]'
        self.page.wait_for_selector(selector, state="attached", timeout=20_000)

    def table(self, testid: str) -> list[list[str]]:
        rows: list[list[str]] = self.page.evaluate(READ_TABLE, testid)
        return rows

    def chart(self, testid: str) -> dict[str, Any]:
        chart: dict[str, Any] | None = self.page.evaluate(READ_CHART, testid)
        assert chart is not None, f"no Chart.js chart on {testid}"
        assert chart["inked"] > 0.01 * chart["area"], f"{testid} looks blank: {chart['inked']} of {chart['area']}"
        return chart

    def wait_error(self, message: str) -> None:
        self.page.wait_for_function(
            "(m) => document.querySelector('[data-testid=\"error\"]').textContent === m", arg=message, timeout=20_000)
        assert self.page.get_attribute('[data-testid="dashboard"]', "data-state") == "error"

    def text(self, testid: str) -> str:
        return self.page.locator(f'[data-testid="{testid}"]').inner_text().strip()

    def close(self) -> None:
        self.context.close()


def test_dashboard_draws_every_report_and_switches_models(
    browser: Browser, seeded_server: str, artifacts: Path
) -> None:
    view = Watched(browser)
    try:
        view.page.goto(f"{seeded_server}/dashboard#app={APP}&key={KEY}&{RANGE}")
        view.wait_state("ready", "first_touch")

        # The key left the address bar at once, lives in sessionStorage and only ever travelled as a header.
        assert "key=" not in view.page.url and KEY not in view.page.url
        assert view.page.evaluate("sessionStorage.getItem('touchstream.analystKey')") == KEY
        api_calls = [r for r in view.requests if "/v1/reports/" in r.url]
        assert {r.url.split("/v1/reports/")[1].split("?")[0] for r in api_calls} == {
            "meta", "channels", "trend", "funnel", "retention", "paths"}
        assert all(KEY not in r.url for r in view.requests)
        assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in api_calls)

        assert view.text("scope") == "shop · 2026-10-01 – 2026-10-31 · CNY"
        options = view.page.eval_on_selector_all('[data-testid="model-select"] option', "os => os.map(o => o.value)")
        # The models present in the credits, standard order, then the population models.
        assert options == [*MODELS, "markov", "shapley"]

        assert view.table("channels-table") == CHANNELS_FIRST_TOUCH
        channels = view.chart("channels-chart")
        assert channels["type"] == "bar"
        assert channels["labels"] == ["douyin", "tencent_ads", "wechat_share"]
        assert channels["data"] == [[1.2, 1.5, 2.5], [150, 50, 20]]  # ROAS, CAC as in the table above

        assert view.table("funnel-table") == FUNNEL
        funnel = view.chart("funnel-chart")
        assert funnel["labels"] == [row[0] for row in FUNNEL]
        assert funnel["data"] == [[6, 6, 5, 5, 3, 3, 1]]

        assert view.table("retention-table") == RETENTION
        # Cells are shaded by rate; a cell that is not observable yet is left empty and unshaded.
        shades = view.page.eval_on_selector_all(
            '[data-testid="retention-table"] tbody td.heat', "cells => cells.map(c => c.style.backgroundColor)")
        assert shades[2] == shades[0] != ""  # 10-01 D30 and D1 are both 50%
        assert shades[3 + 2] == ""  # 10-02 D30
        assert shades[6 + 1] != shades[6 + 0]  # 10-03: D7 100% is darker than D1 0%

        trend = view.chart("trend-chart")
        assert trend["type"] == "line"
        assert trend["labels"] == TREND_DAYS
        assert trend["data"] == [TREND_SPEND, TREND_REVENUE]

        assert view.table("paths-table") == PATHS
        view.page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

        view.page.select_option('[data-testid="model-select"]', "last_touch")
        view.wait_state("ready", "last_touch")
        assert view.table("channels-table") == CHANNELS_LAST_TOUCH
        channels = view.chart("channels-chart")
        assert channels["labels"] == ["douyin", "tencent_ads", "wechat_share"]
        assert channels["data"] == [[0.3333, 1.5, 9.0], [100, 50, 40]]
        assert "model=last_touch" in view.page.url
        assert view.table("paths-table") == PATHS  # model-independent reports stay as they were

        # Phone width: one column, nothing wider than the screen but the tables' own scroll boxes.
        view.page.set_viewport_size({"width": 390, "height": 844})
        view.page.wait_for_timeout(200)  # Chart.js resizes on the next animation frame
        overflow = view.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        view.chart("channels-chart")
        view.page.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=True)

        assert view.errors == []
    finally:
        view.close()


def test_errors_are_explained_in_plain_words(browser: Browser, empty_server: str) -> None:
    wrong = Watched(browser)
    try:
        wrong.page.goto(f"{empty_server}/dashboard#app={APP}&key=not-the-analyst-key&{RANGE}")
        wrong.wait_error("The analyst key was not accepted. Check it and enter it again.")
        assert wrong.page.locator('[data-testid="setup-form"]').is_visible()
        assert wrong.page.evaluate("sessionStorage.getItem('touchstream.analystKey')") is None
        assert all("not-the-analyst-key" not in r.url for r in wrong.requests)

        # The form recovers: the right key, the app prefilled from the fragment.
        assert wrong.page.input_value("#setup-app") == APP
        wrong.page.fill("#setup-key", KEY)
        wrong.page.click('[data-testid="setup-form"] button[type="submit"]')
        wrong.wait_state("ready")
        assert wrong.page.locator('[data-testid="error"]').is_hidden()
        # No data yet: every table says so instead of showing an empty grid.
        assert wrong.table("channels-table") == [["No conversions or spend in this range."]]
        assert wrong.table("paths-table") == [["No first orders in this range."]]

        wrong.page.goto(f"{empty_server}/dashboard#app=other&{RANGE}")
        wrong.wait_error(
            "This analyst key may not read the app “other”. Ask for a key that covers it, or pick another app.")
        assert wrong.page.locator('[data-testid="reports"]').is_hidden()  # shop's figures are not left on screen

        wrong.page.goto(f"{empty_server}/dashboard#app={APP}&from=2026-10-31&to=2026-10-01")
        wrong.wait_error("The report server refused the request: from (2026-10-31) is after to (2026-10-01).")
    finally:
        wrong.close()

    blank = Watched(browser)
    try:
        blank.page.goto(f"{empty_server}/dashboard")
        blank.wait_state("setup")
        assert blank.page.locator('[data-testid="setup-form"]').is_visible()
        assert blank.page.locator('[data-testid="reports"]').is_hidden()
        assert not [r for r in blank.requests if "/v1/reports/" in r.url]
        assert blank.errors == []
    finally:
        blank.close()


def test_page_is_served_under_a_strict_policy_with_the_pinned_chartjs(empty_server: str) -> None:
    page = httpx.get(f"{empty_server}/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # No inline code for the policy to refuse: every script has a src, no element has an on* handler.
    assert all("src=" in attributes for attributes in re.findall(r"<script\b([^>]*)>", page.text))
    assert re.search(r"\son[a-z]+\s*=", page.text) is None
    script = httpx.get(f"{empty_server}/dashboard/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["content-security-policy"] == policy
    vendored = httpx.get(f"{empty_server}/dashboard/static/vendor/chart.umd.min.js")
    assert vendored.status_code == 200
    assert vendored.content.startswith(b"/*!\n * Chart.js v4.5.1\n")
    pinned = re.search(r'^UMD_SHA256="([0-9a-f]{64})"$', (ROOT / "deploy" / "vendor-chartjs.sh").read_text(), re.M)
    assert pinned is not None
    assert hashlib.sha256(vendored.content).hexdigest() == pinned.group(1)
    assert (STATIC_DIR / "vendor" / "LICENSE.chartjs.md").read_text().startswith("The MIT License (MIT)")
