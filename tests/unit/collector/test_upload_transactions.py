"""`KafkaSink.publish_atomic`: one transaction per upload, committed only when every record is acknowledged;
any failure aborts it or replaces the producer, and nothing of a failed upload is committed (fake producers).

The fakes stand in for aiokafka's transactional producer at its interface (start, begin/commit/abort, send ->
future, stop); the real broker is exercised in tests/integration/test_cost_transactions.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError, ProducerFenced

from collector.errors import Unavailable
from collector.metrics import CollectorMetrics
from collector.routing import OutRecord
from collector.sinks import KafkaSink
from runtime.backoff import Backoff
from tests.unit.collector.conftest import build_app, make_settings

UPLOAD = [OutRecord("t.events", b"shop", f"[{n}]".encode(), (), 1) for n in range(4)]
VALUES = [r.value for r in UPLOAD]


class MainProducer:
    """The idempotent producer of /v1/batch: must never see an upload."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def start(self) -> None:
        return None

    async def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> asyncio.Future[Any]:
        self.sent.append(value)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result("metadata")
        return future

    async def stop(self) -> None:
        return None


class TxnProducer:
    """Records are `open` during a transaction, `committed` on commit and `aborted` on abort. The n-th send of a
    transaction can be refused before queueing (`refuse_at`) or fail its delivery (`fail_delivery_at`)."""

    def __init__(
        self,
        *,
        refuse_at: int | None = None,
        fail_delivery_at: int | None = None,
        commit_error: BaseException | None = None,
        commit_hangs: bool = False,
        start_error: BaseException | None = None,
        start_gate: asyncio.Event | None = None,
    ) -> None:
        self.refuse_at, self.fail_delivery_at = refuse_at, fail_delivery_at
        self.commit_error, self.commit_hangs = commit_error, commit_hangs
        self.start_error, self.start_gate = start_error, start_gate
        self.started = asyncio.Event()
        self.calls: list[str] = []
        self.open: list[bytes] = []
        self.committed: list[bytes] = []
        self.aborted: list[bytes] = []
        self.stopped = False
        self._sends = 0

    async def start(self) -> None:
        self.started.set()
        if self.start_gate is not None:
            await self.start_gate.wait()
        if self.start_error is not None:
            raise self.start_error

    async def begin_transaction(self) -> None:
        self.calls.append("begin")
        self._sends = 0

    async def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> asyncio.Future[Any]:
        self._sends += 1
        if self._sends == self.refuse_at:
            raise KafkaConnectionError()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._sends == self.fail_delivery_at:
            future.set_exception(NotLeaderForPartitionError())
        else:
            self.open.append(value)
            future.set_result("metadata")
        return future

    async def commit_transaction(self) -> None:
        self.calls.append("commit")
        if self.commit_hangs:
            await asyncio.Event().wait()
        if self.commit_error is not None:
            raise self.commit_error
        self.committed, self.open = self.committed + self.open, []

    async def abort_transaction(self) -> None:
        self.calls.append("abort")
        self.aborted, self.open = self.aborted + self.open, []

    async def stop(self) -> None:
        self.stopped = True


def sink_with(producers: list[TxnProducer], **kwargs: Any) -> tuple[KafkaSink, MainProducer, CollectorMetrics]:
    metrics = CollectorMetrics()
    main = MainProducer()
    queue = iter(producers)
    sink = KafkaSink(
        "unused:9092", metrics, backoff=Backoff(first_s=0.0, max_s=0.0), producer_factory=lambda: main,
        transactional_factory=lambda: next(queue), **kwargs,
    )
    return sink, main, metrics


async def upload_when_ready(sink: KafkaSink, records: list[OutRecord]) -> None:
    for _ in range(200):  # bounded: the back-off here is 0 s, a few loop turns are enough
        try:
            await sink.publish_atomic(records)
            return
        except Unavailable as exc:
            assert exc.cause == "producer_recovering"
            await asyncio.sleep(0.01)
    raise AssertionError("no new transactional producer")


def replacements(metrics: CollectorMetrics, cause: str) -> float | None:
    return metrics.registry.get_sample_value("touchstream_collector_producer_replacements_total", {"cause": cause})


async def test_an_upload_is_one_transaction_of_a_producer_started_on_first_use() -> None:
    txn = TxnProducer()
    sink, main, _ = sink_with([txn])
    await sink.start()
    assert not txn.started.is_set()  # /v1/batch alone never starts a transactional producer
    await sink.publish_atomic(UPLOAD)
    assert (txn.calls, txn.committed, main.sent) == (["begin", "commit"], VALUES, [])
    await sink.stop()
    assert txn.stopped


async def test_a_send_refused_before_queueing_aborts_and_the_producer_takes_the_next_upload() -> None:
    txn = TxnProducer(refuse_at=3)
    sink, _, metrics = sink_with([txn])
    await sink.start()
    with pytest.raises(Unavailable) as refused:
        await sink.publish_atomic(UPLOAD)
    assert (refused.value.cause, refused.value.message) == ("kafka_refused", "Kafka refused the batch: "
                                                            "KafkaConnectionError")
    assert (txn.calls, txn.committed, txn.aborted) == (["begin", "abort"], [], VALUES[:2])
    txn.refuse_at = None
    await sink.publish_atomic(UPLOAD)  # the same producer: an abort leaves it usable
    assert txn.committed == VALUES
    assert replacements(metrics, "kafka_refused") is None
    await sink.stop()


