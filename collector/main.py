"""`touchstream collector`: check the broker, create the topics, then serve with uvicorn."""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn
from pydantic import ValidationError

from collector.app import create_app
from collector.apps import AppConfigError, KeyRingSource
from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from collector.sinks import KafkaSink
from runtime import logs
from runtime.errors import StartupError
from runtime.gc_tuning import freeze_startup
from runtime.kafka_admin import ensure_topics

log = logging.getLogger(__name__)


def run() -> int:
    try:
        settings = CollectorSettings()
        keys = KeyRingSource(settings.collector_write_keys, settings.collector_apps_file)
    except (ValidationError, AppConfigError) as exc:
        sys.stderr.write(f"collector: invalid configuration: {_one_line(exc)}\n")
        return 2
    logs.configure(settings.log_level, settings.log_json)
    try:
        asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, settings.topic_specs()))
    except StartupError as exc:
        sys.stderr.write(f"collector: {exc}\n")
        return 2
    metrics = CollectorMetrics()
    sink = KafkaSink(settings.kafka_bootstrap_servers, metrics, deadline_s=settings.collector_send_deadline_s)
    app = create_app(settings, sink, keys=keys, metrics=metrics, create_topics=False, privacy=True)
    log.info("collector listening on http://%s:%d", settings.collector_host, settings.collector_port)
    freeze_startup()
    uvicorn.run(
        app,
        host=settings.collector_host,
        port=settings.collector_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        # uvicorn would otherwise believe X-Forwarded-For from loopback peers and rewrite the client address
        # before the collector sees it; COLLECTOR_TRUSTED_PROXIES (collector/network.py) is the one place
        # that decides whose X-Forwarded-For counts.
        proxy_headers=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.collector_shutdown_grace_s) + 5,
    )
    return 0


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
    return str(exc)
