"""The batch body an SDK posts, and the pre-validation step that drops server-owned fields.

    {"sent_at": "2024-05-01T08:00:05.000Z", "events": [{...}, {...}]}

The envelope is validated on its own and the events are kept raw (`list[Any]`): the collector validates them
one by one with `EVENT_ADAPTER`, so one bad event is rejected alone and never costs the good events of its
batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from schemas.events import Timestamp

SERVER_FIELDS: Final = frozenset({"received_at", "app_id", "ip", "user_agent", "event_time", "phone_hash"})
"""Top-level event fields only the server may set. `strip_server_fields` drops them from client input."""


def strip_server_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Pre-validation step: `raw` without the server-owned top-level fields (`SERVER_FIELDS`).

    Server-owned fields are ignored rather than rejected, so an SDK that echoes them back (or a replay of an
    enriched event) still validates, and no client can set the receive time, app, IP, user agent, corrected
    event time or phone hash. Pure: `raw` is never modified; when it holds none of those fields it is returned
    as is (no copy), otherwise a new dict is returned.
    """
    if SERVER_FIELDS.isdisjoint(raw):
        return raw
    return {key: value for key, value in raw.items() if key not in SERVER_FIELDS}


class BatchEnvelope(BaseModel):
    """The batch request body. The collector also accepts a bare JSON array of events (no sent_at)."""

    model_config = ConfigDict(extra="forbid", val_temporal_unit="milliseconds")

    sent_at: Timestamp | None = Field(
        default=None,
        description="Device time when this request was sent (set it again on every retry): ISO-8601 or epoch "
        "milliseconds. With it the collector corrects device clock skew: event_time = received_at − "
        "(sent_at − timestamp).",
    )
    events: list[Any] = Field(
        description="The events, each validated on its own (a bad event is rejected alone). The collector "
        "bounds their number and size."
    )
    context: dict[str, Any] | None = Field(
        default=None,
        description="Reserved; accepted and ignored. Put the context on each event.",
    )


_SENT_AT_ADAPTER: Final[TypeAdapter[datetime]] = TypeAdapter(
    Timestamp, config=ConfigDict(val_temporal_unit="milliseconds")
)


def parse_sent_at(raw: Any) -> datetime:
    """`sent_at` as sent → tz-aware UTC datetime. Raises `ValueError` with a one-line, actionable message."""
    try:
        return _SENT_AT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_context=False)[0]
        shown = repr(raw)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = f"{err['msg']} (got {shown}); expected epoch milliseconds or an ISO-8601 string"
        raise ValueError(msg) from None
