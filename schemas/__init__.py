"""The touchstream event contract: what a mini-program SDK may send, and what the collector puts on Kafka.

* `schemas.events`: one pydantic v2 model per event `type` and the discriminated union `Event`; validate a raw
  event with `EVENT_ADAPTER.validate_python(raw)`.
* `schemas.context`: the `context` sub-models (platform, scene, launch query, campaign, share chain, device).
* `schemas.batch`: the request body (`BatchEnvelope`, `parse_sent_at`) and `strip_server_fields`, the
  pre-validation step that drops fields only the server may set.
* `schemas.enrich`: `enrich`, the JSON-ready record for Kafka with the clock-skew-corrected `event_time`.
* `schemas.export`: writes / checks the JSON Schema files in `schemas/json/`.
* `schemas.macros`: `clean_text`, the one rule for link values that are no values (unfilled ad macros,
  stringified nulls), used by the collector's webhooks and the stream's channel resolution.
* `schemas.records`: the Kafka record format (headers, encoder, decoder, typed records) both services share.

The contract in prose, with examples, is `schemas/README.md`. Pure: imports only pydantic, the stdlib and
orjson.
"""

from schemas.batch import SERVER_FIELDS, BatchEnvelope, parse_sent_at, strip_server_fields
from schemas.context import PLATFORMS, Campaign, Context, Device, Sdk, ShareInfo
from schemas.enrich import ClockCorrection, correct_clock, enrich
from schemas.events import (
    CONVERSION_TYPES,
    EVENT_ADAPTER,
    EVENT_MODELS,
    EVENT_TYPES,
    LIFECYCLE_TYPES,
    PURCHASE_TYPES,
    ActivateEvent,
    BaseEvent,
    ClickEvent,
    ConvertEvent,
    CustomEvent,
    EnterEvent,
    Event,
    ExposureEvent,
    IdentifyEvent,
    PageViewEvent,
    PurchaseProperties,
    RegisterEvent,
    RepurchaseEvent,
    ShareEvent,
    Timestamp,
    format_decimal,
    format_timestamp,
)
from schemas.problems import error_details, explain

__all__ = [
    "CONVERSION_TYPES",
    "EVENT_ADAPTER",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "LIFECYCLE_TYPES",
    "PLATFORMS",
    "PURCHASE_TYPES",
    "SERVER_FIELDS",
    "ActivateEvent",
    "BaseEvent",
    "BatchEnvelope",
    "Campaign",
    "ClickEvent",
    "ClockCorrection",
    "Context",
    "ConvertEvent",
    "CustomEvent",
    "Device",
    "EnterEvent",
    "Event",
    "ExposureEvent",
    "IdentifyEvent",
    "PageViewEvent",
    "PurchaseProperties",
    "RegisterEvent",
    "RepurchaseEvent",
    "Sdk",
    "ShareEvent",
    "ShareInfo",
    "Timestamp",
    "correct_clock",
    "enrich",
    "error_details",
    "explain",
    "format_decimal",
    "format_timestamp",
    "parse_sent_at",
    "strip_server_fields",
]
