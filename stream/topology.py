"""The events topic's partition count, pinned: versions are positions within a partition (stream.processor).

At its first start the processor records how many partitions the events topic has; afterwards it refuses to
start, or stops, when the topic has another count. Moving to more partitions means a new topic replayed into an
empty database (docs/attribution.md, "Partitions"); silently continuing would let old versions win.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from runtime.errors import StartupError


def partition_problem(topic: str, recorded: int | None, current: int) -> str | None:
    """The one-line reason to refuse, or None when the stored versions and the topic agree."""
    if recorded is None or recorded == current:
        return None
    return (
        f"{topic} has {current} partitions but the rows in ClickHouse were versioned with {recorded}: "
        "versions are per-partition offsets, so a different count would let old rows win; replay into a new "
        "database or restore the partition count (docs/attribution.md, Partitions)"
    )


def grown_problem(topic: str, pinned: int, partition: int, known: int) -> str | None:
    """A partition at or past the pinned count was assigned: the topic grew while the processor ran."""
    if partition < pinned:
        return None
    return partition_problem(topic, pinned, max(known, partition + 1))


async def topic_partitions(bootstrap: str, topic: str, timeout_s: float = 15.0) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        described = await asyncio.wait_for(admin.describe_topics([topic]), timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        msg = f"cannot read the partitions of {topic} from Kafka at {bootstrap} ({type(exc).__name__})"
        raise StartupError(msg) from None
    finally:
        await admin.close()
    partitions = [p for t in described if t["topic"] == topic for p in t["partitions"]]
    if not partitions:
        msg = f"the topic {topic} has no partitions on Kafka at {bootstrap}"
        raise StartupError(msg)
    return len(partitions)


def recorded_partitions(client: Any, topic: str) -> int | None:
    rows = client.query(
        "SELECT argMax(partitions, recorded_at) FROM stream_topology WHERE topic = {t:String} HAVING count() > 0",
        parameters={"t": topic},
    ).result_rows
    return int(rows[0][0]) if rows else None


def pin_partitions(client: Any, topic: str, current: int) -> int:
    """Record the count at the first start; raise StartupError (one line) if it changed since. Returns it."""
    recorded = recorded_partitions(client, topic)
    problem = partition_problem(topic, recorded, current)
    if problem is not None:
        raise StartupError(problem)
    if recorded is None:
        client.insert("stream_topology", [[topic, current]], column_names=["topic", "partitions"])
    return current
