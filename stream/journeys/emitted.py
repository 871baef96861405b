"""The rows the engine emits for its state: a touchpoint, a conversion, its credits under every model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from decimal import Decimal
from operator import attrgetter

from stream.attribution.credits import DIRECT_CHANNEL, split_revenue
from stream.attribution.eligibility import Touch
from stream.journeys.outputs import ConversionRow, CreditRow, TouchpointRow
from stream.journeys.state import Conversion, TouchFacts, Touchpoint

_ZERO = Decimal(0)
# A row from a tuple of all its fields, without the Python-level __new__ NamedTuple generates (~2.5x cheaper;
# the engine builds one per model and touch of every conversion it attributes).
_row = tuple.__new__
_facts = attrgetter(*(f.name for f in fields(TouchFacts)))  # one C call for every shared field

# What `attribute_journey` returns per model: its name, each touch's share, each touch's part of the revenue.
ModelCredits = tuple[str, Sequence[float], Sequence[Decimal]]


def touch_row(app_id: str, t: Touchpoint, user_key: str, version: int) -> TouchpointRow:
    return _row(TouchpointRow, (*_facts(t), app_id, user_key, version))


def conversion_row(
    app_id: str, c: Conversion, kind: str, user_key: str, touch_count: int, version: int, *, deleted: bool
) -> ConversionRow:
    return _row(ConversionRow, (
        app_id, c.conversion_id, c.event_id, c.identity, user_key, kind, c.time, c.order_id, c.revenue,
        c.currency, touch_count, version, deleted, c.arrived_late, c.refunded,
    ))


def tombstone(app_id: str, c: Conversion, user_key: str, version: int) -> CreditRow:
    return CreditRow(
        app_id, c.conversion_id, "", c.time, user_key, "", "", None, 0, 0, "", "", "", "", 0.0,
        Decimal(0), c.currency, version, True,
    )


def credit_rows(
    app_id: str, c: Conversion, kind: str, user_key: str, journey: Sequence[Touch],
    per_model: Sequence[ModelCredits], version: int, credits: list[CreditRow],
) -> None:
    """Appends the credit rows of one conversion: one row per model and credited touch, or one `direct` row.

    `parts` split the net revenue; a refunded order's refunds are split by the same shares and rule, so per
    model `revenue_credit` sums to the net revenue and `refund_credit` to the refunds.
    """
    n, conversion_id, at, currency, refunded = len(journey), c.conversion_id, c.time, c.currency, c.refunded
    for model, shares, parts in per_model:
        refunds = split_revenue(refunded, shares, currency or "CNY") if refunded else [_ZERO] * len(shares)
        if not journey:
            credits.append(_row(CreditRow, (
                app_id, conversion_id, kind, at, user_key, model, "", None, 0, 0, DIRECT_CHANNEL,
                DIRECT_CHANNEL, "", "", shares[0], parts[0], currency, version, False, refunds[0],
            )))
            continue
        for i, (t, share, part, refund) in enumerate(zip(journey, shares, parts, refunds, strict=True)):
            if share == 0.0:
                continue  # a model that gives a touch nothing writes no row for it (touch_count tells the path)
            credits.append(_row(CreditRow, (
                app_id, conversion_id, kind, at, user_key, model, t.touchpoint_id, t.time, i, n,
                t.channel_type, t.channel, t.campaign, t.creative, share, part, currency, version, False, refund,
            )))
