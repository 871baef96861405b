"""The event contract: every type, every limit at the boundary and one past, timestamps, revenue, errors."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import schemas
from schemas.batch import SERVER_FIELDS, BatchEnvelope, parse_sent_at, strip_server_fields
from schemas.context import PLATFORMS
from schemas.events import (
    CONVERSION_TYPES,
    EVENT_ADAPTER,
    EVENT_MODELS,
    EVENT_TYPES,
    LIFECYCLE_TYPES,
    MONEY_TYPES,
    PURCHASE_TYPES,
    REFUND_TYPES,
    ConvertEvent,
    EnterEvent,
    IdentifyEvent,
    PurchaseProperties,
)
from schemas.problems import error_details, explain

README = Path(schemas.__file__).parent / "README.md"
TS_MS = 1_714_550_400_000  # 2024-05-01T08:00:00Z


def event(type_: str = "enter", **fields: Any) -> dict[str, Any]:
    """A minimal valid raw event of `type_`, with `fields` on top."""
    raw: dict[str, Any] = {"event_id": "e-1", "type": type_, "timestamp": TS_MS, "anonymous_id": "anon-1"}
    if type_ in PURCHASE_TYPES:
        raw["properties"] = {"order_id": "o-1", "revenue": "10"}
    if type_ in REFUND_TYPES:
        raw["properties"] = {"order_id": "o-1", "amount": "10"}
    if type_ == "identify":
        raw["user_id"] = "u-1"
    if type_ == "custom":
        raw["name"] = "add_to_cart"
    raw.update(fields)
    return raw


def put(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `raw` with `value` at the dotted `path` (intermediate objects created)."""
    out = copy.deepcopy(raw)
    node = out
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


def validate(raw: Any) -> Any:
    return EVENT_ADAPTER.validate_python(raw)


def problems(raw: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as info:
        validate(raw)
    return error_details(info.value)


def problem_fields(raw: Any) -> list[str]:
    return [p["field"] for p in problems(raw)]


# ---------------------------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------------------------


def test_type_lists() -> None:
    assert tuple(EVENT_MODELS) == EVENT_TYPES
    assert len(EVENT_TYPES) == 12
    assert LIFECYCLE_TYPES == ("exposure", "click", "enter", "register", "activate", "convert", "repurchase")
    assert CONVERSION_TYPES == ("register", "activate", "convert", "repurchase")
    assert set(CONVERSION_TYPES) <= set(LIFECYCLE_TYPES)
    assert "retain" not in EVENT_TYPES  # retention is derived downstream, never sent
    assert PURCHASE_TYPES == ("convert", "repurchase")
    assert REFUND_TYPES == ("refund",)
    assert MONEY_TYPES == ("convert", "repurchase", "refund")


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_every_type_minimal_valid(type_: str) -> None:
    parsed = validate(event(type_))
    assert type(parsed) is EVENT_MODELS[type_]
    assert parsed.type == type_
    assert parsed.timestamp == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert parsed.context.platform == "wechat"


@pytest.mark.parametrize("type_", EVENT_TYPES)
@pytest.mark.parametrize("missing", ["event_id", "timestamp", "anonymous_id"])
def test_every_type_requires_common_fields(type_: str, missing: str) -> None:
    raw = event(type_)
    del raw[missing]
    [detail] = problems(raw)
    assert detail == {"field": missing, "code": "missing", "message": "required field is missing"}


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_every_type_rejects_unknown_fields(type_: str) -> None:
    [detail] = problems(event(type_, revenue=10))
    assert detail["field"] == "revenue"
    assert detail["code"] == "extra_forbidden"
    assert "unknown field 'revenue'" in detail["message"]
    assert "properties" in detail["message"]


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_every_type_rejects_an_unknown_context_field(type_: str) -> None:
    assert problem_fields(event(type_, context={"scenes": 1007})) == ["context.scenes"]


def test_unknown_type_lists_the_allowed_types() -> None:
    with pytest.raises(ValidationError) as info:
        validate(event("purchase"))
    raw_message = info.value.errors()[0]["msg"]
    for type_ in EVENT_TYPES:
        assert f"'{type_}'" in raw_message
    [detail] = error_details(info.value)
    assert detail["field"] == "type"
    assert detail["message"] == f"must be one of: {', '.join(EVENT_TYPES)}; got 'purchase'"


def test_missing_type_lists_the_allowed_types() -> None:
    raw = event()
    del raw["type"]
    [detail] = problems(raw)
    assert detail["field"] == "type"
    assert "missing" in detail["message"]
    assert "exposure, click, enter" in detail["message"]


@pytest.mark.parametrize("not_an_event", ["enter", 42, None, [event()]])
def test_not_an_object(not_an_event: Any) -> None:
    [detail] = problems(not_an_event)
    assert detail["field"] == "(event)"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (event("convert", properties=None), "properties"),
        (event("convert", properties={"revenue": "1"}), "properties.order_id"),
        (event("repurchase", properties={"order_id": "o"}), "properties.revenue"),
        (event("custom", name=None), "name"),
        ({k: v for k, v in event("custom").items() if k != "name"}, "name"),
        (event("share", share_id=""), "share_id"),
        (event("share", method=""), "method"),
        (event("identify", phone="12345"), "phone"),
        (event("enter", name="x"), "name"),  # only custom events have a name
        (event("enter", traits={}), "traits"),  # only identify has traits
        (event("enter", share_id="s"), "share_id"),  # only share has share_id
    ],
)
def test_type_specific_invalid(raw: dict[str, Any], field: str) -> None:
    assert field in problem_fields(raw)


