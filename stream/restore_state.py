"""Rebuilding a partition's state from ClickHouse, below its committed offset (the I/O half of recovery).

Invariant: everything in ClickHouse with `_offset < committed` is exactly what the processor had folded in
when it committed, so reading it back gives the state to resume from. Rows at or past the committed offset
belong to a flush that may not have finished; it is replayed, and its insert tokens keep it from doubling.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stream.journeys.engine import AppEngine
from stream.journeys.restore import (
    conversion_from_row,
    restore_ad_click,
    restore_closed_conversion,
    restore_conversion,
    restore_first,
    restore_identity,
    restore_touch,
    restore_watermark,
)
from stream.journeys.state import AdClick, Touchpoint
from stream.processor import PartitionProcessor
from stream.writer import ClickHouseWriter

_WHERE = "_partition = {p:UInt16} AND _offset < {o:UInt64}"


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def restore_seen_ids(
    writer: ClickHouseWriter, processor: PartitionProcessor, partition: int, offset: int, window_s: int, limit: int
) -> None:
    rows = await writer.query(
        f"SELECT app_id, event_id, received_at FROM events WHERE {_WHERE} AND received_at >= "
        f"(SELECT max(received_at) FROM events WHERE {_WHERE}) - toIntervalSecond({{w:UInt32}}) "
        "ORDER BY received_at LIMIT {n:UInt32}",
        {"p": partition, "o": offset, "w": window_s, "n": limit},
    )
    processor.seen.load(((app, event_id), utc(at)) for app, event_id, at in rows)


async def restore_engines(
    writer: ClickHouseWriter,
    partition: int,
    offset: int,
    engine_for: Callable[[str], AppEngine | None],
) -> int:
    """Fold the partition's stored journeys back into engines; returns how many apps were restored."""
    params: dict[str, Any] = {"p": partition, "o": offset}
    marks = await writer.query(f"SELECT app_id, max(event_time) FROM events WHERE {_WHERE} GROUP BY app_id", params)
    engines: dict[str, AppEngine] = {}
    for app_id, watermark in marks:
        engine = engine_for(app_id)
        if engine is not None:
            restore_watermark(engine, utc(watermark))
            engines[app_id] = engine
    if not engines:
        return 0
    oldest = min(e.watermark for e in engines.values() if e.watermark is not None)
    config = next(iter(engines.values())).config
    touches_since = oldest - config.allowed_lateness - config.longest_window
    conversions_since = oldest - config.allowed_lateness

    for app_id, typed_id, user_key, first_seen in await writer.query(
        "SELECT app_id, typed_id, argMax(user_key, version), min(first_seen) FROM identities "
        f"WHERE {_WHERE} GROUP BY app_id, typed_id ORDER BY app_id, typed_id", params,
    ):
        if app_id in engines:
            restore_identity(engines[app_id], typed_id, user_key, utc(first_seen))

    await _restore_firsts(writer, params, engines)
    for app_id, conversion_id, time in await writer.query(
        f"SELECT app_id, conversion_id, max(conversion_time) FROM conversions WHERE {_WHERE} "
        "AND conversion_time >= {since:DateTime64(3, 'UTC')} GROUP BY app_id, conversion_id",
        {**params, "since": _naive(oldest - config.identity_retention)},
    ):
        if app_id in engines:
            restore_closed_conversion(engines[app_id], conversion_id, utc(time))
    for app_id, click_id, time, platform, ctype, channel, campaign, creative in await writer.query(
        "SELECT app_id, JSONExtractString(properties, 'click_id') AS click, min(event_time), "
        "any(JSONExtractString(properties, 'platform')), any(JSONExtractString(properties, 'channel_type')), "
        "any(JSONExtractString(properties, 'channel')), any(JSONExtractString(properties, 'campaign')), "
        f"any(JSONExtractString(properties, 'creative')) FROM events WHERE {_WHERE} AND type = 'ad_click' "
        "AND event_time >= {since:DateTime64(3, 'UTC')} AND click != '' GROUP BY app_id, click",
        {**params, "since": _naive(touches_since)},
    ):
        if app_id in engines:
            click = AdClick(click_id, utc(time), platform, ctype or "paid", channel, campaign, creative)
            restore_ad_click(engines[app_id], click)
    await _restore_touches(writer, {**params, "since": _naive(touches_since)}, engines)
    for app_id, conversion_id, row in await writer.query(
        "SELECT app_id, conversion_id, argMax(tuple(event_id, identity, conversion_type, conversion_time, "
        "order_id, revenue, currency, deleted), version) AS last FROM conversions "
        f"WHERE {_WHERE} AND conversion_time >= {{since:DateTime64(3, 'UTC')}} GROUP BY app_id, conversion_id",
        {**params, "since": _naive(conversions_since)},
    ):
        event_id, identity, kind, time, order_id, revenue, currency, deleted = row
        if app_id in engines and not deleted:
            conversion = conversion_from_row(
                conversion_id, event_id, identity, kind, utc(time), order_id, revenue, currency
            )
            restore_conversion(engines[app_id], conversion)
    return len(engines)


async def _restore_firsts(writer: ClickHouseWriter, params: dict[str, Any], engines: dict[str, AppEngine]) -> None:
    # Over all time, not just the window: whether an order is a first purchase depends on every earlier one.
    rows = await writer.query(
        "SELECT app_id, identity, kind, min(tuple(time, conversion_id)) FROM ("
        " SELECT app_id, conversion_id, argMax(identity, version) AS identity,"
        " argMax(conversion_type, version) AS kind, argMax(conversion_time, version) AS time,"
        f" argMax(deleted, version) AS gone FROM conversions WHERE {_WHERE} GROUP BY app_id, conversion_id"
        ") WHERE gone = 0 AND kind IN ('register', 'activate', 'convert') GROUP BY app_id, identity, kind",
        params,
    )
    for app_id, identity, kind, (time, conversion_id) in rows:
        if app_id in engines:
            family = "purchase" if kind == "convert" else kind
            restore_first(engines[app_id], identity, family, utc(time), conversion_id)


async def _restore_touches(writer: ClickHouseWriter, params: dict[str, Any], engines: dict[str, AppEngine]) -> None:
    rows = await writer.query(
        "SELECT app_id, touchpoint_id, argMax(tuple(identity, anonymous_id, touch_time, kind, source, "
        "channel_type, channel, campaign, creative, click_id, click_platform, signal, scene, matched_click), "
        f"version) FROM touchpoints WHERE {_WHERE} AND touch_time >= {{since:DateTime64(3, 'UTC')}} "
        "GROUP BY app_id, touchpoint_id",
        params,
    )
    for app_id, touchpoint_id, t in rows:
        if app_id in engines:
            identity, anonymous_id, time, kind, source, ctype, channel, campaign, creative, click_id, \
                platform, signal, scene, matched = t
            restore_touch(engines[app_id], Touchpoint(
                touchpoint_id, identity, anonymous_id, utc(time), kind, source, ctype, channel, campaign,
                creative, click_id, platform, signal, int(scene), bool(matched),
            ))


def _naive(value: datetime) -> datetime:
    # DateTime64 parameters travel as zone-less text; the query declares them as UTC.
    return value.astimezone(UTC).replace(tzinfo=None)
