"""Prometheus metrics of the collector: constant names, bounded labels, one registry per app instance."""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

M = TypeVar("M", Counter, Histogram)


class Children(Generic[M]):
    """`metric.labels(*values)`, looked up once per distinct values.

    Why: prometheus_client checks and joins the label values under a lock on every `labels()` call, ~3 µs each,
    several per request on the hottest route. Every label here is bounded (route templates, statuses, app ids of
    the key ring, rejection codes), so the memo stays small; nothing removes a child from these metrics."""

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "touchstream_collector_requests", "HTTP requests by route template and status", ["route", "status"],
            registry=r,
        )
        self.unavailable = Counter(
            "touchstream_collector_unavailable",
            "503 answers by cause (kafka_timeout, kafka_refused, producer_replaced, producer_recovering, "
            "kafka_not_authorized, sink_down, overloaded, uploads_busy, draining)",
            ["cause"], registry=r,
        )
        self.producer_replacements = Counter(
            "touchstream_collector_producer_replacements",
            "Kafka producers dropped after a failed delivery and replaced, by cause", ["cause"], registry=r,
        )
        self.events_accepted = Counter(
            "touchstream_collector_events_accepted", "Events acknowledged to clients", ["app_id"], registry=r
        )
        self.events_rejected = Counter(
            "touchstream_collector_events_rejected", "Events rejected, by reason code", ["reason"], registry=r
        )
        self.kafka_publish_seconds = Histogram(
            "touchstream_collector_kafka_publish_seconds", "Time until Kafka acknowledged a request's records",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5), registry=r,
        )
        self.request_seconds = Histogram(
            "touchstream_collector_request_seconds", "Request handling time by route template", ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r,
        )
        self.in_flight = Gauge("touchstream_collector_in_flight", "Requests being handled", registry=r)
        self.ambiguous_sends = Counter(
            "touchstream_collector_ambiguous_sends",
            "Publishes that missed their deadline and may still land (absorbed by event_id dedup)",
            registry=r,
        )
        # The children the publishing routes count with (collector/routes.py, collector/webhooks/routes.py).
        self.request_count = Children(self.requests)
        self.request_time = Children(self.request_seconds)
        self.accepted = Children(self.events_accepted)
        self.rejected = Children(self.events_rejected)
