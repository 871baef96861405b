"""What the worker does with each due intent, and the attempt rows it records: pure (docs/postbacks.md).

- never tried, retriable and due, or re-queued: send (after recording `sending`);
- cancelled (the conversion was tombstoned) and never sent: record `cancelled`, send nothing;
- left `sending` by a crash (the send may have reached the platform, its outcome was not recorded):
  Ocean Engine has no dedup key, so it is never resent: `unknown`. Tencent dedups on `outer_action_id` (the
  intent id): it is resent once; left `sending` a second time, it is `unknown` too. So Tencent receives an
  intent at most twice (with the same `outer_action_id`), Ocean Engine at most once;
- retriable for 24 hours since the first attempt: `dead`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from stream.postbacks.intent import Pending
from stream.postbacks.outcome import Outcome, expired

Action = Literal["send", "cancel", "unknown", "dead"]


@dataclass(frozen=True, slots=True)
class Due:
    """A row of POST /v1/postbacks/due."""

    pending: Pending
    state: str
    status: str
    last_seq: int
    sends: int
    sendings: int
    first_attempt_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Due:
        pending = Pending(
            row["app_id"], row["intent_id"], row["integration_id"], row["platform"], row["mode"],
            row["action_type"], datetime.fromisoformat(row["conversion_time"]), row["click_id"], row["callback"],
            row["openid"], row["unionid"], Decimal(row["revenue"]), row["currency"], row["value_fen"],
        )
        first = row.get("first_attempt_at")
        return cls(pending, row["state"], row["status"], int(row["last_seq"] or 0), int(row["sends"] or 0),
                   int(row["sendings"] or 0), datetime.fromisoformat(first) if first else None)


def action_for(due: Due, now: datetime) -> Action:
    if due.status == "sending":
        # The newest row is a send whose outcome was never recorded (a crash: one worker runs at a time).
        if due.pending.platform != "tencent_ads" or due.sendings >= 2:
            return "unknown"
        return "send"
    if due.state == "cancelled":
        return "cancel"
    if due.status == "retriable" and due.first_attempt_at is not None and expired(due.first_attempt_at, now):
        return "dead"
    return "send"


def row(due: Due, seq: int, status: str, now: datetime, **fields: Any) -> dict[str, Any]:
    p = due.pending
    return {
        "app_id": p.app_id, "intent_id": p.intent_id, "seq": seq, "attempt": fields.pop("attempt", due.sends),
        "integration_id": p.integration_id, "platform": p.platform, "status": status, "at": now.isoformat(),
        **fields,
    }


def without_send(due: Due, action: Action, now: datetime) -> dict[str, Any]:
    message = {
        "cancel": "the conversion was withdrawn before it was sent",
        "unknown": "a crash between send and record: not resent" + (
            " (Ocean Engine has no dedup key)" if due.pending.platform != "tencent_ads" else " a second time"),
        "dead": "retried for 24 hours without success",
    }[action]
    status = {"cancel": "cancelled", "unknown": "unknown", "dead": "dead"}[action]
    return row(due, due.last_seq + 1, status, now, message=message)


def sending(due: Due, now: datetime) -> dict[str, Any]:
    return row(due, due.last_seq + 1, "sending", now, attempt=due.sends + 1)


def not_sent(due: Due, now: datetime) -> dict[str, Any]:
    """After a `sending` record the store did not confirm: nothing went out, try again at once."""
    return row(due, due.last_seq + 2, "retriable", now, attempt=due.sends,
               message="not sent: the store did not confirm the sending record", next_attempt_at=now.isoformat())


def refused(due: Due, now: datetime, reason: str) -> dict[str, Any]:
    return row(due, due.last_seq + 1, "failed", now, message=reason[:500])


def outcome_row(
    due: Due, outcome: Outcome, latency_ms: float, now: datetime, retry_in: timedelta | None
) -> dict[str, Any]:
    status = outcome.kind
    next_at = (now + retry_in).isoformat() if status == "retriable" and retry_in is not None else None
    return row(due, due.last_seq + 2, status, now, attempt=due.sends + 1, http_status=outcome.http_status,
               code=outcome.code, message=outcome.message[:500], latency_ms=round(latency_ms, 3),
               next_attempt_at=next_at)


class TokenBucket:
    """Requests per integration below the platform's limit: `rate_per_minute`, bursts of up to a second's worth."""

    def __init__(self, rate_per_minute: float, now: float) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.tokens = self.capacity
        self.at = now

    def wait(self, now: float) -> float:
        """Seconds to wait before the next request (0: go now, and it is taken)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate
