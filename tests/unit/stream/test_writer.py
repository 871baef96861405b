"""The ClickHouse writer's pure parts: the row-to-column pivot with DateTime64(3) ticks, and what it hands the
client (the Native bytes of the compiled encoder, or the pivoted columns of the rows it declines; the dedup token,
the cached insert types and their re-description after a failure), on a fake client.

The column types are clickhouse-connect's own (from their ClickHouse names), so the attributes the pivot reads
are the real ones; the ticks are worked out by hand from the definition (milliseconds since 1970-01-01 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import lz4.frame
import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from clickhouse_connect.driver.insert import InsertContext

from stream.errors import StoreFatal, StoreUnavailable
from stream.writer import ClickHouseWriter, column_data
from tests.unit.stream.test_native_block import reference

MS3 = get_from_name("DateTime64(3, 'UTC')")
MS3_NULL = get_from_name("Nullable(DateTime64(3, 'UTC'))")
US6 = get_from_name("DateTime64(6, 'UTC')")
STRING = get_from_name("String")
UINT = get_from_name("UInt64")

# 1970-01-02 00:00:00.123 UTC is one day (86,400 s) and 123 ms after the epoch.
DAY_ONE = datetime(1970, 1, 2, 0, 0, 0, 123_000, tzinfo=UTC)
DAY_ONE_MS = 86_400_123
# 2000-01-01 00:00:00 UTC is 946,684,800 s after the epoch (10,957 days of 86,400 s).
Y2K = datetime(2000, 1, 1, tzinfo=UTC)
Y2K_MS = 946_684_800_000


def test_rows_are_pivoted_to_columns_in_order() -> None:
    rows = [(1, "a", 10), (2, "b", 20), (3, "c", 30)]
    assert [list(c) for c in column_data(rows, [UINT, STRING, UINT])] == [[1, 2, 3], ["a", "b", "c"], [10, 20, 30]]


def test_datetime64_3_columns_become_millisecond_ticks() -> None:
    columns = column_data([(DAY_ONE, "x"), (Y2K, "y")], [MS3, STRING])
    assert list(columns[0]) == [DAY_ONE_MS, Y2K_MS]
    assert list(columns[1]) == ["x", "y"]


def test_ticks_do_not_depend_on_the_offset_a_datetime_carries() -> None:
    # 08:00:00.123 at UTC+8 on 1970-01-02 is the same instant as DAY_ONE.
    beijing = datetime(1970, 1, 2, 8, 0, 0, 123_000, tzinfo=timezone(timedelta(hours=8)))
    assert list(column_data([(beijing,)], [MS3])[0]) == [DAY_ONE_MS]


def test_sub_millisecond_parts_are_floored_towards_the_past() -> None:
    just_after = Y2K + timedelta(microseconds=999)
    just_before = Y2K - timedelta(microseconds=1)
    assert list(column_data([(just_after,), (just_before,)], [MS3])[0]) == [Y2K_MS, Y2K_MS - 1]


def test_nullable_datetime64_keeps_nulls() -> None:
    assert list(column_data([(None,), (Y2K,)], [MS3_NULL])[0]) == [None, Y2K_MS]


def test_a_null_in_a_non_nullable_column_is_left_to_clickhouse_connect() -> None:
    # (None - epoch) is a TypeError: the column stays as it came, clickhouse-connect reports the problem itself.
    assert list(column_data([(None,), (Y2K,)], [MS3])[0]) == [None, Y2K]


def test_naive_datetimes_are_left_to_clickhouse_connect() -> None:
    naive = datetime(2000, 1, 1)  # noqa: DTZ001 - a naive value is exactly the case under test
    assert list(column_data([(naive,)], [MS3])[0]) == [naive]


def test_other_precisions_and_types_are_not_converted() -> None:
    columns = column_data([(Y2K, Y2K)], [US6, get_from_name("DateTime")])
    assert list(columns[0]) == [Y2K]
    assert list(columns[1]) == [Y2K]


def test_rows_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        column_data([(1, 2), (3,)], [UINT, UINT])


class Described:
    def __init__(self, column_types: list[Any]) -> None:
        self.column_types = column_types


class FakeClient:
    """clickhouse-connect's insert surface: records every describe and insert (`insert`: rows clickhouse-connect
    encodes; `raw_insert`: the writer's own Native bytes); `fail` makes the next insert raise."""

    def __init__(self, types: dict[str, list[Any]]) -> None:
        self.types = types
        self.described: list[tuple[str, list[str]]] = []
        self.inserts: list[dict[str, Any]] = []
        self.fail: list[Exception] = []

    def create_insert_context(self, table: str, column_names: list[str], data: Any = None,
                              column_types: Any = None) -> Any:
        if data is not None:  # no query: clickhouse-connect's own context, for its split of the rows into blocks
            return InsertContext(table, column_names, column_types, data=data)
        self.described.append((table, column_names))
        return Described(self.types[table])

    def insert(self, table: str, data: list[Any], **kwargs: Any) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.inserts.append({"table": table, "data": [list(c) for c in data], **kwargs})

    def raw_insert(self, table: str, column_names: list[str], insert_block: bytes, **kwargs: Any) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.inserts.append({"table": table, "column_names": column_names, "payload": insert_block, **kwargs})


