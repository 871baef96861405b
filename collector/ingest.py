"""The pure heart of the collector: a parsed batch in, accepted events and per-event rejections out.

Nothing here does I/O. The route hands over the raw events plus a `RequestContext` (transport facts and the
received-at time from the injected clock); only the result touches a sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from collector.body import BodyLimits, shape_problem
from collector.fast_ingest import FastBatch
from collector.pii import PiiHasher
from collector.revenue import MoneyRules, convert_money
from schemas.batch import parse_sent_at, strip_server_fields
from schemas.enrich import DEFAULT_CLOCK_SKEW_THRESHOLD, enrich, keep_device_order
from schemas.events import EVENT_ADAPTER
from schemas.fast_times import plain_time
from schemas.problems import explain

MAX_DEADLETTER_PAYLOAD = 4_096
_PII_KEYS = ("phone",)


@dataclass(frozen=True, slots=True)
class RequestContext:
    app_id: str
    received_at: datetime
    ip: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    code: str  # one of REJECTION_CODES: bounded, usable as a metric label
    reason: str  # for the developer: which field, what limit, what was sent
    payload: str  # the raw event, PII hashed, truncated to MAX_DEADLETTER_PAYLOAD characters


REJECTION_CODES = ("not_an_object", "too_large", "too_deep_or_long", "invalid", "no_exchange_rate")
_NO_CONVERSION = MoneyRules()  # CNY, no rates: an amount in another currency is rejected, never summed as CNY


@dataclass(slots=True)
class IngestResult:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def ingest(
    raw_events: list[Any],
    sent_at_raw: Any,
    ctx: RequestContext,
    limits: BodyLimits,
    hasher: PiiHasher,
    max_future_skew: timedelta = DEFAULT_CLOCK_SKEW_THRESHOLD,
    money: MoneyRules = _NO_CONVERSION,
    *,
    body_bytes: int | None = None,
) -> IngestResult:
    """`body_bytes`: the length of the (decompressed) body `raw_events` came from, if known (it lets the shortcut
    skip a size check that cannot fail)."""
    result = IngestResult()
    sent_at, sent_at_problem = _sent_at(sent_at_raw)
    fast = None if sent_at_problem else FastBatch.of(
        limits=limits, app_id=ctx.app_id, received_at=ctx.received_at, sent_at=sent_at, ip=ctx.ip,
        user_agent=ctx.user_agent, max_future_skew=max_future_skew, body_bytes=body_bytes,
    )
    # The shortcut gives the same record as the steps below for the events it is sure of, and None for the
    # rest, which take those steps (collector/fast_ingest.py).
    shortcut = fast.enrich_all(raw_events) if fast is not None else [None] * len(raw_events)
    for index, enriched in enumerate(shortcut):
        raw = raw_events[index]
        if enriched is not None:
            _accept(result, index, raw, enriched, hasher, money)
            continue
        problem = _check_raw(raw, limits, sent_at_problem)
        if problem is not None:
            code, reason = problem
            result.rejected.append(Rejection(index, code, reason, _dead_letter_payload(raw, hasher)))
            continue
        try:
            event = EVENT_ADAPTER.validate_python(strip_server_fields(raw))
        except ValidationError as exc:
            reason = explain(exc)  # names fields and limits, never echoes a phone number
            result.rejected.append(Rejection(index, "invalid", reason, _dead_letter_payload(raw, hasher)))
            continue
        enriched = enrich(
            event,
            app_id=ctx.app_id,
            received_at=ctx.received_at,
            sent_at=sent_at,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            max_future_skew=max_future_skew,
        )
        _accept(result, index, raw, enriched, hasher, money)
    keep_device_order(result.accepted)
    return result


def _accept(
    result: IngestResult, index: int, raw: Any, enriched: dict[str, Any], hasher: PiiHasher, money: MoneyRules
) -> None:
    """The steps after `enrich`: the money conversion (which may still reject) and the PII hashing."""
    money_problem = convert_money(enriched, money)
    if money_problem is not None:
        code, reason = money_problem
        result.rejected.append(Rejection(index, code, reason, _dead_letter_payload(raw, hasher)))
        return
    _hash_pii(enriched, hasher)
    result.accepted.append(enriched)


def _sent_at(raw: Any) -> tuple[datetime | None, str | None]:
    if raw is None:
        return None, None
    plain = plain_time(raw)  # the SDK's form, without pydantic (the same datetime)
    if plain is not None:
        return plain, None
    try:
        return parse_sent_at(raw), None
    except ValueError as exc:
        # A bad sent_at makes every event's time unknowable; reject them individually with the reason.
        return None, f"sent_at is invalid: {exc}"


def _check_raw(raw: Any, limits: BodyLimits, sent_at_problem: str | None) -> tuple[str, str] | None:
    if not isinstance(raw, dict):
        return "not_an_object", f"an event must be a JSON object, got {type(raw).__name__}"
    if sent_at_problem:
        return "invalid", sent_at_problem
    size = len(orjson.dumps(raw))
    if size > limits.max_event_bytes:
        return "too_large", f"the event is {size} bytes; at most {limits.max_event_bytes} per event"
    shape = shape_problem(raw, limits)
    if shape is not None:
        return "too_deep_or_long", f"the event is {shape}"
    return None


def _hash_pii(event: dict[str, Any], hasher: PiiHasher) -> None:
    for container in (event, event.get("traits"), event.get("properties")):
        if isinstance(container, dict):
            for key in _PII_KEYS:
                if key not in container:  # the common case: runs for every accepted event
                    continue
                value = container.pop(key)
                if isinstance(value, str) and value:
                    container[f"{key}_hash"] = hasher.phone(value)


def _dead_letter_payload(raw: Any, hasher: PiiHasher) -> str:
    """The raw event as sent, minus plain phone numbers (dead letters are stored too), truncated."""
    if isinstance(raw, dict):
        raw = dict(raw)
        for key in ("traits", "properties"):
            if isinstance(raw.get(key), dict):
                raw[key] = dict(raw[key])
        _hash_pii(raw, hasher)
    try:
        text = orjson.dumps(raw).decode()
    except TypeError:
        text = repr(raw)
    return text[:MAX_DEADLETTER_PAYLOAD]
