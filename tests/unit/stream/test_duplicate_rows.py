"""Duplicates absorbed by the processor are rows (schemas/ddl/012), keyed by the copy's own position."""

from __future__ import annotations

from datetime import UTC, datetime

from stream.processor import Output
from stream.rows import DUPLICATE_COLUMNS
from tests.unit.stream.test_processor import event, processor, record

AT = datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_each_dropped_copy_is_a_row_at_its_partition_offset_and_index() -> None:
    out = processor().process([record(0, [event("a"), event("b"), event("a")]), record(1, [event("b"), event("c")])])
    assert out.duplicates == 2
    assert out.duplicate_events == [
        ("shop", "a", "page_view", AT, AT, 0, 0, 2),  # the third event of record 0 repeats a
        ("shop", "b", "page_view", AT, AT, 0, 1, 0),  # the first event of record 1 repeats b
    ]
    assert len(DUPLICATE_COLUMNS) == len(out.duplicate_events[0])


def test_a_replay_from_the_same_state_writes_the_same_keys() -> None:
    records = [record(0, [event("a")]), record(1, [event("a"), event("b")]), record(2, [event("b")])]
    first, replay = processor().process(records), processor().process(records)
    assert first.duplicate_events == replay.duplicate_events
    assert [row[-3:] for row in first.duplicate_events] == [(0, 1, 0), (0, 2, 0)]


def test_the_copies_are_written_in_the_flush_right_after_the_events() -> None:
    names = [table for table, _, _ in Output().tables()]
    assert names[:2] == ["events", "duplicate_events"]
    assert dict((t, c) for t, c, _ in Output().tables())["duplicate_events"] == DUPLICATE_COLUMNS
