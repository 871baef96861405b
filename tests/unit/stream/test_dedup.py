"""SeenIds: the processor's bounded, time-windowed memory of event ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stream.dedup import SeenIds

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def key(n: int) -> tuple[str, str]:
    return ("shop", f"e{n}")


def test_ids_older_than_the_window_behind_the_newest_are_forgotten() -> None:
    seen = SeenIds(timedelta(hours=1), max_ids=100)
    seen.add(key(1), T0)
    seen.add(key(2), T0 + timedelta(minutes=30))
    seen.add(key(3), T0 + timedelta(minutes=60))  # horizon T0: e1 (at T0) is kept, the bound is inclusive
    assert key(1) in seen
    seen.add(key(4), T0 + timedelta(minutes=61))  # horizon T0 + 1 min: e1 goes, e2 stays
    assert (key(1) in seen, key(2) in seen, len(seen)) == (False, True, 3)


def test_a_late_arrival_does_not_move_the_horizon() -> None:
    seen = SeenIds(timedelta(hours=1), max_ids=100)
    seen.add(key(1), T0 + timedelta(hours=5))
    seen.add(key(2), T0)  # received long before the newest: remembered until the newest moves on
    assert key(2) in seen
    seen.add(key(3), T0 + timedelta(hours=5, seconds=1))
    assert key(1) in seen
    assert len(seen) == 3  # e2 sits behind e1 in arrival order: eviction stops at the first young entry


def test_the_count_is_bounded_oldest_first() -> None:
    seen = SeenIds(timedelta(days=1), max_ids=3)
    for n in range(5):
        seen.add(key(n), T0 + timedelta(seconds=n))
    assert [key(n) in seen for n in range(5)] == [False, False, True, True, True]


def test_load_replays_entries_in_time_order() -> None:
    seen = SeenIds(timedelta(minutes=10), max_ids=100)
    seen.load([(key(2), T0 + timedelta(minutes=20)), (key(1), T0)])
    assert (key(1) in seen, key(2) in seen) == (False, True)  # e1 is 20 min older than the newest
