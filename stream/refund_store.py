"""The stored-order path of refunds (the I/O half): which orders the refunds of a range refer to, read from
ClickHouse below the range, and offered to each app engine's `RefundBook` before the range is processed.

An order final and evicted from the engine's state (refunded 30 days after the purchase, as e-commerce does)
is found here: its current `conversions` row and its credit rows at that version. Below the range only, as
`restore_state.stored_event_ids_of` reads, so a replay of a half-written range reads what its first run read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from stream.dedup import Key
from stream.journeys.outputs import ConversionRow, CreditRow
from stream.journeys.refunds import StoredOrder
from stream.processor import PartitionProcessor, RangeQuestions
from stream.restore_state import stored_event_ids_of
from stream.writer import ClickHouseWriter

_WHERE = "_partition = {p:UInt16} AND _offset < {o:UInt64}"
_KEYS = "(app_id, conversion_id) IN {keys:Array(Tuple(String, String))}"
_CONVERSION_FIELDS = ConversionRow._fields
_CREDIT_FIELDS = CreditRow._fields


class RangeAsk(NamedTuple):
    """One range of a flush and what its pure step asks (`PartitionProcessor.questions`)."""

    processor: PartitionProcessor
    partition: int
    before: int  # the range's first offset: everything is read below it
    questions: RangeQuestions


async def stored_lookups(writer: ClickHouseWriter, asks: Sequence[RangeAsk]) -> list[frozenset[Key]]:
    """Everything the pure steps of a flush's ranges ask ClickHouse, in their order: for each, the conversion and
    refund events already stored (returned, dropped as duplicates), and the stored orders its new refunds refer
    to (offered to its engines). One query for the stored events of all the ranges; orders per range (rare)."""
    found = await stored_event_ids_of(writer, {a.partition: (a.before, a.questions.conversions) for a in asks})
    answers = []
    for ask in asks:
        stored = found.get(ask.partition, frozenset())
        keys = ask.questions.refund_orders(stored)
        if keys:
            for app_id, orders in (await stored_orders(writer, ask.partition, ask.before, keys)).items():
                engine = ask.processor.engine(app_id)
                if engine is not None:
                    engine.refunds.offer(orders)
        answers.append(stored)
    return answers


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
