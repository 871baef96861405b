"""The clock-skew threshold (offsets within 60 s are transit, not a clock error) and the in-request device order
by `context.device_seq`. Expected times are computed by hand from the rule in schemas/README.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.context import MAX_DEVICE_SEQ, Context
from schemas.enrich import DEFAULT_CLOCK_SKEW_THRESHOLD, correct_clock, keep_device_order

RECEIVED = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)
EVENT = datetime(2024, 5, 1, 7, 59, 0, tzinfo=UTC)  # device time of the event, 60 s before RECEIVED


def test_the_default_threshold_is_sixty_seconds() -> None:
    assert timedelta(seconds=60) == DEFAULT_CLOCK_SKEW_THRESHOLD


@pytest.mark.parametrize(
    ("offset_s", "corrected"),
    [(59, False), (60, False), (61, True), (-59, False), (-60, False), (-61, True), (0, False), (-5, False)],
)
def test_only_offsets_beyond_the_threshold_are_corrected(offset_s: int, corrected: bool) -> None:
    # sent_at = RECEIVED + offset; the event happened 10 s (device time) before the send.
    sent_at = RECEIVED + offset_s * S
    timestamp = sent_at - 10 * S
    clock = correct_clock(timestamp, received_at=RECEIVED, sent_at=sent_at,
                          max_future_skew=DEFAULT_CLOCK_SKEW_THRESHOLD)
    assert clock.corrected is corrected
    # Corrected: received − 10 s = 07:59:50. Not corrected: the device time itself.
    want = datetime(2024, 5, 1, 7, 59, 50, tzinfo=UTC) if corrected else timestamp
    if want > RECEIVED:  # a device ahead by up to 60 s, uncorrected: clamped (see the clamp test below)
        want = RECEIVED
    assert clock.event_time == want


def test_a_batch_delayed_five_seconds_in_transit_keeps_its_device_times() -> None:
    # The visit happened at 07:59:00 (device clock right), the batch was sent at 07:59:55 and arrived 5 s later.
    sent_at = RECEIVED - 5 * S
    clock = correct_clock(EVENT, received_at=RECEIVED, sent_at=sent_at, max_future_skew=DEFAULT_CLOCK_SKEW_THRESHOLD)
    assert (clock.event_time, clock.corrected, clock.clamped) == (EVENT, False, False)
    # Correcting every sent_at (the former default 0) moved it 5 s later, to 07:59:05.
    old = correct_clock(EVENT, received_at=RECEIVED, sent_at=sent_at, max_future_skew=timedelta(0))
    assert old.event_time == datetime(2024, 5, 1, 7, 59, 5, tzinfo=UTC)


def test_the_clamp_still_applies_within_the_threshold() -> None:
    # Device 30 s ahead (uncorrected, within the threshold): an event at device 08:00:20 is 20 s in the future.
    sent_at = RECEIVED + 30 * S
    clock = correct_clock(RECEIVED + 20 * S, received_at=RECEIVED, sent_at=sent_at,
                          max_future_skew=DEFAULT_CLOCK_SKEW_THRESHOLD)
    assert (clock.event_time, clock.corrected, clock.clamped) == (RECEIVED, False, True)


def test_the_clamp_still_applies_beyond_the_threshold() -> None:
    # sent_at 2 min behind, the event 10 s after its own sent_at: corrected to received + 10 s, clamped back.
    sent_at = RECEIVED - 120 * S
    clock = correct_clock(sent_at + 10 * S, received_at=RECEIVED, sent_at=sent_at,
                          max_future_skew=DEFAULT_CLOCK_SKEW_THRESHOLD)
    assert (clock.event_time, clock.corrected, clock.clamped) == (RECEIVED, True, True)


# -- context.device_seq --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 2**53 - 1])
def test_device_seq_accepts_non_negative_integers_up_to_2_53_minus_1(value: int) -> None:
    assert Context.model_validate({"device_seq": value}).device_seq == value
    assert MAX_DEVICE_SEQ == 9_007_199_254_740_991


@pytest.mark.parametrize("value", [-1, 2**53, "5", 1.5, True])
def test_device_seq_rejects_anything_else(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Context.model_validate({"device_seq": value})
    assert caught.value.errors()[0]["loc"] == ("device_seq",)


def test_device_seq_is_optional() -> None:
    assert Context.model_validate({}).device_seq is None


# -- keep_device_order: one request ------------------------------------------------------------------------


def enriched(event_id: str, anon: str, time: str, seq: int | None, corrected: bool = False) -> dict[str, Any]:
    return {"event_id": event_id, "anonymous_id": anon, "event_time": f"2024-05-01T{time}Z",
            "context": {"device_seq": seq}, "clock_corrected": corrected}


def times(events: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    return [(e["event_id"], e["event_time"][11:-1], e["clock_corrected"]) for e in events]


def test_an_event_before_an_earlier_seq_of_its_device_moves_to_that_time() -> None:
    # Listed out of seq order on purpose: the rule follows device_seq, not the position in the batch.
    events = [
        enriched("c", "A", "08:00:01.000", 3),
        enriched("a", "A", "08:00:05.000", 1),
        enriched("b", "A", "08:00:03.000", 2),
        enriched("d", "A", "08:00:09.000", 4),
    ]
    assert keep_device_order(events) == 2
    # seq 1 at :05; seq 2 (:03) and seq 3 (:01) move to :05 and are flagged; seq 4 (:09) is after it.
    assert times(events) == [
        ("c", "08:00:05.000", True), ("a", "08:00:05.000", False), ("b", "08:00:05.000", True),
        ("d", "08:00:09.000", False),
    ]


def test_devices_are_independent_and_events_without_seq_are_left_alone() -> None:
    events = [
        enriched("a1", "A", "08:00:05.000", 1),
        enriched("b1", "B", "08:00:01.000", 2),  # another device: not compared with A
        enriched("a2", "A", "08:00:04.000", 2),
        enriched("a-", "A", "08:00:00.000", None),  # no seq: takes no part
        {**enriched("n2", "", "08:00:00.000", 9)},  # no device id: takes no part
    ]
    assert keep_device_order(events) == 1
    assert times(events) == [
        ("a1", "08:00:05.000", False), ("b1", "08:00:01.000", False), ("a2", "08:00:05.000", True),
        ("a-", "08:00:00.000", False), ("n2", "08:00:00.000", False),
    ]


def test_times_already_in_seq_order_are_unchanged() -> None:
    events = [enriched(str(i), "A", f"08:00:0{i}.000", i) for i in range(5)]
    events.append(enriched("tie", "A", "08:00:04.000", 7))  # equal time: not before, stays
    assert keep_device_order(events) == 0
    assert [e["event_time"][17:23] for e in events] == ["00.000", "01.000", "02.000", "03.000", "04.000", "04.000"]
