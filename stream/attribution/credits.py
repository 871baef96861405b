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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from functools import lru_cache

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
    if not shares or min(shares) < 0 or max(shares) <= 0 or not all(map(math.isfinite, shares)):
        msg = f"revenue shares must be finite, >= 0 and not all 0, got {list(shares)!r}"
        raise ValueError(msg)
    if not revenue.is_finite():
        msg = f"revenue must be finite, got {revenue!r}"
        raise ValueError(msg)
    exponent, units = _minor_units(revenue, currency)
    parts = _largest_remainder(units, shares)
    sign = -1 if revenue < 0 else 1
    if units < _SMALL_UNITS:  # exact in the default context: skip the cost of a local one
        zero = _zero(exponent)  # most parts of first/last touch: one shared immutable value
        return [Decimal(sign * p).scaleb(exponent) if p else zero for p in parts]
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return [Decimal(sign * p).scaleb(exponent) for p in parts]


# Below 10**28 minor units every part has at most 28 digits, so scaleb is exact at the default precision.
_SMALL_UNITS = 10**28


@lru_cache(maxsize=64)
def _zero(exponent: int) -> Decimal:
    return Decimal(0).scaleb(exponent)


@lru_cache(maxsize=4_096)
def _minor_units(revenue: Decimal, currency: str) -> tuple[int, int]:
    """(exponent of the minor unit, |revenue| in those units). Cached: every model of a conversion asks.

    Equal Decimals (10.5 and 10.50) share a cache entry; both give the same answer, which depends only on
    the value (``normalize``) and the currency.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        exponent = min(-minor_unit_digits(currency), _exponent(revenue.normalize()))
        return exponent, int(abs(revenue).scaleb(-exponent))


def _largest_remainder(units: int, shares: Sequence[float]) -> list[int]:
    """Whole units per share: floor of each exact quota, the rest to the largest remainders (ties: earlier).

    Exact rational arithmetic in integers: a float is a fraction with a power-of-two denominator, so every
    share is brought to the common denominator and each quota ``units * n_i / total`` is split into its
    floor and remainder with one ``divmod``, which is what the quotas of the exact binary values give.
    """
    k = len(shares)
    if shares.count(shares[0]) == k:  # linear: equal quotas, the left units to the first touches
        part, left = divmod(units, k)
        return [part + 1] * left + [part] * (k - left)
    if k - shares.count(0) == 1:  # first or last touch: one share takes every unit
        parts = [0] * k
        parts[next(i for i, s in enumerate(shares) if s)] = units
        return parts
    ratios = [s.as_integer_ratio() for s in shares]
    common = math.lcm(*[d for _, d in ratios])
    numerators = [n * (common // d) for n, d in ratios]
    total = sum(numerators)
    quotas = [divmod(units * n, total) for n in numerators]
    parts = [part for part, _ in quotas]
    left = units - sum(parts)
    if left:
        # sorted() is stable: equal remainders keep their order, so a tie goes to the earlier touch.
        for i in sorted(range(len(quotas)), key=lambda i: -quotas[i][1])[:left]:
            parts[i] += 1
    return parts


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # only NaN/Infinity have a str exponent
        msg = f"revenue must be finite, got {value!r}"
        raise ValueError(msg)
    return exponent


ModelCredits = tuple[str, list[float], list[Decimal]]
"""One model's result: its name, the share of each journey touch, and the revenue part of each."""


def attribute_journey(
    conversion: ConversionFacts,
    touches: Sequence[Touch],
    models: Sequence[ModelSpec] = DEFAULT_MODELS,
    windows: Windows | None = None,
) -> tuple[list[Touch], list[ModelCredits]]:
    """What ``attribute`` computes, before it becomes ``Credit`` rows: the eligible journey, then per model
    the shares and revenue parts in journey order. Without an eligible touch each model has the one share
    1.0 with the whole revenue (the ``direct`` row). The engine uses this form: one tuple per model rather
    than one object per touch and model.
    """
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        msg = f"model names must be unique, got {names!r}"
        raise ValueError(msg)
    journey = eligible_touches(touches, conversion.time, windows)
    if not journey:
        return journey, [(spec.name, [1.0], [conversion.revenue]) for spec in models]
    results: list[ModelCredits] = []
    for spec in models:
        shares = weights_for(spec, journey, conversion.time)
        results.append((spec.name, shares, split_revenue(conversion.revenue, shares, conversion.currency)))
    return journey, results


def attribute(
    conversion: ConversionFacts,
    touches: Sequence[Touch],
    models: Sequence[ModelSpec] = DEFAULT_MODELS,
    windows: Windows | None = None,
) -> list[Credit]:
    """Credit rows for ``conversion``: per model, one row per eligible touch (or one ``direct`` row)."""
    journey, per_model = attribute_journey(conversion, touches, models, windows)
    rows: list[Credit] = []
    n = len(journey)
    for name, shares, revenue in per_model:
        if not journey:
            rows.append(Credit(name, None, 0, 0, shares[0], revenue[0]))
            continue
        rows.extend(
            Credit(name, touch, i, n, share, part)
            for i, (touch, share, part) in enumerate(zip(journey, shares, revenue, strict=True))
        )
    return rows
