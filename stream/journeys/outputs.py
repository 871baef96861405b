"""What the journey engine emits: one immutable record per ClickHouse table, versioned.

`version` is the position of the event that caused the row (Kafka offset × 65536 + index in the record), so a
replay of the same records emits the same versions, and the analyst views pick the highest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from stream.journeys.state import TouchFacts

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class IdentityRow:
    app_id: str
    typed_id: str
    user_key: str
    first_seen: datetime
    version: int


@dataclass(frozen=True, slots=True)
class TouchpointRow(TouchFacts):
    """A touchpoint as written: its facts, then its app, its person now and the version."""

    app_id: str = field(kw_only=True)
    user_key: str = field(kw_only=True)
    version: int = field(kw_only=True)


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
    arrived_late: bool
    refunded: Decimal = _ZERO  # revenue is the gross amount; net_revenue (a column default) = revenue - refunded


class CreditRow(NamedTuple):
    """One touch's credit under one model (a tuple: the engine makes one per model and touch, and a frozen
    dataclass costs ~7x a tuple to build, the largest single item of a catch-up's processing)."""

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
