"""Putting stored rows back into an engine: the pure half of rebuilding state after a restart or rebalance.

The shell (`stream/restore_state.py`) reads the rows from ClickHouse; these functions only fold them in.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from stream.journeys.engine import FAMILIES, AppEngine
from stream.journeys.state import AdClick, Conversion, Person, Touchpoint

RESTORED = ("restored",)  # a signature that matches nothing: the next recompute always re-emits


def restore_identity(engine: AppEngine, typed_id: str, user_key: str, first_seen: datetime) -> None:
    engine.graph.restore(typed_id, user_key, first_seen)


def restore_person(engine: AppEngine, user_key: str, last_seen: datetime) -> None:
    """A person live state would still hold: seen within `identity_retention`, so eviction can judge them."""
    _seen(_restored(engine, user_key, last_seen), last_seen)


def _person_of(engine: AppEngine, identity: str) -> tuple[str, Person] | None:
    user_key = engine.graph.key_of(identity)
    if user_key is None:
        return None
    return user_key, _restored(engine, user_key, None)


def _restored(engine: AppEngine, user_key: str, seen: datetime | None) -> Person:
    person = engine.persons.get(user_key)
    if person is None:
        person = engine.persons[user_key] = Person()
        # Looked at by the first eviction after the restore, which queues them for their own deadlines.
        when = engine.watermark or seen
        if when is not None:
            engine.evictions.at(when, user_key)
    return person


def restore_touch(engine: AppEngine, touch: Touchpoint) -> None:
    """Touches in the order they were first written: the first visit carrying a click id claimed it."""
    found = _person_of(engine, touch.identity)
    if found is None:
        return
    _, person = found
    if touch.click_id and not touch.shared_click and engine.clicks.owner(
        touch.click_id, touch.time, engine.horizon, engine.reach
    ) is None:
        engine.clicks.claim(touch.click_id, touch.identity, touch.time, arrived_late=touch.arrived_late)
    if not engine.alive(touch, person):
        return  # read back for its claim only: a late touch its person's clock has passed
    person.touches[touch.touchpoint_id] = touch
    engine.touch_identity[touch.touchpoint_id] = touch.identity
    if touch.click_id and not touch.matched_click and not touch.shared_click:
        engine.waiting.setdefault(touch.click_id, []).append(touch.touchpoint_id)
    _seen(person, touch.time)


def restore_click_claim(engine: AppEngine, click_id: str, openid: str, time: datetime, *, late: bool) -> None:
    """An ad platform's click that named its person, for a click id no visit has claimed."""
    if engine.clicks.owner(click_id, time, engine.horizon, engine.reach) is None:
        engine.clicks.claim(click_id, f"openid:{openid}", time, arrived_late=late)


def restore_conversion(engine: AppEngine, conversion: Conversion) -> None:
    found = _person_of(engine, conversion.identity)
    if found is None:
        return
    _, person = found
    conversion.signature = RESTORED
    if engine.final(conversion, person):
        return  # a late conversion its person's clock has passed (read back with the late ones)
    person.conversions[conversion.conversion_id] = conversion
    engine.conversion_ids[conversion.conversion_id] = conversion.time
    _seen(person, conversion.time)


def restore_closed_conversion(engine: AppEngine, conversion_id: str, time: datetime) -> None:
    """A conversion already final: its id alone is kept, so a late re-send is not counted again."""
    engine.conversion_ids.setdefault(conversion_id, time)


def restore_ad_click(engine: AppEngine, click: AdClick, *, late: bool = False) -> None:
    """`late`: it arrived past the horizon (held apart); restored in arrival order, the first one wins."""
    if late:
        if click.click_id not in engine.clicks.late:
            engine.clicks.add(click, arrived_late=True)
        return
    engine.ad_clicks.setdefault(click.click_id, click)


def restore_first(engine: AppEngine, identity: str, family: str, time: datetime, conversion_id: str) -> None:
    found = _person_of(engine, identity)
    if found is not None:
        found[1].note_first(family, time, conversion_id)


def restore_watermark(engine: AppEngine, watermark: datetime) -> None:
    engine.resume_at(watermark)


def conversion_from_row(
    conversion_id: str, event_id: str, identity: str, conversion_type: str, time: datetime, order_id: str,
    revenue: Decimal, currency: str, *, arrived_late: bool = False,
) -> Conversion:
    family = FAMILIES.get(conversion_type, conversion_type)
    return Conversion(
        conversion_id, event_id, identity, family, time, order_id, revenue, currency, arrived_late=arrived_late
    )


def _seen(person: Person, at: datetime) -> None:
    if person.last_seen is None or at > person.last_seen:
        person.last_seen = at
