"""Which conversions are reported to which ad platform: pure, run by the stream processor after each event.

The rule (docs/postbacks.md): a conversion belongs to an integration when its last-touch touchpoint is a visit
that matched that integration's ad click (not a click id shared from another person), the click at most the
integration's `click_window` before the conversion, and the decision made within the integration's postback
`window` of the conversion. The first time that holds, one intent is written with a stable id; nothing after
that writes a second one for the conversion and integration (the platforms cannot retract a report):
- re-attribution elsewhere only marks the intent `reattributed` (the report shows it);
- a tombstoned conversion cancels it (the worker sends nothing if it has not sent yet);
- a conversion that changes kind (a first order becomes a repurchase when an earlier order arrives late) keeps
  the intent it had: its action type is the one decided first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.postback_config import PostbackConfig
from stream.journeys.outputs import ConversionRow, CreditRow
from stream.journeys.state import Touchpoint
from stream.postbacks.intent import Pending
from stream.postbacks.units import AmountError, to_fen

OPEN, CANCELLED = "open", "cancelled"
EVICT_EVERY = timedelta(hours=1)
TouchLookup = Callable[[str, str], Touchpoint | None]  # (user_key, touchpoint_id) -> the engine's touch
MemberLookup = Callable[[str], Sequence[str]]  # user_key -> the person's typed ids


@dataclass(frozen=True, slots=True)
class ClickRef:
    """What the postback needs of an ad click beyond what the engine keeps: whose integration, its callback."""

    integration_id: str
    callback: str
    time: datetime
    openid: str


@dataclass(frozen=True, slots=True)
class PostbackIntent(Pending):
    """A row of `postback_intents`: what is sent, then why and where it stands (stream/rows.py
    POSTBACK_INTENT_COLUMNS is in this field order)."""

    conversion_id: str
    event_id: str
    conversion_type: str
    click_time: datetime
    state: str
    reattributed: bool
    version: int
    decided_at: datetime


def intent_id_of(app_id: str, integration_id: str, conversion_id: str, action_type: str) -> str:
    """Stable across replays and restarts; Tencent dedups on it as `outer_action_id` (32 hex characters)."""
    key = "\x1f".join((app_id, integration_id, conversion_id, action_type))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def value_fen_of(platform: str, revenue: Decimal, currency: str) -> int | None:
    """Tencent's `value` in integer fen, for amounts in yuan only; no value for other currencies (the platform
    has no currency field: a dollar amount read as yuan would mislead its bidding)."""
    if platform != "tencent_ads" or revenue <= 0 or (currency or "CNY") != "CNY":
        return None
    try:
        return to_fen(revenue)
    except AmountError:
        return None


def last_touch_id(conversion: ConversionRow, credits: Sequence[CreditRow]) -> str:
    """The touchpoint at the end of the conversion's credited journey, from its rows of this version."""
    for row in credits:
        if (row.conversion_id == conversion.conversion_id and row.version == conversion.version and not row.deleted
                and row.touchpoint_id and row.touch_index == row.touch_count - 1):
            return row.touchpoint_id
    return ""


