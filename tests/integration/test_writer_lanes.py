"""The writer's lanes on the real embedded engine: two clients of one database insert at the same time, every
row lands once, and a token written on one lane drops the same block sent again on the other (a replay after a
flush failed may put a partition on another lane than its first run did)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from stream.store import connect
from stream.writer import ClickHouseWriter

pytestmark = pytest.mark.integration


async def test_two_lanes_write_at_once_and_share_the_dedup_tokens(clickhouse, chdb_path) -> None:  # type: ignore[no-untyped-def]
    clickhouse.command("CREATE TABLE lanes_t (lane UInt8, n UInt32) ENGINE = MergeTree ORDER BY (lane, n) "
                       "SETTINGS non_replicated_deduplication_window = 1000")
    second = connect(f"chdb://{chdb_path}", clickhouse.test_database)
    writer = ClickHouseWriter(clickhouse, [second])
    threads: dict[int, set[str]] = {0: set(), 1: set()}
    original = writer._insert

    def insert(client: Any, *args: Any) -> None:
        threads[0 if client is clickhouse else 1].add(threading.current_thread().name)
        original(client, *args)

    writer._insert = insert  # type: ignore[method-assign]
    try:
        blocks = [(lane, b) for b in range(10) for lane in (0, 1)]
        await asyncio.gather(*(
            writer.insert("lanes_t", ("lane", "n"), [(lane, b * 100 + i) for i in range(100)], f"l{lane}:{b}",
                          lane=lane)
            for lane, b in blocks
        ))
        # Each lane is one thread of its own, and each client was used by its lane's thread only.
        assert len(threads[0]) == len(threads[1]) == 1 and threads[0] != threads[1]
        # The blocks of lane 0 again, on lane 1 with the same tokens: dropped.
        await asyncio.gather(*(
            writer.insert("lanes_t", ("lane", "n"), [(0, b * 100 + i) for i in range(100)], f"l0:{b}", lane=1)
            for b in range(10)
        ))
        rows = await writer.query("SELECT lane, count(), uniqExact(n) FROM lanes_t GROUP BY lane ORDER BY lane")
        assert rows == [(0, 1000, 1000), (1, 1000, 1000)]
    finally:
        writer.close()
        second.close()
