"""The request bodies the SDK sends validate against the event contract: the collector's own pydantic models
(schemas.batch.BatchEnvelope and schemas.events.EVENT_ADAPTER, from which schemas/json/ is generated).

The bodies come from a scripted session on each platform (sdk/miniprogram/test/golden-payloads.ts); the
expected values below are the platforms' launch options as the script sets them and the contract's rules.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.batch import BatchEnvelope
from schemas.events import EVENT_ADAPTER, BaseEvent
from tests.unit.sdk.node_sdk import run_node

SDK_TYPES = {"enter", "page_view", "share", "exposure", "click", "custom", "register", "activate", "identify",
             "convert", "refund", "repurchase"}
# The script's cold-start scene per platform, and WeChat's hot start from a mini-program code (1047).
COLD_SCENES = {"wechat": "1045", "alipay": "1005", "douyin": "021001", "baidu": "10810008"}


@pytest.fixture(scope="module")
def bodies() -> list[dict[str, Any]]:
    parsed = orjson.loads(run_node("golden-payloads"))
    assert isinstance(parsed, list)
    return parsed


def validated(bodies: list[dict[str, Any]], platform: str) -> list[BaseEvent]:
    events: list[BaseEvent] = []
    for body in bodies:
        if body["platform"] != platform:
            continue
        envelope = BatchEnvelope.model_validate({k: v for k, v in body.items() if k != "platform"})
        assert envelope.sent_at is not None
        events += [EVENT_ADAPTER.validate_python(raw) for raw in envelope.events]
    return events


@pytest.mark.parametrize("platform", sorted(COLD_SCENES))
def test_every_event_the_sdk_sends_validates(bodies: list[dict[str, Any]], platform: str) -> None:
    events = validated(bodies, platform)
    assert {e.type for e in events} == SDK_TYPES
    assert all(e.context.platform == platform for e in events)
    assert all(e.context.sdk is not None and e.context.sdk.name == "touchstream-miniprogram" for e in events)
    seqs = [e.context.device_seq for e in events]
    assert len(set(seqs)) == len(seqs)
    assert len({e.event_id for e in events}) == len(events)


@pytest.mark.parametrize("platform", sorted(COLD_SCENES))
def test_launch_signals_survive_validation(bodies: list[dict[str, Any]], platform: str) -> None:
    enters = [e for e in validated(bodies, platform) if e.type == "enter"]
    cold, hot = enters
    assert cold.context.scene == COLD_SCENES[platform]
    assert cold.model_dump()["properties"] == {"start": "cold", "referrer_app_id": "wx-referrer"}
    assert hot.context.scene == ("1047" if platform == "wechat" else COLD_SCENES[platform])
    assert hot.context.query == {"scene": "ch=poster_spring"}
    if platform == "wechat":
        assert cold.context.query == {"gdt_vid": "wx0abc123", "weixinadinfo": "4242.wx0abc123.0.1",
                                      "utm_source": "moments"}
        assert cold.context.campaign is not None and cold.context.campaign.source == "moments"


def test_purchases_identify_and_the_drop_report(bodies: list[dict[str, Any]]) -> None:
    events = validated(bodies, "wechat")
    by_type = {e.type: e for e in events}
    order = by_type["convert"].model_dump(mode="json")
    assert order["properties"] == {"order_id": "ord-1", "revenue": "19.90", "currency": "CNY"}
    refund = by_type["refund"].model_dump(mode="json")
    assert refund["properties"] == {"order_id": "ord-1", "amount": "5", "currency": "CNY", "reason": "damaged"}
    identify = by_type["identify"].model_dump(mode="json")
    assert (identify["user_id"], identify["openid"], identify["unionid"]) == ("u-1", "o-1", "un-1")
    assert identify["phone"] == "+8613800000000"
    # 20 events into a queue of 16 while offline: the 4 oldest dropped, and said so.
    reports = [e.model_dump(mode="json") for e in events if getattr(e, "name", None) == "sdk_events_dropped"]
    assert [r["properties"] for r in reports] == [{"dropped_events": 4}]
