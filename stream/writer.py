"""The ClickHouse writer: one insert per (table, source partition, offset range), deduplicated by token.

The token `{topic}:{partition}:{first}-{last}:{table}` is the same every time the same offset range is
replayed (the checkpoint protocol guarantees identical ranges), so ClickHouse drops a replayed block instead of
storing it twice. All calls run on one worker thread: chDB is an in-process engine and clickhouse-connect
clients are not meant to be shared across threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stream.errors import classify

log = logging.getLogger(__name__)


class ClickHouseWriter:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-writer")

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str) -> None:
        if not rows:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._insert, table, columns, rows, token)
        except Exception as exc:
            raise classify(exc) from exc

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], token: str) -> None:
        self._client.insert(
            table,
            rows,
            column_names=list(columns),
            settings={"insert_deduplicate": 1, "insert_deduplication_token": token},
        )

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
        self._executor.shutdown(wait=True)
