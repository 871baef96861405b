"""What a platform's answer means, and when to try again: pure (docs/postbacks.md, "Outcomes").

success: HTTP 2xx and the platform's `code` 0. retriable: no answer (network error, timeout), 5xx, 429,
Tencent's system codes 30000-30099 and its token and rate-limit codes 11000-11020 (a token fixed by the
operator, or a limit that clears, lets the conversion through later). Everything else is permanent: `failed`
with the platform's message, never retried by the worker (`touchstream postbacks retry` re-queues it).
A redirect is never followed: it is permanent too, the platforms do not redirect their APIs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import orjson

Kind = Literal["success", "retriable", "failed"]
SYSTEM_CODES = range(30_000, 30_100)
TOKEN_AND_RATE_CODES = range(11_000, 11_021)
MAX_MESSAGE = 500
MAX_DELAY = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    http_status: int  # 0: no answer
    code: int | None  # the platform's `code`, when its body had one
    message: str
    retry_after: timedelta | None = None  # what a 429 asked for


def judge(status: int, body: bytes, headers: dict[str, str], now: datetime) -> Outcome:
    """One HTTP answer. `headers` with lower-case names."""
    code, message = _code_and_message(body)
    if 300 <= status < 400:
        return Outcome("failed", status, code, f"redirect to {headers.get('location', '?')[:200]} not followed")
    if status == 429:
        return Outcome("retriable", status, code, message or "rate limited", _retry_after(headers, now))
    if status >= 500:
        return Outcome("retriable", status, code, message or f"HTTP {status}")
    if status >= 400 or status < 200:
        return Outcome("failed", status, code, message or f"HTTP {status}")
    if code is None:
        return Outcome("failed", status, None, "2xx without a JSON code: not known to be accepted")
    if code == 0:
        return Outcome("success", status, 0, message)
    if code in SYSTEM_CODES or code in TOKEN_AND_RATE_CODES:
        return Outcome("retriable", status, code, message or f"code {code}")
    return Outcome("failed", status, code, message or f"code {code}")


def no_answer(error: str) -> Outcome:
    return Outcome("retriable", 0, None, error[:MAX_MESSAGE])


def _code_and_message(body: bytes) -> tuple[int | None, str]:
    try:
        doc: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None, body[:MAX_MESSAGE].decode("utf-8", "replace")
    if not isinstance(doc, dict):
        return None, ""
    code = doc.get("code", doc.get("ret"))  # some Ocean Engine answers say `ret`
    message = doc.get("message") or doc.get("msg") or ""
    return (code if isinstance(code, int) and not isinstance(code, bool) else None), str(message)[:MAX_MESSAGE]


def _retry_after(headers: dict[str, str], now: datetime) -> timedelta | None:
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_DELAY)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when - now, timedelta(0)), MAX_DELAY) if when.tzinfo else None


def next_delay(failures: int, initial: timedelta, rng: random.Random, asked: timedelta | None = None) -> timedelta:
    """Exponential back-off with full jitter, capped at 10 minutes; a 429's Retry-After is a floor."""
    ceiling = min(initial * (1 << max(0, min(failures - 1, 30))), MAX_DELAY)
    delay = ceiling * rng.random()
    return min(max(delay, asked), MAX_DELAY) if asked is not None else delay


def expired(first_attempt: datetime, now: datetime) -> bool:
    """Retriable failures go on for 24 hours from the first attempt; then the intent is `dead`."""
    return now - first_attempt >= GIVE_UP_AFTER
