"""One side of `bench_instructions`: whole `POST /v1/batch` requests through a checkout's collector app, in process.

    python loadtests/app_worker.py '<json spec>'   → one JSON object on stdout

Started by path, like `ceiling_worker.py`, so that `collector` comes from `spec["root"]` (a baseline worktree or
this tree). The app is the checkout's `create_app` over its `InMemorySink`, with a fixed clock and no topics
created; each request goes through every ASGI layer the app has (middlewares, the route, the response), with the
bodies of `spec["bodies"]` (one per line), all of whose events must be accepted. Only what every collector since
d346ffb has is used: `create_app(settings, sink, clock=..., create_topics=False)` and `CollectorSettings`.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

# ceiling_worker.py's request facts (not imported: a worker imports nothing of a tree before choosing the root).
PII_SECRET = b"benchmark-pii-secret-0123456789"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47"
RECEIVED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = "wk_app00_bench0123456789"


def build(root: str) -> Any:
    sys.path.insert(0, root)
    import collector
    from collector.app import create_app
    from collector.settings import CollectorSettings
    from collector.sinks import InMemorySink

    settings = CollectorSettings(
        touchstream_env="test", collector_write_keys=f"app00:{KEY}", pii_hash_secret=PII_SECRET.decode(),
        kafka_events_topic="bench.events", kafka_deadletter_topic="bench.deadletter",
    )
    sink = InMemorySink()
    app = create_app(settings, sink, clock=lambda: RECEIVED_AT, create_topics=False)
    return app, sink, str(collector.__file__)


async def request(app: Any, body: bytes) -> tuple[int, bytes]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"), (b"x-write-key", KEY.encode()),
               (b"user-agent", UA.encode()), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/batch", "raw_path": b"/v1/batch", "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # a client that stays connected: never answered
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    app, sink, where = build(str(Path(spec["root"]).resolve()))
    bodies = Path(spec["bodies"]).read_bytes().splitlines()
    for body in bodies[:20]:  # warm-up: every event accepted, or the bodies do not fit this collector
        status, answer = await request(app, body)
        if status != 200 or orjson.loads(answer)["accepted"] != len(orjson.loads(body)["events"]):
            msg = f"not all accepted ({status}): {answer[:300]!r}"
            raise SystemExit(msg)
    counts = [len(orjson.loads(body)["events"]) for body in bodies]
    # Both sides with the collector server's GC settings of today (runtime/gc_tuning.py), whatever their own: this
    # counts the work of the code, not of its collector configuration.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    events = 0
    for i in range(int(spec["requests"])):
        await request(app, bodies[i % len(bodies)])
        events += counts[i % len(bodies)]
    return {"events": events, "published": len(sink.records), "collector_file": where}


def main() -> int:
    spec: dict[str, Any] = orjson.loads(sys.argv[1])
    sys.stdout.write(orjson.dumps(asyncio.run(run(spec))).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