class PostbackBook:
    """Per partition: the ad clicks still attributable and the intents of open conversions, per app."""

    def __init__(self, configs: Mapping[str, Mapping[str, PostbackConfig]]) -> None:
        self.configs = configs
        self.clicks: dict[tuple[str, str], ClickRef] = {}  # (app_id, click_id) -> the first click seen
        # (app_id, conversion_id) -> integration_id -> the newest row of its intent
        self.decided: dict[tuple[str, str], dict[str, PostbackIntent]] = {}
        self._evicted: dict[str, datetime] = {}  # app_id -> the event time of its last eviction

    def wants(self, app_id: str) -> bool:
        return any(c.enabled for c in self.configs.get(app_id, {}).values())

    def note_click(self, event: Mapping[str, Any], at: datetime) -> None:
        """An `ad_click` event: the same click id twice keeps the first (as the engine does)."""
        click_id = event.get("click_id") or ""
        properties = event.get("properties") or {}
        if not click_id or not isinstance(properties, Mapping):
            return
        key = (str(event["app_id"]), str(click_id))
        if key not in self.clicks:
            self.clicks[key] = ClickRef(
                str(properties.get("integration_id") or ""), str(properties.get("callback") or ""), at,
                str(event.get("openid") or ""),
            )

    def decide(
        self, app_id: str, conversions: Sequence[ConversionRow], credits: Sequence[CreditRow],
        touch_of: TouchLookup, members_of: MemberLookup, at: datetime, version: int,
    ) -> list[PostbackIntent]:
        """The intent rows for what one event made the engine emit. `at`: that event's time (a replay decides
        the same); `version`: its position, as the engine's rows."""
        out: list[PostbackIntent] = []
        for conversion in conversions:
            key = (app_id, conversion.conversion_id)
            known = self.decided.get(key, {})
            chosen = None if conversion.deleted else self._chosen(app_id, conversion, credits, touch_of, at)
            for integration_id, intent in known.items():
                here = chosen is not None and chosen[0].integration_id == integration_id
                changed: PostbackIntent | None = None
                if conversion.deleted and intent.state == OPEN:
                    changed = replace(intent, state=CANCELLED)
                elif not conversion.deleted and intent.state == CANCELLED and here:
                    changed = replace(intent, state=OPEN, reattributed=False)  # the conversion counts again
                elif not conversion.deleted and intent.state == OPEN and intent.reattributed == here:
                    changed = replace(intent, reattributed=not here)
                if changed is not None:
                    known[integration_id] = changed = replace(changed, version=version, decided_at=at)
                    out.append(changed)
            if chosen is None or chosen[0].integration_id in known:
                continue
            intent = self._intent(app_id, conversion, chosen, members_of, at, version)
            self.decided.setdefault(key, {})[intent.integration_id] = intent
            out.append(intent)
        return out

    def _chosen(
        self, app_id: str, conversion: ConversionRow, credits: Sequence[CreditRow], touch_of: TouchLookup,
        at: datetime,
    ) -> tuple[PostbackConfig, ClickRef, Touchpoint] | None:
        touch_id = last_touch_id(conversion, credits)
        touch = touch_of(conversion.user_key, touch_id) if touch_id else None
        if touch is None or touch.kind != "click" or not touch.matched_click or touch.shared_click:
            return None
        click = self.clicks.get((app_id, touch.click_id))
        if click is None:
            return None
        config = self.configs.get(app_id, {}).get(click.integration_id)
        if config is None or not config.enabled or conversion.conversion_type not in config.events:
            return None
        age = conversion.conversion_time - click.time
        if not (age.total_seconds() >= 0 and age <= config.click_window):
            return None
        if at - conversion.conversion_time > config.window:
            return None  # decided too long after the conversion: the platform would no longer use it
        return config, click, touch

    def _intent(
        self, app_id: str, c: ConversionRow, chosen: tuple[PostbackConfig, ClickRef, Touchpoint],
        members_of: MemberLookup, at: datetime, version: int,
    ) -> PostbackIntent:
        config, click, touch = chosen
        action = config.events[c.conversion_type]
        members = members_of(c.user_key)
        openid = next((m.removeprefix("openid:") for m in members if m.startswith("openid:")), click.openid)
        unionid = next((m.removeprefix("unionid:") for m in members if m.startswith("unionid:")), "")
        return PostbackIntent(
            app_id=app_id, intent_id=intent_id_of(app_id, config.integration_id, c.conversion_id, action),
            integration_id=config.integration_id, platform=config.platform, mode=config.mode, action_type=action,
            conversion_time=c.conversion_time, click_id=touch.click_id, callback=click.callback, openid=openid,
            unionid=unionid, revenue=c.revenue, currency=c.currency,
            value_fen=value_fen_of(config.platform, c.revenue, c.currency), conversion_id=c.conversion_id,
            event_id=c.event_id, conversion_type=c.conversion_type, click_time=click.time, state=OPEN,
            reattributed=False, version=version, decided_at=at,
        )

    def maybe_evict(self, app_id: str, horizon: datetime | None, at: datetime) -> None:
        """Hourly by the app's event time, as the engine evicts: state stays bounded by the horizon."""
        last = self._evicted.get(app_id)
        if last is None or at < last:
            self._evicted[app_id] = at
        elif horizon is not None and at - last >= EVICT_EVERY:
            self._evicted[app_id] = at
            self.evict(app_id, horizon)

    def evict(self, app_id: str, horizon: datetime) -> None:
        """Forget clicks and intents no open conversion can reach (the engine's horizon for the app)."""
        self.clicks = {k: c for k, c in self.clicks.items() if k[0] != app_id or c.time >= horizon}
        self.decided = {
            k: v for k, v in self.decided.items()
            if k[0] != app_id or any(i.conversion_time >= horizon for i in v.values())
        }

    def restore_click(self, app_id: str, click_id: str, click: ClickRef) -> None:
        self.clicks.setdefault((app_id, click_id), click)

    def restore_intent(self, intent: PostbackIntent) -> None:
        self.decided.setdefault((intent.app_id, intent.conversion_id), {})[intent.integration_id] = intent
