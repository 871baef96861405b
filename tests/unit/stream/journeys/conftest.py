"""Fixtures of the journey-engine tests: enriched-event dicts, an engine with the default taxonomy, a recorder.

Events are built in the shape `schemas.enrich.enrich` produces (every SDK field present, `None` when absent,
`event_time` ISO-8601 UTC with milliseconds and `Z`, purchase `revenue` an exact decimal string), so the engine
sees what it sees in production. Ad-platform clicks use the webhook shape of the ad-click topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import strategies as st

from schemas.events import format_timestamp
from stream.channels import default_taxonomy
from stream.channels.taxonomy import Taxonomy
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.journeys.outputs import ConversionRow, CreditRow, EngineOutput, IdentityRow, TouchpointRow

APP = "app_test"
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)

PURCHASES = ("convert", "repurchase")
_CONTEXT_KEYS = ("scene", "query", "campaign", "share")
_ID_KEYS = ("user_id", "openid", "unionid", "phone_hash")


def day(n: float, hours: float = 0) -> datetime:
    """`T0` + n days (+ hours): day 1 is T0 itself."""
    return T0 + timedelta(days=n - 1, hours=hours)


def ev(event_id: str, type: str, time: datetime, anonymous_id: str = "A", **fields: Any) -> dict[str, Any]:
    """An enriched event dict.

    `fields`: `scene`, `query` (dict), `campaign` (dict with source/medium/name/content/term), `share` (dict
    with from/depth) go to `context`; `user_id`, `openid`, `unionid`, `phone_hash` are ids; `order_id`,
    `revenue`, `currency` go to the purchase `properties` (revenue defaults to "0", currency to CNY).
    """
    unknown = set(fields) - {*_CONTEXT_KEYS, *_ID_KEYS, "order_id", "revenue", "currency", "properties"}
    if unknown:
        raise TypeError(f"unknown event fields {sorted(unknown)}")
    campaign = fields.get("campaign")
    share = fields.get("share")
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": type,
        "timestamp": format_timestamp(time),
        "anonymous_id": anonymous_id,
        "user_id": fields.get("user_id"),
        "openid": fields.get("openid"),
        "unionid": fields.get("unionid"),
        "context": {
            "platform": "wechat",
            "app_version": None,
            "sdk": None,
            "scene": fields.get("scene"),
            "path": None,
            "query": fields.get("query"),
            "campaign": None if campaign is None else {
                k: campaign.get(k) for k in ("source", "medium", "name", "content", "term")
            },
            "share": None if share is None else {"from": share.get("from"), "depth": share.get("depth")},
            "device": None,
            "network": None,
        },
        "app_id": APP,
        "sent_at": None,
        "received_at": format_timestamp(time),
        "event_time": format_timestamp(time),
        "clock_corrected": False,
        "clock_clamped": False,
        "ip": None,
        "user_agent": None,
    }
    if fields.get("phone_hash") is not None:
        event["phone_hash"] = fields["phone_hash"]
    if type in PURCHASES:
        event["properties"] = {
            "order_id": fields.get("order_id", f"o-{event_id}"),
            "revenue": str(fields.get("revenue", "0")),
            "currency": fields.get("currency", "CNY"),
        }
    else:
        event["properties"] = fields.get("properties", {})
    return event


def ad_click(
    event_id: str, time: datetime, click_id: str, *, platform: str = "tencent_ads", channel: str = "tencent_ads",
    campaign: str = "", creative: str = "",
) -> dict[str, Any]:
    """An ad-platform click, as the webhook side hands it to the engine."""
    return {
        "event_id": event_id, "type": "ad_click", "event_time": format_timestamp(time), "click_id": click_id,
        "platform": platform, "channel": channel, "campaign": campaign, "creative": creative,
    }


def make_engine(config: AttributionConfig | None = None, taxonomy: Taxonomy | None = None) -> AppEngine:
    return AppEngine(APP, config or AttributionConfig(), taxonomy or default_taxonomy())


@dataclass
class Recorder:
    """Feeds events with increasing versions (step 10) and keeps every output, per event and in total."""

    engine: AppEngine
    version: int = 0
    step: int = 10
    outputs: list[EngineOutput] = field(default_factory=list)
    total: EngineOutput = field(default_factory=EngineOutput)

    def __call__(self, event: dict[str, Any]) -> EngineOutput:
        self.version += self.step
        out = self.engine.apply(event, self.version)
        self.outputs.append(out)
        self.total.extend(out)
        return out

    def feed(self, events: Iterable[dict[str, Any]]) -> EngineOutput:
        out = EngineOutput()
        for event in events:
            out.extend(self(event))
        return out


@pytest.fixture
def taxonomy() -> Taxonomy:
    return default_taxonomy()


@pytest.fixture
def engine(taxonomy: Taxonomy) -> AppEngine:
    return AppEngine(APP, AttributionConfig(), taxonomy)


@pytest.fixture
def run(engine: AppEngine) -> Recorder:
    return Recorder(engine)


# -- reading outputs ---------------------------------------------------------------------------------------


def credits_by_model(rows: Iterable[CreditRow], conversion_id: str) -> dict[str, list[CreditRow]]:
    """The credit rows of one conversion at its highest version, per model, in touch order."""
    mine = [r for r in rows if r.conversion_id == conversion_id]
    if not mine:
        return {}
    top = max(r.version for r in mine)
    result: dict[str, list[CreditRow]] = {}
    for r in sorted((r for r in mine if r.version == top), key=lambda r: (r.model, r.touch_index)):
        result.setdefault(r.model, []).append(r)
    return result


def latest_conversions(rows: Iterable[ConversionRow]) -> dict[str, ConversionRow]:
    latest: dict[str, ConversionRow] = {}
    for r in rows:
        if r.conversion_id not in latest or r.version > latest[r.conversion_id].version:
            latest[r.conversion_id] = r
    return latest


def latest_touchpoints(rows: Iterable[TouchpointRow]) -> dict[str, TouchpointRow]:
    latest: dict[str, TouchpointRow] = {}
    for r in rows:
        if r.touchpoint_id not in latest or r.version > latest[r.touchpoint_id].version:
            latest[r.touchpoint_id] = r
    return latest


def latest_identities(rows: Iterable[IdentityRow]) -> dict[str, IdentityRow]:
    latest: dict[str, IdentityRow] = {}
    for r in rows:
        if r.typed_id not in latest or r.version > latest[r.typed_id].version:
            latest[r.typed_id] = r
    return latest


def money(value: str) -> Decimal:
    return Decimal(value)


# -- random journeys (hypothesis) ------------------------------------------------------------------------------

DEVICES = ("A", "B", "C", "D")
USERS = ("U1", "U2", "U3")
SCENES = (1007, 1047, 1058, 1045, 1089, 1001, None)
UTM_SOURCES = ("douyin", "weibo", "newsite", None)
CLICK_IDS = ("k1", "k2", "k3")
ORDERS = tuple(f"o{n}" for n in range(1, 8))


@st.composite
def journey_events(draw: st.DrawFn, *, span_minutes: int = 5 * 24 * 60, max_size: int = 40) -> list[dict[str, Any]]:
    """A random, out-of-order sequence of events of a few devices and users, with re-sent events and ad clicks."""
    size = draw(st.integers(min_value=1, max_value=max_size))
    events: list[dict[str, Any]] = []
    for n in range(size):
        if events and draw(st.integers(0, 19)) == 0:
            events.append(draw(st.sampled_from(events)))  # a re-sent event
            continue
        at = T0 + timedelta(minutes=draw(st.integers(0, span_minutes)))
        device = draw(st.sampled_from(DEVICES))
        user = draw(st.sampled_from((*USERS, None, None)))
        kind = draw(st.sampled_from(
            ("enter",) * 6 + ("exposure", "click", "identify", "identify", "convert", "convert", "repurchase",
                              "register", "activate", "ad_click", "ad_click", "page_view")
        ))
        event_id = f"e{n}"
        ids: dict[str, Any] = {"user_id": user} if user else {}
        if kind == "ad_click":
            campaign, creative = draw(st.sampled_from(("c1", "c2", ""))), draw(st.sampled_from(("x", "")))
            click_id = draw(st.sampled_from(CLICK_IDS))
            events.append(ad_click(event_id, at, click_id, campaign=campaign, creative=creative))
        elif kind in ("enter", "exposure", "click"):
            query: dict[str, str] = {}
            source = draw(st.sampled_from(UTM_SOURCES))
            if source:
                query["utm_source"] = source
            if draw(st.booleans()) and draw(st.booleans()):
                query["gdt_vid"] = draw(st.sampled_from(CLICK_IDS))
            share = {"from": "friend", "depth": 1} if draw(st.integers(0, 5)) == 0 else None
            events.append(ev(event_id, kind, at, device, scene=draw(st.sampled_from(SCENES)), query=query or None,
                             share=share, **ids))
        elif kind == "identify":
            link = draw(st.sampled_from(("user_id", "openid", "unionid")))
            events.append(ev(event_id, kind, at, device, **{link: user or draw(st.sampled_from(USERS))}))
        elif kind in PURCHASES:
            currency = draw(st.sampled_from(("CNY", "CNY", "USD", "JPY")))
            cents = draw(st.one_of(st.integers(0, 10_000), st.integers(0, 10**12)))
            revenue = str(cents) if currency == "JPY" else str(Decimal(cents).scaleb(-2))
            events.append(ev(event_id, kind, at, device, order_id=draw(st.sampled_from(ORDERS)), revenue=revenue,
                             currency=currency, **ids))
        else:
            events.append(ev(event_id, kind, at, device, **ids))
    return events
