"""Every collector replica's view of the compacted privacy topic, and the dispatcher of due requests.

The feed reads the whole topic at start (the lifespan waits for it, so a restarted replica never admits an
event of a suppressed id) and then tails it: a suppression published by the processor reaches every replica
within one poll (`POLL_MS`) of being acknowledged. Requests submitted to any replica are pending for the grace
period (`collector_privacy_grace_s`: the time to cancel), then every replica that sees one due dispatches it:
a command record on the events topic, keyed by its app, then the request marked `running` without its raw
subjects. Two replicas may dispatch one request: the processor runs a request once (stream/privacy_exec.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, Final, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from prometheus_client import CollectorRegistry, Counter

from collector.privacy import command_of, iso, without_subjects
from collector.routing import OutRecord
from schemas.privacy_topic import PRIVACY_DOC_FORMAT, RequestDoc, decode_doc, encode_doc, request_key
from schemas.records import FORMAT_HEADER, encode_privacy_command

log = logging.getLogger(__name__)
POLL_MS: Final = 200
DOC_HEADERS: Final = ((FORMAT_HEADER, PRIVACY_DOC_FORMAT),)
# Compaction keeps the newest document per key; a superseded one (a pending request's raw subjects) is gone
# within max.compaction.lag.ms of being superseded.
TOPIC_CONFIGS: Final = {"cleanup.policy": "compact", "max.compaction.lag.ms": "86400000", "segment.ms": "3600000"}


class PrivacyView:
    """Requests by (app, request id) and suppressed id hashes per app, as the topic says."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], RequestDoc] = {}
        self._suppressed: dict[str, dict[str, set[str]]] = {}  # app -> id hash -> suppress request ids

    def apply(self, doc: dict[str, Any]) -> None:
        app = str(doc.get("app_id", ""))
        if doc["kind"] == "request":
            self.requests[(app, str(doc["request_id"]))] = cast("RequestDoc", doc)
            return
        by_hash = self._suppressed.setdefault(app, {})
        owners = by_hash.setdefault(str(doc["id_hash"]), set())
        if doc.get("suppressed"):
            owners.add(str(doc["request_id"]))
        else:
            owners.discard(str(doc["request_id"]))
            if not owners:
                del by_hash[str(doc["id_hash"])]

    def suppressed(self, app_id: str) -> AbstractSet[str]:
        return self._suppressed.get(app_id, {}).keys()

    def due(self, now_iso: str) -> list[RequestDoc]:
        # ISO-8601 UTC with milliseconds and Z: text order is time order.
        return [d for d in self.requests.values() if d["status"] == "pending" and d["due_at"] <= now_iso]


class PrivacyFeed:
    def __init__(
        self, bootstrap: str, topic: str, events_topic: str, registry: CollectorRegistry,
        publish: Callable[[Sequence[OutRecord]], Awaitable[None]], now_iso: Callable[[], str],
        replication_factor: int = 1,
    ) -> None:
        self._replication_factor = replication_factor
        self.view = PrivacyView()
        self.topic, self._events_topic, self._bootstrap = topic, events_topic, bootstrap
        self._publish, self._now_iso = publish, now_iso
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._dispatched: set[tuple[str, str]] = set()
        self.ready = False
        self.suppressed_events = Counter(
            "touchstream_collector_events_suppressed",
            "Events accepted and dropped because they carry a suppressed id (docs/privacy.md)", ["app_id"],
            registry=registry,
        )

    def doc_record(self, doc: RequestDoc) -> OutRecord:
        return OutRecord(self.topic, request_key(doc["app_id"], doc["request_id"]), encode_doc(doc), DOC_HEADERS, 0)

    async def start(self, timeout_s: float = 30.0) -> None:
        partitions = await ensure_privacy_topic(self._bootstrap, self.topic, self._replication_factor)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False, group_id=None,
                                    client_id="touchstream-collector-privacy", metadata_max_age_ms=5_000)
        await consumer.start()
        self._consumer = consumer
        try:
            async with asyncio.timeout(timeout_s):
                await self._load(consumer, partitions)
        except BaseException:
            self._consumer = None
            await consumer.stop()
            raise
        self.ready = True
        self._task = asyncio.create_task(self._run())

    async def _load(self, consumer: AIOKafkaConsumer, partitions: list[int]) -> None:
        """Assign every partition and read it up to the end it had when we started."""
        tps = [TopicPartition(self.topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        for tp, end in ends.items():
            while await consumer.position(tp) < end:
                self._apply(await consumer.getmany(timeout_ms=POLL_MS))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def _apply(self, batches: dict[TopicPartition, list[Any]]) -> None:
        for messages in batches.values():
            for message in messages:
                doc = decode_doc(message.value)
                if doc is not None:
                    self.view.apply(doc)

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            try:
                self._apply(await consumer.getmany(timeout_ms=POLL_MS))
                await self.dispatch_due()
            except (KafkaError, OSError) as exc:  # the next round retries; a request stays pending meanwhile
                log.warning("privacy feed round failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def dispatch_due(self) -> None:
        for doc in self.view.due(self._now_iso()):
            key = (doc["app_id"], doc["request_id"])
            if key in self._dispatched:
                continue
            command = encode_privacy_command(command_of(doc), self._events_topic)
            running = without_subjects(doc, "running")
            await self._publish([command, self.doc_record(running)])
            self._dispatched.add(key)
            self.view.apply(dict(running))


async def ensure_privacy_topic(bootstrap: str, topic: str, replication_factor: int = 1) -> list[int]:
    """Create the compacted topic if missing; its partition ids (one, unless someone made it otherwise)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, 1, replication_factor, topic_configs=TOPIC_CONFIGS)])
        for _ in range(50):  # a topic created a moment ago may not be described yet
            described = await admin.describe_topics([topic])
            partitions = sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])
            if partitions:
                return partitions
            await asyncio.sleep(0.1)
        msg = f"the privacy topic {topic} has no partitions"
        raise KafkaError(msg)
    finally:
        await admin.close()


def now_iso(clock: Callable[[], datetime]) -> Callable[[], str]:
    return lambda: iso(clock())
