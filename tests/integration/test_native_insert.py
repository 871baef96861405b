"""The writer's compiled encoder on the real engine, with the processor's own rows.

The benchmark's live stream and its catch-up history go through the processor; every table's rows are written
twice, into two databases of one store: by a writer that encodes them in compiled code, and by one that leaves
them to clickhouse-connect (as the writer did before). Every insert must take the compiled path with
clickhouse-connect's bytes, the two databases must hold the same rows, and a replayed range (same token) must
be dropped. A value the encoder declines still lands, encoded by clickhouse-connect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from loadtests.bench_processing import catchup_records, live_records
from schemas.native import NativeBlock
from stream.channels import default_taxonomy
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.processor import PartitionProcessor, SourceRecord
from stream.store import connect, migrate
from stream.writer import ClickHouseWriter, column_data
from tests.conftest import unique
from tests.unit.stream.test_native_block import reference

pytestmark = pytest.mark.integration

Rows = list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]


@cache
def _processor_rows() -> Rows:
    taxonomy = default_taxonomy()
    out: Rows = []
    for records in (live_records(3_000, legacy=False), catchup_records(400, 6.0, legacy=False)):
        for partition, items in records.items():
            processor = PartitionProcessor("ev", "dl", timedelta(hours=1), 10**6,
                                           lambda app: AppEngine(app, AttributionConfig(), taxonomy))
            for start in range(0, len(items), 40):
                chunk = [SourceRecord("ev", partition, start + i, value, 0, key, headers)
                         for i, (value, key, headers) in enumerate(items[start:start + 40])]
                processor.questions(chunk)
                out += [(t, tuple(c), r) for t, c, r in processor.process(chunk).tables() if r]
    return out


def _stored(client: Any, table: str) -> list[tuple[Any, ...]]:
    columns = [r[0] for r in client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "AND default_kind = '' ORDER BY position", parameters={"t": table}).result_rows]
    listed = ", ".join(f"`{c}`" for c in columns)
    return list(client.query(f"SELECT {listed} FROM {table} ORDER BY {listed}").result_rows)


@asynccontextmanager
async def _two_writers(clickhouse: Any, chdb_path: Any) -> AsyncIterator[tuple[ClickHouseWriter, ClickHouseWriter,
                                                                                  Any]]:
    """A writer with the compiled encoder on `clickhouse`'s database, and one that leaves every insert to
    clickhouse-connect (the writer as it was before) on a second database of the same store."""
    other = connect(f"chdb://{chdb_path}", unique("t"))
    migrate(other)
    compiled, plain = ClickHouseWriter(clickhouse), ClickHouseWriter(other)
    plain._native = lambda *_: None  # type: ignore[method-assign]
    try:
        yield compiled, plain, other
    finally:
        compiled.close()
        plain.close()
        other.command(f"DROP DATABASE IF EXISTS {other.database}")
        other.close()


def _assert_clickhouse_connects_bytes(client: Any, table: str, columns: tuple[str, ...],
                                      rows: list[tuple[Any, ...]]) -> int:
    """The encoder's bytes for `rows` are clickhouse-connect's, in the split its own insert of them chooses (the
    writer asks for it with the rows; clickhouse-connect's insert chose it from the pivoted columns)."""
    types = client.create_insert_context(table, list(columns)).column_types
    block_rows = client.create_insert_context(table, list(columns), data=rows, column_types=types).block_row_count
    own = client.create_insert_context(table, list(columns), data=column_data(rows, types), column_types=types,
                                       column_oriented=True).block_row_count
    assert block_rows == own
    names = [t.insert_name for t in types]
    assert NativeBlock(list(columns), names).encode(rows, block_rows) == reference(list(columns), names, rows,
                                                                                  block_rows)
    return int(block_rows)


async def test_the_processors_rows_are_encoded_in_compiled_code_and_stored_the_same(clickhouse, chdb_path) -> None:  # type: ignore[no-untyped-def]
    tables = _processor_rows()
    assert {t for t, _, _ in tables} >= {"events", "identities", "touchpoints", "conversions", "attribution_credits"}
    async with _two_writers(clickhouse, chdb_path) as (compiled, plain, other):
        for i, (table, columns, rows) in enumerate(tables):
            _assert_clickhouse_connects_bytes(clickhouse, table, columns, rows)
            await compiled.insert(table, columns, rows, f"r{i}:{table}")
            await plain.insert(table, columns, rows, f"r{i}:{table}")
        assert compiled.encoded_by_clickhouse_connect == 0
        assert plain.encoded_by_clickhouse_connect == len(tables)
        counts = {}
        for table in sorted({t for t, _, _ in tables}):
            stored = _stored(clickhouse, table)
            assert stored == _stored(other, table), table
            counts[table] = len(stored)
        assert counts["events"] == sum(len(r) for t, _, r in tables if t == "events")
        # A replay of the first ranges with their tokens: dropped, as when clickhouse-connect wrote them.
        for i, (table, columns, rows) in enumerate(tables[:20]):
            await compiled.insert(table, columns, rows, f"r{i}:{table}")
        assert {t: len(_stored(clickhouse, t)) for t in counts} == counts


async def test_an_insert_of_several_blocks_is_split_and_stored_as_clickhouse_connect_did(clickhouse, chdb_path) -> None:  # type: ignore[no-untyped-def]
    # Every events row of both streams in one insert, as a catch-up's large flush makes: past one block.
    events = [(c, r) for t, c, r in _processor_rows() if t == "events"]
    columns, rows = events[0][0], [row for _, part in events for row in part]
    block_rows = _assert_clickhouse_connects_bytes(clickhouse, "events", columns, rows)
    assert len(rows) > block_rows
    async with _two_writers(clickhouse, chdb_path) as (compiled, plain, other):
        await compiled.insert("events", columns, rows, "big")
        await plain.insert("events", columns, rows, "big")
        await compiled.insert("events", columns, rows, "big")  # replayed: every block dropped
        assert (compiled.encoded_by_clickhouse_connect, plain.encoded_by_clickhouse_connect) == (0, 1)
        stored = _stored(clickhouse, "events")
        assert len(stored) == len(rows)
        assert stored == _stored(other, "events")


async def test_a_value_the_encoder_declines_is_written_by_clickhouse_connect(clickhouse) -> None:  # type: ignore[no-untyped-def]
    clickhouse.command("CREATE TABLE declined_t (n UInt8, amount Decimal(18, 4)) ENGINE = MergeTree ORDER BY n")
    writer = ClickHouseWriter(clickhouse)
    try:
        # Five decimal places for a column of four: clickhouse-connect truncates it, so the encoder leaves it alone.
        await writer.insert("declined_t", ("n", "amount"), [(1, Decimal("1.23456"))], "d1")
        await writer.insert("declined_t", ("n", "amount"), [(2, Decimal("1.2345"))], "d2")
        assert writer.encoded_by_clickhouse_connect == 1
        rows = await writer.query("SELECT n, toString(amount) FROM declined_t ORDER BY n")
        assert rows == [(1, "1.2345"), (2, "1.2345")]
    finally:
        writer.close()
