"""Times as the event contract writes them, without datetimes: the collector's shortcut (schemas/fast_events.py)
formats and reads two per event.

`format_epoch_ms(ms)` is `schemas.events.format_timestamp` of the UTC time `ms` milliseconds after the epoch;
`iso_ms(text)` reads the one text form that is its own `format_timestamp` (`YYYY-MM-DDTHH:MM:SS.sssZ`, what
JavaScript's `toISOString` writes). Both cache the text of a second: one request's events share a few seconds.
tests/unit/collector/test_fast_ingest.py checks them against `format_timestamp` and pydantic.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

from schemas.events import MAX_YEAR, MIN_YEAR

_EPOCH_DAY: Final = date(1970, 1, 1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MIN_MS: Final = (date(MIN_YEAR, 1, 1) - _EPOCH_DAY).days * 86_400_000
MAX_MS: Final = (date(MAX_YEAR + 1, 1, 1) - _EPOCH_DAY).days * 86_400_000 - 1
"""The contract's years (schemas.events: 2000..2100) as epoch milliseconds, both ends included."""


def format_epoch_ms(ms: int) -> str:
    """`format_timestamp` of the UTC datetime `ms` milliseconds after the epoch, without making the datetime.

    Runs twice per event (timestamp, event_time): the text up to the second is cached (one request's events
    share a few seconds), the milliseconds come from a table."""
    seconds, millis = divmod(ms, 1000)
    prefix = _SECONDS.get(seconds)
    if prefix is None:
        prefix = _second_prefix(seconds)
    return prefix + _MILLIS[millis]


_MILLIS: Final = tuple(f".{i:03d}Z" for i in range(1000))
_SECONDS: dict[int, str] = {}
_SECONDS_KEPT: Final = 65_536  # about 4 MiB at most; a live collector's times span minutes


def _second_prefix(seconds: int) -> str:
    days, in_day = divmod(seconds, 86_400)
    hours, rest = divmod(in_day, 3600)
    minutes, secs = divmod(rest, 60)
    prefix = f"{(_EPOCH_DAY + timedelta(days=days)).isoformat()}T{hours:02d}:{minutes:02d}:{secs:02d}"
    if len(_SECONDS) >= _SECONDS_KEPT:
        _SECONDS.clear()
    _SECONDS[seconds] = prefix
    return prefix


ISO_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
_ISO_SECONDS: dict[str, int] = {}


def iso_ms(text: str) -> int | None:
    """The epoch milliseconds of a `YYYY-MM-DDTHH:MM:SS.sssZ` text that is a real UTC time in the contract's
    years, else None. Such a text is its own `format_timestamp`, so it is also the dump of the timestamp."""
    seconds = _ISO_SECONDS.get(text[:19])
    if seconds is None:
        try:
            at = datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                          int(text[17:19]), tzinfo=UTC)
        except ValueError:  # 2024-02-30, hour 24, second 60, ...: pydantic says what it makes of them
            return None
        if not MIN_YEAR <= at.year <= MAX_YEAR:
            return None
        seconds = (at - _EPOCH) // timedelta(seconds=1)
        if len(_ISO_SECONDS) >= _SECONDS_KEPT:
            _ISO_SECONDS.clear()
        _ISO_SECONDS[text[:19]] = seconds
    return seconds * 1000 + int(text[20:23])


_ISO_TEXT: Final = re.compile(ISO_PATTERN[1:-1])  # fullmatch: the pattern's `^...$` without Python's `$\n`


def plain_time(raw: object) -> datetime | None:
    """`schemas.batch.parse_sent_at(raw)` for the two plain forms (epoch ms in the contract's years, or the
    `toISOString` text of a real time in them); None for anything else, which the caller parses as before."""
    if type(raw) is int:
        ms: int | None = raw if MIN_MS <= raw <= MAX_MS else None
    elif type(raw) is str and _ISO_TEXT.fullmatch(raw):
        ms = iso_ms(raw)
    else:
        return None
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)
