"""A month of the retail case (`demo.scenario`) as plain data. PURE: no I/O, no clock; the same
seed, start, days and scale give the same traffic, byte for byte.

Per person: a journey of SDK events (exposure and click of the entry point, enter, page views, add-to-cart,
register + identify, activate, first order, later visits, repurchases, shares that bring friends in); per ad
click: the call the ad platform makes to our webhook (clicks whose visit never opened included); per day:
spend rows at the level each channel knows them. Budgets drive volume: a creative's daily spend divided by its
cost per acquisition and the channel's registration rate gives its visitors, so spend / acquisitions comes out
near the scenario's CAC. One visitor in five came once before through another channel, so the models disagree.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from demo.scenario import RETAIL, Campaign, ChannelScenario, Creative, Scenario
from demo.traffic import AdClick, ChannelTruth, Journey, SpendRow, Traffic
from schemas.events import PURCHASE_TYPES, format_timestamp

SDK = {"name": "touchstream-miniprogram", "version": "1.4.2"}
APP_VERSION = "3.2.1"
# Relative arrivals per local hour (0..23): quiet nights, a lunch peak and an evening peak.
HOURLY = (3, 2, 1, 1, 1, 2, 5, 10, 14, 15, 15, 16, 20, 18, 14, 13, 13, 14, 16, 20, 24, 25, 19, 10)
DIRECT_SCENES = ((1089, 0.5), (1001, 0.25), (1023, 0.15), (1104, 0.1))
DEVICES = (("iPhone", "iPhone 15", "iOS", "17.5"), ("HUAWEI", "Mate 60", "Android", "12"),
           ("Xiaomi", "Redmi K70", "Android", "14"), ("OPPO", "Reno 11", "Android", "14"),
           ("vivo", "X100", "Android", "14"), ("iPhone", "iPhone 13", "iOS", "16.7"))
NETWORKS = ("wifi", "wifi", "5g", "4g", "4g")
SKUS = tuple(f"sku-{n:04d}" for n in range(1, 241))
ORDER_VALUE_SIGMA = 0.35  # lognormal spread of order values around their mean


def run_tag(seed: int, start: date, days: int, scale: float) -> str:
    return hashlib.sha256(f"{seed}|{start.isoformat()}|{days}|{scale!r}".encode()).hexdigest()[:6]


def generate(seed: int, start: date, days: int, scale: float = 1.0, scenario: Scenario = RETAIL) -> Traffic:
    if days < 1 or scale <= 0:
        msg = f"days must be >= 1 and scale > 0, got days={days}, scale={scale}"
        raise ValueError(msg)
    tag = run_tag(seed, start, days, scale)
    builder = _Builder(random.Random(f"retail-demo|{tag}"), scenario, start, days, tag)
    for day in range(days):
        for spec in scenario.channels:
            builder.channel_day(spec, day, scale)
    builder.friends()
    truth = {spec.key: ChannelTruth() for spec in (*scenario.channels, scenario.organic)}
    for row in builder.spend:
        truth[_key_of_channel(scenario, row.channel)].spend += row.spend
    for journey in builder.journeys:
        t = truth[journey.arrived_by]
        t.visitors += 1
        t.acquisitions += any(e["type"] == "register" for e in journey.events)
        for e in journey.events:
            if e["type"] in PURCHASE_TYPES:
                t.orders += 1
                t.revenue += Decimal(e["properties"]["revenue"])
    # A click just before midnight on the last day may open a visit after the run: then it is a click alone.
    opened = {e["context"]["query"][p] for j in builder.journeys for e in j.events if e["type"] == "enter"
              for p in ("gdt_vid", "clickid") if p in e["context"].get("query", {})}
    clicks = sorted((replace(c, visited=c.click_id in opened) for c in builder.clicks),
                    key=lambda c: (c.at, c.click_id))
    return Traffic(seed, start, days, scale, tag, tuple(builder.journeys), tuple(clicks), tuple(builder.spend), truth)


def _key_of_channel(scenario: Scenario, channel: str) -> str:
    return next(s.key for s in (*scenario.channels, scenario.organic) if s.channel == channel)


@dataclass(slots=True)
class _Launch:
    """The signals of one visit, and what the SDK saw just before it opened."""

    scene: int | None
    query: dict[str, str]
    campaign: dict[str, str] = field(default_factory=dict)
    share: dict[str, Any] = field(default_factory=dict)
    click_at: datetime | None = None  # the tap on the ad, card or code that opened the visit
    exposure: tuple[int | None, dict[str, str]] | None = None  # scene and query of the ad or card shown before
    landing: str = "pages/index/index"


_NO_CAMPAIGN = Campaign("", 1.0, (Creative("", 1.0, 1.0),))


@dataclass(slots=True)
class _Person:
    anon: str
    openid: str
    device: dict[str, Any]
    network: str
    user_id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


class _Builder:
    def __init__(self, rng: random.Random, scenario: Scenario, start: date, days: int, tag: str) -> None:
        self.rng = rng
        self.s = scenario
        self.start = datetime.combine(start, datetime.min.time(), UTC)
        self.end = self.start + timedelta(days=days)
        self.days = days
        self.tag = tag
        self.journeys: list[Journey] = []
        self.clicks: list[AdClick] = []
        self.spend: list[SpendRow] = []
        self.shares: list[tuple[datetime, int, str, str, int, str]] = []  # heap of friends to come
        self.counter = {"event": 0, "person": 0, "user": 0, "order": 0, "click": 0, "share": 0}
        self.ad_ids: dict[str, str] = {}

    def next_id(self, kind: str) -> int:
        self.counter[kind] += 1
        return self.counter[kind]

    # -- volume and spend ---------------------------------------------------------------------------------------

    def channel_day(self, spec: ChannelScenario, day: int, scale: float) -> None:
        r = self.rng
        day_start = self.start + timedelta(days=day)
        target = self.s.acquisitions_per_day * scale * spec.acquisition_share * self._day_factor(spec, day)
        units = [(c, k, c.weight * k.weight) for c in spec.campaigns for k in c.creatives]
        mean_factor = sum(w * k.cost_factor for _, k, w in units)  # so the channel's CAC is spec.cac
        budgets: dict[tuple[str, str], Decimal] = {}
        for campaign, creative, weight in units:
            cac = spec.cac * creative.cost_factor / mean_factor
            budget = target * weight * cac * r.uniform(0.85, 1.15)
            if spec.spend_level == "creative":
                level = (campaign.id, creative.id)
            else:
                level = (campaign.id, "") if spec.spend_level == "campaign" else ("", "")
            budgets[level] = budgets.get(level, Decimal(0)) + Decimal(f"{budget:.2f}")
            visitors = self._round(budget / cac / spec.register_rate)
            for _ in range(visitors):
                self.person(spec, campaign, creative, self._arrival(day_start, spec))
            if spec.landing_rate < 1:
                for _ in range(self._round(visitors * (1 - spec.landing_rate) / spec.landing_rate)):
                    self._ad_click(spec, campaign, creative, self._arrival(day_start, spec))
        for (campaign_id, creative_id), amount in budgets.items():
            self.spend.append(SpendRow(day_start.date(), spec.channel, campaign_id, creative_id, amount,
                                       spec.spend_source, self.s.currency))

    def _day_factor(self, spec: ChannelScenario, day: int) -> float:
        """Weekday rhythm, normalised over the run so the channel's month keeps its share."""
        factors = [spec.weekend_factor if (self.start + timedelta(days=d)).weekday() >= 5 else 1.0
                   for d in range(self.days)]
        return factors[day] * len(factors) / sum(factors)

    def _round(self, expected: float) -> int:
        whole = math.floor(expected)
        return whole + (self.rng.random() < expected - whole)

    def _arrival(self, day_start: datetime, spec: ChannelScenario) -> datetime:
        lo, hi = spec.open_hours
        hours = list(range(lo, hi))
        hour = self.rng.choices(hours, weights=[HOURLY[h] for h in hours])[0]
        utc_hour = (hour - self.s.utc_offset_hours) % 24
        return day_start + timedelta(hours=utc_hour, seconds=self.rng.uniform(0, 3600))


    # -- launches -----------------------------------------------------------------------------------------------

    def _launch(self, spec: ChannelScenario, campaign: Campaign, creative: Creative, at: datetime,
                share: tuple[str, int, str, str] | None = None) -> _Launch:
        """The signals of a visit at `at`; for the ad channels also the platform's click, sent to the webhook."""
        click_at = at - timedelta(seconds=self.rng.uniform(2, 12))
        if spec.entry == "tencent_ads":
            click = self._ad_click(spec, campaign, creative, click_at)
            info = f"{click.params['ad_id']}.{click.click_id}.0.1"
            return _Launch(1045, {"gdt_vid": click.click_id, "weixinadinfo": info}, click_at=click_at,
                           exposure=(1045, {}), landing="pages/promo/new-user")
        if spec.entry == "ocean_engine":
            click = self._ad_click(spec, campaign, creative, click_at)
            # Douyin opens WeChat through the open SDK (scene 1069); the ad itself was shown inside Douyin.
            return _Launch(1069, {"clickid": click.click_id}, click_at=click_at,
                           exposure=(None, {"utm_source": "douyin", "utm_medium": "cpm"}),
                           landing="pages/promo/new-user")
        if spec.entry == "community_link":
            query = {"utm_source": "wechat", "utm_medium": "community", "utm_campaign": campaign.id,
                     "utm_content": creative.id}
            utm = {"source": "wechat", "medium": "community", "name": campaign.id, "content": creative.id}
            return _Launch(1008, query, utm, click_at=click_at, exposure=(1008, query),
                           landing="pages/activity/group-deal")
        if spec.entry == "store_code":
            # A mini-program code carries at most 32 characters of `scene`: the store is the campaign.
            return _Launch(1047, {"scene": f"utm_campaign%3D{campaign.id}"}, click_at=click_at)
        if share is None:
            msg = "a share-card visit needs its sharer"
            raise ValueError(msg)
        sharer, depth, method, share_id = share
        return _Launch(1008 if method == "group" else 1007, {"share_from": sharer, "share_id": share_id},
                       share={"from": sharer, "depth": depth}, click_at=click_at, landing="pages/goods/detail")

    def _ad_click(self, spec: ChannelScenario, campaign: Campaign, creative: Creative, at: datetime) -> AdClick:
        r = self.rng
        n = self.next_id("click")
        ad_id = self.ad_ids.setdefault(creative.id, str(7_310_000 + len(self.ad_ids) * 17))
        ip = f"{r.choice((183, 117, 223, 112, 36))}.{r.randint(1, 254)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) MicroMessenger/8.0.49"
        noise = f"{r.getrandbits(40):010x}"
        if spec.entry == "tencent_ads":
            click_id = f"wx0{self.tag}{n:05d}{noise}"
            params = {"click_id": click_id, "click_time": str(int(at.timestamp())), "account_id": "25610001",
                      "campaign_id": campaign.id, "adgroup_id": f"{campaign.id}_ag1", "ad_id": ad_id,
                      "dynamic_creative_id": creative.id, "ip": ip, "user_agent": ua,
                      "callback": f"http://tracking.e.qq.com/conv?cb={noise}"}
        else:
            click_id = f"B.{self.tag}{n:05d}{noise}"
            params = {"clickid": click_id, "ts": str(int(at.timestamp() * 1000)),
                      "advertiser_id": "1780000000000001", "project_id": campaign.id, "promotion_id": ad_id,
                      "cid": creative.id, "ip": ip, "ua": ua, "callback_param": f"cb_{noise}"}
        click = AdClick(at, spec.key, spec.entry, click_id, params, visited=False)  # set once the visits are known
        if at < self.end:  # a visit on the first morning may come from a click the night before the run
            self.clicks.append(click)
        return click

    def _return_launch(self, spec: ChannelScenario, at: datetime) -> _Launch:
        """A registered user's later visit: mostly from the recently-used list, some through their channel."""
        r = self.rng
        if r.random() < spec.return_share:
            campaign = r.choices(spec.campaigns, weights=[c.weight for c in spec.campaigns])[0]
            return self._launch(spec, campaign, campaign.creatives[0], at)
        scene = r.choices([sc for sc, _ in DIRECT_SCENES], weights=[w for _, w in DIRECT_SCENES])[0]
        return _Launch(scene, {})

    # -- people -------------------------------------------------------------------------------------------------

    def person(self, spec: ChannelScenario, campaign: Campaign, creative: Creative, at: datetime,
               share: tuple[str, int, str, str] | None = None) -> None:
        r, s = self.rng, self.s
        n = self.next_id("person")
        brand, model, os_name, os_version = r.choice(DEVICES)
        p = _Person(f"rd{self.tag}-anon-{n:06d}", f"o{self.tag}{n:06d}{r.getrandbits(32):08x}",
                    {"brand": brand, "model": model, "os": os_name, "os_version": os_version}, r.choice(NETWORKS))
        if share is None and r.random() < s.prior_visit_rate:
            self._prior_visit(p, spec, at - timedelta(hours=r.uniform(20, 120)))
        depth = share[1] if share else 0
        registers = r.random() < spec.register_rate
        buys = registers and r.random() < spec.first_order_rate
        same_visit = buys and r.random() < s.same_visit_order_share
        plan: list[tuple[datetime, str | None]] = []
        if registers:
            day0 = datetime.combine(at.date(), datetime.min.time(), UTC)
            plan += [(self._arrival(day0 + timedelta(days=k), s.organic), None)
                     for k in range(1, (self.end - day0).days) if r.random() < s.active_probability(k)]
            first_at = at + timedelta(hours=min(r.expovariate(1 / s.first_order_delay_hours), 150))
            if buys and not same_visit:
                plan.append((first_at, "convert"))
            if buys and r.random() < s.repurchase_rate:
                again = (at if same_visit else first_at) + timedelta(days=r.uniform(*s.repurchase_gap_days))
                plan.append((again, "repurchase"))
                if r.random() < s.another_repurchase_rate:
                    plan.append((again + timedelta(days=r.uniform(*s.repurchase_gap_days)), "repurchase"))
        plan = sorted((t, kind) for t, kind in plan if t < self.end)
        share_slot = r.randrange(len(plan) + 1) if registers and depth < s.max_share_depth and \
            r.random() < s.share_rate else -1
        end = self._visit(p, at, self._launch(spec, campaign, creative, at, share), spec, pages=r.randint(1, 4),
                          register=registers, order="convert" if same_visit else None, share=share_slot == 0,
                          depth=depth)
        for slot, (planned, order) in enumerate(plan, start=1):
            if planned >= self.end:
                break
            begin = max(planned, end + timedelta(minutes=r.uniform(10, 60)))
            end = self._visit(p, begin, self._return_launch(spec, begin), spec, pages=r.randint(1, 2),
                              order=order, share=share_slot == slot, depth=depth)
        cutoff = format_timestamp(self.end)
        events = sorted((e for e in p.events if e["timestamp"] < cutoff), key=lambda e: e["timestamp"])
        self.journeys.append(Journey(p.anon, spec.key, tuple(events)))

    def _prior_visit(self, p: _Person, spec: ChannelScenario, at: datetime) -> None:
        """An earlier visit through another channel that did not convert: the journey becomes multi-touch."""
        if at < self.start:
            return
        r = self.rng
        others = [c for c in self.s.channels if c is not spec]
        other = r.choices(others, weights=[c.acquisition_share for c in others])[0]
        campaign = r.choices(other.campaigns, weights=[c.weight for c in other.campaigns])[0]
        creative = r.choices(campaign.creatives, weights=[k.weight for k in campaign.creatives])[0]
        self._visit(p, at, self._launch(other, campaign, creative, at), other, pages=r.randint(1, 3))

    def friends(self) -> None:
        """The friends that share cards bring in, and the friends their own shares bring (depth + 1)."""
        r = self.rng
        while self.shares:
            at, _, sharer, method, depth, share_id = heapq.heappop(self.shares)
            for _ in range(r.choice(self.s.friends_per_share)):
                opened = at + timedelta(hours=min(r.expovariate(1 / 3), 48))
                if opened < self.end:
                    self.person(self.s.organic, _NO_CAMPAIGN, _NO_CAMPAIGN.creatives[0], opened,
                                share=(sharer, depth, method, share_id))

    # -- visits and events --------------------------------------------------------------------------------------

    def _visit(self, p: _Person, at: datetime, launch: _Launch, spec: ChannelScenario, *, pages: int,
               register: bool = False, order: str | None = None, share: bool = False, depth: int = 0) -> datetime:
        """One visit's events from `at` on; returns when the visit ended."""
        r = self.rng
        if launch.click_at is not None:
            if launch.exposure is not None:
                shown = _Launch(launch.exposure[0], launch.exposure[1])
                self._event(p, "exposure", launch.click_at - timedelta(seconds=r.uniform(20, 300)), shown, "",
                            {"placement": spec.key})
            self._event(p, "click", launch.click_at, launch, "", {"placement": spec.key})
        t = at
        self._event(p, "enter", t, launch, launch.landing)
        self._event(p, "page_view", t := self._step(t), launch, launch.landing)
        cart: list[str] = []
        for _ in range(pages):
            sku = r.choice(SKUS)
            self._event(p, "page_view", t := self._step(t), launch, "pages/goods/detail", {"sku": sku})
            if r.random() < 0.3:
                cart.append(sku)
                self._event(p, "custom", t := self._step(t), launch, "pages/goods/detail",
                            {"sku": sku, "quantity": r.randint(1, 3)}, name="add_to_cart")
        if register:
            self._event(p, "page_view", t := self._step(t), launch, "pages/user/register")
            p.user_id = f"u{self.tag}{self.next_id('user'):06d}"  # the login that registering gives
            self._event(p, "register", t := self._step(t), launch, "pages/user/register", {"method": "wechat_phone"})
            traits: dict[str, Any] = {"member_level": 1}
            extra: dict[str, Any] = {"traits": traits}
            if r.random() < 0.6:
                extra["phone"] = f"+86{r.choice((138, 139, 186, 159))}{r.randint(10**7, 10**8 - 1)}"
            self._event(p, "identify", t, launch, "pages/user/register", None, **extra)
            if r.random() < self.s.activation_rate:
                self._event(p, "activate", t := self._step(t), launch, "pages/coupon/index",
                            {"feature": "new_user_coupon"})
        if order is not None:
            if not cart:
                cart.append(r.choice(SKUS))
                self._event(p, "custom", t := self._step(t), launch, "pages/goods/detail",
                            {"sku": cart[0], "quantity": 1}, name="add_to_cart")
            self._event(p, "page_view", t := self._step(t), launch, "pages/cart/index")
            self._event(p, "page_view", t := self._step(t), launch, "pages/order/confirm")
            value = math.exp(r.gauss(math.log(spec.order_value) - ORDER_VALUE_SIGMA**2 / 2, ORDER_VALUE_SIGMA))
            order_id = f"RD{self.tag}{self.next_id('order'):06d}".upper()
            self._event(p, order, t := self._step(t), launch, "pages/order/confirm",
                        {"order_id": order_id, "revenue": f"{max(value, 9.9):.2f}", "currency": self.s.currency,
                         "items": len(cart)})
            self._event(p, "page_view", t := self._step(t), launch, "pages/order/result")
        if share and p.user_id is not None:
            share_id = f"sh{self.tag}{self.next_id('share'):06d}"
            method = r.choices(("chat", "group"), weights=(0.6, 0.4))[0]
            self._event(p, "share", t := self._step(t), launch, "pages/goods/detail", None, share_id=share_id,
                        method=method)
            heapq.heappush(self.shares, (t, self.counter["share"], p.user_id, method, depth + 1, share_id))
        return t

    def _step(self, t: datetime) -> datetime:
        return t + timedelta(seconds=self.rng.uniform(4, 40))

    def _event(self, p: _Person, kind: str, at: datetime, launch: _Launch, path: str,
               properties: dict[str, Any] | None = None, **extra: Any) -> None:
        context: dict[str, Any] = {"platform": "wechat", "app_version": APP_VERSION, "sdk": SDK}
        if launch.scene is not None:
            context["scene"] = launch.scene
        if path:
            context["path"] = path
        if launch.query:
            context["query"] = launch.query
        if launch.campaign:
            context["campaign"] = launch.campaign
        if launch.share:
            context["share"] = launch.share
        context["device"] = p.device
        context["network"] = p.network
        event: dict[str, Any] = {"event_id": f"rd{self.tag}-{self.next_id('event'):07d}", "type": kind,
                                 "timestamp": format_timestamp(at), "anonymous_id": p.anon, "openid": p.openid}
        if p.user_id is not None:
            event["user_id"] = p.user_id
        event["context"] = context
        if properties:
            event["properties"] = properties
        event.update(extra)
        p.events.append(event)
