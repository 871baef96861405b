"""Errors of starting a service, whatever the dependency (Kafka, ClickHouse, a config file)."""

from __future__ import annotations


class StartupError(RuntimeError):
    """A dependency is missing or misconfigured at start: the message is one line, what failed and what to check."""
