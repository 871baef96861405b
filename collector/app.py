"""The collector application factory: settings, sink, clock and key source in; a FastAPI app out.

No I/O happens at import time. The lifespan creates the topics, starts the sink and, on shutdown, stops taking
new requests on every publishing route (readiness turns 503), waits for in-flight ones, then flushes and stops
the producer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request

from collector.admission import Admission, PublishHealth, UnavailableLog
from collector.apps import KeyRingSource
from collector.cost_routes import router as cost_router
from collector.errors import CollectorError, InvalidCosts, OriginNotAllowed, Overloaded, Unavailable
from collector.metrics import CollectorMetrics
from collector.money import FxRates
from collector.pii import PiiHasher
from collector.ratelimit import RateLimiter
from collector.responses import JsonResponse
from collector.routes import router
from collector.routing import OutRecord
from collector.settings import CollectorSettings
from collector.sinks import Sink
from collector.webhooks.routes import router as webhook_router
from collector.webhooks.signing import ReplayGuard
from runtime.clock import Clock, system_clock
from runtime.kafka_admin import ensure_topics

log = logging.getLogger(__name__)


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
    admission: Admission = field(init=False)
    health: PublishHealth = field(default_factory=PublishHealth)
    unavailable_log: UnavailableLog = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.collector_max_in_flight, self.metrics)
        # A lambda: tests replace `monotonic` after the state is built.
        self.unavailable_log = UnavailableLog(self.metrics, lambda: self.monotonic())

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """The way a route hands records to the sink: its outcome is what readiness reports."""
        await self._accounted(self.sink.publish(records))

    async def publish_atomic(self, records: Sequence[OutRecord]) -> None:
        """All of `records` or none of them (a spend upload: one Kafka transaction), accounted like `publish`."""
        await self._accounted(self.sink.publish_atomic(records))

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


def create_app(
    settings: CollectorSettings,
    sink: Sink,
    *,
    clock: Clock = system_clock,
    keys: KeyRingSource | None = None,
    metrics: CollectorMetrics | None = None,
    create_topics: bool = True,
) -> FastAPI:
    state = CollectorState(
        settings=settings,
        sink=sink,
        keys=keys or KeyRingSource(settings.collector_write_keys, settings.collector_apps_file),
        clock=clock,
        metrics=metrics or CollectorMetrics(),
        hasher=PiiHasher(settings.pii_hash_secret.get_secret_value().encode()),
        fx=FxRates.load(settings.collector_fx_rates_file) if settings.collector_fx_rates_file else FxRates.identity(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers, settings.topic_specs())
        await sink.start()
        log.info("collector ready", extra={"kafka": settings.kafka_bootstrap_servers})
        try:
            yield
        finally:
            await state.admission.drain(settings.collector_shutdown_grace_s)
            await sink.stop()

    app = FastAPI(
        title="touchstream collector",
        version="1",
        lifespan=lifespan,
        description="Event collection for mini-programs. See schemas/README.md for the event contract.",
    )
    app.state.collector = state
    app.include_router(router)
    app.include_router(webhook_router)
    app.include_router(cost_router)

    @app.exception_handler(CollectorError)
    async def _collector_error(request: Request, exc: CollectorError) -> JsonResponse:
        if isinstance(exc, Unavailable):
            state.unavailable_log.report(exc, getattr(request.scope.get("route"), "path", "unmatched"))
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {}
        # A web SDK must be able to read why it failed (401, 413, 503 …): errors carry CORS headers for any
        # origin some app allows, since the failing request may not have reached its app's own check.
        origin = request.headers.get("origin")
        allowed = any(origin in a.cors_origins for a in state.keys.current().apps) if origin else False
        if origin and allowed and not isinstance(exc, OriginNotAllowed):
            headers |= {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        body: dict[str, object] = {"error": exc.code, "message": exc.message}
        if isinstance(exc, InvalidCosts):
            body["problems"] = exc.problems
        return JsonResponse(body, exc.status, headers=headers or None)

    return app
