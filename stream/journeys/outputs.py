"""What the journey engine emits: one dataclass per ClickHouse table, versioned.

`version` is the position of the event that caused the row (Kafka offset × 65536 + index in the record), so a
replay of the same records emits the same versions, and the analyst views pick the highest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class IdentityRow:
    app_id: str
    typed_id: str
    user_key: str
    first_seen: datetime
    version: int


@dataclass(frozen=True, slots=True)
class TouchpointRow:
    app_id: str
    touchpoint_id: str
    identity: str  # the strongest id of the event that made the touch: maps it to its person after merges
    anonymous_id: str
    user_key: str
    touch_time: datetime
    kind: str  # click | view
    source: str  # exposure | click | enter | ad_click | ad_impression
    channel_type: str
    channel: str
    campaign: str
    creative: str
    click_id: str
    click_platform: str
    signal: str
    scene: int
    matched_click: bool
    version: int


@dataclass(frozen=True, slots=True)
class ConversionRow:
    app_id: str
    conversion_id: str
    event_id: str
    identity: str
    user_key: str
    conversion_type: str
    conversion_time: datetime
    order_id: str
    revenue: Decimal
    currency: str
    touch_count: int
    version: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class CreditRow:
    app_id: str
    conversion_id: str
    conversion_type: str
    conversion_time: datetime
    user_key: str
    model: str
    touchpoint_id: str
    touch_time: datetime | None
    touch_index: int
    touch_count: int
    channel_type: str
    channel: str
    campaign: str
    creative: str
    credit: float
    revenue_credit: Decimal
    currency: str
    version: int
    deleted: bool


@dataclass(slots=True)
class EngineOutput:
    identities: list[IdentityRow] = field(default_factory=list)
    touchpoints: list[TouchpointRow] = field(default_factory=list)
    conversions: list[ConversionRow] = field(default_factory=list)
    credits: list[CreditRow] = field(default_factory=list)

    def extend(self, other: EngineOutput) -> None:
        self.identities.extend(other.identities)
        self.touchpoints.extend(other.touchpoints)
        self.conversions.extend(other.conversions)
        self.credits.extend(other.credits)
