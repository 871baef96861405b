"""Money values shared by spend and revenue ingestion: currency codes, exact decimal arithmetic, exchange rates by date.

`FxRates` holds units of the base currency per 1 unit of each currency, each rate valid from its date until
the next entry; conversions are computed exactly and rounded half-even to 4 places only at the end.
"""

from __future__ import annotations

import bisect
import datetime
import itertools
import math
import os
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any, NoReturn

import orjson

SPEND_PLACES = 4
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DECIMAL_PATTERN = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
Q4 = Decimal(1).scaleb(-SPEND_PLACES)
_MIN_RATE = Decimal("1e-12")
_MAX_RATE = Decimal("1e12")
_MAX_RATE_DIGITS = 28
# Wide enough that spend (18 digits) x rate (28 digits) is exact; only the final quantize rounds.
WIDE = Context(prec=80, rounding=ROUND_HALF_EVEN)
_RATE = Context(prec=_MAX_RATE_DIGITS, rounding=ROUND_HALF_EVEN)


class FxConfigError(ValueError):
    """The exchange-rate file is wrong; the message says where."""


class UnknownCurrency(ValueError):
    def __init__(self, currency: str, on: datetime.date) -> None:
        self.currency = currency
        self.on = on
        super().__init__(f"no exchange rate for {currency} on or before {on.isoformat()}")


class FxRates:
    """Exchange rates: units of `base` per 1 unit of each currency, each valid from its date to the next entry."""

    __slots__ = ("_base", "_dates", "_rates")

    def __init__(self, spec: Mapping[str, Any], *, source: str = "FX rates") -> None:
        if not isinstance(spec, Mapping):
            _fx_error(f'{source}: expected {{"base": "CNY", "rates": {{...}}}}; got {show(spec)}')
        unknown = sorted(str(k) for k in spec if k not in ("base", "rates"))
        if unknown:
            _fx_error(f"{source}: unknown keys {unknown}; allowed: base, rates")
        base = spec.get("base")
        if not isinstance(base, str) or not CURRENCY_PATTERN.fullmatch(base):
            _fx_error(f"{source}: base must be an ISO-4217 code of 3 uppercase letters (e.g. CNY); got {show(base)}")
        rates = spec.get("rates", {})
        if not isinstance(rates, Mapping):
            _fx_error(f'{source}: rates must be an object {{"USD": [{{"from": "2026-01-01", "rate": "7.10"}}]}}')
        self._base: str = base
        self._dates: dict[str, list[datetime.date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, entries in rates.items():
            if not isinstance(currency, str) or not CURRENCY_PATTERN.fullmatch(currency):
                _fx_error(f"{source}: rates key {show(currency)} is not an ISO-4217 code of 3 uppercase letters")
            if currency == base:
                _fx_error(f"{source}: rates.{currency}: the base currency has rate 1 implicitly; remove it")
            if not isinstance(entries, list) or not entries:
                _fx_error(f'{source}: rates.{currency} must be a non-empty list of {{"from": date, "rate": number}}')
            parsed = sorted(_fx_entry(entry, f"{source}: rates.{currency}[{i}]") for i, entry in enumerate(entries))
            for (prev, _), (day, _) in itertools.pairwise(parsed):
                if prev == day:
                    _fx_error(f"{source}: rates.{currency} has two rates from {day.isoformat()}; keep one")
            self._dates[currency] = [day for day, _ in parsed]
            self._rates[currency] = [rate for _, rate in parsed]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FxRates:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            _fx_error(f"{p}: cannot read the FX rates file: {exc.strerror or exc}")
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            _fx_error(f"{p}: not valid JSON: {exc}")
        return cls(doc, source=str(p))

    @classmethod
    def identity(cls, base: str = "CNY") -> FxRates:
        return cls({"base": base})

    @property
    def base(self) -> str:
        return self._base

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({self._base, *self._dates}))

    def rate(self, currency: str, to: str, on: datetime.date) -> Decimal:
        """Units of `to` per 1 unit of `currency` on `on` (cross rates through the base, 28 significant digits)."""
        if currency == to:
            return Decimal(1)
        return _RATE.divide(self._to_base(currency, on), self._to_base(to, on))

    def convert(
        self, amount: Decimal, currency: str, to: str, on: datetime.date, *, places: int = SPEND_PLACES
    ) -> tuple[Decimal, Decimal]:
        """(amount in `to` rounded half-even to `places` (spend: 4), the rate used); raises UnknownCurrency.

        Rounded once, from the exact product: revenue is converted straight to cents, never through 4 places.
        """
        unit = Decimal(1).scaleb(-places)
        if currency == to:
            return amount.quantize(unit, context=WIDE), Decimal(1)
        r_from, r_to = self._to_base(currency, on), self._to_base(to, on)
        exact = WIDE.divide(WIDE.multiply(amount, r_from), r_to)
        return exact.quantize(unit, context=WIDE), _RATE.divide(r_from, r_to)

    def _to_base(self, currency: str, on: datetime.date) -> Decimal:
        if currency == self._base:
            return Decimal(1)
        dates = self._dates.get(currency)
        if not dates:
            raise UnknownCurrency(currency, on)
        i = bisect.bisect_right(dates, on) - 1
        if i < 0:
            raise UnknownCurrency(currency, on)
        return self._rates[currency][i]


def _fx_error(message: str) -> NoReturn:
    raise FxConfigError(message)


def show(value: Any) -> str:
    """A short, safe rendering of what was sent, for messages."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() < 128 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, str | float | Decimal):
        text = repr(value) if not isinstance(value, Decimal) else str(value)
        return text if len(text) <= 48 else text[:45] + "..."
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _fx_entry(entry: Any, where: str) -> tuple[datetime.date, Decimal]:
    if not isinstance(entry, Mapping) or set(entry) != {"from", "rate"}:
        _fx_error(f'{where}: expected {{"from": "YYYY-MM-DD", "rate": "7.10"}}; got {show(entry)}')
    day = entry["from"]
    if not isinstance(day, str) or not DATE_PATTERN.fullmatch(day):
        _fx_error(f"{where}.from must be a date YYYY-MM-DD; got {show(day)}")
    try:
        start = datetime.date.fromisoformat(day)
    except ValueError:
        _fx_error(f"{where}.from {day!r} is not a calendar date")
    raw = entry["rate"]
    rate: Decimal | None = None
    if isinstance(raw, str) and len(raw) <= 64 and DECIMAL_PATTERN.fullmatch(raw.strip()):
        rate = Decimal(raw.strip())
    elif isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() < 64:
        rate = Decimal(raw)
    elif isinstance(raw, float) and math.isfinite(raw):
        rate = Decimal(repr(raw))
    if rate is None or not _MIN_RATE <= rate <= _MAX_RATE or len(rate.as_tuple().digits) > _MAX_RATE_DIGITS:
        _fx_error(
            f"{where}.rate must be a positive decimal between {_MIN_RATE} and {_MAX_RATE} with at most "
            f"{_MAX_RATE_DIGITS} significant digits (units of the base per 1 unit); got {show(raw)}"
        )
    return start, rate
