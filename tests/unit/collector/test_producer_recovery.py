"""KafkaSink replaces a poisoned producer and never acknowledges what the producer did not (fake producers).

The fakes stand in for aiokafka's producer at its interface (start, send -> future, stop); the real broker
fault is exercised in tests/integration/test_broker_faults.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    TopicAuthorizationFailedError,
)

from collector import kafka_faults
from collector.errors import Unavailable
from collector.metrics import CollectorMetrics
from collector.routing import OutRecord
from collector.sinks import KafkaSink
from runtime.backoff import Backoff

RECORD = OutRecord("t.events", b"shop", b"[]", (), 0)


class FakeProducer:
    """Delivers every record, or fails each delivery with `fail_with`; `start_error` makes start() fail."""

    def __init__(self, fail_with: BaseException | None = None, start_error: BaseException | None = None) -> None:
        self.fail_with = fail_with
        self.start_error = start_error
        self.sent: list[bytes] = []
        self.stopped = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error

    async def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
        else:
            self.sent.append(value)
            future.set_result("metadata")
        return future

    async def stop(self) -> None:
        self.stopped = True


def sink_with(producers: list[FakeProducer]) -> tuple[KafkaSink, CollectorMetrics]:
    metrics = CollectorMetrics()
    queue = iter(producers)
    sink = KafkaSink(
        "unused:9092", metrics, backoff=Backoff(first_s=0.0, max_s=0.0), producer_factory=lambda: next(queue)
    )
    return sink, metrics


async def wait_until_ready(sink: KafkaSink) -> None:
    for _ in range(200):  # bounded: the back-off here is 0 s, a few loop turns are enough
        if sink._main.current is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no new producer")


async def test_a_failed_delivery_replaces_the_producer_and_the_next_publish_goes_to_the_new_one() -> None:
    poisoned = FakeProducer(fail_with=OutOfOrderSequenceNumber())
    dead_on_start = FakeProducer(start_error=KafkaConnectionError())
    fresh = FakeProducer()
    sink, metrics = sink_with([poisoned, dead_on_start, fresh])
    await sink.start()

    with pytest.raises(Unavailable) as failed:
        await sink.publish([RECORD])
    assert (failed.value.cause, failed.value.message) == (
        "producer_replaced", "Kafka refused the batch: OutOfOrderSequenceNumber"
    )
    # Until a new producer has started, publishes are refused without touching any producer.
    with pytest.raises(Unavailable) as recovering:
        await sink.publish([RECORD])
    assert recovering.value.cause == "producer_recovering"

    await wait_until_ready(sink)  # the second producer failed to start; the third is the one in use
    await sink.publish([RECORD])
    assert (poisoned.sent, fresh.sent) == ([], [b"[]"])
    await asyncio.sleep(0)
    assert poisoned.stopped and dead_on_start.stopped
    replaced = {"cause": "producer_replaced"}
    assert metrics.registry.get_sample_value("touchstream_collector_producer_replacements_total", replaced) == 1
    await sink.stop()
    assert fresh.stopped


@pytest.mark.parametrize(
    ("exc", "cause", "replace"),
    [
        # After the record was queued, any failure leaves a gap in the partition's sequence numbers.
        (OutOfOrderSequenceNumber(), "producer_replaced", True),
        (LeaderNotAvailableError(), "producer_replaced", True),  # retriable by class, yet the batch is gone
        (TopicAuthorizationFailedError(), "kafka_not_authorized", True),
    ],
)
def test_every_delivery_failure_poisons_the_producer(exc: BaseException, cause: str, replace: bool) -> None:
    fault = kafka_faults.on_delivery(exc)
    assert (fault.cause, fault.replace_producer, fault.kind) == (cause, replace, type(exc).__name__)


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (KafkaTimeoutError(), "kafka_timeout"),
        (ProducerClosed(), "producer_recovering"),
        (TopicAuthorizationFailedError(), "kafka_not_authorized"),
        (KafkaConnectionError(), "kafka_refused"),
    ],
)
def test_a_failure_before_queueing_keeps_the_producer(exc: BaseException, cause: str) -> None:
    fault = kafka_faults.on_enqueue(exc)
    assert (fault.cause, fault.replace_producer) == (cause, False)


def test_backoff_doubles_and_is_capped() -> None:
    assert [Backoff(0.25, 4.0).delay(n) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
