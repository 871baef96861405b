"""Migration 013 on the real embedded engine, with data already in the tables, and the SQL ends of per-platform ids.

A database is brought up to 012, filled with rows of the old types (scene UInt16, 0 = none), then migrated: the
WeChat values read as '1007', the 0 as '', the views report String, and rows written after it keep Douyin's
leading zero. The person of an event computed in SQL (restore and `events_people`) equals the engine's
`ids_of` for every platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from schemas.records import EventRecord
from stream.journeys.identity import ids_of
from stream.restore_state import _HOME_ID
from stream.rows import EVENT_COLUMNS, event_row
from stream.store import connect, load_migrations, migrate
from tests.conftest import unique

pytestmark = pytest.mark.integration

TIME = "2026-11-20T10:00:00.000+00:00"


@pytest.fixture
def before_013(chdb_path: Path) -> Iterator[Any]:
    database = unique("scenes")
    client = connect(f"chdb://{chdb_path}", database)
    migrate(client, [m for m in load_migrations() if m.version < 13])
    try:
        yield client
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database}")


def enriched(event_id: str, platform: str, scene: Any, **ids: str) -> dict[str, Any]:
    return {
        "app_id": "shop", "event_id": event_id, "type": "enter", "event_time": TIME, "timestamp": TIME,
        "received_at": TIME, "anonymous_id": f"dev-{event_id}", "properties": {},
        "context": {"platform": platform, "scene": scene}, **ids,
    }


def test_existing_scenes_become_text_and_new_rows_keep_leading_zeros(before_013: Any) -> None:
    client = before_013
    client.command(
        "INSERT INTO events (app_id, event_id, type, event_time, timestamp, received_at, anonymous_id, platform, "
        "scene) VALUES ('shop', 'old-1', 'enter', now64(3), now64(3), now64(3), 'd1', 'wechat', 1007), "
        "('shop', 'old-2', 'page_view', now64(3), now64(3), now64(3), 'd1', 'wechat', 0)"
    )
    client.command(
        "INSERT INTO touchpoints (app_id, touchpoint_id, touch_time, channel, scene, version) VALUES "
        "('shop', 't-1', now64(3), 'wechat_share', 1045, 1), ('shop', 't-2', now64(3), 'tencent_ads', 0, 1)"
    )
    assert migrate(client)[0] == "013_platform_scenes.sql"

    assert client.query("SELECT event_id, scene, toTypeName(scene) FROM events ORDER BY event_id").result_rows == [
        ("old-1", "1007", "String"), ("old-2", "", "String"),
    ]
    rows = client.query("SELECT touchpoint_id, scene, toTypeName(scene) FROM touchpoints_current ORDER BY 1")
    assert rows.result_rows == [("t-1", "1045", "String"), ("t-2", "", "String")]
    rows = client.query("SELECT event_id, scene, toTypeName(scene) FROM events_people ORDER BY event_id")
    assert rows.result_rows == [("old-1", "1007", "String"), ("old-2", "", "String")]

    fresh = [enriched("new-dy", "douyin", "021001"), enriched("new-wx", "wechat", "1047"),
             enriched("new-bd", "baidu", "NA")]
    client.insert("events", [event_row(cast(EventRecord, e), 0, i) for i, e in enumerate(fresh)],
                  column_names=list(EVENT_COLUMNS))
    rows = client.query("SELECT event_id, platform, scene FROM events WHERE event_id LIKE 'new-%' ORDER BY 1")
    assert rows.result_rows == [("new-bd", "baidu", "NA"), ("new-dy", "douyin", "021001"),
                                ("new-wx", "wechat", "1047")]


def test_the_person_of_an_event_in_sql_is_the_engines_for_every_platform(before_013: Any) -> None:
    client = before_013
    migrate(client)
    events = [
        enriched("wx", "wechat", 1007, openid="o-same", unionid="un"),
        enriched("wx2", "wechat", None, openid="o-same"),
        enriched("dy", "douyin", "023001", openid="o-same"),
        enriched("dy2", "douyin", None, openid="o-same", unionid="un"),
        enriched("ali", "alipay", "1005", openid="2088"),
        enriched("bd", "baidu", "10810008", openid="o-same", user_id="u1"),
        enriched("web", "web", None),
    ]
    client.insert("events", [event_row(cast(EventRecord, e), 0, i) for i, e in enumerate(events)],
                  column_names=list(EVENT_COLUMNS))
    in_sql = dict(client.query(f"SELECT event_id, {_HOME_ID} FROM events").result_rows)
    expected = {e["event_id"]: ids_of(e)[0] for e in events}
    assert in_sql == expected
    assert expected["wx2"] == "openid:o-same" and expected["dy"] == "openid@douyin:o-same"
    assert expected["dy2"] == "unionid@douyin:un" and expected["wx"] == "unionid:un"

    # events_people looks the same typed ids up: one person per platform for the one openid string.
    client.insert(
        "identities",
        [["shop", "openid:o-same", "uWX", TIME, 1], ["shop", "openid@douyin:o-same", "uDY", TIME, 1]],
        column_names=["app_id", "typed_id", "user_key", "first_seen", "version"],
    )
    people = dict(client.query("SELECT event_id, user_key FROM events_people WHERE event_id IN ('wx2', 'dy')")
                  .result_rows)
    assert people == {"wx2": "uWX", "dy": "uDY"}
