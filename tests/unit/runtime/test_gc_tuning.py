"""The services' garbage-collector settings: thresholds while a runner runs, a frozen start-up heap to serve."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from runtime.gc_tuning import GC_THRESHOLDS, RUNNING, freeze_startup


@pytest.fixture
def restored_gc() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("restored_gc")
def test_freeze_startup_moves_what_lives_now_out_of_sight_and_raises_the_thresholds() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    kept = [[i] for i in range(1_000)]  # long-lived containers made "at start-up"
    freeze_startup()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == GC_THRESHOLDS == (50_000, 50, 100)
    # Collections still run on what is made afterwards: a cycle made after the freeze is collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


@pytest.mark.usefixtures("restored_gc")
def test_running_runners_share_the_thresholds_and_the_last_one_restores_them() -> None:
    gc.set_threshold(700, 10, 10)
    with RUNNING:
        with RUNNING:
            assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)
