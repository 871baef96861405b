"""The collector's clock-skew threshold setting, end to end through the batch endpoint (in-memory sink, fixed
clock: received at 08:03:15.250), and its fail-fast check at start."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from collector.main import run
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import (
    RECEIVED_AT_TEXT,
    WRITE_KEYS,
    EventFactory,
    asgi_client,
    auth,
    body,
    build_app,
    events_on_topic,
    make_settings,
)


async def post_delayed(client: httpx.AsyncClient, make_event: EventFactory) -> None:
    # Sent at 08:03:10.250 by a correct device clock, received 5 s later: the event happened at 08:03:09.000.
    event = make_event(timestamp="2024-05-01T08:03:09.000Z")
    r = await client.post("/v1/batch", content=body([event], sent_at="2024-05-01T08:03:10.250Z"), headers=auth())
    assert r.status_code == 200
    assert r.json()["accepted"] == 1


async def test_five_seconds_in_transit_is_not_a_clock_error_by_default(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    await post_delayed(client, make_event)
    [out] = events_on_topic(sink)
    assert (out["event_time"], out["clock_corrected"], out["clock_clamped"]) == (
        "2024-05-01T08:03:09.000Z", False, False)
    assert out["received_at"] == RECEIVED_AT_TEXT


async def test_a_lower_threshold_corrects_the_same_batch(make_event: EventFactory) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_clock_skew_threshold_s=1), sink)
    async with asgi_client(app) as client:
        await post_delayed(client, make_event)
    [out] = events_on_topic(sink)
    # Offset −5 s is beyond 1 s: event_time = 08:03:15.250 − (08:03:10.250 − 08:03:09.000) = 08:03:14.000.
    assert (out["event_time"], out["clock_corrected"]) == ("2024-05-01T08:03:14.000Z", True)


async def test_device_seq_orders_one_device_s_events_of_a_batch(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    events = [
        make_event(event_id="s1", timestamp="2024-05-01T08:03:05.000Z", context={"device_seq": 41}),
        make_event(event_id="s2", timestamp="2024-05-01T08:03:02.000Z", context={"device_seq": 42}),
    ]
    r = await client.post("/v1/batch", content=body(events), headers=auth())
    assert r.json() == {"accepted": 2, "rejected": []}
    got = {e["event_id"]: (e["event_time"], e["clock_corrected"], e["context"]["device_seq"])
           for e in events_on_topic(sink)}
    assert got == {"s1": ("2024-05-01T08:03:05.000Z", False, 41), "s2": ("2024-05-01T08:03:05.000Z", True, 42)}


async def test_a_negative_device_seq_is_rejected_per_event(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    events = [make_event(context={"device_seq": -1}), make_event()]
    r = await client.post("/v1/batch", content=body(events), headers=auth())
    answer = r.json()
    assert answer["accepted"] == 1
    assert [(x["index"], x["code"]) for x in answer["rejected"]] == [(0, "invalid")]
    assert "context.device_seq" in answer["rejected"][0]["reason"]
    assert len(events_on_topic(sink)) == 1


@pytest.mark.parametrize("value", [-1, 86_401, "nan", "inf", "a minute"])
def test_a_bad_threshold_is_refused(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make_settings(collector_clock_skew_threshold_s=value)
    assert caught.value.errors()[0]["loc"] == ("collector_clock_skew_threshold_s",)


def test_the_collector_refuses_to_start_with_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOUCHSTREAM_ENV", "test")
    monkeypatch.setenv("COLLECTOR_WRITE_KEYS", WRITE_KEYS)
    monkeypatch.setenv("COLLECTOR_CLOCK_SKEW_THRESHOLD_S", "sixty")
    assert run() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("collector: invalid configuration: collector_clock_skew_threshold_s: ")
