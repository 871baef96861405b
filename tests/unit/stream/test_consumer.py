"""The runner's rebalance seams with a fake consumer and a writer whose insert waits for the test.

aiokafka calls the rebalance listener from its coordinator task while the poll loop may be inside a flush; here
the two run as tasks of one loop, interleaved exactly where the bugs were (issue 10, items 3 and 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError, IllegalStateError
from aiokafka.structs import OffsetAndMetadata

from stream.consumer import StreamRunner
from stream.errors import CheckpointFailed, StoreUnavailable
from stream.metrics import StreamMetrics
from stream.processor import PartitionProcessor, SourceRecord
from stream.settings import StreamSettings

TOPIC, DEADLETTER = "events", "deadletter"
TP = TopicPartition(TOPIC, 0)


class FakeConsumer:
    """The parts of AIOKafkaConsumer the runner uses; commits land in `committed`, read back by FakeAdmin."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = set(assigned)
        self.committed: dict[TopicPartition, OffsetAndMetadata] = {}
        self.commits: list[tuple[TopicPartition, int, str]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        await asyncio.sleep(0)  # a round trip to the broker: other tasks run meanwhile
        for tp, meta in offsets.items():
            if tp not in self.assigned:
                msg = f"Partition {tp} is not assigned"
                raise IllegalStateError(msg)
            self.committed[tp] = meta
            self.commits.append((tp, meta.offset, meta.metadata))

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.assigned:
            msg = f"No current assignment for partition {tp}"
            raise IllegalStateError(msg)
        self.seeks.append((tp, offset))

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.seek(tp, 0)


class FakeAdmin:
    def __init__(self, consumer: FakeConsumer) -> None:
        self.consumer = consumer

    async def list_consumer_group_offsets(
        self, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        return {tp: self.consumer.committed[tp] for tp in partitions if tp in self.consumer.committed}


class GatedWriter:
    """The first non-empty insert waits for `release`, then fails or succeeds as the test says."""

    lanes = 1

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()
        self.fail_first = False
        self.calls = 0
        self.inserted: list[tuple[str, str, int]] = []  # (table, token, rows)

    async def insert(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str, lane: int = 0
    ) -> None:
        if not rows:
            return
        self.calls += 1
        if self.calls == 1:
            self.waiting.set()
            await self.release.wait()
            if self.fail_first:
                msg = "Code: 210. DB::NetException: Connection refused"
                raise StoreUnavailable(msg)
        self.inserted.append((table, token, len(rows)))

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return []


def record(offset: int) -> SourceRecord:
    event = {
        "app_id": "shop", "event_id": f"e{offset}", "type": "page_view", "anonymous_id": "dev-1",
        "event_time": "2026-11-20T10:00:00+00:00", "timestamp": "2026-11-20T10:00:00+00:00",
        "received_at": "2026-11-20T10:00:01+00:00",
    }
    return SourceRecord(TOPIC, 0, offset, orjson.dumps([event]), 1)


def runner_with(records: list[SourceRecord]) -> tuple[StreamRunner, FakeConsumer, GatedWriter]:
    settings = StreamSettings(
        kafka_events_topic=TOPIC, kafka_deadletter_topic=DEADLETTER, stream_retry_initial_s=0.01,
    )
    writer = GatedWriter()
    runner = StreamRunner(settings, writer, StreamMetrics())  # type: ignore[arg-type]
    consumer = FakeConsumer({TP})
    runner._consumer = consumer
    runner._admin = FakeAdmin(consumer)
    runner._processors[TP] = PartitionProcessor(
        TOPIC, DEADLETTER, timedelta(seconds=settings.stream_dedup_window_s), 1_000
    )
    runner._buffers[TP] = list(records)
    return runner, consumer, writer


async def revoke_during_insert(runner: StreamRunner, writer: GatedWriter, fail: bool) -> BaseException | None:
    """Flush (as the poll loop), revoke while its insert waits (as the coordinator), then end the insert."""
    writer.fail_first = fail
    flush = asyncio.create_task(runner._flush([TP]))
    await asyncio.wait_for(writer.waiting.wait(), 5)
    revoke = asyncio.create_task(runner.on_revoked([TP]))
    for _ in range(50):  # let the revocation run as far as it can while the insert waits
        await asyncio.sleep(0)
    writer.release.set()
    results = await asyncio.wait_for(asyncio.gather(flush, revoke, return_exceptions=True), 5)
    assert results[1] is None, results  # the listener itself never raises
    return results[0] if isinstance(results[0], BaseException) else None


async def test_a_revocation_during_a_failing_insert_commits_nothing_past_the_unwritten_rows() -> None:
    runner, consumer, writer = runner_with([record(0), record(1), record(2)])
    error = await revoke_during_insert(runner, writer, fail=True)

    assert isinstance(error, StoreUnavailable)
    assert writer.inserted == []  # the only insert of the range failed: nothing of offsets 0-2 is stored
    # Only the announcement of the range: the next owner starts at 0 and replays exactly 0-2.
    assert consumer.commits == [(TP, 0, "pending:2")]
    assert TP not in runner._processors and TP not in runner._buffers


async def test_a_revocation_during_a_successful_insert_waits_and_the_flush_finishes() -> None:
    runner, consumer, writer = runner_with([record(0), record(1), record(2)])
    error = await revoke_during_insert(runner, writer, fail=False)

    assert error is None  # today's code: KeyError(TopicPartition(topic='events', partition=0))
    assert writer.inserted == [("events", "events:0:0-2:events", 3)]
    assert consumer.commits == [(TP, 0, "pending:2"), (TP, 3, "")]
    assert TP not in runner._processors and TP not in runner._buffers


async def test_a_failed_flush_drops_its_state_and_the_restore_replays_from_the_checkpoint() -> None:
    runner, consumer, writer = runner_with([record(0), record(1), record(2)])
    writer.fail_first = True
    writer.release.set()
    with pytest.raises(StoreUnavailable):
        await runner._flush([TP])
    # The processor absorbed 0-2, which ClickHouse does not hold: another flush from it would commit 3.
    await runner._flush([TP])
    assert consumer.commits == [(TP, 0, "pending:2")]

    assert await runner._retry_restore()
    assert consumer.seeks == [(TP, 0)]  # replay from the announced start
    runner._buffers[TP] = [record(0), record(1), record(2), record(3)]
    await runner._flush([TP])
    # The pending marker fixes the range at 0-2 (same tokens as the failed attempt); offset 3 waits its turn.
    assert writer.inserted == [("events", "events:0:0-2:events", 3)]
    assert consumer.commits[-1] == (TP, 3, "")
    assert [r.offset for r in runner._buffers[TP]] == [3]


async def test_a_rebalance_during_the_back_off_leaves_the_revoked_partition_alone() -> None:
    runner, consumer, writer = runner_with([record(0), record(1)])
    writer.fail_first = True
    writer.release.set()
    with pytest.raises(StoreUnavailable) as failure:
        await runner._flush([TP])
    recover = asyncio.create_task(runner._recover(failure.value))
    await asyncio.sleep(0)
    await runner.on_revoked([TP])
    consumer.assigned = set()  # the partition went to another member
    await asyncio.wait_for(recover, 5)

    assert consumer.seeks == []  # a seek of an unassigned partition raises IllegalStateError in aiokafka
    assert runner._needs_restore == set()
    assert consumer.commits == [(TP, 0, "pending:1")]


class FlakyAdmin(FakeAdmin):
    """The group coordinator moves once: the first read of the committed offsets fails with a Kafka error."""

    def __init__(self, consumer: FakeConsumer) -> None:
        super().__init__(consumer)
        self.calls = 0

    async def list_consumer_group_offsets(
        self, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        self.calls += 1
        if self.calls == 1:
            raise GroupCoordinatorNotAvailableError
        return await super().list_consumer_group_offsets(group, partitions)


async def test_a_kafka_error_while_assigning_is_retried_not_left_as_a_partition_without_state() -> None:
    # aiokafka swallows what a listener raises: before, the partition stayed without a processor for good.
    runner, consumer, _ = runner_with([])
    runner._processors.clear()
    admin = FlakyAdmin(consumer)
    runner._admin = admin
    await runner.on_assigned([TP])
    assert admin.calls == 2
    assert TP in runner._processors
    assert runner.ready.is_set()


class SlowInserts(GatedWriter):
    """Every insert moves the fake clock on by `seconds`: a flush that takes time."""

    def __init__(self, clock: list[float], seconds: float) -> None:
        super().__init__()
        self.release.set()
        self.clock, self.seconds = clock, seconds

    async def insert(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str, lane: int = 0
    ) -> None:
        if rows:
            self.clock[0] += self.seconds
        await super().insert(table, columns, rows, token, lane)


async def test_the_wait_after_a_flush_that_took_every_record_counts_from_the_start_of_that_flush() -> None:
    """The policy's interval is the flush plus `cost_ratio` times it, from the flush's start: records that arrive
    while it runs wait the rest of the interval, not a whole interval after it ended (issue 12, latency)."""
    clock = [100.0]
    settings = StreamSettings(kafka_events_topic=TOPIC, kafka_deadletter_topic=DEADLETTER, stream_flush_cost_ratio=2.0)
    writer = SlowInserts(clock, 0.3)  # one page view: a single insert, into events
    runner = StreamRunner(settings, writer, StreamMetrics(), monotonic=lambda: clock[0], clock=lambda: 0.1)  # type: ignore[arg-type]
    consumer = FakeConsumer({TP})
    runner._consumer = consumer
    runner._processors[TP] = PartitionProcessor(TOPIC, DEADLETTER, timedelta(hours=1), 1_000)
    runner._buffers[TP] = [record(0)]
    await runner._flush([TP])
    assert [t for t, _, _ in writer.inserted] == ["events"]
    assert runner._buffers[TP] == [] and clock[0] == pytest.approx(100.3)
    runner._buffers[TP] = [record(1)]  # arrived during the flush
    assert runner._due() is False
    clock[0] = 100.89
    assert runner._due() is False
    clock[0] = 100.9  # 100.0 + (1 + 2) × 0.3: not 100.3 + 0.9
    assert runner._due() is True


@pytest.mark.parametrize(("written_s_ago", "interval"), [(0.2, 0.45), (2.99, 0.45), (3.01, 1.0), (None, 0.45)])
async def test_a_flush_that_read_a_backlog_waits_the_full_interval(
    written_s_ago: float | None, interval: float
) -> None:
    """The newest record of the flush was written `written_s_ago` seconds before it ended. More than three full
    intervals (3 s) is a backlog, taken in as few flushes as the interval allows; else the cost ratio (0.5) rules.
    None: the record has no timestamp."""
    clock = [100.0]
    settings = StreamSettings(kafka_events_topic=TOPIC, kafka_deadletter_topic=DEADLETTER, stream_flush_cost_ratio=0.5)
    wall = 1_800_000_000.3  # the wall clock when the flush ends
    metrics = StreamMetrics()
    runner = StreamRunner(settings, SlowInserts(clock, 0.3), metrics, monotonic=lambda: clock[0],  # type: ignore[arg-type]
                          clock=lambda: wall)
    runner._consumer = FakeConsumer({TP})
    runner._processors[TP] = PartitionProcessor(TOPIC, DEADLETTER, timedelta(hours=1), 1_000)
    written_ms = -1 if written_s_ago is None else round((wall - written_s_ago) * 1000)
    runner._buffers[TP] = [record(0), record(1), replace(record(2), timestamp_ms=written_ms)]
    await runner._flush([TP])
    assert clock[0] == pytest.approx(100.3)
    assert runner._window.interval_s == pytest.approx(interval)
    backlog_flushes = metrics.registry.get_sample_value("touchstream_stream_backlog_flushes_total")
    assert backlog_flushes == (1.0 if interval == 1.0 else 0.0)


async def test_after_a_quiet_spell_the_first_record_is_flushed_at_once() -> None:
    clock = [100.0]
    settings = StreamSettings(kafka_events_topic=TOPIC, kafka_deadletter_topic=DEADLETTER)
    runner = StreamRunner(settings, SlowInserts(clock, 0.01), StreamMetrics(), monotonic=lambda: clock[0])  # type: ignore[arg-type]
    runner._consumer = FakeConsumer({TP})
    runner._processors[TP] = PartitionProcessor(TOPIC, DEADLETTER, timedelta(hours=1), 1_000)
    runner._buffers[TP] = [record(0)]
    assert runner._due() is False  # no window yet: the first record opens it (in the poll loop)
    await runner._flush([TP])
    clock[0] = 160.0
    runner._buffers[TP] = [record(1)]
    assert runner._due() is True


async def test_when_the_announcement_fails_nothing_is_written_though_the_lookups_ran_beside_it() -> None:
    conversion = orjson.loads(record(1).value)[0] | {"event_id": "r1", "type": "register"}
    runner, consumer, writer = runner_with([record(0), SourceRecord(TOPIC, 0, 1, orjson.dumps([conversion]), 1)])
    asked: list[str] = []

    async def query(sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        asked.append(sql)
        return []

    writer.query = query  # type: ignore[method-assign]
    writer.release.set()  # an insert, were one started, would not wait
    consumer.assigned = set()  # revoked under it: the broker refuses the commit
    with pytest.raises(CheckpointFailed):
        await runner._flush([TP])
    assert writer.inserted == [] and writer.calls == 0
    assert consumer.commits == []
    assert len(asked) == 1 and "FROM events" in asked[0]  # the purchase's id was looked up, once
    assert TP not in runner._processors and TP in runner._needs_restore  # rebuilt from ClickHouse, replayed


# -- writer lanes: a flush writes up to `lanes` partitions at once -------------------------------------------


class LaneWriter:
    """Two lanes; each insert into `events` waits until the test releases its partition, or fails it."""

    lanes = 2

    def __init__(self) -> None:
        self.started: list[tuple[int, int]] = []  # (partition, lane), in the order the writes began
        self.release: dict[int, asyncio.Event] = {}
        self.fail: set[int] = set()
        self.inserted: list[str] = []  # tokens
        self.cancelled: list[int] = []

    def gate(self, partition: int) -> asyncio.Event:
        return self.release.setdefault(partition, asyncio.Event())

    async def insert(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str, lane: int = 0
    ) -> None:
        partition = int(token.split(":")[1])
        if table == "events":
            self.started.append((partition, lane))
            try:
                await self.gate(partition).wait()
            except asyncio.CancelledError:
                self.cancelled.append(partition)
                raise
            if partition in self.fail:
                msg = "Code: 210. DB::NetException: Connection refused"
                raise StoreUnavailable(msg)
        if rows:
            self.inserted.append(token)

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return []


def lanes_runner(partitions: int) -> tuple[StreamRunner, FakeConsumer, LaneWriter, list[TopicPartition]]:
    settings = StreamSettings(kafka_events_topic=TOPIC, kafka_deadletter_topic=DEADLETTER)
    writer = LaneWriter()
    runner = StreamRunner(settings, writer, StreamMetrics())  # type: ignore[arg-type]
    tps = [TopicPartition(TOPIC, p) for p in range(partitions)]
    consumer = FakeConsumer(set(tps))
    runner._consumer = consumer
    for tp in tps:
        runner._processors[tp] = PartitionProcessor(TOPIC, DEADLETTER, timedelta(hours=1), 1_000)
        runner._buffers[tp] = [SourceRecord(TOPIC, tp.partition, o, record(o).value, 1) for o in (0, 1)]
    return runner, consumer, writer, tps


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_two_lanes_write_two_partitions_at_once_and_commit_after_both() -> None:
    runner, consumer, writer, tps = lanes_runner(2)
    flush = asyncio.create_task(runner._flush(tps))
    await settle()
    assert writer.started == [(0, 0), (1, 1)]  # both in flight, one per lane
    writer.gate(1).set()  # the second finishes first: nothing is committed past either range yet
    await settle()
    assert [c for c in consumer.commits if not c[2]] == []
    writer.gate(0).set()
    await asyncio.wait_for(flush, 5)
    assert sorted(writer.inserted) == ["events:0:0-1:events", "events:1:0-1:events"]
    assert sorted(c for c in consumer.commits if not c[2]) == [(tps[0], 2, ""), (tps[1], 2, "")]


async def test_a_third_partition_takes_the_lane_that_freed_first() -> None:
    runner, consumer, writer, tps = lanes_runner(3)
    flush = asyncio.create_task(runner._flush(tps))
    await settle()
    assert writer.started == [(0, 0), (1, 1)]  # the third waits for a lane
    writer.gate(1).set()
    await settle()
    assert writer.started == [(0, 0), (1, 1), (2, 1)]  # lane 1 freed first, though lane 0 started first
    writer.gate(0).set()
    writer.gate(2).set()
    await asyncio.wait_for(flush, 5)
    assert sorted(c for c in consumer.commits if not c[2]) == [(tp, 2, "") for tp in tps]


async def test_a_failed_lane_stops_the_flush_cancels_the_other_and_commits_only_the_announcements() -> None:
    runner, consumer, writer, tps = lanes_runner(3)
    writer.fail.add(1)
    flush = asyncio.create_task(runner._flush(tps))
    await settle()
    writer.gate(1).set()  # partition 1 fails while partition 0 still writes
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(flush, 5)
    assert writer.started == [(0, 0), (1, 1)]  # partition 2's write never started
    assert writer.cancelled == [0]
    assert writer.inserted == []
    assert sorted(consumer.commits) == [(tp, 0, "pending:1") for tp in tps]
    # Every partition of the flush is rebuilt from ClickHouse and replayed with the same ranges and tokens.
    assert runner._needs_restore == set(tps) and not runner._processors
