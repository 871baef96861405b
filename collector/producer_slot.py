"""One Kafka producer in use and its replacement: drop a poisoned one at once, close it in the background, start
a new one with back-off, in the same process.

`KafkaSink` (collector/sinks.py) holds two slots, the idempotent producer of `/v1/batch` and the webhooks and
the transactional producer of spend uploads, and both are replaced by this one piece of code: the same
back-off, the same `producer_replacements{cause}` accounting, the same bounded close. Whether a failure poisons
a producer is decided in collector/kafka_faults.py, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError

from collector import kafka_faults
from collector.errors import Unavailable
from collector.kafka_faults import Fault
from collector.metrics import CollectorMetrics
from runtime.backoff import Backoff

log = logging.getLogger(__name__)


class ProducerSlot:
    def __init__(
        self,
        name: str,
        factory: Callable[[], Any],
        metrics: CollectorMetrics,
        backoff: Backoff,
        start_bound_s: float,
        close_bound_s: float,
    ) -> None:
        self.name = name  # for log lines only ("Kafka producer", "transactional Kafka producer")
        self._factory = factory
        self._metrics = metrics
        self._backoff = backoff
        self._start_bound_s = start_bound_s
        self._close_bound_s = close_bound_s
        self._producer: Any = None  # an AIOKafkaProducer (aiokafka is untyped), or None while replacing it
        self._last_fault: Fault | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._started = False

    @property
    def current(self) -> Any:
        """The producer to use now, or None while it is being replaced (or was never started)."""
        return self._producer

    async def start(self) -> None:
        """Start the first producer now; a failure is raised to the caller (the collector does not start)."""
        self._stopped = False
        self._started = True
        self._producer = await self._start_one()

    def arm(self) -> None:
        """Start on first use (`ensure`), also after a `stop()`: the sink itself was started (again)."""
        self._stopped = False
        self._started = False

    async def ensure(self) -> Any:
        """The producer to use, started on first use; `Unavailable` while none is usable.

        A first start that fails hands over to the background recovery, so that later calls answer at once
        instead of each waiting for a broker that is not there.
        """
        if self._producer is not None:
            return self._producer
        if self._started or self._stopped:
            raise self.recovering()
        self._started = True
        try:
            self._producer = await self._start_one()
        except BaseException as exc:
            # Whatever stopped it (even the request being cancelled), the next start is the recovery's job.
            self._last_fault = kafka_faults.on_start(exc)
            self._recovery = asyncio.create_task(self._recover())
            if not isinstance(exc, KafkaError | OSError | TimeoutError):
                raise
            log.warning("the %s could not start (%s); retrying in the background", self.name, type(exc).__name__)
            raise self.recovering() from None
        return self._producer

    async def _start_one(self) -> Any:
        producer = self._factory()
        try:
            # start() waits for a producer id and may loop while the broker is still coming up: bounded here so
            # that a recovery attempt gives way to the next one.
            async with asyncio.timeout(self._start_bound_s):
                await producer.start()
        except BaseException:
            await self.close(producer)
            raise
        return producer

    def watch(self, producer: Any, future: asyncio.Future[Any]) -> None:
        """Replace `producer` as soon as any of its deliveries fails, even one whose request already got a 503."""

        def done(f: asyncio.Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()  # also marks it retrieved: no "exception was never retrieved" noise
            if exc is not None:
                self.poisoned(producer, kafka_faults.on_delivery(exc))

        future.add_done_callback(done)

    def poisoned(self, producer: Any, fault: Fault) -> None:
        """Drop `producer` (synchronous, so callable from a done-callback or a cancelled request) and replace it."""
        if producer is not self._producer or self._stopped:
            return  # already being replaced (many futures of one producer fail together)
        self._producer = None
        self._last_fault = fault
        self._metrics.producer_replacements.labels(fault.cause).inc()
        log.warning("the %s failed (%s); replacing it", self.name, fault.kind)
        closing = asyncio.create_task(self.close(producer, bound_s=30.0))
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
            except Exception as exc:  # noqa: BLE001 - a recovery that gave up would leave no producer, ever
                log.warning("a new %s could not start (attempt %d: %s)", self.name, attempt, type(exc).__name__)
                continue
            if self._stopped:
                await self.close(producer)
                return
            self._producer = producer
            log.warning("a new %s is ready after %d attempt(s)", self.name, attempt)
            return

    def recovering(self) -> Unavailable:
        fault = self._last_fault
        after = f" after {fault.kind}" if fault else ""
        return Unavailable(
            f"the {self.name} is being replaced{after}; retry with the same event ids",
            cause=kafka_faults.PRODUCER_RECOVERING,
        )

    async def stop(self) -> None:
        self._stopped = True
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        producer, self._producer = self._producer, None
        if producer is not None:
            await self.close(producer)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=self._close_bound_s)

    async def close(self, producer: Any, bound_s: float | None = None) -> None:
        try:
            # stop() flushes; bounded because it can hang forever while the broker is down (aiokafka #1101).
            async with asyncio.timeout(bound_s or self._close_bound_s):
                await producer.stop()
        except TimeoutError:
            log.warning("a %s did not stop in time; its unacknowledged records were never acked", self.name)
        except (KafkaError, OSError) as exc:
            log.warning("a %s failed while stopping (%s)", self.name, type(exc).__name__)
