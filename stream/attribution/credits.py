"""Credit rows for one conversion under every configured model, with revenue split to the cent.

Conventions:

- Eligibility and touch order come from ``eligibility.eligible_touches`` (click/view windows, inclusive
  bounds, views only without clicks, order by time then touchpoint_id).
- Each eligible touch gets one row per model, zero-credit touches included, so ``touch_count`` rows of a
  model describe the whole journey. ``touch_index`` is the 0-based position in the ordered journey.
- No eligible touch: one row per model with ``touch=None`` (channel ``direct``), ``touch_index=0``,
  ``touch_count=0``, credit 1.0 and the whole revenue, so totals reconcile with the conversions.
- Float credits sum to 1 within 1e-12 (``math.fsum``): the model weights are settled by
  ``models.settle``, which moves any larger float error onto the last non-zero share.
- Revenue is split in whole minor units of the currency (2 decimals unless listed in
  ``MINOR_UNIT_DIGITS``; finer if the revenue itself has more decimals, so that nothing is lost) with the
  largest-remainder method: each share gets the floor of its exact quota, and the units left over go to the
  largest fractional remainders, ties to the earlier touch. The revenue credits therefore sum exactly to
  the revenue, and a touch with credit 0 gets 0. A negative revenue (a refund) is split like its absolute
  value and negated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from stream.attribution.eligibility import Touch, Windows, eligible_touches, require_aware
from stream.attribution.models import DEFAULT_MODELS, ModelSpec, weights_for

DIRECT_CHANNEL = "direct"
DEFAULT_MINOR_UNIT_DIGITS = 2
# ISO 4217 exponents that differ from 2, for currencies we expect to see.
MINOR_UNIT_DIGITS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "IQD": 3,
    "LYD": 3,
}
# Enough digits for exact quotas of any realistic revenue (28 would do up to ~1e20 minor units).
_PRECISION = 80


@dataclass(frozen=True)
class ConversionFacts:
    conversion_id: str
    time: datetime
    revenue: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", require_aware(self.time, f"conversion {self.conversion_id!r} time"))
        if not isinstance(self.revenue, Decimal) or not self.revenue.is_finite():
            msg = f"conversion {self.conversion_id!r}: revenue must be a finite Decimal, got {self.revenue!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Credit:
    model: str
    touch: Touch | None
    touch_index: int
    touch_count: int
    credit: float
    revenue_credit: Decimal

    @property
    def channel(self) -> str:
        return self.touch.channel if self.touch is not None else DIRECT_CHANNEL


def minor_unit_digits(currency: str) -> int:
    return MINOR_UNIT_DIGITS.get(currency.upper(), DEFAULT_MINOR_UNIT_DIGITS)


def split_revenue(revenue: Decimal, shares: Sequence[float], currency: str) -> list[Decimal]:
    """Split ``revenue`` by non-negative ``shares`` in minor units; the parts sum exactly to ``revenue``."""
    if not shares or min(shares) < 0 or max(shares) <= 0:
        msg = f"revenue shares must be >= 0 and not all 0, got {list(shares)!r}"
        raise ValueError(msg)
    if not revenue.is_finite():
        msg = f"revenue must be finite, got {revenue!r}"
        raise ValueError(msg)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        exponent = min(-minor_unit_digits(currency), _exponent(revenue.normalize()))
        units = int(abs(revenue).scaleb(-exponent))
        exact = [Decimal(s) for s in shares]  # Decimal(float) is the float's exact binary value
        total = sum(exact, Decimal(0))
        quotas = [units * s / total for s in exact]
        parts = [int(q) for q in quotas]
        left = units - sum(parts)
        by_remainder = sorted(range(len(parts)), key=lambda i: (-(quotas[i] - parts[i]), i))
        for i in by_remainder[:left]:
            parts[i] += 1
        sign = -1 if revenue < 0 else 1
        return [Decimal(sign * p).scaleb(exponent) for p in parts]


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # only NaN/Infinity have a str exponent
        msg = f"revenue must be finite, got {value!r}"
        raise ValueError(msg)
    return exponent


def attribute(
    conversion: ConversionFacts,
    touches: Sequence[Touch],
    models: Sequence[ModelSpec] = DEFAULT_MODELS,
    windows: Windows | None = None,
) -> list[Credit]:
    """Credit rows for ``conversion``: per model, one row per eligible touch (or one ``direct`` row)."""
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        msg = f"model names must be unique, got {names!r}"
        raise ValueError(msg)
    journey = eligible_touches(touches, conversion.time, windows)
    rows: list[Credit] = []
    for spec in models:
        if not journey:
            rows.append(Credit(spec.name, None, 0, 0, 1.0, conversion.revenue))
            continue
        shares = weights_for(spec, journey, conversion.time)
        revenue = split_revenue(conversion.revenue, shares, conversion.currency)
        n = len(journey)
        rows.extend(
            Credit(spec.name, touch, i, n, share, part)
            for i, (touch, share, part) in enumerate(zip(journey, shares, revenue, strict=True))
        )
    return rows
