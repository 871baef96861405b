"""Where accepted and rejected events go in Kafka: the collector's routing policy, decided as a pure function.

The record layout itself (headers, the 256 KB split, the typed records) is `schemas.records`, shared with the
stream processor; this module decides which topic and which key. The accepted events of one request travel as
ONE events record per app (split only past `MAX_RECORD_BYTES`), keyed by `app_id`. Keying by app puts every
event of one app, hence of each of its users, in one partition in order, which is what identity stitching
needs: a person's devices, openid, unionid and login can only be joined by the processor that sees all of them.
The per-record produce cost (several µs in aiokafka) is paid once per request instead of once per event.
Scale-out is across apps (see README). Rejected events go to the dead-letter topic, one record per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from collector.ingest import Rejection, RequestContext
from schemas.records import (
    MAX_KAFKA_REQUEST_BYTES,
    MAX_RECORD_BYTES,
    DeadLetter,
    OutRecord,
    encode_dead_letters,
    encode_events,
)

__all__ = ["MAX_KAFKA_REQUEST_BYTES", "OutRecord", "route_events", "route_rejections"]

def route_events(
    events: Iterable[Mapping[str, Any]], topic: str, max_record_bytes: int = MAX_RECORD_BYTES
) -> list[OutRecord]:
    return encode_events(events, topic, max_record_bytes)


def route_rejections(
    rejections: list[Rejection], ctx: RequestContext, topic: str, source: str = "sdk",
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> list[OutRecord]:
    if not rejections:
        return []
    received = ctx.received_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    items: list[DeadLetter] = [
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
    return encode_dead_letters(items, ctx.app_id, topic, max_record_bytes)
