"""The floor consumer: what any processor on this stack must do per event, and nothing else.

    python -m loadtests.floor_consumer '<json spec>'   → one JSON object on stdout

Polls the pre-filled topic (aiokafka `getmany`, as stream/consumer.py does), decodes each record
(`orjson.loads`), maps every event to its `events` row (stream/rows.py `event_row`) and inserts the rows of each
poll through the project's writer (stream/writer.py, the same column encoding and insert) into chDB in a temp
folder whose tables come from the project's migrations (stream/store.py `migrate`). No dedup, identity,
attribution, other tables or checkpoints. Stops after `events` events; CPU seconds are this process's (all
threads, chDB's included) from the first poll that returned records to the last insert.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from stream.rows import EVENT_COLUMNS, event_row
from stream.store import connect, migrate
from stream.writer import ClickHouseWriter

MAX_POLLS = 1_000_000  # hard bound on the poll loop


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    client = connect(f"chdb://{spec['db_dir']}", "touchstream")
    migrate(client)
    writer = ClickHouseWriter(client)
    consumer = AIOKafkaConsumer(
        spec["topic"], bootstrap_servers=spec["bootstrap"], group_id=spec["group"], auto_offset_reset="earliest",
        enable_auto_commit=False, isolation_level="read_committed", max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    wanted, events, polls = int(spec["events"]), 0, 0
    cpu0 = wall0 = 0.0
    deadline = time.monotonic() + float(spec.get("timeout_s", 300))
    try:
        for _ in range(MAX_POLLS):
            if events >= wanted or time.monotonic() > deadline:
                break
            batches = await consumer.getmany(timeout_ms=100, max_records=10_000)
            if not batches:
                continue
            if not polls:
                cpu0, wall0 = time.process_time(), time.monotonic()
            polls += 1
            for tp, records in batches.items():
                rows = [event_row(event, tp.partition, record.offset)
                        for record in records for event in orjson.loads(record.value)]
                token = f"floor:{tp.partition}:{records[0].offset}-{records[-1].offset}:events"
                await writer.insert("events", EVENT_COLUMNS, rows, token)
                events += len(rows)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    finally:
        await consumer.stop()
        writer.close()
    stored = int(client.query("SELECT count() FROM events").result_rows[0][0])
    return {"events": events, "rows": stored, "polls": polls, "cpu_s": cpu, "wall_s": wall,
            "events_per_cpu_s": events / cpu if cpu > 0 else float("nan")}


def main() -> int:
    out = asyncio.run(run(orjson.loads(sys.argv[1])))
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    return 0 if out["events"] >= out["rows"] > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
