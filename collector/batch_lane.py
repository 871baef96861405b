"""The hottest route without FastAPI's routing: `POST /v1/batch` goes straight to its handler.

Why: at 1 to 10 events per request, the framework's routing, exception and exit-stack middleware and request
handler cost about as much as the batch itself (py-spy on the real collector at 1-event requests: fastapi and
starlette ~30% of its CPU; BENCHMARKS.md). The lane is an ASGI middleware inside FastAPI's outer ones (server
errors, telemetry, body limits), so an unexpected exception still becomes the same 500. It calls the very
handler the route declares (`collector.routes.answer_batch`, with the app's state, which the lane is given) and
turns a `CollectorError` into the response the app's exception handler gives (`collector.error_response`), so
the answer is the same byte for byte (tests/unit/collector/test_batch_lane.py compares both ways). Any other
path or method goes through FastAPI, and the route stays declared there for the OpenAPI document.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.error_response import error_response
from collector.errors import CollectorError
from collector.routes import BATCH_PATH, answer_batch
from collector.state import CollectorState


class BatchLane:
    def __init__(self, app: ASGIApp, state: CollectorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != _path(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await answer_batch(request, self.state)
        except CollectorError as exc:
            response = error_response(self.state, exc, request.headers.get("origin"), BATCH_PATH)
        await response(scope, receive, send)


def _path(scope: Scope) -> str:
    # As Starlette's router matches: a path under a root path (a proxy's prefix) is the root path plus the route.
    root: str = scope.get("root_path", "")
    return root + BATCH_PATH
