"""Back-off between retries, written once: doubling from a first delay, capped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float
    max_s: float

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0 for the first retry)."""
        return float(min(self.max_s, self.first_s * 2 ** max(0, attempt)))


class Retries:
    """The delays of one run of failures: each call to `next_delay` doubles, `reset` after a success."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self._attempt = 0

    def next_delay(self) -> float:
        delay = self.backoff.delay(self._attempt)
        self._attempt += 1
        return delay

    def reset(self) -> None:
        self._attempt = 0
