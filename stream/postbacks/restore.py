"""Rebuilding a partition's postback state from ClickHouse below its committed offset (the I/O half).

After the engines are restored (stream/restore_state.py), the book gets back the ad clicks still within each
app's horizon, with their integration and callback (from the `ad_click` rows of `events`), and the newest row
of every intent of a conversion still open, so a replay decides exactly what the first run decided.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stream.postbacks.decide import ClickRef, PostbackIntent
from stream.processor import PartitionProcessor
from stream.restore_state import restore_engines, restore_seen_ids, utc
from stream.rows import POSTBACK_INTENT_COLUMNS
from stream.writer import ClickHouseWriter

_WHERE = "_partition = {p:UInt16} AND _offset < {o:UInt64}"
_INTENT_FIELDS = POSTBACK_INTENT_COLUMNS[2:-2]  # all but the key and the source position


async def restore_partition(
    writer: ClickHouseWriter, processor: PartitionProcessor, partition: int, offset: int, window_s: int,
    max_ids: int,
) -> int:
    """The dedup ids and the engines (stream/restore_state.py), then the postback book; returns how many apps
    were restored."""
    await restore_seen_ids(writer, processor, partition, offset, window_s, max_ids)
    restored = await restore_engines(writer, partition, offset, processor.engine)
    book = processor.postbacks
    if book is None or not processor.engines:
        return restored
    horizons = {app: e.horizon for app, e in processor.engines.items() if e.horizon is not None}
    if not horizons:
        return restored
    since = _naive(min(horizons.values()))
    params = {"p": partition, "o": offset, "since": since}
    for app_id, click_id, (time, integration_id, callback, openid) in await writer.query(
        "SELECT app_id, JSONExtractString(properties, 'click_id') AS click, argMin(tuple(event_time, "
        "JSONExtractString(properties, 'integration_id'), JSONExtractString(properties, 'callback'), openid), "
        f"_offset) FROM events WHERE {_WHERE} AND type = 'ad_click' AND click != '' "
        "AND event_time >= {since:DateTime64(3, 'UTC')} GROUP BY app_id, click",
        params,
    ):
        if app_id in horizons and utc(time) >= horizons[app_id]:
            book.restore_click(app_id, click_id, ClickRef(integration_id, callback, utc(time), openid))
    fields = ", ".join(_INTENT_FIELDS)
    for app_id, intent_id, row in await writer.query(
        f"SELECT app_id, intent_id, argMax(tuple({fields}), version) FROM postback_intents WHERE {_WHERE} "
        "AND conversion_time >= {since:DateTime64(3, 'UTC')} GROUP BY app_id, intent_id",
        params,
    ):
        values = dict(zip(_INTENT_FIELDS, row, strict=True))
        for name in ("conversion_time", "click_time", "decided_at"):
            values[name] = utc(values[name])
        values["reattributed"] = bool(values["reattributed"])
        if app_id in horizons and values["conversion_time"] >= horizons[app_id]:
            book.restore_intent(PostbackIntent(app_id=app_id, intent_id=intent_id, **values))
    return restored


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
