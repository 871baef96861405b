"""The Kafka consumer shell: poll, hand records to the pure processor, write, checkpoint. Nothing else.

State is a function of what ClickHouse holds below the committed offsets: on partition assignment, and after a
failed flush, a partition's state is rebuilt from ClickHouse and consumption restarts from the committed offset.
That keeps recovery, rebalances and a second group member on one simple, tested path.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from stream.checkpoint import Range, batch_end, pending_end
from stream.errors import CheckpointFailed, StoreFatal, StreamError
from stream.metrics import StreamMetrics
from stream.processor import EngineFactory, Output, PartitionProcessor, SourceRecord
from stream.restore_state import restore_engines, restore_seen_ids
from stream.settings import StreamSettings
from stream.writer import ClickHouseWriter

log = logging.getLogger(__name__)

# Each flush allocates millions of short-lived containers (decoded events, rows) next to a large long-lived state
# (dedup ids, journeys). With CPython's default thresholds (700, 10, 10) the collector re-scans that state again
# and again: 1.3 s of 7 s when processing 200k events, with 10 full collections. Young objects every 50k
# allocations and the whole heap rarely cut that to 0.45 s; the state holds no reference cycles to wait for.
GC_THRESHOLDS = (50_000, 50, 100)


class _GcThresholds:
    """Sets GC_THRESHOLDS while at least one runner runs (tests run several in one process), then restores."""

    def __init__(self) -> None:
        self._users = 0
        self._saved = gc.get_threshold()

    def __enter__(self) -> None:
        if self._users == 0:
            self._saved = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
        self._users += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._users -= 1
        if self._users == 0:
            gc.set_threshold(*self._saved)


_GC_THRESHOLDS = _GcThresholds()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: StreamRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._runner.on_assigned(list(assigned))


class StreamRunner:
    def __init__(
        self,
        settings: StreamSettings,
        writer: ClickHouseWriter,
        metrics: StreamMetrics,
        engine_factory: EngineFactory | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._engine_factory = engine_factory
        self.writer = writer
        self.metrics = metrics
        self._monotonic = monotonic
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._buffers: dict[TopicPartition, list[SourceRecord]] = {}
        self._processors: dict[TopicPartition, PartitionProcessor] = {}
        self._forced_end: dict[TopicPartition, int] = {}
        self._needs_restore: set[TopicPartition] = set()
        self._oldest_buffered: float | None = None
        self._backoff = settings.stream_retry_initial_s
        self.ready = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self._admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.stream_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.stream_max_poll_records,
            isolation_level="read_committed",
            client_id="touchstream-stream",
            # Topics created a moment ago may have no metadata yet: look again soon rather than in 5 minutes.
            metadata_max_age_ms=5_000,
        )
        self._consumer.subscribe([s.kafka_events_topic, s.kafka_deadletter_topic], listener=_Listener(self))
        await self._consumer.start()
        graceful = False
        with _GC_THRESHOLDS:
            try:
                while not stop.is_set():
                    await self._poll_once()
                graceful = True
            finally:
                await self._shutdown(flush=graceful)

    async def _shutdown(self, flush: bool) -> None:
        """A graceful stop writes what is buffered; after a failure nothing more is written or committed."""
        consumer = self._consumer
        if consumer is not None:
            if flush:
                try:
                    await self._flush(list(self._buffers))
                except StreamError as exc:
                    log.warning("final flush failed, its records will be replayed: %s", exc)
            self._consumer = None
            await consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    # -- the loop ----------------------------------------------------------------------------------------

    async def _poll_once(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        if self._needs_restore and not await self._retry_restore():
            return
        batches = await consumer.getmany(timeout_ms=100, max_records=self.settings.stream_max_poll_records)
        assignment = consumer.assignment()
        for tp, messages in batches.items():
            # Records may arrive while on_assigned is still restoring state (aiokafka fetches from the committed
            # offset as soon as the assignment is set): keep them; the flush waits for the processor.
            if tp not in assignment:
                continue  # revoked while the fetch was in flight
            buffer = self._buffers.setdefault(tp, [])
            buffer.extend(
                SourceRecord(m.topic, m.partition, m.offset, m.value or b"", m.timestamp or 0) for m in messages
            )
            if self._oldest_buffered is None:
                self._oldest_buffered = self._monotonic()
        if self._due():
            try:
                await self._flush(list(self._buffers))
                self._backoff = self.settings.stream_retry_initial_s
            except StoreFatal:
                raise
            except StreamError as exc:
                await self._recover(exc)

    def _due(self) -> bool:
        buffered = sum(len(b) for b in self._buffers.values())
        if buffered == 0:
            return False
        # A record carries a whole request (1–2,500 events), so records alone say little about the insert size.
        size = sum(len(r.value) for b in self._buffers.values() for r in b)
        if buffered >= self.settings.stream_flush_rows or size >= self.settings.stream_flush_bytes:
            return True
        age = self._monotonic() - (self._oldest_buffered or self._monotonic())
        return age >= self.settings.stream_flush_interval_s

    async def _flush(self, partitions: list[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        ranges: dict[TopicPartition, Range] = {}
        for tp in partitions:
            buffer = self._buffers.get(tp, [])
            if tp not in self._processors:
                continue  # its state is still being restored
            end = batch_end([r.offset for r in buffer], self._forced_end.get(tp))
            if end is not None:
                ranges[tp] = Range(tp.topic, tp.partition, buffer[0].offset, end)
        if not ranges:
            return
        started = time.perf_counter()
        cycle_start = self._monotonic()
        await _commit(consumer, {tp: OffsetAndMetadata(r.first, r.pending_marker()) for tp, r in ranges.items()})
        written = 0
        # A pipeline of two: while one partition's rows are inserted (chDB releases the GIL while it writes), the
        # next partition is processed. Inserts still run one at a time, in partition order, and none starts
        # after one has failed.
        pending: asyncio.Task[int] | None = None
        try:
            for tp, rng in ranges.items():
                records = [r for r in self._buffers[tp] if r.offset <= rng.last]
                out = self._processors[tp].process(records)
                if pending is not None:
                    written += await pending
                pending = asyncio.create_task(self._write(out, rng))
            if pending is not None:
                written += await pending
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        await _commit(consumer, {tp: OffsetAndMetadata(r.last + 1, "") for tp, r in ranges.items()})
        for tp, rng in ranges.items():
            self._buffers[tp] = [r for r in self._buffers[tp] if r.offset > rng.last]
            self._forced_end.pop(tp, None)
            self.metrics.committed_offset.labels(tp.topic, str(tp.partition)).set(rng.last + 1)
        # The interval counts from the start of this flush, so a slow flush does not add to the next wait.
        self._oldest_buffered = cycle_start if any(self._buffers.values()) else None
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        if written:
            log.info("flushed %d events from %d partitions", written, len(ranges))

    async def _write(self, out: Output, rng: Range) -> int:
        """Insert one partition's rows into every table; returns the number of events written."""
        for table, columns, rows in out.tables():
            await self.writer.insert(table, columns, rows, rng.token(table))
        self.metrics.credits_written.inc(len(out.credits))
        self.metrics.events_written.inc(len(out.events))
        self.metrics.duplicates_dropped.inc(out.duplicates)
        self.metrics.bad_events_written.inc(len(out.bad_events))
        return len(out.events)

    async def _recover(self, exc: StreamError) -> None:
        """ClickHouse (or the commit) failed: back off, then restart every partition from its checkpoint."""
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self.settings.stream_retry_max_s)
        self.metrics.flush_failures.inc()
        log.warning("flush failed, retrying in %.1fs from the last checkpoint: %s", delay, exc)
        await asyncio.sleep(delay)
        # The processors' state absorbed the failed range: it is no longer what ClickHouse holds. Drop it, so
        # nothing is flushed from it, and rebuild from ClickHouse before the next flush.
        self._needs_restore.update(self._processors)
        self._processors.clear()
        await self._retry_restore()

    async def _retry_restore(self) -> bool:
        tps = [tp for tp in self._needs_restore if self._consumer and tp in self._consumer.assignment()]
        try:
            await self._restore(tps, rewind=True)
        except StreamError as exc:
            log.warning("state restore from ClickHouse failed, retrying in %.1fs: %s", self._backoff, exc)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, self.settings.stream_retry_max_s)
            return False
        self._needs_restore.clear()
        return True

    # -- rebalancing ---------------------------------------------------------------------------------------

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        try:
            await self._flush([tp for tp in revoked if tp in self._buffers])
        except StreamError as exc:
            # Uncommitted: the partition's next owner replays the range from the pending marker.
            log.warning("flush on revoke failed, the next owner replays it: %s", exc)
        for tp in revoked:
            self._needs_restore.discard(tp)
            self._buffers.pop(tp, None)
            self._processors.pop(tp, None)
            self._forced_end.pop(tp, None)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        while True:
            try:
                await self._restore(assigned)
                break
            except StoreFatal:
                raise
            except StreamError as exc:
                log.warning("cannot restore state from ClickHouse yet, retrying: %s", exc)
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, self.settings.stream_retry_max_s)
        log.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in assigned) or "no partitions")
        self.ready.set()

    async def _restore(self, partitions: list[TopicPartition], rewind: bool = False) -> None:
        """Rebuild each partition's state from ClickHouse rows below its committed offset.

        On assignment the consumer already starts at the committed offset. After a failed flush (`rewind`)
        the buffered records are dropped and the consumer is sent back there to replay them.
        """
        consumer, admin = self._consumer, self._admin
        if consumer is None or admin is None or not partitions:
            return
        committed: dict[TopicPartition, OffsetAndMetadata] = await admin.list_consumer_group_offsets(
            self.settings.stream_group_id, partitions=partitions
        )
        s = self.settings
        for tp in partitions:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            processor = PartitionProcessor(
                s.kafka_events_topic, s.kafka_deadletter_topic,
                timedelta(seconds=s.stream_dedup_window_s), s.stream_dedup_max_ids, self._engine_factory,
            )
            if tp.topic == s.kafka_events_topic and offset:
                await restore_seen_ids(
                    self.writer, processor, tp.partition, offset, s.stream_dedup_window_s, s.stream_dedup_max_ids
                )
                await restore_engines(self.writer, tp.partition, offset, processor.engine)
            self._processors[tp] = processor
            end = pending_end(meta.metadata if meta is not None else None)
            if end is not None:
                self._forced_end[tp] = end
            else:
                self._forced_end.pop(tp, None)
            if rewind:
                self._buffers[tp] = []
                if offset is not None:
                    consumer.seek(tp, offset)
                else:
                    await consumer.seek_to_beginning(tp)
        if rewind:
            self._oldest_buffered = None


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
    """A failed commit (rebalance in progress, coordinator moved) is retriable: replay from the checkpoint."""
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:
        msg = f"offset commit failed: {type(exc).__name__}: {exc}"
        raise CheckpointFailed(msg) from exc
