"""The postback tables, read and written by the stream processor for the worker (the I/O half of the store).

chDB allows one process per data folder, and the processor owns it; so the worker never opens ClickHouse: it
asks the processor's HTTP side (stream/postbacks/routes.py), which runs these on its query thread. With a
ClickHouse server it is the same path, so the worker works unchanged whichever CLICKHOUSE_URL is set.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

TERMINAL = ("success", "failed", "dead", "cancelled", "unknown")
STATUSES = ("pending", "sending", "retriable", "requeued", *TERMINAL)
ATTEMPT_COLUMNS = (
    "app_id", "intent_id", "seq", "attempt", "integration_id", "platform", "status", "http_status", "code",
    "message", "latency_ms", "at", "next_attempt_at",
)
DUE_COLUMNS = (
    "app_id", "intent_id", "integration_id", "platform", "mode", "action_type", "conversion_id",
    "conversion_time", "click_id", "callback", "openid", "unionid", "revenue", "currency", "value_fen", "state",
    "status", "last_seq", "sends", "sendings", "first_attempt_at",
)
_TERMINAL_SQL = "(" + ", ".join(f"'{s}'" for s in TERMINAL) + ")"


def due(client: Any, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Intents the worker has work for: never tried, left `sending` by a crash, retriable and due, re-queued."""
    result = client.query(
        f"SELECT {', '.join(DUE_COLUMNS)} FROM postbacks_current WHERE status NOT IN {_TERMINAL_SQL} "
        "AND (status != 'retriable' OR next_attempt_at <= {now:DateTime64(3, 'UTC')}) "
        "ORDER BY decided_at, intent_id LIMIT {n:UInt32}",
        parameters={"now": _naive(now), "n": limit},
    )
    return [dict(zip(DUE_COLUMNS, row, strict=True)) for row in result.result_rows]


def record(client: Any, rows: list[dict[str, Any]]) -> int:
    """Attempt rows; the same rows posted twice (a retried request) write nothing new (token and key)."""
    if not rows:
        return 0
    data = []
    for r in rows:
        if r["status"] not in STATUSES or r["status"] == "pending":
            msg = f"unknown attempt status {r['status']!r}"
            raise ValueError(msg)
        data.append([
            str(r["app_id"]), str(r["intent_id"]), int(r["seq"]), int(r["attempt"]), str(r["integration_id"]),
            str(r["platform"]), str(r["status"]), int(r.get("http_status") or 0),
            None if r.get("code") is None else int(r["code"]), str(r.get("message") or "")[:500],
            float(r.get("latency_ms") or 0.0), _when(r["at"]),
            None if not r.get("next_attempt_at") else _when(r["next_attempt_at"]),
        ])
    keys = "|".join(f"{r[0]}:{r[1]}:{r[2]}" for r in data)
    token = "postbacks:" + hashlib.sha256(keys.encode()).hexdigest()
    client.insert("postback_attempts", data, column_names=list(ATTEMPT_COLUMNS),
                  settings={"insert_deduplicate": 1, "insert_deduplication_token": token})
    return len(data)


def requeue(client: Any, statuses: tuple[str, ...], since: date, now: datetime) -> int:
    """`touchstream postbacks retry`: failed (or dead) intents since `since` go back to the worker, each once
    per call. A success is never re-queued: it is never sent again."""
    wanted = [s for s in statuses if s in ("failed", "dead")]
    if not wanted:
        return 0
    result = client.query(
        "SELECT app_id, intent_id, last_seq, sends, integration_id, platform FROM postbacks_current "
        "WHERE status IN {s:Array(String)} AND status_at >= {since:DateTime64(3, 'UTC')}",
        parameters={"s": wanted, "since": _naive(datetime(since.year, since.month, since.day, tzinfo=UTC))},
    )
    rows = [
        {"app_id": a, "intent_id": i, "seq": seq + 1, "attempt": sends, "integration_id": g, "platform": p,
         "status": "requeued", "message": f"re-queued by an operator at {now.isoformat()}", "at": now}
        for a, i, seq, sends, g, p in result.result_rows
    ]
    return record(client, rows)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Times as ISO-8601 UTC, amounts as exact decimal text."""
    return {k: (_when(v).isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v)
            for k, v in row.items()}


def _when(value: datetime | str) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
