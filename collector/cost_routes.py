"""Spend ingestion: `POST /v1/costs` with JSON rows or a CSV file, authenticated by an app's admin key.

An upload is all or nothing: if any row has a problem, the answer is 422 listing every problem by row and
field, and nothing is stored (a half-applied restatement would be worse than none). Accepted rows travel
through Kafka like events (type `ad_spend`) and the processor writes them to `ad_spend`, where a later row with
the same (date, channel, campaign, creative, source) replaces the earlier one.

All or nothing in Kafka, too: an upload is ONE record, so the broker stores all of it or none of it, and a 503
means nothing of it was stored (or, after a missed deadline, possibly all of it: the retry then restates the
same figures, which is harmless). An upload whose record would not fit one produce request is a 413 asking to
split it. Not a Kafka transaction: the processor reads with aiokafka's default `read_uncommitted`, so aborted
records would still be read, and aiokafka's transactional producer has open race bugs (#1098, #1004).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time
from typing import Any

import orjson
from fastapi import APIRouter, Request

from collector.auth import admin_key_from_headers
from collector.costs import CostRow, parse_csv, parse_rows
from collector.deps import StateDep, read_bounded
from collector.errors import InvalidCosts, MalformedBody, PayloadTooLarge
from collector.responses import JsonResponse
from collector.routing import MAX_RECORD_VALUE_BYTES, route_events
from schemas.events import format_decimal, format_timestamp

router = APIRouter()
MAX_COST_BYTES = 5_000_000



@router.post(
    "/v1/costs",
    summary="Upload spend rows (JSON or CSV)",
    description=(
        "Authenticate with an app's admin key (`X-Admin-Key` or `Authorization: Bearer`). JSON: "
        '`{"rows": [{"date": "2026-11-01", "channel": "tencent_ads", "campaign": "c1", "creative": "", '
        '"spend": "1200.50", "currency": "CNY", "source": "tencent_ads"}]}`; CSV with a header line '
        "(`Content-Type: text/csv`). Sending the same (date, channel, campaign, creative, source) again replaces "
        "the earlier figure."
    ),
    responses={
        401: {"description": "Missing or unknown admin key"},
        413: {"description": "Body over 5 MB, or more rows than fit one Kafka record: split the upload"},
        422: {"description": "Problems by row; nothing stored"},
        503: {"description": "Nothing stored: retry the same upload after Retry-After"},
    },
)
async def post_costs(request: Request, state: StateDep) -> JsonResponse:
    async with state.admission.slot():
        return await _upload(request, state)


async def _upload(request: Request, state: StateDep) -> JsonResponse:
    app = state.keys.current().app_for_admin(admin_key_from_headers(request.headers))
    body = await read_bounded(request, MAX_COST_BYTES)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    kwargs: dict[str, Any] = {"reporting_currency": app.reporting_currency, "fx": state.fx}
    if content_type in ("text/csv", "application/csv"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            msg = "the CSV is not UTF-8"
            raise MalformedBody(msg) from None
        rows, problems = parse_csv(text, default_source="csv", **kwargs)
    else:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            msg = f"the body is not valid JSON: {exc}"
            raise MalformedBody(msg) from None
        raw = doc.get("rows") if isinstance(doc, dict) else doc
        if not isinstance(raw, list):
            msg = 'send {"rows": [...]} or a CSV file with Content-Type: text/csv'
            raise MalformedBody(msg)
        rows, problems = parse_rows(raw, **kwargs)
    if problems:
        listed = [{"row": p.row, "field": p.field, "message": p.message} for p in problems[:200]]
        msg = f"{len(problems)} problem(s) in the upload; nothing was stored"
        raise InvalidCosts(msg, listed)
    received_at = state.clock()
    events = [spend_event(app.app_id, row, received_at, i) for i, row in enumerate(rows)]
    if events:
        # One app, never split: exactly one record (see the module docstring).
        (record,) = route_events(events, state.settings.kafka_events_topic, max_record_bytes=sys.maxsize)
        if len(record.value) > MAX_RECORD_VALUE_BYTES:
            fits = max(1, len(events) * MAX_RECORD_VALUE_BYTES // len(record.value))
            msg = (
                f"{len(events)} spend rows make a {len(record.value)}-byte Kafka record; at most "
                f"{MAX_RECORD_VALUE_BYTES} bytes, so that an upload is stored whole or not at all: split it into "
                f"uploads of at most about {fits} rows"
            )
            raise PayloadTooLarge(msg)
        await state.publish([record])
    return JsonResponse({"accepted": len(events)})


def spend_event(app_id: str, row: CostRow, received_at: datetime, index: int) -> dict[str, Any]:
    day = format_timestamp(datetime.combine(row.date, time(0), tzinfo=UTC))
    key = f"{row.date.isoformat()}|{row.channel}|{row.campaign}|{row.creative}|{row.source}"
    stamp = format_timestamp(received_at)
    return {
        # Unique per upload: a restatement is a new event, and the newest one wins in ad_spend.
        "event_id": f"spend:{stamp}:{index}",
        "type": "ad_spend",
        "app_id": app_id,
        "anonymous_id": "",
        "timestamp": day,
        "sent_at": None,
        "received_at": stamp,
        "event_time": day,
        "context": {},
        "properties": {
            "key": key,
            "date": row.date.isoformat(),
            "channel": row.channel,
            "campaign": row.campaign,
            "creative": row.creative,
            "source": row.source,
            "spend": format_decimal(row.spend),
            "currency": row.currency,
            "spend_reporting": format_decimal(row.spend_reporting),
            "reporting_currency": row.reporting_currency,
            "fx_rate": format_decimal(row.fx_rate),
        },
    }
