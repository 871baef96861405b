"""The per-person state the engine keeps: touchpoints, conversions, and the earliest conversion of each kind."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from stream.attribution.eligibility import Touch


@dataclass(frozen=True, slots=True)
class TouchFacts:
    """What a touchpoint is: the fields its engine state (`Touchpoint`) and its stored row share."""

    touchpoint_id: str
    identity: str  # the strongest id of the event that made the touch: maps it to its person after merges
    anonymous_id: str
    time: datetime  # the visit's event time (`touch_time` in ClickHouse)
    kind: str  # click | view
    source: str  # exposure | click | enter | ad_click | ad_impression
    channel_type: str
    channel: str
    campaign: str
    creative: str
    click_id: str
    click_platform: str
    signal: str
    scene: str  # the platform's scene text ("1007", "021001"); "" when none
    matched_click: bool = False
    shared_click: bool = False  # carried another person's click id: resolved by its other signals
    # Arrived past the allowed lateness (a history import): kept while its person's own clock can reach it.
    arrived_late: bool = False


@dataclass(frozen=True, slots=True)
class Touchpoint(TouchFacts):
    """A touch in the engine's state: replaced, never changed, when its ad click arrives (`enriched`)."""

    # Its attribution view, built once: every conversion of the person re-reads all of its touches (rebuilding
    # them, with Touch's validation, was ~3% of the processor's samples).
    _touch: Touch | None = field(default=None, compare=False, repr=False)

    def as_touch(self) -> Touch:
        touch = self._touch
        if touch is None:
            touch = Touch(
                self.touchpoint_id, self.time, self.channel, "view" if self.kind == "view" else "click",
                self.channel_type, self.campaign, self.creative,
            )
            object.__setattr__(self, "_touch", touch)  # a cache of what the frozen fields say
        return touch

    def enriched(self, click: AdClick) -> Touchpoint:
        """The visit and the ad platform's click are one touch: the click's campaign facts win."""
        return replace(
            self,
            matched_click=True,
            channel_type=click.channel_type or self.channel_type,
            channel=click.channel or self.channel,
            campaign=click.campaign or self.campaign,
            creative=click.creative or self.creative,
            click_platform=click.platform or self.click_platform,
            _touch=None,
        )


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
    # Arrived past the allowed lateness: open while its person's own clock is within the lateness of it.
    arrived_late: bool = False
    refunded: Decimal = Decimal(0)  # the sum of its accepted refunds: credits split `revenue - refunded`


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
