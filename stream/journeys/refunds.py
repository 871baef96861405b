"""Refunds in the journey engine: pure. A refund lowers its order's net revenue and the order's credits are
written again, under every model, at the refund's version.

Where the order is, decides how (docs/attribution.md, "Refunds"):

1. in the engine's state (open, or final and not yet evicted): the conversion's `refunded` grows and the
   engine emits the conversion again; its credits split `revenue - refunded` (engine `_emit`);
2. out of state, but stored (final and evicted, e.g. refunded 30 days after the purchase): the processor looks
   the order's current conversion row and credits up below the flushed range (stream/refund_store.py) and offers
   them to the `RefundBook`; the credits are rescaled to the new net revenue by `rescale_credits`;
3. not seen yet: the refund waits (bounded, `MAX_PENDING` per app) and is applied when the order arrives, until
   the watermark passes the refund's time plus the allowed lateness: then it is rejected.

A refund that would take an order's refunds above its revenue is rejected alone (`RefundRejection`, written to
`bad_events`); the refunds before it stand. Every amount is in the app's reporting currency (the collector
converts) and split in whole minor units with `credits.split_revenue`, so each model's credits sum to the net
revenue exactly and its `refund_credit`s to the refunded amount.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from schemas.events import REFUND_TYPES
from stream.attribution.credits import split_revenue
from stream.journeys.identity import ids_of
from stream.journeys.outputs import ConversionRow, CreditRow, EngineOutput, RefundRejection
from stream.journeys.state import Conversion, Person

if TYPE_CHECKING:
    from stream.journeys.engine import AppEngine

REFUND_TYPE: Final = REFUND_TYPES[0]
MAX_PENDING = 10_000  # refunds waiting for their order, per app; one more is rejected
MAX_STORED = 10_000  # stored orders remembered after a lookup (a later refund in the same range must see them)
PRUNE_SLACK = 10_000


@dataclass(frozen=True, slots=True)
class PendingRefund:
    event: dict[str, Any]
    amount: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order's current conversion row and credit rows (all at the conversion row's version), as stored."""

    conversion: ConversionRow
    credits: tuple[CreditRow, ...]


class RefundBook:
    """The refund state of one app engine: refunds waiting for their order, and stored orders looked up."""

    def __init__(self) -> None:
        self.pending: dict[str, list[PendingRefund]] = {}  # conversion id -> refunds, in arrival order
        self.count = 0
        # (time, conversion id) of every refund that waited: a heap, so expiry looks only at the ones due
        # (entries of refunds already applied are skipped when they come up).
        self._expiry: list[tuple[datetime, str]] = []
        self.stored: OrderedDict[str, StoredOrder] = OrderedDict()
        # conversion id -> the typed id of the order's event: finds the order's person in one lookup (after a
        # merge too), whoever sends the refund. Pruned to the engine's own conversion ids as they are.
        self.owners: dict[str, str] = {}

    def note_order(self, conversion: Conversion, engine_ids: Collection[str]) -> None:
        """An order entered the state. `engine_ids`: the conversion ids the engine keeps (bounded by its own
        eviction); past them by `PRUNE_SLACK` entries, the index keeps only theirs (amortised O(1) per order)."""
        owners = self.owners
        owners[conversion.conversion_id] = conversion.identity
        if len(owners) > len(engine_ids) + PRUNE_SLACK:
            self.owners = {cid: identity for cid, identity in owners.items() if cid in engine_ids}

    def wait(self, conversion_id: str, refund: PendingRefund) -> None:
        self.pending.setdefault(conversion_id, []).append(refund)
        self.count += 1
        heapq.heappush(self._expiry, (refund.time, conversion_id))

    @property
    def oldest(self) -> datetime | None:
        """The earliest time a waiting refund may have (expiry is checked against it)."""
        return self._expiry[0][0] if self._expiry else None

    def due(self, engine: AppEngine) -> list[str]:
        """Conversion ids with a refund waiting past the allowed lateness, each once, oldest first."""
        heap, out = self._expiry, []
        while heap and past_lateness(engine, heap[0][0]):
            _, conversion_id = heapq.heappop(heap)
            if conversion_id in self.pending and conversion_id not in out:
                out.append(conversion_id)
        return out

    def take(self, conversion_id: str) -> list[PendingRefund]:
        items = self.pending.pop(conversion_id, [])
        self.count -= len(items)
        if not self.pending:
            self._expiry.clear()  # nothing waits: the entries left are of refunds already applied
        return items

    def offer(self, orders: Iterable[StoredOrder]) -> None:
        """Stored orders from a lookup: kept unless a newer state of the same order is already known here."""
        for order in orders:
            known = self.stored.get(order.conversion.conversion_id)
            if known is None or known.conversion.version < order.conversion.version:
                self.remember(order)

    def remember(self, order: StoredOrder) -> None:
        key = order.conversion.conversion_id
        self.stored[key] = order
        self.stored.move_to_end(key)
        while len(self.stored) > MAX_STORED:
            self.stored.popitem(last=False)


