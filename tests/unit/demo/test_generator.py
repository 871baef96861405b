"""The retail demo's month of traffic: deterministic, near the case's figures, valid for the collector, and
resolving to the case's channels. Also the demo app entry (apps.py) and the send schedule (send.py, pure part)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.apps import parse_document
from collector.costs import UploadRules, parse_rows
from collector.money import FxRates
from demo.apps import WEBHOOK_RATE_LIMIT_PER_S, ensure_demo_app
from demo.generator import generate
from demo.scenario import RETAIL
from demo.send import schedule
from demo.traffic import Traffic
from schemas.events import EVENT_ADAPTER
from stream.channels import LaunchSignals, default_taxonomy, resolve_channel
from stream.reports.keys import parse_analyst_keys

START = date(2026, 10, 24)


@pytest.fixture(scope="module")
def month() -> Traffic:
    return generate(7, START, 30, 1.0)


def _enters(traffic: Traffic) -> list[dict[str, Any]]:
    return [e for j in traffic.journeys for e in j.events if e["type"] == "enter"]


def test_same_seed_same_traffic_other_seed_other_traffic() -> None:
    a, b, c = generate(3, START, 2, 0.2), generate(3, START, 2, 0.2), generate(4, START, 2, 0.2)
    assert orjson.dumps(a.events()) == orjson.dumps(b.events())
    assert a.clicks == b.clicks and a.spend == b.spend
    assert orjson.dumps(a.events()) != orjson.dumps(c.events())
    assert a.tag != c.tag  # ids of different runs never collide


def test_volume_of_a_month(month: Traffic) -> None:
    managed = sum(month.truth[s.key].acquisitions for s in RETAIL.channels)
    # 2,000 registrations a month at scale 1.0 (acquisitions_per_day = 2000 / 30), binomial noise of a few %.
    assert 1800 <= managed <= 2200
    visitors = sum(t.visitors for t in month.truth.values())
    assert visitors < 20_000  # "tens of thousands of visitors at most"
    assert len(month.events()) < 200_000


def test_shares_cac_and_roi_are_near_the_case(month: Traffic) -> None:
    managed = sum(month.truth[s.key].acquisitions for s in RETAIL.channels)
    for spec in RETAIL.channels:
        truth = month.truth[spec.key]
        # 40/25/20/15% of acquisitions, each within 3 points (e.g. moments 37%..43%).
        assert abs(truth.acquisitions / managed - spec.acquisition_share) <= 0.03, spec.key
        # CAC 30/28/12/15 yuan within 10% (e.g. moments 27..33).
        assert truth.cac is not None and abs(truth.cac / spec.cac - 1) <= 0.10, (spec.key, truth.cac)
        # ROI 1:2.5/3/6/4.8 within 15% (e.g. community 5.1..6.9).
        assert truth.roi is not None and abs(truth.roi / spec.roi - 1) <= 0.15, (spec.key, truth.roi)
    assert month.truth["friends"].spend == 0 and month.truth["friends"].acquisitions > 0


def test_every_visited_click_meets_its_enter_and_some_clicks_never_visit(month: Traffic) -> None:
    by_id = {}
    for enter in _enters(month):
        query = enter["context"].get("query", {})
        for param in ("gdt_vid", "clickid"):
            if param in query:
                by_id[query[param]] = enter
    clicks = {c.click_id: c for c in month.clicks}
    assert set(by_id) == {c.click_id for c in month.clicks if c.visited}  # no visit without its click
    for click in month.clicks:
        if not click.visited:
            continue
        enter = by_id[click.click_id]
        param = "gdt_vid" if click.platform == "tencent_ads" else "clickid"
        assert enter["context"]["query"][param] == click.click_id
        opened = datetime.fromisoformat(enter["timestamp"])
        assert timedelta(0) < opened - click.at < timedelta(seconds=13)  # the click 2-12 s before the visit
        if click.platform == "tencent_ads":
            # weixinadinfo = <ad id>.<click id>.0.1, the ad id the webhook reports
            assert enter["context"]["query"]["weixinadinfo"] == f"{click.params['ad_id']}.{click.click_id}.0.1"
    assert len(clicks) == len(month.clicks)
    for key, landing in (("moments", 0.85), ("douyin", 0.8)):
        unvisited = sum(not c.visited for c in month.clicks if c.channel_key == key)
        # With landing rate l, a visitor comes with (1 - l) / l clicks that never opened: moments 0.15 / 0.85 =
        # 0.176, douyin 0.2 / 0.8 = 0.25 (within 10%; earlier visits of other people's journeys aside).
        ratio = unvisited / month.truth[key].visitors
        assert abs(ratio / ((1 - landing) / landing) - 1) <= 0.10, (key, ratio)


def test_events_are_valid_for_the_collector_and_inside_the_month(month: Traffic) -> None:
    events = month.events()
    start = datetime(2026, 10, 24, tzinfo=UTC)
    end = start + timedelta(days=30)
    ids = Counter(e["event_id"] for e in events)
    assert ids.most_common(1)[0][1] == 1
    for event in events:
        parsed = EVENT_ADAPTER.validate_python(event)
        assert start - timedelta(hours=1) <= parsed.timestamp < end
    types = Counter(e["type"] for e in events)
    for kind in ("exposure", "click", "enter", "page_view", "custom", "register", "identify", "activate",
                 "convert", "repurchase", "share"):
        assert types[kind] > 0, kind
    orders = [e["properties"]["order_id"] for e in events if e["type"] in ("convert", "repurchase")]
    assert len(orders) == len(set(orders))
    for journey in month.journeys:
        stamps = [e["timestamp"] for e in journey.events]
        assert stamps == sorted(stamps)
        first_orders = [e for e in journey.events if e["type"] == "convert"]
        assert len(first_orders) <= 1


def test_cost_rows_parse_and_spend_is_known_at_each_channels_level(month: Traffic) -> None:
    rows, problems = parse_rows([r.as_json() for r in month.spend], UploadRules("CNY", FxRates({"base": "CNY"})))
    assert problems == []
    assert len(rows) == len(month.spend)
    assert sum(r.spend_reporting for r in rows) == sum(t.spend for t in month.truth.values())
    levels = {(r.channel, r.campaign != "", r.creative != "") for r in rows}
    # Community spend is one operating cost per day; stores per store; ads per creative.
    assert levels == {("wechat_moments_ads", True, True), ("douyin", True, True), ("wechat", False, False),
                      ("qr_code", True, False)}
    assert len({r.date for r in rows}) == 30


def test_enters_resolve_to_the_case_channels(month: Traffic) -> None:
    taxonomy = default_taxonomy()
    expected = {"moments": {"tencent_ads"}, "douyin": {"ocean_engine"}, "community": {"wechat"},
                "stores": {"qr_code"}, "friends": {"wechat_share"}}
    seen: dict[str, set[str]] = {key: set() for key in expected}
    for journey in month.journeys:
        first = next(e for e in journey.events if e["type"] == "enter")
        registering = [e for e in journey.events if e["type"] == "register"]
        # The visit that brought the person is the one they registered in (or their last first-day visit).
        enter = max((e for e in journey.events if e["type"] == "enter"
                     and (not registering or e["timestamp"] <= registering[0]["timestamp"])),
                    key=lambda e: e["timestamp"], default=first)
        context = enter["context"]
        share = context.get("share", {})
        resolution = resolve_channel(LaunchSignals(context.get("scene"), context.get("query", {}),
                                                   context.get("campaign", {}), share.get("from"),
                                                   share.get("depth")), taxonomy)
        seen[journey.arrived_by].add(resolution.channel)
        if journey.arrived_by == "stores":
            assert resolution.campaign.startswith("store_")
    assert seen == expected


def test_journeys_are_multi_touch_for_some_people(month: Traffic) -> None:
    taxonomy = default_taxonomy()
    multi = registered = 0
    for journey in month.journeys:
        registers = [e for e in journey.events if e["type"] == "register"]
        if not registers:
            continue
        registered += 1
        channels = set()
        for e in journey.events:
            if e["type"] == "enter" and e["timestamp"] <= registers[0]["timestamp"]:
                c = e["context"]
                channels.add(resolve_channel(LaunchSignals(c.get("scene"), c.get("query", {}), {}, None, None),
                                             taxonomy).channel)
        multi += len(channels - {"direct"}) > 1
    # prior_visit_rate is 0.2: about one registered person in five came before through another channel.
    assert 0.12 <= multi / registered <= 0.25


def test_schedule_is_in_time_order_with_each_days_spend_after_it(month: Traffic) -> None:
    steps = schedule(month)
    assert [s.hour for s in steps] == sorted(s.hour for s in steps)
    assert sum(len(s.events) for s in steps) == len(month.events())
    assert sum(len(s.clicks) for s in steps) == len(month.clicks)
    for step in steps:
        for row in step.spend:
            assert step.hour == datetime.combine(row.day + timedelta(days=1), datetime.min.time(), UTC)
        for event in step.events:
            assert datetime.fromisoformat(event["timestamp"]) - step.hour < timedelta(hours=1)


def test_demo_app_entry_is_made_once_and_parses(tmp_path: Path) -> None:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [{"app_id": "dev", "write_keys": ["wk_dev_0123456789"]}]}))
    path.chmod(0o640)
    app = ensure_demo_app(path)
    written = path.read_bytes()
    registry = parse_document(written, "apps.json")
    assert registry.keys[app.write_key].app_id == "retail-demo"
    assert registry.keys["wk_dev_0123456789"].app_id == "dev"  # the other app is left as it was
    assert registry.admin_keys[app.admin_key].reporting_currency == "CNY"
    hooks = {i.platform: i for i in registry.integrations.values()}
    assert (hooks["tencent_ads"].channel, hooks["ocean_engine"].channel) == ("wechat_moments_ads", "douyin")
    assert hooks["tencent_ads"].rate_limit_per_s == WEBHOOK_RATE_LIMIT_PER_S == 5000.0
    assert app.webhooks["moments"].token == hooks["tencent_ads"].token
    analysts = parse_analyst_keys(orjson.loads(written), "apps.json")
    assert analysts.apps_for(app.analyst_key) == frozenset({"retail-demo"})
    assert path.stat().st_mode & 0o777 == 0o640  # the operator's permissions are kept
    again = ensure_demo_app(path)
    assert again == app and path.read_bytes() == written  # kept, not rewritten


def test_demo_app_entry_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "apps.json"
    app = ensure_demo_app(path)
    assert path.stat().st_mode & 0o777 == 0o600  # a new file holds secrets
    doc = orjson.loads(path.read_bytes())
    entry = doc["apps"][0]
    entry["reporting_currency"] = "USD"
    entry["analyst_keys"] = []
    entry["integrations"][0]["rate_limit_per_s"] = 200
    path.write_bytes(orjson.dumps(doc))
    repaired = ensure_demo_app(path)
    assert repaired.write_key == app.write_key and repaired.webhooks == app.webhooks
    assert repaired.analyst_key != app.analyst_key and len(repaired.analyst_key) >= 16
    entry = orjson.loads(path.read_bytes())["apps"][0]
    assert entry["reporting_currency"] == "CNY"
    assert [i["rate_limit_per_s"] for i in entry["integrations"]] == [5000.0, 5000.0]


def test_small_run_has_every_channel() -> None:
    traffic = generate(7, START, 2, 0.3)
    registered = {k for k, t in traffic.truth.items() if t.acquisitions}
    assert registered >= {"moments", "douyin", "community", "stores"}
    assert {r.channel for r in traffic.spend} == {"wechat_moments_ads", "douyin", "wechat", "qr_code"}
    # 2 days × 2000/30 registrations a day × 0.3 = 40 registrations, give or take binomial noise.
    managed = sum(traffic.truth[s.key].acquisitions for s in RETAIL.channels)
    assert 30 <= managed <= 50
    assert all(r.spend == r.spend.quantize(Decimal("0.01")) for r in traffic.spend)  # whole cents
