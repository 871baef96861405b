"""Retention per app: each raw and bad event row carries its app's days, which the tables' TTL reads.

A ClickHouse TTL cannot look a setting up per app, so migration 015 gives `events` and `bad_events` a
`retention_days` column and `TTL received_at + retention_days WHERE retention_days > 0`; the processor writes the
column from the apps file: `{"apps": [{"app_id": "shop", "retention": {"events_days": 365,
"bad_events_days": 30}}]}`. An app without a setting writes 0: its rows are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from runtime.apps_file import read_apps_file

MAX_DAYS: Final = 65_535  # the column is UInt16


class RetentionError(ValueError):
    """The apps file's retention settings are wrong; the message says where."""


@dataclass(frozen=True, slots=True)
class Retention:
    """app_id -> days, per table (`events`, `bad_events`)."""

    days: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, table: str, app_id: str) -> int:
        return self.days.get(table, {}).get(app_id, 0)


_FIELDS: Final = {"events": "events_days", "bad_events": "bad_events_days"}


def parse_retention(doc: Any, source: str) -> Retention:
    days: dict[str, dict[str, int]] = {table: {} for table in _FIELDS}
    apps = doc.get("apps", []) if isinstance(doc, dict) else []
    for i, entry in enumerate(apps if isinstance(apps, list) else []):
        settings = entry.get("retention") if isinstance(entry, dict) else None
        if settings is None:
            continue
        if not isinstance(settings, dict):
            msg = f"{source}: apps[{i}].retention must be an object"
            raise RetentionError(msg)
        for table, name in _FIELDS.items():
            value = settings.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DAYS:
                msg = f"{source}: apps[{i}].retention.{name} must be a whole number of days, 0 to {MAX_DAYS}"
                raise RetentionError(msg)
            if value:
                days[table][str(entry.get("app_id", ""))] = value
    return Retention(days)


def load_retention(path: Path | None) -> Retention:
    return parse_retention(read_apps_file(path), str(path)) if path is not None else Retention()


def with_retention(
    retention: Retention, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The rows with their app's `retention_days` appended (tables without retention, or no setting: unchanged)."""
    per_app = retention.days.get(table)
    if not per_app or not rows:
        return columns, rows
    app_index = columns.index("app_id")
    return (*columns, "retention_days"), [(*row, per_app.get(row[app_index], 0)) for row in rows]
