"""The peer: a Quix Streams last-touch job on the benchmark's pre-filled topic (issue 12, "Ahead of the peer").

    .venv/peer/bin/python loadtests/quix_peer.py '<json spec>'   → one JSON object on stdout

Runs in its own virtualenv (.venv/peer, made by `make bench-stream`): quixstreams 3.28 pins pydantic < 2.14
and pydantic-settings < 2.16, the project pins 2.14.3 and 2.16.3, so the two cannot share .venv. Nothing of the
project is imported here.

The job: each record (a JSON array of enriched events, as the collector writes it) is exploded into its events,
re-keyed by device (`anonymous_id`) through a repartition topic (`group_by`), the last touch per device (the
last `enter` or `click` with a channel) is kept in Quix's RocksDB state, and every purchase (`convert`,
`repurchase`) becomes one credit row (conversion event_id, device, channel, revenue) written to chDB by a
batching sink. It stops once it has seen `events` events after the repartition, flushes, counts the rows and
reports its process's CPU seconds (all threads: librdkafka's and RocksDB's included) from the first record.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson
from chdb import session as chdb_session
from quixstreams import Application  # type: ignore[import-not-found]  # only in .venv/peer (see above)
from quixstreams.sinks import BatchingSink, SinkBatch  # type: ignore[import-not-found]

PURCHASES = ("convert", "repurchase")
TOUCHES = ("enter", "click")
DDL = ("CREATE TABLE IF NOT EXISTS credits (event_id String, device String, channel LowCardinality(String), "
       "revenue Nullable(Decimal(18, 4))) ENGINE = MergeTree ORDER BY event_id")


def channel_of(event: dict[str, Any]) -> str:
    """The channel a launch names, as cheaply as a peer would read it: ad click id, campaign, UTM source, share."""
    context = event.get("context") or {}
    query = context.get("query") or {}
    if query.get("gdt_vid"):
        return "tencent_ads"
    campaign = context.get("campaign") or {}
    source = campaign.get("source") or query.get("utm_source")
    if source:
        return str(source)
    return "share" if context.get("share") else ""


class ChdbSink(BatchingSink):  # type: ignore[misc]  # quixstreams is not installed in the linted venv
    def __init__(self, db: Any) -> None:  # db: a chdb session
        super().__init__()
        self.db = db
        self.rows = 0

    def write(self, batch: SinkBatch) -> None:
        lines = b"\n".join(orjson.dumps(item.value) for item in batch)
        if lines:
            self.db.query("INSERT INTO credits FORMAT JSONEachRow\n" + lines.decode())
            self.rows += batch.size


def main() -> int:
    spec: dict[str, Any] = orjson.loads(sys.argv[1])
    session: Any = chdb_session.Session  # chdb is untyped
    db = session(spec["db_dir"])
    db.query(DDL)
    app = Application(
        broker_address=spec["bootstrap"], consumer_group=spec["group"], auto_offset_reset="earliest",
        state_dir=spec["state_dir"], loglevel="WARNING", commit_interval=1.0,
    )
    wanted = int(spec["events"])
    seen = {"events": 0, "purchases": 0}
    first: dict[str, float] = {}

    def explode(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not first:
            first["cpu"], first["wall"] = time.process_time(), time.monotonic()
        return value

    def last_touch(event: dict[str, Any], state: Any) -> dict[str, Any] | None:
        seen["events"] += 1
        if seen["events"] >= wanted:
            app.stop()  # the current message still reaches the sink; the final checkpoint flushes it
        kind = event["type"]
        if kind in TOUCHES:
            channel = channel_of(event)
            if channel:
                state.set("touch", channel)
            return None
        if kind not in PURCHASES:
            return None
        seen["purchases"] += 1
        revenue = (event.get("properties") or {}).get("revenue")
        return {"event_id": event["event_id"], "device": event.get("anonymous_id") or "",
                "channel": state.get("touch", "direct"), "revenue": str(revenue) if revenue is not None else None}

    topic = app.topic(spec["topic"], value_deserializer="json", key_deserializer="bytes")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(explode, expand=True)
    sdf = sdf.group_by(lambda event: event.get("anonymous_id") or "", name="by-device")
    sdf = sdf.apply(last_touch, stateful=True)
    sdf = sdf.filter(lambda row: row is not None)
    sink = ChdbSink(db)
    sdf.sink(sink)
    cpu0, wall0 = time.process_time(), time.monotonic()
    app.run(timeout=float(spec.get("idle_timeout_s", 60.0)))
    cpu1, wall1 = time.process_time(), time.monotonic()
    rows = int(db.query("SELECT count() FROM credits", "CSV").bytes().strip() or 0)
    cpu = cpu1 - first.get("cpu", cpu0)
    out = {
        "events": seen["events"], "purchases": seen["purchases"], "credit_rows": rows, "sink_rows": sink.rows,
        "cpu_s": cpu,
        "wall_s": wall1 - first.get("wall", wall0), "cpu_s_with_startup": cpu1 - cpu0,
        "events_per_cpu_s": seen["events"] / cpu if cpu > 0 else float("nan"),
    }
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    return 0 if seen["events"] >= wanted and rows == seen["purchases"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
