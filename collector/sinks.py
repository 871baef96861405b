"""Sinks: where routed records go. `publish` returns only once every record is durably acknowledged.

`KafkaSink` produces with acks=all and the idempotent producer (aiokafka's defaults are weaker) and puts its
own deadline on every publish: with idempotence on, aiokafka never times a send out while the broker is down
(aiokafka #1101), so without one a request would hang. A publish that missed its deadline may still land
later; that is why events are deduplicated downstream by (app_id, event_id).

A producer whose delivery failed is poisoned (collector/kafka_faults.py says why): the sink drops it at once,
so later publishes answer 503 `producer_recovering` instead of `OutOfOrderSequenceNumber` forever, closes it in
the background and starts a new one with back-off, in the same process. A request is acknowledged only when
every future of its records resolved with a result, so a replacement never acknowledges anything Kafka did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from collector import kafka_faults
from collector.errors import Unavailable
from collector.kafka_faults import Backoff, Fault
from collector.metrics import CollectorMetrics
from collector.routing import MAX_KAFKA_REQUEST_BYTES, OutRecord

log = logging.getLogger(__name__)


class Sink(Protocol):
    async def start(self) -> None: ...
    async def publish(self, records: Sequence[OutRecord]) -> None: ...
    async def is_healthy(self) -> bool: ...
    async def stop(self) -> None: ...


class InMemorySink:
    """For component tests: records what was published; can be told to fail like a broker outage."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []
        self.down = False

    async def start(self) -> None:
        return None

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if self.down:
            msg = "sink is down"
            raise Unavailable(msg)
        self.records.extend(records)

    async def is_healthy(self) -> bool:
        return not self.down

    async def stop(self) -> None:
        return None


class KafkaSink:
    def __init__(
        self,
        bootstrap: str,
        metrics: CollectorMetrics,
        deadline_s: float = 2.0,
        linger_ms: int = 2,
        backoff: Backoff | None = None,
        producer_factory: Callable[[], Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._metrics = metrics
        self._deadline_s = deadline_s
        self._linger_ms = linger_ms
        self._backoff = backoff or Backoff()
        self._factory = producer_factory or self._new_producer
        self._producer: Any = None  # an AIOKafkaProducer (aiokafka is untyped), or None while replacing it
        self._last_fault: Fault | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._stopped = False

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            # One request's record can be 256 KB; with aiokafka's 16 KB default each batch holds one record and
            # concurrent requests queue behind it (measured: p99 877 ms -> 89 ms at 10-event batches).
            max_batch_size=MAX_KAFKA_REQUEST_BYTES,
            max_request_size=MAX_KAFKA_REQUEST_BYTES,
            request_timeout_ms=int(self._deadline_s * 1000) + 3000,
            client_id="touchstream-collector",
        )

    async def start(self) -> None:
        self._stopped = False
        self._producer = await self._start_one()

    async def _start_one(self) -> Any:
        producer = self._factory()
        try:
            # start() waits for a producer id and may loop while the broker is still coming up: bounded here so
            # that a recovery attempt gives way to the next one.
            async with asyncio.timeout(self._deadline_s + 5):
                await producer.start()
        except BaseException:
            await self._close(producer)
            raise
        return producer

    async def publish(self, records: Sequence[OutRecord]) -> None:
        producer = self._producer
        if producer is None:
            raise self._recovering()
        started = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        try:
            try:
                async with asyncio.timeout(self._deadline_s):
                    for r in records:
                        # send() only enqueues (cancelling it un-queues the record); the future resolves on the
                        # broker's acks=all acknowledgement.
                        future = await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                        self._watch(producer, future)
                        futures.append(future)
            except TimeoutError:
                raise self._timed_out() from None
            except KafkaError as exc:  # classified once, in kafka_faults; the message names only the class
                raise self._refused(kafka_faults.on_enqueue(exc)) from None
            remaining = max(0.0, self._deadline_s - (time.perf_counter() - started))
            # wait() leaves the futures alone on timeout: the records stay queued and may still land.
            _, pending = await asyncio.wait(futures, timeout=remaining)
            if pending:
                raise self._timed_out()
            for future in futures:
                if future.cancelled():  # only a producer being closed under us cancels its futures
                    raise self._recovering()
                failure = future.exception()
                if failure is not None:
                    raise self._refused(kafka_faults.on_delivery(failure))
        finally:
            self._metrics.kafka_publish_seconds.observe(time.perf_counter() - started)

    def _watch(self, producer: Any, future: asyncio.Future[Any]) -> None:
        """Replace `producer` as soon as any of its deliveries fails, even one whose request already got a 503."""

        def done(f: asyncio.Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()  # also marks it retrieved: no "exception was never retrieved" noise
            if exc is not None:
                self._poisoned(producer, kafka_faults.on_delivery(exc))

        future.add_done_callback(done)

    def _poisoned(self, producer: Any, fault: Fault) -> None:
        if producer is not self._producer or self._stopped:
            return  # already being replaced (many futures of one producer fail together)
        self._producer = None
        self._last_fault = fault
        self._metrics.producer_replacements.labels(fault.cause).inc()
        log.warning("the Kafka producer failed a delivery (%s); replacing it", fault.kind)
        closing = asyncio.create_task(self._close(producer, bound_s=30.0))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.create_task(self._recover())

    async def _recover(self) -> None:
        attempt = 0
        while not self._stopped:
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1
            try:
                producer = await self._start_one()
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("a new Kafka producer could not start (attempt %d: %s)", attempt, type(exc).__name__)
                continue
            if self._stopped:
                await self._close(producer)
                return
            self._producer = producer
            log.warning("a new Kafka producer is ready after %d attempt(s)", attempt)
            return

    def _recovering(self) -> Unavailable:
        fault = self._last_fault
        after = f" after {fault.kind}" if fault else ""
        return Unavailable(
            f"the Kafka producer is being replaced{after}; retry with the same event ids",
            cause=kafka_faults.PRODUCER_RECOVERING,
        )

    def _timed_out(self) -> Unavailable:
        self._metrics.ambiguous_sends.inc()
        return Unavailable(f"Kafka did not acknowledge within {self._deadline_s}s", cause=kafka_faults.KAFKA_TIMEOUT)

    @staticmethod
    def _refused(fault: Fault) -> Unavailable:
        return Unavailable(f"Kafka refused the batch: {fault.kind}", cause=fault.cause)

    async def is_healthy(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(1.0):
                return bool(await producer.client.fetch_all_metadata())
        except (TimeoutError, KafkaError, OSError):
            return False

    async def stop(self) -> None:
        self._stopped = True
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._close(producer)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=self._deadline_s + 3)

    async def _close(self, producer: Any, bound_s: float | None = None) -> None:
        try:
            # stop() flushes; bounded because it can hang forever while the broker is down (aiokafka #1101).
            async with asyncio.timeout(bound_s or self._deadline_s + 3):
                await producer.stop()
        except TimeoutError:
            log.warning("a Kafka producer did not stop in time; its unacknowledged records were never acked")
        except (KafkaError, OSError) as exc:
            log.warning("a Kafka producer failed while stopping (%s)", type(exc).__name__)
