"""Fixtures for the collector's component tests: the real FastAPI app over an in-memory sink, no network.

The app is driven through httpx's ASGI transport, which does not run the lifespan; `InMemorySink` needs no
start, so nothing is started. The clock is fixed, so `received_at` (and everything derived from it) is known.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from collector.app import create_app
from collector.errors import Unavailable
from collector.routing import OutRecord
from collector.settings import CollectorSettings
from collector.sinks import InMemorySink
from runtime.clock import fixed_clock

SHOP_KEY = "wk_shop_12345678"
BLOG_KEY = "wk_blog_12345678"
WRITE_KEYS = f"shop:{SHOP_KEY},blog:{BLOG_KEY}"
PII_SECRET = "component-test-pii-secret-0123456789"
EVENTS_TOPIC = "t.events"
DEADLETTER_TOPIC = "t.deadletter"
# The server clock of every request in these tests.
RECEIVED_AT = datetime(2024, 5, 1, 8, 3, 15, 250_000, tzinfo=UTC)
RECEIVED_AT_TEXT = "2024-05-01T08:03:15.250Z"
# 2024-05-01T08:00:00.123Z as epoch milliseconds.
TS_MS = 1_714_550_400_123
TS_TEXT = "2024-05-01T08:00:00.123Z"

EventFactory = Callable[..., dict[str, Any]]


def make_settings(**overrides: Any) -> CollectorSettings:
    values: dict[str, Any] = {
        "touchstream_env": "test",
        "collector_write_keys": WRITE_KEYS,
        "pii_hash_secret": PII_SECRET,
        "kafka_events_topic": EVENTS_TOPIC,
        "kafka_deadletter_topic": DEADLETTER_TOPIC,
    }
    values.update(overrides)
    return CollectorSettings(**values)


def build_app(settings: CollectorSettings, sink: Any, **kwargs: Any) -> FastAPI:
    return create_app(settings, sink, clock=fixed_clock(RECEIVED_AT), create_topics=False, **kwargs)


def asgi_client(app: FastAPI, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """With raise_app_exceptions=False an unhandled exception comes back as the 500 a real server would send."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def auth(key: str = SHOP_KEY) -> dict[str, str]:
    return {"X-Write-Key": key, "Content-Type": "application/json"}


def body(events: list[Any], **envelope: Any) -> bytes:
    return orjson.dumps({**envelope, "events": events})


def event_key(app_id: str, anonymous_id: str) -> bytes:
    """The Kafka key of an events record. The layout is routing.py's (its docstring): one record per request,
    keyed by the app, so every event of an app is in one partition in order. `anonymous_id` is not part of it."""
    del anonymous_id
    return app_id.encode()


def events_on_topic(sink: InMemorySink) -> list[dict[str, Any]]:
    """Every enriched event the sink received on the events topic, in record order."""
    out: list[dict[str, Any]] = []
    for record in sink.records:
        if record.topic == EVENTS_TOPIC:
            decoded = orjson.loads(record.value)
            assert isinstance(decoded, list)
            assert len(decoded) == record.event_count
            out.extend(decoded)
    return out


def dead_letters(sink: InMemorySink) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for record in sink.records:
        if record.topic == DEADLETTER_TOPIC:
            decoded = orjson.loads(record.value)
            assert len(decoded) == record.event_count
            out.extend(decoded)
    return out


@pytest.fixture
def settings() -> CollectorSettings:
    return make_settings()


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def app(settings: CollectorSettings, sink: InMemorySink) -> FastAPI:
    return build_app(settings, sink)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture
def make_event() -> EventFactory:
    """A valid `click` event with a unique event_id; keyword arguments override or add fields."""
    counter = itertools.count(1)

    def factory(**fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"e-{next(counter)}",
            "type": "click",
            "timestamp": TS_MS,
            "anonymous_id": "anon-1",
        }
        event.update(fields)
        return event

    return factory


class BlockingSink(InMemorySink):
    """Publishes only once `release` is set; `entered` is set when a publish is waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.entered.set()
        await self.release.wait()
        await super().publish(records)


class PublishFailingSink(InMemorySink):
    """Metadata answers (is_healthy stays True) while every publish is refused: the case /readyz used to miss."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = False

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if self.refusing:
            msg = "Kafka refused the batch: OutOfOrderSequenceNumber"
            raise Unavailable(msg, cause="producer_replaced")
        await super().publish(records)

    async def is_healthy(self) -> bool:
        return True
