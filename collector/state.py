"""What every route of one collector shares: settings and what is derived from them once, the sink, the key
source, the clock, metrics, and the admission and health of publishing.

Routes reach it through `collector.deps.StateDep` and import this module, never the app factory
(collector/app.py), which builds one `CollectorState` and hands it to the routes it mounts. Every publishing
route enters through `admission.slot()` and publishes through `publish` or `publish_atomic`, so all of them
drain on shutdown, are bounded in flight and report publishing failures to readiness alike.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from collector.admission import Admission, PublishHealth, UnavailableLog
from collector.apps import KeyRingSource
from collector.body import BodyLimits
from collector.errors import Overloaded, Unavailable
from collector.metrics import CollectorMetrics
from collector.money import FxRates
from collector.network import Network
from collector.pii import PiiHasher
from collector.privacy_feed import PrivacyFeed
from collector.ratelimit import RateLimiter
from collector.routing import OutRecord
from collector.settings import CollectorSettings
from collector.sinks import Sink
from collector.webhooks.signing import ReplayGuard
from runtime.clock import Clock


@dataclass
class CollectorState:
    settings: CollectorSettings
    sink: Sink
    keys: KeyRingSource
    clock: Clock
    metrics: CollectorMetrics
    hasher: PiiHasher
    fx: FxRates
    limiter: RateLimiter = field(default_factory=RateLimiter)
    replays: ReplayGuard = field(default_factory=ReplayGuard)
    monotonic: Callable[[], float] = time.monotonic  # rate limits, readiness, 503 logs; injectable like the clock
    health: PublishHealth = field(default_factory=PublishHealth)
    privacy: PrivacyFeed | None = None  # the privacy topic's view (collector/privacy_feed.py); None: not read
    admission: Admission = field(init=False)
    unavailable_log: UnavailableLog = field(init=False)
    # Derived from the (frozen) settings once here, not on every request.
    limits: BodyLimits = field(init=False)
    trusted_proxies: tuple[Network, ...] = field(init=False)
    id_secret: bytes = field(init=False, repr=False)
    clock_skew_threshold: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.collector_max_in_flight, self.metrics)
        # A lambda: tests replace `monotonic` after the state is built.
        self.unavailable_log = UnavailableLog(self.metrics, lambda: self.monotonic())
        self.limits = self.settings.body_limits()
        self.trusted_proxies = tuple(self.settings.trusted_proxy_networks())
        self.clock_skew_threshold = self.settings.clock_skew_threshold()
        # The key of suppressed-id hashes: the PII secret, shared with the processor like the phone hash's.
        self.id_secret = self.settings.pii_hash_secret.get_secret_value().encode()

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """The way a route hands records to the sink: its outcome is what readiness reports."""
        await self._accounted(self.sink.publish(records))

    async def publish_atomic(self, records: Sequence[OutRecord]) -> None:
        """All of `records` or none of them (a spend upload: one Kafka transaction).

        A failed upload leaves readiness alone: uploads have their own transactional producer, and taking a
        replica out of rotation because an admin's upload failed would cost every SDK whose batches publish fine.
        """
        await self.sink.publish_atomic(records)

    async def _accounted(self, publishing: Awaitable[None]) -> None:
        try:
            await publishing
        except Overloaded:
            raise  # our own queue was full, not a failure to publish: readiness is not affected
        except Unavailable as exc:
            self.health.failed(exc.cause, self.monotonic())
            raise
        self.health.succeeded()

    async def not_ready(self) -> str | None:
        """Why this collector should get no traffic now, or None. Liveness (/healthz) never depends on it."""
        if self.admission.draining:
            return "draining"
        cause = self.health.failing(self.monotonic())
        if cause is not None:
            return f"publishing fails ({cause})"
        if not await self.sink.is_healthy():
            return "kafka unreachable"
        return None
