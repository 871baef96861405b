"""How a `CollectorError` becomes an HTTP response: one definition for FastAPI's exception handler
(collector/app.py) and for the batch lane (collector/batch_lane.py), which answers without FastAPI's routing."""

from __future__ import annotations

from collector.errors import CollectorError, InvalidCosts, InvalidRequest, OriginNotAllowed, Unavailable
from collector.responses import JsonResponse
from collector.state import CollectorState


def error_response(state: CollectorState, exc: CollectorError, origin: str | None, route: str) -> JsonResponse:
    """`route` is the route template (a bounded log label); `origin` the request's Origin header, if any."""
    if isinstance(exc, Unavailable):
        state.unavailable_log.report(exc, route)
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {}
    # A web SDK must be able to read why it failed (401, 413, 503 …): errors carry CORS headers for any
    # origin some app allows, since the failing request may not have reached its app's own check.
    allowed = any(origin in a.cors_origins for a in state.keys.current().apps) if origin else False
    if origin and allowed and not isinstance(exc, OriginNotAllowed):
        headers |= {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    if isinstance(exc, InvalidCosts | InvalidRequest):
        body["problems"] = exc.problems
    return JsonResponse(body, exc.status, headers=headers or None)
