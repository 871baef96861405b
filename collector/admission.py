"""What every publishing route shares: admission (a bound on requests in flight, refusal while draining), the
record of whether publishing works (readiness), and the accounting of 503s (a counter by cause, one log line per
cause per interval).

`/v1/batch`, the webhooks and `/v1/costs` all enter through `Admission.slot()` and publish through
`CollectorState.publish` (collector/state.py), so they drain on shutdown and recover from a broker fault alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from collector.errors import Overloaded, Unavailable
from collector.metrics import CollectorMetrics

log = logging.getLogger(__name__)


class Admission:
    """At most `max_in_flight` publishing requests at once; none once draining has begun."""

    def __init__(self, max_in_flight: int, metrics: CollectorMetrics) -> None:
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._slot = _Slot(self)
        # Read when scraped, not counted on every request: a locked inc() and dec() per request otherwise.
        metrics.in_flight.set_function(lambda: self.in_flight)

    def acquire(self) -> None:
        """Takes a place, or raises `Overloaded` (draining, or all places taken)."""
        if self.draining:
            msg = "the collector is shutting down; retry with the same event ids"
            raise Overloaded(msg, cause="draining")
        if self.in_flight >= self.max_in_flight:
            msg = "the collector is busy; retry with the same event ids"
            raise Overloaded(msg, cause="overloaded")
        self.in_flight += 1
        self._idle.clear()

    def release(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    def slot(self) -> _Slot:
        """`async with admission.slot():` holds one of the `max_in_flight` places for the request's duration."""
        return self._slot

    async def drain(self, grace_s: float) -> None:
        """Refuse new requests, then wait up to `grace_s` for the ones in flight."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning("shutdown grace period over with %d requests in flight", self.in_flight)


class _Slot:
    """The context manager of `Admission.slot()`: one per admission, as it holds no state of its own.

    A class rather than `@asynccontextmanager`: the generator machinery cost ~8 µs per request (py-spy, 1-event
    requests in process), about 4% of the request."""

    __slots__ = ("_admission",)

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    async def __aenter__(self) -> None:
        self._admission.acquire()

    async def __aexit__(self, *_: object) -> None:
        self._admission.release()


@dataclass
class PublishHealth:
    """Whether the last publish failed, and when. Readiness says "not ready" while it did, for `hold_s`.

    Why the hold: once an orchestrator stops routing to a collector that is not ready, no publish comes to clear
    the failure; after `hold_s` without a new failure readiness falls back to the sink's own probe, and traffic
    that comes back either succeeds (ready) or fails again (not ready for another `hold_s`).
    """

    hold_s: float = 10.0
    _failed_at: float | None = None
    _cause: str = ""

    def failed(self, cause: str, now: float) -> None:
        self._failed_at, self._cause = now, cause

    def succeeded(self) -> None:
        self._failed_at = None

    def failing(self, now: float) -> str | None:
        """The cause of the last failure if publishing is considered failing at `now`, else None."""
        if self._failed_at is None or now - self._failed_at > self.hold_s:
            return None
        return self._cause


@dataclass
class UnavailableLog:
    """Counts every 503 by cause and logs it at most once per cause per `interval_s` (with how many since)."""

    metrics: CollectorMetrics
    monotonic: Callable[[], float]
    interval_s: float = 10.0
    _last: dict[str, float] = field(default_factory=dict)
    _since: dict[str, int] = field(default_factory=dict)

    def report(self, exc: Unavailable, route: str) -> None:
        cause = exc.cause
        self.metrics.unavailable.labels(cause).inc()
        self._since[cause] = self._since.get(cause, 0) + 1
        now = self.monotonic()
        last = self._last.get(cause)
        if last is not None and now - last < self.interval_s:
            return
        count, self._since[cause] = self._since[cause], 0
        self._last[cause] = now
        # The message is ours (the sink names only exception classes), never request or broker text.
        log.warning("503 %s on %s: %s (%d since the last report of this cause)", cause, route, exc.message, count)
