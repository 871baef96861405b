"""attribution_health's duplicate and lateness columns through the real collector, broker and processor.

Ledger: every batch the collector acknowledged is listed below with its events; the processor is killed with
SIGKILL while a re-sent batch may be in flight and restarted. Stored must equal acknowledged: each event once in
`events`, each acknowledged copy of an already stored event exactly once in `duplicates_absorbed`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from stream.reports.queries import HEALTH_COLUMNS
from stream.reports.sqltext import view_call
from tests.integration import test_pipeline_e2e
from tests.integration.harness import scalar, sql, wait_for

pytestmark = pytest.mark.integration

# The end-to-end fixture: the real collector and processor as processes on the session's broker.
pipeline = test_pipeline_e2e.pipeline
WRITE_KEY = test_pipeline_e2e.WRITE_KEY
# Days relative to today so the events are neither in the future (clamped) nor older than any retention.
DAY = (datetime.now(UTC) - timedelta(days=30)).date()
NEWEST, LATE = DAY + timedelta(days=10), DAY - timedelta(days=5)  # LATE is 15 days before NEWEST: past 7 days


def stamp(day: date, minute: int) -> str:
    return f"{day.isoformat()}T10:{minute:02d}:00.000Z"


def batch(prefix: str, day: date, n: int) -> dict[str, Any]:
    # No sent_at: the device clock is not measured, so event_time is the timestamp (and its day is known).
    return {"events": [
        {"event_id": f"{prefix}-{i}", "type": "page_view", "timestamp": stamp(day, i), "anonymous_id": f"d{i % 3}",
         "context": {"path": "/pages/home"}}
        for i in range(n)
    ]}


def test_duplicates_and_late_events_are_counted_once_across_a_kill(pipeline) -> None:  # type: ignore[no-untyped-def]
    base, endpoint, _, stream = pipeline

    def send(body: dict[str, Any]) -> None:
        response = httpx.post(f"{base}/v1/batch", json=body, headers={"X-Write-Key": WRITE_KEY}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(body["events"])

    def events() -> int:
        return int(scalar(endpoint, "SELECT count() FROM events"))

    first, newest = batch("a", DAY, 12), batch("n", NEWEST, 1)
    send(first)
    send(newest)
    wait_for(lambda: events() == 13, 60, "the first 13 events", stream)
    send(first)  # acknowledged copy 2 of a-0..a-11: 12 duplicates
    stream.kill9()  # the copy may be processed, written and committed, or not yet: either way it counts once
    send(first)  # copy 3, while the processor is down: 12 more
    send(batch("late", LATE, 3))  # 15 days before the app's newest event: past the allowed lateness
    stream.start()
    wait_for(lambda: scalar(endpoint, "SELECT 1") == 1, 60, "the restarted processor", stream)
    send(batch("s", NEWEST, 1))
    # An app's records share one partition and are processed in order: once the sentinel sent last has landed,
    # everything before it has been written (or dropped as a duplicate).
    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events WHERE event_id = 's-0'") == 1, 60,
             "the sentinel", stream)

    stored = sql(endpoint, "SELECT event_id FROM events ORDER BY event_id")
    acknowledged = sorted([f"a-{i}" for i in range(12)] + ["n-0", "s-0"] + [f"late-{i}" for i in range(3)])
    assert sorted(row[0] for row in stored) == acknowledged  # nothing lost, nothing doubled

    call = view_call("attribution_health", app="shop", date_from=LATE, date_to=NEWEST)
    rows = sql(endpoint, f"SELECT day, events, duplicates_absorbed, late_events FROM {call}")
    assert len(rows) == (NEWEST - LATE).days + 1 and len(HEALTH_COLUMNS) == 18
    figures = {row[0]: tuple(row[1:]) for row in rows if any(row[1:])}
    assert figures == {
        LATE.isoformat(): (3, 0, 3),
        DAY.isoformat(): (12, 24, 0),
        NEWEST.isoformat(): (2, 0, 0),
    }
    # Replays after the kill wrote the same keys again: the raw table may hold a copy twice, never a third key.
    keys = "SELECT uniqExact(_partition, _offset, event_index) FROM duplicate_events WHERE app_id = 'shop'"
    assert scalar(endpoint, keys) == 24
