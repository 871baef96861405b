"""The processor's pure half of privacy: a command record folded in event order, and retention rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.privacy_topic import id_hash, normalise_typed_id
from schemas.records import (
    PRIVACY_HEADERS,
    PrivacyCommand,
    RecordFormatError,
    decode_privacy_command,
    encode_privacy_command,
)
from stream.checkpoint import Range
from stream.privacy import PrivacyAction
from stream.privacy_exec import PrivacyWriter, write_output
from stream.privacy_retention import Retention, RetentionError, parse_retention, with_retention
from stream.processor import Output, SourceRecord
from stream.rows import BAD_EVENT_COLUMNS, EVENT_COLUMNS
from tests.unit.stream.test_processor import column, event, processor, record


def command(type_: str = "delete", subjects: list[str] | None = None, rid: str = "pr_1") -> PrivacyCommand:
    return {"request_id": rid, "app_id": "shop", "type": type_,  # type: ignore[typeddict-item]
            "subjects": subjects or ["uid:u1"], "submitted_at": "2026-11-20T10:00:00.000Z"}


def command_record(offset: int, cmd: PrivacyCommand) -> SourceRecord:
    out = encode_privacy_command(cmd, "ev")
    return SourceRecord("ev", 0, offset, out.value, 1_795_000_000_000, out.key, out.headers)


def order(event_id: str, order_id: str, **ids: Any) -> dict[str, Any]:
    return event(event_id, "convert", properties={"order_id": order_id, "revenue": "5.00", "currency": "CNY"}, **ids)


def test_a_command_record_round_trips_and_is_keyed_by_its_app() -> None:
    out = encode_privacy_command(command(), "ev")
    assert (out.key, out.headers, decode_privacy_command(out.value)) == (b"shop", PRIVACY_HEADERS, command())
    with pytest.raises(RecordFormatError):
        decode_privacy_command(orjson.dumps({"type": "erase", "subjects": []}))


def test_the_engine_forgets_the_whole_person_at_the_command_and_later_events_start_anew() -> None:
    p = processor()
    before = [event("e1", "enter", anonymous_id="d1", context={"query": {"utm_source": "baidu"}}),
              event("e2", "page_view", anonymous_id="d2", user_id="u1"),
              event("e3", "page_view", anonymous_id="d1", user_id="u1"),
              order("e4", "o1", anonymous_id="d2", user_id="u1")]
    other = [event("x1", "enter", anonymous_id="dx", context={"query": {"utm_source": "google"}})]
    out = p.process([record(0, before + other), command_record(1, command(subjects=["anon:d2"])),
                     record(2, [order("e5", "o2", anonymous_id="d1")])])
    engine = p.engines["shop"]
    [action] = out.privacy
    assert (action.partition, action.offset, len(action.forgotten)) == (0, 1, 1)
    # d1 bought again after the command: a new person with no touch (the deleted visit from baidu is gone).
    assert engine.graph.members(engine.graph.key_of("anon:d1") or "") == ["anon:d1"]
    assert engine.graph.key_of("uid:u1") is None and engine.graph.key_of("anon:d2") is None
    assert engine.graph.key_of("anon:dx") is not None  # the other person is untouched
    credits = [r for r in out.credits if "order:o2" in r]
    assert credits and all("baidu" not in r for r in credits)
    assert column(out.events, EVENT_COLUMNS, "event_id") == ["e1", "e2", "e3", "e4", "x1", "e5"]


def test_suppression_and_unsuppress_leave_the_engine_alone() -> None:
    p = processor()
    out = p.process([record(0, [event("e1", anonymous_id="d1", user_id="u1")]),
                     command_record(1, command("suppress")), command_record(2, command("unsuppress", rid="pr_2"))])
    assert [a.forgotten for a in out.privacy] == [(), ()]
    assert p.engines["shop"].graph.key_of("uid:u1") is not None


def test_ids_hash_the_same_on_every_platform() -> None:
    assert normalise_typed_id("openid@douyin:o1") == "openid:o1" == normalise_typed_id("openid:o1")
    assert normalise_typed_id("uid:openid@x:1") == "uid:openid@x:1"
    assert id_hash(b"k" * 16, "unionid@baidu:n") == id_hash(b"k" * 16, "unionid:n") != id_hash(b"j" * 16, "unionid:n")


def test_retention_days_come_from_the_apps_file_and_ride_on_each_row() -> None:
    doc = {"apps": [{"app_id": "shop", "retention": {"events_days": 30, "bad_events_days": 7}}, {"app_id": "blog"}]}
    retention = parse_retention(doc, "apps.json")
    assert retention == Retention({"events": {"shop": 30}, "bad_events": {"shop": 7}})
    rows = [("shop", "a"), ("blog", "b")]
    assert with_retention(retention, "events", ("app_id", "event_id"), rows) == (
        ("app_id", "event_id", "retention_days"), [("shop", "a", 30), ("blog", "b", 0)])
    assert with_retention(retention, "touchpoints", ("app_id",), [("shop",)]) == (("app_id",), [("shop",)])
    assert "app_id" in EVENT_COLUMNS and "app_id" in BAD_EVENT_COLUMNS
    with pytest.raises(RetentionError, match=r"apps\[0\].retention.events_days"):
        parse_retention({"apps": [{"app_id": "shop", "retention": {"events_days": -1}}]}, "f")


class RecordingWriter(PrivacyWriter):
    """The privacy writer with ClickHouse and the privacy topic replaced by lists: what would be written."""

    def __init__(self) -> None:
        super().__init__(None, self, "privacy", b"k" * 32, clock=lambda: datetime(2026, 11, 20, 11, tzinfo=UTC))
        self.inserts: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.published: list[Any] = []

    async def insert(self, table: str, columns: Any, rows: Any, token: str, lane: int = 0) -> None:
        self.inserts.append((table, list(rows)))

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return []  # no request stored yet

    async def publish(self, records: Any) -> None:
        self.published.extend(records)

    async def stop(self) -> None:
        return None


async def test_a_request_that_cannot_be_carried_out_is_failed_and_the_range_goes_on() -> None:
    writer = RecordingWriter()
    broken = command()
    del broken["subjects"]  # type: ignore[misc]  # a command this processor cannot read
    out = Output()
    out.privacy.append(PrivacyAction(broken, 0, 7, ()))
    await write_output(writer, out, Range("ev", 0, 7, 7))
    [row] = [r for table, rows in writer.inserts if table == "privacy_requests" for r in rows]
    assert (row[0], row[1], row[2], row[3], row[9], row[10]) == ("shop", "pr_1", "delete", "failed", 0, 7)
    [doc] = [orjson.loads(r.value) for r in writer.published]
    assert (doc["status"], doc["request_id"], doc["error"]) == ("failed", "pr_1", "KeyError: 'subjects'")


async def test_requests_of_two_lanes_run_one_at_a_time_each_after_its_own_rows() -> None:
    class GatedRequests(RecordingWriter):
        def __init__(self) -> None:
            super().__init__()
            self.steps: list[str] = []
            self.gate = asyncio.Event()

        async def insert(self, table: str, columns: Any, rows: Any, token: str, lane: int = 0) -> None:
            if rows:
                self.steps.append(f"rows {token.split(':')[1]} lane {lane}")

        async def execute(self, action: PrivacyAction) -> None:
            self.steps.append(f"start {action.partition}")
            if action.partition == 0:
                await self.gate.wait()
            self.steps.append(f"end {action.partition}")

    writer = GatedRequests()
    outs = []
    for partition in (0, 1):
        out = Output()
        out.events.append(("row",))
        out.privacy.append(PrivacyAction(command(rid=f"pr_{partition}"), partition, 7, ()))
        outs.append(out)
    first = asyncio.create_task(write_output(writer, outs[0], Range("ev", 0, 7, 7), lane=0))
    second = asyncio.create_task(write_output(writer, outs[1], Range("ev", 1, 7, 7), lane=1))
    for _ in range(20):
        await asyncio.sleep(0)
    # Both ranges' rows are written, each on its lane; partition 1's request waits for partition 0's, which
    # waits for the gate.
    assert writer.steps == ["rows 0 lane 0", "start 0", "rows 1 lane 1"]
    writer.gate.set()
    await asyncio.gather(first, second)
    assert writer.steps[3:] == ["end 0", "start 1", "end 1"]
