"""Migrations on the real embedded engine: each applied once, recorded, and a failed one left to be retried.

The `clickhouse` fixture is a fresh database that `migrate` has already brought up to date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.errors import StartupError
from stream.rows import EVENT_COLUMNS, event_row
from stream.store import Migration, connect, load_migrations, migrate

pytestmark = pytest.mark.integration


def recorded(client: Any) -> list[tuple[int, str]]:
    rows = client.query("SELECT version, name FROM schema_migrations ORDER BY version, name").result_rows
    return [(int(v), str(n)) for v, n in rows]


def test_migrating_again_applies_nothing_and_records_each_version_once(clickhouse: Any) -> None:
    shipped = [(m.version, m.name) for m in load_migrations()]
    assert recorded(clickhouse) == shipped
    assert migrate(clickhouse) == []
    assert migrate(clickhouse) == []
    assert recorded(clickhouse) == shipped


def test_a_new_migration_is_applied_once(clickhouse: Any) -> None:
    shipped = recorded(clickhouse)
    probe = Migration(900, "900_probe.sql", (
        "CREATE TABLE probe (x UInt8) ENGINE = MergeTree ORDER BY x",
        "INSERT INTO probe VALUES (7)",
    ))
    assert migrate(clickhouse, [*load_migrations(), probe]) == ["900_probe.sql"]
    assert migrate(clickhouse, [*load_migrations(), probe]) == []
    # Applied once: a second run would have failed on CREATE TABLE or inserted a second row.
    assert clickhouse.query("SELECT groupArray(x) FROM probe").result_rows == [([7],)]
    assert recorded(clickhouse) == [*shipped, (900, "900_probe.sql")]


def test_a_failing_migration_is_one_line_and_not_recorded(clickhouse: Any) -> None:
    shipped = recorded(clickhouse)
    broken = Migration(901, "901_broken.sql", ("CREATE TABLE broken (x UInt8) ENGINE = MergeTree ORDER BY (",))
    with pytest.raises(StartupError) as caught:
        migrate(clickhouse, [broken])
    message = str(caught.value)
    assert message.startswith("migration 901_broken.sql failed: ")
    assert "\n" not in message
    assert recorded(clickhouse) == shipped  # the next start tries it again
    fixed = Migration(901, "901_broken.sql", ("CREATE TABLE broken (x UInt8) ENGINE = MergeTree ORDER BY x",))
    assert migrate(clickhouse, [fixed]) == ["901_broken.sql"]
    assert recorded(clickhouse) == [*shipped, (901, "901_broken.sql")]


def test_every_wide_table_merges_vertically_from_one_row(clickhouse: Any) -> None:
    # 016_vertical_merges.sql: a horizontal merge of many small parts holds a buffer per column and part (170-220
    # MiB for the events table). ClickHouse merges vertically only tables of 11 columns or more, from a row count.
    wide = clickhouse.query(
        "SELECT table FROM system.columns WHERE database = currentDatabase() GROUP BY table "
        "HAVING count() >= 11 ORDER BY table"
    ).result_rows
    merge_trees = {
        name: create for name, create in clickhouse.query(
            "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() "
            "AND engine LIKE '%MergeTree'"
        ).result_rows
    }
    tables = [str(t) for (t,) in wide if t in merge_trees]
    assert len(tables) >= 9 and "events" in tables and "attribution_credits" in tables
    assert [t for t in tables if "vertical_merge_algorithm_min_rows_to_activate = 1" not in merge_trees[t]] == []


def test_a_vertical_merge_keeps_the_rows_a_horizontal_one_keeps(clickhouse: Any, chdb_path: Path) -> None:
    # The same three parts of events (ReplacingMergeTree: the last inserted copy of an event id stays), merged in a
    # database with 016 (vertical, from one row) and in one migrated up to 015 (horizontal: below 131,072 rows).
    horizontal = connect(f"chdb://{chdb_path}", f"{clickhouse.test_database}_h")
    try:
        migrate(horizontal, [m for m in load_migrations() if m.version < 16])
        parts = [[("e1", "first"), ("e2", "first")], [("e1", "second")], [("e3", "first"), ("e2", "third")]]
        kept = {}
        for client in (clickhouse, horizontal):
            for number, part in enumerate(parts):
                rows = [event_row(_event(event_id, name), 0, number) for event_id, name in part]
                client.insert("events", rows, column_names=list(EVENT_COLUMNS),
                              settings={"insert_deduplication_token": f"part-{number}"})
            client.command("OPTIMIZE TABLE events FINAL")
            active = client.query("SELECT count() FROM system.parts WHERE database = currentDatabase() "
                                  "AND table = 'events' AND active").result_rows[0][0]
            assert active == 1  # merged
            kept[client is clickhouse] = client.query("SELECT event_id, name, _offset FROM events ORDER BY event_id"
                                                      ).result_rows
        assert kept[True] == kept[False] == [("e1", "second", 1), ("e2", "third", 2), ("e3", "first", 2)]
    finally:
        horizontal.command(f"DROP DATABASE IF EXISTS {clickhouse.test_database}_h")


def _event(event_id: str, name: str) -> dict[str, Any]:
    at = "2026-11-20T10:00:00.000Z"
    return {"app_id": "shop", "event_id": event_id, "type": "custom", "name": name, "event_time": at,
            "timestamp": at, "received_at": at, "anonymous_id": "A"}