def order_conversion_id(order_id: str) -> str:
    """The conversion id of an order (stream.journeys.engine.conversion_id_of for purchases)."""
    return f"order:{order_id}"


def refund_of(event: dict[str, Any]) -> tuple[str, Decimal]:
    """(the order's conversion id, the amount) of a refund event; ValueError if it has neither."""
    properties = event.get("properties") or {}
    order_id = str(properties.get("order_id") or "")
    amount = Decimal(str(properties.get("amount")))
    if not order_id or not amount.is_finite() or amount <= 0:
        msg = f"refund {event.get('event_id')!r} needs an order_id and an amount > 0"
        raise ValueError(msg)
    return order_conversion_id(order_id), amount


def over_refund(conversion_id: str, revenue: Decimal, refunded: Decimal, amount: Decimal) -> str | None:
    """Why a refund of `amount` cannot be applied to an order, or None if it can."""
    if refunded + amount <= revenue:
        return None
    return (
        f"refund of {amount} would take the refunds of {conversion_id.removeprefix('order:')!r} to "
        f"{refunded + amount}, above its revenue {revenue} (already refunded: {refunded})"
    )


def past_lateness(engine: AppEngine, at: datetime) -> bool:
    """A refund (or an order) older than the watermark minus the allowed lateness: nothing waits for it."""
    watermark = engine.watermark
    return watermark is not None and at < watermark - engine.config.allowed_lateness


# -- the engine's hooks -------------------------------------------------------------------------------------


def fold_refund(engine: AppEngine, event: dict[str, Any], at: datetime, version: int, out: EngineOutput) -> None:
    """A refund event: applied to its order in state, or in the store, or waiting for it (see module doc)."""
    conversion_id, amount = refund_of(event)
    found = _in_state(engine, conversion_id, event)
    if found is not None:
        person, user_key, conversion = found
        reason = over_refund(conversion_id, conversion.revenue, conversion.refunded, amount)
        if reason is not None:
            out.rejections.append(RefundRejection(event, reason))
            return
        conversion.refunded += amount
        # Also a final conversion: its revenue changed, so its credits are written again (not re-attributed:
        # its journey in state is the one it was final with, unless a late touch arrived for it since).
        engine._emit(person, conversion, user_key, version, out)
        return
    book = engine.refunds
    stored = book.stored.get(conversion_id)
    if stored is not None:
        result = refund_stored(stored, amount, version)
        if isinstance(result, str):
            out.rejections.append(RefundRejection(event, result))
            return
        book.remember(result)
        out.conversions.append(result.conversion)
        out.credits.extend(result.credits)
        return
    if past_lateness(engine, at):
        reason = (
            f"order {conversion_id.removeprefix('order:')!r} is unknown and the refund is older than the allowed "
            "lateness: it has nothing to wait for"
        )
        out.rejections.append(RefundRejection(event, reason))
        return
    if book.count >= MAX_PENDING:
        reason = (
            f"order {conversion_id.removeprefix('order:')!r} is not seen yet and {MAX_PENDING} refunds are "
            "already waiting for their orders"
        )
        out.rejections.append(RefundRejection(event, reason))
        return
    book.wait(conversion_id, PendingRefund(event, amount, at))


