"""The Kafka record format, written down once: headers, the encoder, the decoder and the typed records.

Both services use this module, the collector to produce and the stream processor to consume, so the two ends of
the wire are one set of types that mypy checks on both sides. The layout in prose is schemas/README.md, "Kafka
records". Pure: no I/O, no Kafka client.

Events topic: key `app_id`, header `format: events-json-array/1`, value a JSON array of event records (SDK
events after `enrich`, ad touches, spend rows) in the order they were sent. Dead-letter topic: key `app_id`,
header `format: deadletter-json/1`, value a JSON array of `DeadLetter`s. A privacy request travels on the events
topic as its own record (header `format: privacy-command/1`, key `app_id`, value one `PrivacyCommand`), so it is
processed in order with the app's events (stream/privacy.py, docs/privacy.md). Either is split into records of at most
`MAX_RECORD_BYTES` of value (only a single item larger than that makes a larger record).

The decoder checks the format header, parses the JSON and checks the outer shape, and nothing per event: the
processor decodes ~100k events/s, and an event with a missing or mistyped field is reported per event where its
row is built. The TypedDicts cost nothing at run time (they are plain dicts); `decode_*` cast the parsed value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NotRequired, TypedDict, cast, get_args

import orjson

Headers = tuple[tuple[str, bytes], ...]

FORMAT_HEADER: Final = "format"
EVENTS_FORMAT: Final = b"events-json-array/1"
DEADLETTER_FORMAT: Final = b"deadletter-json/1"
EVENTS_HEADERS: Final[Headers] = ((FORMAT_HEADER, EVENTS_FORMAT),)
DEADLETTER_HEADERS: Final[Headers] = ((FORMAT_HEADER, DEADLETTER_FORMAT),)
PRIVACY_FORMAT: Final = b"privacy-command/1"
PRIVACY_HEADERS: Final[Headers] = ((FORMAT_HEADER, PRIVACY_FORMAT),)

# The producer's max_request_size, and the broker's default message.max.bytes (1 MiB + 12).
MAX_KAFKA_REQUEST_BYTES: Final = 1_048_576
# The largest value one record may carry so that it fits a request with its key, headers and batch framing.
MAX_RECORD_VALUE_BYTES: Final = 1_000_000
# Where the encoder splits: a request of up to ~2,500 small events stays one record, and a record is far from
# the request bound above whatever its events.
MAX_RECORD_BYTES: Final = 256_000


class RecordFormatError(ValueError):
    """A record this version cannot read: a format header it does not know, or a value of the wrong shape.

    The processor turns it into a poison `bad_events` row with this message, as it does malformed JSON."""


# -- the typed records ---------------------------------------------------------------------------------------


class _Envelope(TypedDict):
    """The fields every record on the events topic carries. Times are ISO-8601 UTC with milliseconds and `Z`."""

    event_id: str
    app_id: str
    anonymous_id: str  # "" for ad touches and spend rows: they belong to no device
    timestamp: str
    sent_at: str | None
    received_at: str
    event_time: str
    context: dict[str, Any]


class EnrichedEvent(_Envelope):
    """An SDK event after `schemas.enrich.enrich` (and the collector's phone hashing).

    Only the fields every type has, plus the optional ones the processor reads, are declared here; the fields of
    one type (`traits`, `share_id`, ...) travel as `enrich` wrote them (schemas/README.md, "Server-owned fields").
    """

    type: str  # one of schemas.events.EVENT_TYPES
    properties: dict[str, Any]
    user_id: str | None
    openid: str | None
    unionid: str | None
    clock_corrected: bool
    clock_clamped: bool
    ip: str | None
    user_agent: str | None
    name: NotRequired[str]  # custom events
    phone_hash: NotRequired[str | None]  # identify events


AdTouchType = Literal["ad_click", "ad_impression"]
AD_TOUCH_TYPES: Final[tuple[AdTouchType, ...]] = get_args(AdTouchType)
"""The types of ad-touch records: on the events topic beside SDK events, but not in `schemas.events.Event`."""


class AdTouchEvent(_Envelope):
    """An ad click or impression reported by an ad platform (collector/webhooks/events.py)."""

    type: AdTouchType
    clock_corrected: bool
    clock_clamped: bool
    click_id: str  # the impression id for impressions ("" when the platform gives none)
    platform: str
    channel: str
    channel_type: str
    campaign: str
    creative: str
    ip: str
    user_agent: str
    openid: NotRequired[str]  # the clicking person's openid, when the platform passes it ("" when not)
    # integration_id, account_id, adgroup_id, ad_id, callback, device_ids, then the platform's own extra keys
    properties: dict[str, Any]


class SpendProperties(TypedDict):
    """One spend row; amounts are exact decimal strings, `date` is ISO (YYYY-MM-DD)."""

    key: str  # date|channel|campaign|creative|source: the row a later upload restates
    date: str
    channel: str
    campaign: str
    creative: str
    source: str
    spend: str
    currency: str
    spend_reporting: str
    reporting_currency: str
    fx_rate: str


class SpendEvent(_Envelope):
    """A spend row of an upload (collector/cost_routes.py), carried like an event of type `ad_spend`."""

    type: Literal["ad_spend"]
    properties: SpendProperties


EventRecord = EnrichedEvent | AdTouchEvent | SpendEvent
"""An item of an events record."""


class DeadLetter(TypedDict):
    """An item of a dead-letter record: what was refused, where, and why (payload PII-hashed, truncated)."""

    app_id: str
    source: str  # "sdk", "webhook:<integration>", or "kafka" for a record the processor could not read
    received_at: str
    code: str
    reason: str
    payload: str
    index: NotRequired[int]  # the position of the event in its request
    ip: NotRequired[str]
    user_agent: NotRequired[str]


PrivacyType = Literal["delete", "suppress", "suppress_and_delete", "unsuppress"]
PRIVACY_TYPES: Final[tuple[PrivacyType, ...]] = get_args(PrivacyType)


class PrivacyCommand(TypedDict):
    """A privacy request handed to the processor (collector/privacy_feed.py dispatches it).

    `subjects` are typed ids as the identity graph writes them (`uid:…`, `anon:…`, `openid:…`, `unionid:…`,
    `phone:<hmac>`): a phone number never travels unhashed. `submitted_at` is ISO-8601 UTC."""

    request_id: str
    app_id: str
    type: PrivacyType
    subjects: list[str]
    submitted_at: str


# -- the encoder ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    headers: Headers
    event_count: int


def encode_events(
    events: Iterable[Mapping[str, Any]], topic: str, max_record_bytes: int = MAX_RECORD_BYTES
) -> list[OutRecord]:
    """Events records keyed by app, each app's events in the order given.

    Accepts any mapping so that the SDK path's plain dicts pass; the typed producers hand over `EventRecord`s.
    """
    groups: dict[bytes, list[Mapping[str, Any]]] = {}
    for event in events:
        groups.setdefault(event["app_id"].encode(), []).append(event)
    records: list[OutRecord] = []
    for key, group in groups.items():
        # The common request fits one record: one dumps of the list gives the bytes `_pack` would join (its
        # array is len + 1 against the bound, since `_pack` counts a comma after every item), without a bytes
        # object per event. A larger group is split by `_pack`.
        whole = orjson.dumps(group)
        if len(whole) + 1 <= max_record_bytes or len(group) == 1:
            records.append(OutRecord(topic, key, whole, EVENTS_HEADERS, len(group)))
        else:
            records.extend(_pack(topic, key, [orjson.dumps(e) for e in group], EVENTS_HEADERS, max_record_bytes))
    return records


def encode_dead_letters(
    items: Iterable[DeadLetter], app_id: str, topic: str, max_record_bytes: int = MAX_RECORD_BYTES
) -> list[OutRecord]:
    """Dead-letter records of one request's rejections, keyed by its app."""
    encoded = [orjson.dumps(item) for item in items]
    return _pack(topic, app_id.encode(), encoded, DEADLETTER_HEADERS, max_record_bytes)


def encode_privacy_command(command: PrivacyCommand, topic: str) -> OutRecord:
    """One record on the events topic, keyed by the app like its events, so it lands in their order."""
    return OutRecord(topic, command["app_id"].encode(), orjson.dumps(command), PRIVACY_HEADERS, 0)


def _pack(topic: str, key: bytes, encoded: list[bytes], headers: Headers, max_record_bytes: int) -> list[OutRecord]:
    """JSON arrays of pre-encoded items (no second serialisation pass), each under max_record_bytes."""
    records: list[OutRecord] = []
    chunk: list[bytes] = []
    size = 2  # "[" and "]"
    for item in encoded:
        if chunk and size + len(item) + 1 > max_record_bytes:
            records.append(OutRecord(topic, key, b"[" + b",".join(chunk) + b"]", headers, len(chunk)))
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        records.append(OutRecord(topic, key, b"[" + b",".join(chunk) + b"]", headers, len(chunk)))
    return records


# -- the decoder ---------------------------------------------------------------------------------------------


def decode_events(value: bytes, headers: Sequence[tuple[str, bytes]]) -> list[EventRecord]:
    """The items of an events record. Raises `RecordFormatError`, or orjson.JSONDecodeError for broken JSON.

    A record without a format header was written by a collector before the header was read: it decodes as
    events-json-array/1, the only layout there has been."""
    _check_format(headers, EVENTS_FORMAT)
    items = orjson.loads(value)
    if not isinstance(items, list):
        msg = f"an events record must hold a JSON array, got a JSON {_json_kind(items)}"
        raise RecordFormatError(msg)
    return cast("list[EventRecord]", items)


def check_events_format(headers: Sequence[tuple[str, bytes]]) -> None:
    """Raises `RecordFormatError` unless the record's format header is events-json-array/1 (or absent)."""
    _check_format(headers, EVENTS_FORMAT)


def decode_dead_letters(value: bytes, headers: Sequence[tuple[str, bytes]]) -> list[DeadLetter]:
    """The items of a dead-letter record (a single object counts as one item).

    A record without a format header decodes as deadletter-json/1, the only layout of this topic there has
    been."""
    _check_format(headers, DEADLETTER_FORMAT)
    items = orjson.loads(value)
    return cast("list[DeadLetter]", items if isinstance(items, list) else [items])


def decode_privacy_command(value: bytes) -> PrivacyCommand:
    """The command of a record whose format header is `PRIVACY_FORMAT`; raises `RecordFormatError` if malformed."""
    item = orjson.loads(value)
    if (
        not isinstance(item, dict) or item.get("type") not in PRIVACY_TYPES
        or not isinstance(item.get("subjects"), list)
    ):
        msg = "a privacy command must be an object with a known type and a list of subjects"
        raise RecordFormatError(msg)
    if not all(isinstance(item.get(k), str) for k in ("request_id", "app_id", "submitted_at")):
        msg = "a privacy command needs request_id, app_id and submitted_at strings"
        raise RecordFormatError(msg)
    return cast("PrivacyCommand", item)


def record_format(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    """The value of the first `format` header, None without one."""
    for name, value in headers:
        if name == FORMAT_HEADER:
            return value
    return None


def _check_format(headers: Sequence[tuple[str, bytes]], expected: bytes) -> None:
    found = record_format(headers)
    if found is not None and found != expected:
        shown = found[:64].decode("utf-8", "replace")
        msg = f"record format {shown!r} is not {expected.decode()!r}, the format of this topic"
        raise RecordFormatError(msg)


def _json_kind(value: object) -> str:
    kinds: dict[type, str] = {dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
