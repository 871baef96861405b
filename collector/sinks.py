"""Sinks: where routed records go. `publish` returns only once every record is durably acknowledged;
`publish_atomic` only once all of them are committed together, and on failure leaves none of them visible.

`KafkaSink` produces with acks=all and the idempotent producer (aiokafka's defaults are weaker) and puts its
own deadline on every publish: with idempotence on, aiokafka never times a send out while the broker is down
(aiokafka #1101), so without one a request would hang. A publish that missed its deadline may still land
later; that is why events are deduplicated downstream by (app_id, event_id).

A producer whose delivery failed is poisoned (collector/kafka_faults.py says why): the sink drops it at once,
so later publishes answer 503 `producer_recovering` instead of `OutOfOrderSequenceNumber` forever, closes it in
the background and starts a new one with back-off, in the same process (collector/producer_slot.py). A request
is acknowledged only when every future of its records resolved with a result, so a replacement never
acknowledges anything Kafka did not.

Spend uploads (`publish_atomic`) go through a second, transactional producer, started on the first upload (most
collectors never receive one, and a broker that refuses transactional ids then costs `/v1/batch` nothing). Its
transactional id is unique per sink, hence per collector process: two replicas sharing one would fence each
other. The processor consumes `read_committed` (stream/consumer.py), so it sees a committed upload whole and an
aborted one never. One upload at a time (a lock): a transactional producer has one transaction open at most.

What an open transaction costs: a read_committed consumer of that partition reads nothing past the first record
of an open transaction until it ends. Within this process a failed transaction is aborted, or its producer is
replaced by one with the same transactional id, whose start makes the coordinator end it at once. A collector
that dies mid-upload leaves its transaction to the coordinator's timeout: `transaction_timeout_s` (10 s), checked
every `transaction.abort.timed.out.transaction.cleanup.interval.ms` of the broker (10 s by default), so that
partition's events reach the processor at most about 20 s late, then flow again; nothing is lost.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from collector import kafka_faults
from collector.errors import Overloaded, Unavailable
from collector.kafka_faults import PRODUCER_BACKOFF, Fault
from collector.metrics import CollectorMetrics
from collector.producer_slot import ProducerSlot
from collector.routing import MAX_KAFKA_REQUEST_BYTES, OutRecord
from runtime.backoff import Backoff

# The coordinator aborts a transaction open longer than this (and fences its producer).
TRANSACTION_TIMEOUT_S = 10.0
# How long an upload may wait for its turn, and then how long its transaction may take from begin to commit:
# well under the transaction timeout, so that the coordinator never aborts a transaction we are about to commit.
UPLOAD_DEADLINE_S = 5.0


class Sink(Protocol):
    async def start(self) -> None: ...
    async def publish(self, records: Sequence[OutRecord]) -> None: ...
    async def publish_atomic(self, records: Sequence[OutRecord]) -> None: ...
    async def is_healthy(self) -> bool: ...
    async def stop(self) -> None: ...


class InMemorySink:
    """For component tests: records what was published; can be told to fail like a broker outage, or to fail an
    atomic publish after `fail_atomic_after` records, which it then keeps in `aborted`, never in `records`."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []
        self.aborted: list[list[OutRecord]] = []
        self.down = False
        self.fail_atomic_after: int | None = None

    async def start(self) -> None:
        return None

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if self.down:
            msg = "sink is down"
            raise Unavailable(msg)
        self.records.extend(records)

    async def publish_atomic(self, records: Sequence[OutRecord]) -> None:
        if self.down:
            msg = "sink is down"
            raise Unavailable(msg)
        staged: list[OutRecord] = []
        for record in records:
            if len(staged) == self.fail_atomic_after:
                self.aborted.append(staged)
                msg = "Kafka refused the batch: KafkaConnectionError"
                raise Unavailable(msg, cause=kafka_faults.KAFKA_REFUSED)
            staged.append(record)
        self.records.extend(staged)

    async def is_healthy(self) -> bool:
        return not self.down

    async def stop(self) -> None:
        return None


