"""When the processor flushes: the wait after a flush follows what that flush cost.

Every flush pays a fixed price (an insert per table and partition, two commits) on top of the per-event work.
Waiting the full `stream_flush_interval_s` (1 s) before every flush makes that price small, but it is most of
the end-to-end latency when traffic is light. So the wait is `cost_ratio` times the duration of the last flush,
never less than `min_interval_s` and never more than `max_interval_s`:

* light traffic: flushes are small and quick, so they come every ~0.1 s and a conversion is queryable a few
  hundred milliseconds after the collector acknowledged it;
* heavy traffic: flushes grow, the wait grows with them up to the full interval, and at most
  1 / (1 + cost_ratio) of the time goes to flushing while records wait;
* a backlog (after an outage, a replay, a history import): more records wait at the broker, past the ranges
  a flush took, than the flush took (`left_a_backlog`). Then the fixed price matters and latency does not:
  the wait is the full interval, so the backlog is taken in as few flushes as the interval allows.

The size bounds (`stream_flush_rows`, `stream_flush_bytes`) still start a flush at once, whatever the wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.settings import StreamSettings


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

        `behind`: it left a backlog (`left_a_backlog`)."""
        self.opened_at = started
        self.interval_s = self.policy.interval_after(ended - started, behind)

    def reset(self) -> None:
        """The buffers were dropped (a rewind): the next record opens the window."""
        self.opened_at = None

    def due(self, records: int, size: int, now: float) -> bool:
        age = 0.0 if self.opened_at is None else now - self.opened_at
        return self.policy.due(records, size, age, self.interval_s)


def left_a_backlog(ranges: Iterable[tuple[int, int, int | None]]) -> bool:
    """Whether more offsets wait past the flushed ranges than the ranges held, summed over the partitions.

    Each item is a flushed partition's range (first and last offset) and where its log ends as the broker last
    said (the offset of the next record to be written; None when not known yet). Under steady traffic what
    arrived while a flush ran is less than what it took; only a backlog leaves more. Offsets, not records, on both
    sides: a transaction's commit marker takes an offset too."""
    taken = waiting = 0
    for first, last, end in ranges:
        taken += last - first + 1
        if end is not None:
            waiting += max(0, end - last - 1)
    return waiting > taken
