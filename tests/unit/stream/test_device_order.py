"""The cross-request device order of the stream processor (stream/device_order.py): hand-made enriched events,
expected times from the rule in schemas/README.md, "Device order"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from stream.device_order import DeviceOrder, Highest, placed_time
from stream.processor import PartitionProcessor, SourceRecord
from stream.rows import EVENT_COLUMNS

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def highest(seq: int, at: datetime) -> Highest:
    return Highest(seq, at, at.isoformat())


@pytest.mark.parametrize(
    ("seq", "at", "corrected", "want"),
    [
        (6, T0 - S, True, T0),  # later seq, corrected before the highest: moved up to it
        (6, T0 + S, True, T0 + S),  # later seq after it: stays
        (4, T0 + S, True, T0),  # earlier seq, corrected after the highest: moved back to it
        (4, T0 - S, True, T0 - S),  # earlier seq before it: stays
        (5, T0 - S, True, T0 - S),  # the same seq proves no order
        (6, T0 - S, False, T0 - S),  # an uncorrected time is the device's own clock: never moved
        (4, T0 + S, False, T0 + S),
    ],
)
def test_placed_time(seq: int, at: datetime, corrected: bool, want: datetime) -> None:
    assert placed_time(highest(5, T0), seq, at, corrected) == want


def test_the_first_event_of_a_device_is_where_it_is() -> None:
    assert placed_time(None, 3, T0, corrected=True) == T0


def event(
    event_id: str, time: str, seq: int | None, corrected: bool, anon: str = "A", app: str = "shop"
) -> dict[str, Any]:
    return {"event_id": event_id, "type": "enter", "app_id": app, "anonymous_id": anon,
            "timestamp": f"2024-05-01T{time}Z", "sent_at": None, "received_at": "2024-05-01T08:10:00.000Z",
            "event_time": f"2024-05-01T{time}Z", "context": {"device_seq": seq}, "properties": {},
            "clock_corrected": corrected, "clock_clamped": False}


def test_a_later_batch_corrected_before_the_device_s_earlier_event_is_placed_after_it() -> None:
    order = DeviceOrder()
    # Batch 1 (seq 1, 2) arrives first; batch 2 (seq 3) was corrected with a different offset and lands before.
    first, second, third = event("1", "08:00:00.000", 1, True), event("2", "08:00:10.000", 2, True), \
        event("3", "08:00:07.500", 3, True)
    assert [order.place(e) for e in (first, second, third)] == [False, False, True]
    assert third["event_time"] == "2024-05-01T08:00:10.000Z"
    # A still later seq is compared with the placed time of seq 3.
    fourth = event("4", "08:00:09.000", 4, True)
    assert order.place(fourth)
    assert fourth["event_time"] == "2024-05-01T08:00:10.000Z"


def test_devices_and_apps_are_separate_and_records_without_seq_are_untouched() -> None:
    order = DeviceOrder()
    order.place(event("a1", "08:00:10.000", 1, True))
    other_device = event("b2", "08:00:00.000", 2, True, anon="B")
    other_app = event("c2", "08:00:00.000", 2, True, app="news")
    no_seq = event("a-", "08:00:00.000", None, True)
    ad_touch = {**event("w", "08:00:00.000", 9, True), "anonymous_id": ""}
    assert [order.place(e) for e in (other_device, other_app, no_seq, ad_touch)] == [False] * 4
    assert {e["event_time"] for e in (other_device, other_app, no_seq, ad_touch)} == {"2024-05-01T08:00:00.000Z"}


def test_the_state_is_bounded_least_recently_seen_first() -> None:
    order = DeviceOrder(max_devices=2)
    order.place(event("a1", "08:00:10.000", 1, True, anon="A"))
    order.place(event("b1", "08:00:10.000", 1, True, anon="B"))
    order.place(event("a2", "08:00:11.000", 2, True, anon="A"))  # A seen again: B is now the oldest
    order.place(event("c1", "08:00:10.000", 1, True, anon="C"))
    assert len(order) == 2
    remembered = event("a3", "08:00:00.000", 3, True, anon="A")
    forgotten = event("b2", "08:00:00.000", 2, True, anon="B")
    assert (order.place(remembered), order.place(forgotten)) == (True, False)
    assert remembered["event_time"] == "2024-05-01T08:00:11.000Z"


def test_a_bool_is_not_a_sequence_number() -> None:
    order = DeviceOrder()
    order.place(event("a1", "08:00:10.000", 1, True))
    forged = event("a2", "08:00:00.000", True, True)
    assert not order.place(forged)


def test_max_devices_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_devices must be at least 1, got 0"):
        DeviceOrder(max_devices=0)


def test_the_processor_stores_the_placed_time_in_the_events_row() -> None:
    processor = PartitionProcessor("events", "deadletter", timedelta(hours=1), 1000)
    batch1 = [event("1", "08:00:10.000", 1, True)]
    batch2 = [event("2", "08:00:07.000", 2, True), event("3", "08:00:08.000", 3, False)]
    records = [SourceRecord("events", 0, n, orjson.dumps(b), key=b"shop") for n, b in enumerate((batch1, batch2))]
    out = processor.process(records)
    column = EVENT_COLUMNS.index("event_time")
    got = {row[EVENT_COLUMNS.index("event_id")]: row[column].isoformat() for row in out.events}
    # seq 2 (corrected) moved to seq 1's 08:00:10; seq 3 is uncorrected: the device's own 08:00:08 is kept.
    assert got == {"1": "2024-05-01T08:00:10+00:00", "2": "2024-05-01T08:00:10+00:00",
                   "3": "2024-05-01T08:00:08+00:00"}
