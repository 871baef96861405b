"""Server-side enrichment: a validated event plus its request's facts → the JSON-ready dict sent to Kafka.

Deliberately not a pydantic model (it runs once per accepted event on the hot path): a plain function building
a plain dict. Pure: the clock is passed in as values (`received_at`), never read here.

Clock-skew rule (see schemas/README.md, "Clock-skew correction"):

* With `sent_at` (device time when the request was sent) the device clock offset is measured as
  `offset = sent_at − received_at`. If `|offset| > max_future_skew` the event time is corrected:
  `event_time = received_at − (sent_at − timestamp)` (= `timestamp − offset`) and `clock_corrected` is true.
  The measured offset includes the request's time in transit, so offsets up to `max_future_skew`
  (`DEFAULT_CLOCK_SKEW_THRESHOLD`, 60 s) are left alone: a batch that stalled a few seconds on a mobile network
  must not land seconds after a later batch of the same device, while real clock errors are minutes to years.
* Without `sent_at` the device clock cannot be measured: `event_time = timestamp`.
* Either way `event_time` is never after `received_at`: a later value is clamped to `received_at` and
  `clock_clamped` is true (a device clock running ahead without `sent_at`, or `sent_at` before `timestamp`).

Device order (`keep_device_order`): within one request, one device's events that carry `context.device_seq`
get non-decreasing event times in `device_seq` order; an event whose time falls before an earlier-seq event of
its device is moved to that time and flagged `clock_corrected`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from schemas.events import Event, format_timestamp

# Transit plus jitter of a mobile request stays well under a minute; device clock errors worth correcting are
# minutes (a manually set clock) to years (a reset one). See schemas/README.md for the sources.
DEFAULT_CLOCK_SKEW_THRESHOLD = timedelta(seconds=60)


class ClockCorrection(NamedTuple):
    event_time: datetime
    corrected: bool
    clamped: bool


def correct_clock(
    timestamp: datetime,
    *,
    received_at: datetime,
    sent_at: datetime | None,
    max_future_skew: timedelta,
) -> ClockCorrection:
    """The event time the server believes, and how it was reached. All datetimes must be tz-aware."""
    if received_at.tzinfo is None:
        msg = "received_at must be a timezone-aware datetime"
        raise ValueError(msg)
    if max_future_skew < timedelta(0):
        msg = f"max_future_skew must not be negative, got {max_future_skew}"
        raise ValueError(msg)
    event_time = timestamp
    corrected = False
    if sent_at is not None:
        offset = sent_at - received_at
        if abs(offset) > max_future_skew:
            event_time = timestamp - offset
            corrected = True
    clamped = event_time > received_at
    if clamped:
        event_time = received_at
    return ClockCorrection(event_time, corrected, clamped)


def enrich(
    event: Event,
    *,
    app_id: str,
    received_at: datetime,
    sent_at: datetime | None,
    ip: str | None,
    user_agent: str | None,
    max_future_skew: timedelta,
) -> dict[str, Any]:
    """The record for the events topic: every event field (JSON form) plus the server-owned fields.

    Added keys: `app_id`, `sent_at` (or null), `received_at`, `event_time`, `clock_corrected`,
    `clock_clamped`, `ip`, `user_agent`. `timestamp` stays the device time as sent. Datetimes are ISO-8601 UTC
    with milliseconds and `Z`; purchase `revenue` is an exact decimal string. `phone` is still in clear text
    here: the collector hashes it into `phone_hash` before the record leaves the process.
    """
    clock = correct_clock(event.timestamp, received_at=received_at, sent_at=sent_at, max_future_skew=max_future_skew)
    out: dict[str, Any] = event.model_dump(mode="json", by_alias=True)
    out["app_id"] = app_id
    out["sent_at"] = None if sent_at is None else format_timestamp(sent_at)
    out["received_at"] = format_timestamp(received_at)
    out["event_time"] = format_timestamp(clock.event_time)
    out["clock_corrected"] = clock.corrected
    out["clock_clamped"] = clock.clamped
    out["ip"] = ip
    out["user_agent"] = user_agent
    return out


def keep_device_order(events: list[dict[str, Any]]) -> int:
    """Makes each device's event times non-decreasing in `context.device_seq` order, in place; returns how many
    events were moved.

    `events` are `enrich` outputs of one request. Only events with an `anonymous_id` and an integer
    `device_seq` take part; a moved event gets its earlier-seq predecessor's `event_time` (never after
    `received_at`, since that one is not) and `clock_corrected = true`. Times are compared as datetimes.
    """
    by_device: dict[str, list[tuple[int, int]]] = {}
    for index, event in enumerate(events):
        context = event.get("context")
        if not context:
            continue
        seq = context.get("device_seq")
        if seq is None:  # the common case, decided in one look-up (this runs for every accepted event)
            continue
        anonymous_id = event.get("anonymous_id")
        if isinstance(seq, int) and anonymous_id:
            by_device.setdefault(anonymous_id, []).append((seq, index))
    moved = 0
    for entries in by_device.values():
        if len(entries) < 2:
            continue
        entries.sort()
        floor: datetime | None = None
        floor_text = ""
        for _, index in entries:
            event = events[index]
            at = datetime.fromisoformat(event["event_time"])
            if floor is not None and at < floor:
                event["event_time"] = floor_text
                event["clock_corrected"] = True
                moved += 1
            else:
                floor, floor_text = at, event["event_time"]
    return moved
