"""The per-person state the engine keeps: touchpoints, conversions, and the earliest conversion of each kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


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
