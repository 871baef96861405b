"""Server-side enrichment and the clock-skew rule, with hand-computed expected values."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from schemas.batch import parse_sent_at
from schemas.enrich import correct_clock, enrich
from schemas.events import EVENT_ADAPTER, EVENT_MODELS, EVENT_TYPES, format_decimal, format_timestamp

RECEIVED = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)
MS = timedelta(milliseconds=1)
ZERO = timedelta(0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------------------
# correct_clock: hand-computed cases
# ---------------------------------------------------------------------------------------------------------


def test_device_clock_three_hours_ahead() -> None:
    # Real time of the event 07:59:50, sent 08:00:00, received 08:00:00.200 (200 ms in transit).
    # The device shows +3 h: timestamp 10:59:50, sent_at 11:00:00.
    # event_time = received − (sent_at − timestamp) = 08:00:00.200 − 10 s = 07:59:50.200.
    clock = correct_clock(
        at("2024-05-01T10:59:50Z"),
        received_at=at("2024-05-01T08:00:00.200Z"),
        sent_at=at("2024-05-01T11:00:00Z"),
        max_future_skew=ZERO,
    )
    assert clock.event_time == at("2024-05-01T07:59:50.200Z")
    assert (clock.corrected, clock.clamped) == (True, False)


def test_device_clock_two_days_behind() -> None:
    # Event at device time 2024-04-29T07:55:00, queued, sent at device 2024-04-29T07:59:59.500,
    # received 2024-05-01T08:00:00.000: event_time = 08:00:00.000 − 4 min 59.5 s = 07:55:00.500 on May 1.
    clock = correct_clock(
        at("2024-04-29T07:55:00Z"),
        received_at=RECEIVED,
        sent_at=at("2024-04-29T07:59:59.500Z"),
        max_future_skew=ZERO,
    )
    assert clock.event_time == at("2024-05-01T07:55:00.500Z")
    assert (clock.corrected, clock.clamped) == (True, False)


def test_without_sent_at_the_device_time_is_kept() -> None:
    clock = correct_clock(at("2024-05-01T07:30:00Z"), received_at=RECEIVED, sent_at=None, max_future_skew=ZERO)
    assert clock.event_time == at("2024-05-01T07:30:00Z")
    assert (clock.corrected, clock.clamped) == (False, False)


def test_without_sent_at_a_future_timestamp_is_clamped() -> None:
    # The device runs 3 h ahead and sent no sent_at: nothing to measure the offset with.
    clock = correct_clock(at("2024-05-01T10:59:00Z"), received_at=RECEIVED, sent_at=None, max_future_skew=H)
    assert clock.event_time == RECEIVED
    assert (clock.corrected, clock.clamped) == (False, True)


def test_sent_at_before_timestamp_is_clamped() -> None:
    # An SDK bug: the event claims 08:00:05 but the batch claims it was sent at 08:00:00.
    # Received 08:00:00.100 → offset −100 ms → corrected 08:00:05.100, after received_at → clamped.
    clock = correct_clock(
        at("2024-05-01T08:00:05Z"),
        received_at=at("2024-05-01T08:00:00.100Z"),
        sent_at=at("2024-05-01T08:00:00Z"),
        max_future_skew=ZERO,
    )
    assert clock.event_time == at("2024-05-01T08:00:00.100Z")
    assert (clock.corrected, clock.clamped) == (True, True)


def test_offset_within_tolerance_is_not_corrected() -> None:
    # Device 2 s ahead, tolerance 5 s: the device time is trusted.
    clock = correct_clock(
        at("2024-05-01T07:00:02Z"), received_at=RECEIVED, sent_at=RECEIVED + 2 * S, max_future_skew=5 * S
    )
    assert clock.event_time == at("2024-05-01T07:00:02Z")
    assert (clock.corrected, clock.clamped) == (False, False)


def test_offset_within_tolerance_still_clamps_a_future_event() -> None:
    clock = correct_clock(RECEIVED + S, received_at=RECEIVED, sent_at=RECEIVED + 2 * S, max_future_skew=5 * S)
    assert clock.event_time == RECEIVED
    assert (clock.corrected, clock.clamped) == (False, True)


@pytest.mark.parametrize(
    ("offset", "corrected"),
    [(5 * S, False), (5 * S + MS, True), (-5 * S, False), (-5 * S - MS, True)],
)
def test_tolerance_boundary(offset: timedelta, corrected: bool) -> None:
    timestamp = at("2024-05-01T07:00:00Z")
    clock = correct_clock(timestamp, received_at=RECEIVED, sent_at=RECEIVED + offset, max_future_skew=5 * S)
    assert clock.corrected is corrected
    assert clock.event_time == (timestamp - offset if corrected else timestamp)


def test_timestamp_equal_to_received_at_is_not_clamped() -> None:
    clock = correct_clock(RECEIVED, received_at=RECEIVED, sent_at=None, max_future_skew=ZERO)
    assert (clock.event_time, clock.clamped) == (RECEIVED, False)


def test_exact_device_clock_with_zero_tolerance() -> None:
    clock = correct_clock(RECEIVED - H, received_at=RECEIVED, sent_at=RECEIVED, max_future_skew=ZERO)
    assert clock.event_time == RECEIVED - H
    assert (clock.corrected, clock.clamped) == (False, False)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        correct_clock(RECEIVED, received_at=RECEIVED.replace(tzinfo=None), sent_at=None, max_future_skew=ZERO)
    with pytest.raises(ValueError, match="must not be negative"):
        correct_clock(RECEIVED, received_at=RECEIVED, sent_at=None, max_future_skew=-S)


aware = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive; timezones= makes them aware)
    max_value=datetime(2100, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(database=None, max_examples=300, deadline=None)
@given(
    timestamp=aware,
    received_at=aware,
    sent_at=st.none() | aware,
    tolerance=st.timedeltas(min_value=ZERO, max_value=timedelta(days=1)),
)
def test_clock_invariants(
    timestamp: datetime, received_at: datetime, sent_at: datetime | None, tolerance: timedelta
) -> None:
    clock = correct_clock(timestamp, received_at=received_at, sent_at=sent_at, max_future_skew=tolerance)
    assert clock.event_time <= received_at
    assert clock.corrected == (sent_at is not None and abs(sent_at - received_at) > tolerance)
    unclamped = received_at - (sent_at - timestamp) if sent_at is not None and clock.corrected else timestamp
    assert clock.event_time == min(unclamped, received_at)
    assert clock.clamped == (unclamped > received_at)


# ---------------------------------------------------------------------------------------------------------
# enrich
# ---------------------------------------------------------------------------------------------------------


def raw_event(type_: str = "enter", **fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "event_id": "e-1",
        "type": type_,
        "timestamp": "2024-05-01T10:59:50.123456Z",
        "anonymous_id": "anon-1",
    }
    if type_ in ("convert", "repurchase"):
        raw["properties"] = {"order_id": "o-1", "revenue": 19.9, "sku": "A"}
    if type_ == "refund":
        raw["properties"] = {"order_id": "o-1", "amount": 5}
    if type_ == "identify":
        raw["phone"] = "+8613800138000"
    if type_ == "custom":
        raw["name"] = "add_to_cart"
    raw.update(fields)
    return raw


def run(raw: dict[str, Any], *, sent_at: datetime | None, received_at: datetime = RECEIVED) -> dict[str, Any]:
    return enrich(
        EVENT_ADAPTER.validate_python(raw),
        app_id="app-1",
        received_at=received_at,
        sent_at=sent_at,
        ip="203.0.113.7",
        user_agent="UA/1",
        max_future_skew=ZERO,
    )


ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_enrich_record() -> None:
    out = run(
        raw_event("convert", context={"share": {"from": "u-9", "depth": 1}, "query": {"gdt_vid": "g"}}),
        sent_at=at("2024-05-01T11:00:00Z"),
        received_at=at("2024-05-01T08:00:00.200Z"),
    )
    assert out["timestamp"] == "2024-05-01T10:59:50.123Z"  # device time as sent, to the millisecond
    assert out["sent_at"] == "2024-05-01T11:00:00.000Z"
    assert out["received_at"] == "2024-05-01T08:00:00.200Z"
    assert out["event_time"] == "2024-05-01T07:59:50.323Z"  # 08:00:00.200 − 9.876544 s, truncated to ms
    assert (out["clock_corrected"], out["clock_clamped"]) == (True, False)
    assert (out["app_id"], out["ip"], out["user_agent"]) == ("app-1", "203.0.113.7", "UA/1")
    assert out["properties"] == {"order_id": "o-1", "revenue": "19.9", "currency": "CNY", "sku": "A"}
    assert out["context"]["share"] == {"from": "u-9", "depth": 1}
    assert out["context"]["query"] == {"gdt_vid": "g"}
    assert orjson.loads(orjson.dumps(out)) == out  # JSON-ready: no datetime, no Decimal
    assert json.loads(json.dumps(out)) == out


def test_enrich_without_sent_at() -> None:
    out = run(raw_event(timestamp="2024-05-01T07:30:00Z"), sent_at=None)
    assert out["sent_at"] is None
    assert out["event_time"] == out["timestamp"] == "2024-05-01T07:30:00.000Z"
    assert (out["clock_corrected"], out["clock_clamped"]) == (False, False)


def test_enrich_clamps_a_future_event_without_sent_at() -> None:
    out = run(raw_event(), sent_at=None)
    assert out["event_time"] == out["received_at"] == "2024-05-01T08:00:00.000Z"
    assert out["timestamp"] == "2024-05-01T10:59:50.123Z"
    assert (out["clock_corrected"], out["clock_clamped"]) == (False, True)


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_enrich_keeps_every_field_of_every_type(type_: str) -> None:
    out = run(raw_event(type_), sent_at=RECEIVED)
    model = EVENT_MODELS[type_]
    event_keys = {info.alias or name for name, info in model.model_fields.items()}
    added = {"app_id", "sent_at", "received_at", "event_time", "clock_corrected", "clock_clamped", "ip", "user_agent"}
    assert set(out) == event_keys | added
    assert event_keys.isdisjoint(added)
    for key in ("timestamp", "sent_at", "received_at", "event_time"):
        assert ISO_MS_Z.match(out[key]), (key, out[key])
    assert orjson.loads(orjson.dumps(out)) == out


def test_enrich_does_not_touch_the_event() -> None:
    event = EVENT_ADAPTER.validate_python(raw_event("identify"))
    before = event.model_copy(deep=True)
    out = enrich(event, app_id="a", received_at=RECEIVED, sent_at=None, ip=None, user_agent=None, max_future_skew=ZERO)
    assert event == before
    assert out["phone"] == "+8613800138000"  # hashed by the collector right after, never stored as is
    assert out["phone_hash"] is None


def test_enrich_matches_the_readme_example() -> None:
    readme = (Path(schemas.__file__).parent / "README.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", readme, flags=re.DOTALL)]
    [batch] = [b for b in blocks if "events" in b]
    [record] = [b for b in blocks if "received_at" in b]
    out = enrich(
        EVENT_ADAPTER.validate_python(batch["events"][0]),
        app_id="app_demo",
        received_at=at("2024-05-01T08:03:15.250Z"),
        sent_at=parse_sent_at(batch["sent_at"]),
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) MicroMessenger/8.0.47",
        max_future_skew=5 * S,
    )
    assert out == record
    assert list(out) == list(record)


# ---------------------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC), "2024-05-01T08:00:00.000Z"),
        (datetime(2024, 5, 1, 8, 0, 0, 999, tzinfo=UTC), "2024-05-01T08:00:00.000Z"),
        (datetime(2024, 5, 1, 8, 0, 0, 123_999, tzinfo=UTC), "2024-05-01T08:00:00.123Z"),
        (datetime(2024, 5, 1, 16, 0, 0, 5_000, tzinfo=timezone(timedelta(hours=8))), "2024-05-01T08:00:00.005Z"),
        (datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC).replace(tzinfo=None), "2024-05-01T08:00:00.000Z"),
        (datetime(2100, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "2100-12-31T23:59:59.999Z"),
    ],
)
def test_format_timestamp(value: datetime, text: str) -> None:
    assert format_timestamp(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("19.90", "19.90"),
        ("1E+2", "100"),
        ("0", "0"),
        ("-0", "0"),
        ("-0.00", "0.00"),
        ("0.00", "0.00"),
        ("1234567890123456.78", None),
    ],
)
def test_format_decimal(value: str, text: str | None) -> None:
    assert format_decimal(Decimal(value)) == (text or value)
