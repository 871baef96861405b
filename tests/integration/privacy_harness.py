"""In-process parts for the privacy tests: a collector that reads the privacy topic, a processor with the
privacy writer, the admin calls, and snapshots of every table that holds personal data."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from collector.app import create_app
from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from collector.sinks import KafkaSink
from collector.state import CollectorState
from runtime.kafka_admin import ensure_topics
from stream.privacy_exec import PrivacyWriter
from stream.privacy_publisher import KafkaPublisher
from stream.topology import topic_partitions
from tests.integration.pipeline import KEYS

SECRET = "privacy-test-secret-0123456789"
ADMIN = {"shop": "ak_shop_0123456789", "news": "ak_news_0123456789"}
PERSON_TABLES = ("events", "duplicate_events", "bad_events", "identities", "touchpoints", "conversions",
                 "attribution_credits")


def write_apps_file(path: Path) -> Path:
    apps = [{"app_id": a, "write_keys": [KEYS[a]], "admin_keys": [ADMIN[a]]} for a in ("shop", "news")]
    path.write_bytes(orjson.dumps({"apps": apps}))
    return path


@dataclass
class Collector:
    http: httpx.AsyncClient
    state: CollectorState


@contextlib.asynccontextmanager
async def privacy_collector(
    bootstrap: str, topics: dict[str, str], apps_file: Path, grace_s: float = 0.0
) -> AsyncIterator[Collector]:
    settings = CollectorSettings(
        kafka_bootstrap_servers=bootstrap, kafka_events_topic=topics["KAFKA_EVENTS_TOPIC"],
        kafka_deadletter_topic=topics["KAFKA_DEADLETTER_TOPIC"], kafka_privacy_topic=topics["KAFKA_PRIVACY_TOPIC"],
        collector_apps_file=apps_file, pii_hash_secret=SECRET, collector_privacy_grace_s=grace_s,
    )
    await ensure_topics(bootstrap, settings.topic_specs())
    metrics = CollectorMetrics()
    sink = KafkaSink(bootstrap, metrics)
    await sink.start()
    app = create_app(settings, sink, metrics=metrics, create_topics=False, privacy=True)
    state: CollectorState = app.state.collector
    assert state.privacy is not None
    await state.privacy.start()  # what the lifespan does (ASGITransport runs no lifespan)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector") as client:
            yield Collector(client, state)
    finally:
        await state.privacy.stop()
        await sink.stop()


def privacy_writer(client: Any, bootstrap: str, topics: dict[str, str], **kwargs: Any) -> PrivacyWriter:
    publisher = KafkaPublisher(bootstrap)
    return PrivacyWriter(client, publisher, topics["KAFKA_PRIVACY_TOPIC"], SECRET.encode(), **kwargs)


async def submit(client: httpx.AsyncClient, app: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/privacy/requests", json=body, headers={"X-Admin-Key": ADMIN[app]})
    assert response.status_code == 202, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def status(client: httpx.AsyncClient, app: str, request_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/privacy/requests/{request_id}", headers={"Authorization": f"Bearer {ADMIN[app]}"})
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def wait_status(
    client: httpx.AsyncClient, app: str, request_id: str, want: str, timeout: float = 40
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    doc: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        doc = await status(client, app, request_id)
        if doc["status"] == want:
            return doc
        await asyncio.sleep(0.2)
    raise AssertionError(f"request {request_id} still {doc.get('status')!r} after {timeout}s, wanted {want!r}")


async def table_rows(writer: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of `table` (all versions), without the insert time (which a replay changes), sorted."""
    columns = [r[0] for r in await writer.query(f"SELECT name FROM system.columns WHERE database = currentDatabase() "
                                                f"AND table = '{table}' AND name != '_inserted_at' ORDER BY position")]
    rows = await writer.query(f"SELECT {', '.join(columns)} FROM {table}")
    return sorted(tuple(str(v) for v in row) for row in rows)


async def rewind_group(bootstrap: str, group: str, topic: str) -> None:
    """Commit offset 0 on every partition of `topic` for `group` (no member may be running)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(await topic_partitions(bootstrap, topic))]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in tps})
    finally:
        await consumer.stop()


async def commands_on(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The privacy command records on the events topic."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                                enable_auto_commit=False, consumer_timeout_ms=1000)
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        for messages in batches.values():
            for m in messages:
                if (("format", b"privacy-command/1") in list(m.headers or ())):
                    found.append(orjson.loads(m.value))
    finally:
        await consumer.stop()
    return found


async def caught_up(bootstrap: str, group: str, topic: str, timeout: float = 60) -> None:
    """Wait until `group` has committed the end of every partition of `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(await topic_partitions(bootstrap, topic))]
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            if all(committed.get(tp) is not None and committed[tp].offset >= ends[tp] for tp in tps):
                return
            await asyncio.sleep(0.3)
        raise AssertionError(f"group {group} did not catch up on {topic} in {timeout}s")
    finally:
        await admin.close()
        await consumer.stop()
