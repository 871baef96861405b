"""When the processor flushes: the wait after a flush follows what that flush cost.

Every flush pays a fixed price (an insert per table and partition, two commits) on top of the per-event work.
Waiting the full `stream_flush_interval_s` (1 s) before every flush makes that price small, but it is most of
the end-to-end latency when traffic is light. So the wait is `cost_ratio` times the duration of the last flush,
never less than `min_interval_s` and never more than `max_interval_s`:

* light traffic: flushes are small and quick, so they come every ~0.1 s and a conversion is queryable a few
  hundred milliseconds after the collector acknowledged it;
* heavy traffic: flushes grow, the wait grows with them up to the full interval, and at most
  1 / (1 + cost_ratio) of the time goes to flushing while records wait;
* a backlog (after an outage, a replay, a history import): the newest record a flush took was written to
  Kafka more than `BACKLOG_INTERVALS` full intervals ago (`FlushPolicy.behind`). Then the fixed price matters
  and latency does not: the wait is the full interval, so the backlog is taken in as few flushes as it allows.

The size bounds (`stream_flush_rows`, `stream_flush_bytes`) still start a flush at once, whatever the wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.settings import StreamSettings


# How far behind, in full intervals, the newest record of a flush must be for the flush to count as reading a
# backlog. Not the broker's lag in records: the fetcher hands records over in uneven chunks, so under steady
# traffic a flush that took a few records can be followed by many at once. Under steady traffic a record is
# flushed within about an interval of its writing.
BACKLOG_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    min_interval_s: float
    max_interval_s: float
    cost_ratio: float
    max_records: int
    max_bytes: int

    @classmethod
    def of(cls, s: StreamSettings) -> FlushPolicy:
        return cls(
            min_interval_s=min(s.stream_flush_min_interval_s, s.stream_flush_interval_s),
            max_interval_s=s.stream_flush_interval_s,
            cost_ratio=s.stream_flush_cost_ratio,
            max_records=s.stream_flush_rows,
            max_bytes=s.stream_flush_bytes,
        )

    def interval_after(self, flush_seconds: float, behind: bool = False) -> float:
        """The wait before the next flush, counted from the start of the one that took `flush_seconds`."""
        if behind:
            return self.max_interval_s
        wait = flush_seconds * (1 + self.cost_ratio)
        return min(self.max_interval_s, max(self.min_interval_s, wait))

    def behind(self, newest_record_ms: int | None, now_s: float) -> bool:
        """Whether a flush whose newest record was written at `newest_record_ms` (the Kafka timestamp; None or
        0: not known) read a backlog, as of the wall clock `now_s`."""
        if not newest_record_ms or newest_record_ms < 0:
            return False
        return now_s - newest_record_ms / 1000 > BACKLOG_INTERVALS * self.max_interval_s

    def due(self, records: int, size: int, age_s: float, interval_s: float) -> bool:
        """Whether `records` buffered records of `size` bytes, the oldest waiting `age_s`, are to be flushed."""
        if records == 0:
            return False
        if records >= self.max_records or size >= self.max_bytes:
            return True
        return age_s >= interval_s


@dataclass(slots=True)
class FlushWindow:
    """The consumer's flush clock: a flush is due `interval_s` after the start of the last one (so records that
    arrive while a flush runs wait only the rest of it), or after the first record since start or a rewind."""

    policy: FlushPolicy
    opened_at: float | None = None
    interval_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.interval_s = self.policy.min_interval_s

    def record_arrived(self, now: float) -> None:
        if self.opened_at is None:
            self.opened_at = now

    def flushed(self, started: float, ended: float, behind: bool = False) -> None:
        """A flush ran from `started` to `ended` (monotonic seconds): the next window opens at its start.

        `behind`: it read a backlog (`FlushPolicy.behind`)."""
        self.opened_at = started
        self.interval_s = self.policy.interval_after(ended - started, behind)

    def reset(self) -> None:
        """The buffers were dropped (a rewind): the next record opens the window."""
        self.opened_at = None

    def due(self, records: int, size: int, now: float) -> bool:
        age = 0.0 if self.opened_at is None else now - self.opened_at
        return self.policy.due(records, size, age, self.interval_s)
