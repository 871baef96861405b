"""The pure processing step: Kafka records of one partition in, rows for each ClickHouse table out.

No Kafka or ClickHouse here: the consumer shell hands over `SourceRecord`s and writes the returned rows.
Records are read with `schemas.records` (the format the collector writes). A record that cannot be processed
(bad JSON, an unknown format header, a field of the wrong type) becomes a `bad_events` row with the error: it
never stops the partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson

from schemas.events import REFUND_TYPES
from schemas.native import ConversionScan
from schemas.records import (
    PRIVACY_FORMAT,
    DeadLetter,
    EventRecord,
    Headers,
    RecordFormatError,
    SpendEvent,
    check_events_format,
    decode_dead_letters,
    decode_events,
    decode_privacy_command,
    record_format,
)
from stream.dedup import Key, SeenIds
from stream.device_order import DeviceOrder
from stream.journeys.engine import FAMILIES, AppEngine
from stream.journeys.outputs import EngineOutput
from stream.journeys.refunds import order_conversion_id
from stream.postbacks.hook import after_fold, book_for
from stream.privacy import PrivacyAction, fold_command
from stream.refund_rows import rejection_rows
from stream.rows import (
    AD_SPEND_COLUMNS,
    ARRIVED_LATE_INDEX,
    BAD_EVENT_COLUMNS,
    CONVERSION_COLUMNS,
    CREDIT_COLUMNS,
    DUPLICATE_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TIME_INDEX,
    IDENTITY_COLUMNS,
    POSTBACK_INTENT_COLUMNS,
    RECEIVED_AT_INDEX,
    TOUCHPOINT_COLUMNS,
    ad_spend_row,
    bad_event_row,
    dataclass_rows,
    duplicate_row,
    event_row,
    parse_time,
)

log = logging.getLogger(__name__)

MAX_POISON_PAYLOAD = 4_096
VERSION_SLOTS = 65_536  # version = offset * VERSION_SLOTS + index of the event in its record


@dataclass(frozen=True, slots=True)
class SourceRecord:
    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp_ms: int = 0  # the Kafka record timestamp: replays see the same value
    key: bytes = b""  # the app id (schemas.records): what a poison record is reported under
    headers: Headers = ()

    @classmethod
    def of(cls, message: Any) -> SourceRecord:
        """From an aiokafka ConsumerRecord (duck-typed: this module imports no Kafka client)."""
        m = message
        headers = tuple(m.headers or ())
        return cls(m.topic, m.partition, m.offset, m.value or b"", m.timestamp or 0, m.key or b"", headers)


@dataclass(slots=True)
class Output:
    """Rows per ClickHouse table, in the order the checkpoint writes them."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    bad_events: list[tuple[Any, ...]] = field(default_factory=list)
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    touchpoints: list[tuple[Any, ...]] = field(default_factory=list)
    conversions: list[tuple[Any, ...]] = field(default_factory=list)
    credits: list[tuple[Any, ...]] = field(default_factory=list)
    ad_spend: list[tuple[Any, ...]] = field(default_factory=list)
    duplicate_events: list[tuple[Any, ...]] = field(default_factory=list)  # the copies counted in `duplicates`
    postback_intents: list[tuple[Any, ...]] = field(default_factory=list)  # the outbox (stream/postbacks)
    duplicates: int = 0
    shared_clicks: int = 0  # new visits that carried another person's ad click id
    privacy: list[PrivacyAction] = field(default_factory=list)  # run after the rows (stream/privacy_exec.py)

    def tables(self) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        return [
            ("events", EVENT_COLUMNS, self.events),
            ("duplicate_events", DUPLICATE_COLUMNS, self.duplicate_events),
            ("bad_events", BAD_EVENT_COLUMNS, self.bad_events),
            ("identities", IDENTITY_COLUMNS, self.identities),
            ("touchpoints", TOUCHPOINT_COLUMNS, self.touchpoints),
            ("conversions", CONVERSION_COLUMNS, self.conversions),
            ("attribution_credits", CREDIT_COLUMNS, self.credits),
            ("ad_spend", AD_SPEND_COLUMNS, self.ad_spend),
            ("postback_intents", POSTBACK_INTENT_COLUMNS, self.postback_intents),
        ]


@dataclass(frozen=True, slots=True)
class RangeQuestions:
    """What the pure step asks ClickHouse about a range before processing it (`PartitionProcessor.questions`)."""

    conversions: frozenset[Key]  # conversion and refund events the dedup set cannot tell from a re-send of an old one
    refunds: tuple[tuple[Key, Key], ...] = ()  # (a new refund event, (app_id, conversion id of the order it refunds))

    def refund_orders(self, stored: Collection[Key]) -> set[Key]:
        """The orders the range's new refunds refer to: those not themselves stored already."""
        return {order for key, order in self.refunds if key not in stored}


EngineFactory = Callable[[str], AppEngine]

