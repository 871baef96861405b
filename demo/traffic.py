"""What the demo generator produces (`demo.generator`), as plain data the sender and the tables read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class AdClick:
    """A click as the ad platform reports it to our webhook (GET with these parameters, plus the token)."""

    at: datetime
    channel_key: str  # the scenario channel (moments, douyin)
    platform: str  # tencent_ads | ocean_engine
    click_id: str
    params: dict[str, str]
    visited: bool  # an SDK enter carries this click id in its launch query


@dataclass(frozen=True, slots=True)
class SpendRow:
    day: date
    channel: str
    campaign: str
    creative: str
    spend: Decimal
    source: str
    currency: str = "CNY"

    def as_json(self) -> dict[str, str]:
        """A row of POST /v1/costs."""
        return {"date": self.day.isoformat(), "channel": self.channel, "campaign": self.campaign,
                "creative": self.creative, "spend": str(self.spend), "currency": self.currency,
                "source": self.source}


@dataclass(frozen=True, slots=True)
class Journey:
    person: str  # the device's anonymous id
    arrived_by: str  # scenario channel of the visit that brought them (the last before registering)
    events: tuple[dict[str, Any], ...]  # SDK events in time order, ready for POST /v1/batch


@dataclass(slots=True)
class ChannelTruth:
    """What the generator put in, per scenario channel, counted by the channel that brought each person."""

    visitors: int = 0
    acquisitions: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    spend: Decimal = Decimal(0)

    @property
    def cac(self) -> float | None:
        return float(self.spend / self.acquisitions) if self.acquisitions else None

    @property
    def roi(self) -> float | None:
        return float(self.revenue / self.spend) if self.spend else None


@dataclass(frozen=True)
class Traffic:
    seed: int
    start: date
    days: int
    scale: float
    tag: str  # in every event id, order id and click id of this run
    journeys: tuple[Journey, ...]
    clicks: tuple[AdClick, ...]  # in time order
    spend: tuple[SpendRow, ...]  # in day order
    truth: dict[str, ChannelTruth]

    @property
    def end(self) -> datetime:
        return datetime.combine(self.start + timedelta(days=self.days), datetime.min.time(), UTC)

    def events(self) -> list[dict[str, Any]]:
        """Every SDK event in time order (ISO timestamps of one format sort as text)."""
        return sorted((e for j in self.journeys for e in j.events), key=lambda e: (e["timestamp"], e["event_id"]))
