"""Garbage-collector settings of the long-running services: the processor's runner and the collector's server."""

from __future__ import annotations

import gc
from types import TracebackType

# Each flush allocates millions of short-lived containers (decoded events, rows) next to a large long-lived state
# (dedup ids, journeys). With CPython's default thresholds (700, 10, 10) the collector re-scans that state again
# and again: 1.3 s of 7 s when processing 200k events, with 10 full collections. Young objects every 50k
# allocations and the whole heap rarely cut that to 0.45 s; the state holds no reference cycles to wait for.
GC_THRESHOLDS = (50_000, 50, 100)


class _GcThresholds:
    """Sets GC_THRESHOLDS while at least one runner runs (tests run several in one process), then restores."""

    def __init__(self) -> None:
        self._users = 0
        self._saved = gc.get_threshold()

    def __enter__(self) -> None:
        if self._users == 0:
            self._saved = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
        self._users += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._users -= 1
        if self._users == 0:
            gc.set_threshold(*self._saved)


RUNNING = _GcThresholds()


def freeze_startup() -> None:
    """For a server about to serve: what start-up made (modules, models, the app) lives as long as the process, so
    it is moved out of the collector's sight, and young objects are collected every 50k allocations.

    Without this every full collection re-scans the whole start-up heap; with it the collector serves ~1.3–1.5×
    the events per core, and its p99 at 1-event requests fell from 74 to 17 ms (BENCHMARKS.md, 2026-12-01).
    A request's garbage is freed by reference counting; cycles (exceptions, futures) still go at the next
    collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
