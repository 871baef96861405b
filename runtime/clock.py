"""The clock and id generator every service receives instead of calling `datetime.now()` itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


def system_clock() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def fixed_clock(at: datetime) -> Clock:
    """A clock frozen at `at`, for tests and replays."""
    if at.tzinfo is None:
        msg = "fixed_clock needs a timezone-aware datetime"
        raise ValueError(msg)
    return lambda: at
