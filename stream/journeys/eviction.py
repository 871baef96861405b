"""Bounded state without scanning it: each person is looked at when something of theirs can have run out.

The engine used to look at every person, touch and conversion each time event time moved an hour. Live, an hour
of event time takes an hour; in a replay or a history import days of event time pass in minutes, and that scan
made catch-up quadratic in state (issue 12: 93% of a 20-day catch-up's profile). Now a person is queued for the
hour when the first of their touches or conversions can be past the app's horizon, or when they can have been
idle for the identity retention, and is looked at then and re-queued for the next such hour. What leaves is
decided by the rules attribution uses (`AppEngine.final`, `AppEngine.alive`), so when eviction runs never changes
a result: only how much memory is held until it does.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.journeys.engine import AppEngine

HOUR_S = 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _hour(when: datetime) -> int:
    return int(when.timestamp()) // HOUR_S


class HourQueue:
    """Keys due at an hour, each at its earliest requested hour (a later request for a queued key is a no-op).

    One list of keys per hour and a heap of the hours, not a heap of every (hour, key): a catch-up queues and
    re-queues ~180k keys over ~6,000 hours (BENCHMARKS.md, twelfth session). A key remembers the start of its
    hour, so a request for a key queued at or before it (most of them: every touch of a person asks) is one
    comparison of datetimes.
    """

    def __init__(self) -> None:
        self._hours: list[int] = []  # a heap of the hours that have a list
        self._keys: dict[int, list[str]] = {}  # hour -> keys queued for it (a replaced entry stays, is skipped)
        self._queued: dict[str, datetime] = {}  # key -> the start of the hour it is queued for

    def __len__(self) -> int:
        return len(self._queued)

    def at(self, when: datetime, key: str) -> None:
        queued = self._queued.get(key)
        if queued is not None and queued <= when:
            return
        hour = _hour(when)
        self._queued[key] = _EPOCH + timedelta(seconds=hour * HOUR_S)
        keys = self._keys.get(hour)
        if keys is None:
            self._keys[hour] = [key]
            heapq.heappush(self._hours, hour)
        else:
            keys.append(key)

    def due(self, now: datetime) -> list[str]:
        """The keys due at or before `now`'s hour, each once, by hour; they are no longer queued."""
        hour, hours, queued, out = _hour(now), self._hours, self._queued, []
        while hours and hours[0] <= hour:
            due_hour = heapq.heappop(hours)
            start = _EPOCH + timedelta(seconds=due_hour * HOUR_S)
            for key in self._keys.pop(due_hour):
                if queued.get(key) == start:
                    del queued[key]
                    out.append(key)
        return out


class ExpiringIds:
    """Ids with a time, dropped once the time is before a cutoff: a heap instead of a sweep of every id."""

    def __init__(self) -> None:
        self.times: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def __contains__(self, key: object) -> bool:
        return key in self.times

    def __iter__(self) -> Iterator[str]:
        return iter(self.times)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExpiringIds) and other.times == self.times

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __len__(self) -> int:
        return len(self.times)

    def get(self, key: str) -> datetime | None:
        return self.times.get(key)

    def setdefault(self, key: str, time: datetime) -> datetime:
        if key not in self.times:
            self[key] = time
        return self.times[key]

    def pop(self, key: str, default: datetime | None = None) -> datetime | None:
        return self.times.pop(key, default)  # its heap entry is skipped when it comes up

    def __setitem__(self, key: str, time: datetime) -> None:
        self.times[key] = time
        heapq.heappush(self._heap, (time, key))

    def drop_before(self, cutoff: datetime) -> None:
        heap, times = self._heap, self.times
        while heap and heap[0][0] < cutoff:
            time, key = heapq.heappop(heap)
            if times.get(key) == time:
                del times[key]


def evict_people(engine: AppEngine, watermark: datetime) -> None:
    """Look at the people due by `watermark`: drop what can no longer change, re-queue the rest.

    A person is due again by the app time when something of theirs can have run out: their live touches and
    conversions by the app's clock; late ones by their person's clock, which moves only with the person, so
    they are looked at again when the person can have been idle for the identity retention. The earliest time
    plus a constant is the earliest deadline, so the pass that drops items also finds the earliest of the rest.
    """
    config = engine.config
    reach, lateness, retention = engine.reach, config.allowed_lateness, config.identity_retention
    idle_before = watermark - retention
    # Bound once: a catch-up looks at ~90k people (BENCHMARKS.md, eleventh session).
    final, alive, persons, touch_identity = engine.final, engine.alive, engine.persons, engine.touch_identity
    evictions = engine.evictions
    for user_key in evictions.due(watermark):
        person = persons.get(user_key)
        if person is None:
            continue  # merged into another person (who was queued then) or forgotten
        converted: datetime | None = None  # the earliest live conversion kept
        if person.conversions:
            ended = []
            for conversion_id, c in person.conversions.items():
                if final(c, person):
                    ended.append(conversion_id)
                elif not c.arrived_late and (converted is None or c.time < converted):
                    converted = c.time
            for conversion_id in ended:
                del person.conversions[conversion_id]
        touched: datetime | None = None  # the earliest live touch kept
        dead = []
        for touch_id, t in person.touches.items():
            if not alive(t, person):
                dead.append(touch_id)
            elif not t.arrived_late and (touched is None or t.time < touched):
                touched = t.time
        for touch_id in dead:
            del person.touches[touch_id]
            touch_identity.pop(touch_id, None)
        last_seen = person.last_seen
        if last_seen is not None and last_seen < idle_before:
            del persons[user_key]
            engine.graph.forget(user_key)
            continue
        deadlines = [] if last_seen is None else [last_seen + retention]
        if touched is not None:
            deadlines.append(touched + reach)
        if converted is not None:
            deadlines.append(converted + lateness)
        if deadlines:
            evictions.at(min(deadlines), user_key)
