"""The stored-order path of refunds (the I/O half): which orders the refunds of a range refer to, read from
ClickHouse below the range, and offered to each app engine's `RefundBook` before the range is processed.

An order final and evicted from the engine's state (refunded 30 days after the purchase, as e-commerce does)
is found here: its current `conversions` row and its credit rows at that version. Below the range only, as
`restore_state.stored_event_ids` reads, so a replay of a half-written range reads what its first run read.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from stream.dedup import Key
from stream.journeys.outputs import ConversionRow, CreditRow
from stream.journeys.refunds import StoredOrder
from stream.processor import PartitionProcessor, RangeQuestions
from stream.restore_state import stored_event_ids
from stream.writer import ClickHouseWriter

_WHERE = "_partition = {p:UInt16} AND _offset < {o:UInt64}"
_KEYS = "(app_id, conversion_id) IN {keys:Array(Tuple(String, String))}"
_CONVERSION_FIELDS = tuple(f.name for f in fields(ConversionRow))
_CREDIT_FIELDS = CreditRow._fields


async def stored_lookups(
    writer: ClickHouseWriter, processor: PartitionProcessor, partition: int, before: int, questions: RangeQuestions
) -> frozenset[Key]:
    """Everything the pure step asks ClickHouse about a range: the conversion and refund events already stored
    (returned, dropped as duplicates), and the stored orders its new refunds refer to (offered to the engines)."""
    stored = await stored_event_ids(writer, partition, before, questions.conversions)
    keys = questions.refund_orders(stored)
    if keys:
        for app_id, orders in (await stored_orders(writer, partition, before, keys)).items():
            engine = processor.engine(app_id)
            if engine is not None:
                engine.refunds.offer(orders)
    return stored


async def stored_orders(
    writer: ClickHouseWriter, partition: int, before: int, keys: set[Key]
) -> dict[str, list[StoredOrder]]:
    """app_id -> the stored orders among `keys` that have current credits below offset `before`."""
    params: dict[str, Any] = {"p": partition, "o": before, "keys": sorted(keys)}
    row_fields = _CONVERSION_FIELDS[2:]  # app_id and conversion_id are the group keys
    conversions: dict[Key, ConversionRow] = {}
    for app_id, conversion_id, values in await writer.query(
        f"SELECT app_id, conversion_id, argMax(tuple({', '.join(row_fields)}), version) FROM conversions "
        f"WHERE {_WHERE} AND {_KEYS} GROUP BY app_id, conversion_id",
        params,
    ):
        row = _typed(dict(zip(row_fields, values, strict=True)))
        if not row["deleted"]:
            conversions[(app_id, conversion_id)] = ConversionRow(app_id=app_id, conversion_id=conversion_id, **row)
    if not conversions:
        return {}
    credits: dict[Key, list[CreditRow]] = {}
    for values in await writer.query(
        f"SELECT {', '.join(_CREDIT_FIELDS)} FROM attribution_credits WHERE {_WHERE} AND {_KEYS} "
        "AND (app_id, conversion_id, version) IN (SELECT app_id, conversion_id, max(version) FROM "
        f"attribution_credits WHERE {_WHERE} AND {_KEYS} GROUP BY app_id, conversion_id) "
        "ORDER BY app_id, conversion_id, model, touch_index",
        params,
    ):
        credit = CreditRow(**_typed(dict(zip(_CREDIT_FIELDS, values, strict=True))))
        credits.setdefault((credit.app_id, credit.conversion_id), []).append(credit)
    found: dict[str, list[StoredOrder]] = {}
    for key, conversion in conversions.items():
        rows = credits.get(key, [])
        # Credits and their conversion row are written together, at one version; a mismatch is not current.
        if rows and not rows[0].deleted and rows[0].version == conversion.version:
            found.setdefault(key[0], []).append(StoredOrder(conversion, tuple(rows)))
    return found


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """ClickHouse values as the engine's rows hold them: aware UTC datetimes, bools for UInt8 flags."""
    for name, value in values.items():
        if isinstance(value, datetime):
            values[name] = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        elif name in ("deleted", "matched_click", "arrived_late", "shared_click"):
            values[name] = bool(value)
    return values
