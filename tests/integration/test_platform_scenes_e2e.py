"""A launch on each platform through the real collector and stream processes, the real broker and chDB.

One batch carries a WeChat, Alipay, Douyin and Baidu launch whose scenes name a channel in their platform's
table, a Douyin `021001` (a direct entry: stored as text, no touchpoint), the same openid on WeChat and Douyin,
and two wrong scenes. Expected values are the platforms' tables as docs/channels.md maps them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import Service, pipeline_env, running_pipeline, scalar, sql, wait_for

pytestmark = pytest.mark.integration

WRITE_KEY = "wk_test_platform_scenes_01"


@pytest.fixture
def pipeline(tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str]) -> Iterator[tuple[str, str, Service]]:
    env, base, endpoint = pipeline_env(tmp_path, kafka_bootstrap, topics, WRITE_KEY)
    with running_pipeline(env, base, endpoint, tmp_path) as (_, stream):
        yield base, endpoint, stream


def launch(event_id: str, device: str, platform: str, scene: Any, **ids: str) -> dict[str, Any]:
    return {"event_id": event_id, "type": "enter", "timestamp": "2026-11-20T10:00:00.000Z",
            "anonymous_id": device, "context": {"platform": platform, "scene": scene}, **ids}


def rows_when(endpoint: str, query: str, count: int) -> Callable[[], list[list[Any]] | None]:
    def probe() -> list[list[Any]] | None:
        rows = sql(endpoint, query)
        return rows if len(rows) == count else None

    return probe


def test_each_platforms_launch_is_stored_with_its_scene_text_and_channel(
    pipeline: tuple[str, str, Service],
) -> None:
    base, endpoint, stream = pipeline
    p = uuid.uuid4().hex[:8]
    events = [
        launch(f"{p}-wx", f"{p}-dev-wx", "wechat", 1007, openid=f"{p}-o"),
        launch(f"{p}-ali", f"{p}-dev-ali", "alipay", "1005"),
        launch(f"{p}-dy", f"{p}-dev-dy", "douyin", "023001", openid=f"{p}-o"),
        launch(f"{p}-dy0", f"{p}-dev-dy0", "douyin", "021001"),
        launch(f"{p}-bd", f"{p}-dev-bd", "baidu", "10810008"),
        launch(f"{p}-bad-dy", f"{p}-dev-x", "douyin", 21001),  # the integer has lost Douyin's leading zero
        launch(f"{p}-bad-web", f"{p}-dev-y", "web", "1007"),
    ]
    response = httpx.post(f"{base}/v1/batch", json={"events": events}, headers={"X-Write-Key": WRITE_KEY})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 5
    reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
    assert sorted(reasons) == [5, 6]
    assert "douyin scenes are 6-digit strings with leading zeros" in reasons[5]
    assert "platform web has no scene value" in reasons[6]

    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") == 5, 30, "5 events", stream)
    stored = {r[0]: (r[1], r[2], r[3]) for r in sql(
        endpoint, "SELECT event_id, platform, scene, toTypeName(scene) FROM events")}
    assert stored == {
        f"{p}-wx": ("wechat", "1007", "String"),
        f"{p}-ali": ("alipay", "1005", "String"),
        f"{p}-dy": ("douyin", "023001", "String"),
        f"{p}-dy0": ("douyin", "021001", "String"),  # the leading zero survives
        f"{p}-bd": ("baidu", "10810008", "String"),
    }

    # 021001 (我的-更多-小程序) is a direct entry: every other launch is one touchpoint of its platform's channel.
    query = "SELECT touchpoint_id, channel_type, channel, scene FROM touchpoints_current ORDER BY touchpoint_id"
    touches = wait_for(rows_when(endpoint, query, 4), 30, "4 touchpoints", stream)
    assert touches == sorted([
        [f"{p}-wx", "social", "wechat_share", "1007"],
        [f"{p}-ali", "search", "alipay_search", "1005"],
        [f"{p}-dy", "content", "douyin_content", "023001"],
        [f"{p}-bd", "search", "baidu", "10810008"],
    ])

    # The same openid string on WeChat and on Douyin: two typed ids, two people.
    ids = dict(wait_for(rows_when(endpoint, "SELECT typed_id, user_key FROM identities_current WHERE typed_id "
                                            f"IN ('openid:{p}-o', 'openid@douyin:{p}-o')", 2),
                        30, "both openids' identities", stream))
    assert ids[f"openid:{p}-o"] != ids[f"openid@douyin:{p}-o"]
    people = dict(sql(endpoint, f"SELECT event_id, user_key FROM events_people WHERE event_id IN ('{p}-wx', '{p}-dy')"))
    assert people == {f"{p}-wx": ids[f"openid:{p}-o"], f"{p}-dy": ids[f"openid@douyin:{p}-o"]}

    # The two wrong scenes are dead letters with the reason, not lost and not stored as events.
    bad = wait_for(rows_when(endpoint, "SELECT reason FROM bad_events", 2), 30, "two dead letters", stream)
    assert sorted("douyin scenes" in r[0] for r in bad) == [False, True]
