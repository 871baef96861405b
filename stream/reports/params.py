"""Report parameters: parsed and validated from a query string before any SQL is built.

Every value that ends up in SQL is checked here against a closed set or a strict pattern, and quoted again by
`sqltext` when the query is built, so a hostile query string can only produce a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NoReturn

from schemas.events import CONVERSION_TYPES, LIFECYCLE_TYPES
from stream.reports.names import ACQUISITIONS, ALLOCATIONS, GRAINS, LEVELS

APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Custom model names are the operator's (any printable text); they are quoted when the SQL is built.
MODEL = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2149, 6, 6)  # what a ClickHouse Date can hold
LIFECYCLE_STEPS = ",".join(LIFECYCLE_TYPES)
DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 3 * 366
MAX_WINDOW_HOURS = 90 * 24
MAX_LIMIT = 1_000


class ReportParamError(ValueError):
    """A report parameter is missing or invalid; the message names it and says what is allowed."""


@dataclass(frozen=True, slots=True)
class ReportParams:
    app: str
    date_from: date
    date_to: date
    model: str = "linear"
    level: str = "channel"
    acquisition: str = "register"
    allocation: str = "acquisitions"
    grain: str = "day"
    steps: str = LIFECYCLE_STEPS
    window_hours: int = 168
    limit: int = 10
    # Paths: which conversions they lead to; by default first orders (转化), the case studies' yardstick.
    conversion_types: tuple[str, ...] = ("convert",)


def parse_params(query: Mapping[str, str], today: date) -> ReportParams:
    """Reads the common and per-report parameters; unknown names are ignored, bad values raise."""
    app = query.get("app", "")
    if not APP_ID.fullmatch(app):
        _bad("app is required: the app id (letters, digits, '_', '.', '-'; up to 64 characters)")
    date_to = _date(query, "to", today)
    date_from = _date(query, "from", date_to - timedelta(days=DEFAULT_DAYS - 1))
    if date_from > date_to:
        _bad(f"from ({date_from}) is after to ({date_to})")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        _bad(f"the range from {date_from} to {date_to} is longer than {MAX_RANGE_DAYS} days")
    model = query.get("model", "linear")
    if not MODEL.fullmatch(model):
        _bad("model must be a model name such as linear, first_touch or a custom model's name (1..64 characters)")
    steps = query.get("steps", LIFECYCLE_STEPS)
    if len(steps) > 2_000:
        _bad("steps is longer than 2000 characters")
    return ReportParams(
        app=app,
        date_from=date_from,
        date_to=date_to,
        model=model,
        level=_choice(query, "level", LEVELS),
        acquisition=_choice(query, "acquisition", ACQUISITIONS),
        allocation=_choice(query, "allocation", ALLOCATIONS),
        grain=_choice(query, "grain", GRAINS),
        steps=steps,
        window_hours=_int(query, "window_hours", 168, 1, MAX_WINDOW_HOURS),
        limit=_int(query, "limit", 10, 1, MAX_LIMIT),
        conversion_types=_types(query.get("conversion_types", "convert")),
    )


def _bad(message: str) -> NoReturn:
    raise ReportParamError(message)


def _date(query: Mapping[str, str], name: str, default: date) -> date:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        if len(value) != 10:
            raise ValueError
        day = datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007 - a calendar day, no time zone
    except ValueError:
        _bad(f"{name} must be a day as YYYY-MM-DD, got {value[:40]!r}")
    if not FIRST_DAY <= day <= LAST_DAY:
        _bad(f"{name} must be between {FIRST_DAY} and {LAST_DAY}, got {value}")
    return day


def _types(value: str) -> tuple[str, ...]:
    types = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    if not types or any(t not in CONVERSION_TYPES for t in types):
        _bad(f"conversion_types must be a comma-separated list of {', '.join(CONVERSION_TYPES)}; got {value[:60]!r}")
    return types


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = query.get(name, allowed[0])
    if value not in allowed:
        _bad(f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}")
    return value


def _int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        _bad(f"{name} must be a whole number from {low} to {high}; got {value[:40]!r}")
    return int(value)
