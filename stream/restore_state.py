"""Rebuilding a partition's state from ClickHouse, below its committed offset (the I/O half of recovery).

Invariant: everything in ClickHouse with `_offset < committed` is exactly what the processor had folded in
when it committed, so reading it back gives the state to resume from. Rows at or past the committed offset
belong to a flush that may not have finished; it is replayed, and its insert tokens keep it from doubling.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.events import CONVERSION_TYPES, PURCHASE_TYPES
from schemas.records import AD_TOUCH_TYPES
from schemas.scenes import scene_text
from stream.journeys.clicks import LATE_CLICKS
from stream.journeys.engine import AppEngine
from stream.journeys.identity import platform_id_prefix_sql
from stream.journeys.restore import (
    conversion_from_row,
    restore_ad_click,
    restore_click_claim,
    restore_closed_conversion,
    restore_conversion,
    restore_first,
    restore_identity,
    restore_person,
    restore_touch,
    restore_watermark,
)
from stream.journeys.state import AdClick, Touchpoint
from stream.processor import PartitionProcessor
from stream.refund_restore import restore_refunds
from stream.writer import ClickHouseWriter

_WHERE = "_partition = {p:UInt16} AND _offset < {o:UInt64}"


def _sql_list(names: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(f"'{n}'" for n in names) + ")"  # names are our own constants, never input


_AD_TOUCHES = _sql_list(AD_TOUCH_TYPES)
_CONVERSION_EVENTS = _sql_list(CONVERSION_TYPES)
_PURCHASE_EVENTS = _sql_list(PURCHASE_TYPES)

# The id an event belongs to in the engine: its strongest one (stream.journeys.identity.ids_of, strongest first;
# openids and unionids of platforms other than WeChat carry their platform: platform_id_prefix_sql).
_HOME_ID = (
    "multiIf(user_id != '', concat('uid:', user_id), "
    f"unionid != '', concat({platform_id_prefix_sql('unionid')}, unionid), "
    f"openid != '', concat({platform_id_prefix_sql('openid')}, openid), "
    "phone_hash != '', concat('phone:', phone_hash), "
    "concat('anon:', anonymous_id))"
)
_PERSON_EVENTS = f"{_WHERE} AND type NOT IN {_AD_TOUCHES}"
# Rows still reachable by the app's clock, and those that arrived late (judged by their person's clock, in
# stream.journeys.restore) for people still retained.
_SINCE_OR_LATE = (
    "({time} >= {{since:DateTime64(3, 'UTC')}} OR (arrived_late = 1 AND {time} >= {{retained:DateTime64(3, 'UTC')}}))"
)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def restore_seen_ids(
    writer: ClickHouseWriter, processor: PartitionProcessor, partition: int, offset: int, window_s: int, limit: int
) -> None:
    # The newest ids of the window, as the live set holds them: the retries most likely right after a restart
    # are of the last batches before it. (Ascending order kept the oldest and let those retries through.)
    rows = await writer.query(
        f"SELECT app_id, event_id, received_at FROM events WHERE {_WHERE} AND received_at >= "
        f"(SELECT max(received_at) FROM events WHERE {_WHERE}) - toIntervalSecond({{w:UInt32}}) "
        "ORDER BY received_at DESC, _offset DESC LIMIT {n:UInt32}",
        {"p": partition, "o": offset, "w": window_s, "n": limit},
    )
    processor.seen.load(((app, event_id), utc(at)) for app, event_id, at in reversed(rows))


async def stored_event_ids_of(
    writer: ClickHouseWriter, asks: Mapping[int, tuple[int, Collection[tuple[str, str]]]]
) -> dict[int, frozenset[tuple[str, str]]]:
    """For each partition, which of its keys (app_id, event_id) are in `events` below its offset `before`.

    Below the range only, so a replay of a half-written range gets the same answer as its first run. One lookup
    by the table's sort key (app_id, event_id; ClickHouse uses the key for the tuple IN) for all the ranges of
    a flush, for the few conversion events state cannot judge: a query is ~10 ms of a flush's wall time.
    """
    asks = {p: (before, keys) for p, (before, keys) in asks.items() if keys}
    if not asks:
        return {}
    keyed = sorted((p, app_id, event_id) for p, (_, keys) in asks.items() for app_id, event_id in keys)
    partitions = sorted(asks)
    rows = await writer.query(
        "SELECT DISTINCT _partition, app_id, event_id FROM events "
        "WHERE (_partition, app_id, event_id) IN {keyed:Array(Tuple(UInt16, String, String))} "
        "AND _offset < transform(_partition, {ps:Array(UInt16)}, {os:Array(UInt64)}, toUInt64(0))",
        {"keyed": keyed, "ps": partitions, "os": [asks[p][0] for p in partitions]},
    )
    found: dict[int, set[tuple[str, str]]] = {}
    for partition, app_id, event_id in rows:
        found.setdefault(int(partition), set()).add((app_id, event_id))
    return {p: frozenset(keys) for p, keys in found.items()}


async def restore_engines(
    writer: ClickHouseWriter,
    partition: int,
    offset: int,
    engine_for: Callable[[str], AppEngine | None],
) -> int:
    """Fold the partition's stored journeys back into engines; returns how many apps were restored.

    State comes back bounded as live state is: only people seen within `identity_retention` of their app's
    watermark (with their `last_seen`), their ids, and the touches, clicks and conversions still reachable.
    """
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

    await _restore_people(writer, {**params, "since": _naive(oldest - config.identity_retention)}, engines)
    await _restore_firsts(writer, params, engines)
    for app_id, conversion_id, time in await writer.query(
        f"SELECT app_id, conversion_id, max(conversion_time) FROM conversions WHERE {_WHERE} "
        "AND conversion_time >= {since:DateTime64(3, 'UTC')} GROUP BY app_id, conversion_id",
        {**params, "since": _naive(oldest - config.identity_retention)},
    ):
        if app_id in engines:
            restore_closed_conversion(engines[app_id], conversion_id, utc(time))
    retained = _naive(oldest - config.identity_retention)
    clicks = await _restore_clicks(writer, {**params, "since": _naive(touches_since)}, engines)
    await _restore_touches(writer, {**params, "since": _naive(touches_since), "retained": retained}, engines)
    for app_id, click_id, openid, time, late in clicks:
        restore_click_claim(engines[app_id], click_id, openid, time, late=late)
    for app_id, conversion_id, row in await writer.query(
        "SELECT app_id, conversion_id, argMax(tuple(event_id, identity, conversion_type, conversion_time, "
        "order_id, revenue, currency, deleted, arrived_late), version) AS last FROM conversions "
        f"WHERE {_WHERE} AND {_SINCE_OR_LATE.format(time='conversion_time')} GROUP BY app_id, conversion_id",
        {**params, "since": _naive(conversions_since), "retained": retained},
    ):
        event_id, identity, kind, time, order_id, revenue, currency, deleted, late = row
        if app_id in engines and not deleted:
            conversion = conversion_from_row(
                conversion_id, event_id, identity, kind, utc(time), order_id, revenue, currency,
                arrived_late=bool(late),
            )
            restore_conversion(engines[app_id], conversion)
    await restore_refunds(writer, partition, offset, engines)
    return len(engines)




async def _restore_people(writer: ClickHouseWriter, params: dict[str, Any], engines: dict[str, AppEngine]) -> None:
    """The people seen since `since`, each with its last event time, and every id of theirs (as eviction keeps).

    A person's `last_seen` is the newest event time among the events whose strongest id maps to them now.
    """
    rows = await writer.query(
        # The newest row's first_seen, not the oldest: a person evicted and seen again is a new component live.
        "WITH ids AS (SELECT app_id, typed_id, argMax(user_key, version) AS user_key,"
        " argMax(first_seen, version) AS first_seen"
        f" FROM identities WHERE {_WHERE} GROUP BY app_id, typed_id),"
        " active AS (SELECT ids.app_id AS app_id, ids.user_key AS user_key, max(seen.last) AS last_seen FROM"
        f" (SELECT app_id, {_HOME_ID} AS home, max(event_time) AS last FROM events WHERE {_PERSON_EVENTS}"
        "  AND event_time >= {since:DateTime64(3, 'UTC')} GROUP BY app_id, home) AS seen"
        " INNER JOIN ids ON ids.app_id = seen.app_id AND ids.typed_id = seen.home GROUP BY app_id, user_key)"
        " SELECT ids.app_id, ids.typed_id, ids.user_key, ids.first_seen, active.last_seen FROM ids"
        " INNER JOIN active ON active.app_id = ids.app_id AND active.user_key = ids.user_key"
        " ORDER BY ids.app_id, ids.typed_id",
        params,
    )
    for app_id, typed_id, user_key, first_seen, last_seen in rows:
        engine = engines.get(app_id)
        if engine is None or engine.watermark is None:
            continue
        seen = utc(last_seen)
        if seen < engine.watermark - engine.config.identity_retention:
            continue  # this app's watermark is newer than the oldest one the query was bounded by
        restore_identity(engine, typed_id, user_key, utc(first_seen))
        restore_person(engine, user_key, seen)


async def _restore_firsts(writer: ClickHouseWriter, params: dict[str, Any], engines: dict[str, AppEngine]) -> None:
    """The earliest register, activate and purchase of every restored person, over all time.

    Read from `events`, not `conversions`: a kind outside `conversion_types` writes no conversion rows, yet
    decides whether the next order is a first one. Each conversion id counts as its first-stored event (the
    engine drops later events of the same order), mapped like the engine does (stream.journeys.engine).
    """
    rows = await writer.query(
        "SELECT app_id, h, f, min(tuple(t, cid)) FROM ("
        # One argMin of the tuple: three separate ones could each pick another row of the same Kafka record.
        " SELECT app_id, cid, argMin(tuple(home, family, event_time), tuple(_offset, event_time, event_id))"
        " AS first_row, first_row.1 AS h, first_row.2 AS f, first_row.3 AS t FROM ("
        f"  SELECT app_id, _offset, event_time, event_id, {_HOME_ID} AS home,"
        f"   if(type IN {_PURCHASE_EVENTS}, 'purchase', type) AS family,"
        "   if(family = 'purchase' AND order_id != '', concat('order:', order_id), concat(type, ':', event_id))"
        "   AS cid"
        f"  FROM events WHERE {_WHERE} AND type IN {_CONVERSION_EVENTS})"
        " GROUP BY app_id, cid"
        ") GROUP BY app_id, h, f",
        params,
    )
    for app_id, home, family, (time, conversion_id) in rows:
        if app_id in engines:
            restore_first(engines[app_id], home, family, utc(time), conversion_id)


async def _restore_touches(writer: ClickHouseWriter, params: dict[str, Any], engines: dict[str, AppEngine]) -> None:
    rows = await writer.query(
        "SELECT app_id, touchpoint_id, argMax(tuple(identity, anonymous_id, touch_time, kind, source, "
        "channel_type, channel, campaign, creative, click_id, click_platform, signal, scene, matched_click, "
        f"shared_click, arrived_late), version), min(version) AS first FROM touchpoints WHERE {_WHERE} "
        f"AND {_SINCE_OR_LATE.format(time='touch_time')} GROUP BY app_id, touchpoint_id ORDER BY first",
        params,
    )
    # In the order they were first written: the first visit that carried a click id claimed it.
    for app_id, touchpoint_id, t, _ in rows:
        if app_id in engines:
            identity, anonymous_id, time, kind, source, ctype, channel, campaign, creative, click_id, \
                platform, signal, scene, matched, shared, late = t
            restore_touch(engines[app_id], Touchpoint(
                touchpoint_id, identity, anonymous_id, utc(time), kind, source, ctype, channel, campaign,
                creative, click_id, platform, signal, scene_text(scene), bool(matched), bool(shared), bool(late),
            ))


async def _restore_clicks(
    writer: ClickHouseWriter, params: dict[str, Any], engines: dict[str, AppEngine]
) -> list[tuple[str, str, str, datetime, bool]]:
    """Ad clicks and impressions: those still reachable, and the newest that arrived past the horizon (held
    apart, bounded: LATE_CLICKS), in arrival order. Returns the ones that named their person's openid.

    Each click id comes back as its first-stored touch, all fields from that one row: the engine keeps the first.
    """
    select = (
        "SELECT app_id, JSONExtractString(properties, 'click_id') AS click, argMin(tuple(event_time, "
        "JSONExtractString(properties, 'platform'), JSONExtractString(properties, 'channel_type'), "
        "JSONExtractString(properties, 'channel'), JSONExtractString(properties, 'campaign'), "
        "JSONExtractString(properties, 'creative'), openid, _offset), _offset) AS first FROM events "
        f"WHERE {_WHERE} AND type IN {_AD_TOUCHES} AND click != '' "
    )
    live = await writer.query(
        select + "AND arrived_late = 0 AND event_time >= {since:DateTime64(3, 'UTC')} GROUP BY app_id, click", params
    )
    late = await writer.query(
        select + "AND arrived_late = 1 GROUP BY app_id, click ORDER BY app_id, first.8 DESC "
        "LIMIT {n:UInt32} BY app_id", {**params, "n": LATE_CLICKS},
    )
    named = []
    for rows, is_late in ((live, False), (sorted(late, key=lambda r: r[2][7]), True)):
        for app_id, click_id, (time, platform, ctype, channel, campaign, creative, openid, _) in rows:
            if app_id in engines:
                click = AdClick(click_id, utc(time), platform, ctype or "paid", channel, campaign, creative)
                restore_ad_click(engines[app_id], click, late=is_late)
                if openid:
                    named.append((app_id, click_id, openid, utc(time), is_late))
    return named


def _naive(value: datetime) -> datetime:
    # DateTime64 parameters travel as zone-less text; the query declares them as UTC.
    return value.astimezone(UTC).replace(tzinfo=None)
