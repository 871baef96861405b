"""The events a mini-program SDK sends: one pydantic model per `type`, and the discriminated union `Event`.

Validate a single raw event (a dict decoded from JSON) with `EVENT_ADAPTER.validate_python(raw)`; the union
dispatches on the literal `type` field in pydantic-core, so only the matching model is tried and an unknown
`type` is reported together with the list of allowed types.

Performance notes (the collector validates ~100k events/s/core): limits are declared as constraints
(`StringConstraints`, `Field(max_length=...)`) which pydantic-core checks natively; the only Python code run
per event is the timestamp normalisation (one call per datetime) and, for `identify` and the purchase events,
one small after-validator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.context import Context

# The money types were defined here before schemas/money.py: importers keep this path (explicit re-exports).
from schemas.money import CURRENCY_PATTERN as CURRENCY_PATTERN
from schemas.money import MAX_PROPERTIES as MAX_PROPERTIES
from schemas.money import MAX_REVENUE as MAX_REVENUE
from schemas.money import Currency as Currency
from schemas.money import PositiveMoney as PositiveMoney
from schemas.money import PurchaseProperties as PurchaseProperties
from schemas.money import RefundProperties as RefundProperties
from schemas.money import Revenue as Revenue
from schemas.money import format_decimal as format_decimal

TOUCH_TYPES: Final = ("exposure", "click", "enter")
"""The lifecycle nodes before a conversion: what a journey's touchpoints are made of."""

CONVERSION_TYPES: Final = ("register", "activate", "convert", "repurchase")
"""The lifecycle nodes that are conversions: the default conversion types of attribution."""

LIFECYCLE_TYPES: Final = TOUCH_TYPES + CONVERSION_TYPES
"""The lifecycle nodes an SDK sends, in funnel order (retention is derived downstream and never sent)."""

MIN_YEAR = 2000
MAX_YEAR = 2100

# ----------------------------------------------------------------------------------------------------------
# Timestamps
# ----------------------------------------------------------------------------------------------------------

_MIN_EPOCH_MS = int(datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp() * 1000)
_MAX_EPOCH_MS = int(datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC).timestamp() * 1000) - 1


def _to_utc(value: datetime) -> datetime:
    """Naive → UTC, any offset → UTC; reject years outside 2000..2100 with an actionable message."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        hint = ""
        if value.year == 1970:
            hint = " (epoch seconds instead of epoch milliseconds?)"
        elif value.year < MIN_YEAR:
            hint = " (is the device clock reset?)"
        error = PydanticCustomError(
            "timestamp_out_of_range",
            "timestamp must be between the years {min_year} and {max_year}, got {got}{hint}; "
            "send epoch milliseconds (e.g. 1700000000000) or ISO-8601",
            {"min_year": MIN_YEAR, "max_year": MAX_YEAR, "got": format_timestamp(value), "hint": hint},
        )
        raise error
    return value


def format_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with exactly three fractional digits and `Z`, e.g. `2024-05-01T08:00:00.123Z`.

    Naive datetimes are taken as UTC; sub-millisecond digits are truncated (ClickHouse `DateTime64(3)`).
    Formatted by orjson (4x faster than `isoformat` here; this runs four times per accepted event).
    """
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raw = orjson.dumps(value, option=orjson.OPT_UTC_Z)  # b'"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"'
    if len(raw) == 29:
        return raw[1:24].decode() + "Z"
    return raw[1:20].decode() + ".000Z"


_TIMESTAMP_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": _MIN_EPOCH_MS, "maximum": _MAX_EPOCH_MS},
    ],
    "description": (
        "ISO-8601 string (a string without offset is UTC) or epoch milliseconds (integer). "
        f"Years {MIN_YEAR}..{MAX_YEAR}."
    ),
}

Timestamp = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    WithJsonSchema(_TIMESTAMP_JSON_SCHEMA, mode="validation"),
]
"""A device or batch time: ISO-8601 or epoch ms in, tz-aware UTC `datetime` out, `...sss Z` in JSON.

Models using it must set `val_temporal_unit="milliseconds"` so every number is read as epoch milliseconds
(never guessed as seconds)."""

