"""One field of a spend row: each parser takes the value as sent (JSON or a CSV cell) and returns it checked and
normalised, or raises `InvalidField` with a message that says what to send instead.

collector/costs.py runs them over every row of an upload and collects the problems. Exactness: spend never
passes through float arithmetic (strings are parsed as decimals, JSON numbers via their shortest `repr`).
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from decimal import Decimal
from typing import Any, NoReturn

from collector.money import CURRENCY_PATTERN, DATE_PATTERN, DECIMAL_PATTERN, Q4, SPEND_PLACES, WIDE, show

MAX_LABEL_CHARS = 128
MAX_SPEND_INT_DIGITS = 14
MAX_SPEND = Decimal(10) ** MAX_SPEND_INT_DIGITS

NAME_PATTERN = re.compile(r"[a-z0-9_.-]{1,64}")
NAME_RULE = "1-64 characters of a-z, 0-9, '_', '.', '-'"


class InvalidField(Exception):
    """The value of one field cannot be used; the message says what to send instead."""


def _bad(message: str) -> NoReturn:
    raise InvalidField(message)


def _check_name(value: str, field: str) -> str:
    text = value.strip()
    if not text.isascii() or not NAME_PATTERN.fullmatch(text.lower()):
        _bad(f"{field} {show(value)} is not allowed; use {NAME_RULE}")
    return text.lower()


def parse_date(value: Any) -> datetime.date:
    if value is None:
        _bad("date is required, as YYYY-MM-DD (e.g. 2026-03-01)")
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value.strip()):
        _bad(f"date {show(value)} is not a date; send YYYY-MM-DD (e.g. 2026-03-01)")
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        _bad(f"date {show(value)} is not a calendar date; send YYYY-MM-DD (e.g. 2026-03-01)")


def parse_channel(value: Any) -> str:
    if value is None:
        _bad(f"channel is required (e.g. tencent_ads): {NAME_RULE}")
    if not isinstance(value, str):
        _bad(f"channel must be a string of {NAME_RULE}; got {show(value)}")
    return _check_name(value, "channel")


def parse_label(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _bad(f"{field} must be a string of at most {MAX_LABEL_CHARS} characters (or omitted); got {show(value)}")
    text = value.strip()
    if len(text) > MAX_LABEL_CHARS:
        _bad(f"{field} is {len(text)} characters long; at most {MAX_LABEL_CHARS} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        _bad(f"{field} {show(value)} contains control characters; send plain text")
    return text


def parse_spend(value: Any) -> Decimal:
    rule = f'a decimal number >= 0 with at most {SPEND_PLACES} decimal places, e.g. 1234.5678 or "1234.5678"'
    amount: Decimal
    if value is None:
        _bad(f"spend is required: {rule}")
    if isinstance(value, bool):
        _bad(f"spend {show(value)} is not a number; send {rule}")
    if isinstance(value, int):
        if value >= MAX_SPEND:
            _bad(f"spend {show(value)} has more than {MAX_SPEND_INT_DIGITS} digits before the decimal point")
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            _bad(f"spend {show(value)} is not a finite number; send {rule}")
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            _bad(f"spend {show(value)} is not a finite number; send {rule}")
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 64 or not DECIMAL_PATTERN.fullmatch(text):
            _bad(f"spend {show(value)} is not a plain decimal number; send {rule}")
        amount = Decimal(text)
    else:
        _bad(f"spend must be {rule}; got {show(value)}")
    if amount < 0:
        _bad(f"spend {show(value)} is negative; spend must be >= 0 (send a correction as the new figure)")
    if amount >= MAX_SPEND:
        _bad(f"spend {show(value)} has more than {MAX_SPEND_INT_DIGITS} digits before the decimal point")
    rounded = amount.quantize(Q4, context=WIDE)
    if rounded != amount:
        _bad(f"spend {show(value)} has more than {SPEND_PLACES} decimal places; round it, e.g. to {rounded}")
    return rounded.copy_abs()


def parse_currency(value: Any, default: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        _bad(f"currency must be an ISO-4217 code like USD or CNY; got {show(value)}")
    code = value.strip().upper()
    if not code.isascii() or not CURRENCY_PATTERN.fullmatch(code):
        _bad(f"currency {show(value)} is not an ISO-4217 code; send 3 letters like USD or CNY")
    return code


def parse_source(value: Any, default: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        _bad(f"source must be a string of {NAME_RULE} (e.g. tencent_ads); got {show(value)}")
    return _check_name(value, "source")
