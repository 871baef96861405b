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
from operator import itemgetter
from typing import Any

import orjson

from collector.ingest import Rejection, RequestContext
from schemas.records import (
    EVENTS_HEADERS,
    MAX_KAFKA_REQUEST_BYTES,
    MAX_RECORD_BYTES,
    DeadLetter,
    OutRecord,
    encode_dead_letters,
    encode_events,
)

__all__ = ["MAX_KAFKA_REQUEST_BYTES", "OutRecord", "route_events", "route_rejections"]

_APP_ID = itemgetter("app_id")


def route_events(
    events: Iterable[Mapping[str, Any]], topic: str, max_record_bytes: int = MAX_RECORD_BYTES
) -> list[OutRecord]:
    """`schemas.records.encode_events`, with a shortcut for the common request: one app's events that fit one
    record are serialised in one `orjson.dumps` of the list, the same bytes as its "[" + ",".join + "]"."""
    items = events if isinstance(events, list) else list(events)
    try:
        app_ids = set(map(_APP_ID, items))
    except (KeyError, TypeError):  # not a plain record: encode_events says what is wrong with it
        app_ids = set()
    if len(app_ids) == 1:
        key = app_ids.pop().encode()
        value = orjson.dumps(items)
        # encode_events splits only when the array's length + 1 exceeds the bound (schemas.records._pack).
        if len(value) + 1 <= max_record_bytes or len(items) == 1:
            return [OutRecord(topic, key, value, EVENTS_HEADERS, len(items))]
    return encode_events(items, topic, max_record_bytes)


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
