"""The flush policy: the wait after a flush follows its cost, between the floor and the configured interval."""

from __future__ import annotations

import pytest

from stream.flush_policy import FlushPolicy
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