# ----------------------------------------------------------------------------------------------------------
# Reusable field types
# ----------------------------------------------------------------------------------------------------------

EVENT_ID_PATTERN = r"^[!-~]+$"
PHONE_PATTERN = r"^\+?[0-9]+$"
CUSTOM_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]*$"

EventId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=EVENT_ID_PATTERN)]
AnonymousId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Properties = Annotated[dict[str, Any], Field(max_length=MAX_PROPERTIES)]
Phone = Annotated[str, StringConstraints(min_length=6, max_length=20, pattern=PHONE_PATTERN)]
CustomName = Annotated[str, StringConstraints(max_length=64, pattern=CUSTOM_NAME_PATTERN)]


_EVENT_CONFIG = ConfigDict(
    extra="forbid",
    val_temporal_unit="milliseconds",
    serialize_by_alias=True,
    validate_by_alias=True,
    validate_by_name=False,
)

# ----------------------------------------------------------------------------------------------------------
# Events
# ----------------------------------------------------------------------------------------------------------


class BaseEvent(BaseModel):
    """Fields common to every event. Not part of the union: validate through `EVENT_ADAPTER`."""

    model_config = _EVENT_CONFIG

    event_id: EventId = Field(
        description="Client-generated id, unique per app (a UUID is fine); 1..64 printable ASCII characters, "
        "no spaces. A re-sent event with the same id is counted once."
    )
    type: str = Field(description="The event type; selects the model.")
    timestamp: Timestamp = Field(
        description="Device time of the event: ISO-8601 (no offset = UTC) or epoch milliseconds; years "
        f"{MIN_YEAR}..{MAX_YEAR}. Corrected for device clock skew by the collector (see event_time)."
    )
    anonymous_id: AnonymousId = Field(
        description="SDK-generated per-device id, sent on every event before and after login; 1..128 characters."
    )
    user_id: ExternalId | None = Field(default=None, description="Business user id once logged in; 1..128 characters.")
    openid: ExternalId | None = Field(
        default=None, description="Platform openid (per mini-program); 1..128 characters."
    )
    unionid: ExternalId | None = Field(
        default=None, description="WeChat unionid (across a company's apps); 1..128 characters."
    )
    context: Context = Field(default_factory=Context, description="Where the event happened.")


class _FreePropertiesEvent(BaseEvent):
    properties: Properties = Field(
        default_factory=dict,
        description=f"Free key/value map, stored as sent; at most {MAX_PROPERTIES} keys.",
    )


class ExposureEvent(_FreePropertiesEvent):
    """曝光: an ad, banner or product card was shown."""

    type: Literal["exposure"] = Field(description="`exposure`")


class ClickEvent(_FreePropertiesEvent):
    """点击: the user clicked an ad, banner or product card inside the mini-program."""

    type: Literal["click"] = Field(description="`click`")


class EnterEvent(_FreePropertiesEvent):
    """进入: launch or visit of the mini-program (carries the scene value and launch query)."""

    type: Literal["enter"] = Field(description="`enter`")


class RegisterEvent(_FreePropertiesEvent):
    """注册: the user registered."""

    type: Literal["register"] = Field(description="`register`")


class ActivateEvent(_FreePropertiesEvent):
    """激活: first use of a core feature."""

    type: Literal["activate"] = Field(description="`activate`")


class _PurchaseEvent(BaseEvent):
    properties: PurchaseProperties = Field(
        description="Purchase properties: order_id, revenue, currency (typed) plus any other keys; at most "
        f"{MAX_PROPERTIES} keys in all."
    )


class ConvertEvent(_PurchaseEvent):
    """转化: the user's first order."""

    type: Literal["convert"] = Field(description="`convert`")


class RepurchaseEvent(_PurchaseEvent):
    """复购: a later order."""

    type: Literal["repurchase"] = Field(description="`repurchase`")


