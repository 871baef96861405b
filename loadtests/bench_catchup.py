"""The journey engine catching up: days of event time folded in one go, as after an outage, a replay or a
history import, against the same engine evicting the way it did before (every person, every hour).

    python -m loadtests.bench_catchup [--people 12000] [--days 20] [--rounds 3]

The events are a randomized history (tests/histories.py: people with one to three devices, logins, paid
clicks with their webhooks, shares, orders) in time order, folded by `AppEngine.apply` in this process: no
Kafka, no ClickHouse. The baseline is the same engine with `evict` replaced by the old full scan, which applies
the same rules to every person each hour of event time. Rounds alternate baseline and current (A B A B ...);
reported: CPU seconds, events per CPU-second, medians, and their ratio. Both must leave the same state.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime
from statistics import median
from typing import Any

from stream.channels import default_taxonomy
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from tests.histories import random_history, time_order
from tests.unit.stream.journeys.test_history_imports import enriched


def full_scan(engine: AppEngine, watermark: datetime) -> None:
    """Eviction as it was: every person, touch and conversion looked at each hour of event time."""
    for user_key, person in list(engine.persons.items()):
        for conversion_id in [k for k, c in person.conversions.items() if engine.final(c, person)]:
            del person.conversions[conversion_id]
        for touch_id in [k for k, t in person.touches.items() if not engine.alive(t, person)]:
            del person.touches[touch_id]
            engine.touch_identity.pop(touch_id, None)
        if person.last_seen is not None and person.last_seen < watermark - engine.config.identity_retention:
            del engine.persons[user_key]
            engine.graph.forget(user_key)
    engine.clicks.evict(watermark - engine.reach, engine.touch_identity)
    engine.conversion_ids.drop_before(watermark - engine.config.identity_retention)


def fold(events: list[dict[str, Any]], evict: Callable[[AppEngine, datetime], None] | None) -> tuple[float, Any]:
    engine = AppEngine("bench", AttributionConfig(), default_taxonomy())
    if evict is not None:
        engine.evict = lambda watermark: evict(engine, watermark)  # type: ignore[method-assign]
    start = time.process_time()
    for version, event in enumerate(events):
        engine.apply(event, version)
    seconds = time.process_time() - start
    state = (len(engine.persons), sum(len(p.touches) + len(p.conversions) for p in engine.persons.values()))
    return seconds, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=12_000)
    parser.add_argument("--days", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    events = [enriched(s) for s in time_order(random_history(7, people=args.people, days=args.days))]
    runs: dict[str, list[float]] = {"full scan (before)": [], "queued (now)": []}
    states = set()
    for _ in range(args.rounds):
        for name, evict in (("full scan (before)", full_scan), ("queued (now)", None)):
            seconds, state = fold(events, evict)
            runs[name].append(seconds)
            states.add(state)
            print(f"{name}: {seconds:.2f} CPU-s, {len(events) / seconds:,.0f} events per CPU-second", flush=True)
    before, now = median(runs["full scan (before)"]), median(runs["queued (now)"])
    print(f"\n{len(events):,} events ({args.people:,} people, {args.days:g} days), {args.rounds} rounds interleaved")
    print(f"median: before {len(events) / before:,.0f}, now {len(events) / now:,.0f} events per CPU-second; "
          f"ratio {before / now:.1f}x")
    print(f"state left (people, touches + conversions): {sorted(states)}")


if __name__ == "__main__":
    main()
