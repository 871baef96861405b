"""The collector's shortcut for the common valid event: `_check_raw` + validation + `enrich` in one pass.

`FastBatch.enrich_all(raw_events)` gives each event exactly the dict the pydantic path would (`_check_raw`
passes, the models accept, `enrich` builds it), or None when not sure; `ingest` then takes the pydantic path for
that event, so rejections and their reasons never come from here. Pure, like the rest of ingest.

What is skipped, and why it is the same:
* The shape walk (`shape_problem`) runs on the free-form maps only (`properties`, identify's `traits`, and a
  purchase's or refund's whole `properties`, whose unknown keys are free; a map of scalars in one loop).
  Everything else of an event the shortcut accepts is bounded by the models
  (`schemas.fast_events.BOUNDS`: strings of at most 1,024 characters, objects of at most 64 keys, 3 levels,
  integers only), so with limits at least those bounds the walk of the whole event finds a problem exactly
  when the walk of its free-form maps does. With smaller limits the shortcut is off.
* The clock correction is `schemas.enrich.correct_clock` in integer microseconds: `sent_at`, `received_at` and
  the threshold are the request's, so whether to correct is decided once per request, and the times sent
  (epoch milliseconds, or millisecond ISO text) are exact integers of milliseconds; datetimes subtract exactly,
  so the arithmetic is the same.
* The size check (`orjson.dumps` of the raw event) is skipped only when the body is short enough that no event
  of it can fail it (`collector.body.events_surely_fit`): a re-serialised event can be longer than its text in
  the body (`1e15` is written `1000000000000000.0`), at most `REENCODED_GROWTH` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from collector.body import BodyLimits, events_surely_fit, shape_problem
from schemas.events import format_timestamp
from schemas.fast_events import BOUNDS, FREE_KEYS, fast_dumps
from schemas.fast_times import format_epoch_ms, iso_ms

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FREE_MAP_DEPTH = 2
_INT64 = float(2**63)  # as collector.body: a float this large was an integer literal past 64 bits
_MICROSECOND = timedelta(microseconds=1)


def limits_allow_shortcut(limits: BodyLimits) -> bool:
    """Whether the typed part of any event the shortcut accepts is within `limits` (see the module doc)."""
    return (
        limits.max_string_chars >= BOUNDS.string_chars
        and limits.max_properties >= BOUNDS.keys
        and limits.max_depth >= BOUNDS.depth
    )


@dataclass(frozen=True, slots=True)
class FastBatch:
    """One request's facts, computed once: the server fields every event of it gets."""

    limits: BodyLimits
    app_id: str
    ip: str | None
    user_agent: str | None
    sent_at_text: str | None
    received_at_text: str
    received_us: int
    offset_us: int  # subtracted from each event's time: sent_at − received_at when corrected, else 0
    corrected: bool
    sizes_fit: bool  # no event of the body can be over the size limit (`events_surely_fit`)

    @classmethod
    def of(
        cls, *, limits: BodyLimits, app_id: str, received_at: datetime, sent_at: datetime | None,
        ip: str | None, user_agent: str | None, max_future_skew: timedelta, body_bytes: int | None = None,
    ) -> FastBatch | None:
        """None when the shortcut cannot apply to this request (the pydantic path raises or decides).

        `body_bytes`: the length of the body the events were parsed from, when known."""
        if received_at.tzinfo is None or max_future_skew < timedelta(0) or not limits_allow_shortcut(limits):
            return None
        corrected = False
        offset_us = 0
        if sent_at is not None:
            offset = sent_at - received_at
            if abs(offset) > max_future_skew:
                corrected, offset_us = True, offset // _MICROSECOND
        return cls(
            limits=limits,
            app_id=app_id,
            ip=ip,
            user_agent=user_agent,
            sent_at_text=None if sent_at is None else format_timestamp(sent_at),
            received_at_text=format_timestamp(received_at),
            received_us=(received_at - _EPOCH) // _MICROSECOND,
            offset_us=offset_us,
            corrected=corrected,
            sizes_fit=body_bytes is not None and events_surely_fit(body_bytes, limits),
        )

    def enrich_all(self, raw_events: list[Any]) -> list[dict[str, Any] | None]:
        """For each raw event, its `enrich` output when it is surely accepted, else None (the pydantic path)."""
        limits = self.limits
        max_bytes = limits.max_event_bytes
        check_size = not self.sizes_fit
        server = self._server_fields()
        offset_us, received_us, received_at = self.offset_us, self.received_us, self.received_at_text
        free = FREE_KEYS
        out = fast_dumps(raw_events)
        for index, event in enumerate(out):
            if event is None:
                continue
            raw = raw_events[index]
            if check_size and len(orjson.dumps(raw)) > max_bytes:
                out[index] = None
                continue
            for key in free[event["type"]]:
                value = event[key]
                if value and not _free_map_ok(value, limits):
                    out[index] = None
                    break
            else:
                event.update(server)  # in enrich's key order; event_time and clock_clamped are set just below
                sent = raw["timestamp"]  # epoch ms, or a text fast_dumps has read (never None here)
                event_us = (sent if type(sent) is int else iso_ms(sent) or 0) * 1000 - offset_us
                if event_us > received_us:
                    event["event_time"] = received_at
                    event["clock_clamped"] = True
                elif not offset_us:
                    event["event_time"] = event["timestamp"]  # uncorrected: the device time, already formatted
                else:
                    # Floor division: a datetime's microseconds are never negative, so format_timestamp truncates
                    # so too.
                    event["event_time"] = format_epoch_ms(event_us // 1000)
        return out

    def _server_fields(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "sent_at": self.sent_at_text,
            "received_at": self.received_at_text,
            "event_time": self.received_at_text,
            "clock_corrected": self.corrected,
            "clock_clamped": False,
            "ip": self.ip,
            "user_agent": self.user_agent,
        }


def _free_map_ok(value: dict[str, Any], limits: BodyLimits) -> bool:
    """True only if `shape_problem` finds nothing in this free-form map at level 2 (the event is level 1).

    The common map holds scalars only, checked here in one loop; any other value gets the full walk."""
    if len(value) > limits.max_properties or limits.max_depth < _FREE_MAP_DEPTH:
        return False
    chars = limits.max_string_chars
    for key, item in value.items():
        if len(key) > chars:
            return False
        kind = type(item)
        if kind is str:
            if len(item) > chars:
                return False
        elif kind is float:
            if not -_INT64 < item < _INT64:
                return False
        elif kind is not int and kind is not bool and item is not None:
            return shape_problem(value, limits, depth=_FREE_MAP_DEPTH) is None
    return True
