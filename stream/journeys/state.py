"""The per-person state the engine keeps: touchpoints, conversions, and the earliest conversion of each kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from stream.attribution.eligibility import Touch


@dataclass(slots=True)
class Touchpoint:
    touchpoint_id: str
    identity: str
    anonymous_id: str
    time: datetime
    kind: str
    source: str
    channel_type: str
    channel: str
    campaign: str
    creative: str
    click_id: str
    click_platform: str
    signal: str
    scene: int
    matched_click: bool = False
    # Its attribution view, built once: every conversion of the person re-reads all of its touches (rebuilding
    # them, with Touch's validation, was ~3% of the processor's samples). `enrich` is the only mutation: it drops it.
    _touch: Touch | None = field(default=None, compare=False, repr=False)

    def as_touch(self) -> Touch:
        touch = self._touch
        if touch is None:
            touch = self._touch = Touch(
                self.touchpoint_id, self.time, self.channel, "view" if self.kind == "view" else "click",
                self.channel_type, self.campaign, self.creative,
            )
        return touch

    def enrich(self, click: AdClick) -> None:
        """The visit and the ad platform's click are one touch: the click's campaign facts win."""
        self.matched_click = True
        self.channel_type = click.channel_type or self.channel_type
        self.channel = click.channel or self.channel
        self.campaign = click.campaign or self.campaign
        self.creative = click.creative or self.creative
        self.click_platform = click.platform or self.click_platform
        self._touch = None


@dataclass(slots=True)
class AdClick:
    click_id: str
    time: datetime
    platform: str
    channel_type: str
    channel: str
    campaign: str
    creative: str


@dataclass(slots=True)
class Conversion:
    conversion_id: str
    event_id: str
    identity: str
    family: str  # register | activate | purchase: what the client said, before history decides the kind
    time: datetime
    order_id: str
    revenue: Decimal
    currency: str
    signature: Any = None  # hash of what was last emitted; None = nothing current in ClickHouse


@dataclass(slots=True)
class Person:
    touches: dict[str, Touchpoint] = field(default_factory=dict)
    conversions: dict[str, Conversion] = field(default_factory=dict)
    # family -> (time, conversion_id) of the earliest ever seen: decides register/activate once and
    # convert vs repurchase, and outlives the conversions themselves once they leave the lateness window.
    firsts: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    last_seen: datetime | None = None

    def note_first(self, family: str, time: datetime, conversion_id: str) -> str | None:
        """Record a candidate first; returns the conversion id it displaced, if any."""
        current = self.firsts.get(family)
        if current is None or (time, conversion_id) < current:
            self.firsts[family] = (time, conversion_id)
            return current[1] if current else None
        return None

    def absorb(self, other: Person) -> None:
        self.touches.update(other.touches)
        self.conversions.update(other.conversions)
        for family, (time, conversion_id) in other.firsts.items():
            self.note_first(family, time, conversion_id)
        if other.last_seen and (self.last_seen is None or other.last_seen > self.last_seen):
            self.last_seen = other.last_seen
