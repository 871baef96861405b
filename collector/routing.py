"""Where accepted events go in Kafka: the message layout, decided as a pure function.

Layout (documented in README.md, "Kafka message layout"): the accepted events of one request travel as ONE
Kafka record (split only past `max_record_bytes`), key `app_id`, value a JSON array of enriched events in the
order they were sent. Keying by app puts every event of one app, hence of each of its users, in one partition
in order, which is what identity stitching needs: a person's devices, openid, unionid and login can only be
joined by the processor that sees all of them. The per-record produce cost (several µs in aiokafka) is paid
once per request instead of once per event. Scale-out is across apps (see README). Rejected events go to the
dead-letter topic, one record per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from collector.ingest import Rejection, RequestContext

RECORD_FORMAT_HEADER = ("format", b"events-json-array/1")
# The producer's max_request_size, and the broker's default message.max.bytes (1 MiB + 12).
MAX_KAFKA_REQUEST_BYTES = 1_048_576
# The largest value one record may carry so that it fits a request with its key, headers and batch framing.
MAX_RECORD_VALUE_BYTES = 1_000_000
DEADLETTER_FORMAT_HEADER = ("format", b"deadletter-json/1")


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    event_count: int


def route_events(
    events: Iterable[dict[str, Any]], topic: str, max_record_bytes: int = 256_000
) -> list[OutRecord]:
    groups: dict[bytes, list[bytes]] = {}
    for event in events:
        groups.setdefault(event["app_id"].encode(), []).append(orjson.dumps(event))
    records: list[OutRecord] = []
    for key, encoded in groups.items():
        records.extend(_split(topic, key, encoded, RECORD_FORMAT_HEADER, max_record_bytes))
    return records


def _split(
    topic: str, key: bytes, encoded: list[bytes], header: tuple[str, bytes], max_record_bytes: int
) -> list[OutRecord]:
    """JSON arrays of pre-encoded items (no second serialisation pass), each under max_record_bytes."""
    records: list[OutRecord] = []
    chunk: list[bytes] = []
    size = 2
    for item in encoded:
        if chunk and size + len(item) + 1 > max_record_bytes:
            records.append(OutRecord(topic, key, b"[" + b",".join(chunk) + b"]", (header,), len(chunk)))
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        records.append(OutRecord(topic, key, b"[" + b",".join(chunk) + b"]", (header,), len(chunk)))
    return records


def route_rejections(
    rejections: list[Rejection], ctx: RequestContext, topic: str, source: str = "sdk",
    max_record_bytes: int = 256_000,
) -> list[OutRecord]:
    if not rejections:
        return []
    received = ctx.received_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    items = [
        {
            "app_id": ctx.app_id,
            "source": source,
            "received_at": received,
            "index": r.index,
            "code": r.code,
            "reason": r.reason,
            "payload": r.payload,
            "ip": ctx.ip,
            "user_agent": ctx.user_agent,
        }
        for r in rejections
    ]
    encoded = [orjson.dumps(item) for item in items]
    return _split(topic, ctx.app_id.encode(), encoded, DEADLETTER_FORMAT_HEADER, max_record_bytes)
