"""Rebuilding the refund state of a partition's engines from ClickHouse, below its committed offset (I/O).

What live refund state holds that the rows of `restore_state` do not: how much of each open order is refunded
(the `refunded` column of its newest `conversions` row), the refunds still waiting for their order (refund events
within the allowed lateness of the watermark whose order has no `conversions` row below the offset), and the
index from each open order to its person.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from stream.journeys.engine import AppEngine
from stream.journeys.refunds import REFUND_TYPE, PendingRefund, past_lateness, refund_of
from stream.journeys.state import Conversion
from stream.writer import ClickHouseWriter

_WHERE = "_partition = {p:UInt16} AND _offset < {o:UInt64}"


async def restore_refunds(writer: ClickHouseWriter, partition: int, offset: int, engines: dict[str, AppEngine]) -> None:
    """After `restore_engines` has put back the open conversions: their refunded amounts, and the waiting refunds."""
    if not engines:
        return
    orders = {app_id: _orders_of(engine) for app_id, engine in engines.items()}
    for app_id, engine in engines.items():
        for order in orders[app_id].values():
            engine.refunds.note_order(order, engine.conversion_ids)
    marks = [e.watermark for e in engines.values() if e.watermark is not None]
    if not marks:
        return
    lateness = next(iter(engines.values())).config.allowed_lateness
    params: dict[str, Any] = {"p": partition, "o": offset, "since": _naive(min(marks) - lateness)}
    keys = sorted((app_id, cid) for app_id, by_id in orders.items() for cid in by_id)
    if keys:  # the open orders restored, whatever their age (a late order is open by its person's clock)
        for app_id, conversion_id, amount in await writer.query(
            "SELECT app_id, conversion_id, argMax(refunded, version) AS r FROM conversions "
            f"WHERE {_WHERE} AND (app_id, conversion_id) IN {{keys:Array(Tuple(String, String))}} "
            "GROUP BY app_id, conversion_id HAVING r > 0",
            {**params, "keys": keys},
        ):
            orders[app_id][conversion_id].refunded = Decimal(amount)
    rows = await writer.query(
        "SELECT app_id, event_id, event_time, received_at, anonymous_id, user_id, openid, unionid, properties, "
        f"context FROM events WHERE {_WHERE} AND type = '{REFUND_TYPE}' "
        "AND event_time >= {since:DateTime64(3, 'UTC')} AND (app_id, concat('order:', order_id)) NOT IN "
        f"(SELECT app_id, conversion_id FROM conversions WHERE {_WHERE}) ORDER BY _offset, event_time, event_id",
        params,
    )
    for app_id, event_id, event_time, received_at, anonymous_id, user_id, openid, unionid, properties, context in rows:
        waiting_in = engines.get(app_id)
        at = _utc(event_time)
        if waiting_in is None or past_lateness(waiting_in, at):
            continue  # past this app's own lateness: rejected live already
        event = {
            "event_id": event_id, "type": REFUND_TYPE, "app_id": app_id, "anonymous_id": anonymous_id,
            "user_id": user_id or None, "openid": openid or None, "unionid": unionid or None,
            "event_time": _iso(at), "received_at": _iso(_utc(received_at)),
            "properties": orjson.loads(properties), "context": orjson.loads(context),
        }
        conversion_id, amount = refund_of(event)
        waiting_in.refunds.wait(conversion_id, PendingRefund(event, amount, at))


def _orders_of(engine: AppEngine) -> dict[str, Conversion]:
    return {cid: c for person in engine.persons.values() for cid, c in person.conversions.items() if c.order_id}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
