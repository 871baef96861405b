"""The collector's privacy part: the request body, its subjects, request ids, suppression, and the API over an
in-memory sink with a view that is fed by hand (the broker-backed feed is in tests/integration)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from collector.errors import InvalidRequest
from collector.pii import PiiHasher
from collector.privacy import (
    MAX_SUBJECTS,
    parse_request,
    request_id_for,
    split_suppressed,
    typed_subjects,
)
from collector.privacy_feed import PrivacyView
from collector.sinks import InMemorySink
from collector.state import CollectorState
from tests.unit.collector.conftest import (
    EVENTS_TOPIC,
    PII_SECRET,
    RECEIVED_AT,
    RECEIVED_AT_TEXT,
    SHOP_KEY,
    asgi_client,
    build_app,
    make_settings,
)

SECRET = PII_SECRET.encode()
ADMIN = "ak_shop_secret_0123456789"


def hmac_hex(text: str) -> str:
    return hmac.new(SECRET, text.encode(), hashlib.sha256).hexdigest()


def test_a_phone_subject_is_hashed_and_ids_are_typed_like_the_identity_graph() -> None:
    request = parse_request(orjson.dumps({"type": "delete", "subjects": [
        {"id_type": "phone", "value": "+86 138-0013-8000"}, {"id_type": "openid", "value": "o1"},
        {"id_type": "anonymous_id", "value": "a1"}, {"id_type": "user_id", "value": "u1"},
        {"id_type": "unionid", "value": "n1"}, {"id_type": "openid", "value": "o1"},
    ]}))
    assert typed_subjects(request, PiiHasher(SECRET)) == [
        f"phone:{hmac_hex('13800138000')}", "openid:o1", "anon:a1", "uid:u1", "unionid:n1",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "erase", "subjects": [{"id_type": "phone", "value": "1"}]}, "type"),
        ({"type": "delete", "subjects": []}, "subjects"),
        ({"type": "delete", "subjects": [{"id_type": "email", "value": "x"}]}, "subjects.0.id_type"),
        ({"type": "delete", "subjects": [{"id_type": "openid", "value": ""}]}, "subjects.0.value"),
        ({"type": "delete", "subjects": [{"id_type": "openid", "value": "o"}], "extra": 1}, "extra"),
        ({"type": "delete", "subjects": [{"id_type": "openid", "value": "o"}] * (MAX_SUBJECTS + 1)}, "subjects"),
    ],
)
def test_an_invalid_request_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(orjson.dumps(body))
    assert [p["field"] for p in caught.value.problems] == [field]


def test_a_phone_number_is_never_echoed_in_an_error() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(orjson.dumps({"type": "delete", "subjects": [{"id_type": "phone", "value": 13800138000}]}))
    assert "13800138000" not in orjson.dumps(caught.value.problems).decode() + caught.value.message


def test_the_same_client_request_id_names_the_same_request_per_app() -> None:
    def never() -> str:
        raise AssertionError

    a = request_id_for("shop", "ticket-1", never)
    assert a == request_id_for("shop", "ticket-1", never)
    assert a != request_id_for("blog", "ticket-1", never) and a != request_id_for("shop", "ticket-2", never)
    assert request_id_for("shop", None, lambda: "abc") == "pr_abc"


def test_events_carrying_any_suppressed_id_are_split_off() -> None:
    suppressed = {hmac_hex("anon:a1"), hmac_hex("phone:ph")}
    events = [{"event_id": "1", "anonymous_id": "a1"}, {"event_id": "2", "anonymous_id": "a2", "phone_hash": "ph"},
              {"event_id": "3", "anonymous_id": "a3", "openid": "a1"}, {"event_id": "4", "anonymous_id": "a4"}]
    kept, dropped = split_suppressed(events, suppressed, SECRET)
    assert ([e["event_id"] for e in kept], dropped) == (["3", "4"], 2)  # an openid "a1" is not the device "a1"


def test_the_view_keeps_an_id_suppressed_while_any_request_suppresses_it() -> None:
    view = PrivacyView()
    for rid in ("r1", "r2"):
        view.apply({"kind": "suppression", "app_id": "shop", "id_hash": "h", "request_id": rid, "suppressed": True})
    view.apply({"kind": "suppression", "app_id": "shop", "id_hash": "h", "request_id": "r1", "suppressed": False})
    assert set(view.suppressed("shop")) == {"h"} and set(view.suppressed("blog")) == set()
    view.apply({"kind": "suppression", "app_id": "shop", "id_hash": "h", "request_id": "r2", "suppressed": False})
    assert set(view.suppressed("shop")) == set()


# -- the API, over an in-memory sink ---------------------------------------------------------------------------


def _app(tmp_path: Path, grace_s: float = 30.0):  # type: ignore[no-untyped-def]
    apps = tmp_path / "apps.json"
    apps.write_bytes(orjson.dumps({"apps": [{"app_id": "shop", "write_keys": [SHOP_KEY], "admin_keys": [ADMIN]}]}))
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps, collector_write_keys="", collector_privacy_grace_s=grace_s),
                    sink, privacy=True)
    state: CollectorState = app.state.collector
    assert state.privacy is not None
    state.privacy.ready = True  # the view is fed by hand here: no broker
    return app, sink, state.privacy


async def test_submit_publishes_a_pending_request_and_repeats_return_it(tmp_path: Path) -> None:
    app, sink, _ = _app(tmp_path)
    body = {"type": "suppress", "subjects": [{"id_type": "phone", "value": "13800138000"}], "client_request_id": "t1"}
    async with asgi_client(app) as client:
        first = await client.post("/v1/privacy/requests", json=body, headers={"X-Admin-Key": ADMIN})
        again = await client.post("/v1/privacy/requests", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.json()["status"] == "pending" and first.json()["submitted_at"] == RECEIVED_AT_TEXT
    assert len(sink.records) == 1  # the repeat published nothing
    doc = orjson.loads(sink.records[0].value)
    assert doc["subjects"] == [f"phone:{hmac_hex('13800138000')}"]
    assert b"13800138000" not in sink.records[0].value
    assert doc["due_at"] == (RECEIVED_AT + timedelta(seconds=30)).isoformat(timespec="milliseconds")[:-6] + "Z"


async def test_a_due_request_is_dispatched_once_as_a_command_on_the_events_topic(tmp_path: Path) -> None:
    app, sink, feed = _app(tmp_path, grace_s=0)
    body = {"type": "delete", "subjects": [{"id_type": "user_id", "value": "u1"}]}
    async with asgi_client(app) as client:
        response = await client.post("/v1/privacy/requests", json=body, headers={"X-Admin-Key": ADMIN})
    await feed.dispatch_due()
    await feed.dispatch_due()
    commands = [r for r in sink.records if r.topic == EVENTS_TOPIC]
    assert len(commands) == 1 and commands[0].key == b"shop"
    assert orjson.loads(commands[0].value) == {
        "request_id": response.json()["request_id"], "app_id": "shop", "type": "delete", "subjects": ["uid:u1"],
        "submitted_at": RECEIVED_AT_TEXT,
    }
    running = orjson.loads(sink.records[-1].value)
    assert running["status"] == "running" and "subjects" not in running


async def test_cancel_only_while_pending_and_errors(tmp_path: Path) -> None:
    app, sink, feed = _app(tmp_path)
    body = {"type": "delete", "subjects": [{"id_type": "user_id", "value": "u1"}]}
    headers = {"X-Admin-Key": ADMIN}
    async with asgi_client(app) as client:
        rid = (await client.post("/v1/privacy/requests", json=body, headers=headers)).json()["request_id"]
        cancelled = await client.delete(f"/v1/privacy/requests/{rid}", headers=headers)
        again = await client.delete(f"/v1/privacy/requests/{rid}", headers=headers)
        looked_up = await client.get(f"/v1/privacy/requests/{rid}", headers=headers)
        missing = await client.get("/v1/privacy/requests/pr_none", headers=headers)
        write_key = await client.post("/v1/privacy/requests", json=body, headers={"X-Admin-Key": SHOP_KEY})
        invalid = await client.post("/v1/privacy/requests", json={"type": "delete"}, headers=headers)
    codes = (cancelled.status_code, again.status_code, missing.status_code, write_key.status_code)
    assert codes == (200, 409, 404, 401)
    assert looked_up.json()["status"] == "cancelled"
    assert invalid.status_code == 422 and invalid.json()["problems"][0]["field"] == "subjects"
    await feed.dispatch_due()
    assert [r for r in sink.records if r.topic == EVENTS_TOPIC] == []
    assert ADMIN not in repr(sink.records)


async def test_without_the_feed_the_api_is_unavailable(tmp_path: Path) -> None:
    app, _, feed = _app(tmp_path)
    feed.ready = False
    async with asgi_client(app) as client:
        response = await client.get("/v1/privacy/requests/pr_x", headers={"X-Admin-Key": ADMIN})
    assert response.status_code == 503 and response.headers["retry-after"] == "2"

