"""One flush, once its slices are fixed: the checkpoint protocol (stream/checkpoint.py) carried out over them.

Announce each range, ask ClickHouse what the pure steps need (beside the announcement), process each partition
and write its rows on a writer lane, then commit past every range. The consumer (stream/consumer.py) decides
when and what to flush, holds the lock, and drops the slices' state when this raises.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from stream.checkpoint import Range
from stream.errors import CheckpointFailed
from stream.metrics import StreamMetrics
from stream.privacy_exec import write_output
from stream.processor import Output, PartitionProcessor, SourceRecord
from stream.refund_store import RangeAsk, stored_lookups
from stream.writer import ClickHouseWriter


class Committer(Protocol):
    """The one call of AIOKafkaConsumer a flush makes."""

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None: ...


@dataclass(frozen=True, slots=True)
class Slice:
    """One partition's part of a flush, fixed when the flush starts (a rebalance cannot change it)."""

    tp: TopicPartition
    range: Range
    records: list[SourceRecord]
    processor: PartitionProcessor


async def write_flush(
    consumer: Committer, writer: ClickHouseWriter, metrics: StreamMetrics, events_topic: str, slices: list[Slice]
) -> int:
    """The checkpoint protocol for the slices; returns the number of events written."""
    markers = {s.tp: OffsetAndMetadata(s.range.first, s.range.pending_marker()) for s in slices}
    # The lookups read below the ranges only, so they need not wait for the announcement: they overlap its
    # round trip to the broker. Nothing is written before the announcement has succeeded.
    announce = asyncio.create_task(commit(consumer, markers))
    try:
        stored = await _stored(writer, events_topic, slices)
    except BaseException:
        await asyncio.gather(announce, return_exceptions=True)
        raise
    await announce
    written = 0
    # A pipeline: while partitions' rows are inserted (chDB releases the GIL while it writes), the next
    # partition is processed. One partition's write at a time per writer lane, so up to `lanes` partitions
    # are written at once: each has its own ranges and tokens, so their order does not matter. None starts
    # after one has failed; a failure cancels the writes in flight (an insert already in the engine may
    # still land: its rows are past the committed offset, which is all a restore reads, and the replay's
    # insert of them is dropped by its token).
    lanes = writer.lanes
    busy: dict[int, asyncio.Task[int]] = {}
    try:
        for s in slices:
            out = s.processor.process(s.records, stored.get(s.tp, frozenset()))
            if len(busy) == lanes:
                await asyncio.wait(busy.values(), return_when=asyncio.FIRST_COMPLETED)
            for lane in [lane for lane, task in busy.items() if task.done()]:
                written += busy.pop(lane).result()  # raises a failed write's error
            lane = min(set(range(lanes)) - busy.keys())
            busy[lane] = asyncio.create_task(_write(writer, metrics, out, s.range, lane))
        while busy:
            written += await busy.pop(min(busy))
    finally:
        for task in busy.values():
            task.cancel()
        await asyncio.gather(*busy.values(), return_exceptions=True)
    await commit(consumer, {s.tp: OffsetAndMetadata(s.range.last + 1, "") for s in slices})
    return written


async def commit(consumer: Committer, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
    """A failed commit (rebalance in progress, coordinator moved) is retriable: replay from the checkpoint."""
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:
        msg = f"offset commit failed: {type(exc).__name__}: {exc}"
        raise CheckpointFailed(msg) from exc


async def _stored(
    writer: ClickHouseWriter, events_topic: str, slices: list[Slice]
) -> dict[TopicPartition, frozenset[tuple[str, str]]]:
    """What the pure steps of the flush's event ranges ask ClickHouse: their conversion events already
    stored below each range (one query for all), and the stored orders their refunds refer to."""
    events = [s for s in slices if s.tp.topic == events_topic]
    asks = [RangeAsk(s.processor, s.tp.partition, s.range.first, s.processor.questions(s.records)) for s in events]
    answers = await stored_lookups(writer, asks) if asks else []
    return {s.tp: answer for s, answer in zip(events, answers, strict=True)}


async def _write(writer: ClickHouseWriter, metrics: StreamMetrics, out: Output, rng: Range, lane: int) -> int:
    """Insert one partition's rows into every table, then run its privacy requests; returns events written."""
    await write_output(writer, out, rng, lane)
    metrics.written(out)
    return len(out.events)
