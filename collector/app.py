"""The collector application factory: settings, sink, clock and key source in; a FastAPI app out.

No I/O happens at import time. The factory builds the one `CollectorState` (collector/state.py) the routes share
and mounts the routes, which never import this module (a `make lint` contract). The lifespan creates the
topics, starts the sink and, on shutdown, stops taking new requests on every publishing route (readiness turns
503), waits for in-flight ones, then flushes and stops the producer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from collector.apps import KeyRingSource
from collector.batch_lane import BatchLane
from collector.cost_routes import router as cost_router
from collector.error_response import error_response
from collector.errors import CollectorError
from collector.metrics import CollectorMetrics
from collector.money import FxRates
from collector.pii import PiiHasher
from collector.privacy_feed import PrivacyFeed, now_iso
from collector.privacy_routes import router as privacy_router
from collector.responses import JsonResponse
from collector.routes import router
from collector.settings import CollectorSettings
from collector.sinks import Sink
from collector.state import CollectorState
from collector.webhooks.routes import router as webhook_router
from runtime.clock import Clock, system_clock
from runtime.kafka_admin import ensure_topics

log = logging.getLogger(__name__)


def create_app(
    settings: CollectorSettings,
    sink: Sink,
    *,
    clock: Clock = system_clock,
    keys: KeyRingSource | None = None,
    metrics: CollectorMetrics | None = None,
    create_topics: bool = True,
    privacy: bool = False,
    batch_lane: bool = True,
) -> FastAPI:
    """`privacy`: read the privacy topic (suppressions, request states) and dispatch requests; without it the
    privacy API answers 503 and no event is suppressed (unit tests without a broker). `batch_lane`: answer
    `POST /v1/batch` in front of FastAPI's routing (collector/batch_lane.py); False only to compare both ways."""
    state = CollectorState(
        settings=settings,
        sink=sink,
        keys=keys or KeyRingSource(settings.collector_write_keys, settings.collector_apps_file),
        clock=clock,
        metrics=metrics or CollectorMetrics(),
        hasher=PiiHasher(settings.pii_hash_secret.get_secret_value().encode()),
        fx=FxRates.load(settings.collector_fx_rates_file) if settings.collector_fx_rates_file else FxRates.identity(),
    )

    if privacy:
        state.privacy = PrivacyFeed(
            settings.kafka_bootstrap_servers, settings.kafka_privacy_topic, settings.kafka_events_topic,
            state.metrics.registry, state.publish, now_iso(clock), settings.kafka_replication_factor,
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers, settings.topic_specs())
        await sink.start()
        if state.privacy is not None:  # before any event is admitted: a restarted replica knows every suppression
            await state.privacy.start()
        log.info("collector ready", extra={"kafka": settings.kafka_bootstrap_servers})
        try:
            yield
        finally:
            await state.admission.drain(settings.collector_shutdown_grace_s)
            if state.privacy is not None:
                await state.privacy.stop()
            await sink.stop()

    app = FastAPI(
        title="touchstream collector",
        version="1",
        lifespan=lifespan,
        description="Event collection for mini-programs. See schemas/README.md for the event contract.",
        # The collector's telemetry is its Prometheus registry (/metrics). FastAPI's native OpenTelemetry would
        # otherwise ask the global providers and the environment on every request whether it is configured:
        # ~6% of a 1-event request in process (py-spy, 2026-12-02).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.collector = state
    app.include_router(router)
    app.include_router(webhook_router)
    app.include_router(cost_router)
    app.include_router(privacy_router)
    if batch_lane:
        app.add_middleware(BatchLane, state=state)

    @app.exception_handler(CollectorError)
    async def _collector_error(request: Request, exc: CollectorError) -> JsonResponse:
        route = getattr(request.scope.get("route"), "path", "unmatched")
        return error_response(state, exc, request.headers.get("origin"), route)

    return app
