"""Property test: whatever the body, the collector answers with a deliberate status (never a 500), and a 200
accounts for every event sent. Plus the OpenAPI document of /v1/batch."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.sinks import InMemorySink
from schemas.events import EVENT_TYPES
from tests.unit.collector.conftest import (
    SHOP_KEY,
    TS_MS,
    asgi_client,
    build_app,
    dead_letters,
    events_on_topic,
    make_settings,
)

# One app for every example: the sink is emptied before each one.
SINK = InMemorySink()
APP = build_app(make_settings(), SINK)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits too
    | st.floats()  # NaN and ±Infinity too (written by json.dumps as NaN / Infinity)
    | st.text(max_size=20)
    | st.text(st.characters(codec=None, categories=["Cs", "Lo", "Nd", "Zs"]), max_size=5)  # lone surrogates
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)
timestamps = (
    st.just(TS_MS)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.sampled_from(["2024-05-01T08:00:00Z", "2024-05-01T16:00:00+08:00", "2024-05-01", "1714550400123", ""])
    | json_values
)
event_shaped = st.fixed_dictionaries(
    {
        "event_id": st.just("e-1") | st.text(max_size=70) | json_values,
        "type": st.sampled_from([*EVENT_TYPES, "purchase", "", "Click"]) | json_values,
        "timestamp": timestamps,
        "anonymous_id": st.just("anon-1") | st.text(max_size=130) | json_values,
    },
    optional={
        "user_id": st.text(max_size=5) | json_values,
        "phone": st.sampled_from(["+8613800138000", "138 0013 8000", "1", ""]) | json_values,
        "phone_hash": json_values,
        "name": st.sampled_from(["add_to_cart", "9bad"]) | json_values,
        "traits": st.fixed_dictionaries({}, optional={"phone": json_values, "level": json_values}) | json_values,
        "properties": st.fixed_dictionaries(
            {},
            optional={"order_id": json_values, "revenue": json_values | st.decimals().map(str), "x": json_values},
        )
        | json_values,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "scene": st.integers() | json_values,
                "query": st.dictionaries(st.text(max_size=3), json_values, max_size=3) | json_values,
                "share": st.fixed_dictionaries({}, optional={"from": json_values, "depth": json_values}),
                "platform": st.sampled_from(["wechat", "ios"]) | json_values,
            },
        )
        | json_values,
        "received_at": json_values,
        "app_id": json_values,
        "ip": json_values,
        "event_time": json_values,
    },
)
# Mostly valid events with random extras, so that a good share of examples has accepted events too.
near_valid = st.fixed_dictionaries(
    {
        "event_id": st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64),
        "type": st.sampled_from([t for t in EVENT_TYPES if t not in ("convert", "repurchase", "custom")]),
        "timestamp": st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000)
        | st.datetimes().map(lambda d: d.isoformat()),
        "anonymous_id": st.text(min_size=1, max_size=20),
    },
    optional={
        "user_id": st.text(min_size=1, max_size=10),
        "phone": st.sampled_from(["+8613800138000", "008613800138000"]),
        "traits": st.fixed_dictionaries(
            {}, optional={"phone": st.sampled_from(["138 0013 8000", "+86 138-0013-8000"]), "level": st.just("gold")}
        ),
        "properties": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
        "context": st.fixed_dictionaries(
            {}, optional={"scene": st.integers(min_value=990, max_value=10_010), "path": st.text(max_size=10)}
        ),
        "app_id": json_values,
        "received_at": json_values,
    },
)
events_lists = st.lists(near_valid | event_shaped | json_values, max_size=8)
documents = (
    json_values
    | events_lists
    | st.fixed_dictionaries({"events": events_lists}, optional={"sent_at": timestamps, "context": json_values})
    | st.fixed_dictionaries({"events": json_values}, optional={"sent_at": json_values, "extra": json_values})
)


def encode(doc: Any) -> bytes:
    # The stdlib writes what a sloppy client would: NaN, Infinity, huge integers, escaped lone surrogates.
    return json.dumps(doc, allow_nan=True).encode()


def events_sent(doc: Any) -> int | None:
    if isinstance(doc, list):
        return len(doc)
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return len(doc["events"])
    return None


@settings(
    derandomize=True,
    max_examples=300,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(doc=documents, gzipped=st.booleans())
async def test_any_body_gets_a_deliberate_answer_and_a_200_accounts_for_every_event(doc: Any, gzipped: bool) -> None:
    SINK.records.clear()
    content = encode(doc)
    headers = {"X-Write-Key": SHOP_KEY, "Content-Type": "application/json"}
    if gzipped:
        content = gzip.compress(content)
        headers["Content-Encoding"] = "gzip"
    async with asgi_client(APP, raise_app_exceptions=False) as client:
        r = await client.post("/v1/batch", content=content, headers=headers)

    assert r.status_code in (200, 400, 413, 503), r.text
    answer = r.json()
    if r.status_code != 200:
        assert set(answer) == {"error", "message"}
        assert answer["message"]
        assert SINK.records == []
        return
    sent = events_sent(doc)
    assert sent is not None
    assert answer["accepted"] + len(answer["rejected"]) == sent
    # What reached Kafka matches the answer exactly: every accepted event once, every rejection dead-lettered.
    assert len(events_on_topic(SINK)) == answer["accepted"]
    assert [d["index"] for d in dead_letters(SINK)] == [x["index"] for x in answer["rejected"]]
    assert sorted(x["index"] for x in answer["rejected"]) == [x["index"] for x in answer["rejected"]]
    assert all(0 <= x["index"] < sent for x in answer["rejected"])
    for value in (rec.value for rec in SINK.records):
        assert b"13800138000" not in value
        assert b"138 0013 8000" not in value
        assert b"138-0013-8000" not in value


async def test_openapi_documents_the_batch_endpoint(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc = orjson.loads(r.content)
    post = doc["paths"]["/v1/batch"]["post"]
    assert {"200", "400", "401", "413", "415", "503"} <= set(post["responses"])
    assert "Retry-After" in post["responses"]["503"]["description"]
    assert "/healthz" in doc["paths"]
    assert "/readyz" in doc["paths"]
