"""Privacy requests at the collector, the pure part: the request body, its subjects as typed ids, the request
id, and which events carry a suppressed id (docs/privacy.md).

No I/O: collector/privacy_feed.py holds the view of the privacy topic, collector/privacy_routes.py the HTTP API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collector.errors import InvalidRequest
from collector.pii import PiiHasher
from schemas.privacy_topic import KINDS, IdType, RequestDoc, id_hash
from schemas.records import PrivacyCommand, PrivacyType

MAX_SUBJECTS: Final = 1_000
# The ids an event carries, by the kind the identity graph gives them (the platform suffix is not part of a
# suppression: an openid suppressed is suppressed on every platform).
_EVENT_IDS: Final = (("user_id", "uid"), ("unionid", "unionid"), ("openid", "openid"), ("phone_hash", "phone"),
                     ("anonymous_id", "anon"))


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id_type: IdType
    value: str = Field(min_length=1, max_length=256)


class PrivacyRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: PrivacyType
    subjects: list[Subject] = Field(min_length=1, max_length=MAX_SUBJECTS)
    client_request_id: str | None = Field(default=None, min_length=1, max_length=128)


def parse_request(body: bytes) -> PrivacyRequestIn:
    """The request, or `InvalidRequest` (422) naming each field at fault, never echoing a value."""
    try:
        return PrivacyRequestIn.model_validate_json(body)
    except ValidationError as exc:
        problems: list[dict[str, object]] = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]} for e in exc.errors()
        ]
        fields = ", ".join(str(p["field"]) for p in problems[:5])
        msg = f"the privacy request is invalid: {fields}"
        raise InvalidRequest(msg, problems) from None


def typed_subjects(request: PrivacyRequestIn, hasher: PiiHasher) -> list[str]:
    """Typed ids as the identity graph writes them; a phone number is hashed here, before it goes anywhere."""
    out: list[str] = []
    for s in request.subjects:
        value = hasher.phone(s.value) if s.id_type == "phone" else s.value
        typed = f"{KINDS[s.id_type]}:{value}"
        if typed not in out:
            out.append(typed)
    return out


def request_id_for(app_id: str, client_request_id: str | None, new_id: Callable[[], str]) -> str:
    """The same client_request_id of an app always names the same request, on every replica."""
    if client_request_id is None:
        return f"pr_{new_id()}"
    digest = hashlib.blake2b(f"{app_id}\x1f{client_request_id}".encode(), digest_size=12).hexdigest()
    return f"pr_{digest}"


def pending_doc(
    app_id: str, request_id: str, request: PrivacyRequestIn, subjects: list[str], secret: bytes,
    now: datetime, grace: timedelta,
) -> RequestDoc:
    return {
        "kind": "request", "request_id": request_id, "app_id": app_id, "type": request.type, "status": "pending",
        "submitted_at": iso(now), "due_at": iso(now + grace), "subjects": subjects,
        "subject_hashes": sorted({id_hash(secret, s) for s in subjects}),
    }


def command_of(doc: RequestDoc) -> PrivacyCommand:
    return {"request_id": doc["request_id"], "app_id": doc["app_id"], "type": doc["type"],
            "subjects": list(doc.get("subjects", [])), "submitted_at": doc["submitted_at"]}


def without_subjects(doc: RequestDoc, status: str) -> RequestDoc:
    """The document once the raw subjects are no longer needed (dispatched or cancelled)."""
    slim: dict[str, Any] = {k: v for k, v in doc.items() if k != "subjects"}
    slim["status"] = status
    return slim  # type: ignore[return-value]


def public_view(doc: RequestDoc) -> dict[str, object]:
    """What GET answers: state, person keys, counts, times; never a subject."""
    return {
        "request_id": doc["request_id"], "type": doc["type"], "status": doc["status"],
        "submitted_at": doc["submitted_at"], "completed_at": doc.get("completed_at"),
        "person_keys": doc.get("person_keys", []), "rows_deleted": doc.get("rows_deleted", {}),
    }


def event_id_hashes(event: dict[str, Any], secret: bytes) -> list[str]:
    return [id_hash(secret, f"{kind}:{event[name]}") for name, kind in _EVENT_IDS
            if isinstance(event.get(name), str) and event[name]]


def split_suppressed(
    events: list[dict[str, Any]], suppressed: AbstractSet[str], secret: bytes
) -> tuple[list[dict[str, Any]], int]:
    """The events to publish, and how many carried a suppressed id (dropped)."""
    if not suppressed:
        return events, 0
    kept = [e for e in events if suppressed.isdisjoint(event_id_hashes(e, secret))]
    return kept, len(events) - len(kept)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
