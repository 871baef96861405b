"""Money in the event contract: amounts, currency codes, and the `properties` of purchases and refunds.

Amounts are exact `Decimal`s (a JSON number goes through its shortest text form), at most 2 decimal places and
14 digits before the point, so they fit the `Decimal(18, 4)` money columns; in JSON they are plain-notation
strings. The server-owned keys (`original_amount`, `original_currency`, `fx_rate`) are set by the collector when
it converts an amount to the app's reporting currency (collector/revenue.py); they are never dumped from what a
client sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_PROPERTIES = 100
CURRENCY_PATTERN = r"^[A-Z]{3}$"
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]


def format_decimal(value: Decimal) -> str:
    """Plain notation, never an exponent: Decimal("1E+2") → "100", Decimal("19.90") → "19.90"."""
    if value.is_signed() and value.is_zero():
        value = value.copy_abs()  # "-0" (accepted by ge=0) is written "0"
    return format(value, "f")


# The money columns are Decimal(18, 4): 14 digits before the point. A larger amount would pass here and fail
# the whole insert later, so it is refused here, per event, with the reason.
MAX_REVENUE = Decimal("99999999999999.99")

_REVENUE_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": float(MAX_REVENUE)},
        {"type": "string", "pattern": r"^[0-9]{1,14}(\.[0-9]{1,2})?$"},
    ],
}

Revenue = Annotated[
    Decimal,
    Field(ge=0, max_digits=16, decimal_places=2),  # so at most 14 digits before the point
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema(_REVENUE_JSON_SCHEMA, mode="validation"),
]
"""Money: ≥ 0, at most 2 decimal places, at most 14 digits before the point (fits ClickHouse Decimal(18, 4)).

A JSON number is converted through its shortest text form, so 19.9 becomes Decimal("19.9"), never the binary
expansion 19.899999999999998578914528479799628257751464843750."""

_POSITIVE_MONEY_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": float(MAX_REVENUE)},
        {"type": "string", "pattern": r"^[0-9]{1,14}(\.[0-9]{1,2})?$"},
    ],
}

PositiveMoney = Annotated[
    Decimal,
    Field(gt=0, max_digits=16, decimal_places=2),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema(_POSITIVE_MONEY_JSON_SCHEMA, mode="validation"),
]
"""Money like `Revenue`, but > 0: a refund of nothing is no refund."""


# ----------------------------------------------------------------------------------------------------------
# Properties of purchases
# ----------------------------------------------------------------------------------------------------------


class PurchaseProperties(BaseModel):
    """`properties` of `convert` and `repurchase`: three typed fields, any other keys kept as sent."""

    model_config = ConfigDict(extra="allow", val_temporal_unit="milliseconds")

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The business order id; 1..128 characters. Required. Together with the app it identifies "
        "the purchase (a re-sent order is the same purchase)."
    )
    revenue: Revenue = Field(
        description="Order amount in `currency`: a number or a decimal string, ≥ 0, at most 2 decimal "
        "places, at most 99999999999999.99 (14 digits before the point). Required (send 0 for a free "
        "order). Kept as an exact decimal and serialised as a string."
    )
    currency: Currency = Field(
        default="CNY",
        description="ISO-4217 code, three upper-case letters, e.g. CNY, USD. Default CNY. An amount in another "
        "currency than the app's reporting currency is converted by the collector with the exchange rate of the "
        "event's day (UTC); the amount and currency as sent are kept in `original_amount` / `original_currency`.",
    )
    original_amount: Revenue | None = Field(
        default=None, exclude=True,
        description="Server-owned: the amount as sent, before the collector converted it to the reporting "
        "currency. A value sent by a client is discarded.",
    )
    original_currency: Currency | None = Field(
        default=None,
        exclude=True,
        description="Server-owned: the currency as sent. A value sent by a client is discarded.",
    )
    fx_rate: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, exclude=True,
        description="Server-owned: the exchange rate used (units of `currency` per 1 unit of "
        "`original_currency`), as an exact decimal string. A value sent by a client is discarded.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> PurchaseProperties:
        _check_size(self, "order_id, revenue and currency", 3)
        return self


def _check_size(model: BaseModel, typed_names: str, typed: int) -> None:
    """At most MAX_PROPERTIES keys in all, the `typed` required ones included."""
    extra = model.__pydantic_extra__
    if extra is not None and len(extra) + typed > MAX_PROPERTIES:
        error = PydanticCustomError(
            "too_many_properties",
            "properties must have at most {limit} keys ({names} included), got {got}",
            {"limit": MAX_PROPERTIES, "names": typed_names, "got": len(extra) + typed},
        )
        raise error


class RefundProperties(BaseModel):
    """`properties` of `refund`: the order refunded, how much, in which currency, and why (optional)."""

    model_config = ConfigDict(extra="allow", val_temporal_unit="milliseconds")

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The order refunded: the `order_id` of its `convert` or `repurchase` event; 1..128 characters."
    )
    amount: PositiveMoney = Field(
        description="The amount refunded, in `currency`: > 0, at most 2 decimal places, at most "
        "99999999999999.99. A partial refund is a part of the order's revenue; several refunds of one order "
        "add up, and one that would take the order's refunds above its revenue is rejected."
    )
    currency: Currency = Field(
        default="CNY",
        description="ISO-4217 code, e.g. CNY. Default CNY. Converted to the app's reporting currency like "
        "`revenue` (rate of the refund's day); the amount as sent is kept in `original_amount`.",
    )
    reason: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="Why it was refunded, free text (e.g. `damaged`, `cancelled`); at most 256."
    )
    original_amount: Revenue | None = Field(
        default=None,
        exclude=True,
        description="Server-owned: the amount as sent. A value sent by a client is discarded.",
    )
    original_currency: Currency | None = Field(
        default=None,
        exclude=True,
        description="Server-owned: the currency as sent. A value sent by a client is discarded.",
    )
    fx_rate: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None,
        exclude=True,
        description="Server-owned: the exchange rate used. A value sent by a client is discarded.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> RefundProperties:
        _check_size(self, "order_id, amount and currency", 3)
        return self
