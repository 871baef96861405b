"""Realistic SDK events for the benchmarks: a pool of users per app, each with several touchpoints."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

_DEVICES = (
    {"brand": "Apple", "model": "iPhone 15 Pro", "os": "iOS", "os_version": "17.4.1", "screen_width": 393,
     "screen_height": 852},
    {"brand": "HUAWEI", "model": "Mate 60 Pro", "os": "HarmonyOS", "os_version": "4.0.0", "screen_width": 412,
     "screen_height": 915},
    {"brand": "Xiaomi", "model": "Redmi K70", "os": "Android", "os_version": "14", "screen_width": 393,
     "screen_height": 873},
    {"brand": "OPPO", "model": "Find X7", "os": "Android", "os_version": "14", "screen_width": 360,
     "screen_height": 800},
    {"brand": "vivo", "model": "X100", "os": "Android", "os_version": "14", "screen_width": 360,
     "screen_height": 780},
)
_PATHS = ("pages/index/index", "pages/goods/detail", "pages/goods/list", "pages/cart/cart",
          "pages/order/confirm", "pages/user/center", "pages/search/result", "pages/activity/spring")
_NETWORKS = ("wifi", "5g", "4g", "wifi", "wifi")
_CUSTOM = ("add_to_cart", "search", "coupon_claim", "favorite", "video_play", "checkout_start")
_UTM = (
    {"utm_source": "douyin", "utm_medium": "cpc", "utm_campaign": "spring_sale_2026"},
    {"utm_source": "xiaohongshu", "utm_medium": "kol", "utm_campaign": "winter_launch"},
    {"utm_source": "wechat", "utm_medium": "article", "utm_campaign": "official_account_1123"},
    {"utm_source": "weibo", "utm_medium": "social", "utm_campaign": "double11_recap"},
)
# (event type, weight): the 7 lifecycle types of the contract (exposure … repurchase) plus share and identify,
# page_view and custom; convert + repurchase ≈ 2 %.
TYPE_WEIGHTS = (
    ("page_view", 0.36), ("custom", 0.20), ("exposure", 0.15), ("enter", 0.09), ("click", 0.08),
    ("share", 0.03), ("register", 0.02), ("activate", 0.015), ("identify", 0.015), ("purchase", 0.021),
)
PURCHASE = ("convert", "repurchase")  # the client sends convert for its first order, repurchase later


@dataclass
class _User:
    anonymous_id: str
    openid: str | None
    device: dict[str, Any]
    app_version: str
    platform: str
    planned: int
    emitted: int = 0
    launch: dict[str, Any] = field(default_factory=dict)  # scene/query/campaign/share of the current visit
    user_id: str | None = None
    registered: bool = False
    activated: bool = False
    purchases: int = 0


class EventGenerator:
    """SDK events (~600 B each as JSON) from a pool of users per app, each with several touchpoints.

    Each user starts with an `enter` (a touchpoint: share card, ad with gdt_vid, UTM link, QR code or direct
    entry), later visits bring new touchpoints, about 2 % of events are purchases (convert/repurchase, with
    order_id and revenue). Deterministic for a seed; event ids are unique per generator (random prefix).
    """

    def __init__(self, apps: list[str], seed: int = 1, users_per_app: int = 200) -> None:
        self.rng = random.Random(seed)
        self.apps = apps
        self.prefix = f"{self.rng.getrandbits(64):016x}"
        self.users_per_app = users_per_app
        self.pools: dict[str, list[_User]] = {app: [self._new_user() for _ in range(users_per_app)] for app in apps}
        self._types = [t for t, _ in TYPE_WEIGHTS]
        self._weights = [w for _, w in TYPE_WEIGHTS]
        self.count = 0

    def _id(self, tag: str) -> str:
        self.count += 1
        return f"{self.prefix}{tag}{self.count:015x}"

    def _new_user(self) -> _User:
        r = self.rng
        platform = r.choices(("wechat", "alipay", "douyin"), (0.85, 0.1, 0.05))[0]
        return _User(
            anonymous_id=f"dev-{r.getrandbits(64):016x}",
            openid=f"o{r.getrandbits(128):032x}"[:28] if platform == "wechat" else None,
            device=r.choice(_DEVICES),
            app_version=r.choice(("3.12.0", "3.12.1", "3.11.4")),
            platform=platform,
            planned=r.randint(10, 80),
        )

    def _launch(self) -> dict[str, Any]:
        r = self.rng
        kind = r.random()
        if kind < 0.25:  # share card
            return {"scene": r.choice((1007, 1008, 1044)), "query": {"share_ticket": f"st{r.getrandbits(40):x}"},
                    "share": {"from": f"dev-{r.getrandbits(64):016x}", "depth": r.randint(1, 3)}}
        if kind < 0.45:  # Tencent ad click: the click id arrives in the launch query
            return {"scene": 1045, "query": {"gdt_vid": f"wx0{r.getrandbits(60):015x}",
                                             "weixinadinfo": f"{r.randint(10**8, 10**9)}.0.0.0"}}
        if kind < 0.7:  # UTM-tagged link
            utm = r.choice(_UTM)
            return {"scene": 1037, "query": dict(utm),
                    "campaign": {"source": utm["utm_source"], "medium": utm["utm_medium"],
                                 "name": utm["utm_campaign"]}}
        if kind < 0.85:  # QR / mini-program code
            return {"scene": r.choice((1047, 1011)), "query": {"scene": f"store_{r.randint(1, 300)}"}}
        return {"scene": r.choice((1001, 1089, 1256)), "query": {}}  # direct entry

    def event(self, app: str, now_ms: int) -> dict[str, Any]:
        r = self.rng
        pool = self.pools[app]
        slot = r.randrange(len(pool))
        user = pool[slot]
        if user.emitted >= user.planned:
            user = pool[slot] = self._new_user()
        if user.emitted == 0:
            kind = "enter"
        else:
            kind = r.choices(self._types, self._weights)[0]
            if (kind == "register" and user.registered) or (kind == "activate" and user.activated) or (
                kind == "identify" and user.user_id is not None
            ):
                kind = "page_view"
            if kind == "purchase":
                kind = "repurchase" if user.purchases else "convert"
        user.emitted += 1
        if kind == "enter" or not user.launch:
            user.launch = _platform_scene(self._launch(), user.platform)
        context: dict[str, Any] = {
            "platform": user.platform,
            "app_version": user.app_version,
            "sdk": {"name": "touchstream-miniprogram", "version": "1.4.2"},
            "path": r.choice(_PATHS),
            "device": user.device,
            "network": r.choice(_NETWORKS),
            **user.launch,
        }
        event: dict[str, Any] = {
            "event_id": self._id("e"),
            "type": kind,
            "timestamp": now_ms - r.randint(0, 400),
            "anonymous_id": user.anonymous_id,
        }
        if user.openid:
            event["openid"] = user.openid
        if user.user_id:
            event["user_id"] = user.user_id
        event["context"] = context
        props: dict[str, Any] = {}
        if kind == "custom":
            event["name"] = r.choice(_CUSTOM)
            props = {"sku": f"sku-{r.randint(1, 5000)}", "price": r.randint(100, 99900) / 100}
        elif kind == "page_view":
            props = {"title": "商品详情", "duration_ms": r.randint(200, 60_000)}
        elif kind in ("exposure", "click"):
            props = {"slot": r.choice(("home_banner", "feed_card", "search_top")),
                     "item_id": f"sku-{r.randint(1, 5000)}", "position": r.randint(1, 20)}
        elif kind == "share":
            event["share_id"] = self._id("s")
            event["method"] = r.choice(("chat", "group", "timeline"))
        elif kind == "identify":
            user.user_id = f"u-{r.getrandbits(48):012x}"
            event["user_id"] = user.user_id
            if r.random() < 0.3:
                event["phone"] = f"+86138{r.randint(10**7, 10**8 - 1)}"
            event["traits"] = {"level": r.randint(1, 5)}
        elif kind == "register":
            user.registered = True
            props = {"method": "wechat_phone"}
        elif kind == "activate":
            user.activated = True
            props = {"feature": "first_coupon"}
        elif kind in PURCHASE:
            user.purchases += 1
            props = {"order_id": self._id("o"), "revenue": f"{r.randint(990, 99_900) / 100:.2f}",
                     "currency": "CNY", "items": r.randint(1, 4), "coupon": r.choice(("", "NEW10", "VIP5"))}
        if props or kind != "share":
            event["properties"] = props
        return event

    def batch(self, app: str, size: int, now_ms: int) -> list[dict[str, Any]]:
        return [self.event(app, now_ms) for _ in range(size)]


def batch_body(events: list[dict[str, Any]], sent_at_ms: int) -> bytes:
    return orjson.dumps({"sent_at": sent_at_ms, "events": events})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def conversions_in(events: list[dict[str, Any]]) -> list[str]:
    """The conversion ids (as the processor names them) of the purchases in a batch."""
    return [f"order:{e['properties']['order_id']}" for e in events if e["type"] in PURCHASE]


def _platform_scene(launch: dict[str, Any], platform: str) -> dict[str, Any]:
    """WeChat scenes are integers, the other platforms' are strings of their own widths (schemas/scenes.py).
    Non-WeChat launches carry no scene here, so the same records are valid for a baseline checkout from before
    per-platform scenes (d346ffb took a WeChat integer for every platform) and both sides do the same work."""
    if platform != "wechat":
        launch.pop("scene", None)
    return launch
