"""Table tests of the collector's pure pieces: body decoding, shape limits, client IP, routing, phone numbers."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import ipaddress
from typing import Any

import orjson
import pytest

from collector.body import BodyLimits, decompress, parse_batch, shape_problem
from collector.errors import CollectorError, MalformedBody, PayloadTooLarge, UnsupportedEncoding
from collector.network import Network, client_ip
from collector.pii import PiiHasher, normalise_phone
from collector.routing import route_events
from tests.unit.collector.conftest import event_key

LIMITS = BodyLimits(max_body_bytes=1_000, max_events=3, max_event_bytes=500, max_depth=4, max_string_chars=10)


# ---------------------------------------------------------------------------------------------------------
# decompress
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity", " Identity "])
def test_decompress_identity_returns_the_bytes_as_sent(encoding: str | None) -> None:
    assert decompress(b"\x1f\x8b not inflated", encoding, LIMITS) == b"\x1f\x8b not inflated"


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip ", "x-gzip"])
def test_decompress_gzip(encoding: str) -> None:
    assert decompress(gzip.compress(b'{"events": []}'), encoding, LIMITS) == b'{"events": []}'


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (gzip.compress(b"x" * 1_000), None, None),  # exactly the limit
        (gzip.compress(b"x" * 1_001), PayloadTooLarge, "the decompressed body is over 1000 bytes"),
        (gzip.compress(b"\0" * 10_000_000), PayloadTooLarge, "the decompressed body is over 1000 bytes"),
        (gzip.compress(b"x" * 500)[:-8], MalformedBody, "the gzip body is truncated"),  # no trailer
        (gzip.compress(b"x" * 500)[:12], MalformedBody, "the gzip body is truncated"),
        (b"", MalformedBody, "the gzip body is truncated"),
        (b"plain text", MalformedBody, "the gzip body is corrupt"),
        (gzip.compress(b"a") + gzip.compress(b"b"), MalformedBody, "trailing data after the first member"),
        (gzip.compress(b"a") + b"junk", MalformedBody, "trailing data after the first member"),
    ],
)
def test_decompress_bounds_and_errors(raw: bytes, error: type[CollectorError] | None, message: str | None) -> None:
    if error is None:
        assert decompress(raw, "gzip", LIMITS) == b"x" * 1_000
        return
    with pytest.raises(error) as caught:
        decompress(raw, "gzip", LIMITS)
    assert message is not None
    assert message in caught.value.message


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "zstd", "gzip, br", "gzip;q=1"])
def test_decompress_unsupported_encoding(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding) as caught:
        decompress(b"{}", encoding, LIMITS)
    assert caught.value.status == 415
    assert repr(encoding.strip().lower()) in caught.value.message


# ---------------------------------------------------------------------------------------------------------
# parse_batch
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent_at", "events"),
    [
        (b'{"events": []}', None, []),
        (b'{"sent_at": 1714550400123, "events": [1, {"a": 2}]}', 1714550400123, [1, {"a": 2}]),
        (b'{"sent_at": "x", "events": [null], "context": {"k": 1}}', "x", [None]),
        (b"[1, 2, 3]", None, [1, 2, 3]),  # a bare array: at the max_events limit
        (b'  {"events": [{}]}  \n', None, [{}]),
        (b'{"events": [1, 2, 3]}', None, [1, 2, 3]),
    ],
)
def test_parse_batch_accepts(raw: bytes, sent_at: Any, events: list[Any]) -> None:
    assert parse_batch(raw, LIMITS) == (sent_at, events)


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"", MalformedBody, "the body is empty"),
        (b"{", MalformedBody, "not valid JSON"),
        (b"[NaN]", MalformedBody, "not valid JSON"),
        (b'["\\udc00"]', MalformedBody, "not valid JSON"),
        (b'["\xc3\x28"]', MalformedBody, "not valid JSON"),
        (b"null", MalformedBody, "must be a JSON object"),
        (b'"str"', MalformedBody, "must be a JSON object"),
        (b"{}", MalformedBody, '"events" must be an array'),
        (b'{"events": null}', MalformedBody, '"events" must be an array'),
        (b'{"events": "[]"}', MalformedBody, '"events" must be an array'),
        (b'{"events": [], "batch": [], "writeKey": "k"}', MalformedBody, "unknown batch fields ['batch', 'writeKey']"),
        (b"[1, 2, 3, 4]", PayloadTooLarge, "the batch has 4 events; at most 3 per request"),
        (b'{"events": [1, 2, 3, 4]}', PayloadTooLarge, "the batch has 4 events; at most 3 per request"),
    ],
)
def test_parse_batch_refuses(raw: bytes, error: type[CollectorError], message: str) -> None:
    with pytest.raises(error) as caught:
        parse_batch(raw, LIMITS)
    assert message in caught.value.message


# ---------------------------------------------------------------------------------------------------------
# shape_problem (LIMITS: depth 4, strings 10 characters; max_properties 200)
# ---------------------------------------------------------------------------------------------------------


def deep(levels: int, leaf: Any = 1, container: str = "dict") -> Any:
    node = leaf
    for _ in range(levels):
        node = {"k": node} if container == "dict" else [node]
    return node


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({}, None),
        ({"a": "x" * 10}, None),
        (deep(4), None),  # 4 levels: the limit
        (deep(4, container="list"), None),
        (deep(5), "nested deeper than 4 levels"),
        (deep(5, container="list"), "nested deeper than 4 levels"),
        ({"a": [{"b": [1]}]}, None),
        ({"a": [{"b": [{}]}]}, "nested deeper than 4 levels"),  # empty containers count too
        ({"a": "x" * 11}, "field 'a' is longer than 10 characters"),
        ({"k" * 11: 1}, "a key is longer than 10 characters"),
        ({"k" * 10: 1}, None),
        ({"a": ["ok", "y" * 11]}, "a string is longer than 10 characters"),
        ({"a": {"b": "字" * 11}}, "field 'b' is longer than 10 characters"),  # characters, not bytes
        ({"a": "字" * 10}, None),
        (dict.fromkeys(map(str, range(200)), 1), None),
        (dict.fromkeys(map(str, range(201)), 1), "an object has 201 keys; at most 200"),
        ({"a": 10**30, "b": 1.5, "c": None, "d": True}, None),  # non-strings have no length limit
    ],
)
def test_shape_problem(value: Any, problem: str | None) -> None:
    assert shape_problem(value, LIMITS) == problem


def test_shape_problem_is_iterative_on_very_deep_input() -> None:
    # 100,000 levels would exhaust Python's recursion limit in a recursive walk.
    assert shape_problem(deep(100_000, container="list"), LIMITS) == "nested deeper than 4 levels"


# ---------------------------------------------------------------------------------------------------------
# client_ip
# ---------------------------------------------------------------------------------------------------------

PROXIES: list[Network] = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48")]


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        # No trusted proxies configured: the header is never believed.
        ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),
        # Spoofed XFF straight from a client (an untrusted peer): ignored.
        ("203.0.113.9", "1.2.3.4", PROXIES, "203.0.113.9"),
        ("203.0.113.9", "10.0.0.1", PROXIES, "203.0.113.9"),
        # Through our proxy: the right-most hop that is not ours is the client.
        ("10.0.0.1", "203.0.113.7", PROXIES, "203.0.113.7"),
        ("10.0.0.1", "1.2.3.4, 203.0.113.7", PROXIES, "203.0.113.7"),  # client-forged left part ignored
        ("10.0.0.1", "1.2.3.4,203.0.113.7, 10.0.0.2", PROXIES, "203.0.113.7"),  # two proxies of ours
        ("10.0.0.1", " 203.0.113.7 ,, ", PROXIES, "203.0.113.7"),
        ("10.0.0.1", "2001:db8::7", PROXIES, "2001:db8::7"),
        ("2001:db8:ffff::1", "198.51.100.4", PROXIES, "198.51.100.4"),
        # Unusable headers fall back to the peer.
        ("10.0.0.1", None, PROXIES, "10.0.0.1"),
        ("10.0.0.1", "", PROXIES, "10.0.0.1"),
        ("10.0.0.1", "10.0.0.2, 10.0.0.3", PROXIES, "10.0.0.1"),  # only our own hops
        ("10.0.0.1", "unknown", PROXIES, "10.0.0.1"),
        ("10.0.0.1", "1.2.3.4, <script>", PROXIES, "10.0.0.1"),  # the right-most non-proxy hop is garbage
        ("10.0.0.1", "203.0.113.7:5555", PROXIES, "10.0.0.1"),
        ("testclient", "1.2.3.4", PROXIES, "testclient"),
    ],
)
def test_client_ip(peer: str, xff: str | None, trusted: list[Network], expected: str) -> None:
    assert client_ip(peer, xff, trusted) == expected


# ---------------------------------------------------------------------------------------------------------
# route_events
# ---------------------------------------------------------------------------------------------------------


def enriched(i: int, app_id: str = "shop", anonymous_id: str = "anon", pad: int = 0) -> dict[str, Any]:
    return {"event_id": f"e{i}", "app_id": app_id, "anonymous_id": anonymous_id, "pad": "x" * pad}


def decoded(records: list[Any]) -> list[dict[str, Any]]:
    return [event for record in records for event in orjson.loads(record.value)]


@pytest.mark.parametrize("max_record_bytes", [60, 100, 250, 1_000, 10_000, 256_000])
def test_route_events_splits_at_max_record_bytes_keeping_order_and_everything(max_record_bytes: int) -> None:
    events = [enriched(i, anonymous_id=f"dev-{i % 3}", pad=(i * 7) % 40) for i in range(50)]
    records = route_events(events, "topic", max_record_bytes=max_record_bytes)
    assert decoded(records) == events
    assert sum(r.event_count for r in records) == 50
    for record in records:
        assert record.topic == "topic"
        assert record.key == event_key("shop", "dev-0")
        assert record.headers == (("format", b"events-json-array/1"),)
        assert len(orjson.loads(record.value)) == record.event_count
        # A record may exceed the limit only when it holds a single event that alone is larger.
        assert len(record.value) <= max_record_bytes or record.event_count == 1
    if max_record_bytes >= 10_000:
        assert len(records) == 1
    else:
        assert len(records) > 1


@pytest.mark.parametrize(("extra", "per_record"), [(-1, 1), (1, 2)])
def test_route_events_never_exceeds_the_limit_by_one_byte(extra: int, per_record: int) -> None:
    events = [enriched(i) for i in range(4)]
    one = len(orjson.dumps(events[0]))  # every event encodes to the same length
    two = 2 + 2 * one + 1  # "[" + a + "," + b + "]"
    # (At exactly `two` bytes the code starts a new record too: it reserves a comma per event, one byte
    # conservative; harmless, so not asserted either way.)
    records = route_events(events, "t", max_record_bytes=two + extra)
    assert [r.event_count for r in records] == [per_record] * (4 // per_record)
    assert all(len(r.value) <= two + extra for r in records)
    assert decoded(records) == events


def test_route_events_keeps_an_oversized_event_in_its_own_record() -> None:
    events = [enriched(0), enriched(1, pad=500), enriched(2)]
    records = route_events(events, "t", max_record_bytes=200)
    assert decoded(records) == events
    assert [r.event_count for r in records] == [1, 1, 1]


def test_route_events_separates_apps_and_keeps_each_apps_order() -> None:
    events = [enriched(0, "shop"), enriched(1, "blog"), enriched(2, "shop"), enriched(3, "blog")]
    records = route_events(events, "t")
    by_key = {r.key: [e["event_id"] for e in orjson.loads(r.value)] for r in records}
    assert by_key == {event_key("shop", "anon"): ["e0", "e2"], event_key("blog", "anon"): ["e1", "e3"]}


def test_route_events_of_nothing_is_no_record() -> None:
    assert route_events([], "t") == []


# ---------------------------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "normalised"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("0086 138-0013-8000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("(+86) 138.0013.8000", "13800138000"),
        ("+1 415-555-0100", "+14155550100"),  # other countries keep their code
        ("+852 9123 4567", "+85291234567"),
    ],
)
def test_normalise_phone(phone: str, normalised: str) -> None:
    assert normalise_phone(phone) == normalised


def test_normalise_phone_full_width_digits() -> None:
    assert normalise_phone("１３８ ００１３ ８０００") == "13800138000"


def test_phone_hash_is_hmac_sha256_of_the_normalised_number() -> None:
    secret = b"0123456789abcdef-secret"
    hasher = PiiHasher(secret)
    expected = hmac.new(secret, b"13800138000", hashlib.sha256).hexdigest()
    assert hasher.phone("+86 138-0013-8000") == hasher.phone("13800138000") == expected
    assert PiiHasher(b"another-secret-of-16+").phone("13800138000") != expected


def test_phone_hasher_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        PiiHasher(b"short")
