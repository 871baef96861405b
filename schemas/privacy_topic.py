"""The compacted privacy topic, written down once: its keys, its documents and the hash of a suppressed id.

Collectors write a request's early states (pending, running, cancelled), the processor its outcome (completed
with counts, or failed) and the suppression entries of every id of a suppressed person; every collector
replica reads the whole topic into memory (collector/privacy_feed.py). Compaction keeps the newest document
per key. Pure: no Kafka client.

Keys: `<app>\\x1freq\\x1f<request_id>` for a request, `<app>\\x1fsup\\x1f<id_hash>\\x1f<request_id>` for one
suppressed id of one suppress request (unsuppress rewrites it with `suppressed: false`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, Final, Literal, NotRequired, TypedDict

import orjson

from schemas.records import PrivacyType

PRIVACY_DOC_FORMAT: Final = b"privacy-doc/1"
IdType = Literal["user_id", "anonymous_id", "openid", "unionid", "phone"]
# The typed-id kinds of the identity graph (stream/journeys/identity.py) per subject id type.
KINDS: Final[dict[str, str]] = {
    "user_id": "uid", "anonymous_id": "anon", "openid": "openid", "unionid": "unionid", "phone": "phone",
}
Status = Literal["pending", "running", "completed", "failed", "cancelled"]
_PLATFORM = re.compile(r"^(openid|unionid)@[^:]*:")


class RequestDoc(TypedDict):
    kind: Literal["request"]
    request_id: str
    app_id: str
    type: PrivacyType
    status: Status
    submitted_at: str
    due_at: str
    subject_hashes: list[str]
    subjects: NotRequired[list[str]]  # typed ids, only while pending (the dispatcher needs them)
    person_keys: NotRequired[list[str]]
    rows_deleted: NotRequired[dict[str, int]]
    completed_at: NotRequired[str]
    error: NotRequired[str]


class SuppressionDoc(TypedDict):
    kind: Literal["suppression"]
    app_id: str
    id_hash: str
    request_id: str
    suppressed: bool


def request_key(app_id: str, request_id: str) -> bytes:
    return f"{app_id}\x1freq\x1f{request_id}".encode()


def suppression_key(app_id: str, id_hash: str, request_id: str) -> bytes:
    return f"{app_id}\x1fsup\x1f{id_hash}\x1f{request_id}".encode()


def normalise_typed_id(typed_id: str) -> str:
    """`openid@douyin:x` → `openid:x`: suppression and deletion match an openid on every platform."""
    return _PLATFORM.sub(lambda m: f"{m.group(1)}:", typed_id, count=1)


def id_hash(secret: bytes, typed_id: str) -> str:
    """The keyed hash by which a suppressed id is stored and matched (an unkeyed hash of a login is guessable)."""
    return hmac.new(secret, normalise_typed_id(typed_id).encode(), hashlib.sha256).hexdigest()


def encode_doc(doc: RequestDoc | SuppressionDoc) -> bytes:
    return orjson.dumps(doc)


def decode_doc(value: bytes | None) -> dict[str, Any] | None:
    """A document, or None for a tombstone or a value this version cannot read (skipped, never fatal)."""
    if not value:
        return None
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and doc.get("kind") in ("request", "suppression") else None