def unique_transactional_id() -> str:
    """Host and pid say which collector holds a transaction (`kafka-transactions.sh list`); the random part
    keeps two sinks of one process (tests) apart."""
    return f"touchstream-collector-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class KafkaSink:
    def __init__(
        self,
        bootstrap: str,
        metrics: CollectorMetrics,
        deadline_s: float = 2.0,
        linger_ms: int = 2,
        backoff: Backoff | None = None,
        producer_factory: Callable[[], Any] | None = None,
        *,
        transactional_factory: Callable[[], Any] | None = None,
        transactional_id: str | None = None,
        transaction_timeout_s: float = TRANSACTION_TIMEOUT_S,
        upload_deadline_s: float = UPLOAD_DEADLINE_S,
    ) -> None:
        if not 0 < upload_deadline_s < transaction_timeout_s:
            msg = "upload_deadline_s must be positive and below transaction_timeout_s"
            raise ValueError(msg)
        self._bootstrap = bootstrap
        self._metrics = metrics
        self._deadline_s = deadline_s
        self._linger_ms = linger_ms
        self.transactional_id = transactional_id or unique_transactional_id()
        self._transaction_timeout_s = transaction_timeout_s
        self._upload_deadline_s = upload_deadline_s
        backoff = backoff or PRODUCER_BACKOFF
        self._main = ProducerSlot(
            "Kafka producer", producer_factory or self._new_producer, metrics, backoff,
            start_bound_s=deadline_s + 5, close_bound_s=deadline_s + 3,
        )
        self._txn = ProducerSlot(
            "transactional Kafka producer", transactional_factory or self._new_transactional_producer, metrics,
            backoff, start_bound_s=deadline_s + 5, close_bound_s=upload_deadline_s + 3,
        )
        self._upload_turn = asyncio.Lock()

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

    def transactional_config(self) -> dict[str, Any]:
        """The settings of the transactional producer (public so that a test can build one like it)."""
        return {
            "bootstrap_servers": self._bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            "transactional_id": self.transactional_id,
            "transaction_timeout_ms": int(self._transaction_timeout_s * 1000),
            "linger_ms": self._linger_ms,
            "max_batch_size": MAX_KAFKA_REQUEST_BYTES,
            "max_request_size": MAX_KAFKA_REQUEST_BYTES,
            "request_timeout_ms": int(self._upload_deadline_s * 1000) + 3000,
            "client_id": "touchstream-collector-uploads",
        }

    def _new_transactional_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self.transactional_config())

    async def start(self) -> None:
        await self._main.start()
        self._txn.arm()  # the transactional producer starts with the first upload

    async def publish(self, records: Sequence[OutRecord]) -> None:
        producer = self._main.current
        if producer is None:
            raise self._main.recovering()
        started = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        try:
            # One deadline for queueing and acknowledgement alike (one timer per request).
            async with asyncio.timeout(self._deadline_s):
                try:
                    for r in records:
                        # send() only enqueues (cancelling it un-queues the record); the future resolves on the
                        # broker's acks=all acknowledgement.
                        future = await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                        self._main.watch(producer, future)
                        futures.append(future)
                except KafkaError as exc:  # classified once, in kafka_faults; the message names only the class
                    raise self._refused(kafka_faults.on_enqueue(exc)) from None
                # wait() leaves the futures alone when the deadline cancels it: the records stay queued and may
                # still land.
                await asyncio.wait(futures)
        except TimeoutError:
            raise self._timed_out() from None
        finally:
            self._metrics.kafka_publish_seconds.observe(time.perf_counter() - started)
        self._check_delivered(self._main, producer, futures)

    async def publish_atomic(self, records: Sequence[OutRecord]) -> None:
        """Every record in one Kafka transaction, committed only once all are acknowledged.

        A 503 means nothing of it is visible to read_committed consumers, except after a deadline missed during
        the commit itself: then all of it may be (the message says so); a retry restates the same figures.
        """
        if not records:
            return
        started = time.perf_counter()
        try:
            try:
                async with asyncio.timeout(self._upload_deadline_s):
                    await self._upload_turn.acquire()
            except TimeoutError:
                msg = "another spend upload is being stored; retry the same upload"
                raise Overloaded(msg, cause="uploads_busy") from None
            try:
                producer = await self._txn.ensure()
                await self._transaction(producer, records)
            finally:
                self._upload_turn.release()
        finally:
            self._metrics.kafka_publish_seconds.observe(time.perf_counter() - started)

    async def _transaction(self, producer: Any, records: Sequence[OutRecord]) -> None:
        committing = False
        try:
            async with asyncio.timeout(self._upload_deadline_s):
                await producer.begin_transaction()
                futures: list[asyncio.Future[Any]] = []
                try:
                    for r in records:
                        future = await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                        self._txn.watch(producer, future)
                        futures.append(future)
                except KafkaError as exc:
                    # Refused before queueing: the records queued so far are delivered, then aborted.
                    fault = kafka_faults.on_enqueue(exc)
                    await self._abort(producer)
                    raise self._refused(fault) from None
                await asyncio.wait(futures)
                # A failed delivery already dropped the producer (watch); its replacement aborts the transaction.
                self._check_delivered(self._txn, producer, futures)
                committing = True
                await producer.commit_transaction()
        except Unavailable:
            raise
        except TimeoutError:
            # Not aborted here: an abort first waits for the queued records, which may be what is stuck; the
            # replacement's start ends the transaction instead (committed if the commit had reached Kafka).
            self._txn.poisoned(producer, kafka_faults.on_transaction(TimeoutError()))
            raise self._upload_timed_out(committing) from None
        except KafkaError as exc:  # begin or commit refused: the transaction's state is unknown
            fault = kafka_faults.on_transaction(exc)
            self._txn.poisoned(producer, fault)
            raise self._refused(fault) from None
        except BaseException as exc:
            # Cancelled (or aiokafka's state machine asserted): nothing may commit this transaction later.
            self._txn.poisoned(producer, kafka_faults.on_transaction(exc))
            raise

    async def _abort(self, producer: Any) -> None:
        try:
            await producer.abort_transaction()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever it was, the replacement's start ends the transaction
            self._txn.poisoned(producer, kafka_faults.on_transaction(exc))

    def _check_delivered(self, slot: ProducerSlot, producer: Any, futures: list[asyncio.Future[Any]]) -> None:
        for future in futures:
            if future.cancelled():  # only a producer being closed under us cancels its futures
                raise slot.recovering()
            failure = future.exception()
            if failure is not None:
                fault = kafka_faults.on_delivery(failure)
                slot.poisoned(producer, fault)  # done by `watch` already, unless its callback has not run yet
                raise self._refused(fault)

    def _timed_out(self) -> Unavailable:
        self._metrics.ambiguous_sends.inc()
        return Unavailable(f"Kafka did not acknowledge within {self._deadline_s}s", cause=kafka_faults.KAFKA_TIMEOUT)

    def _upload_timed_out(self, committing: bool) -> Unavailable:
        if committing:
            self._metrics.ambiguous_sends.inc()
            outcome = "the commit was under way, so all of the upload may be stored (none of it, otherwise)"
        else:
            outcome = "nothing of the upload was committed"
        return Unavailable(
            f"Kafka did not commit the upload within {self._upload_deadline_s}s; {outcome}",
            cause=kafka_faults.KAFKA_TIMEOUT,
        )

    @staticmethod
    def _refused(fault: Fault) -> Unavailable:
        return Unavailable(f"Kafka refused the batch: {fault.kind}", cause=fault.cause)

    async def is_healthy(self) -> bool:
        producer = self._main.current
        if producer is None:
            return False
        try:
            async with asyncio.timeout(1.0):
                return bool(await producer.client.fetch_all_metadata())
        except (TimeoutError, KafkaError, OSError):
            return False

    async def stop(self) -> None:
        await self._txn.stop()
        await self._main.stop()