def test_purchase_requires_properties() -> None:
    raw = event("convert")
    del raw["properties"]
    assert problem_fields(raw) == ["properties"]


def test_share_event_fields() -> None:
    parsed = validate(event("share", share_id="s-1", method="timeline"))
    assert (parsed.share_id, parsed.method) == ("s-1", "timeline")


# ---------------------------------------------------------------------------------------------------------
# Limits: at the boundary (accepted) and one past (rejected)
# ---------------------------------------------------------------------------------------------------------

LIMITS: list[tuple[str, str, Any, Any]] = [
    # (type, dotted path, accepted at the boundary, rejected one past)
    ("enter", "event_id", "x" * 64, "x" * 65),
    ("enter", "event_id", "!", ""),
    ("enter", "anonymous_id", "a" * 128, "a" * 129),
    ("enter", "anonymous_id", "a", ""),
    ("enter", "user_id", "u" * 128, "u" * 129),
    ("enter", "user_id", "u", ""),
    ("enter", "openid", "o" * 128, "o" * 129),
    ("enter", "unionid", "n" * 128, "n" * 129),
    ("enter", "context.app_version", "v" * 64, "v" * 65),
    ("enter", "context.sdk", {"name": "n" * 64, "version": "1"}, {"name": "n" * 65, "version": "1"}),
    ("enter", "context.sdk", {"name": "n", "version": "v" * 64}, {"name": "n", "version": "v" * 65}),
    ("enter", "context.sdk", {"name": "n", "version": "1"}, {"name": "", "version": "1"}),
    ("enter", "context.sdk", {"name": "n", "version": "1"}, {"name": "n"}),
    ("enter", "context.scene", 1000, 999),
    ("enter", "context.scene", 9999, 10000),
    ("enter", "context.path", "p" * 512, "p" * 513),
    ("enter", "context.query", {f"k{i}": "v" for i in range(64)}, {f"k{i}": "v" for i in range(65)}),
    ("enter", "context.query", {"k" * 64: "v"}, {"k" * 65: "v"}),
    ("enter", "context.query", {"k": ""}, {"": "v"}),
    ("enter", "context.query", {"gdt_vid": "v" * 1024}, {"gdt_vid": "v" * 1025}),
    ("enter", "context.query", {"scene": "1047"}, {"scene": 1047}),
    ("enter", "context.campaign.source", "s" * 256, "s" * 257),
    ("enter", "context.campaign.medium", "m" * 256, "m" * 257),
    ("enter", "context.campaign.name", "n" * 256, "n" * 257),
    ("enter", "context.campaign.content", "c" * 256, "c" * 257),
    ("enter", "context.campaign.term", "t" * 256, "t" * 257),
    ("enter", "context.share.from", "f" * 128, "f" * 129),
    ("enter", "context.share.from", "f", ""),
    ("enter", "context.share.depth", 0, -1),
    ("enter", "context.share.depth", 100, 101),
    ("enter", "context.device.brand", "b" * 64, "b" * 65),
    ("enter", "context.device.model", "m" * 64, "m" * 65),
    ("enter", "context.device.os", "o" * 64, "o" * 65),
    ("enter", "context.device.os_version", "v" * 64, "v" * 65),
    ("enter", "context.device.screen_width", 0, -1),
    ("enter", "context.device.screen_width", 100_000, 100_001),
    ("enter", "context.device.screen_height", 100_000, 100_001),
    ("enter", "context.network", "n" * 16, "n" * 17),
    ("enter", "context.platform", "web", "ios"),
    ("enter", "properties", {f"p{i}": i for i in range(100)}, {f"p{i}": i for i in range(101)}),
    ("identify", "traits", {f"t{i}": i for i in range(100)}, {f"t{i}": i for i in range(101)}),
    ("identify", "phone", "+12345", "12345"),
    ("identify", "phone", "1" * 20, "1" * 21),
    ("identify", "phone", "+" + "1" * 19, "+" + "1" * 20),
    ("custom", "name", "a" * 64, "a" * 65),
    ("custom", "name", "a", ""),
    ("share", "share_id", "s" * 128, "s" * 129),
    ("share", "method", "m" * 64, "m" * 65),
    ("convert", "properties.order_id", "o" * 128, "o" * 129),
    ("convert", "properties.order_id", "o", ""),
    # The money columns are Decimal(18, 4): 14 digits before the point.
    ("convert", "properties.revenue", "99999999999999.99", "100000000000000"),
    ("convert", "properties.revenue", 99999999999999, 100000000000000),
    ("convert", "properties.revenue", 0, -0.01),
    ("convert", "properties.revenue", "0.01", "0.001"),
    (
        "convert",
        "properties",
        {"order_id": "o", "revenue": 1, "currency": "CNY", **{f"p{i}": i for i in range(97)}},
        {"order_id": "o", "revenue": 1, "currency": "CNY", **{f"p{i}": i for i in range(98)}},
    ),
]


