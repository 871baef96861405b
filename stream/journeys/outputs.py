"""What the journey engine emits: one immutable record per ClickHouse table, versioned.

`version` is the position of the event that caused the row (Kafka offset × 65536 + index in the record), so a
replay of the same records emits the same versions, and the analyst views pick the highest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

_ZERO = Decimal(0)


# The rows are NamedTuples: the engine makes one per identity change, touch and conversion (and one per model
# and touch), and a frozen dataclass costs several times a tuple to build and again to turn into the insert's
# tuple (stream.rows.dataclass_rows): a NamedTuple plus the source position already is one.


class IdentityRow(NamedTuple):
    app_id: str
    typed_id: str
    user_key: str
    first_seen: datetime
    version: int


class TouchpointRow(NamedTuple):
    """A touchpoint as written: its facts (every field of `TouchFacts`, in its order), then its app, its person
    now and the version."""

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
    scene: str
    matched_click: bool
    shared_click: bool
    arrived_late: bool
    app_id: str
    user_key: str
    version: int


class ConversionRow(NamedTuple):
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
    arrived_late: bool
    refunded: Decimal = _ZERO  # revenue is the gross amount; net_revenue (a column default) = revenue - refunded


class CreditRow(NamedTuple):
    """One touch's credit under one model (a frozen dataclass cost ~7x a tuple to build, the largest single item
    of a catch-up's processing)."""

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
    revenue_credit: Decimal  # the touch's part of the net revenue (after refunds)
    currency: str
    version: int
    deleted: bool
    # Its part of the order's refunds, split with the same shares (stream.journeys.emitted.credit_rows):
    # revenue_credit + refund_credit is its part of the gross revenue.
    refund_credit: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class RefundRejection:
    """A refund that is not applied, and why: written to `bad_events` (code `refund_rejected`)."""

    event: dict[str, Any]
    reason: str


@dataclass(slots=True)
class EngineOutput:
    identities: list[IdentityRow] = field(default_factory=list)
    touchpoints: list[TouchpointRow] = field(default_factory=list)
    conversions: list[ConversionRow] = field(default_factory=list)
    credits: list[CreditRow] = field(default_factory=list)
    rejections: list[RefundRejection] = field(default_factory=list)

    def extend(self, other: EngineOutput) -> None:
        self.identities.extend(other.identities)
        self.touchpoints.extend(other.touchpoints)
        self.conversions.extend(other.conversions)
        self.credits.extend(other.credits)
        self.rejections.extend(other.rejections)
