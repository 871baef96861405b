"""The Kafka consumer shell: poll, buffer, decide when to flush and what, keep partition state across failures
and rebalances. What one flush does (announce, look up, process, write on the lanes, commit) is stream/flush.py.

State is a function of what ClickHouse holds below the committed offsets: on partition assignment, and after a
failed flush, a partition's state is rebuilt from ClickHouse and consumption restarts from the committed offset:
recovery, rebalances and a second group member share one tested path.

Rebalances. aiokafka runs the rebalance listener in its coordinator task, concurrently with the poll loop, and
awaits `on_partitions_revoked` before it rejoins the group. The invariant: an offset is committed only by the
flush that wrote the rows below it, with the partition state (processor) that produced those rows still the
partition's state. It holds by construction:
  - one lock (`_lock`) is held by every flush, by every restore (on assignment and after a failure) and by the
    whole of the revocation handling, so two flushes of one partition never overlap, and a revocation waits for
    the flush in progress to finish (its commits happen before the revocation returns, while this member
    still owns the partition in the old generation) or to fail;
  - a flush fixes its ranges, records and processors when it starts and never looks them up again in the dicts
    a rebalance changes;
  - a flush that fails drops the processors of its partitions before it lets go of the lock (they absorbed a
    range that ClickHouse may not hold): nothing is flushed from them again, the revocation that was waiting
    finds nothing to flush, and the partition is rebuilt from ClickHouse and replayed from its checkpoint;
  - records are buffered in the same step that `getmany` returns them, with no await in between: aiokafka
    returns no records while a reassignment is in progress, so buffers only hold records of the current
    assignment, fetched from its committed offset on.
A partition that comes straight back is restored like any other; a commit refused during a rebalance fails
the flush like any commit failure, and the next owner replays the range with the same insert tokens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from runtime.backoff import Backoff, Retries
from runtime.gc_tuning import RUNNING as RUNNING_GC_THRESHOLDS
from stream.checkpoint import Range, batch_end, pending_end
from stream.errors import CheckpointFailed, PartitionsChanged, StoreFatal, StreamError
from stream.flush import Slice, write_flush
from stream.flush_policy import FlushPolicy, FlushWindow
from stream.metrics import StreamMetrics
from stream.postbacks.restore import restore_partition
from stream.processor import EngineFactory, PartitionProcessor, SourceRecord
from stream.settings import StreamSettings
from stream.topology import grown_problem
from stream.writer import ClickHouseWriter

log = logging.getLogger(__name__)

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
        partitions: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        # The events topic's pinned partition count (stream/topology.py); None: not checked (tests).
        self._partitions = partitions
        self._engine_factory = engine_factory
        self.writer = writer
        self.metrics = metrics
        self._monotonic = monotonic
        self._clock = clock  # wall-clock seconds, against Kafka record timestamps (is a flush reading the past?)
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._buffers: dict[TopicPartition, list[SourceRecord]] = {}
        self._processors: dict[TopicPartition, PartitionProcessor] = {}
        self._forced_end: dict[TopicPartition, int] = {}
        self._needs_restore: set[TopicPartition] = set()
        self._window = FlushWindow(FlushPolicy.of(settings))
        self._retries = Retries(Backoff(settings.stream_retry_initial_s, settings.stream_retry_max_s))
        # Held by every flush, restore and revocation: see the module docstring.
        self._lock = asyncio.Lock()
        # aiokafka logs and swallows what a rebalance listener raises: a fatal store error seen there is kept
        # here and raised by the poll loop, so the process stops instead of idling without partitions.
        self._fatal: StoreFatal | None = None
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
        with RUNNING_GC_THRESHOLDS:
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
        if self._fatal is not None:
            raise self._fatal
        if self._needs_restore and not await self._retry_restore():
            return
        batches = await consumer.getmany(timeout_ms=100, max_records=self.settings.stream_max_poll_records)
        # No await from here to the end of the loop: the records belong to the assignment of this moment.
        assignment = consumer.assignment()
        for tp, messages in batches.items():
            # Records may arrive while on_assigned is still restoring state (aiokafka fetches from the committed
            # offset as soon as the assignment is set): keep them; the flush waits for the processor.
            if tp not in assignment:
                continue  # revoked while the fetch was in flight
            buffer = self._buffers.setdefault(tp, [])
            buffer.extend(map(SourceRecord.of, messages))
            self._window.record_arrived(self._monotonic())
        if self._due():
            try:
                await self._flush(list(self._buffers))
                self._retries.reset()
            except StoreFatal:
                raise
            except StreamError as exc:
                await self._recover(exc)

    def _due(self) -> bool:
        records = sum(len(b) for b in self._buffers.values())
        # A record carries a whole request (1–2,500 events), so records alone say little about the insert size.
        size = sum(len(r.value) for b in self._buffers.values() for r in b) if records else 0
        return self._window.due(records, size, self._monotonic())

    async def _flush(self, partitions: list[TopicPartition]) -> None:
        async with self._lock:
            await self._flush_locked(partitions)

    async def _flush_locked(self, partitions: list[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        slices = self._slices(partitions)
        if not slices:
            return
        started = time.perf_counter()
        cycle_start = self._monotonic()
        try:
            written = await write_flush(
                consumer, self.writer, self.metrics, self.settings.kafka_events_topic, slices
            )
        except BaseException:
            # The processors absorbed ranges that ClickHouse may not hold: never flush from them again. The
            # partitions are rebuilt from ClickHouse and replayed from the committed offset (or the next owner's).
            for s in slices:
                if self._processors.get(s.tp) is s.processor:
                    del self._processors[s.tp]
                    self._needs_restore.add(s.tp)
            raise
        for s in slices:
            buffer = self._buffers.get(s.tp)
            if buffer is not None:
                self._buffers[s.tp] = [r for r in buffer if r.offset > s.range.last]
            if self._processors.get(s.tp) is s.processor:
                self._forced_end.pop(s.tp, None)
            self.metrics.committed_offset.labels(s.tp.topic, str(s.tp.partition)).set(s.range.last + 1)
        newest = max((s.records[-1].timestamp_ms for s in slices if s.records), default=None)
        behind = self._window.policy.behind(newest, self._clock())
        if behind:
            self.metrics.backlog_flushes.inc()
        self._window.flushed(cycle_start, self._monotonic(), behind)
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        if written:
            log.info("flushed %d events from %d partitions", written, len(slices))

    def _slices(self, partitions: list[TopicPartition]) -> list[Slice]:
        slices = []
        for tp in dict.fromkeys(partitions):
            processor = self._processors.get(tp)
            buffer = self._buffers.get(tp, [])
            if processor is None:
                continue  # its state is still being restored, or was dropped by a failed flush
            end = batch_end([r.offset for r in buffer], self._forced_end.get(tp))
            if end is not None:
                records = [r for r in buffer if r.offset <= end]
                slices.append(Slice(tp, Range(tp.topic, tp.partition, buffer[0].offset, end), records, processor))
        return slices

    async def _recover(self, exc: StreamError) -> None:
        """ClickHouse (or the commit) failed: back off, then restart the flush's partitions from their checkpoint.

        The failed flush already dropped their processors (see `_flush_locked`). The back-off sleeps without the
        lock, so a rebalance meanwhile is not held up; the partitions it revokes need no restore here.
        """
        delay = self._retries.next_delay()
        self.metrics.flush_failures.inc()
        log.warning("flush failed, retrying in %.1fs from the last checkpoint: %s", delay, exc)
        await asyncio.sleep(delay)
        await self._retry_restore()

    async def _retry_restore(self) -> bool:
        try:
            async with self._lock:
                consumer = self._consumer
                tps = [tp for tp in self._needs_restore if consumer is not None and tp in consumer.assignment()]
                await self._restore(tps, rewind=True)
                self._needs_restore.clear()
        except StoreFatal:  # retrying cannot fix it: stop, as on assignment
            raise
        except StreamError as exc:
            delay = self._retries.next_delay()
            log.warning("state restore from ClickHouse failed, retrying in %.1fs: %s", delay, exc)
            await asyncio.sleep(delay)
            return False
        return True

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Write what the revoked partitions hold, then forget them. Waits for a flush in progress to finish.

        aiokafka awaits this before it rejoins, so this member still owns the partitions in the old generation
        and its commits are accepted (a refused one fails the flush, and the next owner replays the range).
        """
        async with self._lock:
            try:
                await self._flush_locked(revoked)
            except StoreFatal as exc:
                self._fatal = exc
                log.warning("flush on revoke failed, the next owner replays it: %s", exc)
            except StreamError as exc:
                # Uncommitted: the partition's next owner replays the range from the pending marker.
                log.warning("flush on revoke failed, the next owner replays it: %s", exc)
            finally:
                for tp in revoked:
                    self._needs_restore.discard(tp)
                    self._buffers.pop(tp, None)
                    self._processors.pop(tp, None)
                    self._forced_end.pop(tp, None)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        while True:
            try:
                async with self._lock:
                    await self._restore(assigned)
                break
            except StoreFatal as exc:
                self._fatal = exc
                raise
            except StreamError as exc:
                log.warning("cannot restore state from ClickHouse yet, retrying: %s", exc)
                await asyncio.sleep(self._retries.next_delay())
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
        s = self.settings
        try:  # a Kafka error is retriable like a failed commit: it must never escape a rebalance listener
            committed = await admin.list_consumer_group_offsets(s.stream_group_id, partitions=partitions)
        except KafkaError as exc:
            msg = f"reading committed offsets failed: {type(exc).__name__}"
            raise CheckpointFailed(msg) from exc
        for tp in partitions:
            if tp.topic == s.kafka_events_topic and self._partitions is not None:
                known = len(consumer.partitions_for_topic(tp.topic) or ())
                if (problem := grown_problem(tp.topic, self._partitions, tp.partition, known)) is not None:
                    raise PartitionsChanged(problem)  # the topic grew while we ran: stop, rows would lose
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            processor = PartitionProcessor(
                s.kafka_events_topic, s.kafka_deadletter_topic,
                timedelta(seconds=s.stream_dedup_window_s), s.stream_dedup_max_ids, self._engine_factory,
            )
            if tp.topic == s.kafka_events_topic and offset:
                await restore_partition(
                    self.writer, processor, tp.partition, offset, s.stream_dedup_window_s, s.stream_dedup_max_ids
                )
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
            self._window.reset()