async def test_a_failed_delivery_replaces_the_producer_without_committing_and_the_next_upload_works() -> None:
    poisoned, fresh = TxnProducer(fail_delivery_at=2), TxnProducer()
    sink, _, metrics = sink_with([poisoned, fresh])
    await sink.start()
    with pytest.raises(Unavailable) as failed:
        await sink.publish_atomic(UPLOAD)
    assert (failed.value.cause, failed.value.message) == ("producer_replaced", "Kafka refused the batch: "
                                                          "NotLeaderForPartitionError")
    # Neither committed nor aborted by us: the replacement (same transactional id) ends it at its start.
    assert (poisoned.calls, poisoned.committed) == (["begin"], [])
    await upload_when_ready(sink, UPLOAD)
    assert fresh.committed == VALUES and poisoned.stopped
    assert replacements(metrics, "producer_replaced") == 1
    await sink.stop()


async def test_a_refused_commit_replaces_the_producer() -> None:
    fenced, fresh = TxnProducer(commit_error=ProducerFenced()), TxnProducer()
    sink, _, metrics = sink_with([fenced, fresh])
    await sink.start()
    with pytest.raises(Unavailable) as failed:
        await sink.publish_atomic(UPLOAD)
    assert (failed.value.cause, failed.value.message) == ("producer_replaced", "Kafka refused the batch: "
                                                          "ProducerFenced")
    assert fenced.committed == []
    await upload_when_ready(sink, UPLOAD)
    assert fresh.committed == VALUES
    assert replacements(metrics, "producer_replaced") == 1
    await sink.stop()


async def test_a_commit_past_the_deadline_is_a_503_that_says_it_may_be_stored_and_replaces_the_producer() -> None:
    stuck, fresh = TxnProducer(commit_hangs=True), TxnProducer()
    sink, _, metrics = sink_with([stuck, fresh], upload_deadline_s=0.2, transaction_timeout_s=1.0)
    await sink.start()
    with pytest.raises(Unavailable) as late:
        await sink.publish_atomic(UPLOAD)
    assert late.value.cause == "kafka_timeout"
    assert late.value.message == (
        "Kafka did not commit the upload within 0.2s; the commit was under way, so all of the upload may be "
        "stored (none of it, otherwise)"
    )
    assert metrics.registry.get_sample_value("touchstream_collector_ambiguous_sends_total") == 1
    assert replacements(metrics, "producer_replaced") == 1
    await upload_when_ready(sink, UPLOAD)
    assert fresh.committed == VALUES
    await sink.stop()


async def test_a_first_start_that_fails_answers_503_and_recovers_in_the_background() -> None:
    dead, fresh = TxnProducer(start_error=KafkaConnectionError()), TxnProducer()
    sink, _, _ = sink_with([dead, fresh])
    await sink.start()
    with pytest.raises(Unavailable) as failed:
        await sink.publish_atomic(UPLOAD)
    assert (failed.value.cause, failed.value.message) == (
        "producer_recovering",
        "the transactional Kafka producer is being replaced after KafkaConnectionError; retry with the same event ids",
    )
    await upload_when_ready(sink, UPLOAD)
    assert (dead.committed, fresh.committed) == ([], VALUES)
    await sink.stop()


async def test_uploads_take_turns_and_one_that_waits_too_long_is_refused_without_making_the_collector_unready(
) -> None:
    gate = asyncio.Event()
    txn = TxnProducer(start_gate=gate)
    sink, _, _ = sink_with([txn], upload_deadline_s=0.2, transaction_timeout_s=1.0)
    app = build_app(make_settings(), sink)
    state = app.state.collector
    await sink.start()
    first = asyncio.create_task(state.publish_atomic(UPLOAD))
    await asyncio.wait_for(txn.started.wait(), 10)  # a guard against a hang, not a timing assert
    with pytest.raises(Unavailable) as busy:
        await state.publish_atomic(UPLOAD[:1])
    assert (busy.value.cause, busy.value.status) == ("uploads_busy", 503)
    assert state.health.failing(state.monotonic()) is None  # our own queue, not Kafka: still ready
    gate.set()
    await asyncio.wait_for(first, 10)
    await state.publish_atomic(UPLOAD[:1])
    assert (txn.calls, txn.committed) == (["begin", "commit", "begin", "commit"], [*VALUES, VALUES[0]])
    await sink.stop()


async def test_an_upload_cancelled_while_the_producer_starts_leaves_the_next_start_to_the_recovery() -> None:
    stuck, fresh = TxnProducer(start_gate=asyncio.Event()), TxnProducer()
    sink, _, _ = sink_with([stuck, fresh])
    await sink.start()
    first = asyncio.create_task(sink.publish_atomic(UPLOAD))
    await asyncio.wait_for(stuck.started.wait(), 10)  # a guard against a hang, not a timing assert
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await upload_when_ready(sink, UPLOAD)  # without a recovery, every later upload would be refused for good
    assert (stuck.stopped, stuck.committed, fresh.committed) == (True, [], VALUES)
    await sink.stop()
