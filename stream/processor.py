"""The pure processing step: Kafka records of one partition in, rows for each ClickHouse table out.

No Kafka or ClickHouse here: the consumer shell hands over `SourceRecord`s and writes the returned rows.
A record that cannot be processed (bad JSON, a field of the wrong type) becomes a `bad_events` row with the
error: it never stops the partition.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stream.dedup import SeenIds
from stream.rows import bad_event_row, event_row, parse_time

log = logging.getLogger(__name__)

MAX_POISON_PAYLOAD = 4_096


@dataclass(frozen=True, slots=True)
class SourceRecord:
    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp_ms: int = 0  # the Kafka record timestamp: replays see the same value


@dataclass(slots=True)
class Output:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    bad_events: list[tuple[Any, ...]] = field(default_factory=list)
    duplicates: int = 0


class PartitionProcessor:
    """State and processing for one partition of the events topic (or of the dead-letter topic)."""

    def __init__(self, events_topic: str, deadletter_topic: str, dedup_window: timedelta, max_ids: int) -> None:
        self.events_topic = events_topic
        self.deadletter_topic = deadletter_topic
        self.seen = SeenIds(dedup_window, max_ids)

    def process(self, records: list[SourceRecord]) -> Output:
        out = Output()
        for record in records:
            try:
                if record.topic == self.deadletter_topic:
                    self._dead_letters(record, out)
                else:
                    self._events(record, out)
            except Exception as exc:  # noqa: BLE001 - a poison record must not stop the partition
                out.bad_events.append(_poison_row(record, exc))
        return out

    def _events(self, record: SourceRecord, out: Output) -> None:
        events = orjson.loads(record.value)
        if not isinstance(events, list):
            msg = "an events record must hold a JSON array"
            raise TypeError(msg)
        rows = []
        keys = []
        for event in events:
            key = (event["app_id"], event["event_id"])
            if key in self.seen or key in keys:
                out.duplicates += 1
                continue
            rows.append(event_row(event, record.partition, record.offset))
            keys.append(key)
        # State changes only once the whole record mapped cleanly, so a poison record leaves no trace.
        for key, row in zip(keys, rows, strict=True):
            self.seen.add(key, row[7])
        out.events.extend(rows)

    def _dead_letters(self, record: SourceRecord, out: Output) -> None:
        items = orjson.loads(record.value)
        for item in items if isinstance(items, list) else [items]:
            out.bad_events.append(bad_event_row(item, "collector", record.partition, record.offset))


def _poison_row(record: SourceRecord, exc: Exception) -> tuple[Any, ...]:
    log.warning("poison record %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
    app_id = ""
    with contextlib.suppress(IndexError, UnicodeDecodeError):
        app_id = record.value.split(b'"app_id":"', 1)[1].split(b'"', 1)[0].decode()[:64]
    item = {
        "app_id": app_id,
        "source": "kafka",
        "received_at": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).isoformat(),
        "code": "poison",
        "reason": f"{type(exc).__name__}: {exc}"[:1000],
        "payload": record.value[:MAX_POISON_PAYLOAD].decode("utf-8", "replace"),
    }
    return bad_event_row(item, "stream", record.partition, record.offset)


__all__ = ["Output", "PartitionProcessor", "SourceRecord", "parse_time"]
