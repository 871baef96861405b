"""When the events cannot be stored: 503 with Retry-After, never a 200 and never a hang."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from collector.sinks import InMemorySink
from tests.unit.collector.conftest import (
    BlockingSink,
    EventFactory,
    asgi_client,
    auth,
    body,
    build_app,
    events_on_topic,
    make_settings,
)


async def test_sink_down_is_503_with_retry_after(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    sink.down = True
    r = await client.post("/v1/batch", content=body([make_event()]), headers=auth())
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert r.json() == {"error": "unavailable", "message": "sink is down"}
    assert sink.records == []


async def test_batch_of_only_rejected_events_is_503_when_the_dead_letter_cannot_be_stored(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    # Rejected events must land in the dead-letter topic before the 200 that reports them.
    sink.down = True
    r = await client.post("/v1/batch", content=body([make_event(type="nope")]), headers=auth())
    assert r.status_code == 503
    assert "retry-after" in r.headers


async def test_the_collector_recovers_when_the_sink_comes_back(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    sink.down = True
    assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 503
    sink.down = False
    r = await client.post("/v1/batch", content=body([make_event(event_id="again")]), headers=auth())
    assert r.status_code == 200
    assert [e["event_id"] for e in events_on_topic(sink)] == ["again"]


async def test_readyz_follows_the_sink_health(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    sink.down = True
    r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (503, {"status": "kafka unreachable"})
    # Liveness does not depend on Kafka: restarting the process would not bring the broker back.
    r = await client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("max_in_flight", [1, 2])
async def test_too_many_batches_in_flight_is_503(make_event: EventFactory, max_in_flight: int) -> None:
    sink = BlockingSink()
    app = build_app(make_settings(collector_max_in_flight=max_in_flight), sink)
    async with asgi_client(app) as client:
        blocked = []
        for i in range(max_in_flight):
            sink.entered.clear()
            content = body([make_event(event_id=f"slow-{i}")])
            blocked.append(asyncio.create_task(client.post("/v1/batch", content=content, headers=auth())))
            await asyncio.wait_for(sink.entered.wait(), 10)  # a guard against a hang, not a timing assert

        r = await client.post("/v1/batch", content=body([make_event(event_id="one-too-many")]), headers=auth())
        assert r.status_code == 503
        assert r.json()["error"] == "overloaded"
        assert r.headers["retry-after"] == "2"

        sink.release.set()
        done = await asyncio.gather(*blocked)
        assert [d.status_code for d in done] == [200] * max_in_flight
        # The slots are free again.
        r = await client.post("/v1/batch", content=body([make_event(event_id="later")]), headers=auth())
        assert r.status_code == 200
    forwarded = [rec.value for rec in sink.records]
    assert not any(b"one-too-many" in v for v in forwarded)
    assert sum(b"later" in v for v in forwarded) == 1
    assert app.state.collector.admission.in_flight == 0


async def test_an_in_flight_slot_is_released_when_the_publish_fails(make_event: EventFactory) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_max_in_flight=1), sink)
    async with asgi_client(app) as client:
        sink.down = True
        assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 503
        assert (await client.post("/v1/batch", content=b"{", headers=auth())).status_code == 400
        sink.down = False
        assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 200
    assert app.state.collector.admission.in_flight == 0


async def test_readyz_is_503_while_draining(client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory) -> None:
    state = app.state.collector
    state.admission.draining = True
    r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (503, {"status": "draining"})
    r = await client.post("/v1/batch", content=body([make_event()]), headers=auth())
    assert r.status_code == 503
    assert r.json()["error"] == "overloaded"
