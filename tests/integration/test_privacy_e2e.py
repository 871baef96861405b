"""Issue 15: deletion, suppression and retention through the real broker, collector, processor and chDB."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.pii import PiiHasher
from stream.checkpoint import Range
from stream.privacy_retention import Retention, with_retention
from tests.conftest import unique
from tests.integration.pipeline import KEYS, journey, send, start_stream, stream_settings, wait_rows
from tests.integration.privacy_harness import (
    ADMIN,
    PERSON_TABLES,
    SECRET,
    caught_up,
    commands_on,
    privacy_collector,
    privacy_writer,
    rewind_group,
    status,
    submit,
    table_rows,
    wait_status,
    write_apps_file,
)

pytestmark = pytest.mark.integration

PHONE = "138 0013 8000"  # as the request gives it; the SDK sent +8613800138000: one number, one hash
P_IDS = {"anon-p1", "anon-p2", "o-P", "u-P"}


def ev(n: str, type_: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"p-{n}", "type": type_, "timestamp": f"2026-11-20T11:{minute:02d}:00.000Z", **fields}


def person_p() -> list[dict[str, Any]]:
    """Two devices, an openid, a login and a phone; two orders."""
    return [
        ev("enter1", "enter", 0, anonymous_id="anon-p1", openid="o-P",
           context={"query": {"utm_source": "baidu", "utm_medium": "cpc"}}),
        ev("identify", "identify", 1, anonymous_id="anon-p1", user_id="u-P", phone="+8613800138000"),
        ev("enter2", "enter", 2, anonymous_id="anon-p2", user_id="u-P"),
        ev("order1", "convert", 3, anonymous_id="anon-p2", user_id="u-P",
           properties={"order_id": "P-o1", "revenue": "10.00", "currency": "CNY"}),
        ev("order2", "repurchase", 4, anonymous_id="anon-p1",
           properties={"order_id": "P-o2", "revenue": "20.00", "currency": "CNY"}),
    ]


def is_p(table: str, row: tuple[str, ...], phone_hash: str) -> bool:
    """Whether a row (as text) is the person's, by the ids and order ids the test gave them."""
    text = " ".join(row)
    marks = [*P_IDS, phone_hash, "P-o1", "P-o2", "p-enter1", "p-identify", "p-enter2", "p-order1", "p-order2"]
    return any(m in text for m in marks)


@pytest.fixture
def privacy_topics(topics: dict[str, str]) -> dict[str, str]:
    return topics | {"KAFKA_PRIVACY_TOPIC": unique("privacy")}


async def test_delete_by_phone_removes_the_person_everywhere_and_survives_a_replay(
    kafka_bootstrap: str, privacy_topics: dict[str, str], clickhouse: Any, tmp_path: Path
) -> None:
    topics = privacy_topics
    phone_hash = PiiHasher(SECRET.encode()).phone(PHONE)
    writer = privacy_writer(clickhouse, kafka_bootstrap, topics)
    settings = stream_settings(kafka_bootstrap, topics)
    running = start_stream(settings, writer)
    try:
        async with privacy_collector(kafka_bootstrap, topics, write_apps_file(tmp_path / "apps.json")) as c:
            await send(c.http, "shop", person_p())
            await send(c.http, "shop", journey("q", "google"))
            await send(c.http, "shop", [person_p()[0]])  # a client retry: one duplicate_events row
            bad = await c.http.post("/v1/batch", headers={"X-Write-Key": KEYS["shop"]}, json={"events": [
                {"event_id": "p-bad", "type": "enter", "timestamp": "not a time", "anonymous_id": "anon-p1",
                 "openid": "o-P"}]})
            assert bad.status_code == 200 and len(bad.json()["rejected"]) == 1
            await wait_rows(writer, "SELECT count() FROM conversions_current", 4)
            await wait_rows(writer, "SELECT count() FROM bad_events", 1)
            await wait_rows(writer, "SELECT count() FROM duplicate_events", 1)
            before = {t: await table_rows(writer, t) for t in PERSON_TABLES}
            for table in PERSON_TABLES:  # the fixture really holds the person in every table, and someone else
                assert any(is_p(table, r, phone_hash) for r in before[table]), table
            started = time.perf_counter()
            doc = await submit(c.http, "shop", {"type": "delete", "subjects": [{"id_type": "phone", "value": PHONE}]})
            done = await wait_status(c.http, "shop", doc["request_id"], "completed")
            elapsed = time.perf_counter() - started
            after = {t: await table_rows(writer, t) for t in PERSON_TABLES}
            for table in PERSON_TABLES:
                expected = [r for r in before[table] if not is_p(table, r, phone_hash)]
                assert after[table] == expected, table
                assert done["rows_deleted"][table] == len(before[table]) - len(expected), table
            assert len(done["person_keys"]) == 1
            # No integration here, so no postbacks: their statements ran on the real (empty) tables.
            assert (done["rows_deleted"]["postback_intents"], done["rows_deleted"]["postback_attempts"]) == (0, 0)
            print(f"request to completed: {elapsed:.2f}s")
        await running.close()
        # Replay the whole events topic into the same store: the person's events come back, then their command.
        await rewind_group(kafka_bootstrap, topics["STREAM_GROUP_ID"], topics["KAFKA_EVENTS_TOPIC"])
        running = start_stream(settings, writer)
        await caught_up(kafka_bootstrap, topics["STREAM_GROUP_ID"], topics["KAFKA_EVENTS_TOPIC"])
        for table in PERSON_TABLES:
            # Everyone else's rows as they were (a replayed copy is the same row), and none of the person's.
            assert set(await table_rows(writer, table)) == set(after[table]), table
        audit = await writer.query(
            "SELECT status, rows_deleted['events'] FROM privacy_requests FINAL WHERE request_id = {r:String}",
            {"r": doc["request_id"]},
        )
        assert audit == [("completed", done["rows_deleted"]["events"])]  # recorded once, with the first counts
    finally:
        await running.close()
        await writer.publisher.stop()


