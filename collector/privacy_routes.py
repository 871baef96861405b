"""The privacy API (docs/privacy.md): submit, look up and cancel deletion and suppression requests.

Authenticated by the app's admin key (`X-Admin-Key` or `Authorization: Bearer`), never a write key. The
handlers only read the body and the view; what a request is and means lives in collector/privacy.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from collector.auth import App, admin_key_from_headers
from collector.deps import StateDep, read_bounded
from collector.errors import Conflict, NotFound, Unavailable
from collector.privacy import parse_request, pending_doc, public_view, request_id_for, typed_subjects
from collector.privacy_feed import PrivacyFeed
from collector.responses import JsonResponse
from collector.state import CollectorState

router = APIRouter()
MAX_BODY_BYTES = 512_000  # 1,000 subjects of 256 characters fit with room to spare

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked admin key"},
    404: {"description": "No such request for this app"},
    409: {"description": "The request is no longer pending"},
    422: {"description": "The body is invalid: `problems` names each field"},
    503: {"description": "The privacy topic is not readable yet, or Kafka did not acknowledge: retry"},
}


def _admin(request: Request, state: CollectorState) -> tuple[App, PrivacyFeed]:
    app = state.keys.current().app_for_admin(admin_key_from_headers(request.headers))
    feed = state.privacy
    if feed is None or not feed.ready:
        msg = "the privacy view is not loaded yet; retry"
        raise Unavailable(msg, cause="privacy_not_ready")
    return app, feed


def _request(request_id: str, request: Request, state: CollectorState) -> tuple[PrivacyFeed, Any]:
    """The feed and the caller's app's stored request `request_id`: another app's requests are not found."""
    app, feed = _admin(request, state)
    doc = feed.view.requests.get((app.app_id, request_id))
    if doc is None:
        msg = f"no privacy request {request_id[:64]!r} for app {app.app_id!r}"
        raise NotFound(msg)
    return feed, doc


@router.post("/v1/privacy/requests", status_code=202, responses=RESPONSES, summary="Submit a privacy request")
async def submit(request: Request, state: StateDep) -> JsonResponse:
    app, feed = _admin(request, state)
    body = parse_request(await read_bounded(request, MAX_BODY_BYTES))
    request_id = request_id_for(app.app_id, body.client_request_id, lambda: uuid.uuid4().hex)
    known = feed.view.requests.get((app.app_id, request_id))
    if known is not None:  # the same client_request_id again: the same request, not a new one
        return JsonResponse(public_view(known), 202)
    subjects = typed_subjects(body, state.hasher)
    doc = pending_doc(app.app_id, request_id, body, subjects, state.id_secret, state.clock(),
                      state.settings.privacy_grace())
    async with state.admission.slot():
        await state.publish([feed.doc_record(doc)])
    feed.view.apply(dict(doc))
    return JsonResponse(public_view(doc), 202)


@router.get("/v1/privacy/requests/{request_id}", responses=RESPONSES, summary="A privacy request's state")
async def status(request_id: str, request: Request, state: StateDep) -> JsonResponse:
    _, doc = _request(request_id, request, state)
    return JsonResponse(public_view(doc))


@router.delete("/v1/privacy/requests/{request_id}", responses=RESPONSES, summary="Cancel a pending request")
async def cancel(request_id: str, request: Request, state: StateDep) -> JsonResponse:
    feed, doc = _request(request_id, request, state)
    if doc["status"] != "pending":
        msg = f"the request is {doc['status']}; only a pending request can be cancelled"
        raise Conflict(msg)
    cancelled: Any = {k: v for k, v in doc.items() if k != "subjects"} | {"status": "cancelled"}
    async with state.admission.slot():
        await state.publish([feed.doc_record(cancelled)])
    feed.view.apply(cancelled)
    return JsonResponse(public_view(cancelled))
