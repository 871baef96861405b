"""Ad-platform click and impression webhooks (monitoring links, 监测链接).

GET with the platform's macro-filled query (how Tencent Ads and Ocean Engine call) or POST with a JSON
object. Every call must carry the integration's secret token (`token` query parameter or
`X-Touchstream-Token`); an unknown integration or a wrong token is a 404 and nothing is recorded. Signed calls
are verified (collector/webhooks/signing.py). Nothing here ever makes an outbound request: the `callback`
parameter is stored for later postbacks, never fetched.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request

from collector.auth import Integration
from collector.deps import StateDep, read_bounded
from collector.errors import MalformedBody, NotFound, PayloadTooLarge, RateLimited, WebhookInputError
from collector.ingest import Rejection, RequestContext
from collector.responses import JsonResponse
from collector.routing import route_events, route_rejections
from collector.state import CollectorState
from collector.webhooks.events import ad_touch_event
from collector.webhooks.macros import TouchKind
from collector.webhooks.platforms import parse_touch
from collector.webhooks.signing import replay_key, verify

router = APIRouter()
MAX_WEBHOOK_BYTES = 16_384

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed parameters (also kept as a dead letter)"},
    401: {"description": "Signature missing, invalid, stale or replayed"},
    404: {"description": "Unknown integration or wrong token: nothing recorded"},
    429: {"description": "Rate limit of the integration exceeded"},
    503: {"description": "Not stored (Kafka unavailable, busy or shutting down): retry after Retry-After"},
}


@router.get("/v1/webhooks/{integration_id}/{kind}", responses=RESPONSES, summary="Ad click/impression (GET)")
async def webhook_get(integration_id: str, kind: TouchKind, request: Request, state: StateDep) -> JsonResponse:
    raw_query = request.url.query.encode()
    if len(raw_query) > MAX_WEBHOOK_BYTES:
        msg = f"the query string is over {MAX_WEBHOOK_BYTES} bytes"
        raise PayloadTooLarge(msg)
    params = dict(parse_qsl(request.url.query, keep_blank_values=True))
    return await _handle(integration_id, kind, params, raw_query, request, state)


@router.post("/v1/webhooks/{integration_id}/{kind}", responses=RESPONSES, summary="Ad click/impression (POST)")
async def webhook_post(integration_id: str, kind: TouchKind, request: Request, state: StateDep) -> JsonResponse:
    body = await read_bounded(request, MAX_WEBHOOK_BYTES)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        msg = f"the body is not valid JSON: {exc}"
        raise MalformedBody(msg) from None
    if not isinstance(doc, dict):
        msg = "the body must be a JSON object of parameters"
        raise MalformedBody(msg)
    params = {str(k): str(v) for k, v in doc.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    params.update({k: v for k, v in request.query_params.items() if k == "token"})
    return await _handle(integration_id, kind, params, body, request, state)


async def _handle(
    integration_id: str, kind: TouchKind, params: dict[str, str], signed_payload: bytes, request: Request,
    state: CollectorState,
) -> JsonResponse:
    async with state.admission.slot():
        return await _record(integration_id, kind, params, signed_payload, request, state)


async def _record(
    integration_id: str, kind: TouchKind, params: dict[str, str], signed_payload: bytes, request: Request,
    state: CollectorState,
) -> JsonResponse:
    integration = _authorise(integration_id, params, request, state)
    now = state.clock()
    _check_signature(integration, signed_payload, request, state, now.timestamp())
    if not state.limiter.allow(
        f"webhook:{integration.integration_id}", integration.rate_limit_per_s,
        max(1.0, integration.rate_limit_per_s), state.monotonic(),
    ):
        msg = f"integration {integration.integration_id} is over {integration.rate_limit_per_s} calls/s"
        raise RateLimited(msg)
    params.pop("token", None)
    peer = request.client.host if request.client else ""
    ctx = RequestContext(integration.app_id, now, peer, request.headers.get("user-agent", "")[:512])
    settings = state.settings
    try:
        touch = parse_touch(integration.platform, kind, params, now=now)
    except WebhookInputError as exc:
        payload = orjson.dumps(params).decode()[:4096]
        rejection = Rejection(0, "invalid", exc.message, payload)
        await state.publish(
            route_rejections([rejection], ctx, settings.kafka_deadletter_topic, source=f"webhook:{integration_id}")
        )
        raise  # still a 400 to the caller; the dead letter keeps what was sent
    event = ad_touch_event(touch, integration, now)
    await state.publish(route_events([event], settings.kafka_events_topic))
    state.metrics.accepted(integration.app_id).inc()
    return JsonResponse({"ok": True})


def _authorise(integration_id: str, params: dict[str, str], request: Request, state: CollectorState) -> Integration:
    integration = state.keys.current().integration(integration_id)
    token = params.get("token") or request.headers.get("x-touchstream-token") or ""
    # Same answer for an unknown integration and a wrong token: the URL reveals nothing to a guesser.
    if integration is None or not hmac.compare_digest(integration.token.encode(), token.encode()):
        msg = "no such webhook"
        raise NotFound(msg)
    return integration


def _check_signature(
    integration: Integration, payload: bytes, request: Request, state: CollectorState, now_s: float
) -> None:
    signature = request.headers.get("x-touchstream-signature")
    if signature is None and not integration.require_signature:
        return  # token-guarded only, as Tencent Ads and Ocean Engine call
    verified = verify(
        list(integration.signing_secrets), request.headers.get("x-touchstream-timestamp"), signature, payload, now_s
    )
    # Keyed on what was signed, not on the matching candidate: a header carrying several `sha256=` values must not
    # buy one more use of the same call per value.
    state.replays.check_and_remember(replay_key(integration.integration_id, verified.timestamp, payload), now_s)
