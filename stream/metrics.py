"""Prometheus metrics of the stream processor: constant names, bounded labels, one registry per runner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from stream.processor import Output


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_written = Counter("touchstream_stream_events_written", "Event rows inserted", registry=r)
        self.duplicates_dropped = Counter(
            "touchstream_stream_duplicates_dropped", "Events dropped as already seen (event_id)", registry=r
        )
        self.credits_written = Counter(
            "touchstream_stream_credits_written", "Attribution credit rows inserted (all versions)", registry=r
        )
        self.bad_events_written = Counter(
            "touchstream_stream_bad_events_written", "Dead-letter and poison rows inserted", registry=r
        )
        self.shared_click_visits = Counter(
            "touchstream_stream_shared_click_visits",
            "Visits that carried another person's ad click id (a copied share link): resolved by their other signals",
            registry=r,
        )
        self.flush_failures = Counter(
            "touchstream_stream_flush_failures", "Flushes that failed and were replayed", registry=r
        )
        # A flush that read records written over three intervals before waits the full interval (a backlog).
        # Steadily counting with no backlog in sight means the writers' clocks are behind this host's.
        self.backlog_flushes = Counter(
            "touchstream_stream_backlog_flushes", "Flushes that read a backlog (see stream/flush_policy.py)",
            registry=r,
        )
        self.flush_seconds = Histogram(
            "touchstream_stream_flush_seconds", "Time to write and commit one flush",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r,
        )
        self.committed_offset = Gauge(
            "touchstream_stream_committed_offset", "Last committed offset", ["topic", "partition"], registry=r
        )

    def written(self, out: Output) -> None:
        """Count one partition's flushed rows."""
        self.credits_written.inc(len(out.credits))
        self.events_written.inc(len(out.events))
        self.duplicates_dropped.inc(out.duplicates)
        self.bad_events_written.inc(len(out.bad_events))
        self.shared_click_visits.inc(out.shared_clicks)