async def test_suppression_drops_every_id_of_the_person_until_unsuppressed(
    kafka_bootstrap: str, privacy_topics: dict[str, str], clickhouse: Any, tmp_path: Path
) -> None:
    topics = privacy_topics
    writer = privacy_writer(clickhouse, kafka_bootstrap, topics)
    running = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    apps = write_apps_file(tmp_path / "apps.json")

    def s_event(n: str, **ids: str) -> dict[str, Any]:
        return {"event_id": f"s-{n}", "type": "page_view", "timestamp": "2026-11-20T12:00:00.000Z", **ids}

    try:
        async with privacy_collector(kafka_bootstrap, topics, apps) as c:
            await send(c.http, "shop", [s_event("1", anonymous_id="anon-s", user_id="u-S")])
            await wait_rows(writer, "SELECT count() FROM events", 1)
            suppress = {"type": "suppress", "subjects": [{"id_type": "user_id", "value": "u-S"}]}
            doc = await submit(c.http, "shop", suppress)
            await wait_status(c.http, "shop", doc["request_id"], "completed")
            await asyncio.sleep(0.6)  # the processor's suppression entries reach the view within a poll
            # The device id alone (linked to the login by the processor) is suppressed too.
            await send(c.http, "shop", [s_event("2", anonymous_id="anon-s")])
            metric = c.state.metrics.registry.get_sample_value(
                "touchstream_collector_events_suppressed_total", {"app_id": "shop"})
            assert metric == 1.0
        # Another replica (or this one restarted) reads the same suppressions from the topic.
        async with privacy_collector(kafka_bootstrap, topics, apps) as c2:
            await send(c2.http, "shop", [s_event("3", anonymous_id="anon-s"), s_event("4", anonymous_id="anon-x")])
            assert c2.state.metrics.registry.get_sample_value(
                "touchstream_collector_events_suppressed_total", {"app_id": "shop"}) == 1.0
            await wait_rows(writer, "SELECT count() FROM events WHERE event_id = 's-4'", 1)
            undo = await submit(c2.http, "shop", {"type": "unsuppress",
                                                  "subjects": [{"id_type": "user_id", "value": "u-S"}]})
            await wait_status(c2.http, "shop", undo["request_id"], "completed")
            await asyncio.sleep(0.6)
            await send(c2.http, "shop", [s_event("5", anonymous_id="anon-s")])
            await wait_rows(writer, "SELECT count() FROM events WHERE event_id = 's-5'", 1)
        stored = {r[0] for r in await writer.query("SELECT event_id FROM events")}
        assert stored == {"s-1", "s-4", "s-5"}
    finally:
        await running.close()
        await writer.publisher.stop()


