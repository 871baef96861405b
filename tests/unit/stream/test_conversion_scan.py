"""The compiled scan of an events record (native/src/conversion_scan.rs) against its reference.

`PartitionProcessor.questions` needs, of each conversion and refund event of a record, `(app_id, event_id)` and a
refund's order id. `conversion_events` reads them from the decoded record; the crate scans the JSON for them. On the
benchmark's records and on hostile JSON (items of every shape, duplicate and escaped keys, ids and order ids of
every type), wherever the crate answers, its answer must equal the reference's, types included; where the JSON does
not decode, or holds an item or `properties` of a shape the collector never writes, it must decline.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.bench_processing import catchup_records, live_records
from schemas.events import REFUND_TYPES
from schemas.records import EVENTS_FORMAT, RecordFormatError
from stream.journeys.engine import FAMILIES
from stream.processor import _SCAN, asked_events, conversion_events

_KINDS = [*sorted(FAMILIES), *sorted(REFUND_TYPES), "click", "enter", "", "Convert"]
_SCALARS: list[Any] = [
    "a", "", "app01", "ev-1", "é\u2028", 0, 1, -3, 0.0, 2.5, True, False, None, [], [1], {}, {"x": 1},
]


def _reference(value: bytes) -> list[tuple[Any, str | None]] | None:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return conversion_events(decoded) if isinstance(decoded, list) else None


def _check(value: bytes) -> bool:
    """True if the crate answered (and agreed)."""
    scanned = _SCAN.keys(value)
    reference = _reference(value)
    if reference is None:
        assert scanned is None
        return False
    if scanned is None:
        return False
    assert scanned == reference
    assert [(type(k[0]), type(k[1]), type(o)) for k, o in scanned] == [
        (type(k[0]), type(k[1]), type(o)) for k, o in reference
    ]
    return True


def test_the_benchmarks_records_are_all_scanned_and_agree() -> None:
    records = [value for items in live_records(4_000, legacy=False).values() for value, _, _ in items]
    records += [value for items in catchup_records(400, 20.0, legacy=False).values() for value, _, _ in items]
    answered = [_check(value) for value in records]
    assert len(answered) > 300
    assert all(answered)
    asked = [pair for value in records for pair in (_SCAN.keys(value) or [])]
    assert len(asked) > 100  # the streams' conversions (they hold no refunds: those are tested below)
    assert all(order is None for _, order in asked)


def _member(draw: Any, key: str) -> str:
    value: Any
    if key == "type":
        value = draw(st.sampled_from(_KINDS) | st.sampled_from(_SCALARS))
    elif key in ("app_id", "event_id"):
        value = draw(st.sampled_from(["a", "app01", "ev-1", "é\u2028"]) | st.sampled_from(_SCALARS))
    elif key == "properties":
        value = draw(st.one_of(
            st.sampled_from(_SCALARS),
            st.dictionaries(st.sampled_from(["order_id", "revenue", "x"]), st.sampled_from(_SCALARS), max_size=3),
        ))
    else:
        value = draw(st.sampled_from(_SCALARS))
    name = json.dumps(key) if draw(st.booleans()) else '"' + "".join(f"\\u{ord(c):04x}" for c in key) + '"'
    return f"{name}: {json.dumps(value)}"


@st.composite
def _item(draw: Any) -> str:
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(st.sampled_from(_SCALARS)))
    keys = draw(st.lists(st.sampled_from(["type", "app_id", "event_id", "properties", "name"]), max_size=5))
    if draw(st.booleans()):  # most items that matter have all three
        keys = draw(st.permutations(["type", "app_id", "event_id", *keys]))
    return "{" + ", ".join(_member(draw, key) for key in keys) + "}"  # repeated keys: the last one counts


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_item(), max_size=6))
def test_hostile_records_are_answered_as_the_reference_answers(items: list[str]) -> None:
    _check(("[" + ", ".join(items) + "]").encode())


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"{}",
        b'{"type": "convert"}',
        b"[1, 2",
        b'[{"type": "convert", "app_id": "a", "event_id": "e"}] x',
        b'["\\ud800"]',
        b"[1e400]",
        b"[NaN]",
        b'[{"type": "convert", "app_id": "a", "event_id": "e"}, {"type": "convert", "app_id": 5, "event_id": "e"}]',
        b'[{"type": "refund", "app_id": "a", "event_id": "e", "properties": {"order_id": 12}}]',
        b'[{"type": "convert", "app_id": "a", "event_id": "e"}, 5]',  # an item that is not an object
        b'[{"type": "refund", "app_id": "a", "event_id": "e", "properties": "x"}]',  # properties not an object
    ],
)
def test_what_it_cannot_answer_exactly_is_declined(value: bytes) -> None:
    assert _SCAN.keys(value) is None


def test_a_refund_gives_its_order_and_a_conversion_none() -> None:
    refund = sorted(REFUND_TYPES)[0]
    value = orjson.dumps([
        {"type": "convert", "app_id": "a", "event_id": "e1", "properties": {"order_id": "o-1"}},
        {"type": refund, "app_id": "a", "event_id": "e2", "properties": {"order_id": "o-1"}},
        {"type": refund, "app_id": "a", "event_id": "e3", "properties": None},
        {"type": "click", "app_id": "a", "event_id": "e4"},
        {"type": "register", "event_id": "e5"},
    ])
    assert _SCAN.keys(value) == [(("a", "e1"), None), (("a", "e2"), "o-1"), (("a", "e3"), "")]


def test_asked_events_checks_the_format_header_and_reads_a_declined_record_by_the_reference() -> None:
    value = b'[{"type": "convert", "app_id": 7, "event_id": "e"}]'  # a numeric app id: declined by the crate
    assert _SCAN.keys(value) is None
    assert asked_events(value, (("format", EVENTS_FORMAT),)) == [((7, "e"), None)]
    with pytest.raises(RecordFormatError):
        asked_events(value, (("format", b"something-else/1"),))