_SCAN = ConversionScan(frozenset(FAMILIES), frozenset(REFUND_TYPES))  # conversions, and refunds: they count once too


def asked_events(value: bytes, headers: Headers) -> list[tuple[Any, str | None]]:
    """`conversion_events` of an events record: scanned by the crate (native/src/conversion_scan.rs) without
    building the record, or, where it declines, decoded and read by the reference. Raises as `decode_events`."""
    check_events_format(headers)
    scanned = _SCAN.keys(value)
    return scanned if scanned is not None else conversion_events(decode_events(value, headers))


def conversion_events(events: list[EventRecord]) -> list[tuple[Any, str | None]]:
    """`((app_id, event_id), order id)` of each conversion and refund event (the order id of a refund, else None),
    as `questions` asks about them. A malformed event is skipped: process() reports it."""
    asked: list[tuple[Any, str | None]] = []
    for event in events:
        try:
            kind = event["type"]
            if kind not in FAMILIES and kind not in REFUND_TYPES:
                continue
            key = (event["app_id"], event["event_id"])
            hash(key)  # an unhashable id cannot be asked about
        except Exception:  # noqa: BLE001 - reported by process(), not here
            continue
        order_id = None
        if kind in REFUND_TYPES:
            try:
                order_id = str((event.get("properties") or {}).get("order_id") or "")
            except AttributeError:  # properties that are not an object: no order to look up
                order_id = ""
        asked.append((key, order_id))
    return asked


