"""HTTP routes: extract transport facts, call the pure ingest step, hand the result to the sink.

Handlers stay thin: everything that decides anything lives in `body`, `ingest` and `routing`.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.auth import App, write_key_from_headers
from collector.body import decompress, parse_batch
from collector.deps import StateDep, header_map, read_bounded, state_of
from collector.errors import CollectorError, OriginNotAllowed
from collector.ingest import Rejection, RequestContext, ingest
from collector.network import client_ip
from collector.privacy import split_suppressed
from collector.responses import JsonResponse
from collector.revenue import MoneyRules
from collector.routing import route_events, route_rejections
from collector.state import CollectorState
from schemas.records import OutRecord

router = APIRouter()

BATCH_PATH = "/v1/batch"  # also answered by collector/batch_lane.py, in front of FastAPI's routing

_CORS_HEADERS = "content-type, content-encoding, x-write-key, authorization"


BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not a JSON batch"},
    401: {"description": "Missing, unknown or revoked write key"},
    403: {"description": "Browser Origin not allowed for this app"},
    413: {"description": "Body, decompressed body or event count over the limit"},
    415: {"description": "Unsupported Content-Encoding"},
    503: {"description": "Not durably stored: retry after Retry-After seconds with the same event ids"},
}


@router.post(
    BATCH_PATH,
    responses=BATCH_RESPONSES,
    summary="Send a batch of SDK events",
    description=(
        "Body: `{\"sent_at\": ..., \"events\": [...]}` (see schemas/README.md), optionally gzip-encoded. "
        "Authenticate with the `X-Write-Key` header or HTTP Basic with the write key as user name. "
        "200 means every accepted event is durably in Kafka and every rejected one is in the dead-letter "
        "topic; the response lists rejected events by index with a reason."
    ),
)
async def post_batch(request: Request) -> JsonResponse:
    # The state is read here, not through the StateDep dependency: FastAPI's dependency solving is a
    # measurable part of a small request on the hottest route (the other routes keep StateDep).
    return await answer_batch(request, state_of(request))


async def answer_batch(request: Request, state: CollectorState) -> JsonResponse:
    """The batch route's answer; also called by collector/batch_lane.py, which holds the state itself."""
    started = time.perf_counter()
    status = 500
    try:
        response = await _handle_batch(request, state)
        status = response.status_code
        return response
    except CollectorError as exc:
        status = exc.status
        raise
    finally:
        metrics = state.metrics
        metrics.request_count(BATCH_PATH, str(status)).inc()
        metrics.request_time(BATCH_PATH).observe(time.perf_counter() - started)


async def _handle_batch(request: Request, state: CollectorState) -> JsonResponse:
    async with state.admission.slot():
        headers = header_map(request.scope)
        app = state.keys.current().app_for(write_key_from_headers(headers))
        origin = headers.get("origin")
        if origin is not None and origin not in app.cors_origins:
            msg = f"origin {origin!r} is not allowed for app {app.app_id!r}"
            raise OriginNotAllowed(msg)
        limit = state.limits.max_body_bytes  # the body goes straight in: no name here holds it across the publish
        records, accepted, rejected = _batch_records(request, state, app, headers, await read_bounded(request, limit))
        if records:
            await state.publish(records)

    state.metrics.accepted(app.app_id).inc(accepted)
    for rejection in rejected:
        state.metrics.rejected(rejection.code).inc()
    payload = {
        "accepted": accepted,
        "rejected": [{"index": r.index, "code": r.code, "reason": r.reason} for r in rejected],
    }
    return JsonResponse(payload, headers=_cors_headers(origin, app))


def _batch_records(
    request: Request, state: CollectorState, app: App, headers: dict[str, str], raw: bytes
) -> tuple[list[OutRecord], int, list[Rejection]]:
    """The request's Kafka records, the number of events accepted, and the rejections.

    A function of its own so that the events as dicts (parsed, validated, enriched) are freed when it returns,
    while still in the CPU's caches, not after the wait for Kafka, when other requests have run (measured: ~2 µs
    an event at 100-event requests, BENCHMARKS.md 2026-12-03)."""
    limits = state.limits
    body = decompress(raw, headers.get("content-encoding"), limits)
    sent_at, raw_events = parse_batch(body, limits)
    client = request.scope.get("client")
    ctx = RequestContext(
        app_id=app.app_id,
        received_at=state.clock(),
        ip=client_ip(client[0] if client else "", headers.get("x-forwarded-for"), state.trusted_proxies),
        user_agent=headers.get("user-agent", "")[:512],
    )
    money = MoneyRules(app.reporting_currency, state.fx)
    result = ingest(raw_events, sent_at, ctx, limits, state.hasher, state.clock_skew_threshold, money,
                    body_bytes=len(body))
    settings = state.settings
    records = route_events(_unsuppressed(state, app.app_id, result.accepted), settings.kafka_events_topic)
    records += route_rejections(result.rejected, ctx, settings.kafka_deadletter_topic)
    return records, len(result.accepted), result.rejected


def _unsuppressed(state: CollectorState, app_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events of suppressed ids are accepted (200) and dropped, counted by app (docs/privacy.md)."""
    if state.privacy is None:
        return events
    kept, dropped = split_suppressed(events, state.privacy.view.suppressed(app_id), state.id_secret)
    if dropped:
        state.privacy.suppressed_events.labels(app_id).inc(dropped)
    return kept


def _cors_headers(origin: str | None, app: App) -> dict[str, str] | None:
    if origin is None or origin not in app.cors_origins:
        return None
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


@router.options(BATCH_PATH, include_in_schema=False)
async def preflight(request: Request, state: StateDep) -> Response:
    # Preflights carry no write key, so an origin is allowed here if any app lists it; the POST itself then
    # checks the origin against the key's own app.
    origin = request.headers.get("origin", "")
    allowed = any(origin in a.cors_origins for a in state.keys.current().apps)
    if not allowed:
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": _CORS_HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: publishing works, Kafka is reachable and we are not shutting down")
async def readyz(state: StateDep) -> JsonResponse:
    reason = await state.not_ready()
    if reason is not None:
        return JsonResponse({"status": reason}, 503)
    return JsonResponse({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
