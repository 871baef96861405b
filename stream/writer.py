"""The ClickHouse writer: one insert per (table, source partition, offset range), deduplicated by token.

The token `{topic}:{partition}:{first}-{last}:{table}` is the same every time the same offset range is
replayed (the checkpoint protocol guarantees identical ranges), so ClickHouse drops a replayed block instead of
storing it twice.

Inserts go through lanes: a lane is a worker thread with a client of its own (clickhouse-connect clients are not
meant to be shared across threads; chDB opens any number of handles to its one in-process engine). Lane 0 also
runs every query and statement. An insert's cost is mostly a fixed price inside the engine (4–9 ms of chDB per
insert, whatever its size, on tmpfs), paid with the GIL released: with a core free for each, two lanes write two
partitions' rows in about half the wall time of one after the other (BENCHMARKS.md, 2026-12-03). The consumer
decides what goes on which lane.

Rows are encoded to ClickHouse's Native format by the compiled encoder (`touchstream_native.NativeBlock`): the
bytes and blocks clickhouse-connect would send, for a third of its CPU, sent with `raw_insert` (the same INSERT,
settings and token). Whatever it declines (a type or value it does not compile) clickhouse-connect encodes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from clickhouse_connect.driver.compression import get_compressor

from schemas.native import NativeBlock
from stream.errors import classify

log = logging.getLogger(__name__)

# One thread per insert: a Native block is parsed and written by one thread anyway, and the pool of the
# default (one per core) costs more than it gives: 4-14% less CPU and 7-20% less wall time per insert, from
# 1-row to 2,248-row blocks of our tables in chDB (`make bench-inserts`, BENCHMARKS.md, 2026-12-03).
INSERT_SETTINGS: Final[Mapping[str, Any]] = {"max_threads": 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class ClickHouseWriter:
    def __init__(
        self, client: Any, lane_clients: Sequence[Any] = (), insert_settings: Mapping[str, Any] = INSERT_SETTINGS
    ) -> None:
        """`client` is lane 0's; each of `lane_clients` (clients of the same database) is one more lane.
        `insert_settings` go with every insert, beside its dedup token (`make bench-inserts` compares them)."""
        self._client = client
        self._insert_settings = dict(insert_settings)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-writer")
        self._lanes: list[tuple[ThreadPoolExecutor, Any]] = [(self._executor, client)] + [
            (ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"clickhouse-writer-{i}"), c)
            for i, c in enumerate(lane_clients, start=1)
        ]
        # (table, columns) -> clickhouse-connect column types. Without them every insert first runs a DESCRIBE
        # TABLE; the schema only changes at start (migrations), and a failed insert describes the table again.
        self._column_types: dict[tuple[str, tuple[str, ...]], Sequence[Any]] = {}
        # (table, columns) -> the compiled encoder of its rows, or None when a column type is not compiled.
        self._blocks: dict[tuple[str, tuple[str, ...]], NativeBlock | None] = {}
        self.encoded_by_clickhouse_connect = 0  # inserts whose rows the compiled encoder left to clickhouse-connect

    @property
    def lanes(self) -> int:
        return len(self._lanes)

    async def insert(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str, lane: int = 0
    ) -> None:
        """Insert on lane `lane` (modulo the lanes there are); inserts on one lane run one after another."""
        if not rows:
            return
        executor, client = self._lanes[lane % len(self._lanes)]
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, self._insert, client, table, columns, rows, token)
        except Exception as exc:
            raise classify(exc) from exc

    def _insert(
        self, client: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str
    ) -> None:
        key = (table, tuple(columns))
        # Shared by the lanes: the types depend on the table only, and a racing second lookup stores the same.
        types = self._column_types.get(key)
        if types is None:
            types = self._column_types[key] = client.create_insert_context(table, list(columns)).column_types
        settings = {**self._insert_settings, "insert_deduplicate": 1, "insert_deduplication_token": token}
        try:
            payload = self._native(client, key, types, rows)
            if payload is not None:
                # A server's client compresses what it sends (lz4 or zstd, as its `insert` would); chDB's, nothing.
                compression = getattr(client, "write_compression", None) or None
                body: bytes | bytearray = payload
                if compression is not None:
                    compressor = get_compressor(compression)
                    body = compressor.compress_block(payload)
                    body += compressor.flush() or b""  # type: ignore[no-untyped-call]  # (None for lz4, zstd)
                client.raw_insert(table, list(columns), body, settings=settings, fmt="Native",
                                  compression=compression)
                return
            self.encoded_by_clickhouse_connect += 1
            client.insert(
                table,
                column_data(rows, types),
                column_names=list(columns),
                column_types=types,
                column_oriented=True,
                settings=settings,
            )
        except Exception:
            self._column_types.pop(key, None)
            self._blocks.pop(key, None)
            raise

    def _native(
        self, client: Any, key: tuple[str, tuple[str, ...]], types: Sequence[Any], rows: list[tuple[Any, ...]]
    ) -> bytes | None:
        """The insert's Native bytes from the compiled encoder (native/src/native_block.rs): the bytes
        clickhouse-connect would send, for a third of its CPU. None when the encoder declines a type or a value;
        clickhouse-connect then encodes the insert (or refuses it, as before)."""
        if key not in self._blocks:
            try:
                self._blocks[key] = NativeBlock(list(key[1]), [t.insert_name for t in types])
            except ValueError:
                self._blocks[key] = None
        block = self._blocks[key]
        if block is None:
            return None
        # clickhouse-connect's own split into blocks of ~1-2 MB: the same blocks, so the same parts and the same
        # deduplication of a replayed range as when clickhouse-connect encoded it.
        block_rows = client.create_insert_context(key[0], list(key[1]), data=rows, column_types=types).block_row_count
        try:
            return block.encode(rows, block_rows)
        except (TypeError, ValueError, OverflowError):
            return None

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self._executor, lambda: self._client.query(sql, parameters=parameters)
            )
        except Exception as exc:
            raise classify(exc) from exc
        return list(result.result_rows)

    def close(self) -> None:
        for executor, _ in self._lanes:
            executor.shutdown(wait=True)


def column_data(rows: list[tuple[Any, ...]], types: Sequence[Any]) -> list[Sequence[Any]]:
    """Rows pivoted to columns, with DateTime64(3) columns as millisecond ticks.

    clickhouse-connect turns each datetime into ticks in Python (`timestamp()`, `floor`, a method call per value:
    5% of the processor's samples); for aware datetimes `(value - epoch) // 1 ms` is the same integer for ~60% of
    the cost (0.28 vs 0.44 us here), and ticks are written as they are. A column holding anything else (a naive
    datetime, whose ticks depend on clickhouse-connect's time zone settings) is left to clickhouse-connect, as before.
    The pivot itself (`zip`) replaces clickhouse-connect's own row-to-column pivot.
    """
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, ch_type in enumerate(types):
        if getattr(ch_type, "base_type", "") == "DateTime64" and getattr(ch_type, "prec", 0) == 1000:
            try:
                if ch_type.nullable:
                    columns[i] = [None if v is None else (v - _EPOCH) // _MILLISECOND for v in columns[i]]
                else:
                    columns[i] = [(v - _EPOCH) // _MILLISECOND for v in columns[i]]
            except TypeError:
                continue
    return columns
