"""The batch lane (collector/batch_lane.py) answers `POST /v1/batch` exactly as FastAPI's route does.

Each request goes to two apps built alike, one with the lane and one without; the status, headers, body, the
records published and the request metrics must be the same. The cases cover every way the handler answers: accepted,
partly rejected, each error status, CORS on success and on errors, a 503 with Retry-After, and the requests the
lane must leave to FastAPI (another method, a trailing slash, the preflight).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI

from collector.errors import Unavailable
from collector.routing import OutRecord
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import PublishFailingSink, asgi_client, build_app, make_settings

KEY = "wk_shop_12345678"
OTHER_KEY = "wk_blog_12345678"
SHOP_ORIGIN = "https://h5.shop.example"
BLOG_ORIGIN = "https://h5.blog.example"
TS = 1_714_550_400_123


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [
        {"app_id": "shop", "write_keys": [KEY], "cors_origins": [SHOP_ORIGIN]},
        {"app_id": "blog", "write_keys": [OTHER_KEY], "cors_origins": [BLOG_ORIGIN]},
    ]}))
    return path


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e-{n}", "type": "click", "timestamp": TS, "anonymous_id": f"anon-{n}", **fields}


def batch(*events: Any) -> bytes:
    return orjson.dumps({"sent_at": TS + 500, "events": list(events)})


JSON = {"Content-Type": "application/json"}
CASES: list[tuple[str, str, str, dict[str, str], bytes]] = [
    # (case, method, path, headers, body)
    ("accepted", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, batch(event(1), event(2))),
    ("partly rejected", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY},
     batch(event(1), event(2, type="nope"), 7, event(3, phone="13800138000"))),
    ("basic auth", "POST", "/v1/batch", {**JSON, "Authorization": "Basic d2tfc2hvcF8xMjM0NTY3ODo="}, batch(event(1))),
    ("allowed origin", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY, "Origin": SHOP_ORIGIN}, batch(event(1))),
    ("another app's origin", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY, "Origin": BLOG_ORIGIN},
     batch(event(1))),
    ("unknown origin", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY, "Origin": "https://evil.example"},
     batch(event(1))),
    ("no key", "POST", "/v1/batch", JSON, batch(event(1))),
    ("unknown key, allowed origin", "POST", "/v1/batch", {**JSON, "X-Write-Key": "wk_nope", "Origin": SHOP_ORIGIN},
     batch(event(1))),
    ("bad basic auth", "POST", "/v1/batch", {**JSON, "Authorization": "Basic %%%"}, batch(event(1))),
    ("empty body", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, b""),
    ("not JSON", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, b"{nope"),
    ("unknown envelope field", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, b'{"events": [], "x": 1}'),
    ("body over the limit", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, b" " * 600_000),
    ("gzip", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY, "Content-Encoding": "gzip"},
     gzip.compress(batch(event(1)))),
    ("brotli", "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY, "Content-Encoding": "br"}, batch(event(1))),
    ("GET", "GET", "/v1/batch", {"X-Write-Key": KEY}, b""),
    ("trailing slash", "POST", "/v1/batch/", {**JSON, "X-Write-Key": KEY}, batch(event(1))),
    ("preflight", "OPTIONS", "/v1/batch", {"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"}, b""),
]


async def answer(app: FastAPI, method: str, path: str, headers: dict[str, str], content: bytes,
                 root_path: str = "") -> tuple[int, list[tuple[str, str]], bytes]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.request(method, root_path + path, headers=headers, content=content)
    return r.status_code, sorted(r.headers.items()), r.content


def published(sink: InMemorySink) -> list[tuple[str, bytes | None, bytes, Any]]:
    return [(r.topic, r.key, r.value, r.headers) for r in sink.records]


def request_counts(app: FastAPI) -> dict[tuple[str, str], float]:
    registry = app.state.collector.metrics.registry
    return {
        (s.labels["route"], s.labels["status"]): s.value
        for metric in registry.collect() if metric.name == "touchstream_collector_requests"
        for s in metric.samples if s.name.endswith("_total")
    }


def pair(apps_file: Path, sink_type: type[InMemorySink] = InMemorySink) -> list[tuple[FastAPI, InMemorySink]]:
    out = []
    for lane in (True, False):
        sink = sink_type()
        out.append((build_app(make_settings(collector_apps_file=str(apps_file)), sink, batch_lane=lane), sink))
    return out


@pytest.mark.parametrize(("case", "method", "path", "headers", "content"), CASES, ids=[c[0] for c in CASES])
async def test_the_lane_answers_as_the_route_does(
    apps_file: Path, case: str, method: str, path: str, headers: dict[str, str], content: bytes
) -> None:
    (with_lane, lane_sink), (without, route_sink) = pair(apps_file)
    lane_answer = await answer(with_lane, method, path, headers, content)
    route_answer = await answer(without, method, path, headers, content)
    assert lane_answer == route_answer, case
    assert published(lane_sink) == published(route_sink), case
    assert request_counts(with_lane) == request_counts(without), case


async def test_the_cases_reach_every_kind_of_answer(apps_file: Path) -> None:
    """The comparison above means something only if the cases give these answers (by hand, from errors.py)."""
    app, _ = pair(apps_file)[0]
    statuses = {case: (await answer(app, m, p, h, c))[0] for case, m, p, h, c in CASES}
    assert statuses == {
        "accepted": 200, "partly rejected": 200, "basic auth": 200, "allowed origin": 200,
        "another app's origin": 403, "unknown origin": 403, "no key": 401, "unknown key, allowed origin": 401,
        "bad basic auth": 401, "empty body": 400, "not JSON": 400, "unknown envelope field": 400,
        "body over the limit": 413, "gzip": 200, "brotli": 415, "GET": 405, "trailing slash": 307, "preflight": 204,
    }


async def test_a_refused_publish_is_the_same_503_with_retry_after_and_cors(apps_file: Path) -> None:
    answers = []
    for app, sink in pair(apps_file, PublishFailingSink):
        assert isinstance(sink, PublishFailingSink)
        sink.refusing = True
        answers.append(await answer(app, "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY, "Origin": SHOP_ORIGIN},
                                    batch(event(1))))
        unavailable = app.state.collector.metrics.unavailable.labels("producer_replaced")._value.get()
        assert unavailable == 1
    assert answers[0] == answers[1]
    status, headers, content = answers[0]
    assert status == 503
    assert ("access-control-allow-origin", SHOP_ORIGIN) in headers
    assert dict(headers)["retry-after"] == str(Unavailable.retry_after_s)
    assert orjson.loads(content)["error"] == "unavailable"


async def test_under_a_root_path_the_lane_answers_as_the_route_does(apps_file: Path) -> None:
    (with_lane, lane_sink), (without, route_sink) = pair(apps_file)
    args = ("POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, batch(event(1)))
    lane_answer = await answer(with_lane, *args, root_path="/collector")
    assert lane_answer == await answer(without, *args, root_path="/collector")
    assert lane_answer[0] == 200
    assert published(lane_sink) == published(route_sink) != []


async def test_the_lane_answers_without_the_route(apps_file: Path) -> None:
    """The lane is in front of the route: with no routes at all behind it, the batch still lands; without the
    lane the same empty router answers 404."""
    statuses = []
    for app, sink in pair(apps_file):
        app.router = APIRouter()  # before the first request, which builds the middleware stack around it
        status, _, content = await answer(app, "POST", "/v1/batch", {**JSON, "X-Write-Key": KEY}, batch(event(1)))
        statuses.append((status, len(sink.records)))
        if status == 200:
            assert orjson.loads(content) == {"accepted": 1, "rejected": []}
    assert statuses == [(200, 1), (404, 0)]


async def test_an_unexpected_error_is_still_the_servers_500(apps_file: Path) -> None:
    """The lane sits inside FastAPI's server-error middleware: a bug in the handler is a 500, not a hang."""

    class BrokenSink(InMemorySink):
        async def publish(self, records: Sequence[OutRecord]) -> None:
            raise RuntimeError("a bug")

    app = build_app(make_settings(collector_apps_file=str(apps_file)), BrokenSink())
    async with asgi_client(app, raise_app_exceptions=False) as client:
        r = await client.post("/v1/batch", content=batch(event(1)), headers={**JSON, "X-Write-Key": KEY})
    assert (r.status_code, r.text) == (500, "Internal Server Error")
