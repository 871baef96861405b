"""Outcomes of platform answers, back-off, the requests per platform, and the worker's plan: pure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from stream.postbacks.intent import Pending
from stream.postbacks.outcome import judge, next_delay, no_answer
from stream.postbacks.plan import Due, TokenBucket, action_for
from stream.postbacks.requests import (
    Account,
    Refused,
    Target,
    ocean_engine,
    tencent_callback,
    tencent_click_ids,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TARGET = Target(("api.e.qq.com", "analytics.oceanengine.com"))
ACCOUNT = Account("wx0123456789abcdef", 11, 22, "tok-123")


def ok(code: int = 0) -> bytes:
    return orjson.dumps({"code": code, "message": "m"})


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [(200, ok(), "success"), (200, ok(30001), "retriable"), (200, ok(30099), "retriable"),
     (200, ok(11019), "retriable"), (200, ok(20002), "failed"), (200, b"<html>", "failed"), (500, b"", "retriable"),
     (503, ok(), "retriable"), (429, b"", "retriable"), (400, ok(40001), "failed"), (403, b"", "failed"),
     (302, b"", "failed"), (200, orjson.dumps({"ret": 0}), "success")],
)
def test_judge(status: int, body: bytes, kind: str) -> None:
    assert judge(status, body, {"location": "https://elsewhere.example/"}, NOW).kind == kind


def test_a_redirect_is_reported_not_followed_and_429_keeps_retry_after() -> None:
    moved = judge(302, b"", {"location": "https://evil.example/x"}, NOW)
    assert moved.message == "redirect to https://evil.example/x not followed"
    assert judge(429, b"", {"retry-after": "7"}, NOW).retry_after == timedelta(seconds=7)
    assert judge(429, b"", {"retry-after": "99999"}, NOW).retry_after == timedelta(minutes=10)
    assert no_answer("timeout").http_status == 0


def test_backoff_is_jittered_exponential_capped_at_ten_minutes_with_retry_after_as_floor() -> None:
    rng = random.Random(1)
    first = timedelta(seconds=30)
    for failures in range(1, 12):
        ceiling = min(first * 2 ** (failures - 1), timedelta(minutes=10))
        assert timedelta(0) <= next_delay(failures, first, rng) <= ceiling
    assert next_delay(1, first, rng, timedelta(seconds=45)) >= timedelta(seconds=45)
    assert next_delay(30, first, rng, timedelta(hours=1)) == timedelta(minutes=10)


def pending(**fields: object) -> Pending:
    values: dict[str, object] = {
        "app_id": "shop", "intent_id": "ab" * 16, "integration_id": "tx-main", "platform": "tencent_ads",
        "mode": "callback", "action_type": "COMPLETE_ORDER", "conversion_time": NOW, "click_id": "C1",
        "callback": "https://api.e.qq.com/v3.0/user_actions/add?cb=X&conv_id=1", "openid": "o-1", "unionid": "",
        "revenue": Decimal("19.99"), "currency": "CNY", "value_fen": 1999,
    }
    return Pending(**(values | fields))  # type: ignore[arg-type]


def test_tencent_callback_request() -> None:
    r = tencent_callback(pending(), ACCOUNT, TARGET, NOW)
    assert r.url == "https://api.e.qq.com/v3.0/user_actions/add?cb=X&conv_id=1"
    assert r.headers["access-token"] == "tok-123" and r.headers["timestamp"] == str(int(NOW.timestamp()))
    assert len(r.headers["nonce"]) == 32
    assert orjson.loads(r.body) == {"actions": [{
        "outer_action_id": "ab" * 16, "action_time": 1795176000, "action_type": "COMPLETE_ORDER",
        "user_id": {"wechat_openid": "o-1", "wechat_app_id": "wx0123456789abcdef"}, "action_param": {"value": 1999},
    }]}
    assert "tok-123" not in repr(r)
    encoded = tencent_callback(pending(callback="https%3A%2F%2Fapi.e.qq.com%2Fx%3Fcb%3D1"), ACCOUNT, TARGET, NOW)
    assert encoded.url == "https://api.e.qq.com/x?cb=1"


@pytest.mark.parametrize(
    ("callback", "why"),
    [("http://api.e.qq.com/x", "only https"), ("https://169.254.169.254/latest", "not an allowed platform host"),
     ("https://api.e.qq.com.evil.example/x", "not an allowed platform host"), ("", "no callback")],
)
def test_callbacks_outside_the_allow_list_are_refused(callback: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        tencent_callback(pending(callback=callback), ACCOUNT, TARGET, NOW)


def test_tencent_needs_an_openid_and_a_token() -> None:
    with pytest.raises(Refused, match="openid"):
        tencent_callback(pending(openid=""), ACCOUNT, TARGET, NOW)
    with pytest.raises(Refused, match="no access token"):
        tencent_callback(pending(), Account("wx0123456789abcdef"), TARGET, NOW)


def test_click_id_mode_batches_up_to_fifty_with_the_token_in_the_query() -> None:
    batch = [pending(intent_id=f"{i:032x}", click_id=f"C{i}", mode="click_id") for i in range(50)]
    r = tencent_click_ids(batch, ACCOUNT, TARGET, NOW)
    assert r.url.startswith("https://api.e.qq.com/v3.0/user_actions/add?access_token=tok-123&timestamp=")
    body = orjson.loads(r.body)
    assert (body["account_id"], body["user_action_set_id"], len(body["actions"])) == (11, 22, 50)
    assert body["actions"][7]["trace"] == {"click_id": "C7"}
    assert r.intent_ids == tuple(f"{i:032x}" for i in range(50))
    with pytest.raises(ValueError, match=r"1\.\.50"):
        tencent_click_ids([*batch, batch[0]], ACCOUNT, TARGET, NOW)


def test_ocean_engine_request() -> None:
    r = ocean_engine(pending(platform="ocean_engine", action_type="active_pay", callback="CB9", value_fen=None),
                     TARGET)
    assert r.url == "https://analytics.oceanengine.com/api/v2/conversion"
    assert orjson.loads(r.body) == {"event_type": "active_pay", "context": {"ad": {"callback": "CB9"}},
                                    "timestamp": 1795176000000, "properties": {"pay_amount": "19.99"}}
    assert "access-token" not in r.headers


def due(status: str, platform: str = "tencent_ads", sendings: int = 0, state: str = "open",
        first: datetime | None = None) -> Due:
    return Due(pending(platform=platform), state, status, 3, 1, sendings, first)


def test_the_plan_after_a_crash_and_for_cancelled_and_expired_intents() -> None:
    assert action_for(due("pending"), NOW) == "send"
    assert action_for(due("sending", sendings=1), NOW) == "send"  # Tencent dedups on outer_action_id: once more
    assert action_for(due("sending", sendings=2), NOW) == "unknown"
    assert action_for(due("sending", "ocean_engine", sendings=1), NOW) == "unknown"  # no dedup key: never again
    assert action_for(due("pending", state="cancelled"), NOW) == "cancel"
    assert action_for(due("retriable", first=NOW - timedelta(hours=23)), NOW) == "send"
    assert action_for(due("retriable", first=NOW - timedelta(hours=24)), NOW) == "dead"
    assert action_for(due("requeued", first=NOW - timedelta(days=3)), NOW) == "send"


def test_the_token_bucket_holds_the_rate() -> None:
    bucket = TokenBucket(60.0, 0.0)  # one a second
    assert bucket.wait(0.0) == 0.0
    assert bucket.wait(0.0) == pytest.approx(1.0)
    assert bucket.wait(0.5) == pytest.approx(0.5)
    assert bucket.wait(1.0) == 0.0


def test_touchstream_report_postbacks_prints_its_four_tables() -> None:
    from touchstream.report_cli import render

    payload = {
        "app": "shop", "date_from": "2026-11-01", "date_to": "2026-11-02",
        "statuses": [{"day": "2026-11-02", "integration_id": "tx", "platform": "tencent_ads", "status": "success",
                      "intents": 3, "reattributed": 1, "withdrawn": 0}],
        "latency": [{"integration_id": "tx", "platform": "tencent_ads", "attempts": 4, "p50_ms": 41.5,
                     "p95_ms": 88.0}],
        "last_errors": [], "reattributed": [],
    }
    text = render("postbacks", payload, "csv")
    assert text.splitlines()[:3] == [
        "# Statuses", "day,integration_id,platform,status,intents,reattributed,withdrawn",
        "2026-11-02,tx,tencent_ads,success,3,1,0",
    ]
    assert "# Latency" in text and "tx,tencent_ads,4,41.5,88.0" in text and "# Last errors" in text