@pytest.fixture
def client() -> FakeClient:
    return FakeClient({"events": [STRING, MS3], "touchpoints": [STRING]})


@pytest.fixture
async def writer(client: FakeClient) -> Any:
    w = ClickHouseWriter(client)
    yield w
    w.close()


async def test_the_token_and_the_native_bytes_reach_the_client(client: FakeClient, writer: Any) -> None:
    rows = [("e1", Y2K), ("e2", DAY_ONE)]
    await writer.insert("events", ("event_id", "event_time"), rows, "events:0:5-6:events")
    assert client.inserts == [{
        "table": "events",
        "column_names": ["event_id", "event_time"],
        # What clickhouse-connect itself writes for these rows (tests/unit/stream/test_native_block.py).
        "payload": reference(["event_id", "event_time"], ["String", "DateTime64(3, 'UTC')"], rows, 1 << 16),
        "settings": {"max_threads": 1, "insert_deduplicate": 1, "insert_deduplication_token": "events:0:5-6:events"},
        "fmt": "Native",
        "compression": None,  # chDB's client compresses nothing
    }]
    assert writer.encoded_by_clickhouse_connect == 0


async def test_a_servers_client_gets_the_bytes_compressed_as_its_insert_would(client: FakeClient) -> None:
    client.write_compression = "lz4"  # type: ignore[attr-defined]  # what clickhouse-connect's HTTP client negotiates
    writer = ClickHouseWriter(client)
    try:
        rows = [("e1", Y2K), ("e2", DAY_ONE)]
        await writer.insert("events", ("event_id", "event_time"), rows, "t")
        (sent,) = client.inserts
        assert sent["compression"] == "lz4"
        expected = reference(["event_id", "event_time"], ["String", "DateTime64(3, 'UTC')"], rows, 1 << 16)
        assert lz4.frame.decompress(sent["payload"]) == expected
    finally:
        writer.close()


async def test_rows_the_encoder_declines_reach_the_client_as_pivoted_columns(client: FakeClient,
                                                                              writer: Any) -> None:
    naive = datetime(2000, 1, 1)  # noqa: DTZ001 - a naive value is exactly the case under test
    await writer.insert("events", ("event_id", "event_time"), [("e1", Y2K), ("e2", naive)], "t")
    assert client.inserts == [{
        "table": "events",
        "data": [["e1", "e2"], [Y2K, naive]],  # a column with a naive datetime is left to clickhouse-connect
        "column_names": ["event_id", "event_time"],
        "column_types": [STRING, MS3],
        "column_oriented": True,
        "settings": {"max_threads": 1, "insert_deduplicate": 1, "insert_deduplication_token": "t"},
    }]
    assert writer.encoded_by_clickhouse_connect == 1


async def test_no_rows_no_insert_and_no_describe(client: FakeClient, writer: Any) -> None:
    await writer.insert("events", ("event_id", "event_time"), [], "t")
    assert client.described == []
    assert client.inserts == []


