"""The re-encoding bound behind skipping the per-event size check (collector.body.events_surely_fit).

An event's size is the length of `orjson.dumps` of it as parsed, which can be longer than its text in the body.
The bound says by how much at most; if it were too small, an over-long event of a short body would be accepted.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.body import REENCODED_GROWTH, BodyLimits, events_surely_fit, parse_batch
from collector.ingest import RequestContext, ingest
from collector.pii import PiiHasher
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import RECEIVED_AT, SHOP_KEY, TS_MS, asgi_client, build_app, make_settings

HASHER = PiiHasher(b"body-limits-test-secret-0123456789")


def _growth(text: str) -> float:
    return len(orjson.dumps(orjson.loads(text))) / len(text)


def test_the_worst_number_is_1e15_by_hand() -> None:
    # 4 bytes in, 18 out: Python's and orjson's shortest form writes floats below 1e16 out in full.
    assert orjson.dumps(orjson.loads("1e15")) == b"1000000000000000.0"
    assert REENCODED_GROWTH == 18 / 4


def test_no_number_literal_grows_more() -> None:
    worst = 0.0
    for digit in "0123456789":
        for exponent in range(-330, 330):
            for form in ("{d}e{x}", "-{d}e{x}", "{d}E{x}", "{d}e+{x}", "{d}.{d}e{x}", "0.{d}e{x}"):
                text = form.format(d=digit, x=exponent)
                try:
                    worst = max(worst, _growth(text))
                except orjson.JSONDecodeError:
                    continue  # past the double range: the body is refused as a whole
    for power in range(40):
        for text in (str(10**power), str(-(10**power)), str(10**power - 1), f"{10**power}.5"):
            worst = max(worst, _growth(text))
    assert worst == REENCODED_GROWTH


_number = st.builds(
    lambda sign, whole, fraction, exponent: f"{sign}{whole}{fraction}{exponent}",
    st.sampled_from(["", "-"]),
    st.sampled_from(["0", "1", "9", "12", "1000"]) | st.integers(1, 10**30).map(str),
    st.sampled_from(["", ".0", ".5", ".000001", ".1234567890123"]),
    st.sampled_from(["", "e5", "e15", "E+15", "e-7", "e300", "e-320", "e16", "e22"])
    | st.integers(-320, 300).map(lambda x: f"e{x}"),
)
_escape = st.sampled_from(["\\n", "\\t", "\\/", "\\\\", '\\"', "\\u0001", "\\u007f", "\\u00e9", "\\ud83d\\ude00"])
_string = st.text(st.characters(exclude_categories=["Cs"]), max_size=4).map(lambda t: orjson.dumps(t).decode()) \
    | st.lists(_escape, min_size=1, max_size=3).map(lambda parts: '"' + "".join(parts) + '"')
_space = st.sampled_from(["", " ", "\n  "])
_scalar = _number | _string | st.sampled_from(["true", "false", "null"])


def _array(items: list[str], space: str) -> str:
    return "[" + space + ",".join(items) + space + "]"


def _object(items: list[tuple[str, str]], space: str) -> str:
    return "{" + ",".join(f"{space}{key}{space}:{space}{value}" for key, value in items) + space + "}"


_json_text = st.recursive(
    _scalar,
    lambda inner: st.builds(_array, st.lists(inner, max_size=4), _space)
    | st.builds(_object, st.lists(st.tuples(_string, inner), max_size=4), _space),
    max_leaves=16,
)


@settings(max_examples=800, deadline=None)
@given(_json_text)
def test_no_document_grows_more(text: str) -> None:
    try:
        growth = _growth(text)
    except orjson.JSONDecodeError:
        return  # refused as a whole (a number past the double range, a lone surrogate): nothing to measure
    assert growth <= REENCODED_GROWTH


def test_the_decision_at_the_boundary() -> None:
    # By hand: 32,768 / 4.5 = 7,281.8, so 7,281 bytes always fit and 7,282 may not.
    limits = BodyLimits(max_event_bytes=32_768)
    assert events_surely_fit(7_281, limits)
    assert not events_surely_fit(7_282, limits)


SMALL_EVENT = f'{{"event_id":"e-2","type":"click","timestamp":{TS_MS},"anonymous_id":"anon-2"}}'


def _numbers_event(count: int) -> str:
    numbers = ",".join(f'"p{i}":1e15' for i in range(count))
    return (f'{{"event_id":"e-1","type":"click","timestamp":{TS_MS},"anonymous_id":"anon-1",'
            f'"properties":{{{numbers}}}}}')


@pytest.mark.parametrize("body_known", [True, False])
def test_an_event_that_grows_past_the_limit_is_still_refused(body_known: bool) -> None:
    # ~290 bytes of text that re-encode to ~580: over a 512-byte limit although the whole body is shorter.
    text = '{"events":[' + _numbers_event(20) + "]}"
    limits = BodyLimits(max_event_bytes=512)
    assert len(text) < 512 < len(orjson.dumps(orjson.loads(text)["events"][0]))
    sent_at, raw = parse_batch(text.encode(), limits)
    ctx = RequestContext("shop", RECEIVED_AT, "10.0.0.1", "ua/1")
    result = ingest(raw, sent_at, ctx, limits, HASHER, body_bytes=len(text) if body_known else None)
    assert [(r.index, r.code) for r in result.rejected] == [(0, "too_large")]
    assert result.accepted == []


async def test_the_route_refuses_it_too_and_accepts_its_neighbours() -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_max_event_bytes=512), sink)
    small = SMALL_EVENT
    text = '{"events":[' + _numbers_event(20) + "," + small + "]}"
    async with asgi_client(app) as client:
        r = await client.post("/v1/batch", content=text,
                              headers={"X-Write-Key": SHOP_KEY, "Content-Type": "application/json"})
    assert r.status_code == 200
    assert (r.json()["accepted"], [(x["index"], x["code"]) for x in r.json()["rejected"]]) == (1, [(0, "too_large")])
    events = [e for record in sink.records if record.topic == "t.events" for e in orjson.loads(record.value)]
    assert [e["event_id"] for e in events] == ["e-2"]


def test_a_short_body_skips_the_check_and_gives_the_same_result() -> None:
    small = SMALL_EVENT
    text = '{"events":[' + small + "]}"
    limits = BodyLimits(max_event_bytes=512)
    assert events_surely_fit(len(text), limits)
    sent_at, raw = parse_batch(text.encode(), limits)
    ctx = RequestContext("shop", RECEIVED_AT, "10.0.0.1", "ua/1")
    known = ingest(raw, sent_at, ctx, limits, HASHER, body_bytes=len(text))
    unknown = ingest(raw, sent_at, ctx, limits, HASHER)
    assert known.accepted == unknown.accepted
    assert [e["event_id"] for e in known.accepted] == ["e-2"]