def settle_pending(engine: AppEngine, person: Person, event: dict[str, Any], out: EngineOutput) -> None:
    """After a conversion event: its order is indexed, and the refunds that waited for it are applied (before
    the order is emitted, so its first credits are already net)."""
    order_id = str((event.get("properties") or {}).get("order_id") or "")
    conversion_id = order_conversion_id(order_id)
    conversion = person.conversions.get(conversion_id) if order_id else None
    if conversion is None or conversion.event_id != event["event_id"]:
        return  # not an order, or the same order sent again
    book = engine.refunds
    book.note_order(conversion, engine.conversion_ids)
    if conversion_id not in book.pending:
        return
    for refund in book.take(conversion_id):
        reason = over_refund(conversion_id, conversion.revenue, conversion.refunded, refund.amount)
        if reason is not None:
            out.rejections.append(RefundRejection(refund.event, reason))
        else:
            conversion.refunded += refund.amount


def expire_pending(engine: AppEngine, out: EngineOutput) -> None:
    """Refunds whose order did not come within the allowed lateness of their own time are rejected."""
    book = engine.refunds
    oldest = book.oldest
    if oldest is None or not past_lateness(engine, oldest):
        return
    for conversion_id in book.due(engine):
        keep = []
        for refund in book.pending[conversion_id]:
            if past_lateness(engine, refund.time):
                reason = (
                    f"order {conversion_id.removeprefix('order:')!r} was not seen within the allowed lateness "
                    f"({engine.config.allowed_lateness}) of the refund"
                )
                out.rejections.append(RefundRejection(refund.event, reason))
            else:
                keep.append(refund)
        book.count -= len(book.pending[conversion_id]) - len(keep)
        if keep:
            book.pending[conversion_id] = keep
        else:
            del book.pending[conversion_id]


def _in_state(engine: AppEngine, conversion_id: str, event: dict[str, Any]) -> tuple[Person, str, Conversion] | None:
    """The order's conversion in the engine's state, through the id of the order's own event (the index), else
    through the refund's ids; None once the order has left the state."""
    graph, persons = engine.graph, engine.persons
    owner = engine.refunds.owners.get(conversion_id)
    for typed_id in (owner, *ids_of(event)) if owner else ids_of(event):
        user_key = graph.key_of(typed_id)
        person = persons.get(user_key) if user_key is not None else None
        if person is not None and user_key is not None and conversion_id in person.conversions:
            return person, user_key, person.conversions[conversion_id]
    return None


# -- stored orders and credit rows ----------------------------------------------------------------------------


def refund_stored(order: StoredOrder, amount: Decimal, version: int) -> StoredOrder | str:
    """The stored order after a refund of `amount`, its rows at `version`; or why the refund is rejected."""
    c = order.conversion
    reason = over_refund(c.conversion_id, c.revenue, c.refunded, amount)
    if reason is not None:
        return reason
    refunded = c.refunded + amount
    conversion = c._replace(refunded=refunded, version=version)
    return StoredOrder(conversion, tuple(rescale_credits(order.credits, c.revenue - refunded, refunded, version)))


def rescale_credits(
    credits: Iterable[CreditRow], net_revenue: Decimal, refunded: Decimal, version: int
) -> list[CreditRow]:
    """One conversion's credit rows with the revenue parts of `net_revenue` and the refund parts of `refunded`.

    Split per model by the rows' own shares (`credit`), in row order, with `split_revenue`'s largest-remainder
    rule: exactly what the engine writes for that journey and net revenue. Tombstones are returned as they are.
    """
    rows = list(credits)
    by_model: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if not row.deleted:
            by_model.setdefault(row.model, []).append(i)
    out = [row._replace(version=version) for row in rows]
    for indices in by_model.values():
        shares = [rows[i].credit for i in indices]
        currency = rows[indices[0]].currency
        net_parts = split_revenue(net_revenue, shares, currency)
        refund_parts = split_revenue(refunded, shares, currency)
        for i, net, refund in zip(indices, net_parts, refund_parts, strict=True):
            out[i] = out[i]._replace(revenue_credit=net, refund_credit=refund)
    return out
