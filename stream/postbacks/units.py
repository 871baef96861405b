"""Amounts in the unit each platform wants, computed in Decimal so 19.99 yuan is 1999 fen, never 1998."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = Decimal(100)
# Int64 in ClickHouse and any JSON reader: larger amounts are not a real order.
MAX_FEN = 2**53 - 1


class AmountError(ValueError):
    """An amount that cannot be reported (not finite, negative, too large)."""


def to_fen(amount: Decimal | int | str) -> int:
    """Yuan to integer fen (Tencent's `value`: "4000代表40元"). A part below one fen (stored revenue has four
    decimals) rounds half up, the way a receipt rounds; everything else is exact."""
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except InvalidOperation:
        msg = f"amount {str(amount)[:40]!r} is not a number"
        raise AmountError(msg) from None
    if not value.is_finite() or value < 0:
        msg = f"amount {value} is not a finite, non-negative amount"
        raise AmountError(msg)
    fen = int((value * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen > MAX_FEN:
        msg = f"amount {value} is too large to report"
        raise AmountError(msg)
    return fen