async def test_insert_types_are_described_once_per_table_and_columns(client: FakeClient, writer: Any) -> None:
    for token in ("a", "b", "c"):
        await writer.insert("events", ("event_id", "event_time"), [("e", Y2K)], token)
    await writer.insert("touchpoints", ("event_id",), [("e",)], "d")
    assert client.described == [("events", ["event_id", "event_time"]), ("touchpoints", ["event_id"])]
    assert [i["settings"]["insert_deduplication_token"] for i in client.inserts] == ["a", "b", "c", "d"]


async def test_a_failed_insert_describes_the_table_again(client: FakeClient, writer: Any) -> None:
    await writer.insert("events", ("event_id", "event_time"), [("e1", Y2K)], "first")
    client.fail.append(OperationalError("connection reset"))
    with pytest.raises(StoreUnavailable, match="connection reset"):
        await writer.insert("events", ("event_id", "event_time"), [("e2", Y2K)], "second")
    client.types["events"] = [STRING, US6]  # e.g. a migration changed the column meanwhile
    await writer.insert("events", ("event_id", "event_time"), [("e2", Y2K)], "second")
    assert client.described == [("events", ["event_id", "event_time"])] * 2
    assert client.inserts[-1]["column_types"] == [STRING, US6]
    assert client.inserts[-1]["data"] == [["e2"], [Y2K]]  # DateTime64(6): no millisecond ticks
    assert [i["settings"]["insert_deduplication_token"] for i in client.inserts] == ["first", "second"]


async def test_insert_errors_are_classified_once(client: FakeClient, writer: Any) -> None:
    client.fail.append(DatabaseError("Code: 60. DB::Exception: Table touchstream.events does not exist."))
    with pytest.raises(StoreFatal, match="Code: 60"):
        await writer.insert("events", ("event_id", "event_time"), [("e", Y2K)], "t")
    client.fail.append(DatabaseError("Code: 241. DB::Exception: Memory limit exceeded"))
    with pytest.raises(StoreUnavailable, match="Code: 241"):
        await writer.insert("events", ("event_id", "event_time"), [("e", Y2K)], "t")
    assert client.inserts == []


async def test_each_lane_inserts_through_its_own_client_and_lane_numbers_wrap() -> None:
    clients = [FakeClient({"events": [STRING, MS3]}) for _ in range(3)]
    writer = ClickHouseWriter(clients[0], clients[1:])
    try:
        assert writer.lanes == 3
        for lane, token in [(0, "a"), (1, "b"), (2, "c"), (4, "d")]:  # lane 4 of 3 is lane 1
            await writer.insert("events", ("event_id", "event_time"), [("e", Y2K)], token, lane=lane)
        tokens = [[i["settings"]["insert_deduplication_token"] for i in c.inserts] for c in clients]
        assert tokens == [["a"], ["b", "d"], ["c"]]
        # The insert types are the table's, whoever described them: one describe for all three lanes.
        assert sum(len(c.described) for c in clients) == 1
    finally:
        writer.close()


async def test_queries_run_on_lane_zero_only() -> None:
    class Answering(FakeClient):
        def query(self, sql: str, parameters: Any = None) -> Any:
            self.described.append(("query", [sql]))
            return type("Result", (), {"result_rows": [(1,)]})()

    first, second = Answering({}), Answering({})
    writer = ClickHouseWriter(first, [second])
    try:
        assert await writer.query("SELECT 1") == [(1,)]
        assert (first.described, second.described) == ([("query", ["SELECT 1"])], [])
    finally:
        writer.close()


async def test_insert_settings_go_with_every_insert_but_never_replace_the_token(client: FakeClient) -> None:
    writer = ClickHouseWriter(client, insert_settings={"max_threads": 4, "insert_deduplication_token": "x"})
    try:
        await writer.insert("events", ("event_id", "event_time"), [("e", Y2K)], "events:0:1-1:events")
        assert client.inserts[0]["settings"] == {
            "max_threads": 4, "insert_deduplicate": 1, "insert_deduplication_token": "events:0:1-1:events",
        }
    finally:
        writer.close()