async def test_same_client_request_id_runs_once_and_a_pending_request_can_be_cancelled(
    kafka_bootstrap: str, privacy_topics: dict[str, str], clickhouse: Any, tmp_path: Path
) -> None:
    topics = privacy_topics
    writer = privacy_writer(clickhouse, kafka_bootstrap, topics)
    running = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        async with privacy_collector(kafka_bootstrap, topics, write_apps_file(tmp_path / "a.json"), grace_s=2.0) as c:
            await send(c.http, "shop", journey("k", "baidu") + journey("m", "google"))
            await wait_rows(writer, "SELECT count() FROM conversions_current", 4)
            body = {"type": "delete", "subjects": [{"id_type": "anonymous_id", "value": "anon-k"}],
                    "client_request_id": "ticket-1"}
            first, again = await submit(c.http, "shop", body), await submit(c.http, "shop", body)
            assert again["request_id"] == first["request_id"] and first["status"] == "pending"
            other = await submit(c.http, "shop", {"type": "delete", "client_request_id": "ticket-2",
                                                  "subjects": [{"id_type": "anonymous_id", "value": "anon-m"}]})
            cancelled = await c.http.delete(f"/v1/privacy/requests/{other['request_id']}",
                                            headers={"X-Admin-Key": ADMIN["shop"]})
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            await wait_status(c.http, "shop", first["request_id"], "completed")
            third = await submit(c.http, "shop", body)  # after completion: still the same request, completed
            assert third["request_id"] == first["request_id"] and third["status"] == "completed"
            late = await c.http.delete(f"/v1/privacy/requests/{first['request_id']}",
                                       headers={"X-Admin-Key": ADMIN["shop"]})
            assert late.status_code == 409
            await asyncio.sleep(2.5)  # past the cancelled request's grace period
            assert (await status(c.http, "shop", other["request_id"]))["status"] == "cancelled"
            missing = await c.http.get("/v1/privacy/requests/pr_nope", headers={"X-Admin-Key": ADMIN["shop"]})
            wrong_app = await c.http.get(f"/v1/privacy/requests/{first['request_id']}",
                                         headers={"X-Admin-Key": ADMIN["news"]})
            write_key = await c.http.post("/v1/privacy/requests", json=body, headers={"X-Admin-Key": KEYS["shop"]})
            assert (missing.status_code, wrong_app.status_code, write_key.status_code) == (404, 404, 401)
        commands = await commands_on(kafka_bootstrap, topics["KAFKA_EVENTS_TOPIC"])
        assert [c["request_id"] for c in commands] == [first["request_id"]]
        audit = await writer.query("SELECT request_id, status FROM privacy_requests FINAL")
        assert audit == [(first["request_id"], "completed")]
        people = {r[0] for r in await writer.query("SELECT DISTINCT anonymous_id FROM events")}
        assert people == {"anon-m"}
    finally:
        await running.close()
        await writer.publisher.stop()


async def test_rows_past_their_apps_retention_expire(
    kafka_bootstrap: str, privacy_topics: dict[str, str], clickhouse: Any
) -> None:
    writer = privacy_writer(clickhouse, kafka_bootstrap, privacy_topics,
                            retention=Retention({"events": {"shop": 1}, "bad_events": {"shop": 2}}))
    now = datetime.now(UTC)
    cols = ("app_id", "event_id", "received_at", "timestamp", "event_time")
    events = [
        ("shop", "old", now - timedelta(days=2)), ("shop", "new", now), ("news", "old-news", now - timedelta(days=400)),
    ]
    columns, rows = with_retention(writer.retention, "events", cols, [(a, e, t, t, t) for a, e, t in events])
    await writer.insert("events", columns, rows, Range("t", 0, 0, 0).token("events"))
    bad_cols = ("app_id", "source", "stage", "received_at", "code", "reason", "payload")
    bad = [("shop", "b-old", now - timedelta(days=3)), ("shop", "b-new", now - timedelta(days=1))]
    columns, rows = with_retention(writer.retention, "bad_events", bad_cols,
                                   [(a, "sdk", "collector", t, "invalid", "r", p) for a, p, t in bad])
    await writer.insert("bad_events", columns, rows, Range("t", 0, 0, 0).token("bad_events"))
    await writer.query("OPTIMIZE TABLE events FINAL")
    assert {r[0] for r in await writer.query("SELECT event_id FROM events")} == {"new", "old-news"}
    assert {r[0] for r in await writer.query("SELECT payload FROM bad_events")} == {"b-new"}
    assert {tuple(r) for r in await writer.query("SELECT event_id, retention_days FROM events")} == {
        ("new", 1), ("old-news", 0)}
