"""The floor collector: what any collector on this stack must do per request, and nothing else.

    python -m loadtests.floor_collector serve     (settings from the collector's environment variables)

A raw ASGI app under the same uvicorn settings as `touchstream collector` (uvloop, httptools, no access log):
read the body, `orjson.loads` it, produce one Kafka record (the body) with the collector's producer settings
(collector/sinks.py: acks=all, idempotent, linger 2 ms, 256 KB batches), wait for the acknowledgement and
answer 200 with the all-accepted body the load generator expects. No authentication, validation, enrichment
or PII hashing: the collector's events/s per core divided by this one's is the fraction of the floor it reaches.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import uvicorn
from aiokafka import AIOKafkaProducer

from collector.routing import MAX_KAFKA_REQUEST_BYTES
from runtime.kafka_admin import TopicSpec, ensure_topics

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
JSON_HEADERS = [(b"content-type", b"application/json")]


class FloorApp:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.producer: AIOKafkaProducer | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:  # bounded by the server: one startup, one shutdown message
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
                    max_batch_size=MAX_KAFKA_REQUEST_BYTES, max_request_size=MAX_KAFKA_REQUEST_BYTES,
                    request_timeout_ms=5000, client_id="touchstream-floor-collector",
                )
                await self.producer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.producer is not None:
                    await self.producer.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["path"] != "/v1/batch":
            await respond(send, 200, b'{"status":"ok"}')
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        events = orjson.loads(body)["events"]
        assert self.producer is not None
        future = await self.producer.send(self.topic, body, key=b"floor")
        await future
        await respond(send, 200, b'{"accepted":%d,"rejected":[]}' % len(events))


async def respond(send: Send, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = os.environ.get("KAFKA_EVENTS_TOPIC", "touchstream.events")
    asyncio.run(ensure_topics(bootstrap, [TopicSpec(topic, 4)]))
    uvicorn.run(
        FloorApp(bootstrap, topic), host=os.environ.get("COLLECTOR_HOST", "127.0.0.1"),
        port=int(os.environ.get("COLLECTOR_PORT", "8000")), loop="uvloop", http="httptools", access_log=False,
        log_config=None, lifespan="on",
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.stderr.write("usage: python -m loadtests.floor_collector serve\n")
        raise SystemExit(2)
    raise SystemExit(serve())
