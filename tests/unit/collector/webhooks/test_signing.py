"""The webhook replay guard keys on the signed call, not on whichever signature of the header matched."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest

from collector.errors import SignatureRejected
from collector.sinks import InMemorySink
from collector.webhooks.signing import ReplayGuard, replay_key
from tests.unit.collector.conftest import RECEIVED_AT, asgi_client, build_app, make_settings

TOKEN = "tok_signed_0123456789"
OLD_SECRET = "old-secret-0123456789"
NEW_SECRET = "new-secret-0123456789"
NOW_S = int(RECEIVED_AT.timestamp())


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    # By the definition in docs/webhooks.md, not through the code under test.
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def test_replay_key_is_the_integration_the_timestamp_and_the_digest_of_the_signed_bytes() -> None:
    digest = hashlib.sha256(b"click_id=abc").hexdigest()
    assert replay_key("gdt-01", 1714550400, b"click_id=abc") == f"gdt-01:1714550400:{digest}"


def test_the_guard_refuses_a_key_seen_within_the_window_and_forgets_it_after() -> None:
    guard = ReplayGuard(tolerance_s=300)
    guard.check_and_remember("k", 1000.0)
    with pytest.raises(SignatureRejected) as refused:
        guard.check_and_remember("k", 1500.0)
    assert refused.value.code == "signature_replayed"
    # Older than twice the tolerance: a timestamp that old is already refused as stale, so it may be forgotten.
    guard.check_and_remember("k", 1000.0 + 601)


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [{
        "app_id": "shop", "write_keys": ["wk_shop_12345678"],
        "integrations": [{"id": "partner-01", "platform": "generic", "token": TOKEN, "channel": "partner",
                          "signing_secrets": [OLD_SECRET, NEW_SECRET], "require_signature": True}],
    }]}))
    return path


async def test_a_call_signed_with_two_secrets_cannot_be_replayed_with_one_of_its_signatures(apps_file: Path) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    query = urlencode({"token": TOKEN, "click_id": "clk-1"})
    payload = query.encode()
    both = f"{signature(OLD_SECRET, NOW_S, payload)},{signature(NEW_SECRET, NOW_S, payload)}"
    url = f"/v1/webhooks/partner-01/click?{query}"
    async with asgi_client(app) as client:
        first = await client.get(url, headers={"X-Touchstream-Timestamp": str(NOW_S), "X-Touchstream-Signature": both})
        assert first.status_code == 200
        # The same call again, now carrying only the signature that did not match first.
        replays = [
            await client.get(url, headers={"X-Touchstream-Timestamp": str(NOW_S), "X-Touchstream-Signature": sig})
            for sig in (signature(NEW_SECRET, NOW_S, payload), signature(OLD_SECRET, NOW_S, payload), both)
        ]
    assert [(r.status_code, r.json()["error"]) for r in replays] == [(401, "signature_replayed")] * 3
    assert len(sink.records) == 1
