"""The one back-off: doubling from the first delay, capped; a run of retries restarts after a success."""

from __future__ import annotations

from runtime.backoff import Backoff, Retries


def test_delays_double_up_to_the_cap() -> None:
    assert [Backoff(0.5, 30.0).delay(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert Backoff(0.5, 30.0).delay(-3) == 0.5


def test_retries_double_per_failure_and_reset_after_a_success() -> None:
    retries = Retries(Backoff(0.5, 2.0))
    assert [retries.next_delay() for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    retries.reset()
    assert retries.next_delay() == 0.5
