"""Rejected refunds as `bad_events` rows: pure, like stream/rows.py (the engine says why, this says where)."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.records import DeadLetter
from stream.journeys.outputs import RefundRejection
from stream.rows import bad_event_row

REFUND_REJECTED = "refund_rejected"  # the bad_events code of a refund that was not applied
MAX_PAYLOAD = 4_096


def rejection_rows(rejections: list[RefundRejection], partition: int, offset: int) -> list[tuple[Any, ...]]:
    rows = []
    for rejection in rejections:
        event = rejection.event
        item: DeadLetter = {
            "app_id": str(event.get("app_id") or ""),
            "source": "sdk",
            "received_at": str(event["received_at"]),
            "code": REFUND_REJECTED,
            "reason": rejection.reason[:1000],
            "payload": orjson.dumps(event).decode()[:MAX_PAYLOAD],
            "ip": str(event.get("ip") or ""),
            "user_agent": str(event.get("user_agent") or ""),
        }
        rows.append(bad_event_row(item, "attribution", partition, offset))
    return rows
