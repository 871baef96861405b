"""Revenue and refunds in the app's reporting currency: the collector converts them at ingest, as spend is.

An order or refund sent in another currency than the app's `reporting_currency` is converted with the exchange
rate of the event's day (the UTC date of its corrected `event_time`) from the collector's FX table
(`collector_fx_rates_file`, `collector.money.FxRates`), rounded half-even once to cents (the contract's
precision). The stored event keeps what was sent (`original_amount`, `original_currency`) and the rate used
(`fx_rate`), so nothing is lost; downstream every amount of an app is in one currency and sums are meaningful.
A currency with no rate for that day rejects that event alone, with the reason, in the batch response.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from collector.money import FxRates, UnknownCurrency
from schemas.events import MAX_REVENUE, MONEY_TYPES, REFUND_TYPES, format_decimal

CENT_PLACES = 2  # the contract's money precision (schemas.events.Revenue)


@dataclass(frozen=True, slots=True)
class MoneyRules:
    """How an app's money is stored: in `reporting_currency`, converted with `fx`."""

    reporting_currency: str = "CNY"
    fx: FxRates = field(default_factory=FxRates.identity)


def convert_money(event: dict[str, Any], rules: MoneyRules) -> tuple[str, str] | None:
    """Converts a purchase's `revenue` or a refund's `amount` to the reporting currency, in place.

    `event` is an `enrich` output. Returns None when done (or nothing to do), else (rejection code, reason).
    The server-owned `original_amount` / `original_currency` / `fx_rate` are always set (a client value is
    replaced), also when no conversion was needed (rate 1).
    """
    if event.get("type") not in MONEY_TYPES:
        return None
    properties: dict[str, Any] = event["properties"]
    key = "amount" if event["type"] in REFUND_TYPES else "revenue"
    sent = Decimal(str(properties[key]))
    currency = str(properties.get("currency") or "CNY")
    to = rules.reporting_currency
    day = datetime.datetime.fromisoformat(event["event_time"]).date()
    try:
        converted, rate = rules.fx.convert(sent, currency, to, day, places=CENT_PLACES)
    except UnknownCurrency:
        known = ", ".join(rules.fx.currencies)
        return "no_exchange_rate", (
            f"properties.currency: no exchange rate for {currency} on or before {day.isoformat()} to convert "
            f"{key} {format_decimal(sent)} {currency} to the app's reporting currency {to}; known currencies: "
            f"{known} (send the amount in {to}, or add the rate to the collector's FX rates file)"
        )
    if converted > MAX_REVENUE:
        return "invalid", (
            f"properties.{key}: {format_decimal(sent)} {currency} is {format_decimal(converted)} {to}, more "
            f"than the largest amount {format_decimal(MAX_REVENUE)}"
        )
    if key == "amount" and converted <= 0:
        return "invalid", (
            f"properties.amount: {format_decimal(sent)} {currency} is {format_decimal(converted)} {to} after "
            "conversion: a refund must be at least one cent of the reporting currency"
        )
    properties[key] = format_decimal(converted)
    properties["currency"] = to
    properties["original_amount"] = format_decimal(sent)
    properties["original_currency"] = currency
    properties["fx_rate"] = format_decimal(rate)
    return None
