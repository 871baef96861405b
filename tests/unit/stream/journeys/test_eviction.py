"""Bounded state without scanning it (stream/journeys/eviction.py): people are looked at when something of theirs
can have run out, and nothing stays once it has."""

from __future__ import annotations

from datetime import timedelta

from stream.journeys.eviction import ExpiringIds, HourQueue
from tests.histories import random_history, time_order
from tests.unit.stream.journeys.conftest import Recorder, day, ev, make_engine
from tests.unit.stream.journeys.test_history_imports import enriched


def test_a_key_is_due_once_at_its_earliest_hour() -> None:
    queue = HourQueue()
    queue.at(day(3), "a")
    queue.at(day(2), "a")  # earlier: replaces
    queue.at(day(5), "a")  # later than queued: no-op
    queue.at(day(4), "b")
    assert queue.due(day(1)) == []
    assert queue.due(day(2, 0.5)) == ["a"]  # the same hour
    assert queue.due(day(10)) == ["b"]  # a's replaced entry at day 3 is not due again
    assert len(queue) == 0


def test_keys_come_due_by_hour_each_once_however_often_they_were_queued() -> None:
    queue = HourQueue()
    queue.at(day(3, 0.25), "a")
    queue.at(day(3, 0.75), "b")  # the same hour as a
    queue.at(day(3), "a")  # earlier, still the same hour: a no-op
    queue.at(day(1), "c")
    queue.at(day(2), "c")  # later than queued: a no-op
    assert len(queue) == 3
    assert queue.due(day(2)) == ["c"]
    queue.at(day(1), "c")  # queued again after it came due: an hour already passed is due at the next look
    queue.at(day(3, 0.5), "c")  # later than queued: a no-op
    assert queue.due(day(2)) == ["c"]
    queue.at(day(3, 0.5), "c")
    queue.at(day(2, 0.5), "a")  # a moves to an earlier hour; its entry at day 3 is skipped
    assert queue.due(day(3) + timedelta(minutes=59)) == ["a", "b", "c"]  # by hour: a's day 2, then day 3's
    assert queue.due(day(30)) == [] and len(queue) == 0


def test_expiring_ids_drop_the_old_ones_and_keep_a_rewritten_one() -> None:
    ids = ExpiringIds()
    ids["o1"], ids["o2"] = day(1), day(5)
    ids["o1"] = day(9)  # written again later: its first time no longer counts
    ids.drop_before(day(6))
    assert sorted(ids) == ["o1"] and ids.get("o1") == day(9) and "o2" not in ids


def test_touches_and_conversions_leave_when_they_run_out_and_idle_people_leave() -> None:
    engine = make_engine()
    run = Recorder(engine)
    run(ev("a1", "enter", day(1), "A", query={"utm_source": "douyin"}))
    run(ev("a2", "convert", day(1, 1), "A", order_id="o1", revenue="10.00"))
    key = engine.graph.key_of("anon:A")
    assert key is not None and len(engine.persons[key].touches) == 1
    # Someone else keeps the app's clock moving: A's touch runs out after lateness + window (14 days).
    for n in range(2, 40):
        run(ev(f"b{n}", "page_view", day(n), "B"))
    person = engine.persons[key]
    assert (person.touches, person.conversions) == ({}, {})
    # Idle for the identity retention (180 days), A leaves altogether; B, active, stays.
    run(ev("b-late", "page_view", day(200), "B"))
    assert key not in engine.persons and engine.graph.key_of("anon:A") is None
    assert engine.graph.key_of("anon:B") is not None


def test_nobody_is_held_past_their_idle_deadline() -> None:
    engine = make_engine()
    Recorder(engine).feed(enriched(s) for s in time_order(random_history(11, people=60)))
    assert engine.persons and engine.watermark is not None
    engine.evict(engine.watermark + engine.config.identity_retention + timedelta(days=1))
    assert engine.persons == {}


def test_a_person_looked_at_is_due_again_when_the_earliest_of_what_they_kept_runs_out() -> None:
    engine = make_engine()  # allowed lateness 7 days, longest window 7: a touch can be credited for 14 days
    run = Recorder(engine)
    run(ev("a1", "enter", day(1), "A", query={"utm_source": "douyin"}))
    run(ev("a2", "convert", day(1, 1), "A", order_id="o1", revenue="10.00"))
    key = engine.graph.key_of("anon:A")
    for n in range(2, 10):  # B moves the app's clock past A's conversion's lateness (day 8, 01:00): one look at A
        run(ev(f"b{n}", "page_view", day(n), "B"))
    person = engine.persons[key or ""]
    assert (len(person.touches), person.conversions) == (1, {})
    # Looked at on day 8 and re-queued for the touch's end, day 15: not for the dropped conversion's time,
    # nor for the idle deadline (day 181).
    assert key not in engine.evictions.due(day(15) - timedelta(hours=1))
    assert key in engine.evictions.due(day(15))
