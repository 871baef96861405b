"""events_people: every SDK event with its person, the building block of the behaviour views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def test_events_people_takes_the_sharer_from_the_launch_query_too(clickhouse: Any) -> None:
    columns = ["app_id", "event_id", "type", "event_time", "timestamp", "received_at", "anonymous_id", "share_from",
               "query"]
    clickhouse.insert("events", [
        ["shop", "q1", "enter", DAY, DAY, DAY, "d1", "", {"share_from": "alice"}],
        ["shop", "q2", "enter", DAY, DAY, DAY, "d2", "bob", {"share_from": "alice"}],  # the context wins
        ["shop", "q3", "enter", DAY, DAY, DAY, "d3", "", {}],
    ], column_names=columns)
    rows = clickhouse.query("SELECT event_id, share_from FROM events_people ORDER BY event_id").result_rows
    assert rows == [("q1", "alice"), ("q2", "bob"), ("q3", "")]
