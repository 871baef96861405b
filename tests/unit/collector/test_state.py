"""The collector's shared state: settings derived once, every publishing route accounted alike, and the webhook
errors answered from the one error table (collector/errors.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.body import BodyLimits
from collector.errors import Unavailable
from collector.routing import OutRecord
from collector.settings import CollectorSettings
from collector.sinks import InMemorySink
from collector.state import CollectorState
from tests.unit.collector.conftest import (
    DEADLETTER_TOPIC,
    SHOP_KEY,
    asgi_client,
    auth,
    body,
    build_app,
    make_settings,
)

TOKEN = "tok_state_0123456789"
ADMIN = "ak_state_admin_0123456789"
SECRET = "state-secret-0123456789"


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [{
        "app_id": "shop", "write_keys": [SHOP_KEY], "admin_keys": [ADMIN],
        "integrations": [
            {"id": "gen-01", "platform": "generic", "token": TOKEN, "channel": "partner"},
            {"id": "signed-01", "platform": "generic", "token": TOKEN, "channel": "partner",
             "signing_secrets": [SECRET], "require_signature": True},
        ],
    }]}))
    return path


def settings_with(apps_file: Path, **overrides: Any) -> CollectorSettings:
    return make_settings(collector_apps_file=apps_file, collector_write_keys=f"shop:{SHOP_KEY}", **overrides)


async def test_body_limits_and_trusted_proxies_are_derived_once_not_per_request(
    apps_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_with(
        apps_file, collector_trusted_proxies="127.0.0.0/8, 10.1.0.0/16", collector_max_events=7,
        collector_max_body_bytes=65_536,
    )
    calls = {"body_limits": 0, "trusted_proxy_networks": 0}
    for name in calls:
        original = getattr(CollectorSettings, name)

        def counting(self: CollectorSettings, _original: Any = original, _name: str = name) -> Any:
            calls[_name] += 1
            return _original(self)

        monkeypatch.setattr(CollectorSettings, name, counting)
    sink = InMemorySink()
    app = build_app(settings, sink)
    event = {"event_id": "e-1", "type": "click", "timestamp": 1_714_550_400_123, "anonymous_id": "a"}
    async with asgi_client(app) as client:
        answers = [
            await client.post("/v1/batch", content=body([{**event, "event_id": f"e-{i}"}]),
                              headers={**auth(), "X-Forwarded-For": f"203.0.113.{i}"})
            for i in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert calls == {"body_limits": 1, "trusted_proxy_networks": 1}  # at start, by the state; never per request
    state: CollectorState = app.state.collector
    assert state.limits == BodyLimits(
        max_body_bytes=65_536, max_events=7, max_event_bytes=32_768, max_depth=12, max_string_chars=8_192
    )
    assert state.trusted_proxies == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.1.0.0/16"))
    # The derived proxies are the ones used: the peer (127.0.0.1) is trusted, so the forwarded address counts.
    ips = [e["ip"] for r in sink.records for e in orjson.loads(r.value)]
    assert ips == ["203.0.113.0", "203.0.113.1", "203.0.113.2"]


async def test_an_invalid_webhook_call_is_a_400_from_the_error_table_and_one_dead_letter(apps_file: Path) -> None:
    sink = InMemorySink()
    app = build_app(settings_with(apps_file), sink)
    async with asgi_client(app) as client:
        answer = await client.get(f"/v1/webhooks/gen-01/click?token={TOKEN}&click_id=__CLICK_ID__&campaign_id=c9")
    expected = "click_id: a click needs a click id: none of click_id, clickid has a value (empty or an unfilled macro)"
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_parameters", "message": expected}
    (record,) = sink.records
    assert record.topic == DEADLETTER_TOPIC
    (dead,) = orjson.loads(record.value)
    assert (dead["reason"], dead["source"], dead["app_id"]) == (expected, "webhook:gen-01", "shop")
    # The token is never kept; the parameters as sent are.
    assert orjson.loads(dead["payload"]) == {"click_id": "__CLICK_ID__", "campaign_id": "c9"}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "signature_missing"),
        ({"X-Touchstream-Timestamp": "1714550595", "X-Touchstream-Signature": "sha256=00"}, "signature_invalid"),
        ({"X-Touchstream-Timestamp": "1714000000", "X-Touchstream-Signature": "sha256=00"}, "signature_stale"),
    ],
)
async def test_a_refused_signature_is_a_401_with_its_code_and_records_nothing(
    apps_file: Path, headers: dict[str, str], code: str
) -> None:
    # RECEIVED_AT is 2024-05-01T08:03:15Z = 1714550595: the first timestamp is fresh, the second 6.5 days old.
    sink = InMemorySink()
    app = build_app(settings_with(apps_file), sink)
    async with asgi_client(app) as client:
        answer = await client.get(f"/v1/webhooks/signed-01/click?token={TOKEN}&click_id=c1", headers=headers)
    assert (answer.status_code, answer.json()["error"]) == (401, code)
    assert sink.records == []


class RefusingSink(InMemorySink):
    """Its probe says healthy while every publish, plain or atomic, is refused: only the outcome of a publish can
    tell readiness that publishing fails."""

    async def publish(self, records: Sequence[OutRecord]) -> None:
        msg = "Kafka refused the batch: NotLeaderForPartition"
        raise Unavailable(msg, cause="kafka_refused")

    async def publish_atomic(self, records: Sequence[OutRecord]) -> None:
        await self.publish(records)

    async def is_healthy(self) -> bool:
        return True


@pytest.mark.parametrize(("route", "readiness"), [
    ("batch", 503), ("webhook_get", 503), ("webhook_post", 503),
    ("costs", 200),  # uploads have their own transactional producer: a failed one leaves readiness alone
])
async def test_every_publishing_route_reports_a_failed_publish_to_readiness(
    apps_file: Path, route: str, readiness: int
) -> None:
    app = build_app(settings_with(apps_file), RefusingSink())
    app.state.collector.monotonic = lambda: 500.0
    event = {"event_id": "e-1", "type": "click", "timestamp": 1_714_550_400_123, "anonymous_id": "a"}
    async with asgi_client(app) as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        if route == "batch":
            answer = await client.post("/v1/batch", content=body([event]), headers=auth())
        elif route == "webhook_get":
            answer = await client.get(f"/v1/webhooks/gen-01/click?token={TOKEN}&click_id=c1")
        elif route == "webhook_post":
            answer = await client.post(f"/v1/webhooks/gen-01/click?token={TOKEN}", json={"click_id": "c1"})
        else:
            rows = {"rows": [{"date": "2024-04-30", "channel": "douyin", "spend": "10"}]}
            answer = await client.post("/v1/costs", json=rows, headers={"X-Admin-Key": ADMIN})
        ready = await client.get("/readyz")
    assert (answer.status_code, answer.headers["retry-after"], answer.json()["error"]) == (503, "2", "unavailable")
    expected = {"status": "publishing fails (kafka_refused)"} if readiness == 503 else {"status": "ready"}
    assert (ready.status_code, ready.json()) == (readiness, expected)
    assert app.state.collector.admission.in_flight == 0  # every route gave its slot back