class RefundEvent(BaseEvent):
    """退款: an order was refunded, in full or in part (several refunds of one order add up).

    Sent through `/v1/batch` like every event, by the SDK or by the shop's server with its write key (the ids
    are those of the buyer, `anonymous_id` required as on every event; the order is found by `order_id`).
    """

    type: Literal["refund"] = Field(description="`refund`")
    properties: RefundProperties = Field(
        description="Refund properties: order_id, amount, currency (typed), reason (optional), plus any other "
        f"keys; at most {MAX_PROPERTIES} keys in all."
    )


class PageViewEvent(_FreePropertiesEvent):
    """A page was shown (`context.path` is the page)."""

    type: Literal["page_view"] = Field(description="`page_view`")


class ShareEvent(_FreePropertiesEvent):
    """The user shared a page or card (to a chat, a group, Moments, ...)."""

    type: Literal["share"] = Field(description="`share`")
    share_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="Id of this share, put in the shared link so the visits it brings can be traced back; "
        "1..128 characters.",
    )
    method: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="How it was shared, e.g. `chat`, `group`, `timeline`, `poster`; 1..64 characters.",
    )


class IdentifyEvent(_FreePropertiesEvent):
    """Binds `anonymous_id` to at least one of user_id, openid, unionid or phone."""

    type: Literal["identify"] = Field(description="`identify`")
    phone: Phone | None = Field(
        default=None,
        description="Phone number: digits with an optional leading `+`, 6..20 characters. PII: the collector "
        "replaces it with a keyed hash (HMAC-SHA256, in `phone_hash`) before anything is stored or sent on; "
        "the plain number never leaves the collector.",
    )
    phone_hash: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="Server-owned: the keyed hash of `phone`, set by the collector (which then sets `phone` "
        "to null). A value sent by a client is discarded.",
    )
    traits: Properties = Field(
        default_factory=dict,
        description=f"Free user attributes (nickname, gender, level, ...); at most {MAX_PROPERTIES} keys. "
        "A `phone` key here is hashed by the collector as well.",
    )

    @model_validator(mode="after")
    def _binds_something(self) -> IdentifyEvent:
        if (
            self.user_id is None
            and self.openid is None
            and self.unionid is None
            and self.phone is None
            and self.phone_hash is None
        ):
            error = PydanticCustomError(
                "identify_without_id",
                "an identify event must carry at least one of user_id, openid, unionid or phone",
            )
            raise error
        return self


class CustomEvent(_FreePropertiesEvent):
    """A named behaviour event (add_to_cart, search, coupon_claim, ...)."""

    type: Literal["custom"] = Field(description="`custom`")
    name: CustomName = Field(
        description="Event name: a letter, then letters, digits, `_`, `.`, `:` or `-`; at most 64 characters."
    )


Event = Annotated[
    ExposureEvent
    | ClickEvent
    | EnterEvent
    | RegisterEvent
    | ActivateEvent
    | ConvertEvent
    | RepurchaseEvent
    | RefundEvent
    | PageViewEvent
    | ShareEvent
    | IdentifyEvent
    | CustomEvent,
    Field(discriminator="type"),
]
"""Any event, discriminated on `type`."""

EVENT_MODELS: Final[dict[str, type[BaseEvent]]] = {
    get_args(model.model_fields["type"].annotation)[0]: model for model in get_args(get_args(Event)[0])
}
"""`type` → model, in contract order: read from the union, so that no second list can disagree with it."""

EVENT_TYPES: Final = tuple(EVENT_MODELS)
"""Every value of `type`, in contract order."""

PURCHASE_TYPES: Final = tuple(t for t, model in EVENT_MODELS.items() if issubclass(model, _PurchaseEvent))
"""Types whose `properties` are a `PurchaseProperties` (order_id, revenue, currency)."""

REFUND_TYPES: Final = tuple(t for t, model in EVENT_MODELS.items() if model is RefundEvent)
"""Types whose `properties` are a `RefundProperties` (order_id, amount, currency, reason): `("refund",)`."""

MONEY_TYPES: Final = PURCHASE_TYPES + REFUND_TYPES
"""Types that carry an amount of money the collector converts to the app's reporting currency."""

EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)
"""Validates one raw event: `EVENT_ADAPTER.validate_python(raw_dict)` (or `.validate_json(bytes)`)."""