@pytest.mark.parametrize(("type_", "path", "ok", "bad"), LIMITS)
def test_limit_boundary(type_: str, path: str, ok: Any, bad: Any) -> None:
    validate(put(event(type_), path, ok))
    fields = problem_fields(put(event(type_), path, bad))
    assert len(fields) == 1
    assert fields[0].startswith(path), fields


def test_limit_messages_name_the_limit_and_what_was_sent() -> None:
    [detail] = problems(event(context={"path": "p" * 513}))
    assert detail["field"] == "context.path"
    assert "at most 512 characters" in detail["message"]
    assert "(513 characters)" in detail["message"]
    [detail] = problems(event(context={"scene": 10000}))
    assert detail["message"] == (
        "wechat scenes are integers 1000..9999 (or the same number as a 4-digit string, e.g. '1007'); got 10000"
    )
    [detail] = problems(event(context={"query": {f"k{i}": "v" for i in range(65)}}))
    assert detail["field"] == "context.query"
    assert "at most 64 items" in detail["message"]


@pytest.mark.parametrize("event_id", ["a b", "tab\there", "é", "\x7f", "id\n"])
def test_event_id_printable_ascii_without_spaces(event_id: str) -> None:
    [detail] = problems(event(event_id=event_id))
    assert detail["field"] == "event_id"
    assert "printable ASCII without spaces" in detail["message"]


def test_event_id_accepts_every_printable_ascii_character() -> None:
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    for start in range(0, len(printable), 64):
        validate(event(event_id=printable[start : start + 64]))


@pytest.mark.parametrize("name", ["a", "add_to_cart", "Coupon.Claim", "ns:search-v2", "x1_.:-"])
def test_custom_name_accepted(name: str) -> None:
    assert validate(event("custom", name=name)).name == name


@pytest.mark.parametrize("name", ["1abc", "_x", "-x", "add to cart", "购买", "a/b"])
def test_custom_name_rejected(name: str) -> None:
    [detail] = problems(event("custom", name=name))
    assert detail["field"] == "name"
    assert "must start with a letter" in detail["message"]


