"""The flush policy: the wait after a flush follows its cost, between the floor and the configured interval."""

from __future__ import annotations

import pytest

from stream.flush_policy import FlushPolicy, FlushWindow
from stream.settings import StreamSettings

POLICY = FlushPolicy(min_interval_s=0.1, max_interval_s=1.0, cost_ratio=2.0, max_records=100, max_bytes=10_000)


@pytest.mark.parametrize(
    ("flush_seconds", "interval"),
    [
        (0.0, 0.1),  # nothing to do: the floor
        (0.02, 0.1),  # 0.06 < floor
        (0.05, 0.15),  # (1 + 2) × 0.05: the flush, then twice its time of waiting
        (0.2, 0.6),
        (0.34, 1.0),  # 1.02 capped at the configured interval
        (5.0, 1.0),
    ],
)
def test_the_interval_is_the_flush_plus_ratio_times_it_within_bounds(flush_seconds: float, interval: float) -> None:
    assert POLICY.interval_after(flush_seconds) == pytest.approx(interval)


def test_after_a_flush_that_read_a_backlog_the_wait_is_the_full_interval() -> None:
    assert POLICY.interval_after(0.02, behind=True) == 1.0  # not the floor (0.1)
    assert POLICY.interval_after(0.3, behind=True) == 1.0  # not (1 + 2) × 0.3


@pytest.mark.parametrize(
    ("newest_ms", "now_s", "behind"),
    [
        (1_000_000, 1_002.0, False),  # written 2 s before: keeping up
        (1_000_000, 1_003.0, False),  # 3 s: three full intervals, not more
        (1_000_000, 1_003.001, True),
        (1_000_000, 990.0, False),  # written "after" now (a writer's clock ahead of ours)
        (None, 5_000.0, False),  # no timestamp known
        (0, 5_000.0, False),
        (-1, 5_000.0, False),  # Kafka's "no timestamp"
    ],
)
def test_a_flush_reads_a_backlog_when_its_newest_record_is_more_than_three_intervals_old(
    newest_ms: int | None, now_s: float, behind: bool
) -> None:
    assert POLICY.behind(newest_ms, now_s) is behind


def test_nothing_buffered_is_never_due() -> None:
    assert POLICY.due(records=0, size=0, age_s=99.0, interval_s=0.1) is False


def test_young_small_buffers_wait_for_the_interval() -> None:
    assert POLICY.due(records=3, size=500, age_s=0.09, interval_s=0.1) is False
    assert POLICY.due(records=3, size=500, age_s=0.1, interval_s=0.1) is True


@pytest.mark.parametrize(("records", "size"), [(100, 10), (1, 10_000)])
def test_a_size_bound_flushes_at_once(records: int, size: int) -> None:
    assert POLICY.due(records=records, size=size, age_s=0.0, interval_s=1.0) is True


def test_settings_give_the_policy_and_a_floor_above_the_interval_is_the_interval() -> None:
    s = StreamSettings(stream_flush_interval_s=0.05, stream_flush_min_interval_s=0.2, stream_flush_cost_ratio=3.0)
    policy = FlushPolicy.of(s)
    assert (policy.min_interval_s, policy.max_interval_s, policy.cost_ratio) == (0.05, 0.05, 3.0)
    assert (policy.max_records, policy.max_bytes) == (10_000, 32_000_000)
    assert policy.interval_after(0.0) == 0.05


def test_the_window_of_a_flush_opens_at_its_start_and_its_interval_follows_its_cost() -> None:
    window = FlushWindow(POLICY)
    assert window.due(records=3, size=10, now=5.0) is False  # nothing has opened it yet
    window.record_arrived(5.0)
    window.record_arrived(5.05)  # a later record does not move it
    assert window.due(records=3, size=10, now=5.09) is False
    assert window.due(records=3, size=10, now=5.11) is True  # the floor (0.1 s): no flush has set an interval yet
    window.flushed(started=5.1, ended=5.4)  # 0.3 s: the next is due (1 + 2) × 0.3 after 5.1
    window.record_arrived(5.4)  # records that arrived during the flush do not reopen it
    assert window.due(records=1, size=10, now=5.98) is False
    assert window.due(records=1, size=10, now=6.01) is True  # not 5.4 + 0.9
    assert window.due(records=0, size=0, now=60.0) is False


def test_after_a_rewind_the_next_record_opens_the_window() -> None:
    window = FlushWindow(POLICY)
    window.flushed(started=1.0, ended=1.01)
    assert window.due(records=1, size=10, now=50.0) is True  # a quiet spell: due at once
    window.reset()
    window.record_arrived(50.0)
    assert window.due(records=1, size=10, now=50.05) is False
    assert window.due(records=1, size=10, now=50.11) is True
