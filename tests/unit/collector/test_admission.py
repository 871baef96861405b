"""One admission for every publishing route; readiness that follows publishing; 503s counted and logged by cause.

Component tests over fake sinks (no broker): the real app, driven through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from collector.cost_routes import MAX_COST_BYTES, MAX_COST_ROWS
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import (
    BlockingSink,
    EventFactory,
    PublishFailingSink,
    asgi_client,
    auth,
    body,
    build_app,
    events_on_topic,
    make_settings,
)

TOKEN = "tok_admission_0123456789"
ADMIN = "ak_shop_admin_0123456789"
WEBHOOK = f"/v1/webhooks/gdt-01/click?token={TOKEN}&click_id="


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [{
        "app_id": "shop", "write_keys": ["wk_shop_12345678"], "admin_keys": [ADMIN],
        "integrations": [{"id": "gdt-01", "platform": "tencent_ads", "token": TOKEN, "channel": "tencent_ads"}],
    }]}))
    return path


def unavailable_counts(metrics_text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith("touchstream_collector_unavailable_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('cause="', 1)[1].split('"', 1)[0]] = float(value)
    return out


async def test_readyz_is_503_while_publishing_fails_even_though_metadata_answers(make_event: EventFactory) -> None:
    sink = PublishFailingSink()
    app = build_app(make_settings(), sink)
    now = [1000.0]
    app.state.collector.monotonic = lambda: now[0]
    async with asgi_client(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        sink.refusing = True
        assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 503
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()) == (503, {"status": "publishing fails (producer_replaced)"})
        assert (await client.get("/healthz")).status_code == 200  # liveness: a restart would not help

        sink.refusing = False
        assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 200
        assert (await client.get("/readyz")).status_code == 200


async def test_readiness_after_a_failure_falls_back_to_the_probe_once_the_hold_is_over(
    make_event: EventFactory,
) -> None:
    # Without traffic (an orchestrator routes none to an unready collector) nothing would ever clear the failure.
    sink = PublishFailingSink()
    app = build_app(make_settings(), sink)
    hold = app.state.collector.health.hold_s
    now = [1000.0]
    app.state.collector.monotonic = lambda: now[0]
    sink.refusing = True
    async with asgi_client(app) as client:
        assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 503
        now[0] += hold
        assert (await client.get("/readyz")).status_code == 503
        now[0] += 0.5
        assert (await client.get("/readyz")).status_code == 200


async def test_503s_are_counted_by_cause_in_metrics(make_event: EventFactory) -> None:
    sink = PublishFailingSink()
    app = build_app(make_settings(), sink)
    async with asgi_client(app) as client:
        sink.refusing = True
        for _ in range(3):
            assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 503
        sink.refusing = False
        app.state.collector.admission.draining = True
        for _ in range(2):
            assert (await client.post("/v1/batch", content=body([make_event()]), headers=auth())).status_code == 503
        scraped = (await client.get("/metrics")).text
    assert unavailable_counts(scraped) == {"producer_replaced": 3.0, "draining": 2.0}


async def test_a_503_is_logged_once_per_cause_per_interval(
    make_event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink = PublishFailingSink()
    app = build_app(make_settings(), sink)
    interval = app.state.collector.unavailable_log.interval_s
    now = [1000.0]
    app.state.collector.monotonic = lambda: now[0]
    sink.refusing = True
    caplog.set_level(logging.WARNING, logger="collector.admission")
    async with asgi_client(app) as client:
        for _ in range(4):
            await client.post("/v1/batch", content=body([make_event()]), headers=auth())
        app.state.collector.admission.draining = True
        await client.post("/v1/batch", content=body([make_event()]), headers=auth())
        app.state.collector.admission.draining = False
        now[0] += interval
        await client.post("/v1/batch", content=body([make_event()]), headers=auth())
    lines = [r.getMessage() for r in caplog.records if r.name == "collector.admission"]
    assert lines == [
        "503 producer_replaced on /v1/batch: Kafka refused the batch: OutOfOrderSequenceNumber "
        "(1 since the last report of this cause)",
        "503 draining on /v1/batch: the collector is shutting down; retry with the same event ids "
        "(1 since the last report of this cause)",
        # The three suppressed within the interval are counted into the next line.
        "503 producer_replaced on /v1/batch: Kafka refused the batch: OutOfOrderSequenceNumber "
        "(4 since the last report of this cause)",
    ]


async def test_webhooks_and_spend_uploads_are_refused_while_draining(apps_file: Path) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    app.state.collector.admission.draining = True
    rows = {"rows": [{"date": "2024-04-30", "channel": "douyin", "spend": "10"}]}
    async with asgi_client(app) as client:
        answers = [
            await client.get(WEBHOOK + "c1"),
            await client.post(f"/v1/webhooks/gdt-01/click?token={TOKEN}", json={"click_id": "c2"}),
            await client.post("/v1/costs", json=rows, headers={"X-Admin-Key": ADMIN}),
        ]
    assert [(a.status_code, a.headers.get("retry-after"), a.json()["error"]) for a in answers] == [
        (503, "2", "overloaded")
    ] * 3
    assert sink.records == []


async def test_webhooks_and_uploads_count_against_the_in_flight_bound_and_shutdown_waits_for_them(
    apps_file: Path,
) -> None:
    sink = BlockingSink()
    app = build_app(
        make_settings(collector_apps_file=apps_file, collector_write_keys="", collector_max_in_flight=1), sink
    )
    admission = app.state.collector.admission
    rows = {"rows": [{"date": "2024-04-30", "channel": "douyin", "spend": "10"}]}
    async with asgi_client(app) as client:
        webhook = asyncio.create_task(client.get(WEBHOOK + "slow"))
        await asyncio.wait_for(sink.entered.wait(), 10)  # a guard against a hang, not a timing assert
        upload = await client.post("/v1/costs", json=rows, headers={"X-Admin-Key": ADMIN})
        assert (upload.status_code, upload.json()["error"]) == (503, "overloaded")

        drain = asyncio.create_task(admission.drain(30))
        await asyncio.sleep(0.05)
        assert not drain.done()  # the webhook is still in flight: shutdown must not stop the producer under it
        sink.release.set()
        assert (await webhook).status_code == 200
        await asyncio.wait_for(drain, 10)
    assert admission.in_flight == 0
    assert [e["click_id"] for r in sink.records for e in orjson.loads(r.value)] == ["slow"]


def in_flight_gauge(metrics_text: str) -> float:
    values = [line.rsplit(" ", 1)[1] for line in metrics_text.splitlines()
              if line.startswith("touchstream_collector_in_flight ")]
    assert len(values) == 1
    return float(values[0])


async def test_the_in_flight_gauge_counts_the_requests_being_handled(make_event: EventFactory) -> None:
    sink = BlockingSink()
    app = build_app(make_settings(), sink)
    async with asgi_client(app) as client:
        assert in_flight_gauge((await client.get("/metrics")).text) == 0
        batch = asyncio.create_task(client.post("/v1/batch", content=body([make_event()]), headers=auth()))
        await asyncio.wait_for(sink.entered.wait(), 10)
        assert in_flight_gauge((await client.get("/metrics")).text) == 1
        sink.release.set()
        assert (await batch).status_code == 200
        assert in_flight_gauge((await client.get("/metrics")).text) == 0


async def test_accepted_events_are_counted_by_app_on_the_batch_route_and_the_webhooks(
    apps_file: Path, make_event: EventFactory
) -> None:
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), InMemorySink())
    async with asgi_client(app) as client:
        batch = await client.post("/v1/batch", content=body([make_event(), make_event()]), headers=auth())
        assert batch.status_code == 200
        assert (await client.get(WEBHOOK + "counted")).status_code == 200
        text = (await client.get("/metrics")).text
    assert 'touchstream_collector_events_accepted_total{app_id="shop"} 3.0' in text.splitlines()


def spend_rows(n: int) -> list[dict[str, str]]:
    return [{"date": f"2024-04-{i % 28 + 1:02d}", "channel": "tencent_ads", "campaign": f"campaign-{i}",
             "spend": "1200.50", "source": "tencent_ads"} for i in range(n)]


async def test_a_2000_row_upload_is_accepted_and_stored_whole(apps_file: Path) -> None:
    # 2,000 rows of ~540 bytes each: more than one 256 KB record, all of them published together.
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    async with asgi_client(app) as client:
        r = await client.post("/v1/costs", json={"rows": spend_rows(2000)}, headers={"X-Admin-Key": ADMIN})
    assert (r.status_code, r.json()) == (200, {"accepted": 2000})
    assert len(sink.records) > 1 and sink.aborted == []
    assert all(rec.key == b"shop" and len(rec.value) <= 256_000 for rec in sink.records)
    events = events_on_topic(sink)
    assert sorted(e["properties"]["campaign"] for e in events) == sorted(f"campaign-{i}" for i in range(2000))
    assert len({e["event_id"] for e in events}) == 2000
    # 2,000 rows of 1,200.50 each.
    assert sum(Decimal(e["properties"]["spend"]) for e in events) == Decimal("2401000.00")


async def test_a_sink_failing_part_way_through_an_upload_keeps_nothing_and_answers_503(apps_file: Path) -> None:
    sink = InMemorySink()
    sink.fail_atomic_after = 2  # two records of the upload were handed over, then Kafka refused the third
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    app.state.collector.monotonic = lambda: 1000.0
    upload = {"rows": spend_rows(2000)}
    async with asgi_client(app) as client:
        r = await client.post("/v1/costs", json=upload, headers={"X-Admin-Key": ADMIN})
        assert (r.status_code, r.headers.get("retry-after"), r.json()["error"]) == (503, "2", "unavailable")
        assert [len(part) for part in sink.aborted] == [2]  # it did fail part-way ...
        assert sink.records == []  # ... and nothing of it is kept
        # Uploads have their own producer: a failed one does not take the replica out of rotation.
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

        sink.fail_atomic_after = None
        again = await client.post("/v1/costs", json=upload, headers={"X-Admin-Key": ADMIN})
    assert (again.status_code, again.json()) == (200, {"accepted": 2000})
    assert sum(rec.event_count for rec in sink.records) == 2000  # the retry once, nothing of the failed one


async def test_an_upload_over_5_mb_is_413_and_stores_nothing(apps_file: Path) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    rows = spend_rows(48_000)
    assert len(orjson.dumps({"rows": rows})) > MAX_COST_BYTES
    async with asgi_client(app) as client:
        r = await client.post("/v1/costs", json={"rows": rows}, headers={"X-Admin-Key": ADMIN})
    assert (r.status_code, r.json()["error"]) == (413, "payload_too_large")
    assert sink.records == [] and sink.aborted == []


def spend_csv(n: int) -> str:
    return "date,channel,campaign,spend\n" + "".join(f"2024-04-30,douyin,c{i},1\n" for i in range(n))


@pytest.mark.parametrize(("rows", "status"), [(MAX_COST_ROWS, 200), (MAX_COST_ROWS + 1, 422)])
async def test_the_row_bound_of_an_upload(apps_file: Path, rows: int, status: int) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    headers = {"X-Admin-Key": ADMIN, "Content-Type": "text/csv"}
    async with asgi_client(app) as client:
        r = await client.post("/v1/costs", content=spend_csv(rows), headers=headers)
    assert r.status_code == status
    if status == 200:
        assert sum(rec.event_count for rec in sink.records) == 50_000
    else:
        assert r.json()["problems"] == [
            {"row": 50_001, "field": "rows", "message": "the upload has more than 50000 rows; at most 50000 rows "
             "per upload: split it"}
        ]
        assert sink.records == []