class PartitionProcessor:
    """State and processing for one partition of the events topic (or of the dead-letter topic).

    Events are deduplicated by (app_id, event_id), written to `events`, and folded into their app's journey
    engine (all events of an app share a partition: the collector keys records by app).
    """

    def __init__(
        self, events_topic: str, deadletter_topic: str, dedup_window: timedelta, max_ids: int,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        self.events_topic = events_topic
        self.deadletter_topic = deadletter_topic
        self.seen = SeenIds(dedup_window, max_ids)
        self.device_order = DeviceOrder()  # one device's corrected times kept in its device_seq order
        self.engine_factory = engine_factory
        self.engines: dict[str, AppEngine] = {}
        self.postbacks = book_for(engine_factory)  # None unless an integration of an app sends postbacks

    def engine(self, app_id: str) -> AppEngine | None:
        if self.engine_factory is None:
            return None
        engine = self.engines.get(app_id)
        if engine is None:
            engine = self.engines[app_id] = self.engine_factory(app_id)
        return engine

    def questions(self, records: list[SourceRecord]) -> RangeQuestions:
        """What a range must ask ClickHouse before it is processed.

        The dedup window and the engine's conversion ids forget (hours; `identity_retention_days`), but an order
        re-sent after that must not come back as a new conversion: the shell asks ClickHouse which of these
        conversion and refund events are already stored below the range, and passes them to `process` as
        `stored`. Each record is only scanned here for the keys of those events (`asked_events`): holding a whole
        range of decoded events until it is processed cost 1.6x the processing time (cache misses and collections
        over them), and decoding each record here as well was ~6% of the processor's CPU.
        """
        conversions: set[Key] = set()
        refunds: list[tuple[Key, Key]] = []
        for record in records:
            if record.topic != self.events_topic or record_format(record.headers) == PRIVACY_FORMAT:
                continue
            try:
                asked = asked_events(record.value, record.headers)
            except (orjson.JSONDecodeError, RecordFormatError):
                continue  # reported as a poison record by process()
            for key, order_id in asked:
                # Decided by the dedup set alone, never by engine state: a restored engine holds other
                # conversion ids than a live one, and a replay must ask (and drop) exactly what the first run did.
                if key in self.seen:
                    continue
                conversions.add(key)
                if order_id:
                    refunds.append((key, (key[0], order_conversion_id(order_id))))
        return RangeQuestions(frozenset(conversions), tuple(refunds))

    def process(self, records: list[SourceRecord], stored: Collection[Key] = frozenset()) -> Output:
        """`stored`: (app_id, event_id) already in ClickHouse (see `questions`): dropped as duplicates.

        Each record is decoded just before it is processed, so its events are still in the CPU's caches.
        """
        out = Output()
        for record in records:
            try:
                if record.topic == self.deadletter_topic:
                    self._dead_letters(record, decode_dead_letters(record.value, record.headers), out)
                elif record_format(record.headers) == PRIVACY_FORMAT:
                    command = decode_privacy_command(record.value)
                    engine = self.engine(command["app_id"])
                    out.privacy.append(fold_command(command, engine, record.partition, record.offset))
                else:
                    self._events(record, decode_events(record.value, record.headers), out, stored)
            except Exception as exc:  # noqa: BLE001 - a poison record must not stop the partition
                out.bad_events.append(_poison_row(record, exc))
        return out

    def _events(self, record: SourceRecord, events: list[EventRecord], out: Output, stored: Collection[Key]) -> None:
        partition, offset = record.partition, record.offset
        seen, rows = self.seen, out.events
        # (index, event, its parsed event_time, its events row): the engine reuses the time the row parsed, and
        # marks the row when the event arrived past the allowed lateness.
        fresh: list[tuple[int, EventRecord, datetime, int]] = []
        batch_keys: set[tuple[str, str]] = set()  # O(1) membership for 2,500-event records
        for index, event in enumerate(events):
            try:
                if event["type"] == "ad_spend":  # spend rows are facts about a day, not events of a person
                    version = offset * VERSION_SLOTS + index
                    # An SDK event's `type` is any string to mypy, so the check above cannot narrow the union.
                    out.ad_spend.append(ad_spend_row(cast("SpendEvent", event), version, partition, offset))
                    continue
                key = (event["app_id"], event["event_id"])
                if key in seen or key in batch_keys or key in stored:
                    out.duplicates += 1
                    out.duplicate_events.append(duplicate_row(event, partition, offset, index))
                    continue
                self.device_order.place(cast("dict[str, Any]", event))  # may move event_time: before the row
                row = event_row(event, partition, offset)
            except Exception as exc:  # noqa: BLE001 - one malformed event must not cost its neighbours
                out.bad_events.append(_poison_row(record, exc, event=event if isinstance(event, dict) else None))
                continue
            rows.append(row)
            seen.add(key, row[RECEIVED_AT_INDEX])
            batch_keys.add(key)
            fresh.append((index, event, row[EVENT_TIME_INDEX], len(rows) - 1))
        if fresh and self.engine_factory is not None:
            self._attribute(fresh, record, out)

    def _attribute(
        self, fresh: list[tuple[int, EventRecord, datetime, int]], record: SourceRecord, out: Output
    ) -> None:
        """Fold a record's new events into their engines; one output per record, turned into rows at the end."""
        # The engine reads events as plain dicts (stream/journeys): one cast per record, free at run time.
        folded = cast("list[tuple[int, dict[str, Any], datetime, int]]", fresh)
        result = EngineOutput()
        intents: list[Any] = []
        tables: tuple[list[Any], ...] = (
            result.identities, result.touchpoints, result.conversions, result.credits, result.rejections, intents,
        )
        base = record.offset * VERSION_SLOTS
        for index, event, event_time, row_index in folded:
            engine = self.engine(event["app_id"])
            if engine is None:
                continue
            marks = [len(t) for t in tables]
            try:
                if engine.fold(event, base + index, result, event_time):
                    late_row = out.events[row_index]
                    out.events[row_index] = (*late_row[:ARRIVED_LATE_INDEX], 1, *late_row[ARRIVED_LATE_INDEX + 1:])
                if self.postbacks is not None:
                    intents.extend(after_fold(
                        self.postbacks, engine, event, event_time, base + index, result, marks[2], marks[3]
                    ))
            except Exception as exc:  # noqa: BLE001 - one event that breaks attribution must not stop the rest
                for table, mark in zip(tables, marks, strict=True):
                    del table[mark:]  # nothing of a failed event is written, as if it had its own output
                out.bad_events.append(_poison_row(record, exc, stage="attribution", event=event))
        p, o = record.partition, record.offset
        out.bad_events.extend(rejection_rows(result.rejections, p, o))
        out.identities.extend(dataclass_rows(result.identities, p, o))
        out.touchpoints.extend(dataclass_rows(result.touchpoints, p, o))
        out.shared_clicks += sum(1 for t in result.touchpoints if t.shared_click)
        out.conversions.extend(dataclass_rows(result.conversions, p, o))
        out.credits.extend(dataclass_rows(result.credits, p, o))
        out.postback_intents.extend(dataclass_rows(intents, p, o))

    def _dead_letters(self, record: SourceRecord, items: list[DeadLetter], out: Output) -> None:
        for item in items:
            out.bad_events.append(bad_event_row(item, "collector", record.partition, record.offset))


def _poison_row(
    record: SourceRecord, exc: Exception, stage: str = "stream", event: Mapping[str, Any] | None = None
) -> tuple[Any, ...]:
    log.warning("poison %s %s[%d]@%d: %s", stage, record.topic, record.partition, record.offset, exc)
    # The record's key is its app (schemas.records); records of unknown layout are reported under it too.
    app_id = record.key.decode("utf-8", "replace")[:64]
    payload = orjson.dumps(event).decode() if event is not None else record.value.decode("utf-8", "replace")
    item: DeadLetter = {
        "app_id": app_id,
        "source": "kafka",
        "received_at": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).isoformat(),
        "code": "poison",
        "reason": f"{type(exc).__name__}: {exc}"[:1000],
        "payload": payload[:MAX_POISON_PAYLOAD],
    }
    return bad_event_row(item, stage, record.partition, record.offset)


__all__ = ["Output", "PartitionProcessor", "RangeQuestions", "SourceRecord", "parse_time"]
