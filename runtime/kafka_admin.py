"""Creating the project's topics, and turning broker failures at start-up into one clear line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from runtime.errors import StartupError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int | None = None
    replication_factor: int = 1


async def ensure_topics(bootstrap: str, topics: Iterable[TopicSpec], timeout_s: float = 15.0) -> None:
    """Create missing topics; existing ones are left as they are (partition counts are never shrunk)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (TimeoutError, KafkaConnectionError, KafkaError, OSError) as exc:
        await _close_quietly(admin)
        msg = (
            f"cannot reach Kafka at {bootstrap} ({type(exc).__name__}): is the broker running "
            "(`make kafka-up`) and KAFKA_BOOTSTRAP_SERVERS right?"
        )
        raise StartupError(msg) from None
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name not in existing]
        if wanted:
            new = [
                NewTopic(
                    t.name,
                    t.partitions,
                    t.replication_factor,
                    topic_configs={"retention.ms": str(t.retention_ms)} if t.retention_ms else {},
                )
                for t in wanted
            ]
            # Another service may create the same topic between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            log.info("created topics", extra={"topics": [t.name for t in wanted]})
    except KafkaError as exc:
        msg = f"cannot create topics on Kafka at {bootstrap}: {type(exc).__name__}: {exc}"
        raise StartupError(msg) from None
    finally:
        await _close_quietly(admin)


async def _close_quietly(admin: AIOKafkaAdminClient) -> None:
    try:
        await admin.close()
    except Exception:
        log.debug("admin close failed", exc_info=True)
