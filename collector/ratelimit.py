"""Token buckets per key (integration, app): a burst up to `capacity`, refilled at `rate` per second."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, max_keys: int = 10_000) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def allow(self, key: str, rate: float, capacity: float, now: float, cost: float = 1.0) -> bool:
        """Take `cost` tokens if there are enough. `now` is a monotonic reading in seconds."""
        if rate <= 0:
            return True  # 0 = unlimited
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()  # keys are configured integrations; this only guards against misuse
            bucket = self._buckets[key] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return True
        return False