@pytest.mark.parametrize("phone", ["138-0013-8000", "++8613800138000", "86 13800138000", "phone123"])
def test_phone_format_rejected_without_echoing_the_number(phone: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(event("identify", phone=phone))
    text = explain(info.value)
    assert text.startswith("phone: ")
    assert phone not in text
    assert "personal data" in text


@pytest.mark.parametrize("platform", PLATFORMS)
def test_platforms(platform: str) -> None:
    assert validate(event(context={"platform": platform})).context.platform == platform


# ---------------------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (TS_MS, datetime(2024, 5, 1, 8, tzinfo=UTC)),
        (TS_MS + 123, datetime(2024, 5, 1, 8, 0, 0, 123_000, tzinfo=UTC)),
        (float(TS_MS) + 123.5, datetime(2024, 5, 1, 8, 0, 0, 123_500, tzinfo=UTC)),
        ("2024-05-01T08:00:00Z", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("2024-05-01T08:00:00.123Z", datetime(2024, 5, 1, 8, 0, 0, 123_000, tzinfo=UTC)),
        ("2024-05-01T16:00:00+08:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("2024-05-01T03:00:00-05:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("2024-05-01T08:00:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),  # naive ISO is UTC
        ("2024-05-01 08:00:00.5", datetime(2024, 5, 1, 8, 0, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_timestamp_forms(sent: Any, expected: datetime) -> None:
    parsed = validate(event(timestamp=sent)).timestamp
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("ok", "bad"),
    [
        (946_684_800_000, 946_684_799_999),  # 2000-01-01T00:00:00.000Z in epoch ms
        ("2000-01-01T00:00:00Z", "1999-12-31T23:59:59.999Z"),
        ("2000-01-01T08:00:00+08:00", "2000-01-01T07:59:59+08:00"),  # the year counts in UTC
        (4_133_980_799_999, 4_133_980_800_000),  # 2100-12-31T23:59:59.999Z in epoch ms
        ("2100-12-31T23:59:59.999Z", "2101-01-01T00:00:00Z"),
    ],
)
def test_timestamp_year_range(ok: Any, bad: Any) -> None:
    validate(event(timestamp=ok))
    [detail] = problems(event(timestamp=bad))
    assert detail["field"] == "timestamp"
    assert detail["code"] == "timestamp_out_of_range"
    assert "between the years 2000 and 2100" in detail["message"]


def test_epoch_seconds_are_rejected_with_a_hint() -> None:
    [detail] = problems(event(timestamp=1_714_550_400))
    assert "got 1970-01-20T20:15:50.400Z" in detail["message"]
    assert "epoch seconds instead of epoch milliseconds?" in detail["message"]


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01T00:00:00Z", True, None, {"ms": TS_MS}, ""])
def test_timestamp_garbage(bad: Any) -> None:
    assert problem_fields(event(timestamp=bad)) == ["timestamp"]


# ---------------------------------------------------------------------------------------------------------
# Purchases: revenue and currency
# ---------------------------------------------------------------------------------------------------------


def purchase(**props: Any) -> ConvertEvent:
    parsed = validate(event("convert", properties={"order_id": "o-1", **props}))
    assert isinstance(parsed, ConvertEvent)
    return parsed


@pytest.mark.parametrize(
    ("sent", "expected", "as_text"),
    [
        ("19.90", Decimal("19.90"), "19.90"),
        (19.9, Decimal("19.9"), "19.9"),
        (0.1, Decimal("0.1"), "0.1"),
        (199.99, Decimal("199.99"), "199.99"),
        (0, Decimal(0), "0"),
        ("0.00", Decimal("0.00"), "0.00"),
        (100, Decimal(100), "100"),
        ("1E+2", Decimal(100), "100"),
        ("-0", Decimal(0), "0"),
    ],
)
def test_revenue_is_exact(sent: Any, expected: Decimal, as_text: str) -> None:
    parsed = purchase(revenue=sent)
    revenue = parsed.properties.revenue
    assert isinstance(revenue, Decimal)
    assert revenue == expected
    assert parsed.model_dump(mode="json")["properties"]["revenue"] == as_text


def test_float_revenue_is_not_the_binary_expansion() -> None:
    revenue = purchase(revenue=19.9).properties.revenue
    assert revenue.as_tuple() == Decimal("19.9").as_tuple()
    assert revenue != Decimal.from_float(
        19.9
    )  # the binary expansion 19.89999999999999857891452847979962825775146484375


@pytest.mark.parametrize("bad", [-1, "-0.01", "1.005", 1.005, 19.999, "abc", "NaN", "Infinity", float("inf"), True])
def test_revenue_rejected(bad: Any) -> None:
    [detail] = problems(event("convert", properties={"order_id": "o", "revenue": bad}))
    assert detail["field"] == "properties.revenue"


def test_revenue_three_decimal_places_message() -> None:
    [detail] = problems(event("convert", properties={"order_id": "o", "revenue": "19.999"}))
    assert detail["message"] == "Decimal input should have no more than 2 decimal places; got '19.999'"


def test_revenue_from_json_text() -> None:
    body = json.dumps(event("convert", properties={"order_id": "o", "revenue": 19.9})).encode()
    assert EVENT_ADAPTER.validate_json(body).properties.revenue == Decimal("19.9")  # type: ignore[union-attr]


def test_currency_default_and_format() -> None:
    assert purchase(revenue=1).properties.currency == "CNY"
    assert purchase(revenue=1, currency="USD").properties.currency == "USD"
    for bad in ["usd", "US", "USDT", "", "12A", None]:
        [detail] = problems(event("convert", properties={"order_id": "o", "revenue": 1, "currency": bad}))
        assert detail["field"] == "properties.currency"
    [detail] = problems(event("convert", properties={"order_id": "o", "revenue": 1, "currency": "rmb"}))
    assert "ISO-4217" in detail["message"]


def test_purchase_keeps_extra_properties() -> None:
    props = purchase(revenue="5", sku="A-1", items=[{"sku": "A-1", "qty": 2}]).properties
    assert isinstance(props, PurchaseProperties)
    assert props.model_extra == {"sku": "A-1", "items": [{"sku": "A-1", "qty": 2}]}
    assert props.model_dump(mode="json") == {
        "order_id": "o-1",
        "revenue": "5",
        "currency": "CNY",
        "sku": "A-1",
        "items": [{"sku": "A-1", "qty": 2}],
    }


def test_too_many_purchase_properties_message() -> None:
    props = {"order_id": "o", "revenue": 1, **{f"p{i}": i for i in range(98)}}
    [detail] = problems(event("repurchase", properties=props))
    assert detail["code"] == "too_many_properties"
    assert "at most 100 keys" in detail["message"]
    assert "got 101" in detail["message"]


# ---------------------------------------------------------------------------------------------------------
# identify, context, properties
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ids",
    [{"user_id": "u"}, {"openid": "o"}, {"unionid": "n"}, {"phone": "+8613800138000"}, {"phone": "13800138000"}],
)
def test_identify_binds_at_least_one_id(ids: dict[str, str]) -> None:
    raw = {k: v for k, v in event("identify").items() if k != "user_id"}
    parsed = validate({**raw, **ids})
    assert isinstance(parsed, IdentifyEvent)
    assert parsed.phone_hash is None


def test_identify_without_any_id() -> None:
    raw = {k: v for k, v in event("identify", traits={"nickname": "x"}).items() if k != "user_id"}
    [detail] = problems(raw)
    assert detail["code"] == "identify_without_id"
    assert "at least one of user_id, openid, unionid or phone" in detail["message"]


def test_identify_phone_field_documents_hashing() -> None:
    description = IdentifyEvent.model_fields["phone"].description or ""
    assert "keyed hash" in description
    assert "phone_hash" in description


def test_context_defaults_and_share_alias() -> None:
    parsed = validate(event(context={"share": {"from": "u-9", "depth": 2}}))
    assert isinstance(parsed, EnterEvent)
    assert parsed.context.platform == "wechat"
    assert parsed.context.share is not None
    assert parsed.context.share.from_ == "u-9"
    assert parsed.model_dump(mode="json")["context"]["share"] == {"from": "u-9", "depth": 2}
    assert problem_fields(event(context={"share": {"from_": "u-9"}})) == ["context.share.from_"]


@pytest.mark.parametrize("path", ["context.sdk.build", "context.campaign.id", "context.device.dpr", "context.share.x"])
def test_nested_context_rejects_unknown_fields(path: str) -> None:
    raw = put(event(), path, 1)
    if path.startswith("context.sdk"):
        raw["context"]["sdk"].update(name="n", version="1")
    assert problem_fields(raw) == [path]


def test_properties_are_free() -> None:
    props = {"nested": {"deep": [1, {"x": None}]}, "n": 1.5, "flag": True, "text": "文字"}
    assert validate(event(properties=props)).properties == props


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


def test_errors_drop_the_union_tag_and_truncate_what_was_sent() -> None:
    [detail] = problems(event(context={"query": {"gdt_vid": "v" * 2000}}))
    assert detail["field"] == "context.query.gdt_vid"
    assert len(detail["message"]) < 200
    assert "(2000 characters)" in detail["message"]


def test_explain_is_one_line_and_bounded() -> None:
    raw = event(event_id="", anonymous_id="", context={"scene": 1, "path": "p" * 600}, extra=1)
    with pytest.raises(ValidationError) as info:
        validate(raw)
    text = explain(info.value, limit=2)
    assert "\n" not in text
    assert text.startswith("event_id: ")
    assert text.endswith("and 3 more")


# ---------------------------------------------------------------------------------------------------------
# Batch envelope and server-owned fields
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(SERVER_FIELDS))
def test_strip_server_fields(field: str) -> None:
    raw = event(**{field: "client value"})
    before = copy.deepcopy(raw)
    stripped = strip_server_fields(raw)
    assert field not in stripped
    assert raw == before  # pure
    validate(stripped)
    assert problem_fields(raw) == [field]  # without the step the field is an unknown field


def test_strip_server_fields_returns_the_same_dict_when_clean() -> None:
    raw = event()
    assert strip_server_fields(raw) is raw


def test_server_fields_are_exactly_the_documented_ones() -> None:
    assert {"received_at", "app_id", "ip", "user_agent", "event_time"} <= SERVER_FIELDS
    assert SERVER_FIELDS - {"received_at", "app_id", "ip", "user_agent", "event_time"} == {"phone_hash"}


def test_batch_envelope() -> None:
    batch = BatchEnvelope.model_validate({"sent_at": TS_MS, "events": [event(), {"type": "nonsense"}, 3]})
    assert batch.sent_at == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert len(batch.events) == 3  # raw: a bad event does not sink the batch
    assert BatchEnvelope.model_validate({"events": []}).sent_at is None
    assert BatchEnvelope.model_validate({"sent_at": "2024-05-01T08:00:00", "events": []}).sent_at == datetime(
        2024, 5, 1, 8, tzinfo=UTC
    )
    with pytest.raises(ValidationError):
        BatchEnvelope.model_validate({"sent_at": TS_MS})
    with pytest.raises(ValidationError):
        BatchEnvelope.model_validate({"events": [], "write_key": "k"})
    with pytest.raises(ValidationError):
        BatchEnvelope.model_validate({"events": {}})


def test_parse_sent_at() -> None:
    assert parse_sent_at(TS_MS) == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert parse_sent_at("2024-05-01T16:00:00+08:00").tzinfo is UTC
    with pytest.raises(ValueError, match=r"^timestamp must be between the years 2000 and 2100.*got 1714550400\)"):
        parse_sent_at(1_714_550_400)
    with pytest.raises(ValueError, match="expected epoch milliseconds or an ISO-8601 string") as info:
        parse_sent_at("soon")
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# The README examples are valid
# ---------------------------------------------------------------------------------------------------------


def readme_json_blocks() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_readme_examples_validate() -> None:
    events = []
    for block in readme_json_blocks():
        if "events" in block:
            batch = BatchEnvelope.model_validate(block)
            events.extend(batch.events)
        elif "received_at" not in block:  # the enriched record is checked in test_enrich
            events.append(block)
    parsed = [validate(strip_server_fields(raw)) for raw in events]
    assert [p.type for p in parsed] == ["enter", "convert", "identify"]
    assert "gdt_vid" in parsed[0].context.query
    assert parsed[1].properties.revenue == Decimal("199.90")
    assert parsed[2].phone == "+8613800138000"


def test_readme_documents_every_type_and_limit() -> None:
    text = README.read_text(encoding="utf-8")
    for type_ in EVENT_TYPES:
        assert f"`{type_}`" in text
    for snippet in ["1..64 printable ASCII", "1000..9999", "≤ 64 keys", "≤ 1024", "at most 100 keys", "CNY"]:
        assert snippet in text
    for field in SERVER_FIELDS:
        assert f"`{field}`" in text


def test_timestamps_compare_across_offsets() -> None:
    a = validate(event(timestamp="2024-05-01T16:00:00+08:00")).timestamp
    b = validate(event(timestamp=TS_MS)).timestamp
    assert a == b
    assert a.utcoffset() == timedelta(0)
    assert a.astimezone(timezone(timedelta(hours=8))).hour == 16
